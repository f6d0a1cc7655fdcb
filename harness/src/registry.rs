//! Every target the project checks, by name, behind one object-safe interface that the fuzz
//! targets, corpus replay, the proptest bridge and the `mmcheck` command share.

use crate::engine::random::{Budget, Rng};
use crate::report::{Failure, Repro};
use crate::target::{decode, Scenario, SeqInput, Target};

/// Which engine a registry target's fuzz input drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// The sequential differential engine (builds without shuttle, runs at native speed).
    Sequential,
    /// The schedule engine (needs the `shuttle` feature).
    Schedule,
}

impl EngineKind {
    /// `sequential` or `schedule`.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Sequential => "sequential",
            EngineKind::Schedule => "schedule",
        }
    }
}

/// Why an input did not pass.
#[derive(Debug)]
pub enum RunError {
    /// The bytes are not an input of this target.
    Decode(String),
    /// This build cannot run the target (a schedule target without the `shuttle` feature).
    Unavailable(String),
    /// A bug.
    Failure(Box<Failure>),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Decode(e) | RunError::Unavailable(e) => f.write_str(e),
            RunError::Failure(fl) => f.write_str(&fl.render()),
        }
    }
}

/// What a budgeted check explored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckStats {
    /// Inputs (sequential) or scenarios (schedule) run.
    pub inputs: u64,
    /// Executions (schedules) run; equals `inputs` for sequential targets.
    pub executions: u64,
}

/// How a schedule target explores interleavings in [`DynTarget::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    /// Shuttle's random scheduler.
    Random,
    /// PCT with depth 3.
    Pct,
}

/// A registered target, type-erased.
pub trait DynTarget: Send + Sync {
    /// Its name: the fuzz target, the corpus directory and the CLI all use it.
    fn name(&self) -> &'static str;
    /// One line about what it checks.
    fn about(&self) -> &'static str;
    /// The engine its fuzz input drives.
    fn engine(&self) -> EngineKind;
    /// Runs one fuzz input through exactly the path the fuzz target uses.
    fn run_input(&self, data: &[u8]) -> Result<(), RunError>;
    /// Runs random inputs within `budget`.
    fn check(
        &self,
        budget: Budget,
        seed: u64,
        schedule: ScheduleKind,
    ) -> Result<CheckStats, Failure>;
    /// Runs `cases` proptest state-machine cases (sequential engine, any target's ops).
    fn proptest(&self, cases: u32, seed: u64) -> Result<(), Failure>;
    /// Replays a proptest case.
    fn proptest_replay(&self, chunks: &[Vec<u8>]) -> Result<(), Failure>;
}

/// A target checked by the sequential engine.
pub struct Sequential<T> {
    /// The target.
    pub target: T,
    /// One line about it.
    pub about: &'static str,
}

fn out_of_time(start: std::time::Instant, budget: &Budget) -> bool {
    budget.time.is_some_and(|t| start.elapsed() >= t)
}

impl<T: Target + Clone> DynTarget for Sequential<T> {
    fn name(&self) -> &'static str {
        self.target.name()
    }
    fn about(&self) -> &'static str {
        self.about
    }
    fn engine(&self) -> EngineKind {
        EngineKind::Sequential
    }
    fn run_input(&self, data: &[u8]) -> Result<(), RunError> {
        let input: SeqInput<T::Op> = decode(data).map_err(RunError::Decode)?;
        crate::engine::sequential::run(&self.target, &input).map_err(|mut f| {
            f.repro = Some(Repro::Input(data.to_vec()));
            RunError::Failure(Box::new(f))
        })
    }
    fn check(&self, budget: Budget, seed: u64, _: ScheduleKind) -> Result<CheckStats, Failure> {
        let start = std::time::Instant::now();
        let mut rng = Rng::new(seed);
        let mut stats = CheckStats::default();
        while stats.inputs < budget.iterations && !out_of_time(start, &budget) {
            let len = 8 + rng.below(256) as usize;
            let data = rng.bytes(len);
            stats.inputs += 1;
            stats.executions += 1;
            match self.run_input(&data) {
                Ok(()) | Err(RunError::Decode(_)) | Err(RunError::Unavailable(_)) => {}
                Err(RunError::Failure(f)) => return Err(*f),
            }
        }
        Ok(stats)
    }
    fn proptest(&self, cases: u32, seed: u64) -> Result<(), Failure> {
        crate::engine::proptest::check(&self.target, cases, seed)
    }
    fn proptest_replay(&self, chunks: &[Vec<u8>]) -> Result<(), Failure> {
        crate::engine::proptest::replay(&self.target, chunks)
    }
}

/// A target checked by the schedule engine (concurrent scenarios under shuttle).
pub struct Schedule<T> {
    /// The target.
    pub target: T,
    /// One line about it.
    pub about: &'static str,
    /// Let only the best-priority runnable tasks run (for the PREEMPT_RT locks).
    pub priority_aware: bool,
}

