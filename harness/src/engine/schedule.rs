//! The schedule engine: concurrent scenarios under shuttle, with the interleaving chosen by
//! fuzz bytes, a PRNG (random walk), or PCT, optionally restricted to the highest-priority
//! runnable tasks.
//!
//! Schedulers compose as single-purpose wrappers, as shuttle's own do: the base scheduler
//! (bytes, random, PCT), a [`Recording`], and optionally a [`PriorityFilter`] over both (so
//! what is recorded is a choice among the tasks the filter lets run). The recording writes
//! each choice as the index of the chosen task among the runnable ones, one byte per choice
//! with more than one option, and eight bytes per random value. [`ByteScheduler`] reads
//! exactly that format, so every failure, whichever scheduler found it, comes with a byte
//! schedule that replays it, and libFuzzer can mutate schedules (and `cargo fuzz tmin` can
//! minimize them) like any input. Fuzzing accepts any bytes (a byte that does not fit is
//! taken modulo, and past the end the run goes on without preemption); a *replay* of a
//! recorded schedule counts those fallbacks ([`ByteStats`]) so the registry can reject one
//! that drifted to another interleaving.
//!
//! The fuzz input of a schedule target is `[n_lo, n_hi] ++ scenario bytes (n) ++ schedule
//! bytes`.

use crate::input::Scenario;
use crate::report::{failure_from_panic, hex, Capture, Failure, Repro};
use crate::target::Target;
use shuttle::scheduler::{PctScheduler, RandomScheduler, Schedule, Scheduler, Task, TaskId};
use std::fmt::{Debug, Write as _};
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

/// How a byte schedule was followed: the evidence that a replay took the recorded path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByteStats {
    /// Bytes of the schedule.
    pub len: usize,
    /// Bytes read.
    pub consumed: usize,
    /// Decisions whose byte did not fit (the byte was not below the number of runnable
    /// tasks, so it was taken modulo): the program no longer offers the recorded choices.
    pub misfits: usize,
    /// Decisions taken after the bytes ran out (run to completion, round-robin at yields),
    /// random values included.
    pub exhausted: usize,
}

impl ByteStats {
    /// Decisions that did not come from a fitting byte.
    pub fn fallbacks(&self) -> usize {
        self.misfits + self.exhausted
    }

    /// Whether the bytes were followed as recorded: every byte read, each one fitting. A
    /// recorded failure's schedule stops where the failure happened, so after a fix the
    /// execution goes on past the last byte; decisions made after every byte was read are
    /// not a divergence. Bytes left unread, or a byte that no longer fits, are.
    pub fn followed(&self) -> bool {
        self.misfits == 0 && self.consumed == self.len
    }

    /// One line saying how the replay diverged.
    pub fn divergence(&self) -> String {
        format!(
            "the byte schedule diverged: {} of {} byte(s) read, {} decision(s) whose byte no longer fits, {} after the bytes ran out; the code no longer switches where the schedule was recorded, so the input does not pin that interleaving any more (re-record it, or keep it as a seed-* fuzz input)",
            self.consumed, self.len, self.misfits, self.exhausted
        )
    }
}

/// Reads scheduling choices from bytes, counting every decision that could not follow them
/// ([`ByteStats`]), so a replay that drifted to another interleaving is detected instead of
/// passing silently.
#[derive(Debug, Clone)]
pub struct ByteScheduler {
    bytes: Vec<u8>,
    pos: usize,
    started: bool,
    stats: Arc<Mutex<ByteStats>>,
}

