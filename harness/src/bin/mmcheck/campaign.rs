//! `mmcheck campaign`: cargo-fuzz over the targets, live progress, crash triage and
//! minimization, a run log, a summary.
//!
//! - One target at a time, or `--parallel N` at once (each in its own thread driving its
//!   own libFuzzer), every running job a line of the progress display.
//! - `--jobs N`: libFuzzer's fork mode (`-fork=N -ignore_crashes=1`: N worker processes,
//!   a crash stops only its worker), and the target's working corpus merged afterwards
//!   (`-merge=1`, keeping one input per feature set). With one job libFuzzer stops at a
//!   crash and the campaign restarts it for the time left.
//! - `--sanitizer address`: the fuzz targets built with AddressSanitizer on the nightly
//!   toolchain (in `fuzz/target/asan`); without nightly the campaign says so and runs
//!   without.
//! - Every crash is triaged by title into `crashes/<title-hash>/` ([`crate::crashes`]),
//!   across runs and targets, and a crash without a minimized reproducer gets one
//!   (`cargo fuzz tmin`, kept only if it still fails with the same title; for schedule
//!   targets the bytes are the operations and the schedule, so a shorter input is fewer
//!   operations and fewer preemptions, and the schedule part is then bisected to the
//!   shortest failing prefix: past it a run continues without preemption).
//! - `campaigns/runs/<run>.jsonl` records the run for `mmcheck report`
//!   ([`crate::runlog`]).

use crate::cargo::{
    ensure_cargo_fuzz, fuzz_binary, fuzz_command, has_nightly, output_within, Sanitizer,
};
use crate::crashes::{save_crash, set_minimized, title_hash, unminimized, Meta, MINIMIZE_TRIED};
use crate::runlog::RunLog;
use crate::{corpus_files, repo_root, resolve_targets, CliError, CliResult};
use harness::registry::{DynTarget, TargetKind};
use harness::report::fnv1a;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::json;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

/// Arguments of `mmcheck campaign`.
#[derive(Debug, clap::Args)]
pub struct CampaignArgs {
    /// Total wall-clock seconds of fuzzing, shared by the targets (each gets
    /// `time × parallel / targets`, at least 5 s).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub time: u64,
    /// libFuzzer worker processes per target: fork mode (`-fork=N -ignore_crashes=1`) and a
    /// corpus merge afterwards when above 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub jobs: u64,
    /// Targets fuzzed at the same time.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub parallel: u64,
    /// `none`, or `address` (AddressSanitizer, nightly toolchain; falls back to `none`,
    /// saying so, where nightly is missing).
    #[arg(long, value_enum, default_value = "none")]
    pub sanitizer: Sanitizer,
    /// Do not minimize new crashes.
    #[arg(long)]
    pub no_minimize: bool,
    /// Seconds one crash's minimization may take.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub minimize_secs: u64,
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
    /// Crashes fork mode counted (`oom/timeout/crash: a/b/c`).
    forked_crashes: u64,
    crashes: Vec<String>,
    error: Option<String>,
}

/// What every target's run shares: options, the run log, the progress display.
struct Ctx<'a> {
    root: &'a Path,
    jobs: u64,
    san: Sanitizer,
    minimize: Option<u64>,
    log: &'a RunLog,
    progress: &'a Progress,
}

/// The live display: a bar per running job on a terminal, else a line per job every five
/// seconds.
struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    fn new() -> Self {
        Progress {
            multi: std::io::stderr().is_terminal().then(MultiProgress::new),
        }
    }

    /// A bar for one job (none without a terminal).
    fn job(&self, name: &str, secs: u64, jobs: u64) -> Option<ProgressBar> {
        let m = self.multi.as_ref()?;
        let b = m.add(ProgressBar::new(secs));
        b.set_style(
            ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos:>4}/{len}s {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.set_prefix(if jobs > 1 {
            format!("{name} (fork {jobs})")
        } else {
            name.to_string()
        });
        Some(b)
    }

    /// A message above the bars (or on stderr).
    fn say(&self, msg: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(msg);
            }
            None => eprintln!("{msg}"),
        }
    }
}

