//! The kernel's rt-mutex tester scenarios (scripts/rt-tester/t*.tst, with the expected
//! priorities of `../shared/research/rt_locks.md` §1.4 in kernel numbering), deadlock and
//! proxy cases, rwbase and lock_api checks, on the std backend with real threads.
//!
//! Each scenario task is a thread that runs the commands it is sent; the test waits for
//! "blocked" with [`is_sleeping`] (the task's chain walk is done) and for completions with
//! a bounded receive, so a hang fails the test instead of stalling it.
#![cfg(not(mmcheck_model))]

use algos::rt::*;
use algos::sync::lock_api::{self, RawMutex as _, RawRwLock as _, RawRwLockDowngrade as _};
use algos::sync::task::{self, Prio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(10);

/// A command for a scenario task.
enum Cmd {
    Lock(usize),
    LockChecked(usize),
    /// `rt_mutex_lock`'s minimal walk, with a deadlock returned instead of the panic.
    LockMin(usize),
    LockInt(usize, Arc<Signal>),
    Unlock(usize),
    /// `spin_lock` of the scenario's PREEMPT_RT `spinlock_t` number i.
    SpinLock(usize),
    SpinUnlock(usize),
    Exit,
}

/// What a command returned.
type Done = Result<(), RtError>;

/// One scenario task.
struct T {
    key: usize,
    tx: Sender<Cmd>,
    rx: Receiver<Done>,
    handle: Option<Bounded>,
}

/// The scenario's locks (the tester's `mutexes[8]`), and as many PREEMPT_RT `spinlock_t`s.
struct Locks(Vec<RawRtMutex>, Vec<RawRtSpinLock>);

fn locks(n: usize) -> Arc<Locks> {
    Arc::new(Locks(
        (0..n).map(|_| RawRtMutex::new()).collect(),
        (0..n).map(|_| RawRtSpinLock::new()).collect(),
    ))
}

impl T {
    /// A task with base priority `prio`.
    fn spawn(locks: &Arc<Locks>, prio: Prio) -> T {
        let (tx, crx) = channel::<Cmd>();
        let (dtx, rx) = channel::<Done>();
        let (ktx, krx) = channel::<usize>();
        let l = locks.clone();
        let handle = spawn_bounded(move || {
            ktx.send(task::current()).expect("test alive");
            for cmd in crx {
                let r = match cmd {
                    Cmd::Lock(i) => {
                        l.0[i].lock();
                        Ok(())
                    }
                    Cmd::LockChecked(i) => l.0[i].lock_checked(),
                    Cmd::LockMin(i) => l.0[i].lock_returning(None),
                    Cmd::LockInt(i, sig) => l.0[i].lock_interruptible(&sig),
                    Cmd::Unlock(i) => {
                        // SAFETY: the scenario sends unlock only to the owner.
                        unsafe { l.0[i].unlock() };
                        Ok(())
                    }
                    Cmd::SpinLock(i) => {
                        l.1[i].lock();
                        Ok(())
                    }
                    Cmd::SpinUnlock(i) => {
                        // SAFETY: the scenario sends unlock only to the owner.
                        unsafe { l.1[i].unlock() };
                        Ok(())
                    }
                    Cmd::Exit => break,
                };
                if dtx.send(r).is_err() {
                    break;
                }
            }
        });
        let key = krx.recv_timeout(LIMIT).expect("task started");
        setscheduler(key, prio);
        T {
            key,
            tx,
            rx,
            handle: Some(handle),
        }
    }

    fn send(&self, c: Cmd) {
        self.tx.send(c).expect("task alive");
    }

    /// Runs a command that must not block, and returns its result.
    fn run(&self, c: Cmd) -> Done {
        self.send(c);
        self.done()
    }

    /// The result of the command sent last.
    fn done(&self) -> Done {
        self.rx.recv_timeout(LIMIT).expect("the command completes")
    }

    /// Sends a command that blocks; returns once the task sleeps in the lock.
    fn block(&self, c: Cmd) {
        self.send(c);
        wait_for(|| is_sleeping(self.key), "the task to block");
    }

    fn prio(&self) -> Prio {
        task::effective_of(self.key)
    }
}

impl Drop for T {
    fn drop(&mut self) {
        let _ = self.tx.send(Cmd::Exit);
        if let Some(h) = self.handle.take() {
            if !std::thread::panicking() {
                h.join();
            }
        }
    }
}

/// A thread whose end the test waits for with a bound: a lost wake-up fails the test
/// instead of hanging it (the stuck thread is left behind).
struct Bounded {
    done: Receiver<thread::Result<()>>,
}

fn spawn_bounded(f: impl FnOnce() + Send + 'static) -> Bounded {
    let (tx, done) = channel();
    thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    Bounded { done }
}

impl Bounded {
    fn join(self) {
        match self.done.recv_timeout(LIMIT) {
            Ok(Ok(())) => {}
            Ok(Err(p)) => std::panic::resume_unwind(p),
            Err(_) => panic!("a thread did not finish within {LIMIT:?} (a lost wake-up?)"),
        }
    }
}

fn wait_for(cond: impl Fn() -> bool, what: &str) {
    wait_for_some(|| cond().then_some(()), what);
}

/// Waits for `f` to give a value, yielding between tries.
fn wait_for_some<R>(mut f: impl FnMut() -> Option<R>, what: &str) -> R {
    // A bounded number of yields, not a clock: the condition is a task reaching its sleep,
    // which takes microseconds; millions of yields without it mean it never will.
    for _ in 0..5_000_000 {
        if let Some(r) = f() {
            return r;
        }
        thread::yield_now();
    }
    panic!("gave up waiting for {what}");
}

/// The effective priorities of `ts`.
fn prios(ts: &[&T]) -> Vec<Prio> {
    ts.iter().map(|t| t.prio()).collect()
}

/// SCHED_FIFO user priority `p` in kernel numbering.
fn fifo(p: Prio) -> Prio {
    99 - p
}

#[test]
fn s1_two_rt_tasks_of_equal_priority_take_turns_fifo() {
    let l = locks(1);
    let t0 = T::spawn(&l, fifo(80));
    let t1 = T::spawn(&l, fifo(80));
    t0.run(Cmd::Lock(0)).unwrap();
    assert_eq!(l.0[0].owner(), Some(t0.key));
    t1.block(Cmd::Lock(0));
    assert_eq!(l.0[0].waiters(), vec![t1.key]);
    assert_eq!(t0.prio(), 19);
    t0.run(Cmd::Unlock(0)).unwrap();
    t1.done().unwrap();
    assert_eq!(l.0[0].owner(), Some(t1.key));
    assert_eq!(t0.prio(), 19);
    t1.run(Cmd::Unlock(0)).unwrap();
    assert_eq!(l.0[0].owner(), None);
    t1.run(Cmd::Lock(0)).unwrap();
    t0.block(Cmd::Lock(0));
    assert_eq!(t1.prio(), 19);
    t1.run(Cmd::Unlock(0)).unwrap();
    t0.done().unwrap();
    assert_eq!(l.0[0].owner(), Some(t0.key));
    assert_eq!(t1.prio(), 19);
    t0.run(Cmd::Unlock(0)).unwrap();
    assert!(!l.0[0].is_locked());
}

#[test]
fn s2_an_rt_waiter_boosts_a_normal_owner_until_it_unlocks() {
    let l = locks(1);
    let t0 = T::spawn(&l, 120);
    let t1 = T::spawn(&l, fifo(80));
    t0.run(Cmd::Lock(0)).unwrap();
    t1.block(Cmd::Lock(0));
    assert_eq!(t0.prio(), 19);
    t0.run(Cmd::Unlock(0)).unwrap();
    t1.done().unwrap();
    assert_eq!(l.0[0].owner(), Some(t1.key));
    assert_eq!(t0.prio(), 120);
    t1.run(Cmd::Unlock(0)).unwrap();
    assert!(!l.0[0].is_locked());
}

#[test]
fn s3_a_signal_ends_an_interruptible_wait_with_eintr() {
    let l = locks(1);
    let t0 = T::spawn(&l, 120);
    let t1 = T::spawn(&l, 120);
    let sig = Arc::new(Signal::new());
    t0.run(Cmd::Lock(0)).unwrap();
    t1.block(Cmd::LockInt(0, sig.clone()));
    sig.raise();
    assert_eq!(t1.done(), Err(RtError::Interrupted));
    assert_eq!(l.0[0].owner(), Some(t0.key));
    assert!(
        l.0[0].waiters().is_empty(),
        "the interrupted waiter left the lock"
    );
    t0.run(Cmd::Unlock(0)).unwrap();
    assert!(!l.0[0].is_locked());
}

/// S4 (`t2-l2-2rt-deadlock`, disabled in the kernel's check-all.sh): an ABBA cycle of two
/// equal real-time tasks without detection. The closing walk stops at "waiter priority ==
/// task priority" before its deadlock check, so the deadlock is silent: both sleep, and
/// signals make each leave its wait with -EINTR.
#[test]
fn s4_an_equal_priority_abba_without_detection_is_silent_until_signalled() {
    let l = locks(2);
    let t0 = T::spawn(&l, fifo(80));
    let t1 = T::spawn(&l, fifo(80));
    let (s0, s1) = (Arc::new(Signal::new()), Arc::new(Signal::new()));
    t0.run(Cmd::Lock(0)).unwrap();
    t1.run(Cmd::Lock(1)).unwrap();
    t0.block(Cmd::LockInt(1, s0.clone()));
    t1.block(Cmd::LockInt(0, s1.clone()));
    assert_eq!(l.0[0].waiters(), vec![t1.key]);
    assert_eq!(l.0[1].waiters(), vec![t0.key]);
    assert_eq!(prios(&[&t0, &t1]), vec![19, 19]);
    s1.raise();
    assert_eq!(t1.done(), Err(RtError::Interrupted));
    s0.raise();
    assert_eq!(t0.done(), Err(RtError::Interrupted));
    assert!(l.0[0].waiters().is_empty() && l.0[1].waiters().is_empty());
    t0.run(Cmd::Unlock(0)).unwrap();
    t1.run(Cmd::Unlock(1)).unwrap();
    assert!(!l.0[0].is_locked() && !l.0[1].is_locked());
}

/// S9 (`t3-l1-pi-steal`): the unlock does not hand the lock over. T0 (120) holds L0 and T1
/// (19) waits; T0's unlock deboosts T0, leaves L0 ownerless with T1 queued, and wakes T1,
/// which is stopped before it retries (the tester's "wakeup stop"). T2 (18), strictly
/// better, steals L0; T1 blocks again, now boosting nobody (T2 is better). When T2 unlocks,
/// T1 gets it. (Needs the checking hooks: `--features hooks,model`.)
#[cfg(feature = "hooks")]
#[test]
fn s9_a_strictly_better_task_steals_a_released_lock_from_its_woken_top_waiter() {
    let l = locks(1);
    let t0 = T::spawn(&l, 120);
    let t1 = T::spawn(&l, fifo(80));
    let t2 = T::spawn(&l, fifo(81));
    t0.run(Cmd::Lock(0)).unwrap();
    stop_after_wakeup(t1.key);
    t1.block(Cmd::Lock(0));
    assert_eq!(t0.prio(), 19);
    t0.run(Cmd::Unlock(0)).unwrap();
    wait_for(
        || stopped_after_wakeup(t1.key),
        "T1 to stop after its wake-up",
    );
    assert_eq!(t0.prio(), 120, "the unlock deboosted before it woke T1");
    assert_eq!(l.0[0].owner(), None, "no hand-over: the lock is free");
    assert_eq!(l.0[0].waiters(), vec![t1.key], "T1 is still queued");
    t2.run(Cmd::Lock(0)).unwrap();
    assert_eq!(l.0[0].owner(), Some(t2.key), "T2 (18 < 19) stole it");
    continue_after_wakeup(t1.key);
    wait_for(|| is_sleeping(t1.key), "T1 to block again");
    assert_eq!(l.0[0].waiters(), vec![t1.key]);
    assert_eq!(prios(&[&t0, &t1, &t2]), vec![120, 19, 18]);
    stop_after_wakeup(t1.key);
    t2.run(Cmd::Unlock(0)).unwrap();
    wait_for(
        || stopped_after_wakeup(t1.key),
        "T1 to stop after its second wake-up",
    );
    continue_after_wakeup(t1.key);
    t1.done().unwrap();
    assert_eq!(l.0[0].owner(), Some(t1.key));
    t1.run(Cmd::Unlock(0)).unwrap();
    assert!(!l.0[0].is_locked());
}

/// S11 (`t4-l2-pi-deboost`) as modern kernels run it (the script encodes the "pending
/// owner" of kernels before 2.6.39; the research notes derive this continuation). T3 (16)
/// waits interruptibly on L0 (T0's), T0 waits on L1 (T1's), boosting T1 to 16. T1's unlock
/// wakes T0, stopped before it retries; T2 (17) cannot steal from T0's waiter at 16 and
/// queues behind it. A signal takes T3 away: T0 drops to 120, its waiter is requeued behind
/// T2's, and the walk wakes T2, the new top waiter of the free lock, which takes it. T0
/// retries, blocks, and gets L1 from T2.
#[cfg(feature = "hooks")]
#[test]
fn s11_a_woken_waiter_deboosted_by_a_signal_loses_the_free_lock_to_a_better_waiter() {
    let l = locks(2);
    let t0 = T::spawn(&l, 120);
    let t1 = T::spawn(&l, 120);
    let t2 = T::spawn(&l, fifo(82));
    let t3 = T::spawn(&l, fifo(83));
    let s3 = Arc::new(Signal::new());
    t0.run(Cmd::Lock(0)).unwrap();
    t1.run(Cmd::Lock(1)).unwrap();
    t3.block(Cmd::LockInt(0, s3.clone()));
    assert_eq!(t0.prio(), 16);
    stop_after_wakeup(t0.key);
    t0.block(Cmd::Lock(1));
    assert_eq!(t1.prio(), 16, "boosted along T3 -> L0 -> T0 -> L1");
    t1.run(Cmd::Unlock(1)).unwrap();
    wait_for(
        || stopped_after_wakeup(t0.key),
        "T0 to stop after its wake-up",
    );
    assert_eq!(t1.prio(), 120);
    t2.block(Cmd::Lock(1));
    assert_eq!(
        l.0[1].owner(),
        None,
        "17 does not steal from a waiter at 16"
    );
    assert_eq!(l.0[1].waiters(), vec![t0.key, t2.key]);
    assert_eq!(t0.prio(), 16);
    s3.raise();
    assert_eq!(t3.done(), Err(RtError::Interrupted));
    assert_eq!(t0.prio(), 120, "T0's donor left");
    t2.done().unwrap();
    assert_eq!(
        l.0[1].owner(),
        Some(t2.key),
        "the new top waiter was woken and took L1"
    );
    continue_after_wakeup(t0.key);
    wait_for(|| is_sleeping(t0.key), "T0 to block again");
    assert_eq!(l.0[1].waiters(), vec![t0.key]);
    assert_eq!(t2.prio(), 17);
    t2.run(Cmd::Unlock(1)).unwrap();
    t0.done().unwrap();
    assert_eq!(l.0[1].owner(), Some(t0.key));
    t0.run(Cmd::Unlock(1)).unwrap();
    t0.run(Cmd::Unlock(0)).unwrap();
    assert_eq!(prios(&[&t0, &t1, &t2, &t3]), vec![120, 120, 17, 16]);
}

/// Which of the scenario's locks a command takes: `rt_mutex` or PREEMPT_RT's `spinlock_t`.
#[cfg(feature = "hooks")]
#[derive(Clone, Copy)]
enum Kind {
    Mutex,
    Spin,
}

#[cfg(feature = "hooks")]
impl Kind {
    fn lock(self, i: usize) -> Cmd {
        match self {
            Kind::Mutex => Cmd::Lock(i),
            Kind::Spin => Cmd::SpinLock(i),
        }
    }
    fn unlock(self, i: usize) -> Cmd {
        match self {
            Kind::Mutex => Cmd::Unlock(i),
            Kind::Spin => Cmd::SpinUnlock(i),
        }
    }
    fn owner(self, l: &Locks, i: usize) -> Option<usize> {
        match self {
            Kind::Mutex => l.0[i].owner(),
            Kind::Spin => l.1[i].owner(),
        }
    }
    fn waiters(self, l: &Locks, i: usize) -> Vec<usize> {
        match self {
            Kind::Mutex => l.0[i].waiters(),
            Kind::Spin => l.1[i].waiters(),
        }
    }
}

/// T1 (`prio`) is woken as the top waiter of a released lock and stopped before it retries;
/// T2 of the same priority cannot steal the lock, queues behind T1 (FIFO among equals), and
/// T1 then takes it.
#[cfg(feature = "hooks")]
fn an_equal_task_queues_behind_the_woken_top_waiter(kind: Kind, prio: Prio) {
    let l = locks(1);
    let t0 = T::spawn(&l, 120);
    let t1 = T::spawn(&l, prio);
    let t2 = T::spawn(&l, prio);
    t0.run(kind.lock(0)).unwrap();
    stop_after_wakeup(t1.key);
    t1.block(kind.lock(0));
    t0.run(kind.unlock(0)).unwrap();
    wait_for(
        || stopped_after_wakeup(t1.key),
        "T1 to stop after its wake-up",
    );
    t2.block(kind.lock(0));
    assert_eq!(kind.owner(&l, 0), None);
    assert_eq!(
        kind.waiters(&l, 0),
        vec![t1.key, t2.key],
        "FIFO among equals"
    );
    continue_after_wakeup(t1.key);
    t1.done().unwrap();
    assert_eq!(kind.owner(&l, 0), Some(t1.key));
    t1.run(kind.unlock(0)).unwrap();
    t2.done().unwrap();
    t2.run(kind.unlock(0)).unwrap();
}

/// S9's other half: an equal-priority task cannot steal (no lateral steal in rt_mutex); it
/// queues behind the woken waiter, which then takes the lock.
#[cfg(feature = "hooks")]
#[test]
fn s9_an_equal_task_does_not_steal_from_the_woken_top_waiter() {
    an_equal_task_queues_behind_the_woken_top_waiter(Kind::Mutex, fifo(80));
}

/// Nor does an equal normal task on an rt_mutex (the lateral steal is the spinlock build's).
#[cfg(feature = "hooks")]
#[test]
fn rt_mutex_an_equal_normal_task_does_not_steal() {
    an_equal_task_queues_behind_the_woken_top_waiter(Kind::Mutex, 120);
}

/// The spinlock build's lateral steal (`rt_mutex_steal` under `RT_MUTEX_BUILD_SPINLOCKS`):
/// on a PREEMPT_RT `spinlock_t`, a normal task takes a released lock from the woken top
/// waiter of its own priority; the waiter, once it runs, blocks again behind the thief.
#[cfg(feature = "hooks")]
#[test]
fn spinlock_an_equal_normal_task_steals_from_the_woken_top_waiter() {
    let l = locks(1);
    let t0 = T::spawn(&l, 120);
    let t1 = T::spawn(&l, 120);
    let t2 = T::spawn(&l, 120);
    t0.run(Cmd::SpinLock(0)).unwrap();
    stop_after_wakeup(t1.key);
    t1.block(Cmd::SpinLock(0));
    t0.run(Cmd::SpinUnlock(0)).unwrap();
    wait_for(
        || stopped_after_wakeup(t1.key),
        "T1 to stop after its wake-up",
    );
    assert_eq!(l.1[0].owner(), None, "released, not handed over");
    t2.run(Cmd::SpinLock(0)).unwrap();
    assert_eq!(l.1[0].owner(), Some(t2.key), "an equal normal task steals");
    assert_eq!(l.1[0].waiters(), vec![t1.key]);
    continue_after_wakeup(t1.key);
    wait_for(|| is_sleeping(t1.key), "T1 to block again");
    t2.run(Cmd::SpinUnlock(0)).unwrap();
    t1.done().unwrap();
    assert_eq!(l.1[0].owner(), Some(t1.key));
    t1.run(Cmd::SpinUnlock(0)).unwrap();
    assert!(l.1[0].waiters().is_empty());
}

/// No lateral steal by RT tasks, even on a `spinlock_t` (an unbounded latency otherwise):
/// an equal RT task queues behind the woken top waiter.
#[cfg(feature = "hooks")]
#[test]
fn spinlock_an_equal_rt_task_does_not_steal() {
    an_equal_task_queues_behind_the_woken_top_waiter(Kind::Spin, fifo(80));
}

/// A spinlock boosts its owner like an rt_mutex does.
#[test]
fn spinlock_an_rt_waiter_boosts_a_normal_owner_until_it_unlocks() {
    let l = locks(1);
    let t0 = T::spawn(&l, 120);
    let t1 = T::spawn(&l, fifo(90));
    t0.run(Cmd::SpinLock(0)).unwrap();
    t1.block(Cmd::SpinLock(0));
    assert_eq!(t0.prio(), fifo(90));
    t0.run(Cmd::SpinUnlock(0)).unwrap();
    assert_eq!(t0.prio(), 120);
    t1.done().unwrap();
    assert_eq!(l.1[0].owner(), Some(t1.key));
    t1.run(Cmd::SpinUnlock(0)).unwrap();
}

#[test]
fn s5_the_best_waiter_wins_although_it_queued_last() {
    let l = locks(1);
    let t0 = T::spawn(&l, 120);
    let t1 = T::spawn(&l, 120);
    let t2 = T::spawn(&l, fifo(82));
    t0.run(Cmd::Lock(0)).unwrap();
    t1.block(Cmd::Lock(0));
    assert_eq!(t0.prio(), 120, "a non-RT waiter does not RT-boost");
    t2.block(Cmd::Lock(0));
    assert_eq!(t0.prio(), 17);
    assert_eq!(l.0[0].waiters(), vec![t2.key, t1.key]);
    t0.run(Cmd::Unlock(0)).unwrap();
    t2.done().unwrap();
    assert_eq!(l.0[0].owner(), Some(t2.key));
    assert_eq!(t0.prio(), 120);
    t2.run(Cmd::Unlock(0)).unwrap();
    t1.done().unwrap();
    assert_eq!(l.0[0].owner(), Some(t1.key));
    t1.run(Cmd::Unlock(0)).unwrap();
}

#[test]
fn s6_two_rt_waiters_a_waiter_is_never_boosted_by_a_co_waiter() {
    let l = locks(1);
    let t0 = T::spawn(&l, 120);
    let t1 = T::spawn(&l, fifo(81));
    let t2 = T::spawn(&l, fifo(82));
    t0.run(Cmd::Lock(0)).unwrap();
    t1.block(Cmd::Lock(0));
    assert_eq!(t0.prio(), 18);
    t2.block(Cmd::Lock(0));
    assert_eq!(t0.prio(), 17);
    assert_eq!(t1.prio(), 18);
    t0.run(Cmd::Unlock(0)).unwrap();
    t2.done().unwrap();
    assert_eq!(t0.prio(), 120);
    t2.run(Cmd::Unlock(0)).unwrap();
    t1.done().unwrap();
    t1.run(Cmd::Unlock(0)).unwrap();
}

#[test]
fn s7_an_rt_owner_returns_to_its_own_rt_priority() {
    let l = locks(1);
    let t0 = T::spawn(&l, fifo(80));
    let t1 = T::spawn(&l, fifo(81));
    let t2 = T::spawn(&l, fifo(82));
    t0.run(Cmd::Lock(0)).unwrap();
    t1.block(Cmd::Lock(0));
    assert_eq!(t0.prio(), 18);
    t2.block(Cmd::Lock(0));
    assert_eq!(t0.prio(), 17);
    t0.run(Cmd::Unlock(0)).unwrap();
    t2.done().unwrap();
    assert_eq!(t0.prio(), 19);
    t2.run(Cmd::Unlock(0)).unwrap();
    t1.done().unwrap();
    t1.run(Cmd::Unlock(0)).unwrap();
}

#[test]
fn s8_a_signalled_top_waiter_leaves_and_the_owner_is_deboosted_to_the_next() {
    let l = locks(1);
    let t0 = T::spawn(&l, 120);
    let t1 = T::spawn(&l, fifo(80));
    let t2 = T::spawn(&l, fifo(81));
    let sig = Arc::new(Signal::new());
    t0.run(Cmd::Lock(0)).unwrap();
    t1.block(Cmd::Lock(0));
    assert_eq!((t0.prio(), t1.prio()), (19, 19));
    t2.block(Cmd::LockInt(0, sig.clone()));
    assert_eq!((t0.prio(), t1.prio()), (18, 19));
    sig.raise();
    assert_eq!(t2.done(), Err(RtError::Interrupted));
    assert_eq!((t0.prio(), t1.prio()), (19, 19));
    assert_eq!(l.0[0].owner(), Some(t0.key));
    assert_eq!(l.0[0].waiters(), vec![t1.key]);
    t0.run(Cmd::Unlock(0)).unwrap();
    t1.done().unwrap();
    assert_eq!(t0.prio(), 120);
    t1.run(Cmd::Unlock(0)).unwrap();
}

/// A 4-lock chain (t5-l4-pi-boost-deboost shape): T0 holds L0; T1 holds L1 and blocks on
/// L0; T2 holds L2 and blocks on L1; T3 holds L3 and blocks on L2; T4 blocks on L3. Every
/// owner along the chain runs at the best priority behind it, and unwinding the chain from
/// the front deboosts each in turn.
#[test]
fn a_four_lock_chain_boosts_every_owner_and_deboosts_as_it_unwinds() {
    let l = locks(4);
    let t0 = T::spawn(&l, 120);
    let t1 = T::spawn(&l, fifo(81));
    let t2 = T::spawn(&l, fifo(82));
    let t3 = T::spawn(&l, fifo(83));
    let t4 = T::spawn(&l, fifo(84));
    t0.run(Cmd::Lock(0)).unwrap();
    t1.run(Cmd::Lock(1)).unwrap();
    t2.run(Cmd::Lock(2)).unwrap();
    t3.run(Cmd::Lock(3)).unwrap();
    t1.block(Cmd::Lock(0));
    assert_eq!(t0.prio(), 18);
    t2.block(Cmd::Lock(1));
    assert_eq!((t0.prio(), t1.prio()), (17, 17));
    t3.block(Cmd::Lock(2));
    assert_eq!((t0.prio(), t1.prio(), t2.prio()), (16, 16, 16));
    t4.block(Cmd::Lock(3));
    assert_eq!(
        (t0.prio(), t1.prio(), t2.prio(), t3.prio()),
        (15, 15, 15, 15)
    );
    // A priority change of the blocked T4 propagates down the chain.
    setscheduler(t4.key, fifo(85));
    assert_eq!(
        (t0.prio(), t1.prio(), t2.prio(), t3.prio(), t4.prio()),
        (14, 14, 14, 14, 14)
    );
    setscheduler(t4.key, fifo(84));
    assert_eq!((t0.prio(), t3.prio()), (15, 15));
    // Unwind from the front.
    t0.run(Cmd::Unlock(0)).unwrap();
    t1.done().unwrap();
    assert_eq!((t0.prio(), t1.prio()), (120, 15));
    t1.run(Cmd::Unlock(0)).unwrap();
    t1.run(Cmd::Unlock(1)).unwrap();
    t2.done().unwrap();
    assert_eq!((t1.prio(), t2.prio()), (18, 15));
    t2.run(Cmd::Unlock(1)).unwrap();
    t2.run(Cmd::Unlock(2)).unwrap();
    t3.done().unwrap();
    assert_eq!((t2.prio(), t3.prio()), (17, 15));
    t3.run(Cmd::Unlock(2)).unwrap();
    t3.run(Cmd::Unlock(3)).unwrap();
    t4.done().unwrap();
    assert_eq!((t3.prio(), t4.prio()), (16, 15));
    t4.run(Cmd::Unlock(3)).unwrap();
    for lk in &l.0 {
        assert!(!lk.is_locked());
    }
}

#[test]
fn relocking_an_owned_lock_is_a_deadlock_error_with_nothing_enqueued() {
    let l = locks(1);
    let t0 = T::spawn(&l, 120);
    t0.run(Cmd::Lock(0)).unwrap();
    assert_eq!(t0.run(Cmd::LockChecked(0)), Err(RtError::Deadlock));
    assert!(l.0[0].waiters().is_empty());
    assert_eq!(l.0[0].owner(), Some(t0.key));
    t0.run(Cmd::Unlock(0)).unwrap();
}

#[test]
fn a_plain_relock_panics_with_the_kernels_words() {
    let m = RawRtMutex::new();
    m.lock();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.lock()));
    let msg = r.expect_err("a deadlock panics");
    let text = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("rtmutex deadlock detected"), "{text}");
    assert!(m.waiters().is_empty());
    // SAFETY: still ours.
    unsafe { m.unlock() };
}

