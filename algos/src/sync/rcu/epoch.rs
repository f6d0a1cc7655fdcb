//! The production RCU backend: crossbeam-epoch. A read section is a pinned epoch; a grace
//! period has elapsed once a function deferred after the update has run, which
//! crossbeam-epoch runs only after every participant pinned at that time has unpinned.

use crate::sync::atomic::Ordering;

/// What a read section holds: the pinned epoch.
pub(super) type Section = crossbeam_epoch::Guard;

/// Enters a read section.
#[inline]
pub(super) fn section() -> Section {
    crossbeam_epoch::pin()
}

/// True inside a read section.
pub(super) fn in_section() -> bool {
    crossbeam_epoch::is_pinned()
}

/// Waits until a function deferred now has run: every section pinned before has ended.
pub(super) fn synchronize() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    crossbeam_epoch::pin().defer(move || flag.store(true, Ordering::Release));
    while !done.load(Ordering::Acquire) {
        crossbeam_epoch::pin().flush();
        std::thread::yield_now();
    }
}

/// Runs `f` after a grace period, on whichever thread next collects garbage.
pub(super) fn call_rcu(f: Box<dyn FnOnce() + Send>) {
    crossbeam_epoch::pin().defer(f);
}

/// crossbeam-epoch runs deferred functions in order per thread bag, and offers no grace
/// period with a flush from every thread; waiting for our own marker, queued after this
/// thread's earlier callbacks, is what it can do.
pub(super) fn barrier() {
    synchronize();
}

/// Helps crossbeam-epoch collect; reports no model step.
pub(super) fn poll() -> bool {
    crossbeam_epoch::pin().flush();
    false
}

/// No model counters in production.
pub(super) fn stats() -> super::Stats {
    super::Stats::default()
}
