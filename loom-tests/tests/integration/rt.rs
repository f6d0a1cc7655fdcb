//! loom models of the PREEMPT_RT locks (`algos::rt`): the `rt_mutex` owner word's
//! compare-and-swap fast paths against its slow path (the `HAS_WAITERS` bit, `wait_lock`,
//! enqueue, sleep with `park` and wake-up with `unpark`, `fixup_rt_mutex_waiters`,
//! `unlock_rt_mutex_safe`), interruptible waiters leaving while the owner unlocks, trylock,
//! and the `rwbase_rt` reader/writer fast and slow paths with downgrade. Each model has two or
//! three threads and a handful of lock operations, so loom finishes it with bounded
//! preemptions (`LOOM_MAX_PREEMPTIONS=2`).
//!
//! Critical sections touch a loom `UnsafeCell`, so loom itself reports any access the lock
//! does not order (broken exclusion, or a missing acquire/release); a lost wake-up leaves a
//! task parked for ever, which loom reports as a deadlock. Every model ends with assertions on
//! the lock's final state, and those that depend on a task having slept check, after the
//! model, that some execution did put it to sleep (so the slow path was really explored).
//!
//! A limit of loom 0.7's `park`: a pending unpark token is dropped when its thread blocks on
//! a loom `Mutex` before it parks (`post_acquire` marks it blocked, the release makes it
//! runnable without the token). A wait loop that checks its condition under `wait_lock`,
//! drops it, *retakes* it and then parks without checking again is correct on std (the
//! token survives) but deadlocks here; the wait loops must check and then park within one
//! window with `wait_lock` dropped, as the kernel's `rt_mutex_slowlock_block` spins and
//! schedules between one unlock and one relock of `wait_lock`.
#![cfg(mmcheck_loom)]

use algos::rt::{is_sleeping, RawRtMutex, RawRtRwLock, RtError, Signal};
use algos::sync::cell::UnsafeCell;
use algos::sync::lock_api::RawMutex as _;
use algos::sync::task;
use algos::sync::{thread, Arc};
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering};

/// Data only a lock holder may touch; loom checks every access is ordered by the lock.
struct Guarded<T>(UnsafeCell<T>);

// SAFETY: the models touch the cell only inside critical sections of the lock under test
// (or after joining every other thread); loom's `UnsafeCell` reports any access that the
// lock fails to order, which is what the models check.
unsafe impl<T: Send> Sync for Guarded<T> {}

impl<T: Copy> Guarded<T> {
    fn new(v: T) -> Self {
        Guarded(UnsafeCell::new(v))
    }

    fn get(&self) -> T {
        // SAFETY: see the `Sync` impl; loom checks the access.
        self.0.with(|p| unsafe { *p })
    }

    fn set(&self, v: T) {
        // SAFETY: see the `Sync` impl; loom checks the access.
        self.0.with_mut(|p| unsafe { *p = v });
    }
}

impl Guarded<usize> {
    /// A read-modify-write in two steps, as a plain `count++` is.
    fn incr(&self) {
        let v = self.get();
        self.set(v + 1);
    }
}

/// A task key published by the task itself, for [`is_sleeping`] in coverage checks (a plain
/// std atomic: not a loom operation, so it adds no interleavings).
struct Key(StdAtomicUsize);

impl Key {
    fn new() -> Self {
        Key(StdAtomicUsize::new(usize::MAX))
    }

    fn publish(&self) {
        self.0.store(task::current(), Ordering::Relaxed);
    }

    fn sleeping(&self) -> bool {
        let k = self.0.load(Ordering::Relaxed);
        k != usize::MAX && is_sleeping(k)
    }
}

/// Whether `key` is asleep in a lock's slow path, counted in `seen` for the post-model check.
fn note_sleeping(key: &Key, seen: &StdAtomicUsize) {
    if key.sleeping() {
        seen.fetch_add(1, Ordering::Relaxed);
    }
}

/// A mutex and a counter its critical sections increment.
struct Counted {
    lock: RawRtMutex,
    count: Guarded<usize>,
}

impl Counted {
    fn new() -> Self {
        let c = Counted {
            lock: RawRtMutex::new(),
            count: Guarded::new(0),
        };
        // Under the model backends the owner word is a loom atomic made on first use (the
        // facade's `ConstAtomicUsize`); made here, before the lock is shared, as a real
        // lock's word exists before any thread sees it. (Made by a thread's first lock
        // instead, loom finds no happens-before from its creation to another thread's first
        // access and reports a causality violation that is not the lock's.)
        assert_eq!(c.lock.owner(), None);
        c
    }