/// ABBA, §3.4: T0 (19) holds L0 and blocks on L1; T1 (18) holds L1 and closes the cycle
/// with `close(0)`: -EDEADLK, nothing left enqueued, and every priority goes back.
fn abba(close: fn(usize) -> Cmd) {
    let l = locks(2);
    let t0 = T::spawn(&l, fifo(80));
    let t1 = T::spawn(&l, fifo(81));
    t0.run(Cmd::Lock(0)).unwrap();
    t1.run(Cmd::Lock(1)).unwrap();
    t0.block(Cmd::Lock(1));
    assert_eq!(t1.prio(), 18);
    assert_eq!(t1.run(close(0)), Err(RtError::Deadlock));
    assert_eq!(t0.prio(), 19, "the boost by the failed waiter is undone");
    assert!(l.0[0].waiters().is_empty());
    assert_eq!(l.0[1].waiters(), vec![t0.key]);
    t1.run(Cmd::Unlock(1)).unwrap();
    t0.done().unwrap();
    t0.run(Cmd::Unlock(1)).unwrap();
    t0.run(Cmd::Unlock(0)).unwrap();
}

#[test]
fn abba_with_detection_returns_edeadlk_and_undoes_the_boost() {
    abba(Cmd::LockChecked);
}

/// Without detection ("MIN"), the plain lock's minimal walk still reports the cycle when
/// the closing task's boost reaches it, i.e. when it is the more important one: the boost
/// of T0 carries on to L1, whose owner is T1 itself. (The kernel WARNs and sleeps for ever;
/// `lock_returning` hands the error back.)
#[test]
fn abba_without_detection_is_reported_when_the_closer_is_more_important() {
    abba(Cmd::LockMin);
}

