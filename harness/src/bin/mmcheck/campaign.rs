//! `mmcheck campaign`: cargo-fuzz over the targets, live progress, crash triage, summary.

use crate::cargo::{cargo, ensure_cargo_fuzz, fuzz_flags};
use crate::crashes::save_crash;
use crate::{corpus_files, repo_root, resolve_targets, CliError, CliResult};
use harness::registry::{self, DynTarget, RunError, TargetKind};
use harness::report::fnv1a;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Arguments of `mmcheck campaign`.
#[derive(Debug, clap::Args)]
pub struct CampaignArgs {
    /// Total wall-clock seconds, split evenly over the targets (at least 5 s each).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub time: u64,
    /// libFuzzer jobs per target (`-jobs`/`-workers`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub jobs: u64,
    /// Targets to fuzz (default: all).
    pub targets: Vec<String>,
}

/// What libFuzzer reported for one target.
#[derive(Debug, Default, Clone)]
struct Stats {
    execs: u64,
    exec_s: u64,
    cov: u64,
    corpus: u64,
    secs: f64,
    crashes: Vec<String>,
    error: Option<String>,
}

/// Runs the campaign.
pub fn run(a: &CampaignArgs) -> CliResult {
    let root = repo_root()?;
    let targets = resolve_targets(&a.targets)?;
    let share = a.time / targets.len() as u64;
    if share < 5 {
        bail!(
            "--time {} gives each of {} targets {} s; each needs at least 5 s (use --time {} or fewer targets)",
            a.time,
            targets.len(),
            share,
            5 * targets.len()
        );
    }
    if !root.join("fuzz/Cargo.toml").is_file() {
        bail!("no cargo-fuzz crate at {}", root.join("fuzz").display());
    }
    for t in &targets {
        corpus_files(&root, t.name())?;
    }
    ensure_cargo_fuzz()?;
    // Group by feature set: sequential targets first, then the shuttle ones.
    let mut order: Vec<&'static dyn DynTarget> = targets.clone();
    order.sort_by_key(|t| t.kind() == TargetKind::Schedule);
    for t in &order {
        eprintln!("mmcheck: building fuzz target {}", t.name());
        let status = Command::new(cargo())
            .args(["fuzz", "build"])
            .args(fuzz_flags(&root, *t))
            .arg(t.name())
            .current_dir(&root)
            .status()
            .map_err(|e| CliError(format!("cannot run cargo fuzz: {e}")))?;
        if !status.success() {
            bail!("`cargo fuzz build {}` failed ({status})", t.name());
        }
    }
    let mut rows = Vec::new();
    for t in &order {
        rows.push((t.name(), fuzz_for(&root, *t, share, a.jobs)?));
    }
    println!();
    println!(
        "{:16} {:>6} {:>12} {:>9} {:>7} {:>7} crashes",
        "target", "secs", "execs", "execs/s", "cov", "corpus"
    );
    let (mut crashed, mut errors) = (false, false);
    for (name, st) in &rows {
        let crashes = if st.crashes.is_empty() {
            "0".to_string()
        } else {
            format!("{}: {}", st.crashes.len(), st.crashes.join("; "))
        };
        println!(
            "{:16} {:>6.0} {:>12} {:>9} {:>7} {:>7} {}",
            name, st.secs, st.execs, st.exec_s, st.cov, st.corpus, crashes
        );
        if let Some(e) = &st.error {
            println!("{:16} error: {e}", "");
            errors = true;
        }
        crashed |= !st.crashes.is_empty();
    }
    Ok(if crashed {
        1
    } else if errors {
        2
    } else {
        0
    })
}

/// Parses one libFuzzer status line (`#123 NEW cov: 3 ft: 4 corp: 5/6b ... exec/s: 7 ...`).
fn parse_status(line: &str, st: &mut Stats) {
    if let Some(rest) = line.strip_prefix('#') {
        let mut it = rest.split_whitespace();
        if let Some(n) = it.next().and_then(|n| n.trim_end_matches(':').parse().ok()) {
            st.execs = n;
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        for w in words.windows(2) {
            let num = |s: &str| s.split('/').next().and_then(|x| x.parse::<u64>().ok());
            match w[0] {
                "cov:" => st.cov = num(w[1]).unwrap_or(st.cov),
                "corp:" => st.corpus = num(w[1]).unwrap_or(st.corpus),
                "exec/s:" => st.exec_s = num(w[1]).unwrap_or(st.exec_s),
                _ => {}
            }
        }
    } else if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
        st.execs = v.trim().parse().unwrap_or(st.execs);
    } else if let Some(v) = line.strip_prefix("stat::average_exec_per_sec:") {
        st.exec_s = v.trim().parse().unwrap_or(st.exec_s);
    }
}