impl ByteScheduler {
    /// A scheduler for one execution driven by `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        let len = bytes.len();
        ByteScheduler {
            bytes,
            pos: 0,
            started: false,
            stats: Arc::new(Mutex::new(ByteStats {
                len,
                ..ByteStats::default()
            })),
        }
    }

    /// The counters of this scheduler's execution (shared: read them after the run).
    pub fn stats(&self) -> Arc<Mutex<ByteStats>> {
        self.stats.clone()
    }

    fn note(&self, f: impl FnOnce(&mut ByteStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.pos).copied();
        if b.is_some() {
            self.pos += 1;
            let pos = self.pos;
            self.note(|s| s.consumed = pos);
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
        let len = self.bytes.len();
        self.note(|s| {
            *s = ByteStats {
                len,
                ..ByteStats::default()
            }
        });
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
            let i = usize::from(b);
            if i >= runnable.len() {
                self.note(|s| s.misfits += 1);
            }
            return Some(runnable[i % runnable.len()].id());
        }
        self.note(|s| s.exhausted += 1);
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
        if self.pos + 8 > self.bytes.len() {
            self.note(|s| s.exhausted += 1);
        }
        let mut v = [0u8; 8];
        for b in &mut v {
            *b = self.next_byte().unwrap_or(0);
        }
        u64::from_le_bytes(v)
    }
}

/// Lets only the runnable tasks of the best effective priority (`algos::sync::task`) run:
/// the PREEMPT_RT scheduler's rule, on one CPU, that a higher-priority runnable task always
/// preempts; a runnable task with preemption disabled (`task::preempt_disable`) keeps
/// running whatever its priority.
pub struct PriorityFilter<S> {
    inner: S,
    by_base: bool,
}

impl<S: Scheduler> PriorityFilter<S> {
    /// Filters what `inner` may choose from.
    pub fn new(inner: S) -> Self {
        PriorityFilter {
            inner,
            by_base: false,
        }
    }

    /// A filter that ranks tasks by their *base* priority, as a scheduler of a kernel
    /// without priority inheritance would: what the priority-inversion monitor must report
    /// (its own test; the registry never uses it).
    pub fn by_base(inner: S) -> Self {
        PriorityFilter {
            inner,
            by_base: true,
        }
    }
}

std::thread_local! {
    /// The tasks runnable at the priority filter's last decision. Shuttle runs an execution's
    /// tasks and its scheduler on one OS thread, so a monitor inside a task reads this.
    static RUNNABLE: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The tasks that were runnable when a [`PriorityFilter`] last chose (empty outside a
/// priority-aware execution): what a monitor running inside a task can take as the set of
/// tasks that could run instead of it (only the running task changes states in between).
pub fn last_runnable() -> Vec<usize> {
    RUNNABLE.with(|r| r.borrow().clone())
}

impl<S: Scheduler> Scheduler for PriorityFilter<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        algos::sync::task::reset();
        RUNNABLE.with(|r| r.borrow_mut().clear());
        self.inner.new_execution()
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        // Shuttle also offers parked tasks (a park may wake spuriously). The scheduler being
        // modelled runs only tasks that can run: a spurious wake-up of a better task would
        // starve every other one (it re-parks, is offered again, and wins again).
        let live: Vec<&Task> = runnable.iter().copied().filter(|t| t.runnable()).collect();
        let runnable: &[&Task] = if live.is_empty() { runnable } else { &live };
        RUNNABLE.with(|r| {
            let mut r = r.borrow_mut();
            r.clear();
            r.extend(runnable.iter().map(|t| usize::from(t.id())));
        });
        if runnable.len() < 2 {
            return self.inner.next_task(runnable, current, is_yielding);
        }
        if let Some(c) = current {
            if algos::sync::task::preempt_count(usize::from(c)) > 0 {
                if let Some(t) = runnable.iter().copied().find(|t| t.id() == c) {
                    return self.inner.next_task(&[t], current, is_yielding);
                }
            }
        }
        let by_base = self.by_base;
        let prio = |t: &&Task| {
            let p = algos::sync::task::prio_of(usize::from(t.id()));
            if by_base {
                p.base
            } else {
                p.effective
            }
        };
        let best = runnable.iter().map(prio).min().unwrap_or(0);
        let filtered: Vec<&Task> = runnable
            .iter()
            .copied()
            .filter(|t| prio(t) == best)
            .collect();
        self.inner.next_task(&filtered, current, is_yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}

/// Ends the exploration after the first execution when that execution had no choice to
/// make (never two runnable tasks offered): the scenario then has one interleaving, and it
/// has run. PCT needs this: it counts only decisions among several tasks to place its
/// priority change points, and asserts ("test closure did not exercise any concurrency")
/// on a second execution when it saw none, as under the priority filter when every task
/// of a scenario has its own priority. That assertion was a false report, not a bug found.
pub struct OneInterleaving<S> {
    inner: S,
    executions: usize,
    choices: bool,
}

impl<S> OneInterleaving<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        OneInterleaving {
            inner,
            executions: 0,
            choices: false,
        }
    }
}

