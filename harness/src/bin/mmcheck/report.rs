//! `mmcheck report`: one self-contained HTML page (inline CSS and SVG, a few lines of script
//! for a self-check, nothing fetched) of what the campaigns, the crash triage, coverage, the
//! planted-bug matrix and the page-cache simulator have recorded:
//!
//! - campaign runs (`campaigns/runs/<run-id>.jsonl`, one per `mmcheck campaign`): a table of
//!   the runs, per target execs/s and coverage over time (a line per run, so runs of
//!   different days compare), bar charts of each run's final execs/s and corpus size;
//! - crashes (`crashes/<hash>/`, with or without `meta.json`): a table by title with links to
//!   the reproducers and the start of the report;
//! - the planted-bug matrix (`mutants/matrix.jsonl`): mutant × engine, time to catch;
//! - coverage per algorithm file (`campaigns/coverage/<target>.json`);
//! - miss-ratio curves: small generated workloads simulated now with [`harness::sim`], and
//!   saved results (`campaigns/sim/*.jsonl`).
//!
//! A missing input is no error: its section says which command produces it.

mod chart;
mod data;
mod json;

use crate::{repo_root, CliError, CliResult};
use chart::Series;
use data::{Crash, MatrixCell, Run};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

/// Arguments of `mmcheck report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Where to write the page (default: `campaigns/report.html` in the repository).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Runs no simulation: the miss-ratio section shows only saved `campaigns/sim/*.jsonl`.
    #[arg(long)]
    pub no_sim: bool,
    /// How many of the most recent campaign runs to chart.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub runs: u64,
}

/// The generated workloads of the miss-ratio section and their cache sizes (page frames):
/// a few seconds of simulation for every policy.
pub const WORKLOADS: &[(&str, &[usize])] = &[
    (
        "zipf:pages=5000,alpha=0.9,len=300000",
        &[100, 250, 500, 1000, 2000, 4000],
    ),
    (
        "mix:pages=2000,alpha=0.9,len=300000,scan=3000,every=8000",
        &[50, 100, 250, 500, 1000, 2000],
    ),
];

/// The section titles, in page order (`<h2>` text; the browser test looks for each).
pub const SECTIONS: &[(&str, &str)] = &[
    ("runs", "Campaign runs"),
    ("over-time", "Execs/s and coverage over time"),
    ("final", "Final execs/s and corpus size"),
    ("crashes", "Crashes"),
    ("matrix", "Planted-bug matrix"),
    ("coverage", "Coverage per algorithm file"),
    ("sim", "Miss-ratio curves (page-cache simulator)"),
];

/// Writes the report and prints its path.
pub fn run(a: &ReportArgs) -> CliResult {
    let root = repo_root()?;
    let out = match &a.out {
        Some(p) => p.clone(),
        None => root.join("campaigns/report.html"),
    };
    let out_dir = check_out(&out)?;
    let inputs = Inputs {
        root: root.clone(),
        out_dir,
        runs: a.runs as usize,
        sim: !a.no_sim,
    };
    let html = build(&inputs)?;
    write_out(&out, &html)?;
    println!("{}", out.display());
    Ok(0)
}

/// What one page is built from.
struct Inputs {
    root: PathBuf,
    /// The page's directory (absolute), for relative links.
    out_dir: PathBuf,
    runs: usize,
    sim: bool,
}

/// Checks, before any work, that `out` can be written: its directory is made if missing, and
/// a scratch file is created and removed there. Returns the directory, absolute.
fn check_out(out: &Path) -> Result<PathBuf, CliError> {
    if out.is_dir() {
        bail!("--out {} is a directory, not a file", out.display());
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| CliError(format!("cannot create {}: {e}", parent.display())))?;
    let probe = parent.join(format!(".mmcheck-report-{}.tmp", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| CliError(format!("cannot write in {}: {e}", parent.display())))?;
    let _ = std::fs::remove_file(&probe);
    std::fs::canonicalize(&parent)
        .map_err(|e| CliError(format!("cannot resolve {}: {e}", parent.display())))
}

/// Writes `html` to a scratch file beside `out`, then renames it over `out`, so a reader
/// never sees half a page.
fn write_out(out: &Path, html: &str) -> Result<(), CliError> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report.html".into());
    let tmp = out.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, html)
        .map_err(|e| CliError(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, out).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError(format!("cannot write {}: {e}", out.display()))
    })
}

/// The page being written: its HTML and the number of charts in it.
#[derive(Default)]
struct Page {
    html: String,
    charts: usize,
}

impl Page {
    fn push(&mut self, s: &str) {
        self.html.push_str(s);
    }

    /// A chart under its `<h3>` heading.
    fn chart(&mut self, title: &str, svg: &str) {
        let _ = write!(
            self.html,
            "<figure><h3>{}</h3>\n{svg}</figure>\n",
            esc(title)
        );
        self.charts += 1;
    }

    /// A paragraph saying what is missing and how to get it.
    fn missing(&mut self, what: &str) {
        let _ = writeln!(self.html, "<p class=\"missing\">{what}</p>");
    }