/// Most libFuzzer restarts after crashes within one target's share.
const MAX_RESTARTS: u32 = 8;

/// Fuzzes one target for its whole share: libFuzzer stops at a crash, so after triaging a
/// new one the target is fuzzed again for the time left (at least 5 s, at most
/// [`MAX_RESTARTS`] restarts; a run that only finds known crashes ends it), and the runs'
/// statistics are combined. Crashes are listed once per title.
fn fuzz_for(
    root: &Path,
    t: &'static dyn DynTarget,
    share: u64,
    jobs: u64,
) -> Result<Stats, CliError> {
    let mut total = Stats::default();
    let mut restarts = 0;
    loop {
        let left = share.saturating_sub(total.secs as u64);
        let st = fuzz_one(root, t, left, jobs)?;
        total.execs += st.execs;
        total.secs += st.secs;
        total.cov = total.cov.max(st.cov);
        total.corpus = st.corpus;
        total.exec_s = if total.secs > 0.0 {
            (total.execs as f64 / total.secs) as u64
        } else {
            st.exec_s
        };
        // Restart only while runs find crashes not seen before in this campaign.
        let mut crashed = false;
        for c in st.crashes {
            if !total.crashes.contains(&c) {
                total.crashes.push(c);
                crashed = true;
            }
        }
        if st.error.is_some() {
            total.error = st.error;
            break;
        }
        let left = share.saturating_sub(total.secs as u64);
        if !crashed || left < 5 || restarts >= MAX_RESTARTS {
            break;
        }
        restarts += 1;
        eprintln!(
            "mmcheck: {}: restarting after a crash, {left} s left",
            t.name()
        );
    }
    Ok(total)
}

/// Fuzzes one target for `secs`, then triages its raw crashes.
fn fuzz_one(
    root: &Path,
    t: &'static dyn DynTarget,
    secs: u64,
    jobs: u64,
) -> Result<Stats, CliError> {
    let name = t.name();
    let work = root.join("fuzz/corpus").join(name);
    let seeds = root.join("corpus").join(name);
    let raw = root.join("crashes/raw").join(name);
    let logs = root.join("target/campaign").join(name);
    for d in [&work, &raw, &logs] {
        std::fs::create_dir_all(d)
            .map_err(|e| CliError(format!("cannot create {}: {e}", d.display())))?;
    }
    let mut cmd = Command::new(cargo());
    cmd.args(["fuzz", "run"])
        .args(fuzz_flags(root, t))
        .arg(name)
        .arg(&work);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.arg("--")
        .arg(format!("-max_total_time={secs}"))
        .arg(format!("-artifact_prefix={}/", raw.display()))
        .arg("-print_final_stats=1");
    if jobs > 1 {
        cmd.arg(format!("-jobs={jobs}"))
            .arg(format!("-workers={jobs}"));
        // Workers log to fuzz-<n>.log in libFuzzer's working directory.
        for ent in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
            if ent.file_name().to_string_lossy().starts_with("fuzz-") {
                let _ = std::fs::remove_file(ent.path());
            }
        }
        cmd.current_dir(&logs);
    } else {
        cmd.current_dir(root);
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| CliError(format!("cannot run cargo fuzz: {e}")))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| CliError("no stderr pipe".into()))?;
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let tty = std::io::stderr().is_terminal();
    let bar = if tty {
        let b = ProgressBar::new(secs);
        b.set_style(
            ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos:>4}/{len}s {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.set_prefix(name.to_string());
        Some(b)
    } else {
        None
    };
    let start = Instant::now();
    let mut last_plain = Instant::now();
    let mut st = Stats::default();
    let mut log = Vec::<String>::new();
    // Reports printed by failing inputs, and which artifact each one ended up in.
    let mut report: Option<Vec<String>> = None;
    let mut attributed: Vec<(PathBuf, String, String)> = Vec::new();
    let mut pending: Option<(String, String)> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(line) => {
                parse_status(&line, &mut st);
                if let Some(title) = line.strip_prefix("MMCHECK-TITLE: ") {
                    report = Some(vec![line.clone()]);
                    pending = Some((title.trim().to_string(), String::new()));
                } else if let Some(r) = report.as_mut() {
                    r.push(line.clone());
                }
                if let Some(path) = line.split("Test unit written to ").nth(1) {
                    let path = PathBuf::from(path.trim());
                    if let (Some((title, _)), Some(r)) = (pending.take(), report.take()) {
                        attributed.push((path, title, r.join("\n") + "\n"));
                    }
                }
                log.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let found = attributed.len() + usize::from(pending.is_some());
        let msg = format!("{} execs/s, cov {}, {} crashes", st.exec_s, st.cov, found);
        let el = start.elapsed().as_secs().min(secs);
        if let Some(b) = &bar {
            b.set_position(el);
            b.set_message(msg);
        } else if last_plain.elapsed() >= Duration::from_secs(5) {
            last_plain = Instant::now();
            eprintln!("mmcheck: {name}: {el}/{secs}s, {} execs, {msg}", st.execs);
        }
    }
    let _ = reader.join();
    let status = child
        .wait()
        .map_err(|e| CliError(format!("cargo fuzz: {e}")))?;
    st.secs = start.elapsed().as_secs_f64();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if jobs > 1 {
        // The workers' output: statistics and any report.
        for ent in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
            if !ent.file_name().to_string_lossy().starts_with("fuzz-") {
                continue;
            }
            let text = std::fs::read_to_string(ent.path()).unwrap_or_default();
            let mut wst = Stats::default();
            for line in text.lines() {
                parse_status(line, &mut wst);
            }
            st.execs += wst.execs;
            st.exec_s += wst.exec_s;
            st.cov = st.cov.max(wst.cov);
        }
    }
    let log_path = logs.join("libfuzzer.log");
    let _ = std::fs::write(&log_path, log.join("\n") + "\n");
    let disk_corpus = std::fs::read_dir(&work)
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    st.corpus = st.corpus.max(disk_corpus);
    // A report without an artifact line (a crash in the log of a job): keep it for triage.
    let orphan = pending
        .zip(report)
        .map(|((title, _), r)| (title, r.join("\n") + "\n"));
    st.crashes = triage(root, t, &raw, &attributed, orphan.as_ref(), &log);
    if !status.success() && st.crashes.is_empty() {
        st.error = Some(format!(
            "cargo fuzz exited with {status} and no crash artifact (log: {})",
            log_path.display()
        ));
    }
    Ok(st)
}

