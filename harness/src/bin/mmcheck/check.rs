//! `mmcheck check`: a budgeted PRNG run (sequential random, schedule random or PCT, or
//! proptest) of one target, and crash saving.

use crate::cargo::{has_shuttle, reexec_shuttle};
use crate::crashes::save_failure;
use crate::{repo_root, CliError, CliResult};
use harness::engine::random::Budget;
use harness::registry::{self, Engine, RunError, TargetKind};

/// Arguments of `mmcheck check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The registry target.
    pub target: String,
    /// How inputs (and, for schedule targets, interleavings) are chosen: `seq-random` for
    /// sequential targets, `sched-random` or `sched-pct` for schedule targets, `proptest` for
    /// any (default: `seq-random` or `sched-random` by the target's kind).
    #[arg(long, value_enum)]
    pub engine: Option<Engine>,
    /// Most decoded inputs, scenarios or proptest cases.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: u64,
    /// Wall-clock limit in seconds (not for proptest).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub time: Option<u64>,
    /// The PRNG seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs the check; exit 1 (and a saved crash) on a failure.
pub fn run(a: &CheckArgs) -> CliResult {
    let target = registry::find(&a.target).map_err(CliError)?;
    let engine = a.engine.unwrap_or(Engine::default_for(target.kind()));
    if !engine.takes_target() || engine == Engine::Fuzz {
        bail!(
            "engine `{engine}` is not a budgeted PRNG engine (use `mmcheck campaign` for fuzz, `mmcheck mutants --matrix` for test and loom)"
        );
    }
    if !engine.applies_to(target.kind()) {
        bail!(
            "engine `{engine}` does not run {} targets like `{}` (use {})",
            target.kind().as_str(),
            target.name(),
            Engine::default_for(target.kind())
        );
    }
    if engine == Engine::Proptest && a.iterations > u64::from(u32::MAX) {
        bail!(
            "--iterations {} is too many proptest cases (at most {})",
            a.iterations,
            u32::MAX
        );
    }
    let root = repo_root();
    if target.kind() == TargetKind::Schedule && engine != Engine::Proptest && !has_shuttle() {
        let mut args = vec![
            "check".to_string(),
            a.target.clone(),
            "--engine".into(),
            engine.as_str().into(),
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
    let budget = Budget {
        iterations: a.iterations,
        time: a.time.map(std::time::Duration::from_secs),
    };
    let result = target.check(budget, a.seed, engine);
    let secs = start.elapsed().as_secs_f64();
    match result {
        Ok(s) => {
            println!(
                "{}: no failure ({} target, {engine}): {} of {} inputs decoded, {} operations, {} executions{} in {secs:.1}s",
                target.name(),
                target.kind().as_str(),
                s.decoded,
                s.inputs,
                s.ops,
                s.executions,
                if s.inconclusive > 0 {
                    format!(", {} inconclusive histories (search budget)", s.inconclusive)
                } else {
                    String::new()
                }
            );
            Ok(0)
        }
        Err(RunError::Failure(f)) => {
            let mut f = *f;
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
        Err(e) => Err(CliError(e.to_string())),
    }
}