/// A 3-task cycle with base priorities `base`: T0 holds L0, T1 L1, T2 L2; T0 blocks on
/// L1, T1 on L2, and T2 closes the cycle with `close(0)`: the walk reaches L2, owned by
/// T2 = the top task. -EDEADLK, nothing enqueued, every priority back.
fn three_task_cycle(base: [Prio; 3], close: fn(usize) -> Cmd) {
    let l = locks(3);
    let t0 = T::spawn(&l, base[0]);
    let t1 = T::spawn(&l, base[1]);
    let t2 = T::spawn(&l, base[2]);
    t0.run(Cmd::Lock(0)).unwrap();
    t1.run(Cmd::Lock(1)).unwrap();
    t2.run(Cmd::Lock(2)).unwrap();
    t0.block(Cmd::Lock(1));
    t1.block(Cmd::Lock(2));
    assert_eq!(t2.run(close(0)), Err(RtError::Deadlock));
    assert_eq!(prios(&[&t0, &t1, &t2]), base.to_vec());
    assert!(l.0[0].waiters().is_empty());
    t2.run(Cmd::Unlock(2)).unwrap();
    t1.done().unwrap();
    t1.run(Cmd::Unlock(2)).unwrap();
    t1.run(Cmd::Unlock(1)).unwrap();
    t0.done().unwrap();
    t0.run(Cmd::Unlock(1)).unwrap();
    t0.run(Cmd::Unlock(0)).unwrap();
}

