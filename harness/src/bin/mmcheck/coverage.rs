//! `mmcheck coverage TARGET`: line coverage of the target's corpus per source file.
//!
//! `cargo fuzz coverage` replays the working corpus (`fuzz/corpus/<target>/`) and the
//! committed seeds through a build instrumented with `-Cinstrument-coverage`; `llvm-cov
//! export -summary-only` then gives lines and covered lines per file. Printed as a table of
//! the repository's own files (the algorithms, the sanitizer, the harness) and written to
//! `campaigns/coverage/<target>.json` for `mmcheck report`:
//! `{"target", "time", "files": [{"file", "lines", "covered"}]}`. `--cmin` first minimizes the
//! working corpus (`cargo fuzz cmin`).

use crate::cargo::{cargo, ensure_cargo_fuzz};
use crate::crashes::now_secs;
use crate::{repo_root, CliError, CliResult};
use harness::registry::{self, TargetKind};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Arguments of `mmcheck coverage`.
#[derive(Debug, clap::Args)]
pub struct CoverageArgs {
    /// The target.
    pub target: String,
    /// Minimize the working corpus first (`cargo fuzz cmin`).
    #[arg(long)]
    pub cmin: bool,
    /// Print every file, not only the algorithms' and the sanitizer's.
    #[arg(long)]
    pub all: bool,
}

/// One file's line coverage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCov {
    /// The path relative to the repository root.
    pub file: String,
    /// Instrumented lines.
    pub lines: u64,
    /// Lines run at least once.
    pub covered: u64,
}

/// Runs the coverage.
pub fn run(a: &CoverageArgs) -> CliResult {
    let root = repo_root()?;
    let t = registry::find(&a.target).map_err(CliError)?;
    ensure_cargo_fuzz()?;
    let (llvm_cov, _) = llvm_tools()?;
    let work = root.join("fuzz/corpus").join(t.name());
    let seeds = root.join("corpus").join(t.name());
    std::fs::create_dir_all(&work)
        .map_err(|e| CliError(format!("cannot create {}: {e}", work.display())))?;
    let features: &[&str] = if t.kind() == TargetKind::Schedule {
        &["--features", "shuttle"]
    } else {
        &[]
    };
    let fuzz_dir = root.join("fuzz");
    if a.cmin {
        let before = count(&work);
        let st = Command::new(cargo())
            .args(["fuzz", "cmin", "-O", "--sanitizer", "none", "--fuzz-dir"])
            .arg(&fuzz_dir)
            .args(features)
            .arg(t.name())
            .arg(&work)
            .current_dir(&root)
            .status()
            .map_err(|e| CliError(format!("cannot run cargo fuzz cmin: {e}")))?;
        if !st.success() {
            bail!("`cargo fuzz cmin {}` failed ({st})", t.name());
        }
        eprintln!(
            "mmcheck: {}: corpus minimized: {before} -> {} inputs",
            t.name(),
            count(&work)
        );
    }
    let cov_dir = fuzz_dir.join("target/coverage");
    let mut c = Command::new(cargo());
    c.args([
        "fuzz",
        "coverage",
        "-O",
        "--sanitizer",
        "none",
        "--fuzz-dir",
    ])
    .arg(&fuzz_dir)
    .arg("--target-dir")
    .arg(&cov_dir)
    .args(features)
    .arg(t.name())
    .arg(&work);
    if seeds.is_dir() {
        c.arg(&seeds);
    }
    // Its output (a line per input replayed) goes to a log; the table is the result.
    let log_path = root
        .join("target/campaign")
        .join(format!("coverage-{}.log", t.name()));
    let log = std::fs::create_dir_all(root.join("target/campaign"))
        .and_then(|()| std::fs::File::create(&log_path))
        .map_err(|e| CliError(format!("cannot write {}: {e}", log_path.display())))?;
    let log2 = log
        .try_clone()
        .map_err(|e| CliError(format!("cannot write {}: {e}", log_path.display())))?;
    eprintln!(
        "mmcheck: cargo fuzz coverage {} (output in {})",
        t.name(),
        crate::rel(&root, &log_path)
    );
    let st = c
        .current_dir(&root)
        .stdout(log)
        .stderr(log2)
        .status()
        .map_err(|e| CliError(format!("cannot run cargo fuzz coverage: {e}")))?;
    if !st.success() {
        bail!(
            "`cargo fuzz coverage {}` failed ({st}); see {}",
            t.name(),
            log_path.display()
        );
    }
    let profdata = fuzz_dir
        .join("coverage")
        .join(t.name())
        .join("coverage.profdata");
    let bin = coverage_binary(&cov_dir, t.name())
        .ok_or_else(|| CliError(format!("no coverage build of {} found", t.name())))?;
    let out = Command::new(&llvm_cov)
        .args(["export", "-format=text", "-summary-only"])
        .arg(format!("-instr-profile={}", profdata.display()))
        .arg(&bin)
        .output()
        .map_err(|e| CliError(format!("cannot run {}: {e}", llvm_cov.display())))?;
    if !out.status.success() {
        bail!(
            "llvm-cov export failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
        );
    }
    let files = parse_export(&String::from_utf8_lossy(&out.stdout), &root)
        .map_err(|e| CliError(format!("llvm-cov export: {e}")))?;
    let shown: Vec<&FileCov> = files
        .iter()
        .filter(|f| a.all || f.file.starts_with("algos/src/") || f.file.starts_with("shadow/src/"))
        .collect();
    println!("{:60} {:>7} {:>7} {:>7}", "file", "lines", "covered", "%");
    for f in &shown {
        println!(
            "{:60} {:>7} {:>7} {:>6.1}%",
            f.file,
            f.lines,
            f.covered,
            percent(f)
        );
    }
    let (l, c): (u64, u64) = shown
        .iter()
        .fold((0, 0), |(l, c), f| (l + f.lines, c + f.covered));
    println!(
        "{:60} {:>7} {:>7} {:>6.1}%",
        "total",
        l,
        c,
        if l == 0 {
            0.0
        } else {
            100.0 * c as f64 / l as f64
        }
    );
    let dir = root.join("campaigns/coverage");
    let path = dir.join(format!("{}.json", t.name()));
    let doc = json!({
        "target": t.name(),
        "time": now_secs(),
        "files": files.iter().map(|f| json!({"file": f.file, "lines": f.lines, "covered": f.covered})).collect::<Vec<_>>(),
    });
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, doc.to_string() + "\n"))
        .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))?;
    eprintln!("mmcheck: coverage written to {}", crate::rel(&root, &path));
    Ok(0)
}

