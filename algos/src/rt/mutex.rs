//! `rt_mutex`: the owner word, the waiter trees, the chain walk, and the lock_api surface.
//! See the module header of [`crate::rt`] for the kernel mapping.

use super::{task_rt, wake, Busy, Key, PiState, RtError, Signal, TaskRt};
use crate::sync::atomic::{AtomicUsize, ConstAtomicUsize, Ordering};
use crate::sync::lock_api;
use crate::sync::shared::{Arc, OnceLock};
use crate::sync::stat::{CheckLock, Counter, Flag, Word};
use crate::sync::task::{self, Prio, DEFAULT_PRIO, MAX_RT_PRIO};
use crate::sync::thread::{self, Thread};
use crate::sync::{Mutex, MutexGuard};
use std::collections::BTreeMap;

/// `max_lock_depth`: the longest chain a walk follows before it gives up with
/// [`RtError::Deadlock`].
pub const MAX_LOCK_DEPTH: usize = 1024;

/// How long a top waiter spins on a running owner before it sleeps (iterations of a spin
/// hint, a few microseconds: about a critical section's length, not a time slice).
#[cfg(not(mmcheck_model))]
const SPIN_LIMIT: u32 = 4_000;

/// Bit 0 of the owner word.
const HAS_WAITERS: usize = 1;

/// The owner word's encoding of task `key` (bit 0 clear).
#[inline(always)]
fn enc(key: usize) -> usize {
    (key + 1) << 1
}

/// The task an owner word names.
#[inline(always)]
fn dec(word: usize) -> Option<usize> {
    match word >> 1 {
        0 => None,
        k => Some(k - 1),
    }
}

/// Arrival order of enqueues, for FIFO among equal priorities.
static SEQ: Counter = Counter::new();

/// `__waiter_prio`: a task's priority as a waiter key (every non-RT task waits as 120).
fn waiter_prio(task_key: usize) -> Prio {
    let p = task::effective_of(task_key);
    if p < MAX_RT_PRIO {
        p
    } else {
        DEFAULT_PRIO
    }
}

/// `rt_mutex_waiter_less` on priorities (the FIFO part is the trees' business).
fn less(a: Prio, b: Prio) -> bool {
    a < b
}

// ---- waiters --------------------------------------------------------------------------

/// `struct rt_mutex_waiter`.
pub(crate) struct Waiter {
    /// The waiting task.
    task: usize,
    /// Its thread, to wake.
    thread: Thread,
    /// The lock it waits on (a [`Base`] address; 0 before it blocks).
    lock: Word,
    /// Its key in the lock's tree (under the lock's wait_lock).
    tree: CheckLock<Key>,
    /// Its key in the owner's `pi_waiters` (under the owner's pi_lock).
    pi_tree: CheckLock<Key>,
    /// False once its wait has ended (a stack waiter gone out of scope).
    alive: Flag,
}

/// A shared waiter; identity is the allocation.
pub(crate) type WaiterRef = Arc<Waiter>;

impl Waiter {
    fn new(task_key: usize, thread: Thread) -> WaiterRef {
        let w = Arc::new(Waiter {
            task: task_key,
            thread,
            lock: Word::new(0),
            tree: CheckLock::new(Key { prio: 0, seq: 0 }),
            pi_tree: CheckLock::new(Key { prio: 0, seq: 0 }),
            alive: Flag::new(),
        });
        w.alive.set(true);
        w
    }

    /// Reports a use of a waiter whose wait has ended (checking builds).
    #[inline]
    #[track_caller]
    fn check(&self) -> &Self {
        #[cfg(mmcheck_hooks)]
        if !self.alive.get() {
            panic!(
                "BUG: KMSAN: use-after-free in rt_mutex waiter of task {}\n\
                 The waiter's wait has ended but it is still linked in a lock's or a task's \
                 tree (a stack waiter gone out of scope in the kernel).\n\
                 Use at: {}",
                self.task,
                std::panic::Location::caller()
            );
        }
        self
    }

    /// The wait is over: any later use is a use-after-free.
    fn die(&self) {
        self.alive.set(false);
    }

    fn base(&self) -> &'static Base {
        let addr = self.lock.get();
        assert_ne!(addr, 0, "a waiter that never blocked has no lock");
        // SAFETY: `lock` is set when the waiter blocks on a lock, and a lock outlives every
        // wait on it (its waiters borrow it for the wait); callers use the reference only
        // while the waiter is linked, under a lock that keeps it linked.
        unsafe { &*(addr as *const Base) }
    }

    fn tree_key(&self) -> Key {
        self.tree.with(|k| *k)
    }

    fn tree_prio(&self) -> Prio {
        self.tree_key().prio
    }

    fn pi_key(&self) -> Key {
        self.pi_tree.with(|k| *k)
    }

    /// `waiter_update_prio`: the lock-tree key follows the task's priority now.
    fn update_prio(&self, task_key: usize) {
        let p = waiter_prio(task_key);
        self.tree.with(|k| k.prio = p);
    }

    /// `waiter_clone_prio`: the pi-tree key copies the lock-tree key.
    fn clone_prio(&self) {
        let p = self.tree_prio();
        self.pi_tree.with(|k| k.prio = p);
    }
}