impl<S: Scheduler> Scheduler for OneInterleaving<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.executions > 0 && !self.choices {
            return None;
        }
        self.executions += 1;
        self.inner.new_execution()
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        self.choices |= runnable.len() > 1;
        self.inner.next_task(runnable, current, is_yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}

/// One scheduling decision of a recorded execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The shuttle task chosen: 0 is the main task (init and post operations), task `i` is
    /// scenario thread `i` (threads are spawned in order, and the structures under test
    /// spawn no tasks of their own).
    pub task: usize,
    /// How many tasks were runnable.
    pub runnable: usize,
    /// The operation the chosen task was in: (column, index into that column's list), the
    /// column as in [`crate::linearize::Event::thread`].
    pub in_op: Option<(usize, usize)>,
}

/// What a [`Recording`] keeps of the current execution.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The choices in [`ByteScheduler`]'s format.
    pub bytes: Vec<u8>,
    /// Every decision, forced ones included, for the per-thread rendering.
    pub decisions: Vec<Decision>,
}

/// Wraps a scheduler and records its choices in [`ByteScheduler`]'s format, plus every
/// decision with the operation the chosen task was in (for [`render_interleaving`]).
pub struct Recording<S> {
    inner: S,
    record: Arc<Mutex<Record>>,
}

impl<S: Scheduler> Recording<S> {
    /// Wraps `inner`; the current execution's choices accumulate in `record`.
    pub fn new(inner: S, record: Arc<Mutex<Record>>) -> Self {
        Recording { inner, record }
    }
}

impl<S: Scheduler> Scheduler for Recording<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        *self.record.lock().unwrap_or_else(|e| e.into_inner()) = Record::default();
        super::scenario::progress_reset();
        self.inner.new_execution()
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let choice = self.inner.next_task(runnable, current, is_yielding)?;
        let mut r = self.record.lock().unwrap_or_else(|e| e.into_inner());
        if runnable.len() > 1 {
            let idx = runnable.iter().position(|t| t.id() == choice).unwrap_or(0);
            r.bytes.push(u8::try_from(idx).unwrap_or(0));
        }
        let task = usize::from(choice);
        r.decisions.push(Decision {
            task,
            runnable: runnable.len(),
            in_op: super::scenario::in_progress(task),
        });
        Some(choice)
    }

    fn next_u64(&mut self) -> u64 {
        let v = self.inner.next_u64();
        self.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .bytes
            .extend_from_slice(&v.to_le_bytes());
        v
    }
}

/// Renders the decisions of an execution per thread: one line per context switch, naming
/// the thread that runs and the operation it is in ("switch to thread 2  in #1 Store { .. }").
pub fn render_interleaving<Op: Debug>(sc: &Scenario<Op>, decisions: &[Decision]) -> String {
    let n = sc.threads.len();
    let mut out = String::from("interleaving (one line per switch):\n");
    let mut last: Option<usize> = None;
    for (step, d) in decisions.iter().enumerate() {
        if last == Some(d.task) {
            continue;
        }
        let who = match d.task {
            0 => "main".to_string(),
            t if t <= n => format!("thread {t}"),
            t => format!("task {t}"),
        };
        let what = match d.in_op {
            Some((0, i)) => format!("in init #{i} {:?}", sc.init.get(i)),
            Some((c, i)) if c == n + 1 => format!("in post #{i} {:?}", sc.post.get(i)),
            Some((c, i)) => match sc.threads.get(c - 1).and_then(|ops| ops.get(i)) {
                Some(op) => format!("in #{i} {op:?}"),
                None => format!("in #{i}"),
            },
            None => "between operations".to_string(),
        };
        let verb = if last.is_none() { "start" } else { "switch to" };
        let _ = writeln!(
            out,
            "  {verb:9} {who:9} {what}  (decision {step}, {} runnable)",
            d.runnable
        );
        last = Some(d.task);
    }
    out
}

