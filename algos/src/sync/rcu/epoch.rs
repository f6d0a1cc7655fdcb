//! The production RCU backend: crossbeam-epoch. A read section is a pinned epoch; a grace
//! period has elapsed once a function deferred after the update has run, which
//! crossbeam-epoch runs only after every participant pinned at that time has unpinned.
//!
//! Each flavour has its own collector: normal RCU uses crossbeam-epoch's default one, RCU
//! tasks-trace a second, process-wide collector with a handle per thread. Pinning one does
//! not hold off the other's grace periods.

use super::Flavor;
use crate::sync::atomic::Ordering;
use crossbeam_epoch::{Collector, LocalHandle};
use std::sync::OnceLock;

/// What a read section holds: the pinned epoch of its flavour's collector.
pub(super) type Section = crossbeam_epoch::Guard;

fn trace_collector() -> &'static Collector {
    static TRACE: OnceLock<Collector> = OnceLock::new();
    TRACE.get_or_init(Collector::new)
}

std::thread_local! {
    static TRACE_HANDLE: LocalHandle = trace_collector().register();
}

/// Pins the flavour's collector on this thread.
#[inline]
fn pin(fl: Flavor) -> Section {
    match fl {
        Flavor::Rcu => crossbeam_epoch::pin(),
        Flavor::TasksTrace => TRACE_HANDLE.with(|h| h.pin()),
    }
}

/// Enters a read section.
#[inline]
pub(super) fn section(fl: Flavor) -> Section {
    pin(fl)
}

/// True inside a read section.
pub(super) fn in_section(fl: Flavor) -> bool {
    match fl {
        Flavor::Rcu => crossbeam_epoch::is_pinned(),
        Flavor::TasksTrace => TRACE_HANDLE.with(|h| h.is_pinned()),
    }
}

/// Waits until a function deferred now has run: every section pinned before has ended.
pub(super) fn synchronize(fl: Flavor) {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    call_rcu(fl, Box::new(move || flag.store(true, Ordering::Release)));
    while !done.load(Ordering::Acquire) {
        pin(fl).flush();
        std::thread::yield_now();
    }
}

/// Runs `f` after a grace period, on whichever thread next collects garbage. The thread's
/// bag is flushed to the global queue at once, so any thread's collection can run `f`, not
/// only this thread's next one.
pub(super) fn call_rcu(fl: Flavor, f: Box<dyn FnOnce() + Send>) {
    let g = pin(fl);
    g.defer(f);
    g.flush();
}

/// crossbeam-epoch runs deferred functions in order per thread bag, and offers no grace
/// period with a flush from every thread; waiting for our own marker, queued after this
/// thread's earlier callbacks, is what it can do.
pub(super) fn barrier(fl: Flavor) {
    synchronize(fl);
}

/// Helps crossbeam-epoch collect; reports no model step.
pub(super) fn poll(fl: Flavor) -> bool {
    pin(fl).flush();
    false
}

/// No model counters in production.
pub(super) fn stats(_fl: Flavor) -> super::Stats {
    super::Stats::default()
}
