//! Saving what was found: every failure goes to `crashes/<title-hash>/` (input, report,
//! target name), and nothing already there is overwritten or deleted.

use harness::report::{fnv1a, hex, Failure, Repro};
use std::path::{Path, PathBuf};

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
