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

pub mod cpu;
pub mod fault;
pub mod rcu;
pub mod task;

/// True when this build runs on a model backend (loom or shuttle), where RCU is the explicit
/// model and every hook is live.
pub const MODEL: bool = cfg!(any(mmcheck_loom, feature = "shuttle"));

/// True when the checking hooks ([`cpu::interrupt_point`], [`fault::should_fail`]) are live.
pub const HOOKS: bool = cfg!(any(mmcheck_loom, feature = "hooks"));

/// The name of the backend this build uses: `"std"`, `"loom"` or `"shuttle"`.
pub const BACKEND: &str = if cfg!(mmcheck_loom) {
    "loom"
} else if cfg!(feature = "shuttle") {
    "shuttle"
} else {
    "std"
};

#[cfg(not(any(mmcheck_loom, feature = "shuttle")))]
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

#[cfg(all(feature = "shuttle", not(mmcheck_loom)))]
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
}

/// The backend's reference-counted pointer (loom's tracks leaks; the others are `std`'s).
pub use imp::Arc;

/// Threads of the active backend.
pub mod thread {
    pub use super::imp::thread::{spawn, yield_now, JoinHandle};
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
#[cfg(not(any(mmcheck_loom, feature = "shuttle")))]
pub use std::thread_local as backend_thread_local;

/// Declares a thread-local of the active backend (loom's).
#[cfg(mmcheck_loom)]
pub use loom::thread_local as backend_thread_local;

/// Declares a thread-local of the active backend (shuttle's).
#[cfg(all(feature = "shuttle", not(mmcheck_loom)))]
pub use shuttle::thread_local as backend_thread_local;

/// A mutual-exclusion lock that does not poison, over the backend's mutex.
#[derive(Debug, Default)]
pub struct Mutex<T: ?Sized>(imp::RawMutex<T>);

/// The guard of a [`Mutex`].
pub type MutexGuard<'a, T> = imp::RawMutexGuard<'a, T>;

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub fn new(value: T) -> Self {
        Mutex(imp::RawMutex::new(value))
    }

    /// Consumes the mutex and returns its value.
    pub fn into_inner(self) -> T {
        #[cfg(not(any(mmcheck_loom, feature = "shuttle")))]
        {
            self.0.into_inner()
        }
        #[cfg(any(mmcheck_loom, feature = "shuttle"))]
        {
            self.0.into_inner().unwrap_or_else(|e| e.into_inner())
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the lock, blocking (or yielding to the model scheduler) until it is free.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(any(mmcheck_loom, feature = "shuttle")))]
        {
            self.0.lock()
        }
        #[cfg(any(mmcheck_loom, feature = "shuttle"))]
        {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// Acquires the lock if it is free.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        #[cfg(not(any(mmcheck_loom, feature = "shuttle")))]
        {
            self.0.try_lock()
        }
        #[cfg(any(mmcheck_loom, feature = "shuttle"))]
        {
            self.0.try_lock().ok()
        }
    }
}

/// A reader-writer lock that does not poison, over the backend's rwlock.
#[derive(Debug, Default)]
pub struct RwLock<T>(imp::RawRwLock<T>);

/// Shared guard of a [`RwLock`].
pub type RwLockReadGuard<'a, T> = imp::RawReadGuard<'a, T>;
/// Exclusive guard of a [`RwLock`].
pub type RwLockWriteGuard<'a, T> = imp::RawWriteGuard<'a, T>;

impl<T> RwLock<T> {
    /// A new unlocked rwlock holding `value`.
    pub fn new(value: T) -> Self {
        RwLock(imp::RawRwLock::new(value))
    }
}

impl<T> RwLock<T> {
    /// Acquires shared access.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        #[cfg(not(any(mmcheck_loom, feature = "shuttle")))]
        {
            self.0.read()
        }
        #[cfg(any(mmcheck_loom, feature = "shuttle"))]
        {
            self.0.read().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// Acquires exclusive access.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        #[cfg(not(any(mmcheck_loom, feature = "shuttle")))]
        {
            self.0.write()
        }
        #[cfg(any(mmcheck_loom, feature = "shuttle"))]
        {
            self.0.write().unwrap_or_else(|e| e.into_inner())
        }
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
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        #[cfg(not(any(mmcheck_loom, feature = "shuttle")))]
        {
            let mut guard = guard;
            self.0.wait(&mut guard);
            guard
        }
        #[cfg(any(mmcheck_loom, feature = "shuttle"))]
        {
            self.0.wait(guard).unwrap_or_else(|e| e.into_inner())
        }
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

/// A stable small integer naming the current thread for the lifetime of the process (std)
/// or of the model execution (loom, shuttle). Used as a key by [`rcu`] and [`task`].
pub fn thread_key() -> usize {
    #[cfg(all(feature = "shuttle", not(mmcheck_loom)))]
    {
        usize::from(shuttle::current::me())
    }
    #[cfg(not(all(feature = "shuttle", not(mmcheck_loom))))]
    {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(1);
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
