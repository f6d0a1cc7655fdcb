//! The PREEMPT_RT sleeping locks: `rt_mutex` with priority inheritance and the `rwbase_rt`
//! reader-writer lock under `rw_semaphore` and `rwlock_t`.
//!
//! Kernel mapping (kernel/locking/rtmutex.c, rtmutex_common.h, rtmutex_api.c, rwbase_rt.c).
//!
//! Faithful:
//! - The owner word: the owner task and bit 0, `HAS_WAITERS`; the compare-and-swap fast
//!   paths (acquire on lock, release on unlock) work only while the bit is clear; the slow
//!   path sets the bit before it looks at the owner (`mark_rt_mutex_waiters`), takes the lock
//!   with an acquire exchange (`rt_mutex_set_owner`), and fixes a stale bit up
//!   (`fixup_rt_mutex_waiters`); the slow unlock without waiters clears the bit, drops
//!   `wait_lock` and only then releases the word with a compare-and-swap
//!   (`unlock_rt_mutex_safe`).
//! - `wait_lock` per lock and `pi_lock` per task, taken in the kernel's order (wait_lock then
//!   pi_lock; the chain walk, which holds a pi_lock, only *tries* a wait_lock and retries).
//! - The waiter, with separate sort keys for the lock's tree (`tree`, under wait_lock) and
//!   the owner's `pi_waiters` tree (`pi_tree`, under the owner's pi_lock, copied by
//!   `waiter_clone_prio`) as since f7853c342418; keys are (priority, arrival), so equal
//!   priorities are FIFO and a requeued waiter goes behind its new equals; non-RT tasks
//!   wait as priority 120 (715f7f9ece46); `pi_blocked_on`.
//! - `try_to_take_rt_mutex` (top waiter or a strictly better one; lateral steals of non-RT
//!   equals only in the spinlock build, i.e. `spinlock_t` ([`RawRtSpinLock`]) and
//!   `rwlock_t`), `task_blocks_on_rt_mutex` with the
//!   early self-deadlock check, `rt_mutex_adjust_prio_chain` step by step ([1]-[13]: the exit
//!   conditions, `next_lock` re-validation, requeue, boost and deboost, waking the new top
//!   waiter of an ownerless lock as db370a8b9f67 does, deadlock detection by `lock ==
//!   orig_lock || owner == top_task`, `max_lock_depth` 1024), `mark_wakeup_next_waiter`
//!   (deboost, then owner = `HAS_WAITERS`, then the wake-up: no hand-over, a better task may
//!   steal), `remove_waiter` on a signal or an error with its deboost walk (on the waiter's
//!   task, as the proxy fix does), `rt_mutex_adjust_pi` after `sched_setscheduler`, and the
//!   futex proxy API.
//! - `rwbase_rt`: `readers` with `READER_BIAS` and `WRITER_BIAS`, the reader fast path while
//!   the bias is set, the v6.4 reader slow path (286deb7ec03d: block on the writer's
//!   rtmutex and boost it), the writer taking the rtmutex, removing the bias and sleeping
//!   until the last reader wakes it, release on write unlock, `downgrade`, trylocks.
//!
//! Different, and why:
//! - Tasks are threads; a task's key is [`crate::sync::task::current`] and its priorities
//!   live in [`crate::sync::task`]. Sleeping is `thread::park`, waking `Thread::unpark`
//!   (std: a futex; loom and shuttle: the task is not runnable until unparked). The top
//!   waiter spins while the owner runs (`rtmutex_spin_on_owner`) for a bounded number of
//!   turns on std, and not at all under the models (a spin adds schedules that change
//!   nothing).
//! - Waiters are reference-counted heap objects rather than stack objects; a waiter whose
//!   wait has ended is marked dead and, in checking builds, any later use through a tree is
//!   reported as `KMSAN: use-after-free` (what the kernel's stack waiter would be).
//! - `SCHED_DEADLINE` is not modelled (no deadline key), nor ww_mutex, timeouts (gone from
//!   the kernel's rt_mutex API since v5.13) or lockdep.
//! - A plain `lock()` that detects a deadlock cleans up as the kernel does and then panics
//!   with `rtmutex deadlock detected` (the kernel WARNs and sleeps for ever).
//! - A signal is a [`Signal`] value the interruptible waiter is given, not a per-task
//!   pending set; it stays raised until [`Signal::clear`].
//!
//! Tests: `algos/tests/integration/rt.rs` ports the kernel's rt-tester scenarios with their
//! exact priorities, and the deadlock, proxy and rwbase cases, on the std backend.

