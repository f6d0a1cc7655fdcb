//! `mmcheck mutants`: apply each planted bug to a scratch copy of the repository and check
//! that the engine named in its header catches it; with `--matrix`, run every engine that
//! applies (unit tests, loom, libFuzzer on each registry target of the bug's algorithm, the
//! schedule engine in random and PCT mode) and print mutant × engine → caught in N s, or
//! missed (Magma's table); `--json` prints one JSON object per line and cell.

use crate::cargo::{cargo, fuzz_flags, mutant_timeout, output_within, Sanitizer};
use crate::{repo_root, CliError, CliResult};
use harness::mutant::{parse_header, targets_of, AlgoConf, Header};
use harness::registry::{self, Engine, TargetKind};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// Arguments of `mmcheck mutants`.
#[derive(Debug, clap::Args)]
pub struct MutantsArgs {
    /// Algorithm directories under `mutants/` (default: all).
    pub algos: Vec<String>,
    /// Run every applicable engine on every planted bug, not only the header's.
    #[arg(long)]
    pub matrix: bool,
    /// Print one JSON object per line and cell instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Seconds each time-budgeted cell may run (libFuzzer, and the PRNG engines in the
    /// matrix).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub secs: u64,
    /// Only these engines in the matrix (comma-separated; default: test, loom, fuzz,
    /// sched-random, sched-pct, plus each mutant's header engine).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub engines: Vec<Engine>,
    /// Only mutants whose `<algo>/<name>` contains this text.
    #[arg(long)]
    pub only: Option<String>,
    /// Only these registry targets in the matrix's target cells (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub targets: Vec<String>,
}

/// How one cell fared.
#[derive(Debug, Clone)]
enum Verdict {
    Caught(String),
    Missed,
    Error(String),
}

/// One cell of the matrix: an engine, with its target or cargo arguments.
#[derive(Debug, Clone)]
struct Cell {
    engine: Engine,
    /// Registry target (fuzz, PRNG engines) or cargo test arguments (test, loom).
    arg: String,
    /// Iterations (PRNG engines without a time budget).
    budget: Option<u64>,
    /// Seconds (fuzz, and the PRNG engines in the matrix).
    secs: Option<u64>,
}

impl Cell {
    fn label(&self) -> String {
        self.engine.cell(&self.arg)
    }
}

struct Mutant {
    algo: String,
    name: String,
    path: PathBuf,
}

fn list_mutants(root: &Path, algos: &[String]) -> Result<Vec<Mutant>, CliError> {
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
    let mut out = Vec::new();
    for d in &algo_dirs {
        let rd = std::fs::read_dir(d)
            .map_err(|e| CliError(format!("cannot read {}: {e}", d.display())))?;
        let mut ps: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "patch"))
            .collect();
        ps.sort();
        let algo = d
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().to_string());
        for p in ps {
            let name = p
                .file_stem()
                .map_or(String::new(), |n| n.to_string_lossy().to_string());
            out.push(Mutant {
                algo: algo.clone(),
                name,
                path: p,
            });
        }
    }
    if out.is_empty() {
        bail!("no mutants (*.patch) under {}", dir.display());
    }
    Ok(out)
}

/// The cells to run for one mutant.
fn cells_of(h: &Header, conf: &AlgoConf, algo: &str, a: &MutantsArgs) -> Vec<Cell> {
    let header_cell = Cell {
        engine: h.engine,
        arg: h.target.clone(),
        budget: h.budget,
        secs: (h.engine == Engine::Fuzz).then(|| h.budget.unwrap_or(a.secs)),
    };
    if !a.matrix {
        return vec![header_cell];
    }
    let wanted = |e: Engine| {
        if a.engines.is_empty() {
            matches!(
                e,
                Engine::Test | Engine::Loom | Engine::Fuzz | Engine::SchedRandom | Engine::SchedPct
            )
        } else {
            a.engines.contains(&e)
        }
    };
    let mut cells: Vec<Cell> = Vec::new();
    let test = h
        .test
        .clone()
        .or_else(|| (h.engine == Engine::Test).then(|| h.target.clone()))
        .or_else(|| conf.test.clone());
    let loom = h
        .loom
        .clone()
        .or_else(|| (h.engine == Engine::Loom).then(|| h.target.clone()))
        .or_else(|| conf.loom.clone());
    for (e, args) in [(Engine::Test, test), (Engine::Loom, loom)] {
        if let (true, Some(args)) = (wanted(e), args) {
            cells.push(Cell {
                engine: e,
                arg: args,
                budget: None,
                secs: None,
            });
        }
    }
    for t in targets_of(algo, conf, h) {
        if !a.targets.is_empty() && !a.targets.iter().any(|n| n == t.name()) {
            continue;
        }
        for e in Engine::ALL {
            if !e.takes_target() || !e.applies_to(t.kind()) || !wanted(e) {
                continue;
            }
            cells.push(Cell {
                engine: e,
                arg: t.name().to_string(),
                budget: (e == Engine::Proptest).then_some(u64::from(u32::MAX)),
                secs: (e != Engine::Proptest).then_some(a.secs),
            });
        }
    }
    // The header's own cell, when it is one of the matrix's engines (`seq-random` and
    // `proptest` cells appear only when `--engines` asks for them, so the matrix's engine
    // field stays `test`, `loom`, `fuzz:<t>`, `sched-random:<t>` or `sched-pct:<t>`).
    if wanted(h.engine) && !cells.iter().any(|c| c.label() == header_cell.label()) {
        cells.insert(0, header_cell);
    }
    cells
}

