//! The platform layer: the only door from algorithm code to threads, atomics, locks, RCU,
//! logical CPUs, interrupts, task priorities and allocation failure.
//!
//! This plays the role of the shims in the kernel's userspace test harness
//! (`tools/testing/radix-tree`: `rcu`, `percpu`, `preempt`, `slab`). One API, three backends:
//!
//! | backend | selected by | used for |
//! |---|---|---|
//! | std (+ parking_lot, crossbeam-epoch) | default | production, benchmarks, plain fuzzing |
//! | loom | `RUSTFLAGS="--cfg mmcheck_loom"` | exhaustive bounded model checking |
//! | shuttle | cargo feature `shuttle` | fuzzer-driven, random and PCT schedules |
//!
//! The loom and shuttle backends are the *model* backends: under them [`rcu`] is an explicit
//! model whose grace periods are steps of the execution and whose freed objects are
//! quarantined and checked, and the hooks of [`cpu`] and [`fault`] are live. The std backend
//! uses crossbeam-epoch for RCU; its hooks are live only with the `hooks` feature and compile
//! to nothing otherwise.
//!
//! Locks do not poison: a panic while a lock is held is a bug report, not a state to recover
//! from, so [`Mutex::lock`] returns the guard directly on every backend.

#![allow(clippy::disallowed_types, clippy::disallowed_methods)]
// Thread-locals go through the backend's macro, and loom's and shuttle's take no `const`.
#![allow(clippy::missing_const_for_thread_local)]

#[cfg(all(mmcheck_loom, feature = "shuttle"))]
compile_error!(
    "the loom (--cfg mmcheck_loom) and shuttle (feature `shuttle`) backends cannot be combined"
);

pub mod claim;
pub mod cpu;
pub mod fault;
pub mod irq_work;
pub mod percpu;
pub mod rcu;
pub mod slab;
pub mod stat;
pub mod task;

/// True when this build runs on a model backend (loom or shuttle), where RCU is the explicit
/// model and every hook is live.
pub const MODEL: bool = cfg!(mmcheck_model);

/// True when the checking hooks ([`cpu::interrupt_point`], [`fault::should_fail`]) are live.
pub const HOOKS: bool = cfg!(mmcheck_hooks);

/// The name of the backend this build uses: `"std"`, `"loom"` or `"shuttle"`.
pub const BACKEND: &str = if cfg!(mmcheck_loom) {
    "loom"
} else if cfg!(mmcheck_shuttle) {
    "shuttle"
} else {
    "std"
};

#[cfg(not(mmcheck_model))]
mod imp {
    pub use std::sync::atomic;
    pub use std::sync::Arc;
    pub use std::thread;
    pub type RawMutex<T> = parking_lot::Mutex<T>;
    pub type RawMutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
    pub type RawRwLock<T> = parking_lot::RwLock<T>;
    pub type RawReadGuard<'a, T> = parking_lot::RwLockReadGuard<'a, T>;
    pub type RawWriteGuard<'a, T> = parking_lot::RwLockWriteGuard<'a, T>;
    pub type RawCondvar = parking_lot::Condvar;
    pub fn spin_loop() {
        std::hint::spin_loop()
    }
}

#[cfg(mmcheck_loom)]
mod imp {
    pub use loom::sync::atomic;
    pub use loom::sync::Arc;
    pub use loom::thread;
    pub type RawMutex<T> = loom::sync::Mutex<T>;
    pub type RawMutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;
    pub type RawRwLock<T> = loom::sync::RwLock<T>;
    pub type RawReadGuard<'a, T> = loom::sync::RwLockReadGuard<'a, T>;
    pub type RawWriteGuard<'a, T> = loom::sync::RwLockWriteGuard<'a, T>;
    pub type RawCondvar = loom::sync::Condvar;
    pub fn spin_loop() {
        loom::hint::spin_loop()
    }
}

