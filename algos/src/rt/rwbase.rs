//! `rwbase_rt`: the reader-writer lock of PREEMPT_RT, under its `rw_semaphore`
//! ([`RawRtRwLock`]) and `rwlock_t` ([`RawRtRwlockT`]) front ends. See the module header of
//! [`crate::rt`] for the kernel mapping.

use super::mutex::{sealed, Base, ChainWalk, PiBase, PiLock, Sleep};
use super::{task_rt, RtError, Signal};
use crate::sync::atomic::{AtomicI32, ConstAtomicI32, Ordering};
use crate::sync::lock_api;
use crate::sync::task;
use crate::sync::MutexGuard;

/// `READER_BIAS` (bit 31): set while readers may use the fast path.
const READER_BIAS: i32 = i32::MIN;
/// `WRITER_BIAS` (bit 30): the value while a writer holds the lock.
const WRITER_BIAS: i32 = 1 << 30;

/// `struct rwbase_rt`: the reader count and the rtmutex writers (and slow readers) take.
struct Rwbase {
    readers: ConstAtomicI32,
    rtmutex: Base,
    /// The reader slow path before v6.4: admit a reader whenever no writer is *active*,
    /// even while one waits for the readers to drain (writer starvation; see
    /// [`RawRtRwLock::new_pre_v6_4`]).
    pre_v6_4: bool,
}

impl Rwbase {
    const fn new(spin: bool) -> Self {
        Rwbase {
            readers: ConstAtomicI32::new(READER_BIAS),
            rtmutex: Base::new(spin),
            pre_v6_4: false,
        }
    }

    #[inline(always)]
    fn readers(&self) -> &AtomicI32 {
        self.readers.get()
    }

    /// `rwbase_read_trylock`: one more reader while the bias is set (the count negative).
    #[inline]
    fn read_trylock(&self) -> bool {
        let mut r = self.readers().load(Ordering::Relaxed);
        while r < 0 {
            match self.readers().compare_exchange_weak(
                r,
                r + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(x) => r = x,
            }
        }
        false
    }

    /// `rwbase_read_lock`.
    #[inline]
    fn read_lock(&self, sleep: Sleep<'_>) -> Result<(), RtError> {
        if self.read_trylock() {
            return Ok(());
        }
        self.read_lock_slow(sleep)
    }