/// Runs the campaign.
pub fn run(a: &CampaignArgs) -> CliResult {
    let root = repo_root()?;
    let targets = resolve_targets(&a.targets)?;
    let parallel = a.parallel.min(targets.len() as u64).max(1);
    let share = a.time * parallel / targets.len() as u64;
    if share < 5 {
        bail!(
            "--time {} gives each of {} targets {} s; each needs at least 5 s (use --time {} or fewer targets)",
            a.time,
            targets.len(),
            share,
            (5 * targets.len() as u64).div_ceil(parallel)
        );
    }
    if !root.join("fuzz/Cargo.toml").is_file() {
        bail!("no cargo-fuzz crate at {}", root.join("fuzz").display());
    }
    for t in &targets {
        corpus_files(&root, t.name())?;
    }
    ensure_cargo_fuzz()?;
    let (san, note) = choose_sanitizer(
        a.sanitizer,
        a.sanitizer == Sanitizer::Address && has_nightly(),
    );
    if let Some(n) = note {
        eprintln!("mmcheck: {n}");
    }
    // Group by feature set: sequential targets first, then the shuttle ones.
    let mut order: Vec<&'static dyn DynTarget> = targets.clone();
    order.sort_by_key(|t| t.kind() == TargetKind::Schedule);
    for t in &order {
        eprintln!("mmcheck: building fuzz target {}", t.name());
        let status = fuzz_command(&root, "build", *t, san)
            .arg(t.name())
            .current_dir(&root)
            .status()
            .map_err(|e| CliError(format!("cannot run cargo fuzz: {e}")))?;
        if !status.success() {
            bail!("`cargo fuzz build {}` failed ({status})", t.name());
        }
    }
    let log = RunLog::create(&root);
    log.line(
        "start",
        json!({
            "time": crate::crashes::now_secs(),
            "jobs": a.jobs,
            "parallel": parallel,
            "sanitizer": san.as_str(),
            "targets": order.iter().map(|t| t.name()).collect::<Vec<_>>(),
            "secs_per_target": share,
        }),
    );
    let progress = Progress::new();
    let ctx = Ctx {
        root: &root,
        jobs: a.jobs,
        san,
        minimize: (!a.no_minimize).then_some(a.minimize_secs),
        log: &log,
        progress: &progress,
    };
    let queue = Mutex::new(order.iter().copied().collect::<VecDeque<_>>());
    let done: Mutex<Vec<(&'static str, Result<Stats, CliError>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..parallel {
            s.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some(t) = next else { break };
                let r = fuzz_for(&ctx, t, share);
                if let Ok(st) = &r {
                    log.line(
                        "target",
                        json!({
                            "target": t.name(),
                            "secs": st.secs,
                            "execs": st.execs,
                            "exec_s": st.exec_s,
                            "cov": st.cov,
                            "corpus": st.corpus,
                            "jobs": a.jobs,
                            "crashes": st.crashes,
                            "error": st.error,
                        }),
                    );
                }
                done.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((t.name(), r));
            });
        }
    });
    log.line("end", json!({ "time": crate::crashes::now_secs() }));
    let mut rows = done.into_inner().unwrap_or_else(|e| e.into_inner());
    rows.sort_by_key(|(n, _)| order.iter().position(|t| t.name() == *n));
    println!();
    println!(
        "{:16} {:>6} {:>4} {:>12} {:>9} {:>7} {:>7} crashes",
        "target", "secs", "jobs", "execs", "execs/s", "cov", "corpus"
    );
    let (mut crashed, mut errors) = (false, false);
    for (name, r) in &rows {
        let st = match r {
            Ok(st) => st,
            Err(CliError(e)) => {
                println!("{name:16} error: {e}");
                errors = true;
                continue;
            }
        };
        let crashes = if st.crashes.is_empty() {
            "0".to_string()
        } else {
            format!("{}: {}", st.crashes.len(), st.crashes.join("; "))
        };
        println!(
            "{:16} {:>6.0} {:>4} {:>12} {:>9} {:>7} {:>7} {}",
            name, st.secs, a.jobs, st.execs, st.exec_s, st.cov, st.corpus, crashes
        );
        if let Some(e) = &st.error {
            println!("{:16} error: {e}", "");
            errors = true;
        }
        crashed |= !st.crashes.is_empty();
    }
    eprintln!(
        "mmcheck: run {} logged to {} (`mmcheck report` draws it)",
        log.id(),
        crate::rel(&root, log.path())
    );
    Ok(if crashed {
        1
    } else if errors {
        2
    } else {
        0
    })
}