#[cfg(mmcheck_shuttle)]
mod imp {
    pub use shuttle::sync::atomic;
    pub use shuttle::thread;
    pub use std::sync::Arc;
    pub type RawMutex<T> = shuttle::sync::Mutex<T>;
    pub type RawMutexGuard<'a, T> = shuttle::sync::MutexGuard<'a, T>;
    pub type RawRwLock<T> = shuttle::sync::RwLock<T>;
    pub type RawReadGuard<'a, T> = shuttle::sync::RwLockReadGuard<'a, T>;
    pub type RawWriteGuard<'a, T> = shuttle::sync::RwLockWriteGuard<'a, T>;
    pub type RawCondvar = shuttle::sync::Condvar;
    pub fn spin_loop() {
        shuttle::hint::spin_loop()
    }
}

/// Atomics of the active backend. `Ordering` is always `std`'s, as loom and shuttle use it.
pub mod atomic {
    pub use super::imp::atomic::{
        fence, AtomicBool, AtomicI32, AtomicI64, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64,
        AtomicU8, AtomicUsize,
    };
    pub use std::sync::atomic::Ordering;

    macro_rules! const_atomic {
        ($(#[$doc:meta])* $name:ident, $atomic:ident, $int:ty) => {
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name {
                #[cfg(not(mmcheck_model))]
                a: std::sync::atomic::$atomic,
                #[cfg(mmcheck_model)]
                a: std::sync::OnceLock<$atomic>,
                #[cfg(mmcheck_model)]
                init: $int,
            }

            impl $name {
                /// An atomic holding `v`, in `const` context (a `static`, lock_api's `INIT`).
                pub const fn new(v: $int) -> Self {
                    $name {
                        #[cfg(not(mmcheck_model))]
                        a: std::sync::atomic::$atomic::new(v),
                        #[cfg(mmcheck_model)]
                        a: std::sync::OnceLock::new(),
                        #[cfg(mmcheck_model)]
                        init: v,
                    }
                }

                /// The atomic (made on first use under the models).
                #[inline(always)]
                pub fn get(&self) -> &$atomic {
                    #[cfg(not(mmcheck_model))]
                    {
                        &self.a
                    }
                    #[cfg(mmcheck_model)]
                    {
                        self.a.get_or_init(|| $atomic::new(self.init))
                    }
                }
            }
        };
    }

    const_atomic!(
        /// An [`AtomicUsize`] with a `const` constructor on every backend: std's own on std;
        /// under loom and shuttle, whose atomics cannot be built in `const` context, the
        /// model atomic is made on first use (within the model execution that uses it).
        ConstAtomicUsize,
        AtomicUsize,
        usize
    );
    const_atomic!(
        /// An [`AtomicI32`] with a `const` constructor on every backend (see
        /// [`ConstAtomicUsize`]).
        ConstAtomicI32,
        AtomicI32,
        i32
    );
}

/// The backend's reference-counted pointer (loom's tracks leaks; the others are `std`'s).
pub use imp::Arc;

/// Whether the current thread is unwinding from a panic (`std::thread::panicking`, the same
/// on every backend): checks that run in `Drop` stay quiet then.
pub fn panicking() -> bool {
    std::thread::panicking()
}

/// Reference counting that the model backends do not track (`std`'s `Arc` and `Weak` on
/// every backend): for state whose lifetime is not part of what a model explores, such as
/// an allocator's state held by its queued callbacks and irq_work until the last one has
/// run. loom's `Arc` has no `new_cyclic` or `Weak`, and only checks leaks.
pub mod shared {
    pub use std::sync::{Arc, OnceLock, Weak};
}

/// lock_api 0.4 (the version `parking_lot` re-exports): the traits a lock implements to get
/// Rust's guard API (`algos::rt`'s locks implement them).
pub use parking_lot::lock_api;

/// Threads of the active backend, with task sleep and wake-up: [`park`](thread::park) blocks
/// the current task without using CPU (on std a futex sleep; under loom and shuttle the task
/// is not runnable until unparked), and [`Thread::unpark`](thread::Thread::unpark) wakes it.
/// These are the `schedule()` / `wake_up_process()` the PREEMPT_RT locks need; like the
/// kernel's, a wake-up may be spurious and a waiter re-checks its condition in a loop.
pub mod thread {
    pub use super::imp::thread::{current, park, spawn, yield_now, JoinHandle, Thread};
}

/// Spin-loop hints of the active backend (a scheduling point under loom and shuttle).
pub mod hint {
    /// Tell the backend the current thread is busy-waiting.
    #[inline]
    pub fn spin_loop() {
        super::imp::spin_loop()
    }
}

/// Declares a thread-local of the active backend. Under loom and shuttle every model thread
/// runs on one OS thread, so per-thread state must use this macro, never `std::thread_local!`.
#[cfg(not(mmcheck_model))]
pub use std::thread_local as backend_thread_local;

/// Declares a thread-local of the active backend (loom's).
#[cfg(mmcheck_loom)]
pub use loom::thread_local as backend_thread_local;

/// Declares a thread-local of the active backend (shuttle's).
#[cfg(mmcheck_shuttle)]
pub use shuttle::thread_local as backend_thread_local;

/// Declares a lazily initialised static of the active backend: one per process on std, one
/// per model execution under loom and shuttle (whose `lazy_static!`s are reset between
/// executions), for state that holds model objects (a table of per-task locks).
/// `backend_lazy_static! { static ref NAME: Type = init; }`; use it through `*NAME`.
#[cfg(not(mmcheck_model))]
macro_rules! backend_lazy_static {
    ($(#[$attr:meta])* static ref $name:ident : $t:ty = $init:expr ;) => {
        $(#[$attr])*
        static $name: ::std::sync::LazyLock<$t> = ::std::sync::LazyLock::new(|| $init);
    };
}
/// Declares a lazily initialised static of the active backend (loom's, per execution).
#[cfg(mmcheck_loom)]
macro_rules! backend_lazy_static {
    ($(#[$attr:meta])* static ref $name:ident : $t:ty = $init:expr ;) => {
        ::loom::lazy_static! { $(#[$attr])* static ref $name: $t = $init; }
    };
}
/// Declares a lazily initialised static of the active backend (shuttle's, per execution).
#[cfg(mmcheck_shuttle)]
macro_rules! backend_lazy_static {
    ($(#[$attr:meta])* static ref $name:ident : $t:ty = $init:expr ;) => {
        ::shuttle::lazy_static! { $(#[$attr])* static ref $name: $t = $init; }
    };
}
pub(crate) use backend_lazy_static;

/// A mutual-exclusion lock that does not poison, over the backend's mutex.
#[derive(Debug, Default)]
pub struct Mutex<T: ?Sized>(imp::RawMutex<T>);

/// The guard of a [`Mutex`]: the facade's own type, with the same API on every backend (as
/// tokio newtypes parking_lot's guards), so code that compiles on std compiles on loom and
/// shuttle. [`MutexGuard::unlocked`] drops the lock for a while (lock_api's shape).
pub struct MutexGuard<'a, T: ?Sized> {
    lock: &'a Mutex<T>,
    /// `None` only inside [`MutexGuard::unlocked`], where the guard cannot be reached.
    raw: Option<imp::RawMutexGuard<'a, T>>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub fn new(value: T) -> Self {
        Mutex(imp::RawMutex::new(value))
    }

    /// Consumes the mutex and returns its value.
    pub fn into_inner(self) -> T {
        #[cfg(not(mmcheck_model))]
        {
            self.0.into_inner()
        }
        #[cfg(mmcheck_model)]
        {
            self.0.into_inner().unwrap_or_else(|e| e.into_inner())
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    fn raw_lock(&self) -> imp::RawMutexGuard<'_, T> {
        #[cfg(not(mmcheck_model))]
        {
            self.0.lock()
        }
        #[cfg(mmcheck_model)]
        {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// Acquires the lock, blocking (or yielding to the model scheduler) until it is free.
    ///
    /// The facade's locks are the kernel's spinlocks: under the model backends the holder
    /// has preemption disabled ([`task::preempt_disable`]), so a priority-aware scheduler
    /// never preempts a task that holds one while it can run (on one CPU a spinlock holder
    /// is never preempted, and nobody spins on a lock whose holder cannot run).
    pub fn lock(&self) -> MutexGuard<'_, T> {
        let raw = self.raw_lock();
        task::preempt_disable();
        MutexGuard {
            lock: self,
            raw: Some(raw),
        }
    }

    /// Acquires the lock if it is free.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        #[cfg(not(mmcheck_model))]
        let raw = self.0.try_lock();
        #[cfg(mmcheck_model)]
        let raw = self.0.try_lock().ok();
        raw.map(|r| {
            task::preempt_disable();
            MutexGuard {
                lock: self,
                raw: Some(r),
            }
        })
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            drop(raw);
            task::preempt_enable();
        }
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Releases the lock, runs `f`, and takes the lock again before returning `f`'s result
    /// (lock_api's `MutexGuard::unlocked`): "drop the lock, allocate, retake it", as the
    /// kernel's `mas_nomem` does. Whatever the guard protected may have changed meanwhile.
    pub fn unlocked<R>(this: &mut Self, f: impl FnOnce() -> R) -> R {
        drop(this.raw.take());
        task::preempt_enable();
        let r = f();
        this.raw = Some(this.lock.raw_lock());
        task::preempt_disable();
        r
    }

    /// The mutex this guard holds.
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.lock
    }
}

impl<T: ?Sized> std::ops::Deref for MutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        self.raw
            .as_deref()
            .expect("guard used inside its own `unlocked`")
    }
}

impl<T: ?Sized> std::ops::DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.raw
            .as_deref_mut()
            .expect("guard used inside its own `unlocked`")
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MutexGuard").field(&&**self).finish()
    }
}

/// A reader-writer lock that does not poison, over the backend's rwlock.
#[derive(Debug, Default)]
pub struct RwLock<T>(imp::RawRwLock<T>);

/// Shared guard of a [`RwLock`] (the facade's own type on every backend).
pub struct RwLockReadGuard<'a, T>(imp::RawReadGuard<'a, T>);
/// Exclusive guard of a [`RwLock`] (the facade's own type on every backend).
pub struct RwLockWriteGuard<'a, T>(imp::RawWriteGuard<'a, T>);

impl<T> RwLock<T> {
    /// A new unlocked rwlock holding `value`.
    pub fn new(value: T) -> Self {
        RwLock(imp::RawRwLock::new(value))
    }

