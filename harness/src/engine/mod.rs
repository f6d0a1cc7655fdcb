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
//! [`Target`]: crate::target::Target

pub mod proptest;
pub mod random;
pub mod scenario;
pub mod sequential;

#[cfg(all(feature = "shuttle", not(mmcheck_loom)))]
pub mod schedule;

use crate::report::{failure_from_panic, Capture, Failure};
use std::sync::{Arc, Mutex};

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
        #[cfg(all(feature = "shuttle", not(mmcheck_loom)))]
        {
            let mut config = shuttle::Config::new();
            config.silence_warnings = true;
            config.failure_persistence = shuttle::FailurePersistence::None;
            shuttle::Runner::new(shuttle::scheduler::RoundRobinScheduler::new(1), config).run(body);
        }
        #[cfg(mmcheck_loom)]
        {
            loom::model(body);
        }
        #[cfg(not(any(feature = "shuttle", mmcheck_loom)))]
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
