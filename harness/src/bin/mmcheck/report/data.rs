//! Reading what the report shows: campaign run logs, saved crashes, coverage summaries, the
//! planted-bug matrix and saved simulator results. Every reader is tolerant: a missing file
//! or directory is an empty result, a malformed line or field is skipped (and counted where
//! the page says so), never an error.

use super::json::{self, Fields, Value};
use harness::sim::Outcome;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// One progress sample of one target in one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Seconds since the target's share started.
    pub t: f64,
    /// Executions so far.
    pub execs: u64,
    /// Executions per second at the time.
    pub exec_s: f64,
    /// Coverage (libFuzzer's `cov`).
    pub cov: u64,
    /// Corpus size (inputs).
    pub corpus: u64,
    /// Crashes found so far.
    pub crashes: u64,
}

/// How one target's share of a run ended (the run log's `target` line).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetEnd {
    /// Seconds fuzzed.
    pub secs: f64,
    /// Executions in all.
    pub execs: u64,
    /// Executions per second over the share.
    pub exec_s: f64,
    /// Final coverage.
    pub cov: u64,
    /// Final corpus size.
    pub corpus: u64,
    /// libFuzzer jobs.
    pub jobs: Option<u64>,
    /// Titles of the crashes found.
    pub crashes: Vec<String>,
    /// Why the target's run failed, if it did.
    pub error: Option<String>,
}

/// A crash event of a run log (`crash` line).
#[derive(Clone, Debug, PartialEq)]
pub struct CrashEvent {
    /// The target it was found on.
    pub target: String,
    /// Its title.
    pub title: String,
    /// The title hash (the `crashes/` directory name).
    pub hash: String,
    /// `true` if the title was not in `crashes/` before.
    pub new: bool,
}

/// One `mmcheck campaign` run, from `campaigns/runs/<run-id>.jsonl`.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// The run id (the `start` line's `run`, else the file's stem).
    pub id: String,
    /// Start time, unix seconds.
    pub start: Option<i64>,
    /// End time, unix seconds (`None`: no `end` line, the run stopped early or is running).
    pub end: Option<i64>,
    /// libFuzzer jobs per target.
    pub jobs: Option<u64>,
    /// Targets fuzzed at once.
    pub parallel: Option<u64>,
    /// The sanitizer.
    pub sanitizer: Option<String>,
    /// Seconds per target.
    pub secs_per_target: Option<f64>,
    /// The targets in the order the run names them (those only seen in later lines after).
    pub targets: Vec<String>,
    /// Samples per target, in time order.
    pub samples: BTreeMap<String, Vec<Sample>>,
    /// How each finished target ended.
    pub ends: BTreeMap<String, TargetEnd>,
    /// Crash events.
    pub crashes: Vec<CrashEvent>,
    /// Lines that could not be read (malformed or truncated).
    pub bad_lines: usize,
}

impl Run {
    /// Parses a run log's text; `stem` names the run if no `start` line does.
    pub fn parse(stem: &str, text: &str) -> Run {
        let (lines, bad) = json::parse_lines(text);
        let mut r = Run {
            id: stem.to_string(),
            bad_lines: bad,
            ..Run::default()
        };
        let mut named = false;
        for v in &lines {
            let target = v.str_of("target").map(str::to_string);
            match v.str_of("kind") {
                Some("start") => {
                    if let Some(id) = v.str_of("run").filter(|s| !s.is_empty()) {
                        if !named {
                            r.id = id.to_string();
                            named = true;
                        }
                    }
                    r.start = v.f64_of("time").map(|t| t as i64);
                    r.jobs = v.u64_of("jobs");
                    r.parallel = v.u64_of("parallel");
                    r.sanitizer = v.str_of("sanitizer").map(str::to_string);
                    r.secs_per_target = v.f64_of("secs_per_target");
                    for t in v.strs_of("targets") {
                        r.add_target(&t);
                    }
                }
                Some("sample") => {
                    let (Some(target), Some(t)) = (target, v.f64_of("t")) else {
                        continue;
                    };
                    r.add_target(&target);
                    r.samples.entry(target).or_default().push(Sample {
                        t,
                        execs: v.u64_of("execs").unwrap_or(0),
                        exec_s: v.f64_of("exec_s").unwrap_or(0.0),
                        cov: v.u64_of("cov").unwrap_or(0),
                        corpus: v.u64_of("corpus").unwrap_or(0),
                        crashes: v.u64_of("crashes").unwrap_or(0),
                    });
                }
                Some("target") => {
                    let Some(target) = target else { continue };
                    r.add_target(&target);
                    r.ends.insert(
                        target,
                        TargetEnd {
                            secs: v.f64_of("secs").unwrap_or(0.0),
                            execs: v.u64_of("execs").unwrap_or(0),
                            exec_s: v.f64_of("exec_s").unwrap_or(0.0),
                            cov: v.u64_of("cov").unwrap_or(0),
                            corpus: v.u64_of("corpus").unwrap_or(0),
                            jobs: v.u64_of("jobs"),
                            crashes: v.strs_of("crashes"),
                            error: v.str_of("error").map(str::to_string),
                        },
                    );
                }
                Some("crash") => {
                    let (Some(target), Some(title)) = (target, v.str_of("title")) else {
                        continue;
                    };
                    r.crashes.push(CrashEvent {
                        target,
                        title: title.to_string(),
                        hash: v.str_of("hash").unwrap_or("").to_string(),
                        new: v.get("new").and_then(Value::as_bool).unwrap_or(false),
                    });
                }
                Some("end") => r.end = v.f64_of("time").map(|t| t as i64),
                _ => {}
            }
        }
        for s in r.samples.values_mut() {
            s.sort_by(|a, b| a.t.total_cmp(&b.t));
        }
        r
    }