fn json_str(s: &str) -> String {
    let mut o = String::from('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// One JSON line of the matrix: `{"algo":…,"mutant":…,"engine":…,"caught":…,"secs":…}`, plus
/// `"title"` when caught and `"error"` when the cell could not run.
fn json_line(algo: &str, mutant: &str, cell: &str, v: &Verdict, secs: f64) -> String {
    let (caught, extra) = match v {
        Verdict::Caught(t) => (true, format!(",\"title\":{}", json_str(t))),
        Verdict::Missed => (false, String::new()),
        Verdict::Error(e) => (false, format!(",\"error\":{}", json_str(e))),
    };
    format!(
        "{{\"algo\":{},\"mutant\":{},\"engine\":{},\"caught\":{caught},\"secs\":{secs:.1}{extra}}}",
        json_str(algo),
        json_str(mutant),
        json_str(cell)
    )
}

/// One mutant's result: its id, (cell label, verdict, seconds) per cell, caught by any.
type Row = (String, Vec<(String, Verdict, f64)>, bool);

/// Runs the planted bugs.
pub fn run(a: &MutantsArgs) -> CliResult {
    let root = repo_root()?;
    let mutants = list_mutants(&root, &a.algos)?;
    let mut rows: Vec<Row> = Vec::new();
    let mut bad = false;
    for m in &mutants {
        let id = format!("{}/{}", m.algo, m.name);
        if a.only.as_deref().is_some_and(|o| !id.contains(o)) {
            continue;
        }
        eprintln!("mmcheck: mutant {id}");
        let parsed = std::fs::read_to_string(&m.path)
            .map_err(|e| e.to_string())
            .and_then(|t| parse_header(&t))
            .and_then(|h| harness::mutant::load_conf(&root, &m.algo).map(|c| (h, c)));
        let (h, conf) = match parsed {
            Ok(x) => x,
            Err(e) => {
                eprintln!("mmcheck: {id}: ERROR: {e}");
                let v = Verdict::Error(e);
                if a.json {
                    println!("{}", json_line(&m.algo, &m.name, "?", &v, 0.0));
                }
                rows.push((id, vec![("?".into(), v, 0.0)], false));
                bad = true;
                continue;
            }
        };
        let scratch = match prepare(&root, &m.path, &m.algo, &m.name) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("mmcheck: {id}: ERROR: {e}");
                let v = Verdict::Error(e);
                if a.json {
                    println!(
                        "{}",
                        json_line(&m.algo, &m.name, &h.engine.to_string(), &v, 0.0)
                    );
                }
                rows.push((id, vec![(h.engine.to_string(), v, 0.0)], false));
                bad = true;
                continue;
            }
        };
        let header_label = Cell {
            engine: h.engine,
            arg: h.target.clone(),
            budget: None,
            secs: None,
        }
        .label();
        let mut cells_out = Vec::new();
        for cell in cells_of(&h, &conf, &m.algo, a) {
            let label = cell.label();
            let (v, secs) = run_cell(&root, &scratch, &cell);
            match &v {
                Verdict::Caught(t) => eprintln!("mmcheck: {id} {label}: caught in {secs:.1}s: {t}"),
                Verdict::Missed => eprintln!("mmcheck: {id} {label}: missed ({secs:.1}s)"),
                Verdict::Error(e) => eprintln!("mmcheck: {id} {label}: ERROR: {e}"),
            }
            if a.json {
                println!("{}", json_line(&m.algo, &m.name, &label, &v, secs));
            }
            let header_missed = label == header_label && !matches!(v, Verdict::Caught(_));
            bad |= header_missed || matches!(v, Verdict::Error(_));
            cells_out.push((label, v, secs));
        }
        let any = cells_out.iter().any(|c| matches!(c.1, Verdict::Caught(_)));
        bad |= !any;
        rows.push((id, cells_out, any));
    }
    if rows.is_empty() {
        bail!(
            "no mutant matches --only {:?}",
            a.only.as_deref().unwrap_or("")
        );
    }
    if !a.json {
        print_table(&rows, a.matrix);
    }
    Ok(u8::from(bad))
}

