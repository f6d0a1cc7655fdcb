//! Integration tests of the `mmcheck` command (never `campaign` or `mutants`: too slow).

use harness::registry::{self, TargetKind};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_mmcheck");

fn mmcheck(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run mmcheck")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch repository root: `[workspace]` Cargo.toml and an empty corpus/.
fn scratch_root(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mmcheck-cli-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("corpus")).expect("mkdir");
    std::fs::write(d.join("Cargo.toml"), "[workspace]\nmembers = []\n").expect("write");
    d
}

fn in_root(root: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root)
        .env("MMCHECK_ROOT", root)
        .output()
        .expect("run mmcheck")
}

fn assert_one_line_error(o: &Output) {
    assert_eq!(o.status.code(), Some(2), "stderr: {}", text(&o.stderr));
    let err = text(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("mmcheck: error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn list_names_every_target() {
    let o = mmcheck(&["list"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for t in registry::all() {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(t.name()))
            .unwrap_or_else(|| panic!("{} missing from:\n{out}", t.name()));
        assert!(line.contains(t.kind().as_str()), "{line}");
    }
}

#[test]
fn replay_of_sequential_targets_passes_on_the_committed_corpus() {
    let seq: Vec<&str> = registry::all()
        .iter()
        .filter(|t| t.kind() == TargetKind::Sequential)
        .map(|t| t.name())
        .collect();
    let mut args = vec!["replay"];
    args.extend(&seq);
    let o = mmcheck(&args);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(out.contains(" passed, 0 failed"), "{out}");
    assert!(!out.contains("FAIL "), "{out}");
}

#[test]
fn unknown_target_is_a_one_line_error() {
    assert_one_line_error(&mmcheck(&["check", "no_such_target"]));
    assert_one_line_error(&mmcheck(&["replay", "counter", "no_such_target"]));
}

#[test]
fn bad_budgets_and_engines_are_usage_errors() {
    assert_one_line_error(&mmcheck(&["campaign", "--time", "abc"]));
    assert_one_line_error(&mmcheck(&["check", "counter", "--iterations", "0"]));
    assert_one_line_error(&mmcheck(&["check", "counter", "--iterations", "many"]));
    assert_one_line_error(&mmcheck(&["check", "counter", "--engine", "nope"]));
    // Too little time for each target to get its 5 s: refused before anything runs.
    assert_one_line_error(&mmcheck(&["campaign", "--time", "9", "counter", "stack"]));
}

#[test]
fn check_of_the_correct_counter_passes() {
    let o = mmcheck(&["check", "counter", "--iterations", "50"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("no failure"), "{out}");
    assert!(out.contains("50 of 50 inputs decoded"), "{out}");
    let o = mmcheck(&[
        "check",
        "counter",
        "--engine",
        "proptest",
        "--iterations",
        "20",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn a_missing_corpus_dir_is_a_one_line_error() {
    // One rule everywhere (`harness::corpus`): a registry target must have a corpus.
    let root = scratch_root("missing");
    assert_one_line_error(&in_root(&root, &["replay", "counter"]));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn seed_writes_decodable_inputs_in_the_target_framing() {
    let root = scratch_root("seed");
    for (t, n) in [("counter", "3"), ("counter_sched", "2")] {
        std::fs::create_dir_all(root.join("corpus").join(t)).expect("mkdir");
        let o = in_root(&root, &["seed", t, "--count", n, "--seed", "5"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let files = harness::corpus::files(&root, t).expect("corpus");
        assert_eq!(files.len().to_string(), n, "{files:?}");
        for f in &files {
            let data = std::fs::read(f).expect("read");
            match registry::run(t, &data) {
                Ok(()) | Err(registry::RunError::Unavailable(_)) => {}
                Err(e) => panic!("{}: {e}", f.display()),
            }
            if t.ends_with("_sched") {
                harness::target::split_input(&data).expect("2-byte framing");
            }
        }
    }
    // Numbering continues after the existing seeds.
    let o = in_root(&root, &["seed", "counter", "--count", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(root.join("corpus/counter/seed-03").is_file());
    assert_one_line_error(&in_root(&root, &["seed", "nope"]));
    assert_one_line_error(&in_root(&root, &["seed", "counter", "--count", "0"]));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn check_rejects_an_engine_that_does_not_fit_the_target() {
    assert_one_line_error(&mmcheck(&["check", "counter", "--engine", "sched-pct"]));
    assert_one_line_error(&mmcheck(&[
        "check",
        "counter_sched",
        "--engine",
        "seq-random",
    ]));
    assert_one_line_error(&mmcheck(&["check", "counter", "--engine", "fuzz"]));
    assert_one_line_error(&mmcheck(&["check", "counter", "--engine", "loom"]));
    assert_one_line_error(&mmcheck(&["mutants", "--engines", "bogus"]));
}

#[test]
fn corrupt_corpus_file_fails_naming_it() {
    // stack_sched is a schedule target: without the shuttle feature the command re-runs
    // itself built with it; the corrupt file must be reported either way.
    let root = scratch_root("corrupt");
    std::fs::create_dir_all(root.join("corpus/stack_sched")).expect("mkdir");
    std::fs::write(root.join("corpus/stack_sched/bad"), [7u8]).expect("write");
    let o = in_root(&root, &["replay", "stack_sched"]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    assert!(out.contains("FAIL corpus/stack_sched/bad"), "{out}");
    assert!(out.contains("0 passed, 1 failed"), "{out}");
    // The corrupt file is still there: replay never deletes anything.
    assert!(root.join("corpus/stack_sched/bad").is_file());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn outside_a_repository_is_a_one_line_error() {
    let d = std::env::temp_dir().join(format!("mmcheck-cli-{}-norepo", std::process::id()));
    std::fs::create_dir_all(&d).expect("mkdir");
    let o = Command::new(BIN)
        .args(["replay", "counter"])
        .current_dir(&d)
        .env_remove("MMCHECK_ROOT")
        .output()
        .expect("run");
    assert_one_line_error(&o);
    let _ = std::fs::remove_dir_all(&d);
}