    /// `__rwbase_read_lock` as since v6.4 (286deb7ec03d): a reader that finds the bias gone
    /// blocks on the rtmutex a pending or active writer holds (boosting it), then counts
    /// itself in and lets the rtmutex go at once.
    fn read_lock_slow(&self, sleep: Sleep<'_>) -> Result<(), RtError> {
        let mut wl = self.rtmutex.wait_lock();
        // Before v6.4: a reader gets in as long as the writer is not fully in.
        if self.pre_v6_4 && self.readers().load(Ordering::Relaxed) != WRITER_BIAS {
            self.readers().fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let ret = self.rtmutex.slowlock_locked(&mut wl, sleep, ChainWalk::Min);
        if ret.is_ok() {
            // The rtmutex is ours: no writer is active.
            self.readers().fetch_add(1, Ordering::Relaxed);
        }
        drop(wl);
        if ret.is_ok() {
            self.rtmutex.unlock(task::current());
        }
        ret
    }

    /// `rwbase_read_unlock`: the last reader out while a writer waits wakes the writer.
    #[inline]
    fn read_unlock(&self) {
        if self.readers().fetch_sub(1, Ordering::AcqRel) == 1 {
            self.read_unlock_slow();
        }
    }

    /// `__rwbase_read_unlock`: wake the rtmutex owner, the writer waiting for readers.
    fn read_unlock_slow(&self) {
        let wl = self.rtmutex.wait_lock();
        let owner = self.rtmutex.owner_task();
        drop(wl);
        if let Some(owner) = owner {
            if let Some(t) = task_rt(owner).thread.with(|t| t.clone()) {
                super::wake(owner, &t);
            }
        }
    }

    /// `__rwbase_write_trylock` (under wait_lock): no reader left, so the writer is in.
    fn write_trylock_locked(&self) -> bool {
        if self.readers().load(Ordering::Acquire) == 0 {
            self.readers().store(WRITER_BIAS, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// `__rwbase_write_unlock`: restores the bias less `bias` (release), drops wait_lock,
    /// then the rtmutex.
    fn write_unlock_locked<T>(&self, wl: MutexGuard<'_, T>, bias: i32) {
        self.readers()
            .fetch_add(READER_BIAS.wrapping_sub(bias), Ordering::Release);
        drop(wl);
        self.rtmutex.unlock(task::current());
    }

    /// `rwbase_write_lock`.
    fn write_lock(&self, sleep: Sleep<'_>) -> Result<(), RtError> {
        let me = task::current();
        if !self.rtmutex.fast_lock(me) {
            self.rtmutex.slowlock(sleep, ChainWalk::Min)?;
        }
        // Force readers into the slow path.
        self.readers().fetch_sub(READER_BIAS, Ordering::Relaxed);
        let ts = task_rt(me);
        ts.thread
            .with(|t| *t = Some(crate::sync::thread::current()));
        let mut wl = self.rtmutex.wait_lock();
        if self.write_trylock_locked() {
            return Ok(());
        }
        if let Sleep::Interruptible(sig) = sleep {
            sig.attach();
        }
        let ret = loop {
            if sleep.interrupted() {
                break Err(RtError::Interrupted);
            }
            if self.write_trylock_locked() {
                break Ok(());
            }
            // Readers usually leave soon: spin a while before sleeping (std only).
            MutexGuard::unlocked(&mut wl, || {
                if !self.spin_for_readers() {
                    super::schedule(&ts);
                }
            });
        };
        if let Sleep::Interruptible(sig) = sleep {
            sig.detach();
        }
        if ret.is_err() {
            self.write_unlock_locked(wl, 0);
        }
        ret
    }

    /// A writer that removed the bias waits a little for the readers to leave before it
    /// sleeps; true if they did. Under the models, no spin.
    fn spin_for_readers(&self) -> bool {
        #[cfg(not(mmcheck_model))]
        for _ in 0..4_000 {
            if self.readers().load(Ordering::Relaxed) == 0 {
                return true;
            }
            crate::sync::hint::spin_loop();
        }
        false
    }

    /// `rwbase_write_trylock`: never waits for readers.
    fn write_trylock(&self) -> bool {
        let me = task::current();
        if !(self.rtmutex.fast_lock(me) || self.rtmutex.slowtrylock(me)) {
            return false;
        }
        self.readers().fetch_sub(READER_BIAS, Ordering::Relaxed);
        let wl = self.rtmutex.wait_lock();
        if self.write_trylock_locked() {
            return true;
        }
        self.write_unlock_locked(wl, 0);
        false
    }

    /// `rwbase_write_unlock`.
    fn write_unlock(&self) {
        let wl = self.rtmutex.wait_lock();
        self.write_unlock_locked(wl, WRITER_BIAS);
    }

    /// `rwbase_write_downgrade`: the writer becomes one reader.
    fn downgrade(&self) {
        let wl = self.rtmutex.wait_lock();
        self.write_unlock_locked(wl, WRITER_BIAS - 1);
    }

    /// The rtmutex inside (for [`super::check_pi_state`]).
    fn base(&self) -> &Base {
        &self.rtmutex
    }

    /// `rw_base_is_locked`.
    fn is_locked(&self) -> bool {
        self.readers().load(Ordering::Relaxed) != READER_BIAS
    }
}

/// The `rw_semaphore` of PREEMPT_RT (`rwbase_rt` over a sleeping rtmutex): readers share,
/// writers exclude and wait for active readers, slow readers boost a pending writer.
/// [`RtRwLock`] is `lock_api::RwLock<RawRtRwLock, T>`.
pub struct RawRtRwLock(Rwbase);

impl std::fmt::Debug for RawRtRwLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRtRwLock")
            .field("readers", &self.0.readers().load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for RawRtRwLock {
    fn default() -> Self {
        Self::new()
    }
}

/// A PREEMPT_RT reader-writer semaphore holding a `T`, with lock_api's guards.
pub type RtRwLock<T> = lock_api::RwLock<RawRtRwLock, T>;
/// The read guard of an [`RtRwLock`].
pub type RtRwLockReadGuard<'a, T> = lock_api::RwLockReadGuard<'a, RawRtRwLock, T>;
/// The write guard of an [`RtRwLock`].
pub type RtRwLockWriteGuard<'a, T> = lock_api::RwLockWriteGuard<'a, RawRtRwLock, T>;

impl RawRtRwLock {
    /// An unlocked semaphore (`init_rwsem`).
    pub const fn new() -> Self {
        RawRtRwLock(Rwbase::new(false))
    }

    /// An unlocked semaphore whose reader slow path is the one before v6.4 (286deb7ec03d):
    /// a reader that finds the bias gone is admitted at once unless a writer is *active*
    /// (`readers != WRITER_BIAS`), so a writer waiting for readers to drain can be starved
    /// by new ones. Kept to show that starvation and for the planted bug in that test; the
    /// default is the current rule ([`RawRtRwLock::new`]).
    pub const fn new_pre_v6_4() -> Self {
        let mut b = Rwbase::new(false);
        b.pre_v6_4 = true;
        RawRtRwLock(b)
    }

    /// `down_read`.
    pub fn down_read(&self) {
        let _ = self.0.read_lock(Sleep::Uninterruptible);
    }

    /// `down_read_interruptible`: `Err(Interrupted)` if `sig` is raised while waiting.
    pub fn down_read_interruptible(&self, sig: &Signal) -> Result<(), RtError> {
        self.0.read_lock(Sleep::Interruptible(sig))
    }

    /// `down_read_trylock`: fails whenever a writer has removed the reader bias.
    pub fn down_read_trylock(&self) -> bool {
        self.0.read_trylock()
    }

    /// `up_read`.
    ///
    /// # Safety
    /// The caller holds a read lock.
    pub unsafe fn up_read(&self) {
        self.0.read_unlock();
    }

    /// `down_write`.
    pub fn down_write(&self) {
        let _ = self.0.write_lock(Sleep::Uninterruptible);
    }

    /// `down_write_killable`: `Err(Interrupted)` if `sig` is raised while waiting (for the
    /// rtmutex or for the readers); the lock is then untouched.
    pub fn down_write_killable(&self, sig: &Signal) -> Result<(), RtError> {
        self.0.write_lock(Sleep::Interruptible(sig))
    }

    /// `down_write_trylock`.
    pub fn down_write_trylock(&self) -> bool {
        self.0.write_trylock()
    }

    /// `up_write`.
    ///
    /// # Safety
    /// The calling task holds the write lock.
    pub unsafe fn up_write(&self) {
        self.0.write_unlock();
    }

    /// `downgrade_write`: the writer keeps the lock as a reader.
    ///
    /// # Safety
    /// The calling task holds the write lock.
    pub unsafe fn downgrade_write(&self) {
        self.0.downgrade();
    }

    /// The raw reader count (`READER_BIAS + n` with no writer, `n` while a writer waits for
    /// `n` readers, `WRITER_BIAS` while write-locked).
    pub fn readers(&self) -> i32 {
        self.0.readers().load(Ordering::Relaxed)
    }

    /// The task owning the inner rtmutex (a writer, pending or active, or a slow reader
    /// passing through).
    pub fn rtmutex_owner(&self) -> Option<usize> {
        self.0.rtmutex.owner_task()
    }
}

// SAFETY: readers share and writers exclude as `rwbase_rt` guarantees; the acquire and
// release operations on `readers` and the rtmutex order the critical sections.
unsafe impl lock_api::RawRwLock for RawRtRwLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRtRwLock::new();
    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    fn lock_shared(&self) {
        self.down_read();
    }

    #[inline]
    fn try_lock_shared(&self) -> bool {
        self.down_read_trylock()
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        // SAFETY: lock_api's contract.
        unsafe { self.up_read() }
    }

    #[inline]
    fn lock_exclusive(&self) {
        self.down_write();
    }

    #[inline]
    fn try_lock_exclusive(&self) -> bool {
        self.down_write_trylock()
    }

    #[inline]
    unsafe fn unlock_exclusive(&self) {
        // SAFETY: lock_api's contract.
        unsafe { self.up_write() }
    }

    fn is_locked(&self) -> bool {
        self.0.is_locked()
    }

    fn is_locked_exclusive(&self) -> bool {
        self.0.readers().load(Ordering::Relaxed) == WRITER_BIAS
    }
}

// SAFETY: `downgrade_write` turns the write lock into one read lock atomically.
unsafe impl lock_api::RawRwLockDowngrade for RawRtRwLock {
    unsafe fn downgrade(&self) {
        // SAFETY: lock_api's contract.
        unsafe { self.downgrade_write() }
    }
}

/// The `rwlock_t` of PREEMPT_RT: `rwbase_rt` over the spinlock build of the rtmutex
/// (sleeping, uninterruptible, lateral steals among non-RT equals, no downgrade).
/// [`RtRwlockT`] is `lock_api::RwLock<RawRtRwlockT, T>`.
pub struct RawRtRwlockT(Rwbase);

impl std::fmt::Debug for RawRtRwlockT {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRtRwlockT")
            .field("readers", &self.0.readers().load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for RawRtRwlockT {
    fn default() -> Self {
        Self::new()
    }
}

impl sealed::Sealed for RawRtRwLock {}

impl PiLock for RawRtRwLock {
    fn pi_base(&self) -> PiBase<'_> {
        PiBase::of(self.0.base())
    }
}

impl sealed::Sealed for RawRtRwlockT {}

impl PiLock for RawRtRwlockT {
    fn pi_base(&self) -> PiBase<'_> {
        PiBase::of(self.0.base())
    }
}

/// A PREEMPT_RT `rwlock_t` holding a `T`, with lock_api's guards.
pub type RtRwlockT<T> = lock_api::RwLock<RawRtRwlockT, T>;

impl RawRtRwlockT {
    /// An unlocked rwlock (`rwlock_init`).
    pub const fn new() -> Self {
        RawRtRwlockT(Rwbase::new(true))
    }

    /// The raw reader count (as [`RawRtRwLock::readers`]).
    pub fn readers(&self) -> i32 {
        self.0.readers().load(Ordering::Relaxed)
    }

    /// `rt_read_lock`.
    pub fn rt_read_lock(&self) {
        let _ = self.0.read_lock(Sleep::Uninterruptible);
    }

    /// `rt_read_trylock`.
    pub fn rt_read_trylock(&self) -> bool {
        self.0.read_trylock()
    }

    /// `rt_read_unlock`.
    ///
    /// # Safety
    /// The caller holds a read lock.
    pub unsafe fn rt_read_unlock(&self) {
        self.0.read_unlock();
    }

    /// `rt_write_lock`.
    pub fn rt_write_lock(&self) {
        let _ = self.0.write_lock(Sleep::Uninterruptible);
    }

    /// `rt_write_trylock`.
    pub fn rt_write_trylock(&self) -> bool {
        self.0.write_trylock()
    }

    /// `rt_write_unlock`.
    ///
    /// # Safety
    /// The calling task holds the write lock.
    pub unsafe fn rt_write_unlock(&self) {
        self.0.write_unlock();
    }
}

// SAFETY: as for `RawRtRwLock`.
unsafe impl lock_api::RawRwLock for RawRtRwlockT {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRtRwlockT::new();
    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    fn lock_shared(&self) {
        self.rt_read_lock();
    }

    #[inline]
    fn try_lock_shared(&self) -> bool {
        self.rt_read_trylock()
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        // SAFETY: lock_api's contract.
        unsafe { self.rt_read_unlock() }
    }

    #[inline]
    fn lock_exclusive(&self) {
        self.rt_write_lock();
    }

    #[inline]
    fn try_lock_exclusive(&self) -> bool {
        self.rt_write_trylock()
    }

    #[inline]
    unsafe fn unlock_exclusive(&self) {
        // SAFETY: lock_api's contract.
        unsafe { self.rt_write_unlock() }
    }

    fn is_locked(&self) -> bool {
        self.0.is_locked()
    }
}