    /// One critical section through `lock()` (fast path if free, else the slow path).
    fn locked_incr(&self) {
        self.lock.lock();
        self.count.incr();
        // SAFETY: locked just above by this task.
        unsafe { self.lock.unlock() };
    }

    /// The lock is free, with nobody queued, and usable again.
    fn assert_free(&self) {
        assert_eq!(self.lock.owner(), None, "the lock ends owned");
        assert!(self.lock.waiters().is_empty(), "a waiter is left queued");
        assert!(self.lock.try_lock(), "the free lock cannot be taken");
        // SAFETY: taken just above.
        unsafe { self.lock.unlock() };
        assert_eq!(self.lock.owner(), None);
    }
}

/// Task A (the main thread) takes and releases the mutex twice, on the owner-word fast
/// paths when it is free, while task B locks it once; whenever B finds it owned it takes the
/// slow path (`try_to_take_rt_mutex` sets `HAS_WAITERS`, B enqueues and sleeps), A's unlock
/// then fails its fast release and wakes B (`mark_wakeup_next_waiter`), and A's second lock
/// may find the lock ownerless with the bit set and queue behind B. Afterwards the lock is
/// free with nobody queued, and the counter incremented in the three critical sections is 3
/// (loom checks each increment is ordered after the previous one).
///
/// Catches (each planted and seen caught): a fixup_rt_mutex_waiters that clears the bit
/// while waiters remain (B takes the lock ahead of the queued A, clears the bit, and its fast
/// release never wakes A: loom reports a deadlock), a fast release that ignores the bit (the
/// sleeping B is never woken: deadlock), relaxed orderings on the fast acquire or release
/// (loom's cell check).
#[test]
fn fast_paths_against_the_slow_paths_waiter_bit() {
    static B_SLEPT: StdAtomicUsize = StdAtomicUsize::new(0);
    crate::model(|| {
        let s = Arc::new((Counted::new(), Key::new()));
        let s2 = s.clone();
        let b = thread::spawn(move || {
            s2.1.publish();
            s2.0.locked_incr();
        });
        for _ in 0..2 {
            s.0.lock.lock();
            s.0.count.incr();
            // SAFETY: locked just above by this task.
            unsafe { s.0.lock.unlock() };
            // B is still marked asleep if it slept while A held the lock (a woken task is
            // marked awake when it runs again).
            note_sleeping(&s.1, &B_SLEPT);
        }
        b.join().expect("B panicked");
        assert_eq!(s.0.count.get(), 3, "a critical section was lost");
        s.0.assert_free();
    });
    assert!(
        B_SLEPT.load(Ordering::Relaxed) > 0,
        "no execution had B asleep on the owned lock: the slow path was not explored"
    );
}

/// Owner, two interruptible waiters and their signals.
struct Interrupted {
    m: Counted,
    sig: [Signal; 2],
    keys: [Key; 2],
}

