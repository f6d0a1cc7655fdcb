//! Regression-corpus replay: every file of `corpus/<target>/` for every registered target
//! runs through exactly the code path of the fuzz target, regression files (`regress-*`)
//! strictly ([`harness::corpus`] has the rules).
//!
//! Schedule targets need the shuttle backend: this file replays them in the
//! `--features shuttle` build (`cargo test -p harness --features shuttle`, which `ci/test.sh`
//! runs); the default build replays the sequential targets and checks that every schedule
//! file at least decodes.

use harness::registry::{self, RunError, TargetKind};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

#[test]
fn every_corpus_file_of_this_build_passes() {
    let (mut passed, mut decoded_only) = (0, 0);
    let mut failed = Vec::new();
    for t in registry::all() {
        let files = match harness::corpus::files(&root(), t.name()) {
            Ok(f) if f.is_empty() => {
                failed.push(format!("{}: empty corpus", t.name()));
                continue;
            }
            Ok(f) => f,
            Err(e) => {
                failed.push(e);
                continue;
            }
        };
        for f in files {
            if harness::corpus::is_regression(&f) && !harness::corpus::note_of(&f).is_file() {
                failed.push(format!(
                    "{}: a regression input needs a note ({}) saying what bug it pins",
                    f.display(),
                    harness::corpus::note_of(&f).display()
                ));
            }
            match harness::corpus::replay_file(t.as_ref(), &f) {
                Ok(diverged) => {
                    passed += 1;
                    if diverged {
                        eprintln!("note: {}: schedule diverged, re-checked", f.display());
                    }
                }
                // The default build decodes schedule inputs but cannot run them.
                Err(RunError::Unavailable(_))
                    if t.kind() == TargetKind::Schedule && !cfg!(feature = "shuttle") =>
                {
                    decoded_only += 1
                }
                Err(RunError::Failure(fl)) => {
                    failed.push(format!("{}: {}\n{}", f.display(), fl.title(), fl.render()))
                }
                Err(e) => failed.push(format!("{}: {e}", f.display())),
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} passed, {} failed:\n{}",
        passed,
        failed.len(),
        failed.join("\n")
    );
    assert!(passed > 0, "no corpus file was replayed");
    if cfg!(feature = "shuttle") {
        assert_eq!(decoded_only, 0);
    } else {
        assert!(decoded_only > 0, "no schedule-target file was decoded");
    }
}

#[test]
fn a_corrupt_schedule_input_is_reported_as_undecodable() {
    let t = registry::find("counter_sched").expect("registered");
    match t.run_input(&[200, 0, 1, 2]) {
        Err(RunError::Decode(e)) => assert!(e.contains("header says 200"), "{e}"),
        other => panic!("corrupt input accepted: {other:?}"),
    }
}

#[test]
fn an_unknown_target_is_an_error_not_a_skipped_input() {
    match registry::run("no_such_target", &[1, 2, 3]) {
        Err(RunError::UnknownTarget(e)) => assert!(e.contains("no_such_target"), "{e}"),
        other => panic!("an unknown target must not pass or skip: {other:?}"),
    }
    match registry::reproduce("no_such_target", &[]) {
        Err(RunError::UnknownTarget(_)) => {}
        other => panic!("{other:?}"),
    }
}