mod mutex;
mod rwbase;

pub use mutex::{
    check_pi_state, PiBase, PiLock, ProxyWaiter, RawRtMutex, RawRtSpinLock, RtMutex, RtMutexGuard,
    RtSpinLock, RtSpinLockGuard, MAX_LOCK_DEPTH,
};
pub use rwbase::{
    RawRtRwLock, RawRtRwlockT, RtRwLock, RtRwLockReadGuard, RtRwLockWriteGuard, RtRwlockT,
};

use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::shared::Arc;
use crate::sync::stat::{CheckLock, Counter, Flag};
use crate::sync::task::{self, Prio};
use crate::sync::thread::Thread;
use crate::sync::Mutex;
use std::collections::{BTreeMap, HashMap};

/// Why a lock call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RtError {
    /// `-EDEADLK`: the caller owns the lock, or its wait would close a cycle of waiters.
    Deadlock,
    /// `-EINTR`: the caller's [`Signal`] was raised while it waited.
    Interrupted,
}

impl std::fmt::Display for RtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RtError::Deadlock => "deadlock detected (EDEADLK)",
            RtError::Interrupted => "interrupted by a signal (EINTR)",
        })
    }
}

impl std::error::Error for RtError {}

/// A signal for a task waiting interruptibly (`lock_interruptible`): raising it wakes the
/// task, whose lock call then returns [`RtError::Interrupted`] unless it took the lock
/// first (the kernel's wait loop tries the lock before it looks at signals). It stays
/// raised until [`Signal::clear`], as a pending signal does until it is handled.
#[derive(Debug, Default)]
pub struct Signal {
    raised: AtomicBool,
    /// The task waiting with this signal, to wake.
    waiting: Mutex<Option<Thread>>,
}

impl Signal {
    /// A signal not raised.
    pub fn new() -> Self {
        Signal::default()
    }

    /// Raises the signal and wakes the task waiting with it (`send_sig`).
    pub fn raise(&self) {
        self.raised.store(true, Ordering::SeqCst);
        if let Some(t) = self.waiting.lock().as_ref() {
            t.unpark();
        }
    }

    /// Whether it is raised (`signal_pending`).
    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }

    /// Clears it (the signal was handled).
    pub fn clear(&self) {
        self.raised.store(false, Ordering::SeqCst);
    }

    /// The current task will wait with this signal: a later [`Signal::raise`] wakes it.
    fn attach(&self) {
        *self.waiting.lock() = Some(crate::sync::thread::current());
    }

    fn detach(&self) {
        *self.waiting.lock() = None;
    }
}

/// `sched_setscheduler` on any task: sets `task`'s base priority to `prio`, recomputes its
/// effective priority (the better of the new base and its top priority-inheritance donor)
/// and, if it is blocked on a lock, propagates the change along its blocking chain
/// (`rt_mutex_adjust_pi`). When this returns, every priority it changes is changed.
pub fn setscheduler(task_key: usize, prio: Prio) {
    if Busy::any() {
        IMPRECISE.add(1);
    }
    let busy = Busy::enter();
    let ts = task_rt(task_key);
    let pi = ts.pi.lock();
    task::set_base(task_key, prio);
    mutex::adjust_prio(task_key, &pi);
    if pi.blocked_on.is_none() {
        // Consistent as the pi_lock drops: nothing to propagate (`rt_mutex_adjust_pi`
        // returns at once), so no change is in flight any more.
        drop(busy);
        return;
    }
    drop(pi);
    mutex::adjust_pi(task_key);
    drop(busy);
}