/// The sanitizer a campaign runs with, given the one asked for and whether nightly runs
/// here, and what to tell the user about it.
fn choose_sanitizer(asked: Sanitizer, nightly: bool) -> (Sanitizer, Option<&'static str>) {
    match (asked, nightly) {
        (Sanitizer::None, _) => (Sanitizer::None, None),
        (Sanitizer::Address, false) => (
            Sanitizer::None,
            Some(
                "--sanitizer address needs the nightly toolchain (`rustup toolchain install nightly`), which does not run here: fuzzing without a sanitizer instead",
            ),
        ),
        (Sanitizer::Address, true) => (
            Sanitizer::Address,
            Some(
                "AddressSanitizer builds on the nightly toolchain (fuzz/target/asan): out-of-bounds accesses and use-after-free in the algorithms' unsafe code abort with ASan's report; per-input leak checks are off (-detect_leaks=0: RCU-deferred frees outlive an input, and libFuzzer's LeakSanitizer re-check of each such input made percpu_ops 2.4x slower), leaks are caught by the structures' own destroy checks and by LeakSanitizer at exit",
            ),
        ),
    }
}

/// Parses one libFuzzer status line (`#123 NEW cov: 3 ft: 4 corp: 5/6b ... exec/s: 7 ...`,
/// or fork mode's `#123: cov: 3 ft: 4 corp: 5 exec/s: 7 oom/timeout/crash: 0/0/1 ...`).
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
                "oom/timeout/crash:" => {
                    st.forked_crashes = w[1]
                        .rsplit('/')
                        .next()
                        .and_then(|x| x.parse().ok())
                        .unwrap_or(st.forked_crashes);
                }
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

/// Most crashes minimized per target and run (each may take `--minimize-secs`); the rest
/// are minimized by later campaigns of the target ([`unminimized`]).
const MAX_MINIMIZED: usize = 3;

