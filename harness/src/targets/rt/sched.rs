//! `rt_sched` and `rt_prio_sched`: `rt_mutex` on the schedule engine. Two to four tasks with
//! priorities take, try, release and wait for [`SCHED_LOCKS`] locks, wait interruptibly and
//! get signalled, change each other's priorities while blocked, go through the futex
//! requeue-PI protocol (one task prepares a waiter, another starts its wait), and burn CPU.
//!
//! `rt_sched` lets shuttle interleave the tasks freely (several CPUs, any preemption);
//! `rt_prio_sched` runs them as SCHED_FIFO on one CPU (the schedule engine's priority
//! filter: the best runnable priority runs, a task with preemption disabled keeps running)
//! under a **bounded-priority-inversion monitor**: while a task waits for a lock, no task
//! worse than the waiter and better than the owner's base priority may run while the owner
//! is runnable (the Mars Pathfinder failure), and no task worse than the waiter may run
//! while the waiter sleeps un-woken on a lock its owner has just released (the window
//! between the unlock's deboost and its wake-up, which the kernel keeps preemption off for).
//!
//! Checks, at every operation's end and inside every `Spin`: the quiescent
//! priority-inheritance invariants ([`algos::rt::check_pi_state`]: PI property, both trees'
//! keys, `pi_waiters` against the top waiters, `pi_blocked_on`, the waiters bit, lost
//! wake-ups, chain length); mutual exclusion by a holder cell per lock that the task
//! acquiring a lock must find empty; after the scenario, every lock free with no waiter and
//! every task at its base priority; and the history of lock operations linearizable against
//! a model of the owners ([`Target::step_on`]).
//!
//! So that no scenario can deadlock by itself, a task that already holds a lock asks with full
//! deadlock detection (`lock_checked`; a cycle is then reported to whoever closes it), or, in
//! `rt_prio_sched` only, when it is strictly the most important task and no priority change
//! is under way, with the kernel's minimal walk, which then reaches every task of a cycle it
//! closes and reports it (the rtmutex's ABBA check at the closing task); a task releases what
//! it holds before it exits ([`Target::end_ops`]).
//!
//! Why not the minimal walk in `rt_sched`: there another task's walk can run between the
//! closing task's boost of the owner and its own walk's step at that owner. A `remove_waiter`
//! deboost walk (a failed proxy start, a signalled waiter) passing the owner requeues the
//! owner's waiter at the boosted priority; the closing walk then finds the priority already
//! right and stops (step [4]) before its cycle check, and both tasks sleep for ever. The
//! kernel's walk does the same: only full detection is guaranteed to report a cycle (libFuzzer
//! found this interleaving, `corpus/rt_sched/regress-min-walk-overtaken`). Under SCHED_FIFO
//! on one CPU nothing runs between the most important task's block and its walk.

use crate::target::Target;
use algos::rt::{
    check_pi_state, is_sleeping, setscheduler, wake_pending, PiLock, ProxyWaiter, RawRtMutex,
    RtError, Signal,
};
use algos::sync::lock_api::RawMutex as _;
use algos::sync::task::{self, Prio};
use algos::sync::{thread, Mutex};
use arbitrary::Arbitrary;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Locks of a scenario.
pub const SCHED_LOCKS: usize = 3;

/// The priorities `SetPrio` chooses from: real-time 10, 50, 90, and normal 120 (nice 0)
/// and 130 (all normal tasks wait as 120).
pub const PRIOS: [Prio; 5] = [10, 50, 90, 120, 130];

/// Task keys a scenario uses: the main task (0) and up to four threads (1..=4), as shuttle
/// numbers them.
const KEYS: usize = 5;