fn same(a: Option<&WaiterRef>, b: Option<&WaiterRef>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

// ---- the lock -------------------------------------------------------------------------

/// What a lock's `wait_lock` protects: the waiter tree.
#[derive(Default)]
pub(crate) struct Waiters {
    tree: BTreeMap<Key, WaiterRef>,
}

impl Waiters {
    /// `rt_mutex_top_waiter`.
    fn top(&self) -> Option<&WaiterRef> {
        self.tree.first_key_value().map(|(_, w)| {
            w.check();
            w
        })
    }

    fn has_waiters(&self) -> bool {
        !self.tree.is_empty()
    }

    fn is_top(&self, w: &WaiterRef) -> bool {
        self.top().is_some_and(|t| Arc::ptr_eq(t, w))
    }

    /// `rt_mutex_enqueue`: behind every waiter of equal priority.
    fn enqueue(&mut self, w: &WaiterRef) {
        let key = w.tree.with(|k| {
            k.seq = SEQ.next();
            *k
        });
        let prev = self.tree.insert(key, w.clone());
        debug_assert!(prev.is_none(), "two waiters with one key");
    }

    /// `rt_mutex_dequeue` (nothing if it is not queued).
    fn dequeue(&mut self, w: &WaiterRef) {
        let key = w.tree_key();
        if self.tree.get(&key).is_some_and(|x| Arc::ptr_eq(x, w)) {
            self.tree.remove(&key);
        }
    }
}

/// `rt_mutex_enqueue_pi`.
fn enqueue_pi(pi: &mut PiState, w: &WaiterRef) {
    let key = w.pi_tree.with(|k| {
        k.seq = SEQ.next();
        *k
    });
    let prev = pi.waiters.insert(key, w.clone());
    debug_assert!(prev.is_none(), "two pi waiters with one key");
}

/// `rt_mutex_dequeue_pi` (nothing if it is not queued).
fn dequeue_pi(pi: &mut PiState, w: &WaiterRef) {
    let key = w.pi_key();
    if pi.waiters.get(&key).is_some_and(|x| Arc::ptr_eq(x, w)) {
        pi.waiters.remove(&key);
    }
}

/// `task_top_pi_waiter`.
fn top_pi(pi: &PiState) -> Option<&WaiterRef> {
    pi.waiters.first_key_value().map(|(_, w)| {
        w.check();
        w
    })
}

/// `task_blocked_on_lock`.
fn blocked_lock(pi: &PiState) -> Option<usize> {
    pi.blocked_on.as_ref().map(|w| w.check().lock.get())
}

/// `rt_mutex_adjust_prio` (`rt_mutex_setprio`): the task's effective priority is the better
/// of its base priority and its top donor's current priority. Under the task's pi_lock.
pub(super) fn adjust_prio(task_key: usize, pi: &PiState) {
    let base = task::prio_of(task_key).base;
    let prio = match top_pi(pi) {
        Some(w) => base.min(task::effective_of(w.task)),
        None => base,
    };
    task::set_effective(task_key, prio);
}

/// How far a chain walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChainWalk {
    /// `RT_MUTEX_MIN_CHAINWALK`: only as far as priorities change.
    Min,
    /// `RT_MUTEX_FULL_CHAINWALK`: the whole chain, with deadlock detection.
    Full,
    /// `RT_MUTEX_MIN_CHAINWALK` whose caller gets a detected deadlock back as an error
    /// instead of the WARN (`rt_mutex_handle_deadlock`'s input, for checkers).
    MinReturning,
}

/// How a blocked task sleeps.
#[derive(Clone, Copy)]
pub(crate) enum Sleep<'s> {
    /// `TASK_UNINTERRUPTIBLE`.
    Uninterruptible,
    /// `TASK_INTERRUPTIBLE`, woken by this signal.
    Interruptible(&'s Signal),
}

impl Sleep<'_> {
    pub(crate) fn interrupted(&self) -> bool {
        matches!(self, Sleep::Interruptible(s) if s.is_raised())
    }
}

/// `struct rt_mutex_base`: the owner word and the slow-path state.
pub(crate) struct Base {
    owner: ConstAtomicUsize,
    /// `wait_lock` and the tree, made on first contention.
    slow: OnceLock<Mutex<Waiters>>,
    /// The spinlock build (`rwlock_t` on RT): lateral steals of non-RT equals.
    spin: bool,
}

impl Base {
    pub(crate) const fn new(spin: bool) -> Self {
        Base {
            owner: ConstAtomicUsize::new(0),
            slow: OnceLock::new(),
            spin,
        }
    }

    #[inline(always)]
    fn word(&self) -> &AtomicUsize {
        self.owner.get()
    }