    fn section(&mut self, id: &str) {
        let title = SECTIONS
            .iter()
            .find(|(i, _)| *i == id)
            .map_or(id, |(_, t)| t);
        let _ = writeln!(self.html, "<section id=\"{id}\"><h2>{}</h2>", esc(title));
    }

    fn end_section(&mut self) {
        self.push("</section>\n");
    }
}

/// Builds the whole page.
fn build(inp: &Inputs) -> Result<String, CliError> {
    let (runs, total_runs) = data::load_runs(&inp.root, inp.runs);
    let mut p = Page::default();
    runs_section(&mut p, &runs, total_runs);
    over_time_section(&mut p, &runs);
    final_section(&mut p, &runs);
    crashes_section(&mut p, &data::load_crashes(&inp.root), inp);
    matrix_section(&mut p, &inp.root);
    coverage_section(&mut p, &inp.root);
    sim_section(&mut p, &inp.root, inp.sim)?;

    let now = crate::crashes::now_secs() as i64;
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str("<title>mmcheck report</title>\n<link rel=\"icon\" href=\"data:,\">\n");
    let _ = writeln!(h, "<style>{CSS}</style>\n</head>\n<body>");
    let _ = writeln!(
        h,
        "<header><h1>mmcheck report</h1><p class=\"meta\">Written {} from <code>{}</code>.</p>",
        utc(now),
        esc(&inp.root.display().to_string())
    );
    h.push_str("<nav>");
    for (id, title) in SECTIONS {
        let _ = write!(h, "<a href=\"#{id}\">{}</a> ", esc(title));
    }
    h.push_str("</nav>\n");
    let _ = writeln!(
        h,
        "<div id=\"selfcheck\" data-expected=\"{}\" data-charts=\"\" data-ok=\"\">self-check did not run (scripts disabled?)</div></header>",
        p.charts
    );
    h.push_str(&p.html);
    let _ = writeln!(h, "<script>{SELF_CHECK}</script>\n</body>\n</html>");
    Ok(h)
}

fn runs_section(p: &mut Page, runs: &[Run], total: usize) {
    p.section("runs");
    if runs.is_empty() {
        p.missing(
            "No campaign runs yet (no <code>campaigns/runs/*.jsonl</code>) — run <code>mmcheck campaign</code>.",
        );
        p.end_section();
        return;
    }
    let _ = writeln!(
        p.html,
        "<p>The {} most recent of {total} runs (<code>campaigns/runs/</code>; <code>--runs N</code> charts more or fewer).</p>",
        runs.len()
    );
    p.push("<table><tr><th>run</th><th>started (UTC)</th><th>wall time</th><th>targets</th><th>s/target</th><th>jobs</th><th>parallel</th><th>sanitizer</th><th>crash titles (new)</th><th>failed targets</th></tr>\n");
    for r in runs.iter().rev() {
        let failed: Vec<&str> = r
            .ends
            .iter()
            .filter(|(_, e)| e.error.is_some())
            .map(|(t, _)| t.as_str())
            .collect();
        let new = r.crashes.iter().filter(|c| c.new).count();
        let wall = match (r.start, r.end) {
            (Some(s), Some(e)) if e >= s => duration(e - s),
            (Some(_), None) => "unfinished".to_string(),
            _ => "?".to_string(),
        };
        let opt = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
        let _ = writeln!(
            p.html,
            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{wall}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({new})</td><td>{}</td></tr>",
            esc(&r.id),
            if r.bad_lines > 0 {
                format!(
                    " <span class=\"warn\" title=\"unreadable lines skipped\">({} bad lines)</span>",
                    r.bad_lines
                )
            } else {
                String::new()
            },
            r.start.map_or("?".to_string(), utc),
            r.targets.len(),
            r.secs_per_target.map_or("?".to_string(), |s| format!("{s:.0}")),
            opt(r.jobs),
            opt(r.parallel),
            esc(r.sanitizer.as_deref().unwrap_or("?")),
            r.crashes.len(),
            if failed.is_empty() {
                "none".to_string()
            } else {
                esc(&failed.join(", "))
            }
        );
    }
    p.push("</table>\n");
    let errors: Vec<(&str, &str, &str)> = runs
        .iter()
        .flat_map(|r| {
            r.ends.iter().filter_map(|(t, e)| {
                e.error
                    .as_deref()
                    .map(|err| (r.id.as_str(), t.as_str(), err))
            })
        })
        .collect();
    if !errors.is_empty() {
        p.push("<details><summary>Target errors</summary><ul>\n");
        for (run, t, e) in errors {
            let _ = writeln!(
                p.html,
                "<li><code>{}</code> {}: {}</li>",
                esc(run),
                esc(t),
                esc(e)
            );
        }
        p.push("</ul></details>\n");
    }
    p.end_section();
}

/// The targets of `runs`, in the order they first appear.
fn all_targets(runs: &[Run]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in runs {
        for t in &r.targets {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
    }
    out
}

/// At most this many points per line (evenly thinned, the last one kept).
const MAX_POINTS: usize = 400;

fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let stride = points.len().div_ceil(MAX_POINTS);
    let last = points.len() - 1;
    points
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % stride == 0 || *i == last)
        .map(|(_, p)| p)
        .collect()
}

