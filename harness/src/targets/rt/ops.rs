//! `rt_ops`: one task's `rt_mutex` operations on [`LOCKS`] locks against a model of what it
//! owns and its priority.
//!
//! The task never blocks (every lock is free or its own), so this target checks the owner
//! word's fast and slow paths without contention, the self-deadlock rules (`lock_checked` on
//! an owned lock is `EDEADLK` with nothing enqueued; a plain or interruptible lock there
//! would panic, so the target predicts that instead of calling it), trylock, unlock by the
//! owner, signals that do not matter to an uncontended lock, and `setscheduler` with no
//! donor. After every operation each lock's quiescent invariants hold
//! ([`RawRtMutex::validate`]), the owners are the model's, and the task's effective
//! priority is its base priority.

use crate::target::Target;
use algos::rt::{setscheduler, RawRtMutex, RtError, Signal};
use algos::sync::lock_api::RawMutex as _;
use algos::sync::task::{self, Prio, DEFAULT_PRIO, MAX_PRIO};
use arbitrary::Arbitrary;

/// How many locks the task works on.
pub const LOCKS: usize = 4;

/// One operation of the task (lock indexes wrap at [`LOCKS`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Arbitrary)]
pub enum RtOp {
    /// `rt_mutex_lock`.
    Lock {
        /// The lock.
        lock: u8,
    },
    /// `rt_mutex_lock` with full deadlock detection.
    LockChecked {
        /// The lock.
        lock: u8,
    },
    /// `rt_mutex_lock_interruptible`, with the signal raised first if `raised`.
    LockInterruptible {
        /// The lock.
        lock: u8,
        /// Whether the signal is pending already.
        raised: bool,
    },
    /// `rt_mutex_trylock`.
    TryLock {
        /// The lock.
        lock: u8,
    },
    /// `rt_mutex_unlock` (only of a lock the task owns; otherwise nothing).
    Unlock {
        /// The lock.
        lock: u8,
    },
    /// `sched_setscheduler` of the task itself to priority `prio % 140`.
    SetPrio {
        /// The priority.
        prio: u8,
    },
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RtRet {
    /// Locked or unlocked.
    Done,
    /// The error a lock call returned.
    Failed(RtError),
    /// A trylock's answer.
    Got(bool),
    /// A plain or interruptible lock of an owned lock: the call would panic with
    /// `rtmutex deadlock detected`, so it was not made.
    WouldDeadlock,
    /// An unlock of a lock the task does not own: not made.
    NotOwner,
    /// The task's base and effective priority after a priority change.
    Prio(Prio, Prio),
}

/// The model: which locks the task owns, and its base priority.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtModel {
    owned: [bool; LOCKS],
    base: Prio,
}

/// The locks.
#[derive(Debug)]
pub struct RtSut {
    locks: [RawRtMutex; LOCKS],
}

/// The `rt_ops` target.
#[derive(Debug, Clone)]
pub struct RtOpsTarget {
    name: &'static str,
}

impl RtOpsTarget {
    /// The target registered as `name`.
    pub fn new(name: &'static str) -> Self {
        RtOpsTarget { name }
    }
}

fn idx(lock: u8) -> usize {
    usize::from(lock) % LOCKS
}

impl Target for RtOpsTarget {
    type Op = RtOp;
    type Ret = RtRet;
    type Model = RtModel;
    type Sut = RtSut;

