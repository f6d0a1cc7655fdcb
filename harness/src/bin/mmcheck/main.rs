//! `mmcheck`: list, replay, check, fuzz and mutation-test the registered targets.
//!
//! Every subcommand works from the repository root (found by walking up from the current
//! directory to the directory holding a `[workspace]` `Cargo.toml` and `corpus/`, or from
//! `MMCHECK_ROOT`). Bad input of any kind gets one `mmcheck: error: ...` line and exit code 2;
//! a bug found gets its report and exit code 1.

/// Returns a [`CliError`] built from a format string.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err($crate::CliError(format!($($t)*)))
    };
}

mod campaign;
mod cargo;
mod check;
mod coverage;
mod crashes;
mod mutants;
mod promote;
mod replay;
mod report;
mod runlog;
mod seed;
mod sim;

use clap::{Parser, Subcommand};
use harness::registry::{self, DynTarget};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Checks Linux memory-management algorithms: corpus replay, random and PCT schedules,
/// proptest, libFuzzer campaigns, and planted-bug (mutant) runs.
#[derive(Debug, Parser)]
#[command(name = "mmcheck", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Lists the registered targets: engine, corpus size, what each checks.
    List,
    /// Replays every file of `corpus/<target>/` (all targets if none given).
    Replay {
        /// Targets to replay (default: all).
        targets: Vec<String>,
    },
    /// Runs random inputs (or proptest cases) on one target within a budget.
    Check(check::CheckArgs),
    /// Runs a libFuzzer campaign over the targets and triages the crashes.
    Campaign(campaign::CampaignArgs),
    /// Applies each planted bug in `mutants/<algo>/` and checks that its engine catches it;
    /// with `--matrix`, runs every applicable engine on every planted bug.
    Mutants(mutants::MutantsArgs),
    /// Writes generated seeds into `corpus/<target>/` in the target's input framing.
    Seed(seed::SeedArgs),
    /// Replays a page trace (a file or a generated one) through page-replacement policies and
    /// prints misses per policy and cache size; `--plot` draws the miss-ratio curves.
    Sim(sim::SimArgs),
    /// Turns a saved crash into a committed regression: its minimized reproducer into
    /// `corpus/<target>/regress-<name>` with a one-sentence note, and a typed `#[test]` in
    /// `harness/tests/integration/regressions.rs`.
    Promote(promote::PromoteArgs),
    /// Line coverage of a target's corpus per source file (`cargo fuzz coverage` and
    /// `llvm-cov`), written to `campaigns/coverage/<target>.json`; `--cmin` minimizes the
    /// corpus first.
    Coverage(coverage::CoverageArgs),
    /// Writes a static, self-contained HTML report (`campaigns/report.html`): campaign runs'
    /// execs/s and coverage over time, crashes, the planted-bug matrix, coverage per file and
    /// miss-ratio curves.
    Report(report::ReportArgs),
}

/// A usage or environment error: reported as one line, exit code 2.
#[derive(Debug)]
pub struct CliError(pub String);

impl<T: std::fmt::Display> From<T> for CliError {
    fn from(e: T) -> Self {
        CliError(e.to_string())
    }
}

/// The result of a subcommand: its exit code, or a usage/environment error.
pub type CliResult = Result<u8, CliError>;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                let _ = e.print();
                return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
            }
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid usage")
                .trim();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("mmcheck: error: {first} (see `mmcheck --help`)");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Cmd::List => list(),
        Cmd::Replay { targets } => replay::run(&targets),
        Cmd::Check(args) => check::run(&args),
        Cmd::Campaign(args) => campaign::run(&args),
        Cmd::Mutants(args) => mutants::run(&args),
        Cmd::Seed(args) => seed::run(&args),
        Cmd::Sim(args) => sim::run(&args),
        Cmd::Promote(args) => promote::run(&args),
        Cmd::Coverage(args) => coverage::run(&args),
        Cmd::Report(args) => report::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(CliError(msg)) => {
            let line = msg.lines().next().unwrap_or("failed");
            eprintln!("mmcheck: error: {line}");
            ExitCode::from(2)
        }
    }
}

/// The repository root: the nearest ancestor of the current directory holding a
/// `Cargo.toml` with `[workspace]` and a `corpus/` directory, else `MMCHECK_ROOT`.
pub fn repo_root() -> Result<PathBuf, CliError> {
    let is_root = |d: &Path| {
        d.join("corpus").is_dir()
            && std::fs::read_to_string(d.join("Cargo.toml"))
                .is_ok_and(|s| s.contains("[workspace]"))
    };
    if let Ok(cwd) = std::env::current_dir() {
        if let Some(d) = cwd.ancestors().find(|d| is_root(d)) {
            return Ok(d.to_path_buf());
        }
    }
    match std::env::var_os("MMCHECK_ROOT") {
        Some(r) if is_root(Path::new(&r)) => Ok(PathBuf::from(r)),
        Some(r) => bail!(
            "MMCHECK_ROOT={} is not an mmcheck repository (no `[workspace]` Cargo.toml and corpus/)",
            Path::new(&r).display()
        ),
        None => bail!(
            "not inside an mmcheck repository (no ancestor with a `[workspace]` Cargo.toml and corpus/) and MMCHECK_ROOT is not set"
        ),
    }
}

/// The workspace whose sources build this command: `root` if it holds the harness crate,
/// else the workspace this binary was compiled from.
pub fn source_workspace(root: &Path) -> PathBuf {
    if root.join("harness/Cargo.toml").is_file() {
        return root.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.to_path_buf())
}

/// Resolves target names (all targets if `names` is empty); an unknown name is an error.
pub fn resolve_targets(names: &[String]) -> Result<Vec<&'static dyn DynTarget>, CliError> {
    if names.is_empty() {
        return Ok(registry::all().iter().map(|t| t.as_ref()).collect());
    }
    let mut out: Vec<&'static dyn DynTarget> = Vec::new();
    for n in names {
        let t = registry::find(n).map_err(CliError)?;
        if !out.iter().any(|o| o.name() == t.name()) {
            out.push(t);
        }
    }
    Ok(out)
}

/// The input files of `corpus/<target>/` (the rule is [`harness::corpus`]'s).
pub fn corpus_files(root: &Path, target: &str) -> Result<Vec<PathBuf>, CliError> {
    harness::corpus::files(root, target).map_err(CliError)
}

/// `path` relative to `root`, for messages.
pub fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn list() -> CliResult {
    let root = repo_root().ok();
    let targets = registry::all();
    let w = targets
        .iter()
        .map(|t| t.name().len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!("{:w$}  {:10}  {:>6}  about", "target", "kind", "corpus");
    for t in targets {
        let n = match &root {
            Some(r) => corpus_files(r, t.name()).map_or("?".to_string(), |f| f.len().to_string()),
            None => "-".to_string(),
        };
        println!(
            "{:w$}  {:10}  {:>6}  {}",
            t.name(),
            t.kind().as_str(),
            n,
            t.about()
        );
    }
    Ok(0)
}
