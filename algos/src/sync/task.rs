//! Task priorities, as the PREEMPT_RT locks and a priority-aware scheduler see them.
//!
//! Kernel convention: a *lower* number is a *higher* priority. `0..MAX_RT_PRIO` are the
//! real-time priorities, `MAX_RT_PRIO..MAX_PRIO` the normal ones (nice -20..=19), and
//! `DEFAULT_PRIO` is nice 0. Every task has a base (normal) priority set by itself and an
//! effective priority that priority inheritance may boost (`rt_mutex_setprio`).
//!
//! The registry is keyed by [`crate::sync::thread_key`], which under shuttle is
//! the task id the scheduler sees, so a scheduler can read every task's effective priority
//! with [`effective_of`] or [`snapshot`].

use std::collections::HashMap;
use std::sync::Mutex;

/// A priority in kernel numbering (lower is more important).
pub type Prio = i32;
/// The first non-real-time priority.
pub const MAX_RT_PRIO: Prio = 100;
/// One past the lowest priority.
pub const MAX_PRIO: Prio = 140;
/// The priority of a nice-0 task.
pub const DEFAULT_PRIO: Prio = 120;

/// A task's base and effective priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskPrio {
    /// The priority the task asked for.
    pub base: Prio,
    /// The priority it runs at (base, or boosted by priority inheritance).
    pub effective: Prio,
}

/// The registry: process-global on std (real threads), per OS thread on the model backends,
/// where one model execution (and its scheduler) runs on one OS thread and several test
/// threads may run executions side by side.
fn with_registry<R>(f: impl FnOnce(&mut HashMap<usize, TaskPrio>) -> R) -> R {
    if super::MODEL {
        std::thread_local! {
            static REG: std::cell::RefCell<HashMap<usize, TaskPrio>> = std::cell::RefCell::new(HashMap::new());
        }
        REG.with(|r| f(&mut r.borrow_mut()))
    } else {
        static REG: std::sync::OnceLock<Mutex<HashMap<usize, TaskPrio>>> =
            std::sync::OnceLock::new();
        let mut g = REG
            .get_or_init(|| Mutex::new(HashMap::new()))
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }
}

/// The key of the current task.
#[inline]
pub fn current() -> usize {
    super::thread_key()
}

/// Sets the current task's base priority; its effective priority follows unless boosted
/// above it.
pub fn set_priority(prio: Prio) {
    let me = current();
    with_registry(|reg| {
        let e = reg.entry(me).or_insert(TaskPrio {
            base: prio,
            effective: prio,
        });
        let boosted = e.effective < e.base;
        e.base = prio;
        if !boosted || prio < e.effective {
            e.effective = prio;
        }
    });
}

/// The base priority of the current task (`DEFAULT_PRIO` if never set).
pub fn priority() -> Prio {
    prio_of(current()).base
}

/// The base and effective priority of task `key`.
pub fn prio_of(key: usize) -> TaskPrio {
    with_registry(|reg| {
        reg.get(&key).copied().unwrap_or(TaskPrio {
            base: DEFAULT_PRIO,
            effective: DEFAULT_PRIO,
        })
    })
}

/// The effective priority of task `key`.
pub fn effective_of(key: usize) -> Prio {
    prio_of(key).effective
}

/// Sets the base priority of task `key` (`normal_prio`, as `sched_setscheduler` does),
/// leaving its effective priority to the caller: priority inheritance recomputes it
/// (`algos::rt::setscheduler`).
pub fn set_base(key: usize, prio: Prio) {
    with_registry(|reg| {
        let e = reg.entry(key).or_insert(TaskPrio {
            base: prio,
            effective: prio,
        });
        e.base = prio;
    });
}

/// Sets the effective priority of task `key` (priority inheritance boost or de-boost).
pub fn set_effective(key: usize, prio: Prio) {
    with_registry(|reg| {
        let e = reg.entry(key).or_insert(TaskPrio {
            base: DEFAULT_PRIO,
            effective: DEFAULT_PRIO,
        });
        e.effective = prio;
    });
}

/// Every registered task and its priorities.
pub fn snapshot() -> Vec<(usize, TaskPrio)> {
    let mut v: Vec<_> = with_registry(|reg| reg.iter().map(|(k, p)| (*k, *p)).collect());
    v.sort_unstable_by_key(|(k, _)| *k);
    v
}

/// Forgets every task (a scheduler calls this when a new model execution begins).
pub fn reset() {
    with_registry(|reg| reg.clear());
    PREEMPT.with(|p| p.borrow_mut().clear());
}

std::thread_local! {
    /// Preemption-disable depth per task, model backends only (one execution per OS thread).
    static PREEMPT: std::cell::RefCell<HashMap<usize, u32>> = std::cell::RefCell::new(HashMap::new());
}

/// `preempt_disable()` for the current task. Under the model backends a priority-aware
/// scheduler keeps running a task whose count is above zero while it is runnable (the
/// kernel's one-CPU rule: nothing preempts it, however important); the count nests. On std
/// it does nothing (the OS scheduler decides).
#[inline]
pub fn preempt_disable() {
    if super::MODEL {
        let me = current();
        PREEMPT.with(|p| *p.borrow_mut().entry(me).or_insert(0) += 1);
    }
}

/// `preempt_enable()`: undoes one [`preempt_disable`]. Where the count drops to zero the
/// kernel checks for a pending reschedule (releasing a spinlock is a preemption point), so
/// under shuttle this is a scheduling point too.
#[inline]
pub fn preempt_enable() {
    if super::MODEL {
        let me = current();
        let now = PREEMPT.with(|p| {
            let mut p = p.borrow_mut();
            let c = p.entry(me).or_insert(0);
            assert!(*c > 0, "preempt_enable without preempt_disable");
            *c -= 1;
            *c
        });
        #[cfg(mmcheck_shuttle)]
        if now == 0 && !std::thread::panicking() {
            shuttle::sync::atomic::AtomicUsize::new(0).load(std::sync::atomic::Ordering::Relaxed);
        }
        let _ = now;
    }
}

/// The preemption-disable depth of task `key` (0 on std).
pub fn preempt_count(key: usize) -> u32 {
    if super::MODEL {
        PREEMPT.with(|p| p.borrow().get(&key).copied().unwrap_or(0))
    } else {
        0
    }
}

/// A preemption-disabled region: [`preempt_disable`] now, [`preempt_enable`] on drop.
#[derive(Debug)]
#[must_use = "preemption is enabled again when the guard is dropped"]
pub struct NoPreempt(());

/// Disables preemption until the guard is dropped.
pub fn no_preempt() -> NoPreempt {
    preempt_disable();
    NoPreempt(())
}

impl Drop for NoPreempt {
    fn drop(&mut self) {
        preempt_enable();
    }
}
