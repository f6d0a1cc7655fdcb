//! `mmcheck mutants`: apply each planted bug to a scratch copy of the repository and check
//! that the engine named in its header catches it.

use crate::{cargo, repo_root, CliError, CliResult};
use harness::registry::{self, EngineKind};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// The header of a mutant patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// One line about the planted bug.
    pub description: String,
    /// The engine expected to catch it.
    pub engine: String,
    /// The registry target, or the cargo test arguments (loom, test).
    pub target: String,
    /// Iterations, or seconds for fuzz (unused by loom and test).
    pub budget: Option<u64>,
}

const ENGINES: &[&str] = &[
    "random",
    "pct",
    "proptest",
    "sequential",
    "fuzz",
    "loom",
    "test",
];

/// Parses the `# key: value` lines before the diff.
pub fn parse_header(text: &str) -> Result<Header, String> {
    let (mut desc, mut engine, mut target, mut budget) = (None, None, None, None);
    for line in text.lines() {
        if line.starts_with("diff ") || line.starts_with("--- ") {
            break;
        }
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((k, v)) = rest.split_once(':') else {
            continue;
        };
        let v = v.trim().to_string();
        match k.trim() {
            "mmcheck-mutant" => desc = Some(v),
            "engine" => engine = Some(v),
            "target" => target = Some(v.trim_matches('`').to_string()),
            "budget" => budget = Some(v),
            _ => {}
        }
    }
    let description = desc.ok_or("no `# mmcheck-mutant:` header line")?;
    let engine = engine.ok_or("no `# engine:` header line")?;
    if !ENGINES.contains(&engine.as_str()) {
        return Err(format!(
            "unknown engine `{engine}` (known: {})",
            ENGINES.join(", ")
        ));
    }
    let target = target
        .filter(|t| !t.is_empty())
        .ok_or("no `# target:` header line")?;
    let needs_budget = !matches!(engine.as_str(), "loom" | "test");
    let budget = match budget {
        Some(b) => match b.parse::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("budget `{b}` is not a positive number")),
        },
        None if needs_budget => return Err("no `# budget:` header line".into()),
        None => None,
    };
    Ok(Header {
        description,
        engine,
        target,
        budget,
    })
}

/// How a mutant fared.
enum Verdict {
    Caught(String),
    Missed,
    Error(String),
}

/// Runs every mutant of the named algorithms (all if empty).
pub fn run(algos: &[String]) -> CliResult {
    let root = repo_root()?;
    let dir = root.join("mutants");
    let mut algo_dirs: Vec<PathBuf> = Vec::new();
    if algos.is_empty() {
        let rd = std::fs::read_dir(&dir)
            .map_err(|e| CliError(format!("cannot read {}: {e}", dir.display())))?;
        for e in rd.flatten() {
            if e.path().is_dir() {
                algo_dirs.push(e.path());
            }
        }
        algo_dirs.sort();
    } else {
        for a in algos {
            let d = dir.join(a);
            if !d.is_dir() {
                bail!("no mutants directory {}", d.display());
            }
            algo_dirs.push(d);
        }
    }
    let mut patches = Vec::new();
    for d in &algo_dirs {
        let rd = std::fs::read_dir(d)
            .map_err(|e| CliError(format!("cannot read {}: {e}", d.display())))?;
        let mut ps: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "patch"))
            .collect();
        ps.sort();
        patches.extend(ps);
    }
    if patches.is_empty() {
        bail!("no mutants (*.patch) under {}", dir.display());
    }
    let mut rows = Vec::new();
    for p in &patches {
        let algo = p
            .parent()
            .and_then(|d| d.file_name())
            .map_or(String::new(), |n| n.to_string_lossy().to_string());
        let name = p
            .file_stem()
            .map_or(String::new(), |n| n.to_string_lossy().to_string());
        let id = format!("{algo}/{name}");
        eprintln!("mmcheck: mutant {id}");
        let mut secs = 0.0;
        let (engine, verdict) = match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| parse_header(&t))
        {
            Err(e) => ("?".to_string(), Verdict::Error(e)),
            Ok(h) => {
                let (v, t) = run_one(&root, p, &algo, &name, &h);
                secs = t;
                (h.engine.clone(), v)
            }
        };
        match &verdict {
            Verdict::Caught(t) => eprintln!("mmcheck: {id}: caught in {secs:.1}s: {t}"),
            Verdict::Missed => eprintln!("mmcheck: {id}: MISSED ({secs:.1}s)"),
            Verdict::Error(e) => eprintln!("mmcheck: {id}: ERROR: {e}"),
        }
        rows.push((id, engine, verdict, secs));
    }
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(6).max(6);
    println!();
    println!(
        "{:w$}  {:10}  {:7}  {:>8}  title",
        "mutant", "engine", "result", "time"
    );
    let mut bad = false;
    for (id, engine, v, secs) in &rows {
        let (res, title) = match v {
            Verdict::Caught(t) => ("caught", t.clone()),
            Verdict::Missed => {
                bad = true;
                ("MISSED", String::new())
            }
            Verdict::Error(e) => {
                bad = true;
                ("ERROR", e.clone())
            }
        };
        let time = if matches!(v, Verdict::Caught(_)) {
            format!("{secs:.1}s")
        } else {
            "-".to_string()
        };
        println!("{id:w$}  {engine:10}  {res:7}  {time:>8}  {title}");
    }
    Ok(u8::from(bad))
}