    fn add_target(&mut self, t: &str) {
        if !self.targets.iter().any(|x| x == t) {
            self.targets.push(t.to_string());
        }
    }

    /// The final numbers of `target`: its `target` line, else its last sample.
    pub fn final_of(&self, target: &str) -> Option<TargetEnd> {
        if let Some(e) = self.ends.get(target) {
            return Some(e.clone());
        }
        let s = self.samples.get(target)?.last()?;
        Some(TargetEnd {
            secs: s.t,
            execs: s.execs,
            exec_s: s.exec_s,
            cov: s.cov,
            corpus: s.corpus,
            ..TargetEnd::default()
        })
    }
}

/// The run logs of `root/campaigns/runs/`, the `last` most recent ones (by file name, which
/// sorts by time), oldest first; and how many there are in all.
pub fn load_runs(root: &Path, last: usize) -> (Vec<Run>, usize) {
    let dir = root.join("campaigns/runs");
    let mut files: Vec<PathBuf> = list_dir(&dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl") && p.is_file())
        .collect();
    files.sort();
    let total = files.len();
    let from = total.saturating_sub(last);
    let runs = files[from..]
        .iter()
        .map(|p| {
            let stem = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Run::parse(&stem, &read_lossy(p).unwrap_or_default())
        })
        .collect();
    (runs, total)
}

/// A saved crash: one directory of `crashes/`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Crash {
    /// The directory.
    pub dir: PathBuf,
    /// The title (`None` for an untriaged crash).
    pub title: Option<String>,
    /// The title hash (the directory name for an untriaged crash).
    pub hash: String,
    /// The targets it was found on.
    pub targets: Vec<String>,
    /// Times seen.
    pub count: u64,
    /// First seen, unix seconds.
    pub first_seen: Option<i64>,
    /// Last seen, unix seconds.
    pub last_seen: Option<i64>,
    /// Reproducer file names (in `dir`).
    pub reproducers: Vec<String>,
    /// The minimized reproducer's file name (in `dir`), if there is one.
    pub minimized: Option<String>,
    /// The first lines of the first report.
    pub report_head: Vec<String>,
    /// How many lines the first report has.
    pub report_lines: usize,
    /// `true` if the directory has a readable `meta.json`.
    pub has_meta: bool,
}

/// Lines of a report the page shows.
pub const REPORT_HEAD_LINES: usize = 30;

