//! The engines: how inputs and interleavings are chosen. Every engine runs any [`Target`].
//!
//! | engine | module | finds |
//! |---|---|---|
//! | sequential differential | [`sequential`] | wrong results, broken invariants, bugs under injected interrupts and allocation failures |
//! | concurrent scenario on the active backend | [`scenario`] | non-linearizable histories, panics (RCU use-after-free) |
//! | schedule (shuttle; feature `shuttle`) | `schedule` | the same, under fuzz-byte, random, PCT or priority-aware schedules |
//! | loom (cfg `mmcheck_loom`) | [`scenario`] inside `loom::model` | the same, exhaustively for one small scenario |
//! | proptest state machine | [`proptest`] | sequential bugs, shrunk to few operations |
//! | random | [`random`] | PRNG-driven inputs for any engine, for budgets without libFuzzer |
//! | replay | [`crate::registry`] | a corpus file through the fuzz target's own code path |
//!
//! [`Engine`] is the one vocabulary for "engine" everywhere: the CLI's `--engine`, the
//! mutant headers, the mutant matrix's cells and its JSON lines all parse and print it.
//!
//! [`Target`]: crate::target::Target

pub mod proptest;
pub mod random;
pub mod scenario;
pub mod sequential;

#[cfg(mmcheck_shuttle)]
pub mod schedule;

use crate::report::{failure_from_panic, Capture, Failure};
use std::sync::{Arc, Mutex};

/// Every way mmcheck can look for a bug, by one name each.
///
/// | engine | runs | applies to |
/// |---|---|---|
/// | `test` | `cargo test <args>` (unit, kernel-port and integration tests) | a crate's tests |
/// | `loom` | `cargo test` under `--cfg mmcheck_loom` | the loom models |
/// | `fuzz` | libFuzzer (`cargo fuzz run <target>`) | every registry target |
/// | `seq-random` | PRNG inputs through the sequential engine | sequential targets |
/// | `sched-random` | PRNG scenarios under shuttle's random scheduler | schedule targets |
/// | `sched-pct` | PRNG scenarios under PCT (depth 3) | schedule targets |
/// | `proptest` | proptest state-machine cases with shrinking (sequential engine) | every registry target |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Engine {
    /// `cargo test` with the given arguments.
    Test,
    /// The loom models (`RUSTFLAGS="--cfg mmcheck_loom" cargo test`).
    Loom,
    /// libFuzzer through `cargo fuzz run`.
    Fuzz,
    /// PRNG inputs through the sequential engine (IRQ/NMI and allocation-failure injection).
    SeqRandom,
    /// PRNG scenarios under shuttle's random scheduler.
    SchedRandom,
    /// PRNG scenarios under the PCT scheduler (depth 3).
    SchedPct,
    /// proptest state-machine cases with shrinking.
    Proptest,
}

/// What kind of input a registry target's fuzz entry decodes, i.e. which engine it drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// [`crate::input::SeqInput`] through the sequential engine (native speed, no shuttle).
    Sequential,
    /// A framed [`crate::input::Scenario`] plus schedule bytes, through the schedule engine
    /// (needs the `shuttle` feature). Registry names of such targets end in `_sched`.
    Schedule,
}

impl TargetKind {
    /// `sequential` or `schedule`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Sequential => "sequential",
            TargetKind::Schedule => "schedule",
        }
    }
}

impl Engine {
    /// Every engine, in the order the mutant matrix prints them.
    pub const ALL: [Engine; 7] = [
        Engine::Test,
        Engine::Loom,
        Engine::Fuzz,
        Engine::SeqRandom,
        Engine::SchedRandom,
        Engine::SchedPct,
        Engine::Proptest,
    ];

    /// Its one name (`sched-random`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Test => "test",
            Engine::Loom => "loom",
            Engine::Fuzz => "fuzz",
            Engine::SeqRandom => "seq-random",
            Engine::SchedRandom => "sched-random",
            Engine::SchedPct => "sched-pct",
            Engine::Proptest => "proptest",
        }
    }

    /// Whether it runs a registry target (then the matrix labels it `<engine>:<target>`),
    /// rather than cargo test arguments.
    pub fn takes_target(self) -> bool {
        !matches!(self, Engine::Test | Engine::Loom)
    }

    /// Whether it can run a registry target of `kind`.
    pub fn applies_to(self, kind: TargetKind) -> bool {
        match self {
            Engine::Test | Engine::Loom => false,
            Engine::Fuzz | Engine::Proptest => true,
            Engine::SeqRandom => kind == TargetKind::Sequential,
            Engine::SchedRandom | Engine::SchedPct => kind == TargetKind::Schedule,
        }
    }

    /// The PRNG engine `mmcheck check` uses for a target of `kind` when none is named.
    pub fn default_for(kind: TargetKind) -> Engine {
        match kind {
            TargetKind::Sequential => Engine::SeqRandom,
            TargetKind::Schedule => Engine::SchedRandom,
        }
    }

    /// The label of a matrix cell: `test`, `loom`, or `<engine>:<target>`.
    pub fn cell(self, target: &str) -> String {
        if self.takes_target() {
            format!("{}:{target}", self.as_str())
        } else {
            self.as_str().to_string()
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Engine::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Engine::ALL.iter().map(|e| e.as_str()).collect();
                format!("unknown engine `{s}` (known: {})", names.join(", "))
            })
    }
}

/// The shuttle configuration every schedule run uses: no warnings, no failure files (the
/// engines keep their own reproducers).
#[cfg(mmcheck_shuttle)]
pub fn shuttle_config() -> shuttle::Config {
    let mut config = shuttle::Config::new();
    config.silence_warnings = true;
    config.failure_persistence = shuttle::FailurePersistence::None;
    config
}

/// Runs `f` once on the active backend: directly on std, inside one shuttle or loom
/// execution on the model backends (whose thread-locals and RCU only exist inside one).
/// A panic anywhere becomes a [`Failure`].
pub fn run_once<F>(f: F) -> Result<(), Failure>
where
    F: Fn() -> Result<(), Failure> + Send + Sync + 'static,
{
    let cap = Capture::start();
    let slot: Arc<Mutex<Option<Failure>>> = Arc::new(Mutex::new(None));
    let s2 = slot.clone();
    let body = move || {
        if let Err(e) = f() {
            *s2.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
        }
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        #[cfg(mmcheck_shuttle)]
        {
            shuttle::Runner::new(
                shuttle::scheduler::RoundRobinScheduler::new(1),
                shuttle_config(),
            )
            .run(body);
        }
        #[cfg(mmcheck_loom)]
        {
            loom::model(body);
        }
        #[cfg(not(mmcheck_model))]
        {
            body();
        }
    }));
    if let Err(payload) = outcome {
        return Err(failure_from_panic(&cap, payload.as_ref()));
    }
    let r = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    match r {
        Some(f) => Err(f),
        None => Ok(()),
    }
}