fn over_time_section(p: &mut Page, runs: &[Run]) {
    p.section("over-time");
    if runs.is_empty() {
        p.missing("No campaign runs yet — run <code>mmcheck campaign</code>; each run logs a sample per target every few seconds.");
        p.end_section();
        return;
    }
    p.push("<p>x: seconds since the target's share of the run started, so runs of different days line up; one line per run.</p>\n");
    for t in all_targets(runs) {
        let series = |f: fn(&data::Sample) -> f64| -> Vec<Series> {
            runs.iter()
                .filter_map(|r| {
                    let s = r.samples.get(&t).filter(|s| !s.is_empty())?;
                    Some(Series {
                        name: r.id.clone(),
                        points: thin(s.iter().map(|s| (s.t, f(s))).collect()),
                    })
                })
                .collect()
        };
        let execs = series(|s| s.exec_s);
        if execs.is_empty() {
            let _ = writeln!(
                p.html,
                "<h3>{}</h3><p class=\"missing\">No samples of {} in these runs.</p>",
                esc(&t),
                esc(&t)
            );
            continue;
        }
        let cov = series(|s| s.cov as f64);
        p.push("<div class=\"row\">\n");
        let title = format!("{t}: execs/s over time");
        let svg = chart::line_chart(
            &title,
            "seconds since the target's start",
            "execs/s",
            &execs,
        );
        p.chart(&title, &svg);
        let title = format!("{t}: coverage over time");
        let svg = chart::line_chart(
            &title,
            "seconds since the target's start",
            "coverage (cov)",
            &cov,
        );
        p.chart(&title, &svg);
        p.push("</div>\n");
    }
    p.end_section();
}

fn final_section(p: &mut Page, runs: &[Run]) {
    p.section("final");
    let targets = all_targets(runs);
    if targets.is_empty() {
        p.missing("No campaign runs yet — run <code>mmcheck campaign</code>.");
        p.end_section();
        return;
    }
    let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
    let table = |f: fn(&data::TargetEnd) -> f64| -> Vec<Vec<Option<f64>>> {
        targets
            .iter()
            .map(|t| runs.iter().map(|r| r.final_of(t).as_ref().map(f)).collect())
            .collect()
    };
    let execs = table(|e| e.exec_s);
    if execs.iter().flatten().all(Option::is_none) {
        p.missing("These runs have no sample or finished target yet.");
    } else {
        let title = "final execs/s per target and run";
        let svg = chart::bar_chart(title, "target", "execs/s", &targets, &ids, &execs);
        p.chart(title, &svg);
        let title = "corpus size per target and run";
        let svg = chart::bar_chart(
            title,
            "target",
            "corpus (inputs)",
            &targets,
            &ids,
            &table(|e| e.corpus as f64),
        );
        p.chart(title, &svg);
    }
    if let Some(last) = runs.last() {
        let _ = writeln!(
            p.html,
            "<h3>Latest run, <code>{}</code></h3>",
            esc(&last.id)
        );
        p.push("<table><tr><th>target</th><th>secs</th><th>execs</th><th>execs/s</th><th>cov</th><th>corpus</th><th>crashes</th><th>error</th></tr>\n");
        for t in &last.targets {
            let Some(e) = last.final_of(t) else {
                let _ = writeln!(
                    p.html,
                    "<tr><td>{}</td><td colspan=\"7\">not run</td></tr>",
                    esc(t)
                );
                continue;
            };
            let _ = writeln!(
                p.html,
                "<tr><td>{}</td><td class=\"num\">{:.0}</td><td class=\"num\">{}</td><td class=\"num\">{:.0}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(t),
                e.secs,
                e.execs,
                e.exec_s,
                e.cov,
                e.corpus,
                if e.crashes.is_empty() {
                    "0".to_string()
                } else {
                    esc(&e.crashes.join("; "))
                },
                e.error.as_deref().map_or(String::new(), esc)
            );
        }
        p.push("</table>\n");
    }
    p.end_section();
}