impl Crash {
    /// Reads one crash directory: `meta.json` where present (any field it lacks is taken
    /// from the files, as for an older directory without one), else `report.txt`'s
    /// `MMCHECK-TITLE:` line, the `target` file, the `input-*`/`chunks-*` files and the
    /// directory's modification time.
    pub fn read(dir: &Path) -> Crash {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let untriaged = name.starts_with("untriaged-");
        let report = read_lossy(&dir.join("report.txt")).unwrap_or_default();
        let lines: Vec<&str> = report.lines().collect();
        let has_meta = read_lossy(&dir.join("meta.json"))
            .and_then(|t| json::parse(&t).ok())
            .is_some_and(|v| v.is_object());
        // The campaign's own reading of a crash directory (meta.json, or reconstructed from
        // the files of an older one): one definition of what a crash record is.
        let meta = crate::crashes::Meta::load(dir);
        let repro_files = || -> Vec<String> {
            let mut v: Vec<String> = list_dir(dir)
                .iter()
                .filter(|p| p.is_file())
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .filter(|n| n.starts_with("input-") || n.starts_with("chunks-"))
                .collect();
            v.sort();
            v
        };
        let mtime = std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64);
        let head = lines
            .iter()
            .take(REPORT_HEAD_LINES)
            .map(|l| l.to_string())
            .collect();
        match meta {
            Some(m) => Crash {
                dir: dir.to_path_buf(),
                title: (!untriaged).then(|| m.title.clone()),
                hash: if untriaged { name } else { m.hash.clone() },
                targets: m.targets.clone(),
                count: m.count,
                first_seen: Some(m.first_seen as i64),
                last_seen: Some(m.last_seen as i64),
                reproducers: m.reproducers.clone(),
                minimized: m.minimized.clone(),
                report_head: head,
                report_lines: lines.len(),
                has_meta,
            },
            None => {
                let reproducers = repro_files();
                Crash {
                    dir: dir.to_path_buf(),
                    title: None,
                    hash: name,
                    targets: read_lossy(&dir.join("target"))
                        .map(|t| t.trim().to_string())
                        .filter(|t| !t.is_empty())
                        .into_iter()
                        .collect(),
                    count: reproducers.len() as u64,
                    first_seen: mtime,
                    last_seen: mtime,
                    reproducers,
                    minimized: None,
                    report_head: head,
                    report_lines: lines.len(),
                    has_meta,
                }
            }
        }
    }

    /// `true` for an `untriaged-*` directory (no title could be determined).
    pub fn untriaged(&self) -> bool {
        self.title.is_none()
    }
}

/// Every crash directory of `root/crashes/` (not `crashes/raw/`, libFuzzer's unsorted
/// artifacts), titled ones by title, then the untriaged ones by name.
pub fn load_crashes(root: &Path) -> Vec<Crash> {
    let mut out: Vec<Crash> = list_dir(&root.join("crashes"))
        .into_iter()
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "raw"))
        .map(|p| Crash::read(&p))
        .collect();
    out.sort_by(|a, b| (a.untriaged(), &a.title, &a.hash).cmp(&(b.untriaged(), &b.title, &b.hash)));
    out
}

/// One file's line coverage.
#[derive(Clone, Debug, PartialEq)]
pub struct FileCoverage {
    /// The source file, relative to the repository root.
    pub file: String,
    /// Lines that count.
    pub lines: u64,
    /// Lines covered.
    pub covered: u64,
    /// The target whose run covered the most of it.
    pub best_target: String,
    /// How many targets' summaries name this file.
    pub targets: usize,
}

impl FileCoverage {
    /// `covered / lines` (0 for a file without lines).
    pub fn fraction(&self) -> f64 {
        if self.lines == 0 {
            0.0
        } else {
            (self.covered as f64 / self.lines as f64).min(1.0)
        }
    }
}

/// One target's coverage summary, `campaigns/coverage/<target>.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct CoverageSummary {
    /// The target.
    pub target: String,
    /// When it was measured, unix seconds.
    pub time: Option<i64>,
    /// Per file: (file, lines, covered).
    pub files: Vec<(String, u64, u64)>,
}