#[test]
fn a_three_task_cycle_is_reported_to_the_task_that_closes_it() {
    three_task_cycle([120, 120, 120], Cmd::LockChecked);
}

/// Without detection the cycle is reported only if T2 is the most important: its boost
/// travels T0 → L1 → T1 → L2, owned by T2.
#[test]
fn a_three_task_cycle_without_detection_is_reported_to_the_most_important_closer() {
    three_task_cycle([fifo(10), fifo(20), fifo(30)], Cmd::LockMin);
}

/// The futex requeue-PI path: a requeuer starts T1's wait on L0 (owned by T0), which boosts
/// T0; T1 then waits itself and gets the lock when T0 releases it.
#[test]
fn proxy_lock_started_by_another_task_boosts_the_owner_and_hands_over() {
    let l = locks(1);
    let t0 = T::spawn(&l, 120);
    t0.run(Cmd::Lock(0)).unwrap();
    let (wtx, wrx) = channel::<Arc<ProxyWaiter>>();
    let (gtx, grx) = channel::<()>();
    let (rtx, rrx) = channel::<Done>();
    let l2 = l.clone();
    let waiter_task = spawn_bounded(move || {
        setscheduler(task::current(), fifo(85));
        let w = Arc::new(ProxyWaiter::new());
        wtx.send(w.clone()).unwrap();
        grx.recv().unwrap();
        let r = l2.0[0].wait_proxy_lock(&w, None);
        rtx.send(r).unwrap();
        if r.is_ok() {
            // SAFETY: the lock is ours.
            unsafe { l2.0[0].unlock() };
        }
    });
    let w = wrx.recv_timeout(LIMIT).unwrap();
    assert_eq!(l.0[0].start_proxy_lock(&w), Ok(false));
    assert_eq!(t0.prio(), 14, "the proxy waiter boosts the owner");
    assert_eq!(l.0[0].waiters(), vec![w.task()]);
    gtx.send(()).unwrap();
    wait_for(|| is_sleeping(w.task()), "the proxy waiter to sleep");
    t0.run(Cmd::Unlock(0)).unwrap();
    assert_eq!(rrx.recv_timeout(LIMIT).unwrap(), Ok(()));
    assert_eq!(t0.prio(), 120);
    waiter_task.join();
    assert!(!l.0[0].is_locked());
}