    pub(crate) fn wait_lock(&self) -> MutexGuard<'_, Waiters> {
        self.slow
            .get_or_init(|| Mutex::new(Waiters::default()))
            .lock()
    }

    fn try_wait_lock(&self) -> Option<MutexGuard<'_, Waiters>> {
        self.slow
            .get_or_init(|| Mutex::new(Waiters::default()))
            .try_lock()
    }

    fn addr(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// `rt_mutex_owner`.
    pub(crate) fn owner_task(&self) -> Option<usize> {
        dec(self.word().load(Ordering::Relaxed))
    }

    /// The fast acquire (`rt_mutex_cmpxchg_acquire(lock, NULL, current)`).
    #[inline(always)]
    pub(crate) fn fast_lock(&self, me: usize) -> bool {
        self.word()
            .compare_exchange(0, enc(me), Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// The fast release (`rt_mutex_cmpxchg_release(lock, current, NULL)`).
    #[inline(always)]
    pub(crate) fn fast_unlock(&self, me: usize) -> bool {
        self.word()
            .compare_exchange(enc(me), 0, Ordering::Release, Ordering::Relaxed)
            .is_ok()
    }

    /// `mark_rt_mutex_waiters` (under wait_lock).
    fn mark_waiters(&self) {
        self.word().fetch_or(HAS_WAITERS, Ordering::Relaxed);
    }

    /// `rt_mutex_set_owner` (an acquire exchange, as the kernel since 1c0908d8e441).
    fn set_owner(&self, w: &Waiters, task_key: usize) {
        let bit = if w.has_waiters() { HAS_WAITERS } else { 0 };
        self.word().swap(enc(task_key) | bit, Ordering::Acquire);
    }

    /// `fixup_rt_mutex_waiters`: clears a bit the slow path left set with no waiters.
    pub(crate) fn fixup_waiters(&self, w: &Waiters, acquire: bool) {
        if w.has_waiters() {
            return;
        }
        let o = self.word().load(Ordering::Relaxed);
        if o & HAS_WAITERS != 0 {
            if acquire {
                self.word().swap(o & !HAS_WAITERS, Ordering::Acquire);
            } else {
                self.word().store(o & !HAS_WAITERS, Ordering::Relaxed);
            }
        }
    }

    /// `rt_mutex_steal`: may a waiter of priority `prio` take the lock ahead of `top`?
    fn steal(&self, prio: Prio, top: &WaiterRef) -> bool {
        let top_prio = top.tree_prio();
        if less(prio, top_prio) {
            return true;
        }
        // Lateral steals only in the spinlock build, and never by RT tasks.
        self.spin && prio >= MAX_RT_PRIO && prio == top_prio
    }

    /// `try_to_take_rt_mutex` (under wait_lock).
    pub(crate) fn try_to_take(
        &self,
        w: &mut Waiters,
        task_key: usize,
        waiter: Option<&WaiterRef>,
    ) -> bool {
        self.mark_waiters();
        if self.owner_task().is_some() {
            return false;
        }
        if let Some(me) = waiter {
            let top = w.top().expect("an enqueued waiter").clone();
            if Arc::ptr_eq(me, &top) || self.steal(me.tree_prio(), &top) {
                w.dequeue(me);
            } else {
                return false;
            }
        } else if let Some(top) = w.top() {
            if !self.steal(waiter_prio(task_key), top) {
                return false;
            }
            // The top waiter stays queued.
        } else {
            self.set_owner(w, task_key);
            return true;
        }
        {
            let ts = task_rt(task_key);
            let mut pi = ts.pi.lock();
            pi.blocked_on = None;
            if let Some(top) = w.top() {
                top.clone_prio();
                enqueue_pi(&mut pi, top);
            }
        }
        self.set_owner(w, task_key);
        true
    }

    /// `task_blocks_on_rt_mutex` (under wait_lock, which the chain walk drops and retakes).
    fn task_blocks(
        &self,
        wl: &mut MutexGuard<'_, Waiters>,
        waiter: &WaiterRef,
        task_key: usize,
        chwalk: ChainWalk,
    ) -> Result<(), RtError> {
        let _busy = Busy::enter();
        let owner = self.owner_task();
        // Early deadlock detection: never enqueue on a lock one owns.
        if owner == Some(task_key) {
            return Err(RtError::Deadlock);
        }
        let prev_top;
        {
            let ts = task_rt(task_key);
            let mut pi = ts.pi.lock();
            waiter.lock.set(self.addr());
            waiter.update_prio(task_key);
            waiter.clone_prio();
            prev_top = wl.top().cloned();
            wl.enqueue(waiter);
            pi.blocked_on = Some(waiter.clone());
        }
        let Some(owner) = owner else {
            return Ok(());
        };
        let mut chain_walk = false;
        let next_lock;
        {
            let os = task_rt(owner);
            let mut opi = os.pi.lock();
            if wl.is_top(waiter) {
                if let Some(p) = &prev_top {
                    dequeue_pi(&mut opi, p);
                }
                enqueue_pi(&mut opi, waiter);
                adjust_prio(owner, &opi);
                if opi.blocked_on.is_some() {
                    chain_walk = true;
                }
            } else if chwalk == ChainWalk::Full {
                chain_walk = true;
            }
            next_lock = blocked_lock(&opi);
        }
        let Some(next_lock) = next_lock else {
            return Ok(());
        };
        if !chain_walk {
            return Ok(());
        }
        MutexGuard::unlocked(wl, || {
            adjust_prio_chain(
                owner,
                chwalk,
                Some(self.addr()),
                next_lock,
                Some(waiter),
                task_key,
            )
        })
    }

    /// `rt_mutex_slowlock_block`: try, check the signal, sleep; under wait_lock.
    fn block(
        &self,
        wl: &mut MutexGuard<'_, Waiters>,
        waiter: &WaiterRef,
        sleep: Sleep<'_>,
        ts: &TaskRt,
    ) -> Result<(), RtError> {
        loop {
            if self.try_to_take(wl, waiter.task, Some(waiter)) {
                return Ok(());
            }
            if sleep.interrupted() {
                return Err(RtError::Interrupted);
            }
            // The top waiter spins while the owner runs (`rtmutex_spin_on_owner`); anyone
            // else, or a spin that ends with the owner asleep, sleeps.
            let owner = if wl.is_top(waiter) {
                self.owner_task()
            } else {
                None
            };
            MutexGuard::unlocked(wl, || {
                if !owner.is_some_and(|o| self.spin_on_owner(o, sleep)) {
                    super::schedule(ts);
                    super::after_wakeup(waiter.task);
                }
            });
        }
    }

    /// `rtmutex_spin_on_owner`: spins while `owner` still owns the lock and is not asleep in
    /// a lock of its own; true if the owner changed (try again at once), false to sleep. On
    /// std a bounded spin; under the models no spin at all (it would only add schedules
    /// that change nothing).
    fn spin_on_owner(&self, owner: usize, sleep: Sleep<'_>) -> bool {
        #[cfg(not(mmcheck_model))]
        {
            let os = task_rt(owner);
            for _ in 0..SPIN_LIMIT {
                if self.owner_task() != Some(owner) {
                    return true;
                }
                if os.sleeping.get() || sleep.interrupted() {
                    return false;
                }
                crate::sync::hint::spin_loop();
            }
            false
        }
        #[cfg(mmcheck_model)]
        {
            let _ = (owner, sleep);
            false
        }
    }

    /// `remove_waiter` (under wait_lock, which the deboost walk drops and retakes). The
    /// waiter's own task loses its `pi_blocked_on`, whoever calls this (a proxy requeuer
    /// included).
    fn remove_waiter(&self, wl: &mut MutexGuard<'_, Waiters>, waiter: &WaiterRef) {
        let _busy = Busy::enter();
        let is_top = wl.is_top(waiter);
        let owner = self.owner_task();
        let wt = waiter.task;
        {
            let ts = task_rt(wt);
            let mut pi = ts.pi.lock();
            wl.dequeue(waiter);
            pi.blocked_on = None;
        }
        let Some(owner) = owner else { return };
        if !is_top {
            return;
        }
        let next_lock;
        {
            let os = task_rt(owner);
            let mut opi = os.pi.lock();
            dequeue_pi(&mut opi, waiter);
            if let Some(top) = wl.top() {
                top.clone_prio();
                enqueue_pi(&mut opi, top);
            }
            adjust_prio(owner, &opi);
            next_lock = blocked_lock(&opi);
        }
        let Some(next_lock) = next_lock else { return };
        MutexGuard::unlocked(wl, || {
            let _ = adjust_prio_chain(
                owner,
                ChainWalk::Min,
                Some(self.addr()),
                next_lock,
                None,
                wt,
            );
        });
    }

    /// `rt_mutex_slowlock` for the current task.
    #[cold]
    pub(crate) fn slowlock(&self, sleep: Sleep<'_>, chwalk: ChainWalk) -> Result<(), RtError> {
        let mut wl = self.wait_lock();
        self.slowlock_locked(&mut wl, sleep, chwalk)
    }

    /// `__rt_mutex_slowlock_locked` for the current task, under wait_lock (which the wait
    /// drops and retakes).
    pub(crate) fn slowlock_locked(
        &self,
        wl: &mut MutexGuard<'_, Waiters>,
        sleep: Sleep<'_>,
        chwalk: ChainWalk,
    ) -> Result<(), RtError> {
        let me = task::current();
        if self.try_to_take(wl, me, None) {
            return Ok(());
        }
        let ts = task_rt(me);
        let waiter = Waiter::new(me, thread::current());
        if let Sleep::Interruptible(sig) = sleep {
            sig.attach();
        }
        let mut ret = self.task_blocks(wl, &waiter, me, chwalk);
        // A deadlock reported after the lock's owner let it go no longer stands: this waiter
        // may be the top waiter the unlock woke, and leaving would strand the others on a
        // free lock. The futex path treats it so (`if (ret && !rt_mutex_owner(lock)) ret =
        // 0`); so do the callers that get the error back. A plain lock WARNs as the kernel's.
        if ret == Err(RtError::Deadlock) && chwalk != ChainWalk::Min && self.owner_task().is_none()
        {
            ret = Ok(());
        }
        if ret.is_ok() {
            ret = self.block(wl, &waiter, sleep, &ts);
        }
        if ret.is_err() {
            self.remove_waiter(wl, &waiter);
        }
        self.fixup_waiters(wl, true);
        waiter.die();
        if let Sleep::Interruptible(sig) = sleep {
            sig.detach();
        }
        if ret == Err(RtError::Deadlock) && chwalk == ChainWalk::Min {
            // rt_mutex_handle_deadlock: the kernel WARNs and sleeps for ever (since
            // d33d26036a02 without wait_lock held); the guard is released as this unwinds.
            panic!("rtmutex deadlock detected (task {me})");
        }
        ret
    }

    /// `rt_mutex_unlock` by task `me`, the owner: the fast release, else the slow one.
    #[inline]
    pub(crate) fn unlock(&self, me: usize) {
        if !self.fast_unlock(me) {
            self.slowunlock(me);
        }
    }

    /// `rt_mutex_slowtrylock`.
    pub(crate) fn slowtrylock(&self, me: usize) -> bool {
        if self.owner_task().is_some() {
            return false;
        }
        let mut wl = self.wait_lock();
        let r = self.try_to_take(&mut wl, me, None);
        self.fixup_waiters(&wl, true);
        r
    }

    /// `mark_wakeup_next_waiter`: the top waiter leaves the owner's pi tree, the owner is
    /// deboosted, the lock becomes ownerless with the waiters bit, and the waiter is
    /// returned for waking once wait_lock is dropped.
    fn mark_wakeup_next_waiter(&self, w: &Waiters, me: usize) -> WaiterRef {
        let ms = task_rt(me);
        let mut pi = ms.pi.lock();
        let top = w.top().expect("waiters").clone();
        dequeue_pi(&mut pi, &top);
        adjust_prio(me, &pi);
        self.word().store(HAS_WAITERS, Ordering::Release);
        top
    }

    /// `rt_mutex_slowunlock` by task `me`, the owner.
    #[cold]
    pub(crate) fn slowunlock(&self, me: usize) {
        let _busy = Busy::enter();
        let mut wl = self.wait_lock();
        assert_eq!(
            self.owner_task(),
            Some(me),
            "rt_mutex unlock by task {me}, which does not own the lock"
        );
        while !wl.has_waiters() {
            // unlock_rt_mutex_safe: clear the bit, drop wait_lock, then release the word.
            let o = self.word().load(Ordering::Relaxed);
            self.word().store(o & !HAS_WAITERS, Ordering::Relaxed);
            drop(wl);
            if self
                .word()
                .compare_exchange(enc(me), 0, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            wl = self.wait_lock();
        }
        // Deboosted before the wake-up, and not preempted in between (the kernel's
        // preempt_disable in mark_wakeup_next_waiter): a task that runs at its base priority
        // while its donor is still asleep would be an unbounded inversion.
        let _np = task::no_preempt();
        let top = self.mark_wakeup_next_waiter(&wl, me);
        drop(wl);
        wake(top.task, &top.thread);
    }

    /// The task keys of the waiters, top first.
    fn waiter_tasks(&self) -> Vec<usize> {
        if self.slow.get().is_none() {
            return Vec::new();
        }
        self.wait_lock().tree.values().map(|w| w.task).collect()
    }
}

/// `rt_mutex_adjust_prio_chain`: propagates a priority change (or detects a deadlock) along
/// the chain that starts at `task`, the owner of `orig_lock` (or the task whose priority
/// changed), blocked on `next_lock`. Holds at most one pi_lock and one wait_lock at a time.
fn adjust_prio_chain(
    mut task_key: usize,
    chwalk: ChainWalk,
    orig_lock: Option<usize>,
    mut next_lock: usize,
    orig_waiter: Option<&WaiterRef>,
    top_task: usize,
) -> Result<(), RtError> {
    let mut top_waiter: Option<WaiterRef> = orig_waiter.cloned();
    let detect = orig_waiter.is_some() && chwalk == ChainWalk::Full;
    let mut requeue = true;
    let mut depth = 0;
    loop {
        depth += 1;
        if depth > MAX_LOCK_DEPTH {
            return Err(RtError::Deadlock);
        }
        // [1] .. [5], retried while the trylock of the next wait_lock fails.
        let ts = task_rt(task_key);
        let (pi, waiter, lock, mut wl) = loop {
            let pi = ts.pi.lock();
            // [2], [3]
            let Some(waiter) = pi.blocked_on.clone() else {
                return Ok(());
            };
            waiter.check();
            if orig_waiter.is_some() {
                let ol = orig_lock.expect("an original lock with an original waiter");
                // SAFETY: `orig_lock` is the lock `top_task` waits on; it outlives the wait.
                if unsafe { &*(ol as *const Base) }.owner_task().is_none() {
                    return Ok(());
                }
            }
            if waiter.lock.get() != next_lock {
                return Ok(());
            }
            if let Some(tw) = &top_waiter {
                match top_pi(&pi) {
                    None => return Ok(()),
                    Some(first) if !Arc::ptr_eq(first, tw) => {
                        if !detect {
                            return Ok(());
                        }
                        requeue = false;
                    }
                    Some(_) => {}
                }
            }
            if waiter.tree_prio() == waiter_prio(task_key) {
                if !detect {
                    return Ok(());
                }
                requeue = false;
            }
            // [4]
            let lock: &'static Base = waiter.base();
            // [5]: the reverse order of every other path: only try.
            match lock.try_wait_lock() {
                Some(wl) => break (pi, waiter, lock, wl),
                None => {
                    drop(pi);
                    crate::sync::hint::spin_loop();
                }
            }
        };
        // [6]
        if Some(lock.addr()) == orig_lock || lock.owner_task() == Some(top_task) {
            super::IMPRECISE.add(1);
            return Err(RtError::Deadlock);
        }
        if !requeue {
            drop(pi);
            // [9]
            let Some(owner) = lock.owner_task() else {
                return Ok(());
            };
            // [10], [12]
            let os = task_rt(owner);
            let opi = os.pi.lock();
            let nl = blocked_lock(&opi);
            top_waiter = wl.top().cloned();
            drop(opi);
            drop(wl);
            task_key = owner;
            match nl {
                None => return Ok(()),
                Some(l) => next_lock = l,
            }
            continue;
        }
        // [7] requeue with the task's current priority.
        let prerequeue = wl.top().cloned();
        wl.dequeue(&waiter);
        waiter.update_prio(task_key);
        wl.enqueue(&waiter);
        // [8]
        drop(pi);
        // [9]
        let Some(owner) = lock.owner_task() else {
            // The requeue changed the top waiter of an ownerless lock: the new top waiter
            // must try to take it (db370a8b9f67 wakes the new top, not the requeued one).
            let new_top = wl.top().cloned();
            if !same(prerequeue.as_ref(), new_top.as_ref()) {
                if let Some(t) = new_top {
                    wake(t.task, &t.thread);
                }
            }
            return Ok(());
        };
        // [10]
        let os = task_rt(owner);
        let mut opi = os.pi.lock();
        // [11]
        let mut waiter = waiter;
        if wl.is_top(&waiter) {
            // Boost: the waiter replaces the previous top waiter in the owner's tree.
            if let Some(p) = &prerequeue {
                dequeue_pi(&mut opi, p);
            }
            waiter.clone_prio();
            enqueue_pi(&mut opi, &waiter);
            adjust_prio(owner, &opi);
        } else if prerequeue.as_ref().is_some_and(|p| Arc::ptr_eq(p, &waiter)) {
            // Deboost: the new top waiter replaces it, and the walk goes on with that one.
            dequeue_pi(&mut opi, &waiter);
            waiter = wl.top().cloned().expect("the lock still has waiters");
            waiter.clone_prio();
            enqueue_pi(&mut opi, &waiter);
            adjust_prio(owner, &opi);
        }
        // [12]
        let nl = blocked_lock(&opi);
        top_waiter = wl.top().cloned();
        // [13]
        drop(opi);
        drop(wl);
        task_key = owner;
        let Some(nl) = nl else {
            return Ok(());
        };
        next_lock = nl;
        if !detect && !same(Some(&waiter), top_waiter.as_ref()) {
            return Ok(());
        }
    }
}

/// `rt_mutex_adjust_pi`: after `task`'s priority changed, requeue its waiter and propagate.
pub(super) fn adjust_pi(task_key: usize) {
    let ts = task_rt(task_key);
    let next_lock = {
        let pi = ts.pi.lock();
        match &pi.blocked_on {
            None => return,
            Some(w) => {
                if w.check().tree_prio() == waiter_prio(task_key) {
                    return;
                }
                w.lock.get()
            }
        }
    };
    let _ = adjust_prio_chain(task_key, ChainWalk::Min, None, next_lock, None, task_key);
}

// ---- quiescent invariants ----------------------------------------------------------------

/// A lock with an rtmutex inside, whose priority-inheritance state [`check_pi_state`]
/// checks: [`RawRtMutex`], [`super::RawRtRwLock`] and [`super::RawRtRwlockT`]. Sealed.
pub trait PiLock: sealed::Sealed {
    /// The rtmutex (an opaque handle).
    fn pi_base(&self) -> PiBase<'_>;
}

/// An opaque handle on a lock's rtmutex (see [`PiLock`]).
#[derive(Clone, Copy)]
pub struct PiBase<'a>(&'a Base);

impl std::fmt::Debug for PiBase<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiBase")
            .field("owner", &self.0.owner_task())
            .finish()
    }
}