impl<T: Target + Clone> DynTarget for Schedule<T> {
    fn name(&self) -> &'static str {
        self.target.name()
    }
    fn about(&self) -> &'static str {
        self.about
    }
    fn engine(&self) -> EngineKind {
        EngineKind::Schedule
    }
    #[cfg(all(feature = "shuttle", not(mmcheck_loom)))]
    fn run_input(&self, data: &[u8]) -> Result<(), RunError> {
        use crate::engine::schedule::{self, Mode};
        let (sc_bytes, sched) = schedule::split_input(data).map_err(RunError::Decode)?;
        let sc: Scenario<T::Op> = decode(sc_bytes).map_err(RunError::Decode)?;
        schedule::check(
            &self.target,
            &sc,
            Some(sc_bytes),
            Mode::Bytes(sched.to_vec()),
            self.priority_aware,
        )
        .map(|_| ())
        .map_err(|f| RunError::Failure(Box::new(f)))
    }
    #[cfg(not(all(feature = "shuttle", not(mmcheck_loom))))]
    fn run_input(&self, data: &[u8]) -> Result<(), RunError> {
        // Validate the framing so a corrupt file is still reported as such.
        let (sc_bytes, _) = crate::target::split_input(data).map_err(RunError::Decode)?;
        let _: Scenario<T::Op> = decode(sc_bytes).map_err(RunError::Decode)?;
        Err(RunError::Unavailable(format!(
            "target `{}` runs on the schedule engine: build with `--features shuttle`",
            self.name()
        )))
    }
    #[cfg(all(feature = "shuttle", not(mmcheck_loom)))]
    fn check(&self, budget: Budget, seed: u64, kind: ScheduleKind) -> Result<CheckStats, Failure> {
        use crate::engine::schedule::{self, Mode};
        let start = std::time::Instant::now();
        let mut rng = Rng::new(seed);
        let mut stats = CheckStats::default();
        while stats.inputs < budget.iterations && !out_of_time(start, &budget) {
            let len = 16 + rng.below(64) as usize;
            let bytes = rng.bytes(len);
            let Ok(sc) = decode::<Scenario<T::Op>>(&bytes) else {
                continue;
            };
            stats.inputs += 1;
            let seed = rng.next_u64();
            let mode = match kind {
                ScheduleKind::Random => Mode::Random {
                    seed,
                    iterations: 50,
                },
                ScheduleKind::Pct => Mode::Pct {
                    seed,
                    depth: 3,
                    iterations: 50,
                },
            };
            let ex = schedule::check(&self.target, &sc, Some(&bytes), mode, self.priority_aware)?;
            stats.executions += ex.executions as u64;
        }
        Ok(stats)
    }
    #[cfg(not(all(feature = "shuttle", not(mmcheck_loom))))]
    fn check(&self, _: Budget, _: u64, _: ScheduleKind) -> Result<CheckStats, Failure> {
        Err(Failure::new(
            "MMCHECK",
            "schedule engine unavailable",
            self.name(),
            "this build has no shuttle backend: build with `--features shuttle`",
        ))
    }
    fn proptest(&self, cases: u32, seed: u64) -> Result<(), Failure> {
        crate::engine::proptest::check(&self.target, cases, seed)
    }
    fn proptest_replay(&self, chunks: &[Vec<u8>]) -> Result<(), Failure> {
        crate::engine::proptest::replay(&self.target, chunks)
    }
}

/// Every registered target.
pub fn all() -> &'static [Box<dyn DynTarget>] {
    static ALL: std::sync::OnceLock<Vec<Box<dyn DynTarget>>> = std::sync::OnceLock::new();
    ALL.get_or_init(crate::targets::registry)
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

/// Runs one input on the target `name` (what corpus replay and the CLI call).
pub fn run(name: &str, data: &[u8]) -> Result<(), RunError> {
    find(name).map_err(RunError::Decode)?.run_input(data)
}

/// For regression tests: runs `data` on `name` and panics with the report if it fails.
pub fn expect_pass(name: &str, data: &[u8]) {
    match run(name, data) {
        Ok(()) => {}
        Err(e) => panic!("{e}"),
    }
}

/// The body of every fuzz target: runs the input; undecodable inputs are skipped; a failure
/// prints its report (title first, prefixed `MMCHECK-TITLE:`) and aborts, so libFuzzer saves
/// the input as a crash.
pub fn fuzz(name: &str, data: &[u8]) {
    match run(name, data) {
        Ok(()) | Err(RunError::Decode(_)) => {}
        Err(RunError::Unavailable(e)) => {
            eprintln!("mmcheck: {e}");
            std::process::abort();
        }
        Err(RunError::Failure(f)) => {
            eprintln!("{}", f.render());
            std::process::abort();
        }
    }
}