/// An operation of a task (lock and task indexes wrap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Arbitrary)]
pub enum RtSchedOp {
    /// `rt_mutex_lock`. A task that holds a lock asks with full deadlock detection, unless
    /// it is strictly the most important task under the priority-aware scheduler: then with
    /// the kernel's minimal walk, which must report a cycle the task closes (see
    /// `RtSchedSut::min_walk_gate`).
    Lock(u8),
    /// `rt_mutex_lock` with full deadlock detection (the futex path).
    LockChecked(u8),
    /// `rt_mutex_lock_interruptible` with the task's signal (checked if it holds a lock).
    LockInterruptible(u8),
    /// `rt_mutex_trylock`.
    TryLock(u8),
    /// `rt_mutex_unlock`, if the task owns the lock.
    Unlock(u8),
    /// Raises the signal of thread `n % 4`.
    Signal(u8),
    /// `sched_setscheduler` of thread `task % 4` to `PRIOS[prio % 5]`.
    SetPrio {
        /// The thread.
        task: u8,
        /// Index into [`PRIOS`].
        prio: u8,
    },
    /// CPU-bound work: `n % 4 + 1` scheduling points, each checked by the monitor.
    Spin(u8),
    /// The waiting side of futex requeue-PI on a lock: prepare a waiter, let another task
    /// start its wait (a few scheduling points; else start it oneself), then wait for the
    /// lock interruptibly and clean up after a signal.
    ProxyWait(u8),
    /// The requeueing side: start the wait of another task's prepared waiter
    /// (`rt_mutex_start_proxy_lock` on its behalf), the `n`-th one published.
    ProxyRequeue(u8),
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RtSchedRet {
    /// The lock is the caller's now.
    Locked,
    /// The lock call failed.
    Failed(RtError),
    /// A trylock's answer.
    Got(bool),
    /// Unlocked.
    Unlocked,
    /// An unlock of a lock the caller does not own: not made.
    NotOwner,
    /// An operation with nothing to compare.
    Done,
    /// The model's answer only: the lock is another task's, so the caller would wait; a real
    /// call answers this with a failure (a detected deadlock, a signal) or not at all.
    Blocks,
}

/// The model: the owner of each lock (0 free, 1 the main task, `2 + i` thread `i`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtSchedModel {
    owner: [u8; SCHED_LOCKS],
}

/// A prepared requeue-PI waiter, published for another task to start.
struct ProxySlot {
    task: usize,
    lock: usize,
    waiter: Arc<ProxyWaiter>,
    started: Option<Result<bool, RtError>>,
}

/// The locks and what the checks need.
pub struct RtSchedSut {
    locks: [RawRtMutex; SCHED_LOCKS],
    /// Who holds each lock, by the tasks' own account (key + 1; 0 free).
    holder: [AtomicUsize; SCHED_LOCKS],
    signals: [Signal; KEYS],
    proxy: Mutex<Vec<ProxySlot>>,
    /// Lock calls made by tasks that hold a lock (the only ones that can close a cycle):
    /// how many began, and how many are under way.
    nested_started: AtomicUsize,
    nested_active: AtomicUsize,
    /// A deadlock was reported on a lock another task owned: a cycle existed, and the
    /// priorities are best effort from now on (see [`check_pi_state`]). A chain walk can
    /// also run into a cycle that is broken before anybody is told (a signalled waiter
    /// leaves it): [`algos::rt::pi_imprecise`] counts those, and racing priority changes.
    cycle_seen: std::sync::atomic::AtomicBool,
    /// Held by a priority change, or by a minimal-walk lock call of a lock holder, for its
    /// duration (see [`RtSchedSut::min_walk_gate`]).
    prio_gate: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for RtSchedSut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtSchedSut").finish_non_exhaustive()
    }
}

