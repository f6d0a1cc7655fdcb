//! Bookkeeping that checkers read and schedulers must not see: counters and a lock built on
//! std's primitives on every backend. They add no scheduling points under shuttle and no
//! branches under loom, so adding a statistic never changes the interleavings a model
//! explores. Never use them to synchronise the algorithm itself.

use std::sync::atomic::{AtomicU64, Ordering};

/// A statistics counter (`Relaxed`; exact once the threads that count have been joined).
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// A counter at zero.
    pub const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }

    /// Adds `n`.
    #[inline(always)]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds `n` for a counter with a single writer at a time (a per-CPU counter changed
    /// only inside its CPU's sections): a plain load and store, no read-modify-write.
    #[inline(always)]
    pub fn add_local(&self, n: u64) {
        self.0
            .store(self.0.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    /// Subtracts `n`.
    #[inline(always)]
    pub fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Ordering::Relaxed);
    }

    /// The value.
    #[inline(always)]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Adds one and returns the value before: a sequence of distinct numbers (ticket order
    /// for bookkeeping, never for synchronisation).
    #[inline(always)]
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// A flag for checkers and reports (`Relaxed`, invisible to the model schedulers): state a
/// test or a monitor reads, never state the algorithm synchronises on.
#[derive(Debug, Default)]
pub struct Flag(std::sync::atomic::AtomicBool);

impl Flag {
    /// A cleared flag.
    pub const fn new() -> Self {
        Flag(std::sync::atomic::AtomicBool::new(false))
    }

    /// Sets or clears it.
    #[inline(always)]
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }

    /// Whether it is set.
    #[inline(always)]
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A lock for checking state (a debug registry of objects), invisible to the model
/// schedulers. Never held across a facade operation that can block.
#[derive(Debug, Default)]
pub struct CheckLock<T>(std::sync::Mutex<T>);

impl<T> CheckLock<T> {
    /// A lock holding `value`.
    pub const fn new(value: T) -> Self {
        CheckLock(std::sync::Mutex::new(value))
    }

    /// Runs `f` on the value under the lock.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }
}

/// A word for checkers and bookkeeping (`Relaxed`, invisible to the model schedulers).
#[derive(Debug, Default)]
pub struct Word(std::sync::atomic::AtomicUsize);

impl Word {
    /// A word holding `v`.
    pub const fn new(v: usize) -> Self {
        Word(std::sync::atomic::AtomicUsize::new(v))
    }

    /// Stores `v`.
    #[inline(always)]
    pub fn set(&self, v: usize) {
        self.0.store(v, Ordering::Relaxed);
    }

    /// The value.
    #[inline(always)]
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}