fn crashes_section(p: &mut Page, crashes: &[Crash], inp: &Inputs) {
    p.section("crashes");
    if crashes.is_empty() {
        p.missing("No crashes saved (<code>crashes/</code> is empty or missing) — <code>mmcheck campaign</code> triages every crash it finds into <code>crashes/&lt;title-hash&gt;/</code>.");
        p.end_section();
        return;
    }
    let untriaged = crashes.iter().filter(|c| c.untriaged()).count();
    let _ = writeln!(
        p.html,
        "<p>{} crash titles{} in <code>crashes/</code>. Links are relative to this page.</p>",
        crashes.len() - untriaged,
        if untriaged > 0 {
            format!(", and {untriaged} untriaged crashes (no title could be determined)")
        } else {
            String::new()
        }
    );
    p.push("<table class=\"crashes\"><tr><th>title</th><th>hash</th><th>targets</th><th>count</th><th>first seen</th><th>last seen</th><th>reproducers</th><th>minimized</th></tr>\n");
    for c in crashes {
        let link = |name: &str| -> String {
            let path = c.dir.join(name);
            if path.is_file() {
                let abs = std::fs::canonicalize(&path).unwrap_or(path);
                format!(
                    "<a href=\"{}\">{}</a>",
                    esc(&relative_url(&inp.out_dir, &abs)),
                    esc(name)
                )
            } else {
                format!("{} <span class=\"warn\">(missing)</span>", esc(name))
            }
        };
        let title = match &c.title {
            Some(t) => esc(t),
            None => "<em>untriaged</em> (no title)".to_string(),
        };
        let repros: Vec<String> = c.reproducers.iter().map(|r| link(r)).collect();
        let _ = writeln!(
            p.html,
            "<tr><td class=\"title\">{title}{}<details><summary>report ({} lines{})</summary><pre>{}</pre></details></td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if c.has_meta {
                ""
            } else {
                " <span class=\"note\" title=\"no meta.json: read from report.txt, target and the files\">(older directory)</span>"
            },
            c.report_lines,
            if c.report_lines > c.report_head.len() {
                format!(", first {} shown", c.report_head.len())
            } else {
                String::new()
            },
            esc(&c.report_head.join("\n")),
            esc(&c.hash),
            esc(&c.targets.join(", ")),
            c.count,
            c.first_seen.map_or("?".to_string(), utc),
            c.last_seen.map_or("?".to_string(), utc),
            if repros.is_empty() {
                "none".to_string()
            } else {
                repros.join("<br>")
            },
            c.minimized.as_deref().map_or("—".to_string(), link)
        );
    }
    p.push("</table>\n");
    p.end_section();
}