/// A requeue that closes a cycle is a deadlock that the requeuer, not the waiter, detects:
/// T1 owns L0, T2 owns L1 and waits for L0, and a requeuer starts T1's wait on L1. The
/// chain walk finds T1 at the end, `start_proxy_lock` fails, and its `remove_waiter` must
/// unblock the waiting task T1, not the requeuer (the GhostLock bug clears the caller's
/// `pi_blocked_on` and leaves T1 blocked on a waiter whose wait has ended).
#[test]
fn a_failed_proxy_start_unblocks_the_waiting_task_not_the_requeuer() {
    let l = locks(2);
    let (wtx, wrx) = channel::<Arc<ProxyWaiter>>();
    let (gtx, grx) = channel::<()>();
    let l2 = l.clone();
    let waiter_task = spawn_bounded(move || {
        l2.0[0].lock();
        let w = Arc::new(ProxyWaiter::new());
        wtx.send(w.clone()).unwrap();
        grx.recv().unwrap();
        // A task that is not blocked may change its priority and block on another lock.
        setscheduler(task::current(), fifo(70));
        assert_eq!(task::effective_of(task::current()), fifo(70));
        // SAFETY: L0 is this task's.
        unsafe { l2.0[0].unlock() };
        l2.0[1].lock();
        // SAFETY: L1 is this task's now.
        unsafe { l2.0[1].unlock() };
    });
    let w = wrx.recv_timeout(LIMIT).unwrap();
    let t2 = T::spawn(&l, 120);
    t2.run(Cmd::Lock(1)).unwrap();
    t2.send(Cmd::Lock(0));
    wait_for(|| is_sleeping(t2.key), "T2 to sleep on L0");
    assert_eq!(l.0[1].start_proxy_lock(&w), Err(RtError::Deadlock));
    assert!(l.0[1].waiters().is_empty(), "nothing stays enqueued");
    assert_eq!(l.0[0].waiters(), vec![t2.key]);
    // Other tests' tasks may be mid-change: check at a quiescent moment.
    let pi_locks: [&dyn PiLock; 2] = [&l.0[0], &l.0[1]];
    let verdict = wait_for_some(|| check_pi_state(&pi_locks, true), "a quiescent moment");
    assert_eq!(verdict, Ok(()));
    gtx.send(()).unwrap();
    t2.done().unwrap();
    t2.run(Cmd::Unlock(0)).unwrap();
    t2.run(Cmd::Unlock(1)).unwrap();
    waiter_task.join();
    assert!(!l.0[0].is_locked() && !l.0[1].is_locked());
}