impl<'a> PiBase<'a> {
    pub(crate) fn of(b: &'a Base) -> Self {
        PiBase(b)
    }
}

pub(crate) mod sealed {
    /// Only this crate's locks are [`super::PiLock`]s.
    pub trait Sealed {}
}

impl sealed::Sealed for RawRtMutex {}

impl PiLock for RawRtMutex {
    fn pi_base(&self) -> PiBase<'_> {
        PiBase(&self.base)
    }
}

/// Checks the invariants of the priority-inheritance state over `locks` (their rtmutexes),
/// and of every task, at any scheduling point, without blocking: `None`
/// when the state is not quiescent right now (a block, chain walk, removal, unlock or
/// priority change is in flight, or a `wait_lock` or `pi_lock` is held), else the verdict.
///
/// Checked: the `HAS_WAITERS` bit is set when a lock has waiters, and clear on a free lock
/// without waiters (an owned lock may keep a stale bit: the owner's unlock clears it); every linked
/// waiter is alive, sits in its lock's tree under its own current key and is its task's
/// `pi_blocked_on` (and the reverse); each waiter's key is its task's priority as a waiter;
/// each task's `pi_waiters` holds exactly the top waiters of the locks it owns, under their
/// own `pi_tree` keys; the PI property (a task's effective priority is the better of its
/// base priority and its top donor's, with every normal priority counted as 120 as the
/// kernel does); no lost wake-up (a free lock's top waiter is awake or
/// has been woken); blocking chains end (no cycle, at most [`MAX_LOCK_DEPTH`] long). A
/// task blocked on a lock outside the given ones is checked only as far as it can be.
///
/// Without `pi_property` the priorities and waiter keys are not compared: after a deadlock
/// was detected while other tasks walked the same cycle, or after the other events
/// [`super::pi_imprecise`] counts, the kernel's priorities are best effort (a third task's
/// walk can leave boosts going round the cycle that no later walk undoes).
pub fn check_pi_state(locks: &[&dyn PiLock], pi_property: bool) -> Option<Result<(), String>> {
    if Busy::any() {
        return None;
    }
    let bases: Vec<&Base> = locks.iter().map(|l| l.pi_base().0).collect();
    // Every wait_lock is held for the whole check (a lock never contended gets its slow
    // state now: another task could make it while this check yields at a trylock).
    let mut guards = Vec::with_capacity(bases.len());
    for b in &bases {
        guards.push(Some(b.try_wait_lock()?));
    }
    // In key order: each trylock below is a scheduling point, and a byte schedule must
    // replay the same points (a hash map's order differs from run to run).
    let mut tasks: Vec<(usize, Arc<TaskRt>)> =
        super::tasks().with(|t| t.iter().map(|(k, v)| (*k, v.clone())).collect());
    tasks.sort_unstable_by_key(|(k, _)| *k);
    let mut pis = Vec::with_capacity(tasks.len());
    for (k, ts) in &tasks {
        pis.push((*k, ts, ts.pi.try_lock()?));
    }
    // A change that began while this check took its locks (each trylock is a scheduling
    // point) may have done its first part already: look again, now that nothing can move.
    if Busy::any() {
        return None;
    }
    let waiters: Vec<Option<&Waiters>> = guards.iter().map(|g| g.as_deref()).collect();
    let pis: Vec<(usize, &TaskRt, &PiState)> =
        pis.iter().map(|(k, t, g)| (*k, &***t, &**g)).collect();
    Some(check_quiescent(&bases, &waiters, &pis, pi_property))
}

