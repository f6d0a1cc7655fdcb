//! `mmcheck check`: a budgeted random, PCT or proptest run of one target, and crash saving.

use crate::{has_shuttle, reexec_shuttle, repo_root, CliError, CliResult, Engine};
use harness::engine::random::Budget;
use harness::registry::{self, EngineKind, ScheduleKind};
use harness::report::{fnv1a, hex, Failure, Repro};
use std::path::{Path, PathBuf};

/// Arguments of `mmcheck check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The registry target.
    pub target: String,
    /// How inputs (and, for schedule targets, interleavings) are chosen.
    #[arg(long, value_enum, default_value = "random")]
    pub engine: Engine,
    /// Most inputs, scenarios or proptest cases.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: u64,
    /// Wall-clock limit in seconds (random and pct only).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub time: Option<u64>,
    /// The PRNG seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs the check; exit 1 (and a saved crash) on a failure.
pub fn run(a: &CheckArgs) -> CliResult {
    let target = registry::find(&a.target).map_err(CliError)?;
    if a.engine == Engine::Proptest && a.iterations > u64::from(u32::MAX) {
        bail!(
            "--iterations {} is too many proptest cases (at most {})",
            a.iterations,
            u32::MAX
        );
    }
    let root = repo_root();
    if target.engine() == EngineKind::Schedule && a.engine != Engine::Proptest && !has_shuttle() {
        let mut args = vec![
            "check".to_string(),
            a.target.clone(),
            "--engine".into(),
            a.engine.as_str().into(),
            "--iterations".into(),
            a.iterations.to_string(),
            "--seed".into(),
            a.seed.to_string(),
        ];
        if let Some(t) = a.time {
            args.extend(["--time".into(), t.to_string()]);
        }
        return reexec_shuttle(&root?, &args);
    }
    let start = std::time::Instant::now();
    let result = match a.engine {
        Engine::Proptest => {
            let cases = u32::try_from(a.iterations).unwrap_or(u32::MAX);
            target.proptest(cases, a.seed).map(|()| None)
        }
        Engine::Random | Engine::Pct => {
            let kind = if a.engine == Engine::Pct {
                ScheduleKind::Pct
            } else {
                ScheduleKind::Random
            };
            let budget = Budget {
                iterations: a.iterations,
                time: a.time.map(std::time::Duration::from_secs),
            };
            target.check(budget, a.seed, kind).map(Some)
        }
    };
    let secs = start.elapsed().as_secs_f64();
    match result {
        Ok(stats) => {
            match stats {
                Some(s) => println!(
                    "{}: no failure ({} engine, {}): {} inputs, {} executions in {secs:.1}s",
                    target.name(),
                    target.engine().as_str(),
                    a.engine.as_str(),
                    s.inputs,
                    s.executions
                ),
                None => println!(
                    "{}: no failure (proptest): {} cases in {secs:.1}s",
                    target.name(),
                    a.iterations
                ),
            }
            Ok(0)
        }
        Err(f) if f.checker == "MMCHECK" => Err(CliError(f.details.clone())),
        Err(mut f) => {
            if f.target.is_empty() {
                f.target = target.name().to_string();
            }
            print!("{}", f.render());
            match root {
                Ok(root) => match save_failure(&root, &f) {
                    Ok(dir) => eprintln!("mmcheck: saved to {}", dir.display()),
                    Err(e) => {
                        eprintln!("mmcheck: could not save the crash: {e} (the report is above)")
                    }
                },
                Err(e) => eprintln!("mmcheck: not saving the crash: {}", e.0),
            }
            Ok(1)
        }
    }
}

/// Saves a failure found in-process under `crashes/<title-hash>/`.
pub fn save_failure(root: &Path, f: &Failure) -> std::io::Result<PathBuf> {
    let (name, bytes) = match &f.repro {
        Some(Repro::Input(b)) => (format!("input-{:016x}", fnv1a(b)), b.clone()),
        Some(Repro::Chunks(c)) => {
            let text: String = c.iter().map(|ch| hex(ch) + "\n").collect();
            (
                format!("chunks-{:016x}.hex", fnv1a(text.as_bytes())),
                text.into_bytes(),
            )
        }
        None => (String::new(), Vec::new()),
    };
    let dir = root.join("crashes").join(f.title_hash());
    save_crash(
        &dir,
        &f.target,
        (!name.is_empty()).then_some((name.as_str(), bytes.as_slice())),
        &f.render(),
    )?;
    Ok(dir)
}

/// Writes `input` (if any), the report and the target name into `dir`. An existing report
/// of the same title is kept; the new one is written beside it.
pub fn save_crash(
    dir: &Path,
    target: &str,
    input: Option<(&str, &[u8])>,
    report: &str,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut report_name = "report.txt".to_string();
    if let Some((name, bytes)) = input {
        std::fs::write(dir.join(name), bytes)?;
        if dir.join("report.txt").exists() {
            report_name = format!("report-{name}.txt");
        }
    }
    if !dir.join(&report_name).exists() || report_name != "report.txt" {
        std::fs::write(dir.join(&report_name), report)?;
    }
    if !dir.join("target").exists() {
        std::fs::write(dir.join("target"), format!("{target}\n"))?;
    }
    Ok(())
}