/// Whether `task` sleeps in a lock's slow path: it is a waiter, its chain walk is done and
/// it found the lock unavailable. A task that has been woken stays marked until it runs
/// again ([`wake_pending`] tells the two apart).
pub fn is_sleeping(task_key: usize) -> bool {
    tasks().with(|t| t.get(&task_key).is_some_and(|ts| ts.sleeping.get()))
}

/// Whether `task` has been woken from a lock's sleep and has not run since (`TASK_RUNNING`
/// set by `wake_up_process`, the task not yet back from `schedule()`): runnable, although
/// [`is_sleeping`] still says it sleeps.
pub fn wake_pending(task_key: usize) -> bool {
    tasks().with(|t| {
        t.get(&task_key)
            .is_some_and(|ts| ts.sleeping.get() && ts.woken.get())
    })
}

// ---- per-task state -------------------------------------------------------------------

/// A waiter's place in a tree: priority (lower first), then arrival (FIFO among equals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    prio: Prio,
    seq: u64,
}

/// What a task's `pi_lock` protects.
#[derive(Default)]
struct PiState {
    /// `pi_waiters`: the top waiter of every lock the task owns, by their `pi_tree` keys.
    waiters: BTreeMap<Key, mutex::WaiterRef>,
    /// `pi_blocked_on`.
    blocked_on: Option<mutex::WaiterRef>,
}

/// A task's PREEMPT_RT lock state (the `task_struct` fields the locks use).
struct TaskRt {
    /// `pi_lock`.
    pi: Mutex<PiState>,
    /// Asleep in a lock's slow path (for [`is_sleeping`] and monitors).
    sleeping: Flag,
    /// Woken and not yet back from [`schedule`] (`TASK_RUNNING` set by the waker): the
    /// lost-wakeup check's evidence that a sleeping top waiter was woken.
    woken: Flag,
    /// The task's thread, for wake-ups addressed to a task rather than a waiter (an rwbase
    /// writer waiting for its readers).
    thread: CheckLock<Option<Thread>>,
}

/// The per-task table: one per process on std, one per model execution under the models.
type Tasks = CheckLock<HashMap<usize, Arc<TaskRt>>>;

crate::sync::backend_lazy_static! {
    static ref TASKS: Tasks = CheckLock::new(HashMap::new());
}

fn tasks() -> &'static Tasks {
    &TASKS
}

/// The lock state of task `key` (made on first use).
fn task_rt(key: usize) -> Arc<TaskRt> {
    tasks().with(|t| {
        t.entry(key)
            .or_insert_with(|| {
                Arc::new(TaskRt {
                    pi: Mutex::new(PiState::default()),
                    sleeping: Flag::new(),
                    woken: Flag::new(),
                    thread: CheckLock::new(None),
                })
            })
            .clone()
    })
}

/// Puts the current task to sleep until it is woken (`schedule()` in a sleeping state); a
/// wake-up may be spurious, callers re-check their condition.
fn schedule(ts: &TaskRt) {
    ts.sleeping.set(true);
    crate::sync::thread::park();
    ts.sleeping.set(false);
    ts.woken.set(false);
}

/// The old rt-tester's "wakeup stop" (its `blockedwake` state), for scenario tests on std
/// with the `hooks` feature: a task armed with [`stop_after_wakeup`] stops the next time it
/// is woken in a lock's slow path, before it retries the lock (it counts as awake, not
/// sleeping), until [`continue_after_wakeup`]. This is the window in which a better task
/// may steal a released lock from its woken top waiter (rt-tester's `t3-l1-pi-steal`).
#[cfg(all(mmcheck_hooks, not(mmcheck_model)))]
mod wakeup_stop {
    use crate::sync::shared::OnceLock;
    use crate::sync::{thread, Mutex};
    use std::collections::HashMap;

    enum Stop {
        Armed,
        Stopped(thread::Thread),
        Released,
    }

