//! Saving what was found: every failure goes to `crashes/<title-hash>/`, and nothing already
//! there is overwritten or deleted.
//!
//! One directory per title, across runs and targets (the title is the dedup key, as
//! syzkaller's crash titles are):
//!
//! - `meta.json`: `{"title", "hash", "targets": [..], "count", "first_seen", "last_seen",
//!   "reproducers": [..], "minimized": name | null}` — `count` is the number of times the
//!   crash was seen (each saved reproducer, including one already there), the times are Unix
//!   seconds;
//! - `report.txt`, the first report (`report-<input>.txt` for later reproducers);
//! - every reproducer (`input-*`, `chunks-*.hex`), and the minimized one (`minimized-*`);
//! - `target`, the first target's name.
//!
//! Directories written before `meta.json` existed get one the first time they are touched
//! again ([`Meta::load`] reconstructs it from the files).

use harness::report::{fnv1a, hex, Failure, Repro};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The title hash: the directory name of a title's crashes.
pub fn title_hash(title: &str) -> String {
    format!("{:016x}", fnv1a(title.as_bytes()))
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The record of one title's crashes (`meta.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The title (`CHECKER: kind in function`).
    pub title: String,
    /// Its hash, the directory name.
    pub hash: String,
    /// Every target it was seen on, first first.
    pub targets: Vec<String>,
    /// How many times it was seen.
    pub count: u64,
    /// When it was first and last seen (Unix seconds).
    pub first_seen: u64,
    /// See `first_seen`.
    pub last_seen: u64,
    /// The reproducers' file names, in the order they were saved.
    pub reproducers: Vec<String>,
    /// The minimized reproducer's file name, once there is one.
    pub minimized: Option<String>,
}

/// True for a reproducer's file name.
fn is_reproducer(name: &str) -> bool {
    name.starts_with("input-") || name.starts_with("chunks-")
}

impl Meta {
    /// Reads `dir/meta.json`, or reconstructs the record of an older directory from its
    /// files (the title from `report.txt`'s first line, the hash from the directory's name,
    /// the reproducers and their number as the count, the directory's modification time as
    /// both seen-times); `None` for a directory with no report.
    pub fn load(dir: &Path) -> Option<Meta> {
        if let Some(m) = std::fs::read_to_string(dir.join("meta.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| Meta::from_json(&v))
        {
            return Some(m);
        }
        let report = std::fs::read_to_string(dir.join("report.txt")).ok()?;
        let title = report
            .lines()
            .next()?
            .trim()
            .strip_prefix("MMCHECK-TITLE: ")
            .map_or_else(
                || report.lines().next().unwrap_or("").to_string(),
                |t| t.trim().to_string(),
            );
        let mut reproducers: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| is_reproducer(n))
            .collect();
        reproducers.sort();
        let minimized = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .find(|n| n.starts_with("minimized-"));
        let seen = std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let target = std::fs::read_to_string(dir.join("target"))
            .map(|t| t.trim().to_string())
            .unwrap_or_default();
        // The directory's name is the title hash it was saved under.
        let hash = dir
            .file_name()
            .map_or_else(|| title_hash(&title), |n| n.to_string_lossy().to_string());
        Some(Meta {
            hash,
            title,
            targets: if target.is_empty() {
                Vec::new()
            } else {
                vec![target]
            },
            count: reproducers.len() as u64,
            first_seen: seen,
            last_seen: seen,
            reproducers,
            minimized,
        })
    }

    fn from_json(v: &Value) -> Option<Meta> {
        let strs = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(Meta {
            title: v["title"].as_str()?.to_string(),
            hash: v["hash"].as_str()?.to_string(),
            targets: strs("targets"),
            count: v["count"].as_u64()?,
            first_seen: v["first_seen"].as_u64()?,
            last_seen: v["last_seen"].as_u64()?,
            reproducers: strs("reproducers"),
            minimized: v["minimized"].as_str().map(str::to_string),
        })
    }

    /// The record as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "title": self.title,
            "hash": self.hash,
            "targets": self.targets,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "reproducers": self.reproducers,
            "minimized": self.minimized,
        })
    }

    /// Writes `dir/meta.json` (through a temporary file, so a reader never sees half).
    pub fn store(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(".meta.json.tmp");
        let text = serde_json::to_string_pretty(&self.to_json()).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text + "\n")?;
        std::fs::rename(&tmp, dir.join("meta.json"))
    }
}