    fn name(&self) -> &'static str {
        self.name
    }

    fn new_sut(&self) -> RtSut {
        setscheduler(task::current(), DEFAULT_PRIO);
        RtSut {
            locks: std::array::from_fn(|_| RawRtMutex::new()),
        }
    }

    fn new_model(&self) -> RtModel {
        RtModel {
            owned: [false; LOCKS],
            base: DEFAULT_PRIO,
        }
    }

    fn apply(&self, sut: &RtSut, op: &RtOp) -> RtRet {
        let me = task::current();
        match *op {
            RtOp::Lock { lock } => {
                let l = &sut.locks[idx(lock)];
                if l.owner() == Some(me) {
                    return RtRet::WouldDeadlock;
                }
                l.lock();
                RtRet::Done
            }
            RtOp::LockChecked { lock } => match sut.locks[idx(lock)].lock_checked() {
                Ok(()) => RtRet::Done,
                Err(e) => RtRet::Failed(e),
            },
            RtOp::LockInterruptible { lock, raised } => {
                let l = &sut.locks[idx(lock)];
                if l.owner() == Some(me) {
                    return RtRet::WouldDeadlock;
                }
                let sig = Signal::new();
                if raised {
                    sig.raise();
                }
                match l.lock_interruptible(&sig) {
                    Ok(()) => RtRet::Done,
                    Err(e) => RtRet::Failed(e),
                }
            }
            RtOp::TryLock { lock } => RtRet::Got(sut.locks[idx(lock)].try_lock()),
            RtOp::Unlock { lock } => {
                let l = &sut.locks[idx(lock)];
                if l.owner() != Some(me) {
                    return RtRet::NotOwner;
                }
                // SAFETY: the task owns it.
                unsafe { l.unlock() };
                RtRet::Done
            }
            RtOp::SetPrio { prio } => {
                setscheduler(me, Prio::from(prio) % MAX_PRIO);
                let p = task::prio_of(me);
                RtRet::Prio(p.base, p.effective)
            }
        }
    }

    fn step(&self, m: &mut RtModel, op: &RtOp) -> RtRet {
        match *op {
            RtOp::Lock { lock } | RtOp::LockInterruptible { lock, .. } => {
                let o = &mut m.owned[idx(lock)];
                if *o {
                    return RtRet::WouldDeadlock;
                }
                // An uncontended lock is taken whatever the signal says (the fast path).
                *o = true;
                RtRet::Done
            }
            RtOp::LockChecked { lock } => {
                let o = &mut m.owned[idx(lock)];
                if *o {
                    return RtRet::Failed(RtError::Deadlock);
                }
                *o = true;
                RtRet::Done
            }
            RtOp::TryLock { lock } => {
                let o = &mut m.owned[idx(lock)];
                if *o {
                    return RtRet::Got(false);
                }
                *o = true;
                RtRet::Got(true)
            }
            RtOp::Unlock { lock } => {
                let o = &mut m.owned[idx(lock)];
                if !*o {
                    return RtRet::NotOwner;
                }
                *o = false;
                RtRet::Done
            }
            RtOp::SetPrio { prio } => {
                m.base = Prio::from(prio) % MAX_PRIO;
                RtRet::Prio(m.base, m.base)
            }
        }
    }

    fn invariants(&self, sut: &RtSut, m: &RtModel) -> Result<(), String> {
        let me = task::current();
        for (i, l) in sut.locks.iter().enumerate() {
            l.validate().map_err(|e| format!("lock {i}: {e}"))?;
            let want = m.owned[i].then_some(me);
            if l.owner() != want {
                return Err(format!(
                    "lock {i} is owned by {:?}, the model says {want:?}",
                    l.owner()
                ));
            }
            if !l.waiters().is_empty() {
                return Err(format!("lock {i} has waiters {:?}", l.waiters()));
            }
        }
        let p = task::prio_of(me);
        if p.base != m.base || p.effective != m.base {
            return Err(format!(
                "the task runs at base {} effective {}, the model says {}",
                p.base, p.effective, m.base
            ));
        }
        Ok(())
    }

    fn dump(&self, sut: &RtSut) -> String {
        sut.locks
            .iter()
            .enumerate()
            .map(|(i, l)| {
                format!(
                    "lock {i}: owner {:?} waiters {:?}\n",
                    l.owner(),
                    l.waiters()
                )
            })
            .collect()
    }
}

impl Drop for RtSut {
    fn drop(&mut self) {
        // Locks left held by the input are released by their owner, this task.
        let me = task::current();
        for l in &self.locks {
            if l.owner() == Some(me) {
                // SAFETY: the task owns it.
                unsafe { l.unlock() };
            }
        }
    }
}