fn check_quiescent(
    bases: &[&Base],
    waiters: &[Option<&Waiters>],
    pis: &[(usize, &TaskRt, &PiState)],
    pi_property: bool,
) -> Result<(), String> {
    let lock_of = |addr: usize| bases.iter().position(|b| b.addr() == addr);
    let pi_of = |k: usize| pis.iter().find(|p| p.0 == k).map(|p| p.2);
    for (i, b) in bases.iter().enumerate() {
        let word = b.word().load(Ordering::Relaxed);
        let owner = dec(word);
        let has = waiters[i].is_some_and(Waiters::has_waiters);
        let bit = word & HAS_WAITERS != 0;
        // The documented transient: a bit left set with no waiter on an owned lock (a failed
        // proxy start removes its waiter without a fixup, as the kernel's does); the owner's
        // unlock then takes the slow path, which clears it.
        if has && !bit || bit && !has && owner.is_none() {
            return Err(format!(
                "lock {i}: HAS_WAITERS is {} with {} waiter(s) and owner {owner:?}",
                word & HAS_WAITERS,
                waiters[i].map_or(0, |w| w.tree.len())
            ));
        }
        let Some(w) = waiters[i] else { continue };
        for (key, wr) in &w.tree {
            if !wr.alive.get() {
                return Err(format!(
                    "lock {i}: the waiter of task {} is linked after its wait ended (use-after-free)",
                    wr.task
                ));
            }
            if *key != wr.tree_key() || wr.lock.get() != b.addr() {
                return Err(format!(
                    "lock {i}: task {}'s waiter is queued under {key:?}, its own key is {:?}",
                    wr.task,
                    wr.tree_key()
                ));
            }
            if pi_property && wr.tree_prio() != waiter_prio(wr.task) {
                return Err(format!(
                    "lock {i}: task {}'s waiter waits as {}, the task's priority as a waiter is {}",
                    wr.task,
                    wr.tree_prio(),
                    waiter_prio(wr.task)
                ));
            }
            if !pi_of(wr.task)
                .and_then(|pi| pi.blocked_on.as_ref())
                .is_some_and(|bo| Arc::ptr_eq(bo, wr))
            {
                return Err(format!(
                    "lock {i}: task {}'s waiter is queued but is not its pi_blocked_on",
                    wr.task
                ));
            }
        }
        let Some((_, top)) = w.tree.first_key_value() else {
            continue;
        };
        match owner {
            Some(o) => {
                if !pi_of(o).is_some_and(|pi| pi.waiters.values().any(|x| Arc::ptr_eq(x, top))) {
                    return Err(format!(
                        "lock {i}: the top waiter (task {}) is not in the owner's (task {o}) pi_waiters",
                        top.task
                    ));
                }
            }
            None => {
                let woken = pis
                    .iter()
                    .find(|p| p.0 == top.task)
                    .is_none_or(|p| !p.1.sleeping.get() || p.1.woken.get());
                if !woken {
                    return Err(format!(
                        "lost wake-up: lock {i} is free and its top waiter, task {}, sleeps without having been woken",
                        top.task
                    ));
                }
            }
        }
    }
    for &(k, _, pi) in pis {
        if let Some(bo) = &pi.blocked_on {
            if !bo.alive.get() || bo.task != k {
                return Err(format!(
                    "task {k}: pi_blocked_on is a dead waiter or another task's ({})",
                    bo.task
                ));
            }
            if let Some(i) = lock_of(bo.lock.get()) {
                let queued = waiters[i]
                    .and_then(|w| w.tree.get(&bo.tree_key()))
                    .is_some_and(|x| Arc::ptr_eq(x, bo));
                if !queued {
                    return Err(format!(
                        "task {k}: pi_blocked_on names lock {i}, whose tree does not hold the waiter"
                    ));
                }
            }
        }
        for (key, w) in &pi.waiters {
            if !w.alive.get() {
                return Err(format!(
                    "task {k}: pi_waiters holds task {}'s waiter after its wait ended (use-after-free)",
                    w.task
                ));
            }
            if *key != w.pi_key() || w.pi_key().prio != w.tree_prio() {
                return Err(format!(
                    "task {k}: pi_waiters holds task {}'s waiter under {key:?}; its pi key is {:?}, its lock-tree priority {}",
                    w.task,
                    w.pi_key(),
                    w.tree_prio()
                ));
            }
            if let Some(i) = lock_of(w.lock.get()) {
                let is_top = waiters[i]
                    .and_then(|t| t.tree.first_key_value())
                    .is_some_and(|(_, t)| Arc::ptr_eq(t, w));
                if !is_top || bases[i].owner_task() != Some(k) {
                    return Err(format!(
                        "task {k}: pi_waiters holds task {}'s waiter, which is not the top waiter of lock {i} owned by task {k}",
                        w.task
                    ));
                }
            }
        }
        // The PI property, as exact as the kernel is: a real-time donor is inherited
        // exactly; among normal priorities every task counts as 120 (715f7f9ece46), so a
        // normal owner may keep a normal priority its donors no longer give it (a walk
        // stops where the squashed priorities are equal) until its next adjustment.
        let base = task::prio_of(k).base;
        let expect = match pi.waiters.first_key_value() {
            Some((_, w)) => base.min(task::effective_of(w.task)),
            None => base,
        };
        let eff = task::effective_of(k);
        let squash = |p: Prio| if p < MAX_RT_PRIO { p } else { DEFAULT_PRIO };
        if pi_property && (eff > base || squash(eff) != squash(expect)) {
            return Err(format!(
                "PI: task {k} runs at {eff}; its base priority is {base} and its top donor gives {expect}"
            ));
        }
        let (mut t, mut depth) = (k, 0);
        while let Some(bo) = pi_of(t).and_then(|p| p.blocked_on.as_ref()) {
            let Some(i) = lock_of(bo.lock.get()) else {
                break;
            };
            let Some(o) = bases[i].owner_task() else {
                break;
            };
            depth += 1;
            if o == k || depth > pis.len() || depth > MAX_LOCK_DEPTH {
                return Err(format!(
                    "task {k}: its blocking chain loops back (a deadlock nobody detected)"
                ));
            }
            t = o;
        }
    }
    Ok(())
}