/// Copies `src` to `dst`, leaving out build output, fuzz state, crashes and git metadata.
fn copy_tree(src: &Path, dst: &Path, top: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let p = e.path();
        let rel = p.strip_prefix(top).unwrap_or(&p);
        let skip = ["target", "fuzz/target", "fuzz/corpus", "crashes", ".git"]
            .iter()
            .any(|s| rel == Path::new(s));
        if skip {
            continue;
        }
        let to = dst.join(e.file_name());
        let ft = std::fs::metadata(&p)?.file_type();
        if ft.is_dir() {
            copy_tree(&p, &to, top)?;
        } else if ft.is_file() {
            std::fs::copy(&p, &to)?;
        }
    }
    Ok(())
}

fn last_lines(b: &[u8], n: usize) -> String {
    let s = String::from_utf8_lossy(b);
    let v: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    v[v.len().saturating_sub(n)..].join(" | ")
}

fn mmcheck_title(b: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(b);
    s.lines()
        .rev()
        .find_map(|l| l.split("MMCHECK-TITLE: ").nth(1))
        .map(|t| t.trim().to_string())
}

/// Prepares the scratch copy and runs the engine; returns the verdict and the wall time of
/// the engine run.
fn run_one(root: &Path, patch: &Path, algo: &str, name: &str, h: &Header) -> (Verdict, f64) {
    let scratch = match prepare(root, patch, algo, name) {
        Ok(s) => s,
        Err(e) => return (Verdict::Error(e), 0.0),
    };
    let start = Instant::now();
    let v = run_engine(root, &scratch, h);
    (v, start.elapsed().as_secs_f64())
}

/// Copies the repository to `target/mutants/<algo>-<name>/` and applies the patch there.
fn prepare(root: &Path, patch: &Path, algo: &str, name: &str) -> Result<PathBuf, String> {
    let scratch_parent = root.join("target/mutants");
    let scratch = scratch_parent.join(format!("{algo}-{name}"));
    if scratch.exists() {
        if let Err(e) = std::fs::remove_dir_all(&scratch) {
            return Err(format!("cannot clear {}: {e}", scratch.display()));
        }
    }
    if let Err(e) = copy_tree(root, &scratch, root) {
        return Err(format!(
            "cannot copy the repository to {}: {e}",
            scratch.display()
        ));
    }
    let patch_abs = std::fs::canonicalize(patch).unwrap_or_else(|_| patch.to_path_buf());
    // Keep git from discovering the enclosing repository: paths are relative to the copy.
    let applied = Command::new("git")
        .arg("apply")
        .arg(&patch_abs)
        .current_dir(&scratch)
        .env("GIT_CEILING_DIRECTORIES", &scratch_parent)
        .output();
    match applied {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(format!(
                "patch does not apply: {}",
                last_lines(&o.stderr, 2)
            ))
        }
        Err(e) => return Err(format!("cannot run git apply: {e}")),
    }
    Ok(scratch)
}