/// The setting of the kernel's comment on fixup_rt_mutex_waiters: T1 (the main thread) owns
/// the lock; T2 and T3 block on it with `lock_interruptible`; T1 raises both signals and
/// unlocks. The waiters leave (`remove_waiter`, then `fixup_rt_mutex_waiters` on an emptied
/// tree) while unlocks run: a fast release fails on the bit a leaving waiter set, and the
/// slow release then finds the tree emptied and the bit cleared, and releases the word with
/// its compare-and-swap (`unlock_rt_mutex_safe`); or it wakes a still-queued waiter, which
/// takes the lock (the wait loop tries the lock before it looks at signals). In every
/// interleaving every unlock completes, each waiter returns `Ok` (and unlocks) or
/// `Err(Interrupted)`, and the lock ends free with nobody queued.
///
/// Catches (each planted and seen caught): an interrupted waiter left in the tree (the
/// checking build reports the use-after-free of its waiter), a fast release that ignores the
/// bit (the lock ends owned), relaxed orderings on the fast acquire or release (loom's cell
/// check).
///
/// Does not reach: the comment's race itself (T3's unconditional fixup store straddling T1's
/// fast release), nor a plain store in place of `unlock_rt_mutex_safe`'s compare-and-swap.
/// Here, as in the kernel since the waiter-bit fixes, `remove_waiter` and the fixup run in one
/// wait_lock section unless the owner is itself blocked on another lock (the deboost chain
/// walk drops wait_lock), so a stale bit on an emptied tree is visible to others only in that
/// walk's window: reaching it takes an owner blocked on a second lock, a fourth task and
/// more than two preemptions.
#[test]
fn interrupted_waiters_leave_while_the_owner_unlocks() {
    static BOTH_SLEPT: StdAtomicUsize = StdAtomicUsize::new(0);
    crate::model(|| {
        let s = Arc::new(Interrupted {
            m: Counted::new(),
            sig: [Signal::new(), Signal::new()],
            keys: [Key::new(), Key::new()],
        });
        s.m.lock.lock();
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let s = s.clone();
                thread::spawn(move || {
                    s.keys[i].publish();
                    match s.m.lock.lock_interruptible(&s.sig[i]) {
                        Ok(()) => {
                            s.m.count.incr();
                            // SAFETY: locked just above by this task.
                            unsafe { s.m.lock.unlock() };
                        }
                        Err(RtError::Interrupted) => {}
                        Err(e) => panic!("lock_interruptible: {e}"),
                    }
                })
            })
            .collect();
        s.sig[0].raise();
        s.sig[1].raise();
        // Both still marked asleep: they slept until the signals (a woken task is marked
        // awake when it runs again).
        if s.keys[0].sleeping() && s.keys[1].sleeping() {
            BOTH_SLEPT.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: locked above by this task.
        unsafe { s.m.lock.unlock() };
        for h in hs {
            h.join().expect("a waiter panicked");
        }
        assert!(s.m.count.get() <= 2);
        s.m.assert_free();
    });
    assert!(
        BOTH_SLEPT.load(Ordering::Relaxed) > 0,
        "no execution had both waiters asleep when the signals came"
    );
}

/// `rt_mutex_trylock` against a concurrent slow-path lock and unlock: the main thread owns
/// the lock while B calls `lock()` (and, if it finds it owned, queues and sleeps); the main
/// thread unlocks (waking B) and then tries the lock once more while B wakes, takes it,
/// counts and unlocks. The trylock and B never hold the lock together (loom's cell check), a
/// trylock never steals the lock from the queued top waiter (the sleeping build has no
/// lateral steals: if B was queued before the trylock and the trylock succeeds, B's critical
/// section is already over), B is never left asleep (loom's deadlock check), and the lock
/// ends free.
///
/// Catches (each planted and seen caught): a slow trylock that takes the ownerless lock from
/// its woken top waiter (`try_to_take_rt_mutex` without the steal check), a fast release that
/// ignores the bit (B sleeps for ever: deadlock), relaxed orderings on the fast acquire or
/// release (loom's cell check).
#[test]
fn trylock_against_a_slow_path_lock_and_unlock() {
    static B_SLEPT: StdAtomicUsize = StdAtomicUsize::new(0);
    crate::model(|| {
        let s = Arc::new((Counted::new(), Key::new()));
        s.0.lock.lock();
        let s2 = s.clone();
        let b = thread::spawn(move || {
            s2.1.publish();
            s2.0.locked_incr();
        });
        s.0.count.incr();
        // SAFETY: locked above by this task.
        unsafe { s.0.lock.unlock() };
        note_sleeping(&s.1, &B_SLEPT);
        let b_queued = !s.0.lock.waiters().is_empty();
        let took = s.0.lock.try_lock();
        if took {
            if b_queued {
                assert_eq!(
                    s.0.count.get(),
                    2,
                    "the trylock stole the lock from the queued top waiter"
                );
            }
            s.0.count.incr();
            // SAFETY: taken by the trylock just above.
            unsafe { s.0.lock.unlock() };
        }
        b.join().expect("B panicked");
        assert_eq!(s.0.count.get(), 2 + usize::from(took));
        s.0.assert_free();
    });
    assert!(
        B_SLEPT.load(Ordering::Relaxed) > 0,
        "no execution had B asleep on the owned lock"
    );
}

/// An rwbase lock, a pair of fields its writer keeps equal, and the writer's task key.
struct Rw {
    lock: RawRtRwLock,
    x: Guarded<usize>,
    y: Guarded<usize>,
    writer: Key,
}

impl Rw {
    fn new() -> Self {
        let rw = Rw {
            lock: RawRtRwLock::new(),
            x: Guarded::new(0),
            y: Guarded::new(0),
            writer: Key::new(),
        };
        // The model atomics are made on first use: made here, before the lock is shared
        // (see `Counted::new`).
        rw.assert_unlocked();
        rw
    }

