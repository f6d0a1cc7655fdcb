//! The wiring of every registry target agrees across the places a target touches: the
//! registry, `fuzz/Cargo.toml`, `fuzz/fuzz_targets/`, `corpus/`, the mutant headers and the
//! committed mutant matrix (`mutants/matrix.jsonl`, the output of
//! `mmcheck mutants --matrix --json`).

use harness::mutant::{load_conf, parse_header};
use harness::registry::{self, TargetKind};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn registry_names() -> BTreeSet<String> {
    registry::all()
        .iter()
        .map(|t| t.name().to_string())
        .collect()
}

/// `[[bin]]` entries of fuzz/Cargo.toml: name → (path, required features).
fn fuzz_bins() -> BTreeMap<String, (String, Vec<String>)> {
    let text = std::fs::read_to_string(root().join("fuzz/Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut out = BTreeMap::new();
    for block in text.split("[[bin]]").skip(1) {
        let block = block.split("\n[").next().unwrap_or(block);
        let field = |k: &str| {
            block.lines().find_map(|l| {
                let (key, v) = l.split_once('=')?;
                (key.trim() == k).then(|| v.trim().to_string())
            })
        };
        let name = field("name")
            .expect("[[bin]] name")
            .trim_matches('"')
            .to_string();
        let path = field("path")
            .expect("[[bin]] path")
            .trim_matches('"')
            .to_string();
        let feats = field("required-features")
            .map(|v| {
                v.trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .map(|f| f.trim().trim_matches('"').to_string())
                    .filter(|f| !f.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        out.insert(name, (path, feats));
    }
    out
}

#[test]
fn registry_names_follow_the_naming_rule() {
    for t in registry::all() {
        let sched = t.name().ends_with("_sched");
        assert_eq!(
            sched,
            t.kind() == TargetKind::Schedule,
            "`{}`: a target's name ends in `_sched` exactly when it is a schedule target",
            t.name()
        );
        assert!(
            root().join("mutants").join(t.algo()).is_dir(),
            "`{}` names algorithm `{}` but mutants/{} does not exist",
            t.name(),
            t.algo(),
            t.algo()
        );
    }
}

#[test]
fn registry_fuzz_bins_fuzz_targets_and_corpora_agree() {
    let names = registry_names();
    let bins = fuzz_bins();
    let bin_names: BTreeSet<String> = bins.keys().cloned().collect();
    assert_eq!(names, bin_names, "registry vs fuzz/Cargo.toml [[bin]]s");
    let files: BTreeSet<String> = std::fs::read_dir(root().join("fuzz/fuzz_targets"))
        .expect("fuzz_targets")
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let stem = p.file_stem()?.to_string_lossy().to_string();
            (p.extension()? == "rs").then_some(stem)
        })
        .collect();
    assert_eq!(names, files, "registry vs fuzz/fuzz_targets/*.rs");
    let corpora: BTreeSet<String> = std::fs::read_dir(root().join("corpus"))
        .expect("corpus")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, corpora, "registry vs corpus/ directories");
    for t in registry::all() {
        let (path, feats) = &bins[t.name()];
        assert_eq!(path, &format!("fuzz_targets/{}.rs", t.name()));
        let needs = t.kind() == TargetKind::Schedule;
        assert_eq!(
            feats.iter().any(|f| f == "shuttle"),
            needs,
            "`{}`: schedule targets, and only they, need required-features = [\"shuttle\"]",
            t.name()
        );
        let src = std::fs::read_to_string(root().join("fuzz").join(path)).expect("fuzz target");
        assert!(
            src.contains(&format!("harness::registry::fuzz(\"{}\", data)", t.name())),
            "{path} must call harness::registry::fuzz(\"{}\", data)",
            t.name()
        );
        let files = harness::corpus::files(&root(), t.name()).expect("corpus");
        assert!(!files.is_empty(), "corpus/{} is empty", t.name());
    }
}

#[test]
fn every_mutant_header_parses_and_every_algorithm_conf_loads() {
    let mut n = 0;
    for algo in std::fs::read_dir(root().join("mutants"))
        .expect("mutants")
        .flatten()
    {
        if !algo.path().is_dir() {
            continue;
        }
        let a = algo.file_name().to_string_lossy().to_string();
        load_conf(&root(), &a).unwrap_or_else(|e| panic!("{e}"));
        for p in std::fs::read_dir(algo.path()).expect("algo dir").flatten() {
            let p = p.path();
            if p.extension().is_some_and(|x| x == "patch") {
                let text = std::fs::read_to_string(&p).expect("patch");
                parse_header(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
    }
    assert!(n > 0, "no mutants found");
}

/// A planted bug whose patch no longer applies is a mutant nobody checks any more: every
/// patch must apply to the tree as it is (`git apply --check`, the way `mmcheck mutants`
/// applies it).
#[test]
fn every_mutant_patch_applies_to_the_current_tree() {
    let mut stale = Vec::new();
    let mut n = 0;
    for algo in std::fs::read_dir(root().join("mutants"))
        .expect("mutants")
        .flatten()
    {
        if !algo.path().is_dir() {
            continue;
        }
        for p in std::fs::read_dir(algo.path()).expect("algo dir").flatten() {
            let p = p.path();
            if p.extension().is_none_or(|x| x != "patch") {
                continue;
            }
            n += 1;
            let out = std::process::Command::new("git")
                .arg("apply")
                .arg("--check")
                .arg(&p)
                .current_dir(root())
                .output()
                .expect("git runs");
            if !out.status.success() {
                stale.push(format!(
                    "{}: {}",
                    p.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
    }
    assert!(n > 0, "no mutants found");
    assert!(
        stale.is_empty(),
        "patches that no longer apply:\n{}",
        stale.join("\n")
    );
}

/// One cell of the committed matrix.
struct CellResult {
    algo: String,
    mutant: String,
    engine: String,
    caught: bool,
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[at..];
    if let Some(s) = rest.strip_prefix('"') {
        let mut end = 0;
        let b = s.as_bytes();
        while end < b.len() && !(b[end] == b'"' && (end == 0 || b[end - 1] != b'\\')) {
            end += 1;
        }
        Some(&s[..end])
    } else {
        rest.split([',', '}']).next()
    }
}

fn matrix() -> Vec<CellResult> {
    let p = root().join("mutants/matrix.jsonl");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| CellResult {
            algo: field(l, "algo").expect("algo").to_string(),
            mutant: field(l, "mutant").expect("mutant").to_string(),
            engine: field(l, "engine").expect("engine").to_string(),
            caught: field(l, "caught").expect("caught") == "true",
        })
        .collect()
}

#[test]
fn every_registry_target_catches_a_planted_bug_in_the_committed_matrix() {
    let cells = matrix();
    for t in registry::all() {
        let suffix = format!(":{}", t.name());
        let caught: Vec<&CellResult> = cells
            .iter()
            .filter(|c| c.caught && c.engine.ends_with(&suffix))
            .collect();
        assert!(
            !caught.is_empty(),
            "no planted bug is caught by an engine running `{}` in mutants/matrix.jsonl",
            t.name()
        );
    }
    // Every cell names a mutant that exists.
    for c in &cells {
        let p = root()
            .join("mutants")
            .join(&c.algo)
            .join(format!("{}.patch", c.mutant));
        assert!(
            p.is_file(),
            "matrix.jsonl names {} which does not exist",
            p.display()
        );
    }
}