/// What [`save_crash`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The crash's directory.
    pub dir: PathBuf,
    /// True if the title had not been seen before (no directory, or an empty one).
    pub new_title: bool,
    /// The record after this sighting.
    pub meta: Meta,
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
        &f.title(),
        &f.target,
        (!name.is_empty()).then_some((name.as_str(), bytes.as_slice())),
        &f.render(),
    )
    .map(|s| s.dir)
}

/// Records one sighting of the crash `title` on `target` in `dir`: writes `input` (if any)
/// and the report (the first report stays `report.txt`; a later reproducer's report goes
/// beside it), and updates `meta.json` (count, last seen, targets, reproducers).
pub fn save_crash(
    dir: &Path,
    title: &str,
    target: &str,
    input: Option<(&str, &[u8])>,
    report: &str,
) -> std::io::Result<Saved> {
    let existed = dir.join("report.txt").exists() || dir.join("meta.json").exists();
    std::fs::create_dir_all(dir)?;
    let now = now_secs();
    let mut meta = if existed { Meta::load(dir) } else { None }.unwrap_or_else(|| Meta {
        title: title.to_string(),
        hash: title_hash(title),
        targets: Vec::new(),
        count: 0,
        first_seen: now,
        last_seen: now,
        reproducers: Vec::new(),
        minimized: None,
    });
    let mut report_name = "report.txt".to_string();
    if let Some((name, bytes)) = input {
        std::fs::write(dir.join(name), bytes)?;
        if dir.join("report.txt").exists() {
            report_name = format!("report-{name}.txt");
        }
        if !meta.reproducers.iter().any(|r| r == name) {
            meta.reproducers.push(name.to_string());
        }
    }
    if !dir.join(&report_name).exists() || report_name != "report.txt" {
        std::fs::write(dir.join(&report_name), report)?;
    }
    if !dir.join("target").exists() {
        std::fs::write(dir.join("target"), format!("{target}\n"))?;
    }
    if !meta.targets.iter().any(|t| t == target) {
        meta.targets.push(target.to_string());
    }
    meta.count += 1;
    meta.last_seen = now;
    meta.store(dir)?;
    Ok(Saved {
        dir: dir.to_path_buf(),
        new_title: !existed,
        meta,
    })
}

/// The marker a failed minimization leaves in a crash directory (its reason inside), so
/// later campaigns do not pick the crash up again on their own (see [`unminimized`]).
pub const MINIMIZE_TRIED: &str = ".minimize-tried";

/// The crashes of `target` in `crashes` (the crash store) with no minimized reproducer and
/// no failed attempt on record, oldest first, as (title, directory, first reproducer): what
/// a campaign of that target minimizes when this run's own crashes leave room.
pub fn unminimized(crashes: &Path, target: &str) -> Vec<(String, PathBuf, PathBuf)> {
    let mut found: Vec<(u64, String, PathBuf, PathBuf)> = std::fs::read_dir(crashes)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|d| d.is_dir() && !d.join(MINIMIZE_TRIED).exists())
        .filter_map(|d| {
            let m = Meta::load(&d)?;
            let first = m.reproducers.first()?.clone();
            (m.minimized.is_none() && m.targets.iter().any(|t| t == target))
                .then(|| (m.first_seen, m.title, d.join(first), d))
        })
        .map(|(seen, title, input, dir)| (seen, title, dir, input))
        .collect();
    found.sort();
    found.into_iter().map(|(_, t, d, i)| (t, d, i)).collect()
}