/// Runs the mutant's engine in `scratch`.
fn run_engine(root: &Path, scratch: &Path, h: &Header) -> Verdict {
    let build = root.join("target/mutants-build");
    let out: std::io::Result<Output> = match h.engine.as_str() {
        "random" | "pct" | "proptest" | "sequential" => {
            let t = match registry::find(&h.target) {
                Ok(t) => t,
                Err(e) => return Verdict::Error(e),
            };
            let engine = if h.engine == "sequential" {
                "random"
            } else {
                h.engine.as_str()
            };
            let mut c = Command::new(cargo());
            c.args(["run", "--release", "-q", "-p", "harness"]);
            if t.engine() == EngineKind::Schedule {
                c.args(["--features", "shuttle"]);
            }
            c.args([
                "--bin",
                "mmcheck",
                "--",
                "check",
                &h.target,
                "--engine",
                engine,
                "--iterations",
            ])
            .arg(h.budget.unwrap_or(2000).to_string())
            .current_dir(scratch)
            .env("CARGO_TARGET_DIR", &build)
            .env_remove("MMCHECK_ROOT");
            let o = c.output();
            return match o {
                Err(e) => Verdict::Error(format!("cannot run cargo: {e}")),
                Ok(o) => match (o.status.code(), mmcheck_title(&o.stdout)) {
                    (Some(1), Some(t)) => Verdict::Caught(t),
                    (Some(0), _) => Verdict::Missed,
                    _ => Verdict::Error(format!("{}: {}", o.status, last_lines(&o.stderr, 2))),
                },
            };
        }
        "fuzz" => {
            let t = match registry::find(&h.target) {
                Ok(t) => t,
                Err(e) => return Verdict::Error(e),
            };
            let raw = scratch.join("crashes/raw").join(t.name());
            let work = scratch.join("fuzz/corpus").join(t.name());
            for d in [&raw, &work] {
                if let Err(e) = std::fs::create_dir_all(d) {
                    return Verdict::Error(format!("cannot create {}: {e}", d.display()));
                }
            }
            let mut c = Command::new("cargo");
            c.args(["fuzz", "run"])
                .args(crate::campaign::fuzz_flags(scratch, t))
                .arg(t.name())
                .arg(&work);
            let seeds = scratch.join("corpus").join(t.name());
            if seeds.is_dir() {
                c.arg(&seeds);
            }
            c.arg("--")
                .arg(format!("-max_total_time={}", h.budget.unwrap_or(60)))
                .arg(format!("-artifact_prefix={}/", raw.display()))
                .current_dir(scratch);
            let o = match c.output() {
                Ok(o) => o,
                Err(e) => return Verdict::Error(format!("cannot run cargo fuzz: {e}")),
            };
            let crashed = std::fs::read_dir(&raw).is_ok_and(|mut d| d.next().is_some());
            return if crashed {
                Verdict::Caught(
                    mmcheck_title(&o.stderr).unwrap_or_else(|| "crash artifact (no title)".into()),
                )
            } else if o.status.success() {
                Verdict::Missed
            } else {
                Verdict::Error(format!(
                    "cargo fuzz exited with {}: {}",
                    o.status,
                    last_lines(&o.stderr, 2)
                ))
            };
        }
        "loom" => output_within(
            Command::new(cargo())
                .args(["test", "--release"])
                .args(h.target.split_whitespace())
                .current_dir(scratch)
                .env("RUSTFLAGS", "--cfg mmcheck_loom")
                .env("LOOM_MAX_PREEMPTIONS", "2")
                .env("CARGO_TARGET_DIR", root.join("target/mutants-loom")),
        ),
        _ => output_within(
            Command::new(cargo())
                .arg("test")
                .args(h.target.split_whitespace())
                .current_dir(scratch)
                .env("CARGO_TARGET_DIR", &build),
        ),
    };
    match out {
        Err(e) => Verdict::Error(format!("cannot run cargo: {e}")),
        Ok(o) if o.status.success() => Verdict::Missed,
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            if err.contains("could not compile") || err.contains("error: no test target") {
                return Verdict::Error(format!(
                    "the mutant does not build: {}",
                    last_lines(&o.stderr, 2)
                ));
            }
            let out = String::from_utf8_lossy(&o.stdout);
            let failed: Vec<&str> = out
                .lines()
                .filter_map(|l| {
                    l.strip_prefix("test ")
                        .and_then(|r| r.strip_suffix(" ... FAILED"))
                })
                .collect();
            if failed.is_empty() {
                Verdict::Caught(format!("cargo test failed ({})", o.status))
            } else {
                Verdict::Caught(format!("test failed: {}", failed.join(", ")))
            }
        }
    }
}

/// Seconds a `loom` or `test` mutant run may take (`MMCHECK_MUTANT_TIMEOUT`, default 900):
/// a planted bug can make a test loop forever, which must not hang the whole run.
fn mutant_timeout() -> std::time::Duration {
    let secs = std::env::var("MMCHECK_MUTANT_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(900);
    std::time::Duration::from_secs(secs)
}

/// Runs `c` to completion, or kills it after [`mutant_timeout`] and reports that as an
/// error (so the mutant shows as `ERROR: timed out`, never as caught).
fn output_within(c: &mut Command) -> std::io::Result<Output> {
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
    let deadline = std::time::Instant::now() + mutant_timeout();
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("timed out after {} s", mutant_timeout().as_secs()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parses_and_rejects() {
        let h = parse_header(
            "# mmcheck-mutant: lost update\n# engine: random\n# target: counter_sched\n# budget: 200\ndiff --git a/x b/x\n# engine: bogus\n",
        )
        .unwrap();
        assert_eq!(h.engine, "random");
        assert_eq!(h.budget, Some(200));
        assert!(
            parse_header("# mmcheck-mutant: x\n# engine: nope\n# target: t\n# budget: 1\n")
                .is_err()
        );
        assert!(
            parse_header("# mmcheck-mutant: x\n# engine: random\n# target: t\n# budget: 0\n")
                .is_err()
        );
        let t = parse_header(
            "# mmcheck-mutant: x\n# engine: test\n# target: `-p algos --features hooks`\n",
        )
        .unwrap();
        assert_eq!(t.target, "-p algos --features hooks");
    }
}