fn print_table(rows: &[Row], matrix: bool) {
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(6).max(6);
    println!();
    if !matrix {
        println!(
            "{:w$}  {:26}  {:7}  {:>8}  title",
            "mutant", "engine", "result", "time"
        );
        for (id, cells, _) in rows {
            for (label, v, secs) in cells {
                let (res, time, title) = match v {
                    Verdict::Caught(t) => ("caught", format!("{secs:.1}s"), t.clone()),
                    Verdict::Missed => ("MISSED", "-".into(), String::new()),
                    Verdict::Error(e) => ("ERROR", "-".into(), e.clone()),
                };
                println!("{id:w$}  {label:26}  {res:7}  {time:>8}  {title}");
            }
        }
        return;
    }
    // Columns: every cell label that occurs, in first-seen order.
    let mut cols: Vec<String> = Vec::new();
    for (_, cells, _) in rows {
        for (l, _, _) in cells {
            if !cols.contains(l) {
                cols.push(l.clone());
            }
        }
    }
    let cw = cols.iter().map(|c| c.len()).max().unwrap_or(8).max(8);
    print!("{:w$}", "mutant");
    for c in &cols {
        print!("  {c:>cw$}");
    }
    println!("  any");
    for (id, cells, any) in rows {
        print!("{id:w$}");
        for c in &cols {
            let text = match cells.iter().find(|x| &x.0 == c) {
                None => "".to_string(),
                Some((_, Verdict::Caught(_), s)) => format!("{s:.1}s"),
                Some((_, Verdict::Missed, _)) => "missed".to_string(),
                Some((_, Verdict::Error(_), _)) => "ERROR".to_string(),
            };
            print!("  {text:>cw$}");
        }
        println!("  {}", if *any { "caught" } else { "MISSED" });
    }
    println!("\n(time to catch; `missed`: not caught within the cell's budget; `ERROR`: the cell could not run)");
    for (id, cells, _) in rows {
        for (l, v, _) in cells {
            match v {
                Verdict::Caught(t) => println!("  {id} {l}: {t}"),
                Verdict::Error(e) => println!("  {id} {l}: ERROR: {e}"),
                Verdict::Missed => {}
            }
        }
    }
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

/// Builds what `cell` runs (untimed), then runs it (timed) in `scratch`; returns the verdict
/// and the seconds the engine ran.
fn run_cell(root: &Path, scratch: &Path, cell: &Cell) -> (Verdict, f64) {
    let build = root.join("target/mutants-build");
    let loom_build = root.join("target/mutants-loom");
    match cell.engine {
        Engine::Test | Engine::Loom => {
            let loom = cell.engine == Engine::Loom;
            let mut c = Command::new(cargo());
            c.arg("test");
            if loom {
                c.arg("--release");
            }
            c.args(cell.arg.split_whitespace()).current_dir(scratch);
            if loom {
                c.env("RUSTFLAGS", "--cfg mmcheck_loom")
                    .env("LOOM_MAX_PREEMPTIONS", "2")
                    .env("CARGO_TARGET_DIR", &loom_build);
            } else {
                c.env("CARGO_TARGET_DIR", &build);
            }
            let mut b = Command::new(cargo());
            b.arg("test").arg("--no-run");
            if loom {
                b.arg("--release");
            }
            b.args(cell.arg.split_whitespace())
                .current_dir(scratch)
                .envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))));
            if let Err(v) = built(b.output(), "the mutant does not build") {
                return (v, 0.0);
            }
            let start = Instant::now();
            let out = output_within(&mut c, mutant_timeout());
            let secs = start.elapsed().as_secs_f64();
            (test_verdict(out), secs)
        }
        Engine::Fuzz => {
            let t = match registry::find(&cell.arg) {
                Ok(t) => t,
                Err(e) => return (Verdict::Error(e), 0.0),
            };
            // One fuzz build directory for every mutant, so each build is incremental.
            let fuzz_dir = root.join("target/mutants-fuzz");
            let b = Command::new(cargo())
                .args(["fuzz", "build"])
                .args(fuzz_flags(scratch, t, Sanitizer::None))
                .arg("--target-dir")
                .arg(&fuzz_dir)
                .arg(t.name())
                .current_dir(scratch)
                .output();
            if let Err(v) = built(b, "the fuzz target does not build") {
                return (v, 0.0);
            }
            let raw = scratch.join("crashes/raw").join(t.name());
            let work = scratch.join("fuzz/corpus").join(t.name());
            for d in [&raw, &work] {
                let _ = std::fs::remove_dir_all(d);
                if let Err(e) = std::fs::create_dir_all(d) {
                    return (
                        Verdict::Error(format!("cannot create {}: {e}", d.display())),
                        0.0,
                    );
                }
            }
            let secs = cell.secs.unwrap_or(120);
            let mut c = Command::new(cargo());
            c.args(["fuzz", "run"])
                .args(fuzz_flags(scratch, t, Sanitizer::None))
                .arg("--target-dir")
                .arg(&fuzz_dir)
                .arg(t.name())
                .arg(&work);
            let seeds = scratch.join("corpus").join(t.name());
            if seeds.is_dir() {
                c.arg(&seeds);
            }
            c.arg("--")
                .arg(format!("-max_total_time={secs}"))
                .arg(format!("-artifact_prefix={}/", raw.display()))
                .current_dir(scratch);
            let start = Instant::now();
            let o = output_within(&mut c, std::time::Duration::from_secs(secs + 120));
            let took = start.elapsed().as_secs_f64();
            let o = match o {
                Ok(o) => o,
                Err(e) => return (Verdict::Error(format!("cargo fuzz: {e}")), took),
            };
            let crashed = std::fs::read_dir(&raw).is_ok_and(|mut d| d.next().is_some());
            let v = if crashed {
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
            (v, took)
        }
        Engine::SeqRandom | Engine::SchedRandom | Engine::SchedPct | Engine::Proptest => {
            let t = match registry::find(&cell.arg) {
                Ok(t) => t,
                Err(e) => return (Verdict::Error(e), 0.0),
            };
            let shuttle = t.kind() == TargetKind::Schedule && cell.engine != Engine::Proptest;
            let target_dir = if shuttle {
                root.join("target/mutants-shuttle")
            } else {
                build.clone()
            };
            let mut b = Command::new(cargo());
            b.args([
                "build",
                "--release",
                "-q",
                "-p",
                "harness",
                "--bin",
                "mmcheck",
            ]);
            if shuttle {
                b.args(["--features", "shuttle"]);
            }
            b.current_dir(scratch).env("CARGO_TARGET_DIR", &target_dir);
            if let Err(v) = built(b.output(), "the mutant does not build") {
                return (v, 0.0);
            }
            let mut c = Command::new(target_dir.join("release/mmcheck"));
            c.args(["check", &cell.arg, "--engine", cell.engine.as_str()])
                .arg("--iterations")
                .arg(
                    cell.budget
                        .unwrap_or(if cell.secs.is_some() {
                            u64::from(u32::MAX)
                        } else {
                            2000
                        })
                        .to_string(),
                )
                .current_dir(scratch)
                .env_remove("MMCHECK_ROOT");
            if let Some(secs) = cell.secs.filter(|_| cell.engine != Engine::Proptest) {
                c.arg("--time").arg(secs.to_string());
            }
            let limit = std::time::Duration::from_secs(cell.secs.unwrap_or(600) + 300);
            let start = Instant::now();
            let o = output_within(&mut c, limit);
            let took = start.elapsed().as_secs_f64();
            let v = match o {
                Err(e) => Verdict::Error(format!("mmcheck check: {e}")),
                Ok(o) => match (o.status.code(), mmcheck_title(&o.stdout)) {
                    (Some(1), Some(t)) => Verdict::Caught(t),
                    (Some(0), _) => Verdict::Missed,
                    // The planted bug crashed the engine's process (a wild read through a
                    // node rewritten under a reader): caught, as libFuzzer counts a SIGSEGV.
                    (None, _) if crashed_by_signal(&o.status) => Verdict::Caught(format!(
                        "crashed: {} ({})",
                        o.status,
                        last_lines(&o.stderr, 1)
                    )),
                    _ => Verdict::Error(format!("{}: {}", o.status, last_lines(&o.stderr, 2))),
                },
            };
            (v, took)
        }
    }
}