impl RtSchedSut {
    fn new() -> Self {
        RtSchedSut {
            locks: std::array::from_fn(|_| RawRtMutex::new()),
            holder: std::array::from_fn(|_| AtomicUsize::new(0)),
            signals: std::array::from_fn(|_| Signal::new()),
            proxy: Mutex::new(Vec::new()),
            nested_started: AtomicUsize::new(0),
            nested_active: AtomicUsize::new(0),
            cycle_seen: std::sync::atomic::AtomicBool::new(false),
            prio_gate: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn refs(&self) -> Vec<&dyn PiLock> {
        self.locks.iter().map(|l| l as &dyn PiLock).collect()
    }

    /// Task `key` has the lock now: the holder cell must have been empty.
    fn acquired(&self, l: usize, key: usize) {
        let prev = self.holder[l].swap(key + 1, Ordering::SeqCst);
        assert!(
            prev == 0,
            "BUG: mutual exclusion: task {key} acquired lock {l}, which task {} holds",
            prev.wrapping_sub(1)
        );
    }

    /// Whether the priorities must be exact (no cycle was seen).
    fn exact_pi(&self) -> bool {
        !self.cycle_seen.load(Ordering::SeqCst) && algos::rt::pi_imprecise() == 0
    }

    /// Whether task `me`, which holds a lock, may ask for another with the kernel's minimal
    /// chain walk (a plain `rt_mutex_lock`) instead of full detection: only under the
    /// priority-aware scheduler (see the module header), and only if it is strictly the most
    /// important task (real-time, and better than every other task's effective priority) and
    /// no priority change is under way. Nothing can then outrank its boost or run while it
    /// walks, so the walk reaches every task of a cycle it closes and reports the deadlock,
    /// as the kernel's does; in any other case a minimal walk may stop early and leave a
    /// silent deadlock, which the kernel has too. On `true` the caller holds `prio_gate`
    /// (priority changes wait, i.e. are skipped) until its lock call returns.
    fn min_walk_gate(&self, me: usize) -> bool {
        if self
            .prio_gate
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        let mine = task::effective_of(me);
        let best = mine < 100
            && task::snapshot()
                .iter()
                .all(|(k, p)| *k == me || p.effective > mine);
        if !best {
            self.prio_gate.store(false, Ordering::SeqCst);
        }
        best
    }

    fn holds_any(&self, key: usize) -> bool {
        self.locks.iter().any(|l| l.owner() == Some(key))
    }

    fn signal(&self, key: usize) -> &Signal {
        &self.signals[key % KEYS]
    }

    /// A lock call's outcome for task `me` on lock `l`.
    fn outcome(&self, l: usize, me: usize, r: Result<(), RtError>) -> RtSchedRet {
        match r {
            Ok(()) => {
                self.acquired(l, me);
                RtSchedRet::Locked
            }
            Err(e) => {
                if e == RtError::Interrupted {
                    assert!(
                        self.signal(me).is_raised(),
                        "BUG: task {me}'s lock call on lock {l} was interrupted with no signal raised"
                    );
                    self.signal(me).clear();
                }
                if e == RtError::Deadlock && self.locks[l].owner() != Some(me) {
                    self.cycle_seen.store(true, Ordering::SeqCst);
                }
                RtSchedRet::Failed(e)
            }
        }
    }

    fn proxy_wait(&self, l: usize, me: usize) -> RtSchedRet {
        let waiter = Arc::new(ProxyWaiter::new());
        self.proxy.lock().push(ProxySlot {
            task: me,
            lock: l,
            waiter: waiter.clone(),
            started: None,
        });
        let mut started = None;
        for _ in 0..3 {
            thread::yield_now();
            if let Some(r) = self
                .proxy
                .lock()
                .iter()
                .find(|s| s.task == me)
                .and_then(|s| s.started)
            {
                started = Some(r);
                break;
            }
        }
        let started = {
            let mut slots = self.proxy.lock();
            let i = slots.iter().position(|s| s.task == me).expect("own slot");
            let slot = slots.swap_remove(i);
            match slot.started.or(started) {
                Some(r) => r,
                None => self.start(l, me, &waiter),
            }
        };
        match started {
            Err(e) => self.outcome(l, me, Err(e)),
            Ok(true) => RtSchedRet::Locked,
            Ok(false) => match self.locks[l].wait_proxy_lock(&waiter, Some(self.signal(me))) {
                Ok(()) => self.outcome(l, me, Ok(())),
                Err(e) => {
                    if self.locks[l].cleanup_proxy_lock(&waiter) {
                        self.outcome(l, me, Err(e))
                    } else {
                        // The lock came to the task after all.
                        self.signal(me).clear();
                        self.outcome(l, me, Ok(()))
                    }
                }
            },
        }
    }

    /// `rt_mutex_start_proxy_lock` for `waiter`'s task `task` on lock `l`.
    fn start(&self, l: usize, task: usize, waiter: &ProxyWaiter) -> Result<bool, RtError> {
        // A proxy start walks with full detection, maybe for a task that holds locks: it
        // counts as a request that can close a cycle.
        self.nested_started.fetch_add(1, Ordering::SeqCst);
        self.nested_active.fetch_add(1, Ordering::SeqCst);
        let r = self.locks[l].start_proxy_lock(waiter);
        self.nested_active.fetch_sub(1, Ordering::SeqCst);
        if r == Ok(true) {
            self.acquired(l, task);
        }
        r
    }
}

/// `rt_sched` (`priority_aware == false`) or `rt_prio_sched` (`true`, with the monitor).
#[derive(Debug, Clone)]
pub struct RtSchedTarget {
    name: &'static str,
    priority_aware: bool,
}

impl RtSchedTarget {
    /// The target registered as `name`; `priority_aware` arms the inversion monitor (the
    /// registry entry must run it under the priority filter too).
    pub fn new(name: &'static str, priority_aware: bool) -> Self {
        RtSchedTarget {
            name,
            priority_aware,
        }
    }

    /// The bounded-priority-inversion monitor, for the running task.
    fn monitor(&self, sut: &RtSchedSut) -> Result<(), String> {
        // After one of the kernel's own PI imprecisions (`exact_pi`) an owner may keep a
        // stale priority below its waiter's, and while a walk is under way (preemptible
        // between its steps) a boost has not reached the owner yet: the kernel inverts there
        // too, so the monitor judges owners only in settled states of an exact history. (A
        // free lock's un-woken top waiter is judged always: the unlock that freed it keeps
        // preemption off until the wake-up.)
        if !self.priority_aware || !sut.exact_pi() {
            return Ok(());
        }
        // One consistent look: the monitor's own lock reads are scheduling points, and a
        // task preempted between reading a lock's waiters and its owner would judge a waiter
        // that has long since moved on (to sleep on another lock).
        let _consistent = task::no_preempt();
        let settled = algos::rt::pi_settled();
        #[cfg(mmcheck_shuttle)]
        let runnable = crate::engine::schedule::last_runnable();
        // Without the schedule engine there is no priority filter, hence nothing to monitor.
        #[cfg(not(mmcheck_shuttle))]
        let runnable: Vec<usize> = Vec::new();
        let me = task::current();
        let mine = task::effective_of(me);
        for (i, l) in sut.locks.iter().enumerate() {
            let Some(waiters) = l.try_waiters() else {
                continue;
            };
            let Some(&top) = waiters.first() else {
                continue;
            };
            let waiter = task::effective_of(top);
            let Some(owner) = l.owner() else {
                // A free lock whose top waiter nobody has woken yet: the unlock that freed
                // it is between its deboost and its wake-up, which must not be preempted.
                if top != me && is_sleeping(top) && !wake_pending(top) && mine > waiter {
                    return Err(format!(
                        "unbounded priority inversion: task {me} (priority {mine}) runs while task {top} (priority {waiter}) sleeps on free lock {i} without having been woken"
                    ));
                }
                continue;
            };
            let asleep = is_sleeping(owner) && !wake_pending(owner);
            if !settled || owner == me || !runnable.contains(&owner) || asleep {
                continue;
            }
            let base = task::prio_of(owner).base;
            if mine > waiter && mine < base {
                return Err(format!(
                    "unbounded priority inversion: task {me} (priority {mine}) runs while task {top} (priority {waiter}) waits for lock {i}, held by runnable task {owner} (base {base}, running at {})",
                    task::effective_of(owner)
                ));
            }
        }
        Ok(())
    }

    fn lock_index(n: u8) -> usize {
        usize::from(n) % SCHED_LOCKS
    }

    /// The model's name for the task that ran an operation.
    fn who(thread: Option<usize>) -> u8 {
        thread.map_or(1, |t| 2 + t as u8)
    }
}

impl Target for RtSchedTarget {
    type Op = RtSchedOp;
    type Ret = RtSchedRet;
    type Model = RtSchedModel;
    type Sut = RtSchedSut;

    fn name(&self) -> &'static str {
        self.name
    }

    fn new_sut(&self) -> RtSchedSut {
        RtSchedSut::new()
    }

    fn new_model(&self) -> RtSchedModel {
        RtSchedModel {
            owner: [0; SCHED_LOCKS],
        }
    }

    fn apply(&self, sut: &RtSchedSut, op: &RtSchedOp) -> RtSchedRet {
        let me = task::current();
        match *op {
            RtSchedOp::Lock(n) | RtSchedOp::LockChecked(n) | RtSchedOp::LockInterruptible(n) => {
                let i = Self::lock_index(n);
                let l = &sut.locks[i];
                let holds = sut.holds_any(me);
                let min_gate = self.priority_aware
                    && matches!(op, RtSchedOp::Lock(_))
                    && holds
                    && sut.min_walk_gate(me);
                let r = if min_gate {
                    // The minimal walk of a task that holds a lock: it can close a cycle, and
                    // being strictly the best priority, its boost reaches whoever it waits
                    // for along the whole chain, so the walk comes back to it and the kernel
                    // reports the deadlock (its WARN; our `Err`). A silent deadlock here is a
                    // walk that stopped short.
                    sut.nested_started.fetch_add(1, Ordering::SeqCst);
                    sut.nested_active.fetch_add(1, Ordering::SeqCst);
                    let r = l.lock_returning(None);
                    sut.nested_active.fetch_sub(1, Ordering::SeqCst);
                    sut.prio_gate.store(false, Ordering::SeqCst);
                    r
                } else if matches!(op, RtSchedOp::LockChecked(_)) || holds {
                    sut.nested_started.fetch_add(1, Ordering::SeqCst);
                    sut.nested_active.fetch_add(1, Ordering::SeqCst);
                    let r = l.lock_checked();
                    sut.nested_active.fetch_sub(1, Ordering::SeqCst);
                    r
                } else {
                    // A task holding nothing is in no cycle; its minimal walk can still run
                    // into one that a nested requester is closing (and will be told about):
                    // the kernel WARNs then too. Any other deadlock is spurious.
                    let started = sut.nested_started.load(Ordering::SeqCst);
                    let active = sut.nested_active.load(Ordering::SeqCst);
                    let sig = matches!(op, RtSchedOp::LockInterruptible(_)).then(|| sut.signal(me));
                    let r = l.lock_returning(sig);
                    let overlapped = active > 0
                        || sut.nested_active.load(Ordering::SeqCst) > 0
                        || sut.nested_started.load(Ordering::SeqCst) != started;
                    assert!(
                        r != Err(RtError::Deadlock) || overlapped,
                        "BUG: rtmutex deadlock detected for task {me}, which holds no lock, while no task that holds one was waiting: a spurious deadlock"
                    );
                    r
                };
                sut.outcome(i, me, r)
            }
            RtSchedOp::TryLock(n) => {
                let i = Self::lock_index(n);
                let l = &sut.locks[i];
                let mut got = l.try_lock();
                // A trylock also fails on a free lock whose top waiter has been woken but has
                // not taken it yet (no steal from an equal or better waiter), a state with no
                // owner the model could name: let the waiter take it, and try again.
                let mut spins = 0;
                while !got && l.owner().is_none() && spins < 64 {
                    thread::yield_now();
                    got = l.try_lock();
                    spins += 1;
                }
                if got {
                    sut.acquired(i, me);
                }
                RtSchedRet::Got(got)
            }
            RtSchedOp::Unlock(n) => {
                let i = Self::lock_index(n);
                let l = &sut.locks[i];
                if l.owner() != Some(me) {
                    return RtSchedRet::NotOwner;
                }
                let h = sut.holder[i].swap(0, Ordering::SeqCst);
                assert!(
                    h == me + 1,
                    "BUG: mutual exclusion: task {me} owns lock {i}, whose holder is task {}",
                    h.wrapping_sub(1)
                );
                // SAFETY: the task owns it.
                unsafe { l.unlock() };
                RtSchedRet::Unlocked
            }
            RtSchedOp::Signal(n) => {
                sut.signal(usize::from(n) % 4 + 1).raise();
                RtSchedRet::Done
            }
            RtSchedOp::SetPrio { task: t, prio } => {
                // Not while a task that holds a lock is in a minimal-walk lock call (see
                // `RtSchedSut::min_walk_gate`): then it does nothing.
                if sut
                    .prio_gate
                    .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    setscheduler(
                        usize::from(t) % 4 + 1,
                        PRIOS[usize::from(prio) % PRIOS.len()],
                    );
                    sut.prio_gate.store(false, Ordering::SeqCst);
                }
                RtSchedRet::Done
            }
            RtSchedOp::Spin(n) => {
                for _ in 0..=(n % 4) {
                    if let Err(e) = self.monitor(sut) {
                        panic!("BUG: INVARIANT: {e}");
                    }
                    thread::yield_now();
                }
                RtSchedRet::Done
            }
            RtSchedOp::ProxyWait(n) => sut.proxy_wait(Self::lock_index(n), me),
            RtSchedOp::ProxyRequeue(n) => {
                let mut slots = sut.proxy.lock();
                let open: Vec<usize> = (0..slots.len())
                    .filter(|&i| slots[i].task != me && slots[i].started.is_none())
                    .collect();
                if !open.is_empty() {
                    let s = &mut slots[open[usize::from(n) % open.len()]];
                    s.started = Some(sut.start(s.lock, s.task, &s.waiter));
                }
                RtSchedRet::Done
            }
        }
    }