/// Fuzzes one target for its whole share. With one job libFuzzer stops at a crash, so after
/// triaging a new one the target is fuzzed again for the time left (at least 5 s, at most
/// [`MAX_RESTARTS`] restarts; a run that only finds known crashes ends it); in fork mode it
/// runs once. The runs' statistics are combined, crashes listed once per title, and new
/// crashes minimized.
fn fuzz_for(ctx: &Ctx<'_>, t: &'static dyn DynTarget, share: u64) -> Result<Stats, CliError> {
    let mut total = Stats::default();
    let mut restarts = 0;
    let mut to_minimize: Vec<(String, PathBuf, PathBuf)> = Vec::new();
    loop {
        let left = share.saturating_sub(total.secs as u64);
        let (st, found) = fuzz_one(ctx, t, left, total.secs)?;
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
        for c in found {
            if !total.crashes.contains(&c.title) {
                total.crashes.push(c.title.clone());
                crashed = true;
            }
            if let (Some(dir), Some(input)) = (c.dir, c.input) {
                if !to_minimize.iter().any(|(title, _, _)| *title == c.title) {
                    to_minimize.push((c.title, dir, input));
                }
            }
        }
        if st.error.is_some() {
            total.error = st.error;
            break;
        }
        let left = share.saturating_sub(total.secs as u64);
        if ctx.jobs > 1 || !crashed || left < 5 || restarts >= MAX_RESTARTS {
            break;
        }
        restarts += 1;
        ctx.progress.say(&format!(
            "mmcheck: {}: restarting after a crash, {left} s left",
            t.name()
        ));
    }
    if let Some(secs) = ctx.minimize {
        // This run's crashes first, then older ones of this target still without a minimized
        // reproducer (left over by the cap of an earlier run), so every crash gets one.
        to_minimize.retain(|(_, dir, _)| Meta::load(dir).is_none_or(|m| m.minimized.is_none()));
        for c in unminimized(&ctx.root.join("crashes"), t.name()) {
            if !to_minimize.iter().any(|(title, _, _)| *title == c.0) {
                to_minimize.push(c);
            }
        }
        for (title, dir, input) in to_minimize.into_iter().take(MAX_MINIMIZED) {
            let msg = match minimize(ctx, t, &dir, &input, &title, secs) {
                Ok(m) => format!("mmcheck: {}: minimized {m}", t.name()),
                Err(e) => {
                    let _ = std::fs::write(dir.join(MINIMIZE_TRIED), format!("{e}\n"));
                    format!("mmcheck: {}: not minimized ({title}): {e}", t.name())
                }
            };
            ctx.progress.say(&msg);
        }
    }
    Ok(total)
}

/// One crash found by a run: its title, and where it was saved.
struct Found {
    title: String,
    /// The crash directory (none if it could not be saved).
    dir: Option<PathBuf>,
    /// The reproducer as saved there.
    input: Option<PathBuf>,
}