// ---- the public lock ------------------------------------------------------------------

/// The raw `rt_mutex`: a priority-inheriting sleeping lock (see [`crate::rt`]).
/// [`RtMutex`] is `lock_api::Mutex<RawRtMutex, T>`.
pub struct RawRtMutex {
    base: Base,
}

impl std::fmt::Debug for RawRtMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRtMutex")
            .field("owner", &self.owner())
            .finish_non_exhaustive()
    }
}

impl Default for RawRtMutex {
    fn default() -> Self {
        Self::new()
    }
}

/// A priority-inheriting mutex holding a `T`, with lock_api's guards.
pub type RtMutex<T> = lock_api::Mutex<RawRtMutex, T>;
/// The guard of an [`RtMutex`].
pub type RtMutexGuard<'a, T> = lock_api::MutexGuard<'a, RawRtMutex, T>;

impl RawRtMutex {
    /// An unlocked mutex (`rt_mutex_init`).
    pub const fn new() -> Self {
        RawRtMutex {
            base: Base::new(false),
        }
    }

    /// `rt_mutex_lock` with full deadlock detection (the futex path): `Err(Deadlock)` if the
    /// caller owns the lock or its wait would close a cycle; nothing stays enqueued then.
    pub fn lock_checked(&self) -> Result<(), RtError> {
        if self.base.fast_lock(task::current()) {
            return Ok(());
        }
        self.base.slowlock(Sleep::Uninterruptible, ChainWalk::Full)
    }