    fn step(&self, m: &mut RtSchedModel, op: &RtSchedOp) -> RtSchedRet {
        self.step_on(m, None, op)
    }

    fn step_on(&self, m: &mut RtSchedModel, thread: Option<usize>, op: &RtSchedOp) -> RtSchedRet {
        let who = Self::who(thread);
        match *op {
            RtSchedOp::Lock(n)
            | RtSchedOp::LockChecked(n)
            | RtSchedOp::LockInterruptible(n)
            | RtSchedOp::ProxyWait(n) => {
                let o = &mut m.owner[Self::lock_index(n)];
                if *o == 0 {
                    *o = who;
                    RtSchedRet::Locked
                } else if *o == who {
                    RtSchedRet::Failed(RtError::Deadlock)
                } else {
                    RtSchedRet::Blocks
                }
            }
            RtSchedOp::TryLock(n) => {
                let o = &mut m.owner[Self::lock_index(n)];
                let free = *o == 0;
                if free {
                    *o = who;
                }
                RtSchedRet::Got(free)
            }
            RtSchedOp::Unlock(n) => {
                let o = &mut m.owner[Self::lock_index(n)];
                if *o == who {
                    *o = 0;
                    RtSchedRet::Unlocked
                } else {
                    RtSchedRet::NotOwner
                }
            }
            RtSchedOp::Signal(_)
            | RtSchedOp::SetPrio { .. }
            | RtSchedOp::Spin(_)
            | RtSchedOp::ProxyRequeue(_) => RtSchedRet::Done,
        }
    }