/// Fuzzes one target for `secs` (`offset`: seconds this target already ran in this
/// campaign, for the run log's time axis), then triages its raw crashes.
fn fuzz_one(
    ctx: &Ctx<'_>,
    t: &'static dyn DynTarget,
    secs: u64,
    offset: f64,
) -> Result<(Stats, Vec<Found>), CliError> {
    let root = ctx.root;
    let name = t.name();
    let work = root.join("fuzz/corpus").join(name);
    let seeds = root.join("corpus").join(name);
    let raw = root.join("crashes/raw").join(name);
    let logs = root.join("target/campaign").join(name);
    for d in [&work, &raw, &logs] {
        std::fs::create_dir_all(d)
            .map_err(|e| CliError(format!("cannot create {}: {e}", d.display())))?;
    }
    let mut cmd = fuzz_command(root, "run", t, ctx.san);
    cmd.arg(name).arg(&work);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.arg("--")
        .arg(format!("-max_total_time={secs}"))
        .arg(format!("-artifact_prefix={}/", raw.display()))
        .arg("-print_final_stats=1");
    if ctx.san == Sanitizer::Address {
        // See `choose_sanitizer`'s note: the per-input leak check, not ASan, dominated.
        cmd.arg("-detect_leaks=0");
    }
    if ctx.jobs > 1 {
        cmd.arg(format!("-fork={}", ctx.jobs))
            .arg("-ignore_crashes=1");
    }
    cmd.current_dir(root);
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
    let bar = ctx.progress.job(name, secs, ctx.jobs);
    let start = Instant::now();
    let mut last_plain = Instant::now();
    let mut last_sample: Option<Instant> = None;
    let mut st = Stats::default();
    let mut log = Vec::<String>::new();
    // Reports printed by failing inputs, and which artifact each one ended up in.
    let mut report: Option<Vec<String>> = None;
    let mut attributed: Vec<(PathBuf, String, String)> = Vec::new();
    let mut pending: Option<(String, String)> = None;
    loop {
        let disconnected = match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(line) => {
                parse_status(&line, &mut st);
                if ctx.jobs > 1 {
                    // Fork mode's exec/s is the last job's; the campaign's rate is every
                    // worker's executions over the time so far.
                    let el = start.elapsed().as_secs_f64();
                    if el >= 1.0 {
                        st.exec_s = (st.execs as f64 / el) as u64;
                    }
                }
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
                false
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => true,
        };
        let found = (attributed.len() + usize::from(pending.is_some())) as u64;
        let found = found.max(st.forked_crashes);
        if last_sample.is_none_or(|l| l.elapsed() >= Duration::from_secs(2)) && st.execs > 0 {
            last_sample = Some(Instant::now());
            ctx.log.line(
                "sample",
                json!({
                    "target": name,
                    "t": offset + start.elapsed().as_secs_f64(),
                    "execs": st.execs,
                    "exec_s": st.exec_s,
                    "cov": st.cov,
                    "corpus": st.corpus,
                    "crashes": found,
                }),
            );
        }
        let msg = format!("{} execs/s, cov {}, {} crashes", st.exec_s, st.cov, found);
        let el = start.elapsed().as_secs().min(secs);
        if let Some(b) = &bar {
            b.set_position(el);
            b.set_message(msg);
        } else if last_plain.elapsed() >= Duration::from_secs(5) {
            last_plain = Instant::now();
            let jobs = if ctx.jobs > 1 {
                format!(" (fork {})", ctx.jobs)
            } else {
                String::new()
            };
            eprintln!(
                "mmcheck: {name}{jobs}: {el}/{secs}s, {} execs, {msg}",
                st.execs
            );
        }
        if disconnected {
            break;
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
    let log_path = logs.join("libfuzzer.log");
    let _ = std::fs::write(&log_path, log.join("\n") + "\n");
    if ctx.jobs > 1 {
        match merge_corpus(root, name, ctx.san, &work, &raw) {
            Ok((before, after)) => ctx.progress.say(&format!(
                "mmcheck: {name}: corpus merged (-merge=1): {before} -> {after} inputs"
            )),
            Err(e) => ctx
                .progress
                .say(&format!("mmcheck: {name}: corpus not merged: {e}")),
        }
    }
    let disk_corpus = std::fs::read_dir(&work)
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    st.corpus = if ctx.jobs > 1 {
        disk_corpus
    } else {
        st.corpus.max(disk_corpus)
    };
    // A report without an artifact line (a crash in the log of a job): keep it for triage.
    let orphan = pending
        .zip(report)
        .map(|((title, _), r)| (title, r.join("\n") + "\n"));
    let found = triage(ctx, t, &raw, &attributed, orphan.as_ref(), &log);
    st.crashes = found.iter().map(|f| f.title.clone()).collect();
    // Fork mode exits with its last worker's code, which may be a crash it ignored.
    if !status.success() && found.is_empty() && !(ctx.jobs > 1 && st.forked_crashes > 0) {
        st.error = Some(format!(
            "cargo fuzz exited with {status} and no crash artifact (log: {})",
            log_path.display()
        ));
    }
    Ok((st, found))
}

/// `-merge=1` of the working corpus of `name` into a fresh directory that then replaces
/// it: one input per set of features. Returns the input counts before and after.
fn merge_corpus(
    root: &Path,
    name: &str,
    san: Sanitizer,
    work: &Path,
    raw: &Path,
) -> Result<(usize, usize), String> {
    let count = |d: &Path| std::fs::read_dir(d).map_or(0, |r| r.count());
    let bin = fuzz_binary(root, name, san).ok_or("no fuzz binary found")?;
    let merged = work.with_extension("merging");
    let _ = std::fs::remove_dir_all(&merged);
    std::fs::create_dir_all(&merged).map_err(|e| e.to_string())?;
    let mut c = Command::new(&bin);
    c.arg("-merge=1")
        .arg(format!("-artifact_prefix={}/", raw.display()))
        .arg(&merged)
        .arg(work)
        .current_dir(root);
    let out = output_within(&mut c, Duration::from_secs(300)).map_err(|e| e.to_string())?;
    let (before, after) = (count(work), count(&merged));
    if !out.status.success() || (after == 0 && before > 0) {
        let _ = std::fs::remove_dir_all(&merged);
        return Err(format!("the merge exited with {}", out.status));
    }
    let old = work.with_extension("old");
    let _ = std::fs::remove_dir_all(&old);
    std::fs::rename(work, &old).map_err(|e| e.to_string())?;
    std::fs::rename(&merged, work).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&old);
    Ok((before, after))
}

/// Minimizes one crash's reproducer within `secs`: `cargo fuzz tmin` over the bytes, then,
/// for schedule targets, the schedule part cut to the shortest prefix that still fails
/// ([`shrink_schedule`]). A smaller input is kept (as `minimized-<hash>` beside the
/// reproducers) only if it still fails with the same title.
fn minimize(
    ctx: &Ctx<'_>,
    t: &dyn DynTarget,
    dir: &Path,
    input: &Path,
    title: &str,
    secs: u64,
) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let original = std::fs::read(input).map_err(|e| e.to_string())?;
    let probe = dir.join(".probing");
    // What a smaller candidate does, from a run of its own.
    let fails_as = |data: &[u8]| -> Result<(), String> {
        std::fs::write(&probe, data).map_err(|e| e.to_string())?;
        let got = title_of_file(ctx.root, t, ctx.san, &probe);
        let _ = std::fs::remove_file(&probe);
        match got {
            Some((got, _)) if got == title => Ok(()),
            Some((got, _)) => Err(format!("the smaller input fails differently ({got})")),
            None => Err("the smaller input does not fail".into()),
        }
    };
    let mut best = original.clone();
    let mut notes = Vec::new();
    let sched = t.kind() == TargetKind::Schedule;
    // Schedule targets keep a third of the time for the schedule pass.
    match tmin(ctx, t, dir, input, if sched { secs * 2 / 3 } else { secs }) {
        Ok(data) if data.len() < best.len() => match fails_as(&data) {
            Ok(()) => best = data,
            Err(e) => notes.push(e),
        },
        Ok(_) => notes.push(format!(
            "tmin found no input below {} bytes",
            original.len()
        )),
        Err(e) => notes.push(e),
    }
    let mut schedule = String::new();
    if sched {
        if let Some((data, _, _)) = shrink_schedule(&best, |cand| {
            Instant::now() < deadline && fails_as(cand).is_ok()
        }) {
            best = data;
        }
        let len = |d: &[u8]| harness::input::split_input(d).map_or(0, |(_, s)| s.len());
        schedule = format!(
            ", schedule {} -> {} decision bytes (past them the run goes on without preemption)",
            len(&original),
            len(&best)
        );
    }
    if best.len() >= original.len() {
        return Err(format!(
            "no smaller input than {} bytes: {}",
            original.len(),
            notes.join("; ")
        ));
    }
    let name = format!("minimized-{:016x}", fnv1a(&best));
    std::fs::write(dir.join(&name), &best).map_err(|e| e.to_string())?;
    set_minimized(dir, &name).map_err(|e| e.to_string())?;
    Ok(format!(
        "{title}: {} -> {} bytes{schedule} ({})",
        original.len(),
        best.len(),
        crate::rel(ctx.root, &dir.join(&name))
    ))
}