/// Whether a child died of a memory-error or abort signal (SIGSEGV, SIGBUS, SIGABRT, SIGILL,
/// SIGFPE), not of a timeout kill.
fn crashed_by_signal(st: &std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        matches!(st.signal(), Some(4 | 6 | 7 | 8 | 11))
    }
    #[cfg(not(unix))]
    {
        let _ = st;
        false
    }
}

/// `Ok` if a build step succeeded, else the error verdict.
fn built(o: std::io::Result<Output>, what: &str) -> Result<(), Verdict> {
    match o {
        Err(e) => Err(Verdict::Error(format!("cannot run cargo: {e}"))),
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(Verdict::Error(format!(
            "{what}: {}",
            last_lines(&o.stderr, 2)
        ))),
    }
}

/// The verdict of a `cargo test` run: a test failure is a catch, success a miss.
fn test_verdict(out: std::io::Result<Output>) -> Verdict {
    match out {
        Err(e) => Verdict::Error(format!("cargo test: {e}")),
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

#[cfg(test)]
mod tests {
    use super::*;
    use harness::mutant::parse_conf;

    #[test]
    fn header_parses_and_rejects() {
        let h = parse_header(
            "# mmcheck-mutant: lost update\n# engine: sched-random\n# target: counter_sched\n# budget: 200\ndiff --git a/x b/x\n# engine: bogus\n",
        )
        .unwrap();
        assert_eq!(h.engine, Engine::SchedRandom);
        assert_eq!(h.budget, Some(200));
        for bad in [
            "# mmcheck-mutant: x\n# engine: nope\n# target: t\n# budget: 1\n",
            "# mmcheck-mutant: x\n# engine: sched-random\n# target: counter_sched\n# budget: 0\n",
            // A PRNG engine must name a registry target it applies to.
            "# mmcheck-mutant: x\n# engine: seq-random\n# target: no_such\n# budget: 1\n",
            "# mmcheck-mutant: x\n# engine: sched-pct\n# target: counter\n# budget: 1\n",
        ] {
            assert!(parse_header(bad).is_err(), "{bad}");
        }
        let t = parse_header(
            "# mmcheck-mutant: x\n# engine: test\n# target: `-p algos --features hooks`\n# loom: -p loom-tests --test integration cpu::\n",
        )
        .unwrap();
        assert_eq!(t.target, "-p algos --features hooks");
        assert_eq!(
            t.loom.as_deref(),
            Some("-p loom-tests --test integration cpu::")
        );
    }

    #[test]
    fn matrix_cells_cover_every_applicable_engine_and_the_header_engine() {
        let h = parse_header(
            "# mmcheck-mutant: x\n# engine: proptest\n# target: counter\n# budget: 9\n",
        )
        .unwrap();
        let conf = parse_conf("test: -p harness\ntargets: counter counter_sched\n").unwrap();
        let args = MutantsArgs {
            algos: vec![],
            matrix: true,
            json: false,
            secs: 7,
            engines: vec![],
            only: None,
            targets: vec![],
        };
        let labels: Vec<String> = cells_of(&h, &conf, "platform", &args)
            .iter()
            .map(Cell::label)
            .collect();
        for want in [
            "test",
            "fuzz:counter",
            "fuzz:counter_sched",
            "sched-random:counter_sched",
            "sched-pct:counter_sched",
        ] {
            assert!(labels.iter().any(|l| l == want), "{want} not in {labels:?}");
        }
        assert!(
            !labels.iter().any(|l| l == "loom"),
            "no loom args: {labels:?}"
        );
        assert!(
            !labels.iter().any(|l| l == "sched-random:counter"),
            "{labels:?}"
        );
        // The matrix's engine field stays within the documented five kinds by default...
        assert!(
            !labels.iter().any(|l| l.starts_with("proptest:")),
            "{labels:?}"
        );
        // ...and the header's proptest cells run when asked for.
        let asked = MutantsArgs {
            engines: vec![Engine::Proptest],
            ..args
        };
        let labels: Vec<String> = cells_of(&h, &conf, "platform", &asked)
            .iter()
            .map(Cell::label)
            .collect();
        assert_eq!(labels, ["proptest:counter", "proptest:counter_sched"]);
        assert!(parse_conf("targets: nope\n").is_err());
        assert!(parse_conf("colour: red\n").is_err());
    }

    #[test]
    fn json_lines_have_the_documented_fields() {
        let l = json_line(
            "maple",
            "gap\"one",
            "fuzz:maple_ops",
            &Verdict::Caught("VALIDATE: x".into()),
            1.25,
        );
        assert_eq!(
            l,
            r#"{"algo":"maple","mutant":"gap\"one","engine":"fuzz:maple_ops","caught":true,"secs":1.2,"title":"VALIDATE: x"}"#
        );
        let m = json_line("a", "b", "test", &Verdict::Missed, 3.0);
        assert_eq!(
            m,
            r#"{"algo":"a","mutant":"b","engine":"test","caught":false,"secs":3.0}"#
        );
    }
}
