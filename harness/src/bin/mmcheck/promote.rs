//! `mmcheck promote CRASH`: turns a saved crash into a committed regression.
//!
//! The crash's minimized reproducer (else its smallest one) goes into
//! `corpus/<target>/regress-<name>` with its one-sentence note `regress-<name>.txt` (plain
//! `cargo test` replays it as a regression), and a typed `#[test]` of the same input is
//! appended to `harness/tests/integration/regressions.rs` (typed, so it survives changes to
//! the byte decoder). Both fail until the bug is fixed, and pin it afterwards. Nothing
//! existing is overwritten.

use crate::crashes::{now_secs, Meta};
use crate::runlog::utc_stamp;
use crate::{repo_root, CliError, CliResult};
use harness::registry::{self, RunError, TargetKind};
use std::path::{Path, PathBuf};

/// Arguments of `mmcheck promote`.
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// The crash: its directory (`crashes/<hash>`), its title hash, or one of its files.
    pub crash: String,
    /// The regression's name: `corpus/<target>/regress-<NAME>` (default: from the title).
    #[arg(long)]
    pub name: Option<String>,
    /// The one-sentence note on the bug it pins (default: the title, where and when it was
    /// found).
    #[arg(long)]
    pub note: Option<String>,
    /// The target, when the crash was seen on several (default: the first).
    #[arg(long)]
    pub target: Option<String>,
}

/// Where the promoted typed tests go.
const REGRESSIONS: &str = "harness/tests/integration/regressions.rs";

/// Promotes the crash.
pub fn run(a: &PromoteArgs) -> CliResult {
    let root = repo_root()?;
    let dir = crash_dir(&root, &a.crash)?;
    let meta = Meta::load(&dir)
        .ok_or_else(|| CliError(format!("{} holds no crash report", dir.display())))?;
    let target = match (&a.target, meta.targets.first()) {
        (Some(t), _) if meta.targets.contains(t) => t.clone(),
        (Some(t), _) => bail!(
            "the crash was not seen on target {t} (it was on: {})",
            meta.targets.join(", ")
        ),
        (None, Some(t)) => t.clone(),
        (None, None) => bail!("{} names no target", dir.display()),
    };
    let t = registry::find(&target).map_err(CliError)?;
    let (file, data) = reproducer(&dir, &meta)?;
    let (imports, expr) = t.typed_input(&data).map_err(|e| {
        CliError(format!(
            "{} does not decode as a {target} input: {e}",
            file.display()
        ))
    })?;
    let name = match &a.name {
        Some(n) => {
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                bail!("--name {n:?}: use letters, digits and '-' only");
            }
            n.clone()
        }
        None => slug(&meta.title, &meta.hash),
    };
    let note = match &a.note {
        Some(n) if n.trim().is_empty() => bail!("--note is empty"),
        Some(n) => n.trim().to_string(),
        None => default_note(&meta, &target, &file, data.len()),
    };
    let corpus_file = root
        .join("corpus")
        .join(&target)
        .join(format!("regress-{name}"));
    let note_file = harness::corpus::note_of(&corpus_file);
    if corpus_file.exists() || note_file.exists() {
        bail!(
            "{} already exists (choose another --name)",
            crate::rel(&root, &corpus_file)
        );
    }
    let tests = root.join(REGRESSIONS);
    let existing = std::fs::read_to_string(&tests)
        .map_err(|e| CliError(format!("cannot read {}: {e}", tests.display())))?;
    let fn_name = format!("regress_{}_{}", target, name.replace('-', "_"));
    if existing.contains(&format!("fn {fn_name}()")) {
        bail!("{REGRESSIONS} already has a test `{fn_name}` (choose another --name)");
    }
    let test = regression_test(&fn_name, &note, &target, t.kind(), &imports, &expr);
    std::fs::write(&corpus_file, &data)
        .map_err(|e| CliError(format!("cannot write {}: {e}", corpus_file.display())))?;
    std::fs::write(&note_file, format!("{note}\n"))
        .map_err(|e| CliError(format!("cannot write {}: {e}", note_file.display())))?;
    let mut text = existing;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&test);
    std::fs::write(&tests, text)
        .map_err(|e| CliError(format!("cannot write {}: {e}", tests.display())))?;
    println!("{}", crate::rel(&root, &corpus_file));
    println!("{}", crate::rel(&root, &note_file));
    println!("{REGRESSIONS}: test {fn_name}");
    // Say whether it passes yet (where this build can run the target).
    if t.kind() == TargetKind::Sequential || crate::cargo::has_shuttle() {
        match t.regress_input(&data) {
            Err(RunError::Failure(f)) => println!(
                "it still fails ({}): the regression fails until the bug is fixed",
                f.title()
            ),
            Err(e) => println!("it does not run: {e}"),
            Ok(_) => println!("it passes: the bug is fixed, and now pinned"),
        }
    }
    Ok(0)
}

