//! The campaign's record of a run, for `mmcheck report`: one JSON-lines file per run,
//! `campaigns/runs/<run-id>.jsonl`, so reports compare runs over days.
//!
//! Lines (every line has `kind` and `run`):
//! - `start`: `time`, `jobs`, `parallel`, `sanitizer`, `targets`, `secs_per_target`;
//! - `sample`, every few seconds per target: `target`, `t` (seconds since that target
//!   started), `execs`, `exec_s`, `cov`, `corpus`, `crashes`;
//! - `target`, when a target's share ends: `target`, `secs`, `execs`, `exec_s`, `cov`,
//!   `corpus`, `jobs`, `crashes` (titles), `error` (null or a string);
//! - `crash`: `target`, `title`, `hash`, `new` (first sighting of that title ever);
//! - `end`: `time`.
//!
//! Lines are written whole and flushed as they happen, so a run that is killed leaves a
//! readable log of what it did.

use crate::crashes::now_secs;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// An open run log.
#[derive(Debug)]
pub struct RunLog {
    run: String,
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl RunLog {
    /// Creates `campaigns/runs/<run-id>.jsonl` under `root`, the id from the UTC time and
    /// the process id (sortable by time). A log that cannot be created is reported once
    /// and the campaign goes on without it.
    pub fn create(root: &Path) -> RunLog {
        let run = format!("{}-{}", utc_stamp(now_secs()), std::process::id());
        let dir = root.join("campaigns/runs");
        let path = dir.join(format!("{run}.jsonl"));
        let file = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::File::create(&path))
            .map_err(|e| eprintln!("mmcheck: cannot write the run log {}: {e}", path.display()))
            .ok();
        RunLog {
            run,
            path,
            file: Mutex::new(file),
        }
    }

    /// The run's id.
    pub fn id(&self) -> &str {
        &self.run
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line of `kind` with `fields` (an object) and the run id.
    pub fn line(&self, kind: &str, fields: Value) {
        let mut v = fields;
        if let Some(o) = v.as_object_mut() {
            o.insert("kind".into(), json!(kind));
            o.insert("run".into(), json!(self.run));
        }
        let mut g = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = g.as_mut() {
            let ok = writeln!(f, "{v}").and_then(|()| f.flush());
            if let Err(e) = ok {
                eprintln!(
                    "mmcheck: cannot write the run log {}: {e}; no more lines",
                    self.path.display()
                );
                *g = None;
            }
        }
    }
}

/// `YYYYMMDD-HHMMSS` of Unix time `secs`, in UTC.
pub fn utc_stamp(secs: u64) -> String {
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}{mo:02}{d:02}-{:02}{:02}{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// days-to-civil algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_dates() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        // 2026-11-30 10:45:12 UTC.
        assert_eq!(utc_stamp(1_796_035_512), "20261130-104512");
        // A leap day.
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
    }

    #[test]
    fn lines_carry_kind_and_run_and_are_whole() {
        let root = std::env::temp_dir().join(format!("mmcheck-runlog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let log = RunLog::create(&root);
        log.line("start", json!({"jobs": 2, "targets": ["a"]}));
        log.line("sample", json!({"target": "a", "t": 1.5, "execs": 10}));
        let text = std::fs::read_to_string(log.path()).expect("written");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one object per line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["kind"], "start");
        assert_eq!(lines[1]["kind"], "sample");
        assert_eq!(lines[1]["run"], json!(log.id()));
        assert_eq!(lines[1]["execs"], 10);
        let _ = std::fs::remove_dir_all(&root);
    }
}