/// The report of a crash no title was found for: what is known, and the end of libFuzzer's
/// output (the panic message or signal is there), so nothing about it is lost.
fn untriaged_report(target: &str, fname: &str, empty: bool, log: &[String]) -> String {
    let mut rep =
        format!("untriaged {fname} of target {target}: no MMCHECK-TITLE could be determined\n");
    if empty {
        rep.push_str(
            "the input is empty: libFuzzer writes an empty unit when the process dies outside \
             any input (in a background thread, or in teardown at exit), so replaying it \
             reproduces nothing; the output below shows where it died\n",
        );
    }
    let from = log.len().saturating_sub(80);
    rep.push_str("--- end of libFuzzer's output ---\n");
    for line in &log[from..] {
        rep.push_str(line);
        rep.push('\n');
    }
    rep
}

/// Determines the title of one raw artifact: from the run's output, by running it in-process
/// (sequential targets), or by running it alone under cargo fuzz.
fn title_of(
    root: &Path,
    t: &dyn DynTarget,
    file: &Path,
    attributed: &[(PathBuf, String, String)],
    orphan: Option<&(String, String)>,
    raw_count: usize,
) -> Option<(String, String)> {
    let same =
        |p: &Path| p == file || (p.file_name() == file.file_name() && p.file_name().is_some());
    if let Some((_, title, rep)) = attributed.iter().find(|(p, _, _)| same(p)) {
        return Some((title.clone(), rep.clone()));
    }
    if let (Some(o), 1) = (orphan, raw_count) {
        return Some(o.clone());
    }
    let data = std::fs::read(file).ok()?;
    if t.kind() == TargetKind::Sequential || crate::cargo::has_shuttle() {
        if let Err(RunError::Failure(f)) = registry::run(t.name(), &data) {
            return Some((f.title(), f.render()));
        }
    }
    if t.kind() == TargetKind::Sequential {
        return None;
    }
    let out = Command::new(cargo())
        .args(["fuzz", "run"])
        .args(fuzz_flags(root, t))
        .arg(t.name())
        .arg(file)
        .current_dir(root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let at = text.rfind("MMCHECK-TITLE: ")?;
    let rep = text[at..].to_string();
    let title = rep
        .lines()
        .next()?
        .trim_start_matches("MMCHECK-TITLE: ")
        .trim()
        .to_string();
    Some((title, rep))
}

/// Saves every file of `raw` under `crashes/`, removing a raw file only once it is saved.
/// Returns the titles found (one per file).
fn triage(
    root: &Path,
    t: &dyn DynTarget,
    raw: &Path,
    attributed: &[(PathBuf, String, String)],
    orphan: Option<&(String, String)>,
    log: &[String],
) -> Vec<String> {
    let files: Vec<PathBuf> = match std::fs::read_dir(raw) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect(),
        Err(e) => {
            eprintln!(
                "mmcheck: cannot read {}: {e}; raw crashes left in place",
                raw.display()
            );
            return Vec::new();
        }
    };
    let mut titles = Vec::new();
    for f in &files {
        let fname = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let Ok(data) = std::fs::read(f) else {
            eprintln!("mmcheck: cannot read {}; left in place", f.display());
            titles.push(format!("UNREADABLE {fname}"));
            continue;
        };
        let input_name = format!(
            "input-{}",
            fname
                .strip_prefix("crash-")
                .map_or_else(|| format!("{:016x}", fnv1a(&data)), str::to_string)
        );
        let (dir, report, title) = match title_of(root, t, f, attributed, orphan, files.len()) {
            Some((title, rep)) => {
                let hash = format!("{:016x}", fnv1a(title.as_bytes()));
                (root.join("crashes").join(hash), rep, title)
            }
            None => {
                let dir = root
                    .join("crashes")
                    .join(format!("untriaged-{}-{fname}", t.name()));
                let rep = untriaged_report(t.name(), &fname, data.is_empty(), log);
                (dir, rep, format!("untriaged {fname}"))
            }
        };
        match save_crash(&dir, t.name(), Some((&input_name, &data)), &report) {
            Ok(()) => {
                // Only now is the raw file redundant.
                if std::fs::read(dir.join(&input_name)).is_ok_and(|d| d == data) {
                    let _ = std::fs::remove_file(f);
                }
                eprintln!("mmcheck: {}: {title} -> {}", t.name(), dir.display());
            }
            Err(e) => eprintln!(
                "mmcheck: cannot save {} to {}: {e}; left in place",
                f.display(),
                dir.display()
            ),
        }
        titles.push(title);
    }
    titles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untriaged_crash_keeps_the_end_of_the_output() {
        let log: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
        let rep = untriaged_report("percpu_ops", "crash-da39", true, &log);
        assert!(rep.contains("the input is empty"), "{rep}");
        assert!(
            rep.contains("line 99\n") && rep.contains("line 20\n"),
            "{rep}"
        );
        assert!(!rep.contains("line 19\n"), "only the last 80 lines: {rep}");
        let rep = untriaged_report("percpu_ops", "crash-1234", false, &log[..3]);
        assert!(!rep.contains("the input is empty"), "{rep}");
        assert!(rep.contains("line 2\n"), "{rep}");
    }

    #[test]
    fn libfuzzer_status_lines_are_parsed() {
        let mut st = Stats::default();
        parse_status(
            "#65536\tpulse  cov: 2310 ft: 12906 corp: 1366/210Kb lim: 233 exec/s: 1285 rss: 39Mb",
            &mut st,
        );
        assert_eq!(
            (st.execs, st.cov, st.corpus, st.exec_s),
            (65536, 2310, 1366, 1285)
        );
        parse_status(
            "#70000\tNEW    cov: 2312 ft: 12910 corp: 1367/211Kb",
            &mut st,
        );
        assert_eq!((st.execs, st.cov, st.corpus), (70000, 2312, 1367));
        assert_eq!(st.exec_s, 1285, "a line without exec/s keeps the last rate");
        parse_status("stat::number_of_executed_units: 80141", &mut st);
        parse_status("stat::average_exec_per_sec:     1313", &mut st);
        assert_eq!((st.execs, st.exec_s), (80141, 1313));
        // Anything else changes nothing.
        let before = (st.execs, st.cov, st.corpus, st.exec_s);
        parse_status("INFO: Seed: 1", &mut st);
        parse_status("#garbage cov: x", &mut st);
        assert_eq!(before, (st.execs, st.cov, st.corpus, st.exec_s));
    }
}
