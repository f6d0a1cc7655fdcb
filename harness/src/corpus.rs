//! The committed corpora: `corpus/<target>/`, one rule for what a corpus file is, used by
//! plain `cargo test` replay, `mmcheck replay`, `mmcheck list`, `mmcheck seed` and the
//! wiring check.
//!
//! - Every regular file is an input, except dotfiles and `*.txt` files.
//! - `seed-*` files are generated seeds (`mmcheck seed`): replayed as fuzz inputs.
//! - `regress-*` files pin a bug that was found and fixed. Each has a `<name>.txt` sidecar
//!   saying in one sentence or more what bug it pins, and is replayed as a regression
//!   ([`Replay::Regress`](crate::dyn_target::Replay)): a schedule input whose recorded
//!   schedule no longer applies is counted as diverged and its scenario re-checked under PCT
//!   and random schedules, so it cannot drift silently into checking nothing.
//! - A registry target without a corpus directory, or with an empty one, is an error.

use crate::dyn_target::{DynTarget, RunError};
use std::path::{Path, PathBuf};

/// The directory of `target`'s corpus under the repository `root`.
pub fn dir(root: &Path, target: &str) -> PathBuf {
    root.join("corpus").join(target)
}

/// The sorted input files of `corpus/<target>/`; a missing or unreadable directory is an
/// error (one line).
pub fn files(root: &Path, target: &str) -> Result<Vec<PathBuf>, String> {
    let d = dir(root, target);
    let rd = std::fs::read_dir(&d).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("no corpus directory {}", d.display())
        } else {
            format!("cannot read corpus directory {}: {e}", d.display())
        }
    })?;
    let mut out = Vec::new();
    for ent in rd {
        let p = ent
            .map_err(|e| format!("cannot read corpus directory {}: {e}", d.display()))?
            .path();
        if p.is_dir() || !is_input(&p) {
            continue;
        }
        out.push(p);
    }
    out.sort();
    Ok(out)
}

/// Whether a file of a corpus directory is an input (not a dotfile or a `.txt` note).
pub fn is_input(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    !name.starts_with('.') && !name.ends_with(".txt")
}

/// Whether a corpus file is a regression input (replayed as one, documented by a sidecar).
pub fn is_regression(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("regress-"))
}

/// The sidecar note of a regression input: `<file>.txt`.
pub fn note_of(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".txt");
    PathBuf::from(s)
}

/// Replays one corpus file through the fuzz target's own path: regressions as regressions,
/// seeds as fuzz inputs. `Ok(true)` if a regression's schedule diverged (and its scenario
/// was re-checked under other schedules).
pub fn replay_file(t: &dyn DynTarget, p: &Path) -> Result<bool, RunError> {
    let data = std::fs::read(p)
        .map_err(|e| RunError::Decode(format!("cannot read {}: {e}", p.display())))?;
    if is_regression(p) {
        t.regress_input(&data).map(|s| s.diverged)
    } else {
        t.run_input(&data).map(|()| false)
    }
}