    /// A lock call that failed (a signal, a deadlock) stays out of the history: the lock may
    /// have been free but promised to a woken waiter (no owner the model could name), which
    /// the kernel's trylock and waiters respect. Its legitimacy is checked where it happens
    /// (the signal was raised; a deadlock on a plain lock needs a cycle-capable request in
    /// flight).
    fn in_history(&self, _op: &RtSchedOp, ret: &RtSchedRet) -> bool {
        !matches!(ret, RtSchedRet::Failed(_))
    }

    fn ret_eq(&self, real: &RtSchedRet, model: &RtSchedRet) -> bool {
        match (real, model) {
            (RtSchedRet::Failed(_), RtSchedRet::Blocks) => true,
            _ => real == model,
        }
    }

    fn partition(&self, op: &RtSchedOp) -> Option<u64> {
        Some(match *op {
            RtSchedOp::Lock(n)
            | RtSchedOp::LockChecked(n)
            | RtSchedOp::LockInterruptible(n)
            | RtSchedOp::TryLock(n)
            | RtSchedOp::Unlock(n)
            | RtSchedOp::ProxyWait(n) => Self::lock_index(n) as u64,
            _ => SCHED_LOCKS as u64,
        })
    }

    fn check_concurrent(&self, sut: &RtSchedSut) -> Result<(), String> {
        if let Some(r) = check_pi_state(&sut.refs(), sut.exact_pi()) {
            r?;
        }
        self.monitor(sut)
    }