    /// Acquires shared access.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        #[cfg(not(mmcheck_model))]
        {
            RwLockReadGuard(self.0.read())
        }
        #[cfg(mmcheck_model)]
        {
            RwLockReadGuard(self.0.read().unwrap_or_else(|e| e.into_inner()))
        }
    }

    /// Acquires exclusive access.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        #[cfg(not(mmcheck_model))]
        {
            RwLockWriteGuard(self.0.write())
        }
        #[cfg(mmcheck_model)]
        {
            RwLockWriteGuard(self.0.write().unwrap_or_else(|e| e.into_inner()))
        }
    }
}

impl<T> std::ops::Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for RwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// A condition variable paired with [`Mutex`], with `std`'s by-value guard API.
#[derive(Debug, Default)]
pub struct Condvar(imp::RawCondvar);

impl Condvar {
    /// A new condition variable.
    pub fn new() -> Self {
        Condvar(imp::RawCondvar::new())
    }

    /// Releases `guard`'s lock, waits for a notification, and re-acquires the lock.
    /// Spurious wake-ups are possible, as with every condition variable.
    pub fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let raw = guard.raw.take().expect("a held guard");
        #[cfg(not(mmcheck_model))]
        let raw = {
            let mut raw = raw;
            self.0.wait(&mut raw);
            raw
        };
        #[cfg(mmcheck_model)]
        let raw = self.0.wait(raw).unwrap_or_else(|e| e.into_inner());
        guard.raw = Some(raw);
        guard
    }

    /// Wakes one waiter.
    pub fn notify_one(&self) {
        self.0.notify_one();
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        self.0.notify_all();
    }
}

