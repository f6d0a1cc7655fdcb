//! `rwbase_sched`: the PREEMPT_RT reader-writer locks on the schedule engine. Two to four
//! tasks with priorities read and write an `rw_semaphore` (lock 0, [`RawRtRwLock`]), an
//! `rwlock_t` (lock 1, [`RawRtRwlockT`]) and an `rw_semaphore` with the reader slow path
//! before v6.4 (lock 2, [`RawRtRwLock::new_pre_v6_4`]): plain, interruptible/killable and
//! try acquisitions, downgrade, signals, priority changes, CPU-bound work. Free
//! interleavings (several CPUs).
//!
//! Checks, at every operation's end: mutual exclusion by the tasks' own account (a writer
//! finds no reader and no writer, a reader finds no writer); the reader counter against
//! that account whenever no task is inside a lock call (`READER_BIAS + readers` with no
//! writer, `WRITER_BIAS` with one); the priority-inheritance invariants of the inner
//! rtmutexes ([`check_pi_state`]); a downgraded writer is a reader. After the scenario both
//! locks are free with the bias restored. Lost wake-ups and deadlocks surface as shuttle's
//! deadlock report.
//!
//! A task holds each lock at most once (a second read of a held `rw_semaphore` can deadlock
//! against a pending writer, as in the kernel), takes a lock while holding the other only in
//! index order (otherwise it only tries), and releases what it holds before it exits.

use crate::target::Target;
use algos::rt::{check_pi_state, setscheduler, PiLock, RawRtRwLock, RawRtRwlockT, RtError, Signal};
use algos::sync::task::{self, Prio};
use algos::sync::thread;
use arbitrary::Arbitrary;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The priorities `SetPrio` chooses from (as `rt_sched`'s).
pub const PRIOS: [Prio; 5] = super::sched::PRIOS;

/// `READER_BIAS` as the counter shows it.
const READER_BIAS: i32 = i32::MIN;
/// `WRITER_BIAS`.
const WRITER_BIAS: i32 = 1 << 30;

/// Task keys a scenario uses (main 0, threads 1..=4).
const KEYS: usize = 5;

/// Locks of a scenario.
pub const RW_LOCKS: usize = 3;

/// An operation of a task on lock `n % 3` (0: `rw_semaphore`, 1: `rwlock_t`, 2: the
/// `rw_semaphore` before v6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Arbitrary)]
pub enum RwSchedOp {
    /// `down_read` / `rt_read_lock`.
    Read(u8),
    /// `down_read_interruptible` with the task's signal (`rwlock_t`: plain read).
    ReadInterruptible(u8),
    /// `down_read_trylock` / `rt_read_trylock`.
    TryRead(u8),
    /// `down_write` / `rt_write_lock`.
    Write(u8),
    /// `down_write_killable` with the task's signal (`rwlock_t`: plain write).
    WriteKillable(u8),
    /// `down_write_trylock` / `rt_write_trylock`.
    TryWrite(u8),
    /// `downgrade_write` of a write-held `rw_semaphore`.
    Downgrade(u8),
    /// Releases what the task holds of the lock.
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
    /// CPU-bound work: `n % 4 + 1` scheduling points.
    Spin(u8),
}

/// What an operation returned (not compared with a model: the checks are the invariants).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RwSchedRet {
    /// Acquired (or downgraded, or released).
    Done,
    /// A lock call failed.
    Failed(RtError),
    /// A trylock's answer.
    Got(bool),
    /// Not made: the task already holds the lock, does not hold it, or would take it out of
    /// order (then it only tried, see `Got`).
    Skipped,
}

/// How a task holds a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    Read,
    Write,
}

