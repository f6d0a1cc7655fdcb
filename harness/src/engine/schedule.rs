//! The schedule engine: concurrent scenarios under shuttle, with the interleaving chosen by
//! fuzz bytes, a PRNG (random walk), or PCT, optionally restricted to the highest-priority
//! runnable tasks.
//!
//! Every scheduler is wrapped in a recorder that writes each choice as the index of the
//! chosen task among the runnable ones, one byte per choice with more than one option, and
//! eight bytes per random value. [`ByteScheduler`] reads exactly that format, so every
//! failure, whichever scheduler found it, comes with a byte schedule that replays it, and
//! libFuzzer can mutate schedules (and `cargo fuzz tmin` can minimize them) like any input.
//!
//! The fuzz input of a schedule target is `[n_lo, n_hi] ++ scenario bytes (n) ++ schedule
//! bytes`.

use crate::report::{failure_from_panic, hex, Capture, Failure, Repro};
use crate::target::{Scenario, Target};
use shuttle::scheduler::{PctScheduler, RandomScheduler, Schedule, Scheduler, Task, TaskId};
use std::sync::{Arc, Mutex};

/// Where the interleaving comes from.
#[derive(Debug, Clone)]
pub enum Mode {
    /// One execution whose choices are read from these bytes (then: run the current task
    /// on, or the lowest-numbered other one when it yields).
    Bytes(Vec<u8>),
    /// `iterations` executions under shuttle's random scheduler.
    Random {
        /// PRNG seed.
        seed: u64,
        /// Executions.
        iterations: usize,
    },
    /// `iterations` executions under PCT with the given bug depth.
    Pct {
        /// PRNG seed.
        seed: u64,
        /// PCT's bug depth (number of priority change points + 1).
        depth: usize,
        /// Executions.
        iterations: usize,
    },
}

/// Reads scheduling choices from bytes.
#[derive(Debug, Clone)]
pub struct ByteScheduler {
    bytes: Vec<u8>,
    pos: usize,
    started: bool,
}

impl ByteScheduler {
    /// A scheduler for one execution driven by `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        ByteScheduler {
            bytes,
            pos: 0,
            started: false,
        }
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.pos).copied();
        if b.is_some() {
            self.pos += 1;
        }
        b
    }
}

impl Scheduler for ByteScheduler {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.started {
            return None;
        }
        self.started = true;
        self.pos = 0;
        Some(Schedule::new(0))
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        if runnable.len() == 1 {
            return Some(runnable[0].id());
        }
        if let Some(b) = self.next_byte() {
            return Some(runnable[usize::from(b) % runnable.len()].id());
        }
        // Out of bytes: run to completion without preemption; at a yield, move on round-robin
        // (the next runnable task after the current one, wrapping), so two tasks spinning on
        // a third never starve it.
        if let Some(c) = current {
            if !is_yielding && runnable.iter().any(|t| t.id() == c) {
                return Some(c);
            }
            let next = runnable
                .iter()
                .map(|t| t.id())
                .find(|&id| id > c)
                .unwrap_or(runnable[0].id());
            return Some(next);
        }
        Some(runnable[0].id())
    }

    fn next_u64(&mut self) -> u64 {
        let mut v = [0u8; 8];
        for b in &mut v {
            *b = self.next_byte().unwrap_or(0);
        }
        u64::from_le_bytes(v)
    }
}

/// Wraps a scheduler and records its choices in [`ByteScheduler`]'s format; optionally lets
/// only the runnable tasks of the best effective priority (`algos::sync::task`) run.
pub struct Recording<S> {
    inner: S,
    priority_aware: bool,
    record: Arc<Mutex<Vec<u8>>>,
}

impl<S: Scheduler> Recording<S> {
    /// Wraps `inner`; the choices of the current execution accumulate in `record`.
    pub fn new(inner: S, priority_aware: bool, record: Arc<Mutex<Vec<u8>>>) -> Self {
        Recording {
            inner,
            priority_aware,
            record,
        }
    }
}

impl<S: Scheduler> Scheduler for Recording<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        self.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        algos::sync::task::reset();
        self.inner.new_execution()
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let filtered: Vec<&Task>;
        let runnable = if self.priority_aware && runnable.len() > 1 {
            let prio = |t: &&Task| algos::sync::task::effective_of(usize::from(t.id()));
            let best = runnable.iter().map(prio).min().unwrap_or(0);
            filtered = runnable
                .iter()
                .copied()
                .filter(|t| prio(t) == best)
                .collect();
            &filtered[..]
        } else {
            runnable
        };
        let choice = self.inner.next_task(runnable, current, is_yielding)?;
        if runnable.len() > 1 {
            let idx = runnable.iter().position(|t| t.id() == choice).unwrap_or(0);
            self.record
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(u8::try_from(idx).unwrap_or(0));
        }
        Some(choice)
    }

    fn next_u64(&mut self) -> u64 {
        let v = self.inner.next_u64();
        self.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(&v.to_le_bytes());
        v
    }
}

pub use crate::target::{join_input, split_input};

/// What a schedule run explored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Explored {
    /// Executions run.
    pub executions: usize,
}

/// Runs `sc` under `mode`. On failure the report carries the failing execution's byte
/// schedule and, given `scenario_bytes` (the bytes `sc` was decoded from), a reproducer.
pub fn check<T: Target + Clone>(
    t: &T,
    sc: &Scenario<T::Op>,
    scenario_bytes: Option<&[u8]>,
    mode: Mode,
    priority_aware: bool,
) -> Result<Explored, Failure> {
    let record = Arc::new(Mutex::new(Vec::new()));
    let slot: Arc<Mutex<Option<Failure>>> = Arc::new(Mutex::new(None));
    let (t2, sc2, s2) = (t.clone(), sc.clone(), slot.clone());
    let body = move || {
        if let Err(f) = super::scenario::execute(&t2, &sc2) {
            let title = f.title();
            *s2.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
            panic!("mmcheck: {title}");
        }
    };
    let mut config = shuttle::Config::new();
    config.silence_warnings = true;
    config.failure_persistence = shuttle::FailurePersistence::None;
    let scheduler: Box<dyn Scheduler + Send> = match &mode {
        Mode::Bytes(b) => Box::new(ByteScheduler::new(b.clone())),
        Mode::Random { seed, iterations } => {
            Box::new(RandomScheduler::new_from_seed(*seed, *iterations))
        }
        Mode::Pct {
            seed,
            depth,
            iterations,
        } => Box::new(PctScheduler::new_from_seed(*seed, *depth, *iterations)),
    };
    let rec = Recording::new(scheduler, priority_aware, record.clone());
    let cap = Capture::start();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        shuttle::Runner::new(rec, config).run(body)
    }));
    let mut failure = match outcome {
        Ok(executions) => return Ok(Explored { executions }),
        Err(payload) => {
            let own = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            let captured = failure_from_panic(&cap, payload.as_ref());
            own.unwrap_or(captured)
        }
    };
    drop(cap);
    let sched = record.lock().unwrap_or_else(|e| e.into_inner()).clone();
    failure.target = t.name().to_string();
    failure.decoded = format!("{sc:#?}");
    failure.schedule = Some(hex(&sched));
    if let Some(sb) = scenario_bytes {
        failure.repro = Some(Repro::Input(join_input(sb, &sched)));
    }
    Err(failure)
}