/// A signalled proxy waiter cleans up: it leaves the lock, and the owner is deboosted.
#[test]
fn a_signalled_proxy_waiter_cleans_up_and_deboosts() {
    let l = locks(1);
    let t0 = T::spawn(&l, 120);
    t0.run(Cmd::Lock(0)).unwrap();
    let sig = Arc::new(Signal::new());
    let (wtx, wrx) = channel::<Arc<ProxyWaiter>>();
    let (gtx, grx) = channel::<()>();
    let (rtx, rrx) = channel::<(Done, bool)>();
    let (l2, s2) = (l.clone(), sig.clone());
    let waiter_task = spawn_bounded(move || {
        setscheduler(task::current(), fifo(85));
        let w = Arc::new(ProxyWaiter::new());
        wtx.send(w.clone()).unwrap();
        grx.recv().unwrap();
        let r = l2.0[0].wait_proxy_lock(&w, Some(&s2));
        let cleaned = r.is_err() && l2.0[0].cleanup_proxy_lock(&w);
        rtx.send((r, cleaned)).unwrap();
    });
    let w = wrx.recv_timeout(LIMIT).unwrap();
    assert_eq!(l.0[0].start_proxy_lock(&w), Ok(false));
    assert_eq!(t0.prio(), 14);
    gtx.send(()).unwrap();
    wait_for(|| is_sleeping(w.task()), "the proxy waiter to sleep");
    sig.raise();
    assert_eq!(
        rrx.recv_timeout(LIMIT).unwrap(),
        (Err(RtError::Interrupted), true)
    );
    assert_eq!(t0.prio(), 120);
    assert!(l.0[0].waiters().is_empty());
    waiter_task.join();
    t0.run(Cmd::Unlock(0)).unwrap();
}

