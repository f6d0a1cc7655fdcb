//! `mmcheck replay`: every corpus file through the fuzz target's own code path (regression
//! files as regressions: a drifted schedule is noted and its scenario re-checked).

use crate::cargo::{has_shuttle, reexec_shuttle};
use crate::{corpus_files, rel, repo_root, resolve_targets, CliResult};
use harness::registry::{RunError, TargetKind};

/// Replays `corpus/<t>/*` for the named targets (all if empty).
pub fn run(names: &[String]) -> CliResult {
    let root = repo_root()?;
    let targets = resolve_targets(names)?;
    // Read every directory first so an unreadable one is reported before any work.
    let mut plan = Vec::new();
    for t in &targets {
        plan.push((*t, corpus_files(&root, t.name())?));
    }
    let (here, deferred): (Vec<_>, Vec<_>) = plan
        .into_iter()
        .partition(|(t, _)| t.kind() == TargetKind::Sequential || has_shuttle());
    let (mut passed, mut failed) = (0u64, 0u64);
    for (t, files) in &here {
        for f in files {
            let name = rel(&root, f);
            let outcome = match harness::corpus::replay_file(*t, f) {
                Ok(false) => Ok(()),
                Ok(true) => {
                    println!("NOTE {name}: its recorded schedule no longer applies; its scenario passed under PCT and random schedules instead");
                    Ok(())
                }
                Err(RunError::Decode(e)) => Err(format!("cannot decode: {e}")),
                Err(
                    RunError::Unavailable(e) | RunError::UnknownTarget(e) | RunError::Diverged(e),
                ) => Err(e),
                Err(RunError::Failure(fl)) => Err(fl.title()),
            };
            match outcome {
                Ok(()) => {
                    passed += 1;
                    println!("PASS {name}");
                }
                Err(why) => {
                    failed += 1;
                    println!("FAIL {name}: {why}");
                }
            }
        }
    }
    let mut code = u8::from(failed > 0);
    if !here.is_empty() || deferred.is_empty() {
        println!("{passed} passed, {failed} failed");
    }
    if !deferred.is_empty() {
        let mut args = vec!["replay".to_string()];
        args.extend(deferred.iter().map(|(t, _)| t.name().to_string()));
        let child = reexec_shuttle(&root, &args)?;
        code = code.max(child);
    }
    Ok(code)
}