fn matrix_section(p: &mut Page, root: &Path) {
    p.section("matrix");
    let Some((cells, bad)) = data::load_matrix(root) else {
        p.missing("No planted-bug matrix (<code>mutants/matrix.jsonl</code> is missing) — run <code>mmcheck mutants --matrix --json &gt; mutants/matrix.jsonl</code>.");
        p.end_section();
        return;
    };
    if cells.is_empty() {
        p.missing("<code>mutants/matrix.jsonl</code> holds no cells — run <code>mmcheck mutants --matrix --json &gt; mutants/matrix.jsonl</code>.");
        p.end_section();
        return;
    }
    let when = std::fs::metadata(root.join("mutants/matrix.jsonl"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or("?".to_string(), |d| utc(d.as_secs() as i64));
    let _ = writeln!(
        p.html,
        "<p>From <code>mutants/matrix.jsonl</code> (the last <code>mmcheck mutants --matrix --json</code>; file modified {when}){}. A cell is the time to catch the planted bug, or <span class=\"missed\">missed</span>; the fastest engine of each row is <span class=\"best\">highlighted</span>.</p>",
        if bad > 0 {
            format!(", {bad} unreadable lines skipped")
        } else {
            String::new()
        }
    );
    let mut algos: BTreeMap<&str, Vec<&MatrixCell>> = BTreeMap::new();
    for c in &cells {
        algos.entry(&c.algo).or_default().push(c);
    }
    p.push("<table><tr><th>algorithm</th><th>planted bugs</th><th>caught by some engine</th><th>missed by every engine</th><th>cells caught / run</th></tr>\n");
    let (mut tm, mut tc, mut tcc, mut tcells) = (0, 0, 0, 0);
    for (algo, cs) in &algos {
        let mut mutants: Vec<&str> = cs.iter().map(|c| c.mutant.as_str()).collect();
        mutants.sort_unstable();
        mutants.dedup();
        let caught = mutants
            .iter()
            .filter(|m| cs.iter().any(|c| c.mutant == **m && c.caught))
            .count();
        let cc = cs.iter().filter(|c| c.caught).count();
        let _ = writeln!(
            p.html,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{caught}</td><td class=\"num{}\">{}</td><td class=\"num\">{cc} / {}</td></tr>",
            esc(algo),
            mutants.len(),
            if caught < mutants.len() { " missed" } else { "" },
            mutants.len() - caught,
            cs.len()
        );
        (tm, tc, tcc, tcells) = (tm + mutants.len(), tc + caught, tcc + cc, tcells + cs.len());
    }
    let _ = writeln!(
        p.html,
        "<tr class=\"total\"><td>all</td><td class=\"num\">{tm}</td><td class=\"num\">{tc}</td><td class=\"num\">{}</td><td class=\"num\">{tcc} / {tcells}</td></tr></table>",
        tm - tc
    );
    for (algo, cs) in &algos {
        let mut engines: Vec<&str> = cs.iter().map(|c| c.engine.as_str()).collect();
        engines.sort_by_key(|e| (engine_rank(e), *e));
        engines.dedup();
        let mut mutants: Vec<&str> = cs.iter().map(|c| c.mutant.as_str()).collect();
        mutants.sort_unstable();
        mutants.dedup();
        let _ = writeln!(
            p.html,
            "<h3>{}</h3>\n<div class=\"scroll\"><table class=\"matrix\"><tr><th>{} / mutant</th>",
            esc(algo),
            esc(algo)
        );
        for e in &engines {
            let _ = write!(p.html, "<th>{}</th>", esc(e));
        }
        p.push("</tr>\n");
        for m in &mutants {
            let row: Vec<&&MatrixCell> = cs.iter().filter(|c| c.mutant == *m).collect();
            // The fastest catch (every engine tied with it, too).
            let best = row
                .iter()
                .filter(|c| c.caught && c.error.is_none())
                .map(|c| c.secs)
                .min_by(f64::total_cmp);
            let _ = write!(p.html, "<tr><td>{}</td>", esc(m));
            for e in &engines {
                match row.iter().find(|c| c.engine == *e) {
                    None => p.push("<td class=\"na\">·</td>"),
                    Some(c) if c.error.is_some() => {
                        let _ = write!(
                            p.html,
                            "<td class=\"error\" title=\"{}\">error</td>",
                            esc(c.error.as_deref().unwrap_or(""))
                        );
                    }
                    Some(c) if c.caught => {
                        let _ = write!(
                            p.html,
                            "<td class=\"caught{}\" title=\"{}\">{}</td>",
                            if best == Some(c.secs) { " best" } else { "" },
                            esc(c.title.as_deref().unwrap_or("caught")),
                            secs(c.secs)
                        );
                    }
                    Some(c) => {
                        let _ = write!(
                            p.html,
                            "<td class=\"missed\" title=\"ran {}\">missed</td>",
                            secs(c.secs)
                        );
                    }
                }
            }
            p.push("</tr>\n");
        }
        p.push("</table></div>\n");
    }
    p.end_section();
}

/// Column order of the matrix: `test`, `loom`, then the engines with targets by kind.
fn engine_rank(e: &str) -> u8 {
    match e.split(':').next().unwrap_or(e) {
        "test" => 0,
        "loom" => 1,
        "fuzz" => 2,
        "sched-random" => 3,
        "sched-pct" => 4,
        _ => 5,
    }
}

fn coverage_section(p: &mut Page, root: &Path) {
    p.section("coverage");
    let (summaries, bad) = data::load_coverage(root);
    let files = data::aggregate_coverage(&summaries);
    if files.is_empty() {
        p.missing(&format!(
            "No coverage summaries (<code>campaigns/coverage/&lt;target&gt;.json</code>{}) — run <code>mmcheck coverage TARGET</code>.",
            if bad > 0 {
                format!("; {bad} unreadable")
            } else {
                String::new()
            }
        ));
        p.end_section();
        return;
    }
    let _ = writeln!(
        p.html,
        "<p>Line coverage (llvm-cov) of each source file. Per file, the <strong>largest fraction any one target covered</strong> (the targets' summaries are not merged line by line, so the union of all targets may cover more). From {} summaries{}: {}.</p>",
        summaries.len(),
        if bad > 0 {
            format!(" ({bad} unreadable skipped)")
        } else {
            String::new()
        },
        summaries
            .iter()
            .map(|s| format!(
                "{} ({})",
                esc(&s.target),
                s.time.map_or("?".to_string(), utc)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows: Vec<(String, f64, String)> = files
        .iter()
        .map(|f| {
            (
                f.file.clone(),
                f.fraction(),
                format!(
                    "{}: {} of {} lines, by {}",
                    f.file, f.covered, f.lines, f.best_target
                ),
            )
        })
        .collect();
    let title = "line coverage per file (best target)";
    let svg = chart::hbar_chart(title, "lines covered", &rows);
    p.chart(title, &svg);
    p.push("<table><tr><th>file</th><th>lines</th><th>covered</th><th>%</th><th>best target</th><th>targets measuring it</th></tr>\n");
    for f in &files {
        let _ = writeln!(
            p.html,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(&f.file),
            f.lines,
            f.covered,
            100.0 * f.fraction(),
            esc(&f.best_target),
            f.targets
        );
    }
    p.push("</table>\n");
    p.end_section();
}

fn sim_section(p: &mut Page, root: &Path, simulate: bool) -> Result<(), CliError> {
    p.section("sim");
    let policies = harness::sim::policy_names();
    if simulate {
        let _ = writeln!(
            p.html,
            "<p>Simulated now by <code>harness::sim</code> (as <code>mmcheck sim --gen SPEC --frames …</code>): every policy ({}), cold misses counted.</p>",
            esc(&policies.join(", "))
        );
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        for (spec, frames) in WORKLOADS {
            let trace = harness::sim::gen::generate(spec).map_err(CliError)?;
            let outcomes = harness::sim::run(&trace, &policies, frames, jobs).map_err(CliError)?;
            let title = format!("miss ratio: {spec}");
            let svg = chart::miss_ratio_chart(&outcomes, &title);
            p.chart(&title, &svg);
        }
    } else {
        p.missing("Simulations skipped (<code>--no-sim</code>).");
    }
    let saved = data::load_sim_files(root);
    if saved.is_empty() {
        p.missing("No saved simulator results (<code>campaigns/sim/*.jsonl</code>) — save some with <code>mmcheck sim --json … &gt; campaigns/sim/NAME.jsonl</code>.");
    }
    for (name, outcomes, bad) in saved {
        if outcomes.is_empty() {
            let _ = writeln!(
                p.html,
                "<p class=\"missing\"><code>campaigns/sim/{}</code> holds no results ({bad} unreadable lines).</p>",
                esc(&name)
            );
            continue;
        }
        let title = format!("miss ratio: {name}");
        let svg = chart::miss_ratio_chart(&outcomes, &title);
        p.chart(&title, &svg);
        if bad > 0 {
            let _ = writeln!(
                p.html,
                "<p class=\"note\">{bad} unreadable lines of <code>{}</code> skipped.</p>",
                esc(&name)
            );
        }
    }
    p.end_section();
    Ok(())
}

/// Escapes text for HTML content and attribute values (`&`, `<`, `>`, `"`, `'`).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A unix time as a UTC date and time, `2026-11-30 10:45 UTC`.
pub fn utc(secs: i64) -> String {
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::runlog::civil_from_days(secs.div_euclid(86_400));
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

fn duration(secs: i64) -> String {
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

fn secs(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// The URL of `to` relative to the directory `from` (both absolute), each path segment
/// percent-encoded.
pub fn relative_url(from: &Path, to: &Path) -> String {
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); f.len() - common];
    for c in &t[common..] {
        let seg = c.as_os_str().to_string_lossy();
        let mut enc = String::new();
        for b in seg.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                enc.push(b as char);
            } else {
                let _ = write!(enc, "%{b:02X}");
            }
        }
        parts.push(enc);
    }
    parts.join("/")
}

const CSS: &str = "
body{font-family:sans-serif;margin:0 2em 3em;color:#222;background:#fff;max-width:1700px}
header{border-bottom:2px solid #ddd;margin-bottom:1em}
h1{margin:.6em 0 .2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}h3{margin:.8em 0 .3em;font-size:1.05em}
nav a{margin-right:1em}
.meta,.note{color:#666}
.missing{color:#8a5a00;background:#fff6e0;padding:.4em .6em;border-left:4px solid #e0a800}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f2f2f2}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:bold}
td.caught{background:#e3f4e3;text-align:right}
td.best{background:#7dcf7d;font-weight:bold}
td.missed,.missed{color:#a00}
td.error{background:#fde0e0}
td.na{color:#bbb;text-align:center}
.warn{color:#a00}
.scroll{overflow-x:auto}
.row{display:flex;flex-wrap:wrap;gap:1em}
figure{margin:.5em 0}
svg.chart{max-width:100%;height:auto;border:1px solid #eee}
td.title{max-width:40em}
pre{font-size:12px;background:#f7f7f7;padding:.5em;overflow-x:auto;max-width:60em}
#selfcheck{margin:.5em 0;font-size:13px;color:#666}
#selfcheck.ok{color:#080}#selfcheck.bad{color:#a00;font-weight:bold}
";

/// Verifies that every chart has a size on the page and at least one drawn mark, and writes
/// the counts into `#selfcheck` (`data-charts`, `data-ok`) for a person and for the test.
const SELF_CHECK: &str = r#"
(function () {
  var el = document.getElementById("selfcheck");
  var charts = document.querySelectorAll("svg.chart");
  var ok = 0, bad = [];
  for (var i = 0; i < charts.length; i++) {
    var c = charts[i], r = c.getBoundingClientRect(), drawn = 0;
    var marks = c.querySelectorAll("polyline, circle, rect.bar");
    for (var j = 0; j < marks.length; j++) {
      var b = marks[j].getBBox();
      if (b.width > 0 || b.height > 0) drawn++;
    }
    if (r.width > 0 && r.height > 0 && drawn > 0) ok++;
    else bad.push(c.getAttribute("aria-label") || ("chart " + (i + 1)));
  }
  var expected = parseInt(el.getAttribute("data-expected"), 10);
  el.setAttribute("data-charts", String(charts.length));
  el.setAttribute("data-ok", String(ok));
  var good = ok === charts.length && charts.length === expected;
  el.className = good ? "ok" : "bad";
  el.textContent = "self-check: " + ok + " of " + charts.length + " charts rendered" +
    (charts.length === expected ? "" : " (" + expected + " written)") +
    (bad.length ? "; not rendered: " + bad.join(", ") : "");
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let d = std::env::temp_dir()
                .join(format!("mmcheck-report-unit-{}-{tag}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Scratch(d)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("plain ü"), "plain ü");
    }

    #[test]
    fn utc_dates_and_relative_links() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_795_950_312), "2026-11-29 11:05 UTC");
        assert_eq!(
            relative_url(
                Path::new("/r/campaigns"),
                Path::new("/r/crashes/ab/input-1")
            ),
            "../crashes/ab/input-1"
        );
        assert_eq!(
            relative_url(Path::new("/r"), Path::new("/r/crashes/a b/x#1")),
            "crashes/a%20b/x%231"
        );
    }

    #[test]
    fn run_logs_are_read_tolerantly() {
        let text = concat!(
            r#"{"kind":"start","run":"20261130-104512-1234","time":1795950312,"jobs":1,"parallel":2,"sanitizer":"none","targets":["a","b"],"secs_per_target":60,"future":{"x":1}}"#,
            "\n",
            r#"{"kind":"sample","run":"20261130-104512-1234","target":"a","t":10.5,"execs":100,"exec_s":10,"cov":5,"corpus":3,"crashes":0}"#,
            "\n",
            r#"{"kind":"sample","run":"20261130-104512-1234","target":"a","t":5.0,"execs":50,"exec_s":10,"cov":4,"corpus":2,"crashes":0}"#,
            "\n",
            r#"{"kind":"mystery","whatever":true}"#,
            "\n",
            r#"{"kind":"target","run":"20261130-104512-1234","target":"a","secs":60.0,"execs":600,"exec_s":10,"cov":9,"corpus":7,"jobs":1,"crashes":["T <1>"],"error":null}"#,
            "\n",
            r#"{"kind":"crash","run":"20261130-104512-1234","target":"a","title":"T <1>","hash":"00000000000000aa","new":true}"#,
            "\n",
            r#"{"kind":"sample","run":"20261130-104512-1234","target":"b","t":5,"execs":7,"exec_s":1.5,"cov":2,"corpus":1,"crashes":0}"#,
            "\n",
            r#"{"kind":"target","run":"20261130-104512-1234","target":"b","secs":3,"ex"#,
        );
        let r = Run::parse("stem", text);
        assert_eq!(r.id, "20261130-104512-1234");
        assert_eq!(r.start, Some(1_795_950_312));
        assert_eq!(r.end, None);
        assert_eq!(r.targets, ["a", "b"]);
        assert_eq!(r.bad_lines, 1, "the truncated last line");
        let a = &r.samples["a"];
        assert_eq!(a.len(), 2);
        assert!(a[0].t < a[1].t, "samples sorted by time");
        assert_eq!(r.final_of("a").unwrap().corpus, 7);
        assert_eq!(r.final_of("a").unwrap().error, None);
        let b = r.final_of("b").unwrap();
        assert_eq!((b.exec_s, b.corpus), (1.5, 1), "b's last sample stands in");
        assert_eq!(r.crashes.len(), 1);
        assert!(r.crashes[0].new);
        assert!(r.final_of("c").is_none());
        // No start line: the file name names the run.
        assert_eq!(Run::parse("20261201-000000-1", "").id, "20261201-000000-1");
    }

    #[test]
    fn crash_directories_new_old_and_untriaged() {
        let s = Scratch::new("crashes");
        let c = s.0.join("crashes");
        let new = c.join("0123456789abcdef");
        write(
            &new.join("meta.json"),
            r#"{"title":"KASAN: <use> & \"free\"","hash":"0123456789abcdef","targets":["percpu_ops","percpu_sched"],"count":3,"first_seen":1795950312,"last_seen":1796036712,"reproducers":["input-1","input-2"],"minimized":"minimized-1"}"#,
        );
        write(&new.join("report.txt"), "MMCHECK-TITLE: other\nline 2\n");
        write(&new.join("input-1"), "x");
        let old = c.join("fedcba9876543210");
        let report: String = std::iter::once("MMCHECK-TITLE: DIFF: mismatch\n".to_string())
            .chain((2..=40).map(|i| format!("line {i}\n")))
            .collect();
        write(&old.join("report.txt"), &report);
        write(&old.join("target"), "maple_ops\n");
        write(&old.join("input-aa"), "1");
        write(&old.join("chunks-bb.hex"), "00\n");
        write(&old.join("report-input-aa.txt"), "second report");
        write(
            &c.join("untriaged-rt_ops-crash-1/report.txt"),
            "untriaged crash\n",
        );
        write(&c.join("untriaged-rt_ops-crash-1/target"), "rt_ops\n");
        write(&c.join("raw/rt_ops/crash-1"), "raw");

        let all = data::load_crashes(&s.0);
        assert_eq!(all.len(), 3, "raw/ is not a crash: {all:?}");
        let [d, k, u] = [&all[0], &all[1], &all[2]];
        assert_eq!(d.title.as_deref(), Some("DIFF: mismatch"));
        assert!(!d.has_meta);
        assert_eq!(d.hash, "fedcba9876543210");
        assert_eq!(d.targets, ["maple_ops"]);
        assert_eq!(d.reproducers, ["chunks-bb.hex", "input-aa"]);
        assert_eq!(d.count, 2);
        assert!(d.first_seen.is_some() && d.first_seen == d.last_seen);
        assert_eq!(d.minimized, None);
        assert_eq!(d.report_head.len(), data::REPORT_HEAD_LINES);
        assert_eq!(d.report_lines, 40);

        assert_eq!(k.title.as_deref(), Some("KASAN: <use> & \"free\""));
        assert!(k.has_meta);
        assert_eq!(k.count, 3);
        assert_eq!(k.targets, ["percpu_ops", "percpu_sched"]);
        assert_eq!(k.reproducers, ["input-1", "input-2"]);
        assert_eq!(k.minimized.as_deref(), Some("minimized-1"));
        assert_eq!(
            (k.first_seen, k.last_seen),
            (Some(1_795_950_312), Some(1_796_036_712))
        );

        assert!(u.untriaged());
        assert_eq!(u.targets, ["rt_ops"]);
        assert_eq!(u.count, 0);

        // The table escapes the title and links what exists, relative to the page.
        let inp = Inputs {
            root: s.0.clone(),
            out_dir: s.0.join("campaigns"),
            runs: 10,
            sim: false,
        };
        let mut p = Page::default();
        crashes_section(&mut p, &all, &inp);
        assert!(
            p.html.contains("KASAN: &lt;use&gt; &amp; &quot;free&quot;"),
            "{}",
            p.html
        );
        assert!(!p.html.contains("<use>"));
        assert!(p
            .html
            .contains("href=\"../crashes/0123456789abcdef/input-1\""));
        assert!(p
            .html
            .contains("input-2 <span class=\"warn\">(missing)</span>"));
        assert!(p.html.contains("2 crash titles, and 1 untriaged"));
    }

    #[test]
    fn a_run_without_numbers_draws_no_empty_chart() {
        let r = Run::parse(
            "x",
            r#"{"kind":"start","run":"x","time":1,"targets":["a"]}"#,
        );
        let mut p = Page::default();
        over_time_section(&mut p, std::slice::from_ref(&r));
        final_section(&mut p, std::slice::from_ref(&r));
        assert_eq!(p.charts, 0);
        assert!(!p.html.contains("<svg"), "{}", p.html);
        assert!(p.html.contains("No samples of a in these runs"));
        assert!(p.html.contains("no sample or finished target yet"));
        assert!(p.html.contains("<td>a</td><td colspan=\"7\">not run</td>"));
    }

    #[test]
    fn matrix_rows_highlight_the_fastest_catch() {
        let s = Scratch::new("matrix");
        write(
            &s.0.join("mutants/matrix.jsonl"),
            concat!(
                r#"{"algo":"a","mutant":"m1","engine":"fuzz:x","caught":true,"secs":2.0,"title":"T <x>"}"#,
                "\n",
                r#"{"algo":"a","mutant":"m1","engine":"test","caught":true,"secs":1.0}"#,
                "\n",
                r#"{"algo":"a","mutant":"m1","engine":"loom","caught":true,"secs":1.0}"#,
                "\n",
                r#"{"algo":"a","mutant":"m2","engine":"test","caught":false,"secs":5.0}"#,
                "\n",
                r#"{"algo":"a","engine":"test"}"#,
                "\n",
            ),
        );
        let mut p = Page::default();
        matrix_section(&mut p, &s.0);
        let h = &p.html;
        assert_eq!(
            h.matches("class=\"caught best\"").count(),
            2,
            "the tie: {h}"
        );
        assert!(h.contains("<td class=\"caught\" title=\"T &lt;x&gt;\">2.0 s</td>"));
        assert!(
            h.contains("<th>test</th><th>loom</th><th>fuzz:x</th>"),
            "column order"
        );
        assert!(h.contains("<td class=\"missed\" title=\"ran 5.0 s\">missed</td>"));
        assert!(
            h.contains("<td class=\"na\">·</td>"),
            "m2 has no fuzz:x cell"
        );
        assert!(h.contains("<td class=\"num\">3 / 4</td>"));
        assert!(h.contains("1 unreadable lines skipped"));
    }

    #[test]
    fn long_runs_are_thinned() {
        let pts: Vec<(f64, f64)> = (0..1001).map(|i| (i as f64, 1.0)).collect();
        let t = thin(pts);
        assert!(t.len() <= MAX_POINTS + 1, "{}", t.len());
        assert_eq!(t.last(), Some(&(1000.0, 1.0)), "the last point stays");
        assert_eq!(thin(vec![(0.0, 1.0)]), [(0.0, 1.0)]);
    }

    #[test]
    fn coverage_takes_the_best_target_per_file() {
        let cov = |t: &str, files: &[(&str, u64, u64)]| data::CoverageSummary {
            target: t.into(),
            time: None,
            files: files.iter().map(|&(f, l, c)| (f.into(), l, c)).collect(),
        };
        let agg = data::aggregate_coverage(&[
            cov("a", &[("x.rs", 100, 40), ("y.rs", 10, 10)]),
            cov("b", &[("x.rs", 100, 70), ("z.rs", 0, 0)]),
        ]);
        assert_eq!(agg.len(), 3);
        assert_eq!(
            (agg[0].covered, agg[0].best_target.as_str(), agg[0].targets),
            (70, "b", 2)
        );
        assert_eq!(agg[2].fraction(), 0.0);
    }

    #[test]
    fn an_empty_repository_gives_a_page_that_says_what_is_missing() {
        let s = Scratch::new("empty");
        let inp = Inputs {
            root: s.0.clone(),
            out_dir: s.0.clone(),
            runs: 10,
            sim: false,
        };
        let html = build(&inp).unwrap();
        for (_, title) in SECTIONS {
            assert!(html.contains(&format!("{}</h2>", esc(title))), "{title}");
        }
        for cmd in [
            "run <code>mmcheck campaign</code>",
            "<code>mmcheck mutants --matrix --json &gt; mutants/matrix.jsonl</code>",
            "run <code>mmcheck coverage TARGET</code>",
            "(<code>--no-sim</code>)",
        ] {
            assert!(html.contains(cmd), "missing {cmd}");
        }
        assert!(html.contains("data-expected=\"0\""));
        assert!(!html.contains("<svg"));
    }
}
