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
use std::cell::Cell;
use std::sync::{Mutex, OnceLock};

/// What a read section holds: the pinned epoch of its flavour's collector.
pub(super) type Section = crossbeam_epoch::Guard;

fn trace_collector() -> &'static Collector {
    static TRACE: OnceLock<Collector> = OnceLock::new();
    TRACE.get_or_init(Collector::new)
}

std::thread_local! {
    static TRACE_HANDLE: LocalHandle = trace_collector().register();
    /// Registered right after a thread first pins a flavour, so its destructor runs just
    /// before that flavour's handle is torn down (thread-local destructors run in reverse
    /// order of registration), and marks the thread as exiting.
    static EXIT_MARK_RCU: ExitMark = const { ExitMark };
    static EXIT_MARK_TRACE: ExitMark = const { ExitMark };
    /// Never destroyed (no destructor): readable during the whole teardown.
    static EXITING: Cell<bool> = const { Cell::new(false) };
}

/// Sets [`EXITING`] when the thread's thread-locals are being destroyed.
struct ExitMark;

impl Drop for ExitMark {
    fn drop(&mut self) {
        EXITING.with(|e| e.set(true));
    }
}

/// Callbacks a tearing-down thread's collection found ready: they run on the next live
/// thread that queues a callback, waits for a grace period or polls.
fn orphans() -> &'static Mutex<Vec<Callback>> {
    static ORPHANS: OnceLock<Mutex<Vec<Callback>>> = OnceLock::new();
    ORPHANS.get_or_init(|| Mutex::new(Vec::new()))
}

type Callback = Box<dyn FnOnce() + Send>;

/// Runs the callbacks orphaned by exiting threads (none on an exiting thread).
fn run_orphans() {
    if EXITING.with(Cell::get) {
        return;
    }
    let ready: Vec<Callback> = {
        let mut o = orphans().lock().unwrap_or_else(|e| e.into_inner());
        if o.is_empty() {
            return;
        }
        std::mem::take(&mut *o)
    };
    for f in ready {
        f();
    }
}

/// Pins the flavour's collector on this thread.
///
/// crossbeam-epoch collects garbage when a thread's handle is torn down (at thread exit, and
/// at process exit for the main thread, where glibc runs thread-local destructors too), and
/// the functions it runs there are our callbacks, which use thread-locals that may already be
/// gone. So a thread marks itself exiting before its handles go ([`ExitMark`]), callbacks
/// that come due on an exiting thread are handed to a live one ([`call_rcu`]), and the
/// tasks-trace handle falls back to a fresh registration once destroyed, as crossbeam's own
/// default handle does.
#[inline]
fn pin(fl: Flavor) -> Section {
    match fl {
        Flavor::Rcu => {
            let g = crossbeam_epoch::pin();
            let _ = EXIT_MARK_RCU.try_with(|_| ());
            g
        }
        Flavor::TasksTrace => {
            let g = TRACE_HANDLE
                .try_with(LocalHandle::pin)
                .unwrap_or_else(|_| trace_collector().register().pin());
            let _ = EXIT_MARK_TRACE.try_with(|_| ());
            g
        }
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
        Flavor::TasksTrace => TRACE_HANDLE
            .try_with(LocalHandle::is_pinned)
            .unwrap_or(false),
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
        run_orphans();
        std::thread::yield_now();
    }
}

/// Runs `f` after a grace period, on whichever thread next collects garbage. The thread's
/// bag is flushed to the global queue at once, so any thread's collection can run `f`, not
/// only this thread's next one.
pub(super) fn call_rcu(fl: Flavor, f: Callback) {
    let g = pin(fl);
    g.defer(move || {
        if EXITING.with(Cell::get) {
            orphans().lock().unwrap_or_else(|e| e.into_inner()).push(f);
        } else {
            f();
        }
    });
    g.flush();
    drop(g);
    run_orphans();
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
    run_orphans();
    false
}

/// No model counters in production.
pub(super) fn stats(_fl: Flavor) -> super::Stats {
    super::Stats::default()
}

#[cfg(test)]
mod tests {
    use super::super::{barrier, call_rcu, poll, tasks_trace};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A callback that comes due while a thread's thread-locals are being destroyed (as at
    /// process exit, when glibc runs the main thread's destructors and crossbeam-epoch
    /// collects garbage in its handle's) runs later on a live thread, whose thread-locals it
    /// may use. Without the hand-over it ran in the teardown, touched a destroyed
    /// thread-local and aborted the process (the fuzz smoke's empty-input crash).
    #[test]
    fn callbacks_due_in_a_thread_teardown_run_on_a_live_thread() {
        static QUEUED: AtomicUsize = AtomicUsize::new(0);
        static RAN: AtomicUsize = AtomicUsize::new(0);
        static NESTED: AtomicUsize = AtomicUsize::new(0);
        struct Late;
        impl Drop for Late {
            fn drop(&mut self) {
                // Registered before the thread's first pin, so destroyed after its epoch
                // handles: queue callbacks and collect here, in the teardown.
                for _ in 0..200 {
                    QUEUED.fetch_add(1, Ordering::Relaxed);
                    call_rcu(|| {
                        RAN.fetch_add(1, Ordering::Relaxed);
                        // Uses the tasks-trace handle, a thread-local.
                        tasks_trace::call_rcu(|| {
                            NESTED.fetch_add(1, Ordering::Relaxed);
                        });
                    });
                    poll();
                }
            }
        }
        std::thread_local! {
            static LATE: Late = const { Late };
        }
        let before = Arc::new(());
        let h = std::thread::spawn(move || {
            LATE.with(|_| ());
            let _keep = before;
            tasks_trace::call_rcu(|| {});
            call_rcu(|| {});
        });
        h.join().expect("the thread's teardown did not panic");
        let queued = QUEUED.load(Ordering::Relaxed);
        assert_eq!(queued, 200, "the destructor ran");
        for _ in 0..1000 {
            barrier();
            tasks_trace::barrier();
            if RAN.load(Ordering::Relaxed) == queued && NESTED.load(Ordering::Relaxed) == queued {
                break;
            }
            std::thread::yield_now();
        }
        assert_eq!(RAN.load(Ordering::Relaxed), queued, "every callback ran");
        assert_eq!(
            NESTED.load(Ordering::Relaxed),
            queued,
            "every nested callback ran"
        );
    }
}