pub use crate::target::{join_input, split_input};

/// What a schedule run explored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Explored {
    /// Executions run.
    pub executions: usize,
    /// Operations applied, summed over every execution.
    pub ops: u64,
    /// Executions whose history the linearizability search could not decide.
    pub inconclusive: usize,
    /// For [`Mode::Bytes`]: how the bytes were followed.
    pub bytes: Option<ByteStats>,
}

/// Options of a schedule run beyond the mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Let only the best-priority runnable tasks run ([`PriorityFilter`]).
    pub priority_aware: bool,
    /// Replay every execution a second time under shuttle's
    /// `UncontrolledNondeterminismCheckScheduler`, which fails if the runnable sets differ:
    /// nondeterminism the scheduler does not control would make byte replay drift.
    pub determinism_check: bool,
}

impl Options {
    /// The options of a registry entry: only `priority_aware` set.
    pub fn priority(priority_aware: bool) -> Self {
        Options {
            priority_aware,
            determinism_check: false,
        }
    }
}

/// Runs `sc` under `mode`. On failure the report carries the failing execution's byte
/// schedule, its per-thread interleaving and, given `scenario_bytes` (the bytes `sc` was
/// decoded from), a reproducer.
pub fn check<T: Target + Clone>(
    t: &T,
    sc: &Scenario<T::Op>,
    scenario_bytes: Option<&[u8]>,
    mode: Mode,
    opts: Options,
) -> Result<Explored, Failure> {
    let record = Arc::new(Mutex::new(Record::default()));
    let slot: Arc<Mutex<Option<Failure>>> = Arc::new(Mutex::new(None));
    let explored = Arc::new(Mutex::new(Explored::default()));
    let (t2, sc2, s2, e2) = (t.clone(), sc.clone(), slot.clone(), explored.clone());
    let body = move || {
        // Task priorities live per OS thread under the models: every execution starts anew.
        algos::sync::task::reset();
        let outcome = super::scenario::execute(&t2, &sc2);
        match outcome {
            Ok(done) => {
                let mut e = e2.lock().unwrap_or_else(|e| e.into_inner());
                e.ops += done.ops;
                e.inconclusive += usize::from(done.inconclusive);
            }
            Err(f) => {
                let title = f.title();
                *s2.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
                panic!("mmcheck: {title}");
            }
        }
    };
    let mut byte_stats = None;
    let base: Box<dyn Scheduler + Send> = match &mode {
        Mode::Bytes(b) => {
            let bs = ByteScheduler::new(b.clone());
            byte_stats = Some(bs.stats());
            Box::new(bs)
        }
        Mode::Random { seed, iterations } => {
            Box::new(RandomScheduler::new_from_seed(*seed, *iterations))
        }
        Mode::Pct {
            seed,
            depth,
            iterations,
        } => Box::new(OneInterleaving::new(PctScheduler::new_from_seed(
            *seed,
            *depth,
            *iterations,
        ))),
    };
    // The recording sits under the priority filter: it records choices among the tasks the
    // filter lets run, which is what the byte scheduler reads back under the same filter.
    let recorded = Recording::new(base, record.clone());
    let rec: Box<dyn Scheduler + Send> = if opts.priority_aware {
        Box::new(PriorityFilter::new(recorded))
    } else {
        Box::new(recorded)
    };
    let cap = Capture::start();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if opts.determinism_check {
            shuttle::Runner::new(
                shuttle::scheduler::UncontrolledNondeterminismCheckScheduler::new(rec),
                super::shuttle_config(),
            )
            .run(body)
        } else {
            shuttle::Runner::new(rec, super::shuttle_config()).run(body)
        }
    }));
    let mut failure = match outcome {
        Ok(executions) => {
            let mut e = *explored.lock().unwrap_or_else(|e| e.into_inner());
            e.executions = executions;
            e.bytes = byte_stats.map(|b| *b.lock().unwrap_or_else(|e| e.into_inner()));
            return Ok(e);
        }
        Err(payload) => {
            let own = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            let captured = failure_from_panic(&cap, payload.as_ref());
            own.unwrap_or(captured)
        }
    };
    drop(cap);
    let rec = record.lock().unwrap_or_else(|e| e.into_inner()).clone();
    failure.target = t.name().to_string();
    failure.decoded = format!("{sc:#?}");
    failure.schedule = Some(hex(&rec.bytes));
    failure.interleaving = Some(render_interleaving(sc, &rec.decisions));
    if let Some(sb) = scenario_bytes {
        failure.repro = Some(Repro::Input(join_input(sb, &rec.bytes)));
    }
    failure.typed = Some((
        crate::input::typed_imports::<T::Op>(),
        crate::input::typed_schedule_input(sc, &rec.bytes),
    ));
    Err(failure)
}

