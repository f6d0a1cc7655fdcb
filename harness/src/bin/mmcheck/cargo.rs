//! Running cargo and its subcommands: the one `cargo` to run (`$CARGO` under cargo, so
//! `cargo +nightly run` stays on its toolchain), the shuttle re-execution, cargo-fuzz's
//! flags and installation, and time-limited child processes.

use crate::{source_workspace, CliError, CliResult};
use harness::registry::{DynTarget, TargetKind};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// True if this build runs schedule targets in-process.
pub fn has_shuttle() -> bool {
    cfg!(mmcheck_shuttle)
}

/// Re-runs this command, built with `--features shuttle` (in `<workspace>/target/shuttle`),
/// with `args`, from `root`; returns its exit code.
pub fn reexec_shuttle(root: &Path, args: &[String]) -> CliResult {
    let ws = source_workspace(root);
    eprintln!(
        "mmcheck: schedule targets need the shuttle backend; re-running as `cargo run --release -q -p harness --features shuttle --bin mmcheck -- {}` (CARGO_TARGET_DIR={})",
        args.join(" "),
        ws.join("target/shuttle").display()
    );
    let status = Command::new(cargo())
        .arg("run")
        .arg("--release")
        .arg("-q")
        .arg("--manifest-path")
        .arg(ws.join("Cargo.toml"))
        .args([
            "-p",
            "harness",
            "--features",
            "shuttle",
            "--bin",
            "mmcheck",
            "--",
        ])
        .args(args)
        .env("CARGO_TARGET_DIR", ws.join("target/shuttle"))
        .env("MMCHECK_ROOT", root)
        .current_dir(root)
        .status()
        .map_err(|e| CliError(format!("cannot run cargo for the shuttle build: {e}")))?;
    match status.code() {
        Some(c @ 0..=2) => Ok(c as u8),
        Some(c) => bail!("the shuttle build of mmcheck failed (cargo exited with {c})"),
        None => bail!("the shuttle build of mmcheck was killed by a signal"),
    }
}

/// The cargo to run: `$CARGO` when set (under cargo), else `cargo`.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The sanitizer a campaign builds its fuzz targets with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sanitizer {
    /// None: the fastest builds and runs; the algorithms' own checks find the bugs.
    None,
    /// AddressSanitizer over the unsafe code of the algorithms (nightly toolchain).
    Address,
}

impl Sanitizer {
    /// The name cargo-fuzz and the run log use.
    pub fn as_str(self) -> &'static str {
        match self {
            Sanitizer::None => "none",
            Sanitizer::Address => "address",
        }
    }

    /// The cargo target directory of the fuzz crate's builds under this sanitizer, relative
    /// to the fuzz crate: cargo-fuzz's default for `none`, a separate one for `address` so
    /// switching does not rebuild everything each time.
    fn target_dir(self) -> Option<&'static str> {
        match self {
            Sanitizer::None => None,
            Sanitizer::Address => Some("target/asan"),
        }
    }
}

/// True if the nightly toolchain runs here (`rustup run nightly cargo --version`).
pub fn has_nightly() -> bool {
    Command::new("rustup")
        .args(["run", "nightly", "cargo", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A `cargo fuzz <sub>` command for target `t` with the shared flags: the toolchain the
/// sanitizer needs (nightly, through rustup, for AddressSanitizer; else this cargo),
/// `--sanitizer`, `-O`, `--no-trace-compares`, the fuzz directory, the sanitizer's target
/// directory and, for schedule targets, `--features shuttle`. The caller adds the target
/// name and what follows it.
///
/// `--no-trace-compares`: no comparison tracing. cargo-fuzz can only set it for every crate
/// at once, and traced comparisons were over half of `maple_ops`' time (a callback per
/// comparison of the tree, the model and the checks); without them it runs 2-3 times as
/// many inputs and reached at least the same coverage in the same time. Edge coverage is
/// unchanged. (The shadow runtime is untraced either way: see `shadow::words`.)
pub fn fuzz_command(root: &Path, sub: &str, t: &dyn DynTarget, san: Sanitizer) -> Command {
    let mut c = match san {
        Sanitizer::None => Command::new(cargo()),
        Sanitizer::Address => {
            let mut c = Command::new("rustup");
            c.args(["run", "nightly", "cargo"]);
            c
        }
    };
    c.args(["fuzz", sub]).args(fuzz_flags(root, t, san));
    c
}

/// The flags of [`fuzz_command`] after the subcommand.
pub fn fuzz_flags(root: &Path, t: &dyn DynTarget, san: Sanitizer) -> Vec<String> {
    let mut v: Vec<String> = ["--sanitizer", san.as_str(), "-O", "--no-trace-compares"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.push("--fuzz-dir".into());
    v.push(root.join("fuzz").display().to_string());
    if let Some(d) = san.target_dir() {
        v.push("--target-dir".into());
        v.push(root.join("fuzz").join(d).display().to_string());
    }
    if t.kind() == TargetKind::Schedule {
        v.extend(["--features".to_string(), "shuttle".to_string()]);
    }
    v
}

/// The fuzz binary `cargo fuzz build` made for target `name` under `san`: the newest
/// `<target dir>/<triple>/release/<name>`.
pub fn fuzz_binary(root: &Path, name: &str, san: Sanitizer) -> Option<std::path::PathBuf> {
    let dir = root.join("fuzz").join(san.target_dir().unwrap_or("target"));
    std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path().join("release").join(name))
        .filter(|p| p.is_file())
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// Makes sure `cargo fuzz` runs, installing it if needed.
pub fn ensure_cargo_fuzz() -> Result<(), CliError> {
    let ok = Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Ok(());
    }
    eprintln!("mmcheck: cargo-fuzz not found, installing it (cargo install cargo-fuzz --locked)");
    let installed = Command::new("cargo")
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        bail!("cargo-fuzz is not installed and `cargo install cargo-fuzz --locked` failed");
    }
    Ok(())
}

/// Seconds a `loom` or `test` mutant run may take (`MMCHECK_MUTANT_TIMEOUT`, default 900):
/// a planted bug can make a test loop forever, which must not hang the whole run.
pub fn mutant_timeout() -> std::time::Duration {
    let secs = std::env::var("MMCHECK_MUTANT_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(900);
    std::time::Duration::from_secs(secs)
}

/// Runs `c` to completion, or kills it after `limit` and reports that as an error (so the
/// cell shows as `ERROR: timed out`, never as caught).
pub fn output_within(c: &mut Command, limit: std::time::Duration) -> std::io::Result<Output> {
    use std::io::Read;
    let mut child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("timed out after {} s", limit.as_secs()),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    Ok(Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    })
}
