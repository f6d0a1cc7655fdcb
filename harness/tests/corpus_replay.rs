//! Regression-corpus replay: every file of `corpus/<target>/` for every registered target
//! runs through exactly the code path of the fuzz target (`registry::run`).
//!
//! Schedule targets need the shuttle backend. In a default build this test re-runs itself
//! once as `cargo test -p harness --features shuttle --test corpus_replay` (in its own target
//! directory, `target/shuttle`), so plain `cargo test` still replays every file of every
//! target.

use harness::registry::{self, EngineKind, RunError};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Replays the corpus of every target the current build can run; returns failure lines.
fn replay(engine: Option<EngineKind>) -> (usize, Vec<String>) {
    let mut passed = 0;
    let mut failed = Vec::new();
    for t in registry::all() {
        if engine.is_some_and(|e| e != t.engine()) {
            continue;
        }
        let dir = root().join("corpus").join(t.name());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            failed.push(format!("{}: no corpus directory", dir.display()));
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        if files.is_empty() {
            failed.push(format!("{}: empty corpus", dir.display()));
        }
        for f in files {
            let data = match std::fs::read(&f) {
                Ok(d) => d,
                Err(e) => {
                    failed.push(format!("{}: cannot read: {e}", f.display()));
                    continue;
                }
            };
            match t.run_input(&data) {
                Ok(()) => passed += 1,
                Err(RunError::Decode(e)) => {
                    failed.push(format!("{}: cannot decode: {e}", f.display()))
                }
                Err(RunError::Unavailable(e)) => failed.push(format!("{}: {e}", f.display())),
                Err(RunError::Failure(fl)) => {
                    failed.push(format!("{}: {}\n{}", f.display(), fl.title(), fl.render()))
                }
            }
        }
    }
    (passed, failed)
}

#[test]
fn every_corpus_file_of_this_build_passes() {
    let engine = if cfg!(feature = "shuttle") {
        None
    } else {
        Some(EngineKind::Sequential)
    };
    let (passed, failed) = replay(engine);
    assert!(
        failed.is_empty(),
        "{} passed, {} failed:\n{}",
        passed,
        failed.len(),
        failed.join("\n")
    );
    assert!(passed > 0, "no corpus file was replayed");
}

#[test]
fn schedule_corpora_replay_under_shuttle() {
    if cfg!(feature = "shuttle") {
        // This build replays them directly in the test above.
        return;
    }
    if std::env::var_os("MMCHECK_NO_NESTED_REPLAY").is_some() {
        // The caller (ci/test.sh) replays them with `--features shuttle` itself.
        return;
    }
    let status = std::process::Command::new(env!("CARGO"))
        .args([
            "test",
            "-q",
            "-p",
            "harness",
            "--features",
            "shuttle",
            "--test",
            "corpus_replay",
        ])
        .env("CARGO_TARGET_DIR", root().join("target").join("shuttle"))
        .current_dir(root())
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "schedule-target corpus replay failed (see output above)"
    );
}

#[test]
fn a_corrupt_schedule_input_is_reported_as_undecodable() {
    let t = registry::find("counter_sched").expect("registered");
    match t.run_input(&[200, 0, 1, 2]) {
        Err(RunError::Decode(e)) => assert!(e.contains("header says 200"), "{e}"),
        other => panic!("corrupt input accepted: {other:?}"),
    }
}