    fn validate(&self, sut: &RtSchedSut) -> Result<(), String> {
        for (i, l) in sut.locks.iter().enumerate() {
            l.validate().map_err(|e| format!("lock {i}: {e}"))?;
            if l.owner().is_some() || !l.waiters().is_empty() {
                return Err(format!(
                    "lock {i} is still owned by {:?} with waiters {:?} after every task exited",
                    l.owner(),
                    l.waiters()
                ));
            }
        }
        for (k, p) in task::snapshot() {
            if sut.exact_pi() && p.effective != p.base {
                return Err(format!(
                    "task {k} still runs at {} with base priority {} after every lock was released",
                    p.effective, p.base
                ));
            }
        }
        match check_pi_state(&sut.refs(), sut.exact_pi()) {
            Some(r) => r,
            None => Err("the PI state is not quiescent after the scenario".into()),
        }
    }

    fn end_ops(&self, sut: &RtSchedSut, _thread: Option<usize>) -> Vec<RtSchedOp> {
        let me = task::current();
        (0..SCHED_LOCKS)
            .filter(|&i| sut.locks[i].owner() == Some(me))
            .map(|i| RtSchedOp::Unlock(i as u8))
            .collect()
    }

    fn dump(&self, sut: &RtSchedSut) -> String {
        let mut s = String::new();
        for (i, l) in sut.locks.iter().enumerate() {
            s += &format!(
                "lock {i}: owner {:?} waiters {:?}\n",
                l.owner(),
                l.try_waiters()
            );
        }
        for (k, p) in task::snapshot() {
            s += &format!(
                "task {k}: base {} effective {}{}\n",
                p.base,
                p.effective,
                if is_sleeping(k) { " (sleeping)" } else { "" }
            );
        }
        s
    }
}