fn count(d: &Path) -> usize {
    std::fs::read_dir(d).map_or(0, |r| r.count())
}

fn percent(f: &FileCov) -> f64 {
    if f.lines == 0 {
        0.0
    } else {
        100.0 * f.covered as f64 / f.lines as f64
    }
}

/// `llvm-cov` and `llvm-profdata` of the active toolchain (`llvm-tools-preview`), installed
/// with rustup (saying so) if missing.
fn llvm_tools() -> Result<(PathBuf, PathBuf), CliError> {
    let find = || -> Option<(PathBuf, PathBuf)> {
        let sysroot = Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .ok()?;
        let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
        let vv = Command::new("rustc").arg("-vV").output().ok()?;
        let vv = String::from_utf8_lossy(&vv.stdout).to_string();
        let host = vv
            .lines()
            .find_map(|l| l.strip_prefix("host: "))?
            .trim()
            .to_string();
        let bin = sysroot.join("lib/rustlib").join(host).join("bin");
        let (cov, prof) = (bin.join("llvm-cov"), bin.join("llvm-profdata"));
        (cov.is_file() && prof.is_file()).then_some((cov, prof))
    };
    if let Some(t) = find() {
        return Ok(t);
    }
    eprintln!(
        "mmcheck: llvm-cov not found: installing it (rustup component add llvm-tools-preview)"
    );
    let ok = Command::new("rustup")
        .args(["component", "add", "llvm-tools-preview"])
        .status()
        .is_ok_and(|s| s.success());
    match (ok, find()) {
        (true, Some(t)) => Ok(t),
        _ => bail!("llvm-cov is missing and `rustup component add llvm-tools-preview` failed"),
    }
}

/// The instrumented binary `cargo fuzz coverage` built under `dir`: the newest
/// `.../release/<name>` up to five levels down (cargo-fuzz nests the triple and a
/// `coverage` directory below the target directory it is given).
fn coverage_binary(dir: &Path, name: &str) -> Option<PathBuf> {
    fn walk(d: &Path, name: &str, depth: u32, found: &mut Vec<PathBuf>) {
        let p = d.join("release").join(name);
        if p.is_file() {
            found.push(p);
        }
        if depth == 0 {
            return;
        }
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let sub = e.path();
            let skip = ["deps", "build", "incremental", ".fingerprint"]
                .iter()
                .any(|s| sub.ends_with(s));
            if sub.is_dir() && !skip {
                walk(&sub, name, depth - 1, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, name, 5, &mut found);
    found
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// The files of an `llvm-cov export -summary-only` document, paths made relative to `root`
/// (files outside it keep their absolute path), sorted by path.
pub fn parse_export(text: &str, root: &Path) -> Result<Vec<FileCov>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let files = v["data"][0]["files"]
        .as_array()
        .ok_or("no data[0].files in the export")?;
    let mut out = Vec::new();
    for f in files {
        let name = f["filename"].as_str().ok_or("a file without a filename")?;
        let lines = &f["summary"]["lines"];
        let (Some(n), Some(c)) = (lines["count"].as_u64(), lines["covered"].as_u64()) else {
            return Err(format!("{name}: no line summary"));
        };
        let rel = Path::new(name)
            .strip_prefix(root)
            .map_or_else(|_| name.to_string(), |p| p.display().to_string());
        out.push(FileCov {
            file: rel,
            lines: n,
            covered: c,
        });
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_gives_lines_per_file_relative_to_the_root() {
        let text = r#"{"data":[{"files":[
            {"filename":"/r/algos/src/percpu/mod.rs","summary":{"lines":{"count":100,"covered":80,"percent":80.0}}},
            {"filename":"/home/u/.cargo/registry/x.rs","summary":{"lines":{"count":10,"covered":0,"percent":0.0}}},
            {"filename":"/r/algos/src/sync/cpu.rs","summary":{"lines":{"count":50,"covered":50,"percent":100.0}}}
        ],"totals":{}}],"type":"llvm.coverage.json.export","version":"2.0.1"}"#;
        let f = parse_export(text, Path::new("/r")).expect("parsed");
        assert_eq!(f.len(), 3);
        assert_eq!(f[1].file, "algos/src/percpu/mod.rs");
        assert_eq!((f[1].lines, f[1].covered), (100, 80));
        assert_eq!(f[2].file, "algos/src/sync/cpu.rs");
        assert_eq!(f[0].file, "/home/u/.cargo/registry/x.rs");
        assert!(parse_export("{}", Path::new("/r")).is_err());
        assert!(parse_export("not json", Path::new("/r")).is_err());
    }
}