/// The two locks and the tasks' account of them.
pub struct RwSchedSut {
    rwsem: RawRtRwLock,
    rwlock: RawRtRwlockT,
    old_rwsem: RawRtRwLock,
    /// Per lock: readers and the writer (key + 1) by the tasks' own account.
    readers: [AtomicI32; RW_LOCKS],
    writer: [AtomicUsize; RW_LOCKS],
    /// Per task key and lock: what it holds (its own state; read only by itself and the
    /// checks).
    holds: Mutex<[[Option<Hold>; RW_LOCKS]; KEYS]>,
    /// Tasks inside a lock call (the counter's quiescent relation holds only at zero).
    inside: AtomicUsize,
    signals: [Signal; KEYS],
}

impl std::fmt::Debug for RwSchedSut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwSchedSut")
            .field("rwsem", &self.rwsem.readers())
            .finish_non_exhaustive()
    }
}

impl RwSchedSut {
    fn new() -> Self {
        RwSchedSut {
            rwsem: RawRtRwLock::new(),
            rwlock: RawRtRwlockT::new(),
            old_rwsem: RawRtRwLock::new_pre_v6_4(),
            readers: std::array::from_fn(|_| AtomicI32::new(0)),
            writer: std::array::from_fn(|_| AtomicUsize::new(0)),
            holds: Mutex::new([[None; RW_LOCKS]; KEYS]),
            inside: AtomicUsize::new(0),
            signals: std::array::from_fn(|_| Signal::new()),
        }
    }

    fn hold(&self, me: usize, l: usize) -> Option<Hold> {
        self.holds.lock().unwrap_or_else(|e| e.into_inner())[me % KEYS][l]
    }

    fn set_hold(&self, me: usize, l: usize, h: Option<Hold>) {
        self.holds.lock().unwrap_or_else(|e| e.into_inner())[me % KEYS][l] = h;
    }

    fn counter(&self, l: usize) -> i32 {
        match l {
            0 => self.rwsem.readers(),
            1 => self.rwlock.readers(),
            _ => self.old_rwsem.readers(),
        }
    }

    /// The `rw_semaphore` of lock `l` (0 or 2).
    fn sem(&self, l: usize) -> &RawRtRwLock {
        if l == 0 {
            &self.rwsem
        } else {
            &self.old_rwsem
        }
    }

    /// The task now reads lock `l`: no writer may hold it.
    fn got_read(&self, me: usize, l: usize) {
        let w = self.writer[l].load(Ordering::SeqCst);
        assert!(
            w == 0,
            "BUG: reader-writer exclusion: task {me} got a read lock on lock {l}, write-held by task {}",
            w - 1
        );
        self.readers[l].fetch_add(1, Ordering::SeqCst);
        self.set_hold(me, l, Some(Hold::Read));
    }

    /// The task now writes lock `l`: nobody else may hold it.
    fn got_write(&self, me: usize, l: usize) {
        let w = self.writer[l].swap(me + 1, Ordering::SeqCst);
        let r = self.readers[l].load(Ordering::SeqCst);
        assert!(
            w == 0 && r == 0,
            "BUG: reader-writer exclusion: task {me} got the write lock on lock {l} with {r} reader(s) and writer {w:?} (key + 1)"
        );
        self.set_hold(me, l, Some(Hold::Write));
    }

    fn release(&self, me: usize, l: usize) {
        match self.hold(me, l) {
            Some(Hold::Read) => {
                self.readers[l].fetch_sub(1, Ordering::SeqCst);
                self.set_hold(me, l, None);
                // SAFETY: the task holds a read lock.
                unsafe {
                    if l == 1 {
                        self.rwlock.rt_read_unlock();
                    } else {
                        self.sem(l).up_read();
                    }
                }
            }
            Some(Hold::Write) => {
                self.writer[l].store(0, Ordering::SeqCst);
                self.set_hold(me, l, None);
                // SAFETY: the task holds the write lock.
                unsafe {
                    if l == 1 {
                        self.rwlock.rt_write_unlock();
                    } else {
                        self.sem(l).up_write();
                    }
                }
            }
            None => {}
        }
    }

    fn signal(&self, key: usize) -> &Signal {
        &self.signals[key % KEYS]
    }