/// Records `name` as the minimized reproducer of the crash in `dir`.
pub fn set_minimized(dir: &Path, name: &str) -> std::io::Result<()> {
    let mut meta = Meta::load(dir).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} holds no crash record", dir.display()),
        )
    })?;
    meta.minimized = Some(name.to_string());
    meta.store(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mmcheck-crashes-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn sightings_are_counted_across_targets_and_reproducers_kept() {
        let dir = tmp("count");
        let s = save_crash(
            &dir,
            "PANIC: x in f",
            "a",
            Some(("input-1", b"1")),
            "MMCHECK-TITLE: PANIC: x in f\n",
        )
        .expect("saved");
        assert!(s.new_title);
        assert_eq!(
            (s.meta.count, s.meta.targets.clone()),
            (1, vec!["a".to_string()])
        );
        let s = save_crash(
            &dir,
            "PANIC: x in f",
            "b",
            Some(("input-2", b"22")),
            "second",
        )
        .expect("saved");
        assert!(!s.new_title, "the same title is not new");
        assert_eq!(s.meta.count, 2);
        assert_eq!(s.meta.targets, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(
            s.meta.reproducers,
            vec!["input-1".to_string(), "input-2".to_string()]
        );
        // The first report stays; the second goes beside it; both inputs are kept.
        assert!(std::fs::read_to_string(dir.join("report.txt"))
            .expect("report")
            .starts_with("MMCHECK-TITLE"));
        assert_eq!(
            std::fs::read_to_string(dir.join("report-input-2.txt")).expect("second report"),
            "second"
        );
        assert_eq!(std::fs::read(dir.join("input-1")).expect("kept"), b"1");
        // The same reproducer seen again is counted, not listed twice.
        let s = save_crash(&dir, "PANIC: x in f", "a", Some(("input-1", b"1")), "again")
            .expect("saved");
        assert_eq!((s.meta.count, s.meta.reproducers.len()), (3, 2));
        assert!(s.meta.last_seen >= s.meta.first_seen);
        set_minimized(&dir, "minimized-1").expect("recorded");
        assert_eq!(
            Meta::load(&dir).expect("meta").minimized.as_deref(),
            Some("minimized-1")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Later campaigns pick up a target's crashes that were left without a minimized
    /// reproducer, but not one already minimized, one of another target, or one whose
    /// minimization failed.
    #[test]
    fn unminimized_crashes_are_listed_for_their_target() {
        let store = tmp("unmin");
        let save = |hash: &str, title: &str, target: &str| {
            let d = store.join(hash);
            save_crash(&d, title, target, Some(("input-1", b"1")), "r").expect("saved");
            d
        };
        let left = save("aa", "PANIC: left in f", "t");
        let done = save("bb", "PANIC: done in f", "t");
        set_minimized(&done, "minimized-1").expect("recorded");
        save("cc", "PANIC: other in f", "u");
        let tried = save("dd", "PANIC: tried in f", "t");
        std::fs::write(tried.join(MINIMIZE_TRIED), "no smaller input\n").expect("marker");
        assert_eq!(
            unminimized(&store, "t"),
            vec![(
                "PANIC: left in f".to_string(),
                left.clone(),
                left.join("input-1")
            )]
        );
        assert!(unminimized(&store.join("missing"), "t").is_empty());
        let _ = std::fs::remove_dir_all(&store);
    }

    #[test]
    fn an_old_directory_gets_its_record_reconstructed() {
        let base = tmp("old");
        let dir = base.join(title_hash("DIFF: result mismatch in g"));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("report.txt"),
            "MMCHECK-TITLE: DIFF: result mismatch in g\nmore\n",
        )
        .expect("w");
        std::fs::write(dir.join("input-aa"), b"x").expect("w");
        std::fs::write(dir.join("input-bb"), b"y").expect("w");
        std::fs::write(dir.join("target"), "maple_ops\n").expect("w");
        let m = Meta::load(&dir).expect("reconstructed");
        assert_eq!(m.title, "DIFF: result mismatch in g");
        assert_eq!(m.hash, title_hash("DIFF: result mismatch in g"));
        assert_eq!(
            (m.count, m.targets.clone()),
            (2, vec!["maple_ops".to_string()])
        );
        let s =
            save_crash(&dir, &m.title, "maple_ops", Some(("input-cc", b"z")), "r").expect("saved");
        assert!(!s.new_title);
        assert_eq!(s.meta.count, 3);
        assert_eq!(s.meta.reproducers.len(), 3);
        let _ = std::fs::remove_dir_all(&base);
    }
}