    /// The wait of `rt_mutex_lock` (or, with `sig`, `rt_mutex_lock_interruptible`), with the
    /// minimal chain walk, returning a deadlock the walk ran into as `Err(Deadlock)` (with
    /// nothing left enqueued) where [`lock_api::RawMutex::lock`] and
    /// [`RawRtMutex::lock_interruptible`] panic: what the kernel's `rt_mutex_handle_deadlock`
    /// receives. For checkers: a task outside a cycle that another task is closing (and will
    /// be told about) can walk into it too, and the kernel WARNs then as well.
    pub fn lock_returning(&self, sig: Option<&Signal>) -> Result<(), RtError> {
        if self.base.fast_lock(task::current()) {
            return Ok(());
        }
        let sleep = match sig {
            Some(s) => Sleep::Interruptible(s),
            None => Sleep::Uninterruptible,
        };
        self.base.slowlock(sleep, ChainWalk::MinReturning)
    }

    /// `rt_mutex_lock_interruptible`: `Err(Interrupted)` if `sig` is raised while waiting.
    /// A deadlock panics, as [`lock_api::RawMutex::lock`] does.
    pub fn lock_interruptible(&self, sig: &Signal) -> Result<(), RtError> {
        if self.base.fast_lock(task::current()) {
            return Ok(());
        }
        self.base
            .slowlock(Sleep::Interruptible(sig), ChainWalk::Min)
    }

    /// The owner's task key.
    pub fn owner(&self) -> Option<usize> {
        self.base.owner_task()
    }

    /// The waiters' task keys in the lock's wait order, top waiter first.
    pub fn waiters(&self) -> Vec<usize> {
        self.base.waiter_tasks()
    }

    /// [`RawRtMutex::waiters`] without waiting: `None` while another task holds the lock's
    /// `wait_lock` (for monitors that run at any scheduling point).
    pub fn try_waiters(&self) -> Option<Vec<usize>> {
        let Some(slow) = self.base.slow.get() else {
            return Some(Vec::new());
        };
        let wl = slow.try_lock()?;
        Some(wl.tree.values().map(|w| w.task).collect())
    }

    /// The invariants that hold whenever no task is inside this lock's slow path: the
    /// `HAS_WAITERS` bit is set exactly when there are waiters; every waiter is alive and is
    /// its task's `pi_blocked_on`; with an owner, the top waiter is in the owner's
    /// `pi_waiters` and the owner runs at least at its top donor's priority.
    pub fn validate(&self) -> Result<(), String> {
        let word = self.base.word().load(Ordering::Relaxed);
        let owner = dec(word);
        let Some(slow) = self.base.slow.get() else {
            return if word & HAS_WAITERS != 0 {
                Err("HAS_WAITERS set on a lock that never had a waiter".into())
            } else {
                Ok(())
            };
        };
        let wl = slow.lock();
        if (word & HAS_WAITERS != 0) != wl.has_waiters() {
            return Err(format!(
                "HAS_WAITERS is {} with {} waiters",
                word & HAS_WAITERS,
                wl.tree.len()
            ));
        }
        for w in wl.tree.values() {
            if !w.alive.get() {
                return Err(format!("a dead waiter of task {} is linked", w.task));
            }
            let ts = task_rt(w.task);
            let pi = ts.pi.lock();
            if !pi.blocked_on.as_ref().is_some_and(|b| Arc::ptr_eq(b, w)) {
                return Err(format!(
                    "waiter of task {} is queued but not its pi_blocked_on",
                    w.task
                ));
            }
        }
        if let (Some(o), Some(top)) = (owner, wl.tree.values().next()) {
            let os = task_rt(o);
            let opi = os.pi.lock();
            if !opi.waiters.values().any(|w| Arc::ptr_eq(w, top)) {
                return Err(format!(
                    "the top waiter (task {}) is not in the owner's (task {o}) pi_waiters",
                    top.task
                ));
            }
            let eff = task::effective_of(o);
            let donor = task::effective_of(top.task);
            if eff > donor.min(task::prio_of(o).base) {
                return Err(format!(
                    "owner task {o} runs at {eff}, its top waiter (task {}) at {donor}",
                    top.task
                ));
            }
        }
        Ok(())
    }

    /// `rt_mutex_init_proxy_locked`: the free lock becomes owned by task `owner` (a futex
    /// PI lock taken on another task's behalf).
    ///
    /// # Panics
    /// If the lock is not free.
    pub fn init_proxy_locked(&self, owner: usize) {
        assert!(
            self.base.fast_lock(owner),
            "init_proxy_locked on a lock that is not free"
        );
    }

    /// `rt_mutex_proxy_unlock`: the proxy-locked lock, with no waiters, becomes free.
    pub fn proxy_unlock(&self) {
        self.base.word().store(0, Ordering::Release);
    }

    /// `rt_mutex_start_proxy_lock`: starts `waiter`'s task's wait on this lock on its
    /// behalf (futex requeue-PI), with full deadlock detection. `Ok(true)`: the task owns
    /// the lock now; `Ok(false)`: it waits (it calls [`RawRtMutex::wait_proxy_lock`]);
    /// `Err(Deadlock)`: nothing stays enqueued.
    pub fn start_proxy_lock(&self, waiter: &ProxyWaiter) -> Result<bool, RtError> {
        let _busy = Busy::enter();
        let w = &waiter.0;
        let mut wl = self.base.wait_lock();
        if self.base.try_to_take(&mut wl, w.task, None) {
            return Ok(true);
        }
        let mut ret = self.base.task_blocks(&mut wl, w, w.task, ChainWalk::Full);
        // The owner may have released the lock during the walk: the waiter will take it.
        if ret.is_err() && self.base.owner_task().is_none() {
            ret = Ok(());
        }
        if ret.is_err() {
            self.base.remove_waiter(&mut wl, w);
        }
        ret.map(|()| false)
    }

