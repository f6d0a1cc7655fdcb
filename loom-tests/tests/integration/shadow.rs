//! loom models of the sanitizer used concurrently: the global registry from several threads,
//! and per-thread runtime state (disable, reentrancy) under loom's thread-locals.
#![cfg(mmcheck_loom)]

use algos::sync::thread;
use shadow::{registry, BugKind};

/// Two threads register, poison, unpoison and check their own regions while a third checks
/// both: every interleaving gives each checker exactly the reports its region's state at that
/// point implies, and no report is lost or duplicated.
#[test]
fn registry_is_consistent_under_concurrent_use() {
    crate::model(|| {
        let a = Box::leak(vec![0u8; 16].into_boxed_slice()).as_ptr() as usize;
        let b = Box::leak(vec![0u8; 16].into_boxed_slice()).as_ptr() as usize;
        registry::register(a, 16, false);
        registry::register(b, 16, true);
        let t1 = thread::spawn(move || {
            registry::unpoison(a, 8);
            let ((), reps) = shadow::collect(|| {
                registry::check(a, 16);
            });
            assert_eq!(reps.len(), 1);
            assert_eq!(reps[0].bytes, Some((8, 15, 16)));
        });
        let t2 = thread::spawn(move || {
            registry::poison(b + 4, 4);
            let ((), reps) = shadow::collect(|| {
                registry::check(b, 16);
            });
            assert_eq!(reps.len(), 1);
            assert_eq!(reps[0].bytes, Some((4, 7, 16)));
        });
        let ((), seen) = shadow::collect(|| {
            registry::check(b, 4);
        });
        assert!(seen.is_empty(), "bytes 0-3 of b are never poisoned");
        t1.join().unwrap();
        t2.join().unwrap();
        let ((), after) = shadow::collect(|| {
            registry::check(a, 16);
            registry::check(b, 16);
        });
        assert_eq!(after.len(), 2);
        assert!(after.iter().all(|r| r.kind == BugKind::UninitValue));
        registry::unregister(a);
        registry::unregister(b);
    });
}

/// `disable()` is per thread: one thread's disabled section does not hide another thread's
/// report, in any interleaving.
#[test]
fn disable_is_per_thread() {
    crate::model(|| {
        let v = shadow::Tainted::<u64>::uninit(0, 0xff);
        let t = thread::spawn(move || {
            let _d = shadow::disable();
            thread::yield_now();
            let ((), r) = shadow::collect(|| {
                let _ = v.check();
            });
            assert!(r.is_empty(), "reported while disabled");
        });
        let ((), r) = shadow::collect(|| {
            let _ = v.check();
        });
        assert_eq!(r.len(), 1, "another thread's disable() hid this report");
        t.join().unwrap();
    });
}
