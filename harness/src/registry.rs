//! Every target by name: what the fuzz targets, corpus replay, generated regression tests
//! and the `mmcheck` command call. The catalogue itself is [`crate::targets::all`].

pub use crate::dyn_target::{CheckStats, DynTarget, InputStats, RunError, Schedule, Sequential};
pub use crate::engine::{Engine, TargetKind};

/// Every registered target.
pub fn all() -> &'static [Box<dyn DynTarget>] {
    static ALL: std::sync::OnceLock<Vec<Box<dyn DynTarget>>> = std::sync::OnceLock::new();
    ALL.get_or_init(crate::targets::all)
}

/// The target called `name`, or an error listing the known ones.
pub fn find(name: &str) -> Result<&'static dyn DynTarget, String> {
    all()
        .iter()
        .find(|t| t.name() == name)
        .map(|b| b.as_ref())
        .ok_or_else(|| {
            let names: Vec<&str> = all().iter().map(|t| t.name()).collect();
            format!("unknown target `{name}` (known: {})", names.join(", "))
        })
}

/// Runs one fuzz input on the target `name` (what the fuzz targets and the CLI's replay of
/// fuzzer output call).
pub fn run(name: &str, data: &[u8]) -> Result<(), RunError> {
    find(name).map_err(RunError::UnknownTarget)?.run_input(data)
}

/// Replays a recorded input on `name`: a schedule input must follow its byte schedule
/// (what regression corpus files and generated tests call).
pub fn replay(name: &str, data: &[u8]) -> Result<(), RunError> {
    find(name)
        .map_err(RunError::UnknownTarget)?
        .replay_input(data)
}

/// For regression tests: replays `data` on `name` strictly and panics with the report if it
/// fails or no longer follows its recorded schedule.
pub fn expect_pass(name: &str, data: &[u8]) {
    if let Err(e) = replay(name, data) {
        panic!("{e}");
    }
}

/// For regression tests: replays a proptest case (its op chunks) on `name` and panics with
/// the report if it fails.
pub fn expect_pass_chunks(name: &str, chunks: &[Vec<u8>]) {
    let entry = find(name).unwrap_or_else(|e| panic!("{e}"));
    if let Err(f) = entry.proptest_replay(chunks) {
        panic!("{}", f.render());
    }
}

/// The body of every fuzz target: runs the input; undecodable inputs are skipped; a failure
/// prints its report (title first, prefixed `MMCHECK-TITLE:`) and aborts, so libFuzzer saves
/// the input as a crash. An unknown target name, or a build that cannot run the target,
/// aborts at once: a fuzz target that checks nothing must not look like one that passes.
pub fn fuzz(name: &str, data: &[u8]) {
    match run(name, data) {
        Ok(()) | Err(RunError::Decode(_)) => {}
        Err(RunError::UnknownTarget(e))
        | Err(RunError::Unavailable(e))
        | Err(RunError::Diverged(e)) => {
            eprintln!("mmcheck: {e}");
            std::process::abort();
        }
        Err(RunError::Failure(f)) => {
            eprintln!("{}", f.render());
            std::process::abort();
        }
    }
}