    /// `rt_mutex_wait_proxy_lock`: the waiting task (the one that made `waiter`) sleeps until
    /// it owns the lock, or `sig` is raised.
    ///
    /// # Panics
    /// If called by another task than `waiter`'s.
    pub fn wait_proxy_lock(
        &self,
        waiter: &ProxyWaiter,
        sig: Option<&Signal>,
    ) -> Result<(), RtError> {
        let w = &waiter.0;
        assert_eq!(w.task, task::current(), "wait_proxy_lock by another task");
        let ts = task_rt(w.task);
        let sleep = match sig {
            Some(s) => {
                s.attach();
                Sleep::Interruptible(s)
            }
            None => Sleep::Uninterruptible,
        };
        let mut wl = self.base.wait_lock();
        let ret = self.base.block(&mut wl, w, sleep, &ts);
        self.base.fixup_waiters(&wl, true);
        drop(wl);
        if let Some(s) = sig {
            s.detach();
        }
        ret
    }

    /// `rt_mutex_cleanup_proxy_lock`: after a failed [`RawRtMutex::wait_proxy_lock`], takes
    /// the waiter off the lock unless the task got the lock meanwhile. Returns true if it was
    /// taken off (the task does not own the lock).
    pub fn cleanup_proxy_lock(&self, waiter: &ProxyWaiter) -> bool {
        let _busy = Busy::enter();
        let w = &waiter.0;
        let mut wl = self.base.wait_lock();
        self.base.try_to_take(&mut wl, w.task, Some(w));
        let cleanup = self.base.owner_task() != Some(w.task);
        if cleanup {
            self.base.remove_waiter(&mut wl, w);
        }
        self.base.fixup_waiters(&wl, false);
        cleanup
    }
}

// SAFETY: `lock` returns with the lock owned by the calling task and nobody else can own it
// until `unlock`; the owner word's acquire/release operations order the critical sections.
unsafe impl lock_api::RawMutex for RawRtMutex {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRtMutex::new();
    type GuardMarker = lock_api::GuardNoSend;

    /// `rt_mutex_lock`. Panics with `rtmutex deadlock detected` on a deadlock.
    #[inline]
    fn lock(&self) {
        if self.base.fast_lock(task::current()) {
            return;
        }
        let _ = self.base.slowlock(Sleep::Uninterruptible, ChainWalk::Min);
    }

    /// `rt_mutex_trylock`.
    #[inline]
    fn try_lock(&self) -> bool {
        let me = task::current();
        self.base.fast_lock(me) || self.base.slowtrylock(me)
    }

    /// `rt_mutex_unlock`.
    #[inline]
    unsafe fn unlock(&self) {
        self.base.unlock(task::current());
    }

    fn is_locked(&self) -> bool {
        self.base.owner_task().is_some()
    }
}

/// PREEMPT_RT's `spinlock_t` (kernel/locking/spinlock_rt.c): the rtmutex in its spinlock
/// build, a sleeping lock with priority inheritance whose waiters cannot be interrupted and
/// where a non-RT task may steal the lock from a top waiter of equal priority (a lateral
/// steal) as well as from a worse one. That steal is what keeps two normal tasks hammering
/// one lock from handing it over, with a wake-up, at every release: [`RawRtMutex`] hands
/// over, this lock does not. Not modelled: the `migrate_disable()` and `rcu_read_lock()`
/// that `rt_spin_lock` adds around the critical section. [`RtSpinLock`] is
/// `lock_api::Mutex<RawRtSpinLock, T>`.
pub struct RawRtSpinLock(RawRtMutex);

impl std::fmt::Debug for RawRtSpinLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRtSpinLock")
            .field("owner", &self.owner())
            .finish_non_exhaustive()
    }
}

impl Default for RawRtSpinLock {
    fn default() -> Self {
        Self::new()
    }
}

/// PREEMPT_RT's `spinlock_t` holding a `T`, with lock_api's guards.
pub type RtSpinLock<T> = lock_api::Mutex<RawRtSpinLock, T>;
/// The guard of an [`RtSpinLock`].
pub type RtSpinLockGuard<'a, T> = lock_api::MutexGuard<'a, RawRtSpinLock, T>;

impl RawRtSpinLock {
    /// An unlocked lock (`spin_lock_init` on PREEMPT_RT): the rtmutex built with lateral
    /// steals.
    pub const fn new() -> Self {
        RawRtSpinLock(RawRtMutex {
            base: Base::new(true),
        })
    }

    /// The owner's task key.
    pub fn owner(&self) -> Option<usize> {
        self.0.owner()
    }

    /// The waiters' task keys in the lock's wait order, top waiter first.
    pub fn waiters(&self) -> Vec<usize> {
        self.0.waiters()
    }
}

// SAFETY: `RawRtMutex`'s implementation, on a lock that only differs in who may steal it.
unsafe impl lock_api::RawMutex for RawRtSpinLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRtSpinLock::new();
    type GuardMarker = lock_api::GuardNoSend;

    /// `rt_spin_lock` (`rtlock_slowlock`: uninterruptible, minimal chain walk). Panics with
    /// `rtmutex deadlock detected` on a deadlock.
    #[inline]
    fn lock(&self) {
        self.0.lock();
    }

    /// `rt_spin_trylock`.
    #[inline]
    fn try_lock(&self) -> bool {
        self.0.try_lock()
    }

    /// `rt_spin_unlock`.
    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: the caller's guarantee, passed on.
        unsafe { self.0.unlock() };
    }

    fn is_locked(&self) -> bool {
        self.0.is_locked()
    }
}

/// A waiter prepared by the task that will wait (`struct rt_mutex_waiter` of a futex_q),
/// for the proxy API. Dropping it ends its life: if it is still linked then, a later use is
/// reported as a use-after-free in checking builds.
pub struct ProxyWaiter(WaiterRef);

impl std::fmt::Debug for ProxyWaiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyWaiter")
            .field("task", &self.0.task)
            .finish_non_exhaustive()
    }
}

impl ProxyWaiter {
    /// A waiter for the current task.
    pub fn new() -> Self {
        ProxyWaiter(Waiter::new(task::current(), thread::current()))
    }

    /// The task that waits with it.
    pub fn task(&self) -> usize {
        self.0.task
    }
}

impl Default for ProxyWaiter {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ProxyWaiter {
    fn drop(&mut self) {
        self.0.die();
    }
}