/// Four tasks, two normal and two RT, take one lock 5,000 times each around a read and a
/// write of its value; no increment is lost and no waiter is left.
fn excludes_under_contention<R: lock_api::RawMutex + Send + Sync + 'static>(
    waiters: impl Fn(&R) -> Vec<usize>,
) {
    let m = Arc::new(lock_api::Mutex::<R, u64>::new(0));
    let hs: Vec<_> = (0..4)
        .map(|i| {
            let m = m.clone();
            spawn_bounded(move || {
                setscheduler(task::current(), if i % 2 == 0 { 120 } else { fifo(10 + i) });
                for _ in 0..5_000 {
                    let mut g = m.lock();
                    let v = *g;
                    std::hint::spin_loop();
                    *g = v + 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(*m.lock(), 20_000);
    // SAFETY: only reads the waiter list (lock_api 0.4's `raw` is unsafe because the raw
    // lock could be unlocked behind a guard's back).
    assert!(waiters(unsafe { m.raw() }).is_empty());
}

#[test]
fn rt_mutex_excludes_under_contention() {
    excludes_under_contention::<RawRtMutex>(RawRtMutex::waiters);
}

#[test]
fn rt_spinlock_excludes_under_contention() {
    excludes_under_contention::<RawRtSpinLock>(RawRtSpinLock::waiters);
}

#[test]
fn try_lock_fails_on_an_owned_lock_and_succeeds_on_a_free_one() {
    let m = RtMutex::new(1);
    let g = m.lock();
    let m2 = &m;
    std::thread::scope(|s| {
        s.spawn(move || assert!(m2.try_lock().is_none()));
    });
    drop(g);
    assert!(m.try_lock().is_some());
}

#[test]
fn rwlock_readers_share_writers_exclude_and_downgrade_keeps_a_reader() {
    let rw = Arc::new(RtRwLock::new(0u64));
    {
        let r1 = rw.read();
        let r2 = rw.try_read().expect("readers share");
        assert!(rw.try_write().is_none(), "a writer waits for readers");
        drop((r1, r2));
    }
    let w = rw.write();
    assert!(rw.try_read().is_none(), "readers wait for the writer");
    let r = algos::sync::lock_api::RwLockWriteGuard::downgrade(w);
    // SAFETY: only reads the count.
    assert_eq!(
        unsafe { rw.raw() }.readers(),
        i32::MIN + 1,
        "one reader, bias restored"
    );
    assert!(rw.try_read().is_some());
    drop(r);
    assert!(!rw.is_locked());
    // Writers and readers on threads: every write is seen whole.
    let hs: Vec<_> = (0..4)
        .map(|i| {
            let rw = rw.clone();
            spawn_bounded(move || {
                for _ in 0..2_000 {
                    if i == 0 {
                        let mut g = rw.write();
                        *g += 2;
                    } else {
                        let g = rw.read();
                        assert_eq!(*g % 2, 0);
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(*rw.read(), 4_000);
}

/// A writer waiting for a reader blocks new readers (the bias is gone); a slow reader then
/// blocks on the writer's rtmutex and boosts the writer (v6.4).
#[test]
fn a_pending_writer_holds_new_readers_off_and_a_slow_reader_boosts_it() {
    let rw = Arc::new(RawRtRwLock::new());
    rw.down_read();
    let (rw1, rw2) = (rw.clone(), rw.clone());
    let (ktx, krx) = channel::<usize>();
    let writer = spawn_bounded(move || {
        ktx.send(task::current()).unwrap();
        rw1.down_write();
        // SAFETY: ours.
        unsafe { rw1.up_write() };
    });
    let wkey = krx.recv_timeout(LIMIT).unwrap();
    wait_for(|| rw.readers() == 1, "the writer to remove the bias");
    assert!(
        !rw.down_read_trylock(),
        "no fast-path reader while a writer waits"
    );
    let (ktx2, krx2) = channel::<usize>();
    let reader = spawn_bounded(move || {
        setscheduler(task::current(), fifo(90));
        ktx2.send(task::current()).unwrap();
        rw2.down_read();
        // SAFETY: ours.
        unsafe { rw2.up_read() };
    });
    let rkey = krx2.recv_timeout(LIMIT).unwrap();
    wait_for(|| is_sleeping(rkey), "the slow reader to block");
    assert_eq!(
        task::effective_of(wkey),
        9,
        "the slow reader boosts the writer"
    );
    // SAFETY: the first read lock is ours.
    unsafe { rw.up_read() };
    writer.join();
    reader.join();
    assert_eq!(rw.readers(), i32::MIN);
    assert_eq!(task::effective_of(wkey), task::prio_of(wkey).base);
}

/// Before v6.4 a slow-path reader is admitted while the writer only waits for the readers
/// to drain: readers that keep coming starve the writer (what 286deb7ec03d ended).
#[test]
fn before_v6_4_new_readers_overtake_a_waiting_writer() {
    let rw = Arc::new(RawRtRwLock::new_pre_v6_4());
    rw.down_read();
    let rw1 = rw.clone();
    let writer = spawn_bounded(move || {
        rw1.down_write();
        // SAFETY: ours.
        unsafe { rw1.up_write() };
    });
    wait_for(|| rw.readers() == 1, "the writer to remove the bias");
    let rw2 = rw.clone();
    // A second reader gets in at once through the slow path (it would block since v6.4).
    spawn_bounded(move || {
        rw2.down_read();
        assert_eq!(rw2.readers(), 2, "admitted next to the first reader");
        // SAFETY: ours.
        unsafe { rw2.up_read() };
    })
    .join();
    assert_eq!(
        rw.readers(),
        1,
        "the writer still waits for the first reader"
    );
    // SAFETY: the first read lock is ours.
    unsafe { rw.up_read() };
    writer.join();
    assert_eq!(rw.readers(), i32::MIN);
}

#[test]
fn rwlock_t_front_end_excludes() {
    let rw = Arc::new(RtRwlockT::new(0u64));
    let hs: Vec<_> = (0..3)
        .map(|i| {
            let rw = rw.clone();
            spawn_bounded(move || {
                for _ in 0..2_000 {
                    if i == 0 {
                        *rw.write() += 1;
                    } else {
                        let _ = *rw.read();
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join();
    }
    assert_eq!(*rw.read(), 2_000);
}

#[test]
fn lock_api_downgrade_through_the_raw_trait() {
    let raw = RawRtRwLock::new();
    raw.lock_exclusive();
    assert!(raw.is_locked_exclusive());
    // SAFETY: ours.
    unsafe { raw.downgrade() };
    assert!(!raw.is_locked_exclusive());
    assert!(raw.is_locked());
    // SAFETY: the downgraded read lock is ours.
    unsafe { raw.unlock_shared() };
    assert!(!raw.is_locked());
}

/// rt-tester `t5-l4-pi-boost-deboost` (S12) and its `-setsched` variant (S13): a chain of
/// five tasks over four locks; with `setsched`, priority changes of blocked tasks in the
/// middle and at the end of the chain; then the waiters leave one by one on signals. Every
/// step's priorities are the scripts' (`prioeq: T: p` is kernel priority 99 - p).
fn five_task_chain(setsched: bool) {
    let l = locks(4);
    let t0 = T::spawn(&l, 120);
    let t1 = T::spawn(&l, fifo(81));
    let t2 = T::spawn(&l, fifo(82));
    let t3 = T::spawn(&l, fifo(83));
    let t4 = T::spawn(&l, fifo(84));
    let sigs: Vec<Arc<Signal>> = (0..5).map(|_| Arc::new(Signal::new())).collect();
    t0.run(Cmd::Lock(0)).unwrap();
    t1.run(Cmd::Lock(1)).unwrap();
    t1.block(Cmd::LockInt(0, sigs[1].clone()));
    assert_eq!(t0.prio(), fifo(81));
    t2.run(Cmd::Lock(2)).unwrap();
    t2.block(Cmd::LockInt(1, sigs[2].clone()));
    assert_eq!(prios(&[&t0, &t1]), vec![fifo(82); 2]);
    t3.run(Cmd::Lock(3)).unwrap();
    t3.block(Cmd::LockInt(2, sigs[3].clone()));
    assert_eq!(prios(&[&t0, &t1, &t2]), vec![fifo(83); 3]);
    t4.block(Cmd::LockInt(3, sigs[4].clone()));
    assert_eq!(prios(&[&t0, &t1, &t2, &t3]), vec![fifo(84); 4]);
    if setsched {
        change_priorities_in_the_chain(&[&t0, &t1, &t2, &t3, &t4]);
    }
    five_task_chain_unwinds(&l, [&t0, &t1, &t2, &t3, &t4], &sigs);
}

/// S13's priority changes of blocked tasks (the chain of [`five_task_chain`] is set up).
fn change_priorities_in_the_chain(ts: &[&T; 5]) {
    let [t0, t1, t2, t3, t4] = *ts;
    // Reduce, then restore, the priority of the blocked end of the chain.
    setscheduler(t4.key, fifo(80));
    assert_eq!(prios(&[t0, t1, t2, t3]), vec![fifo(83); 4]);
    assert_eq!(t4.prio(), fifo(80));
    setscheduler(t4.key, fifo(84));
    assert_eq!(prios(&[t0, t1, t2, t3, t4]), vec![fifo(84); 5]);
    // A blocked task in the middle: lowered, it keeps its donor's priority; raised above
    // its donor, it boosts the chain ahead of it but not its donor.
    setscheduler(t3.key, fifo(80));
    assert_eq!(prios(&[t0, t1, t2, t3, t4]), vec![fifo(84); 5]);
    setscheduler(t3.key, fifo(85));
    assert_eq!(prios(&[t0, t1, t2, t3]), vec![fifo(85); 4]);
    assert_eq!(t4.prio(), fifo(84));
    setscheduler(t3.key, fifo(83));
    assert_eq!(prios(&[t0, t1, t2, t3, t4]), vec![fifo(84); 5]);
}

/// The end of both scripts: the waiters leave from the end of the chain on signals, each
/// departure deboosting the chain ahead; then the owners unlock.
fn five_task_chain_unwinds(l: &Locks, ts: [&T; 5], sigs: &[Arc<Signal>]) {
    let [t0, t1, t2, t3, t4] = ts;
    sigs[4].raise();
    assert_eq!(t4.done(), Err(RtError::Interrupted));
    assert_eq!(prios(&[t0, t1, t2, t3]), vec![fifo(83); 4]);
    sigs[3].raise();
    assert_eq!(t3.done(), Err(RtError::Interrupted));
    assert_eq!(prios(&[t0, t1, t2]), vec![fifo(82); 3]);
    sigs[2].raise();
    assert_eq!(t2.done(), Err(RtError::Interrupted));
    assert_eq!(prios(&[t0, t1]), vec![fifo(81); 2]);
    sigs[1].raise();
    assert_eq!(t1.done(), Err(RtError::Interrupted));
    assert_eq!(t0.prio(), 120, "no RT boost left");
    t3.run(Cmd::Unlock(3)).unwrap();
    t2.run(Cmd::Unlock(2)).unwrap();
    t1.run(Cmd::Unlock(1)).unwrap();
    t0.run(Cmd::Unlock(0)).unwrap();
    for lk in &l.0 {
        assert!(!lk.is_locked());
        assert!(lk.validate().is_ok());
    }
}

#[test]
fn s12_five_task_chain_boosts_and_deboosts() {
    five_task_chain(false);
}

#[test]
fn s13_boost_deboost_with_priority_changes_of_blocked_tasks() {
    five_task_chain(true);
}