/// `cargo fuzz tmin` on `input` (at most `secs`): the smallest crashing input it wrote.
fn tmin(
    ctx: &Ctx<'_>,
    t: &dyn DynTarget,
    dir: &Path,
    input: &Path,
    secs: u64,
) -> Result<Vec<u8>, String> {
    let out = dir.join(".minimizing");
    let _ = std::fs::remove_file(&out);
    let mut c = fuzz_command(ctx.root, "tmin", t, ctx.san);
    c.args(["-r", "1000"])
        .arg(t.name())
        .arg(input)
        .arg("--")
        .arg(format!("-exact_artifact_path={}", out.display()))
        .current_dir(ctx.root);
    // A run cut short by the time limit may still have left a smaller crashing input.
    let _ = output_within(&mut c, Duration::from_secs(secs));
    let data = std::fs::read(&out).map_err(|_| "tmin produced no input".to_string());
    let _ = std::fs::remove_file(&out);
    data
}

/// A schedule target's input (`[n_lo, n_hi] ++ scenario ++ schedule`) with its schedule
/// cut to the shortest prefix for which `fails` holds, found by bisection (the full
/// schedule is known to fail; each probe that fails lowers the bound). Past the end of its
/// schedule bytes a run continues the current task without preemption, so a shorter
/// schedule is one with fewer preemptions. Returns the input and the schedule lengths
/// before and after, or `None` if no shorter schedule fails (or the input is not framed).
fn shrink_schedule(
    data: &[u8],
    mut fails: impl FnMut(&[u8]) -> bool,
) -> Option<(Vec<u8>, usize, usize)> {
    let (scenario, schedule) = harness::input::split_input(data).ok()?;
    let with = |k: usize| harness::input::join_input(scenario, &schedule[..k]);
    let (mut lo, mut hi) = (0, schedule.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fails(&with(mid)) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    (hi < schedule.len()).then(|| (with(hi), schedule.len(), hi))
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
    san: Sanitizer,
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
    title_of_file(root, t, san, file)
}

/// Runs `file` to learn its failure's title and report, in a separate process so that an
/// input that aborts (a panic while panicking, a sanitizer report) cannot take the campaign
/// down: the fuzz binary itself on that one input (the exact code and build that found it),
/// else `cargo fuzz run`. `None` if it does not fail with a report.
fn title_of_file(
    root: &Path,
    t: &dyn DynTarget,
    san: Sanitizer,
    file: &Path,
) -> Option<(String, String)> {
    let mut c = match fuzz_binary(root, t.name(), san) {
        Some(bin) => {
            let mut c = Command::new(bin);
            c.arg(file);
            c
        }
        None => {
            let mut c = fuzz_command(root, "run", t, san);
            c.arg(t.name()).arg(file);
            c
        }
    };
    let out = output_within(c.current_dir(root), Duration::from_secs(300)).ok()?;
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

/// Saves every file of `raw` under `crashes/`, removing a raw file only once it is saved,
/// and records each in the run log. Returns what was found (one per file).
fn triage(
    ctx: &Ctx<'_>,
    t: &dyn DynTarget,
    raw: &Path,
    attributed: &[(PathBuf, String, String)],
    orphan: Option<&(String, String)>,
    log: &[String],
) -> Vec<Found> {
    let files: Vec<PathBuf> = match std::fs::read_dir(raw) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect(),
        Err(e) => {
            ctx.progress.say(&format!(
                "mmcheck: cannot read {}: {e}; raw crashes left in place",
                raw.display()
            ));
            return Vec::new();
        }
    };
    let root = ctx.root;
    let mut found = Vec::new();
    for f in &files {
        let fname = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let Ok(data) = std::fs::read(f) else {
            eprintln!("mmcheck: cannot read {}; left in place", f.display());
            found.push(Found {
                title: format!("UNREADABLE {fname}"),
                dir: None,
                input: None,
            });
            continue;
        };
        let input_name = format!(
            "input-{}",
            fname
                .strip_prefix("crash-")
                .map_or_else(|| format!("{:016x}", fnv1a(&data)), str::to_string)
        );
        let titled = title_of(root, t, ctx.san, f, attributed, orphan, files.len());
        let (dir, report, title) = match titled {
            Some((title, rep)) => (root.join("crashes").join(title_hash(&title)), rep, title),
            None => {
                let dir = root
                    .join("crashes")
                    .join(format!("untriaged-{}-{fname}", t.name()));
                let rep = untriaged_report(t.name(), &fname, data.is_empty(), log);
                (dir, rep, format!("untriaged {fname}"))
            }
        };
        match save_crash(&dir, &title, t.name(), Some((&input_name, &data)), &report) {
            Ok(saved) => {
                // Only now is the raw file redundant.
                if std::fs::read(dir.join(&input_name)).is_ok_and(|d| d == data) {
                    let _ = std::fs::remove_file(f);
                }
                let new = if saved.new_title {
                    "new"
                } else {
                    "seen before"
                };
                ctx.progress.say(&format!(
                    "mmcheck: {}: {title} ({new}, {} sightings) -> {}",
                    t.name(),
                    saved.meta.count,
                    dir.display()
                ));
                ctx.log.line(
                    "crash",
                    json!({
                        "target": t.name(),
                        "title": title,
                        "hash": saved.meta.hash,
                        "new": saved.new_title,
                    }),
                );
                let titled = !title.starts_with("untriaged ");
                found.push(Found {
                    title,
                    input: titled.then(|| dir.join(&input_name)),
                    dir: Some(dir),
                });
            }
            Err(e) => {
                ctx.progress.say(&format!(
                    "mmcheck: cannot save {} to {}: {e}; left in place",
                    f.display(),
                    dir.display()
                ));
                found.push(Found {
                    title,
                    dir: None,
                    input: None,
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schedule pass keeps the scenario and cuts the schedule to the shortest prefix
    /// that still fails; a schedule whose every prefix passes is left alone.
    #[test]
    fn shrink_schedule_cuts_to_the_shortest_failing_prefix() {
        let scenario = b"ops".to_vec();
        let schedule: Vec<u8> = (10..40).collect();
        let input = harness::input::join_input(&scenario, &schedule);
        // Fails once the schedule holds the decision byte 17 (its 8th byte).
        let mut probes = 0;
        let (small, from, to) = shrink_schedule(&input, |cand| {
            probes += 1;
            let (sc, sch) = harness::input::split_input(cand).unwrap();
            assert_eq!(sc, &scenario[..]);
            sch.contains(&17)
        })
        .expect("a shorter schedule fails");
        assert_eq!((from, to), (30, 8));
        assert_eq!(small, harness::input::join_input(&scenario, &schedule[..8]));
        assert!(probes <= 5, "bisection, not a walk: {probes} probes");
        // Failing regardless of the schedule: no schedule at all.
        let (small, _, to) = shrink_schedule(&input, |_| true).unwrap();
        assert_eq!((to, small), (0, harness::input::join_input(&scenario, &[])));
        // Only the full schedule fails: nothing to cut; an unframed input is not touched.
        assert_eq!(shrink_schedule(&input, |c| c.len() == input.len()), None);
        assert_eq!(shrink_schedule(&[0xff, 0xff, 1], |_| true), None);
    }

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
    fn address_sanitizer_falls_back_without_nightly() {
        assert_eq!(
            choose_sanitizer(Sanitizer::None, false),
            (Sanitizer::None, None)
        );
        let (s, note) = choose_sanitizer(Sanitizer::Address, false);
        assert_eq!(s, Sanitizer::None);
        assert!(note.is_some_and(|n| n.contains("nightly")), "{note:?}");
        let (s, note) = choose_sanitizer(Sanitizer::Address, true);
        assert_eq!(s, Sanitizer::Address);
        assert!(note.is_some());
    }

    #[test]
    fn fork_mode_status_lines_are_parsed() {
        let mut st = Stats::default();
        parse_status(
            "#10028: cov: 1466 ft: 7065 corp: 492 exec/s: 206 oom/timeout/crash: 0/0/3 time: 21s job: 7 dft_time: 0",
            &mut st,
        );
        assert_eq!(
            (st.execs, st.cov, st.corpus, st.exec_s, st.forked_crashes),
            (10028, 1466, 492, 206, 3)
        );
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