/// The coverage summaries of `root/campaigns/coverage/` (unreadable ones skipped, counted).
pub fn load_coverage(root: &Path) -> (Vec<CoverageSummary>, usize) {
    let mut files: Vec<PathBuf> = list_dir(&root.join("campaigns/coverage"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
        .collect();
    files.sort();
    let mut out = Vec::new();
    let mut bad = 0;
    for p in files {
        let Some(v) = read_lossy(&p).and_then(|t| json::parse(&t).ok()) else {
            bad += 1;
            continue;
        };
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let list = v
            .get("files")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        out.push(CoverageSummary {
            target: v.str_of("target").map_or(stem, str::to_string),
            time: v.f64_of("time").map(|t| t as i64),
            files: list
                .iter()
                .filter_map(|f| {
                    Some((
                        f.str_of("file")?.to_string(),
                        f.u64_of("lines")?,
                        f.u64_of("covered")?,
                    ))
                })
                .collect(),
        });
    }
    (out, bad)
}

/// Per file across every summary: the target that covered the largest fraction of it, with
/// that target's counts. Sorted by file.
pub fn aggregate_coverage(summaries: &[CoverageSummary]) -> Vec<FileCoverage> {
    let mut by_file: BTreeMap<&str, FileCoverage> = BTreeMap::new();
    for s in summaries {
        for (file, lines, covered) in &s.files {
            let cand = FileCoverage {
                file: file.clone(),
                lines: *lines,
                covered: (*covered).min(*lines),
                best_target: s.target.clone(),
                targets: 1,
            };
            match by_file.get_mut(file.as_str()) {
                None => {
                    by_file.insert(file, cand);
                }
                Some(cur) => {
                    let n = cur.targets + 1;
                    if cand.fraction() > cur.fraction() {
                        *cur = cand;
                    }
                    cur.targets = n;
                }
            }
        }
    }
    by_file.into_values().collect()
}

/// One cell of the planted-bug matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixCell {
    /// The algorithm (`mutants/<algo>/`).
    pub algo: String,
    /// The planted bug.
    pub mutant: String,
    /// The engine cell (`test`, `loom`, `fuzz:<target>`, ...).
    pub engine: String,
    /// Whether the engine caught it.
    pub caught: bool,
    /// Seconds to catch it (or spent missing it).
    pub secs: f64,
    /// The failure's title when caught.
    pub title: Option<String>,
    /// Why the cell could not run, if it could not.
    pub error: Option<String>,
}

/// The cells of `mutants/matrix.jsonl` (`None` if the file is missing), a later line for the
/// same (algo, mutant, engine) replacing an earlier one; and the unreadable lines.
pub fn load_matrix(root: &Path) -> Option<(Vec<MatrixCell>, usize)> {
    let text = read_lossy(&root.join("mutants/matrix.jsonl"))?;
    let (lines, mut bad) = json::parse_lines(&text);
    let mut cells: Vec<MatrixCell> = Vec::new();
    for v in lines {
        let (Some(algo), Some(mutant), Some(engine)) =
            (v.str_of("algo"), v.str_of("mutant"), v.str_of("engine"))
        else {
            bad += 1;
            continue;
        };
        let cell = MatrixCell {
            algo: algo.to_string(),
            mutant: mutant.to_string(),
            engine: engine.to_string(),
            caught: v.get("caught").and_then(Value::as_bool).unwrap_or(false),
            secs: v.f64_of("secs").unwrap_or(0.0),
            title: v.str_of("title").map(str::to_string),
            error: v.str_of("error").map(str::to_string),
        };
        match cells
            .iter_mut()
            .find(|c| c.algo == cell.algo && c.mutant == cell.mutant && c.engine == cell.engine)
        {
            Some(c) => *c = cell,
            None => cells.push(cell),
        }
    }
    Some((cells, bad))
}

/// Saved simulator results: `root/campaigns/sim/*.jsonl`, each a file name and its outcomes
/// (lines as `mmcheck sim --json` prints them), with the unreadable lines counted.
pub fn load_sim_files(root: &Path) -> Vec<(String, Vec<Outcome>, usize)> {
    let mut files: Vec<PathBuf> = list_dir(&root.join("campaigns/sim"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl") && p.is_file())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (lines, mut bad) = json::parse_lines(&read_lossy(p).unwrap_or_default());
            let mut outcomes = Vec::new();
            for v in lines {
                match (
                    v.str_of("policy"),
                    v.u64_of("frames"),
                    v.u64_of("accesses"),
                    v.u64_of("misses"),
                ) {
                    (Some(policy), Some(frames), Some(accesses), Some(misses)) if frames > 0 => {
                        outcomes.push(Outcome {
                            policy: policy.to_string(),
                            frames: frames as usize,
                            accesses,
                            misses: misses.min(accesses),
                        })
                    }
                    _ => bad += 1,
                }
            }
            (name, outcomes, bad)
        })
        .collect()
}

/// The entries of `dir` (empty if it cannot be read).
fn list_dir(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// A file's text, invalid UTF-8 replaced (`None` if it cannot be read).
fn read_lossy(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}