/// Interior mutability with loom's closure API, so loom can check every access.
pub mod cell {
    #[cfg(mmcheck_loom)]
    pub use loom::cell::UnsafeCell;

    /// An `UnsafeCell` with loom's `with`/`with_mut` API (std and shuttle backends).
    #[cfg(not(mmcheck_loom))]
    #[derive(Debug, Default)]
    pub struct UnsafeCell<T: ?Sized>(core::cell::UnsafeCell<T>);

    #[cfg(not(mmcheck_loom))]
    impl<T> UnsafeCell<T> {
        /// A new cell holding `value`.
        pub const fn new(value: T) -> Self {
            UnsafeCell(core::cell::UnsafeCell::new(value))
        }

        /// Consumes the cell and returns its value.
        pub fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    #[cfg(not(mmcheck_loom))]
    impl<T: ?Sized> UnsafeCell<T> {
        /// Runs `f` with a shared raw pointer to the value.
        #[inline(always)]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Runs `f` with a unique raw pointer to the value.
        #[inline(always)]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// A scheduling point for the model checkers where the code reads memory that another CPU
/// may free or reuse meanwhile (an RCU pointer's target, a lock-free list's `next` link).
/// Under shuttle and loom a thread switches only at the facade's operations, and such a read
/// goes to plain memory; this gives the schedulers a switch right before it (the load of a
/// fresh model atomic), so fuzz-byte, random, PCT and exhaustive schedules can open the
/// window. The std backend compiles it to nothing.
#[inline(always)]
pub(crate) fn switch_point() {
    // A fresh atomic each time: a model atomic keeps its state per execution, so one shared
    // `static` would be touched by the executions of several test threads at once.
    #[cfg(mmcheck_shuttle)]
    shuttle::sync::atomic::AtomicUsize::new(0).load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(mmcheck_loom)]
    loom::sync::atomic::AtomicUsize::new(0).load(std::sync::atomic::Ordering::Relaxed);
}

/// A stable small integer naming the current thread for the lifetime of the process (std)
/// or of the model execution (loom, shuttle). Used as a key by [`rcu`] and [`task`].
#[inline]
pub fn thread_key() -> usize {
    #[cfg(mmcheck_shuttle)]
    {
        usize::from(shuttle::current::me())
    }
    #[cfg(not(mmcheck_shuttle))]
    {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        #[cfg(not(mmcheck_model))]
        std::thread_local! {
            // `const`: no lazy-initialisation check on every lock fast path.
            static KEY: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
        }
        #[cfg(mmcheck_model)]
        backend_thread_local! {
            static KEY: std::cell::Cell<usize> = std::cell::Cell::new(0);
        }
        KEY.with(|k| {
            if k.get() == 0 {
                k.set(NEXT.fetch_add(1, Ordering::Relaxed));
            }
            k.get()
        })
    }
}

#[cfg(all(test, not(mmcheck_model)))]
mod tests {
    use super::*;

    #[test]
    fn unlocked_releases_the_lock_for_the_closure_only() {
        let m = Arc::new(Mutex::new(1));
        let mut g = m.lock();
        *g += 1;
        let m2 = m.clone();
        let seen = MutexGuard::unlocked(&mut g, move || {
            // Another thread can take the lock now.
            thread::spawn(move || {
                let mut h = m2.lock();
                *h *= 10;
                *h
            })
            .join()
            .expect("no panic")
        });
        assert_eq!(seen, 20);
        assert_eq!(*g, 20, "the guard holds the lock again and sees the change");
        assert!(m.try_lock().is_none(), "held again after unlocked");
        drop(g);
        assert!(m.try_lock().is_some());
    }

    #[test]
    fn park_sleeps_until_unparked() {
        use atomic::{AtomicBool, Ordering};
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let sleeper = thread::spawn(move || {
            while !f2.load(Ordering::Acquire) {
                thread::park();
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        flag.store(true, Ordering::Release);
        sleeper.thread().unpark();
        sleeper.join().expect("woken");
    }
}