    /// The lock is unlocked: the reader bias back, no reader, no writer, rtmutex free.
    fn assert_unlocked(&self) {
        assert_eq!(
            self.lock.readers(),
            i32::MIN,
            "readers left or bias not restored"
        );
        assert_eq!(self.lock.rtmutex_owner(), None, "the rtmutex ends owned");
    }
}

/// rwbase readers and a writer: two readers each `down_read`, look at two fields and
/// `up_read`, while the writer (the main thread) `down_write`s, writes both fields one
/// after the other and `up_write`s. A reader on the fast path while the bias is set, a
/// reader on the slow path that blocks on the writer's rtmutex, and a writer that removes
/// the bias and sleeps until the last reader's `up_read` wakes it. No reader sees a
/// half-done write (the fields are equal, and loom's cell check finds no access the lock
/// does not order), the writer is always woken (no deadlock), and the lock ends unlocked
/// (`readers == READER_BIAS`, rtmutex free).
///
/// Catches (each planted and seen caught): a reader fast path that enters while a writer is
/// pending (the count test `r < 0`) or without acquire ordering, a writer that checks for
/// readers before it removes the bias (a fast reader slips in between: loom's cell check), a
/// last-reader test off by one (the writer is never woken: deadlock), a write unlock that
/// restores the bias without release ordering, and the rtmutex bugs above that leave the
/// writer or a slow reader asleep.
#[test]
fn rwbase_readers_and_a_writer() {
    static WRITER_WAITED: StdAtomicUsize = StdAtomicUsize::new(0);
    crate::model(|| {
        let s = Arc::new(Rw::new());
        s.writer.publish();
        let rs: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    s.lock.down_read();
                    let (x, y) = (s.x.get(), s.y.get());
                    assert_eq!(x, y, "a reader saw a half-done write");
                    // SAFETY: read-locked just above.
                    unsafe { s.lock.up_read() };
                    note_sleeping(&s.writer, &WRITER_WAITED);
                })
            })
            .collect();
        s.lock.down_write();
        s.x.set(1);
        s.y.set(1);
        // SAFETY: write-locked just above by this task.
        unsafe { s.lock.up_write() };
        for r in rs {
            r.join().expect("a reader panicked");
        }
        assert_eq!((s.x.get(), s.y.get()), (1, 1));
        s.assert_unlocked();
    });
    assert!(
        WRITER_WAITED.load(Ordering::Relaxed) > 0,
        "no execution had the writer asleep while a reader held the lock"
    );
}

/// rwbase downgrade: the main thread write-locks, a reader calls `down_read` (it finds the
/// bias gone and blocks on the writer's rtmutex), the writer writes and then
/// `downgrade_write`s: the bias comes back with the writer counted as one reader, and the
/// rtmutex's release wakes the blocked reader, which counts itself in and releases the
/// rtmutex. The reader gets in only after the downgrade (it sees the write, and loom's cell
/// check finds it ordered after it), the downgraded writer still reads, and after both
/// `up_read`s the lock ends unlocked.
///
/// Catches (each planted and seen caught): a downgrade that restores the bias without
/// counting the writer as a reader (its `up_read` leaves the count off the bias), that keeps
/// the rtmutex (the reader sleeps for ever: deadlock), or that restores the bias without
/// release ordering (a fast reader sees the bias without the write: loom's cell check), and a
/// reader fast path without acquire ordering.
#[test]
fn rwbase_downgrade_lets_a_waiting_reader_in() {
    static READER_SLEPT: StdAtomicUsize = StdAtomicUsize::new(0);
    crate::model(|| {
        let s = Arc::new((Rw::new(), Key::new()));
        s.0.lock.down_write();
        let s2 = s.clone();
        let r = thread::spawn(move || {
            s2.1.publish();
            s2.0.lock.down_read();
            assert_eq!(s2.0.x.get(), 1, "the reader got in before the downgrade");
            // SAFETY: read-locked just above.
            unsafe { s2.0.lock.up_read() };
        });
        s.0.x.set(1);
        // SAFETY: write-locked above by this task.
        unsafe { s.0.lock.downgrade_write() };
        note_sleeping(&s.1, &READER_SLEPT);
        assert_eq!(s.0.x.get(), 1);
        // SAFETY: the downgrade left this task one read lock.
        unsafe { s.0.lock.up_read() };
        r.join().expect("the reader panicked");
        s.0.assert_unlocked();
    });
    assert!(
        READER_SLEPT.load(Ordering::Relaxed) > 0,
        "no execution had the reader asleep on the write-locked lock"
    );
}