    fn pi_locks(&self) -> [&dyn PiLock; RW_LOCKS] {
        [&self.rwsem, &self.rwlock, &self.old_rwsem]
    }
}

/// The `rwbase_sched` target.
#[derive(Debug, Clone)]
pub struct RwSchedTarget {
    name: &'static str,
}

impl RwSchedTarget {
    /// The target registered as `name`.
    pub fn new(name: &'static str) -> Self {
        RwSchedTarget { name }
    }
}

fn lock_of(n: u8) -> usize {
    usize::from(n) % RW_LOCKS
}

impl Target for RwSchedTarget {
    type Op = RwSchedOp;
    type Ret = RwSchedRet;
    type Model = ();
    type Sut = RwSchedSut;

    fn name(&self) -> &'static str {
        self.name
    }

    fn new_sut(&self) -> RwSchedSut {
        RwSchedSut::new()
    }

    fn new_model(&self) {}

    fn apply(&self, sut: &RwSchedSut, op: &RwSchedOp) -> RwSchedRet {
        use RwSchedOp::*;
        let me = task::current();
        match *op {
            Read(n) | ReadInterruptible(n) | TryRead(n) | Write(n) | WriteKillable(n)
            | TryWrite(n) => {
                let l = lock_of(n);
                if sut.hold(me, l).is_some() {
                    return RwSchedRet::Skipped;
                }
                // A lock while holding a later one would be out of order: only try then.
                let must_try = (l + 1..RW_LOCKS).any(|k| sut.hold(me, k).is_some());
                let write = matches!(op, Write(_) | WriteKillable(_) | TryWrite(_));
                let try_only = must_try || matches!(op, TryRead(_) | TryWrite(_));
                sut.inside.fetch_add(1, Ordering::SeqCst);
                let sig = sut.signal(me);
                let r: Result<bool, RtError> = if l == 1 {
                    let rw = &sut.rwlock;
                    match (write, try_only) {
                        (false, true) => Ok(rw.rt_read_trylock()),
                        (true, true) => Ok(rw.rt_write_trylock()),
                        (false, false) => {
                            rw.rt_read_lock();
                            Ok(true)
                        }
                        (true, false) => {
                            rw.rt_write_lock();
                            Ok(true)
                        }
                    }
                } else {
                    let sem = sut.sem(l);
                    match (write, try_only) {
                        (false, true) => Ok(sem.down_read_trylock()),
                        (true, true) => Ok(sem.down_write_trylock()),
                        (false, false) if matches!(op, ReadInterruptible(_)) => {
                            sem.down_read_interruptible(sig).map(|()| true)
                        }
                        (true, false) if matches!(op, WriteKillable(_)) => {
                            sem.down_write_killable(sig).map(|()| true)
                        }
                        (false, false) => {
                            sem.down_read();
                            Ok(true)
                        }
                        (true, false) => {
                            sem.down_write();
                            Ok(true)
                        }
                    }
                };
                match r {
                    Ok(true) if write => sut.got_write(me, l),
                    Ok(true) => sut.got_read(me, l),
                    Ok(false) => {}
                    Err(RtError::Interrupted) => sut.signal(me).clear(),
                    Err(_) => {}
                }
                sut.inside.fetch_sub(1, Ordering::SeqCst);
                match r {
                    Ok(got) if try_only => RwSchedRet::Got(got),
                    Ok(_) => RwSchedRet::Done,
                    Err(e) => RwSchedRet::Failed(e),
                }
            }
            Downgrade(n) => {
                let l = lock_of(n);
                if l == 1 || sut.hold(me, l) != Some(Hold::Write) {
                    return RwSchedRet::Skipped;
                }
                sut.inside.fetch_add(1, Ordering::SeqCst);
                // The task stays in: a writer that becomes a reader.
                sut.readers[l].fetch_add(1, Ordering::SeqCst);
                sut.writer[l].store(0, Ordering::SeqCst);
                sut.set_hold(me, l, Some(Hold::Read));
                // SAFETY: the task holds the write lock.
                unsafe { sut.sem(l).downgrade_write() };
                sut.inside.fetch_sub(1, Ordering::SeqCst);
                RwSchedRet::Done
            }
            Unlock(n) => {
                let l = lock_of(n);
                if sut.hold(me, l).is_none() {
                    return RwSchedRet::Skipped;
                }
                sut.inside.fetch_add(1, Ordering::SeqCst);
                sut.release(me, l);
                sut.inside.fetch_sub(1, Ordering::SeqCst);
                RwSchedRet::Done
            }
            Signal(n) => {
                sut.signal(usize::from(n) % 4 + 1).raise();
                RwSchedRet::Done
            }
            SetPrio { task: t, prio } => {
                setscheduler(
                    usize::from(t) % 4 + 1,
                    PRIOS[usize::from(prio) % PRIOS.len()],
                );
                RwSchedRet::Done
            }
            Spin(n) => {
                for _ in 0..=(n % 4) {
                    thread::yield_now();
                }
                RwSchedRet::Done
            }
        }
    }

    fn step(&self, _model: &mut (), _op: &RwSchedOp) -> RwSchedRet {
        RwSchedRet::Done
    }

    fn ret_eq(&self, _real: &RwSchedRet, _model: &RwSchedRet) -> bool {
        true
    }

    fn check_concurrent(&self, sut: &RwSchedSut) -> Result<(), String> {
        if let Some(r) = check_pi_state(&sut.pi_locks(), algos::rt::pi_imprecise() == 0) {
            r?;
        }
        for l in 0..RW_LOCKS {
            // The counter first: its load is a scheduling point, and what follows (the
            // account, who is inside a call) is plain memory read with no switch in between.
            let got = sut.counter(l);
            if sut.inside.load(Ordering::SeqCst) != 0 {
                return Ok(());
            }
            let readers = sut.readers[l].load(Ordering::SeqCst);
            let writer = sut.writer[l].load(Ordering::SeqCst);
            let want = if writer != 0 {
                WRITER_BIAS
            } else {
                READER_BIAS.wrapping_add(readers)
            };
            if got != want {
                return Err(format!(
                    "lock {l}: the reader counter is {got:#x}; with {readers} reader(s) and writer {writer} (key + 1) held and no task inside a lock call it must be {want:#x}"
                ));
            }
        }
        Ok(())
    }

    fn validate(&self, sut: &RwSchedSut) -> Result<(), String> {
        for l in 0..RW_LOCKS {
            if sut.counter(l) != READER_BIAS {
                return Err(format!(
                    "lock {l}: the reader counter is {:#x} after every task released it",
                    sut.counter(l)
                ));
            }
        }
        if sut.rwsem.rtmutex_owner().is_some() || sut.old_rwsem.rtmutex_owner().is_some() {
            return Err("an rw_semaphore's rtmutex is still owned".into());
        }
        match check_pi_state(&sut.pi_locks(), algos::rt::pi_imprecise() == 0) {
            Some(r) => r,
            None => Err("the PI state is not quiescent after the scenario".into()),
        }
    }

    fn end_ops(&self, sut: &RwSchedSut, _thread: Option<usize>) -> Vec<RwSchedOp> {
        let me = task::current();
        (0..RW_LOCKS as u8)
            .filter(|&l| sut.hold(me, usize::from(l)).is_some())
            .map(RwSchedOp::Unlock)
            .collect()
    }

    fn dump(&self, sut: &RwSchedSut) -> String {
        format!(
            "rw_semaphore: counter {:#x}, rtmutex owner {:?}\nrwlock_t: counter {:#x}\nrw_semaphore (pre-v6.4): counter {:#x}, rtmutex owner {:?}\naccount: readers {:?} writer {:?}\n",
            sut.rwsem.readers(),
            sut.rwsem.rtmutex_owner(),
            sut.rwlock.readers(),
            sut.old_rwsem.readers(),
            sut.old_rwsem.rtmutex_owner(),
            sut.readers,
            sut.writer
        )
    }
}
