//! Every target by name: what the fuzz targets, corpus replay, generated regression tests
//! and the `mmcheck` command call. The catalogue itself is [`crate::targets::all`].

pub use crate::dyn_target::{
    CheckStats, DynTarget, InputStats, Replay, RunError, Schedule, Sequential, REGRESS_SCHEDULES,
};
pub use crate::engine::{Engine, TargetKind};
use crate::report::Failure;

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

/// Reproduces a recorded failure on `name`: a schedule input must follow its byte schedule
/// exactly, or the answer is [`RunError::Diverged`] ([`Replay::Reproduce`]).
pub fn reproduce(name: &str, data: &[u8]) -> Result<(), RunError> {
    find(name)
        .map_err(RunError::UnknownTarget)?
        .reproduce_input(data)
}

/// Replays a regression input on `name` ([`Replay::Regress`]): a schedule that drifted is
/// re-checked under PCT and random schedules.
pub fn regress(name: &str, data: &[u8]) -> Result<InputStats, RunError> {
    find(name)
        .map_err(RunError::UnknownTarget)?
        .regress_input(data)
}

/// For regression tests: replays `data` on `name` as a regression and panics with the report
/// if it fails.
pub fn expect_pass(name: &str, data: &[u8]) {
    if let Err(e) = regress(name, data) {
        panic!("{e}");
    }
}

/// For typed regression tests: runs `input` (a `SeqInput<Op>`, or for a schedule target a
/// `(Scenario<Op>, Vec<u8>)`) on `name` as a regression and panics with the report if it
/// fails.
pub fn expect_pass_typed<I: std::any::Any>(name: &str, input: I) {
    let entry = find(name).unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = entry.replay_typed(&input, Replay::Regress) {
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
    keep_heap();
    if let Some(f) = selftest_crash(name, data) {
        eprintln!("{}", f.render());
        std::process::abort();
    }
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

/// Once per process: tells glibc's malloc to keep the memory an input frees. With its default
/// trim threshold (128 KiB) every input that builds and drops a structure gives the top of the
/// heap back to the kernel (`brk`) and faults it in again on the next input: measured on
/// `percpu_ops`, whose allocators obtain and return hundreds of backing objects per input,
/// that was a sixth of the fuzzer's time (page faults and `brk`), and keeping the heap made
/// it 20% faster. Only the process's memory policy changes, not what any check sees; a no-op
/// off glibc, and under AddressSanitizer, whose `mallopt` does nothing.
pub fn keep_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            /// `M_TRIM_THRESHOLD` and `M_TOP_PAD` of glibc's `<malloc.h>`.
            const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
            const M_TOP_PAD: std::ffi::c_int = -2;
            unsafe extern "C" {
                /// glibc's `mallopt(3)`.
                fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
            }
            // SAFETY: `mallopt` only sets malloc tunables; these two take byte counts.
            unsafe {
                mallopt(M_TRIM_THRESHOLD, 1 << 30);
                mallopt(M_TOP_PAD, 16 << 20);
            }
        });
    }
}

/// The environment variable that plants a crash for the campaign pipeline's self-test.
pub const SELFTEST_CRASH_ENV: &str = "MMCHECK_SELFTEST_CRASH";

/// The campaign pipeline's self-test (`ci/campaign_check.sh`): with
/// `MMCHECK_SELFTEST_CRASH=<target>` set, an input of that target that contains the bytes
/// `CRASH` fails with the title `SELFTEST: planted crash in <target>` (in the fuzz entry
/// only, so triage, minimization, promotion and the report can be checked end to end
/// without building a planted bug). Unset, as everywhere else, it does nothing.
fn selftest_crash(name: &str, data: &[u8]) -> Option<Failure> {
    let want = std::env::var_os(SELFTEST_CRASH_ENV)?;
    if want != name || !data.windows(5).any(|w| w == b"CRASH") {
        return None;
    }
    let mut f = Failure::new(
        "SELFTEST",
        "planted crash",
        name,
        format!("{SELFTEST_CRASH_ENV}={name} and the input contains `CRASH`"),
    );
    f.target = name.to_string();
    f.repro = Some(crate::report::Repro::Input(data.to_vec()));
    Some(f)
}