    fn stops() -> &'static Mutex<HashMap<usize, Stop>> {
        static STOPS: OnceLock<Mutex<HashMap<usize, Stop>>> = OnceLock::new();
        STOPS.get_or_init(|| Mutex::new(HashMap::new()))
    }

    /// Arms the stop of task `key`.
    pub fn stop_after_wakeup(key: usize) {
        stops().lock().insert(key, Stop::Armed);
    }

    /// True while task `key` is stopped after a wake-up.
    pub fn stopped_after_wakeup(key: usize) -> bool {
        matches!(stops().lock().get(&key), Some(Stop::Stopped(_)))
    }

    /// Lets task `key` go on (or disarms its stop if it has not stopped yet).
    pub fn continue_after_wakeup(key: usize) {
        let prev = stops().lock().insert(key, Stop::Released);
        if let Some(Stop::Stopped(t)) = prev {
            t.unpark();
        }
    }

    /// Called by the woken task before it retries the lock.
    pub(super) fn point(key: usize) {
        {
            let mut s = stops().lock();
            match s.get(&key) {
                Some(Stop::Armed) => {
                    s.insert(key, Stop::Stopped(thread::current()));
                }
                _ => {
                    s.remove(&key);
                    return;
                }
            }
        }
        while stopped_after_wakeup(key) {
            thread::park();
        }
        stops().lock().remove(&key);
    }
}

#[cfg(all(mmcheck_hooks, not(mmcheck_model)))]
pub use wakeup_stop::{continue_after_wakeup, stop_after_wakeup, stopped_after_wakeup};

/// The point where a woken waiter may be stopped ([`stop_after_wakeup`]); nothing without
/// the hooks.
#[inline(always)]
fn after_wakeup(_key: usize) {
    #[cfg(all(mmcheck_hooks, not(mmcheck_model)))]
    wakeup_stop::point(_key);
}

/// Wakes task `key`, asleep (or about to sleep) in [`schedule`] on `thread`
/// (`wake_up_process`).
fn wake(key: usize, thread: &Thread) {
    task_rt(key).woken.set(true);
    thread.unpark();
}

crate::sync::backend_lazy_static! {
    /// Per execution under the models: an execution that ends in a panic may leave tasks
    /// (and their in-flight counts) behind.
    static ref BUSY: Counter = Counter::new();
}

/// The in-flight count of [`Busy`] for the current execution.
fn busy_count(f: impl FnOnce(&Counter)) {
    f(&BUSY);
}

crate::sync::backend_lazy_static! {
    /// Events after which the kernel's priorities are best effort (see [`pi_imprecise`]).
    static ref IMPRECISE: Counter = Counter::new();
}

/// How many events so far leave the kernel's priorities best effort, per process on std and
/// per execution under the models:
/// - a chain walk that ran into a cycle of blocked tasks (step [6]), reported or not: a
///   deboost walk that meets one stops there, and a cycle can be broken (a signalled waiter
///   leaves) before the walk that closed it reports it;
/// - a priority change (`setscheduler`) that began while another change of the PI state
///   was in flight: `rt_mutex_setprio` takes the top donor's *current* priority, which a
///   donor whose own change has not been propagated yet (its walk is pending) may give
///   away and take back, and the walks that follow stop where the waiter keys look equal.
///
/// The kernel has both imprecisions; once one has happened, checkers compare priorities and
/// waiter keys loosely ([`check_pi_state`] without `pi_property`).
pub fn pi_imprecise() -> u64 {
    IMPRECISE.get()
}

/// Whether no change of the priority-inheritance state is in flight (no block with its
/// chain walk, removal, unlock before its wake-up, or priority change is under way): the
/// points where monitors may expect priorities to have propagated. Between a walk's steps
/// the kernel runs preemptible, so a task may run before a boost has reached the owner.
pub fn pi_settled() -> bool {
    !Busy::any()
}

/// A change of the priority-inheritance state in flight (a block and its chain walk, a
/// removal, an unlock until its wake-up, a priority change): the quiescent invariants
/// ([`check_pi_state`]) are not checked until every such change is done, because the
/// kernel's own walk leaves them broken between its steps, with no lock held.
struct Busy(());

impl Busy {
    fn enter() -> Busy {
        busy_count(|c| c.add(1));
        Busy(())
    }

    /// Whether any change is in flight.
    fn any() -> bool {
        let mut n = 0;
        busy_count(|c| n = c.get());
        n != 0
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        busy_count(|c| c.sub(1));
    }
}