/// Most re-runs [`minimize`] spends.
pub const MINIMIZE_RUNS: usize = 200;

/// Shrinks a failing scenario the way Lincheck does: drop one operation (or interrupt, or
/// fault plan, or emptied thread) at a time, re-run under the same `mode`, and keep the drop
/// while the failure's title stays the same. Returns the smallest failing scenario found and
/// its failure (the original's if nothing could be dropped), after at most
/// [`MINIMIZE_RUNS`] re-runs.
pub fn minimize<T: Target + Clone>(
    t: &T,
    sc: &Scenario<T::Op>,
    mode: &Mode,
    opts: Options,
    failure: Failure,
) -> (Scenario<T::Op>, Failure) {
    let title = failure.title();
    let mut best = (sc.clone(), failure);
    let mut runs = 0;
    loop {
        let mut shrunk = false;
        let mut i = 0;
        while let Some(candidate) = without(&best.0, i) {
            i += 1;
            if runs >= MINIMIZE_RUNS {
                return best;
            }
            runs += 1;
            if let Err(f) = check(t, &candidate, None, mode.clone(), opts) {
                if f.title() == title {
                    best = (candidate, f);
                    shrunk = true;
                    i -= 1;
                }
            }
        }
        if !shrunk {
            return best;
        }
    }
}

/// `sc` without its `i`-th removable part (init ops, then each thread's ops, then empty
/// threads while more than two remain, post ops, interrupts, fault plans), or `None` past
/// the last.
fn without<Op: Clone>(sc: &Scenario<Op>, mut i: usize) -> Option<Scenario<Op>> {
    let mut s = sc.clone();
    if i < s.init.len() {
        s.init.remove(i);
        return Some(s);
    }
    i -= s.init.len();
    for t in 0..s.threads.len() {
        if i < s.threads[t].len() {
            s.threads[t].remove(i);
            return Some(s);
        }
        i -= s.threads[t].len();
    }
    let empties: Vec<usize> = if s.threads.len() > 2 {
        (0..s.threads.len())
            .filter(|&t| s.threads[t].is_empty())
            .collect()
    } else {
        Vec::new()
    };
    if i < empties.len() {
        // The thread's interrupts and faults go with it; later threads shift down by one.
        let t = empties[i];
        s.threads.remove(t);
        s.irqs.retain(|(th, _)| *th != t);
        s.faults.retain(|(th, _)| *th != t);
        for th in s
            .irqs
            .iter_mut()
            .map(|(th, _)| th)
            .chain(s.faults.iter_mut().map(|(th, _)| th))
        {
            if *th > t {
                *th -= 1;
            }
        }
        return Some(s);
    }
    i -= empties.len();
    if i < s.post.len() {
        s.post.remove(i);
        return Some(s);
    }
    i -= s.post.len();
    if i < s.irqs.len() {
        s.irqs.remove(i);
        return Some(s);
    }
    i -= s.irqs.len();
    if i < s.faults.len() {
        s.faults.remove(i);
        return Some(s);
    }
    None
}