/// The crash directory `spec` names: a directory, a file in one, or a title hash.
fn crash_dir(root: &Path, spec: &str) -> Result<PathBuf, CliError> {
    let p = Path::new(spec);
    let candidates = [
        p.to_path_buf(),
        root.join(spec),
        root.join("crashes").join(spec),
    ];
    for c in candidates {
        if c.is_dir() && (c.join("report.txt").is_file() || c.join("meta.json").is_file()) {
            return Ok(c);
        }
        if c.is_file() {
            if let Some(d) = c.parent().filter(|d| d.join("report.txt").is_file()) {
                return Ok(d.to_path_buf());
            }
        }
    }
    bail!("no crash {spec} (a crashes/<hash> directory, its hash, or a file in it)")
}

/// The reproducer to promote: the minimized one, else the smallest input.
fn reproducer(dir: &Path, meta: &Meta) -> Result<(PathBuf, Vec<u8>), CliError> {
    let mut names: Vec<&String> = meta.minimized.iter().collect();
    let mut inputs: Vec<(u64, &String)> = meta
        .reproducers
        .iter()
        .filter(|n| n.starts_with("input-"))
        .map(|n| {
            (
                std::fs::metadata(dir.join(n)).map_or(u64::MAX, |m| m.len()),
                n,
            )
        })
        .collect();
    inputs.sort();
    names.extend(inputs.into_iter().map(|(_, n)| n));
    for n in names {
        let p = dir.join(n);
        if let Ok(d) = std::fs::read(&p) {
            return Ok((p, d));
        }
    }
    if meta.reproducers.iter().any(|n| n.starts_with("chunks-")) {
        bail!(
            "{} has only proptest chunk reproducers, which are not fuzz inputs; paste the test from its report instead",
            dir.display()
        );
    }
    bail!("{} holds no readable reproducer", dir.display())
}

/// A regression name from a title: its words, lower case, joined by '-', at most 48
/// characters, then the first 8 digits of the title hash (titles often share words).
pub fn slug(title: &str, hash: &str) -> String {
    let mut s = String::new();
    for w in title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if s.len() + w.len() + 1 > 48 {
            break;
        }
        if !s.is_empty() {
            s.push('-');
        }
        s.push_str(&w.to_ascii_lowercase());
    }
    let h: String = hash.chars().take(8).collect();
    if s.is_empty() {
        h
    } else {
        format!("{s}-{h}")
    }
}

fn default_note(meta: &Meta, target: &str, file: &Path, len: usize) -> String {
    let day = utc_stamp(if meta.first_seen > 0 {
        meta.first_seen
    } else {
        now_secs()
    });
    let what =
        if meta.minimized.is_some() && file.ends_with(meta.minimized.as_deref().unwrap_or("")) {
            format!("the minimized reproducer ({len} bytes)")
        } else {
            format!("a reproducer ({len} bytes)")
        };
    format!(
        "Pins `{}`, found on {target} on {} UTC and seen {} time(s); {what}.",
        meta.title,
        &day[..8],
        meta.count
    )
}

/// The typed `#[test]` appended to the regressions file.
fn regression_test(
    fn_name: &str,
    note: &str,
    target: &str,
    kind: TargetKind,
    imports: &str,
    expr: &str,
) -> String {
    let doc: String = note.lines().map(|l| format!("/// {l}\n")).collect();
    let cfg = if kind == TargetKind::Schedule {
        "#[cfg(feature = \"shuttle\")]\n"
    } else {
        ""
    };
    format!(
        "{doc}{cfg}#[test]\nfn {fn_name}() {{\n{imports}    let input = {expr};\n    harness::registry::expect_pass_typed({target:?}, input);\n}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_words_and_a_hash() {
        assert_eq!(
            slug(
                "VALIDATE: invalid structure in percpu_ops::AllocBatch",
                "0123456789abcdef"
            ),
            "validate-invalid-structure-in-percpu-ops-01234567"
        );
        assert_eq!(slug("", "0123456789abcdef"), "01234567");
    }

    #[test]
    fn schedule_tests_need_the_shuttle_feature() {
        let t = regression_test(
            "regress_x",
            "Pins a bug.",
            "x_sched",
            TargetKind::Schedule,
            "    use a::b;\n",
            "(s, v)",
        );
        assert!(
            t.starts_with(
                "/// Pins a bug.\n#[cfg(feature = \"shuttle\")]\n#[test]\nfn regress_x() {"
            ),
            "{t}"
        );
        assert!(t.contains("expect_pass_typed(\"x_sched\", input)"), "{t}");
        let t = regression_test("regress_y", "Pins.", "y", TargetKind::Sequential, "", "e");
        assert!(!t.contains("cfg"), "{t}");
    }
}
