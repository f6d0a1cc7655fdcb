//! The allocator under shuttle, where grace periods are explicit steps: memory goes back to
//! the backing allocator only after a tasks-trace *and* a normal grace period, and a
//! `free_rcu` object is not reused before a normal one (the checking hooks count both).

use super::*;

/// Destroys `ma` and lets every callback it queued run, so the execution ends quiescent.
fn destroy_and_settle(ma: MemAlloc) {
    drop(ma);
    rcu::barrier();
    rcu::tasks_trace::barrier();
    rcu::barrier();
}

/// Enough frees to trim the free list into the tasks-trace path, then grace periods one
/// flavour at a time: after the tasks-trace one alone nothing may have gone back.
#[test]
fn memory_leaves_only_after_both_grace_periods() {
    shuttle::check_random(
        || {
            cpu::bind(0);
            let ma = MemAlloc::new(40, false).expect("fixed size");
            let objs: Vec<_> = (0..150).filter_map(|_| ma.cache_alloc()).collect();
            assert_eq!(objs.len(), 150);
            for p in objs {
                // SAFETY: allocated above, freed once.
                unsafe { ma.cache_free(p) };
            }
            let (_, returned) = ma.backing_stats();
            assert_eq!(returned, 0, "nothing leaves before a grace period");
            // Tasks-trace grace periods only: the objects wait for a normal one too.
            for _ in 0..3 {
                rcu::tasks_trace::synchronize();
            }
            let (_, returned) = ma.backing_stats();
            assert_eq!(
                returned, 0,
                "objects went back to the backing allocator after a tasks-trace grace period alone"
            );
            rcu::synchronize();
            rcu::barrier();
            let (_, returned) = ma.backing_stats();
            assert!(
                returned > 0,
                "after both grace periods the trimmed objects are freed"
            );
            ma.validate().expect("valid");
            destroy_and_settle(ma);
        },
        10,
    );
}

/// A `free_rcu` object is not handed out again while normal grace periods have not passed,
/// however many tasks-trace ones do.
#[test]
fn free_rcu_is_not_reused_before_a_normal_grace_period() {
    shuttle::check_random(
        || {
            cpu::bind(0);
            let ma = MemAlloc::new(24, false).expect("fixed size");
            let victim = ma.cache_alloc().expect("prefilled");
            // SAFETY: freed once.
            unsafe { ma.cache_free_rcu(victim) };
            for _ in 0..300 {
                rcu::tasks_trace::poll();
                let p = ma.cache_alloc().expect("refilled");
                assert_ne!(p, victim, "reused before a normal grace period");
                // SAFETY: freed once.
                unsafe { ma.cache_free(p) };
            }
            ma.validate().expect("valid");
            destroy_and_settle(ma);
        },
        10,
    );
}

/// The owner's refill reuses objects from `waiting_for_gp_ttrace` (`llist_del_first`) while
/// another CPU runs the normal grace-period callback that gives that list back to the
/// backing allocator (`llist_del_all`, then free). Without the cache lock around both
/// (1c21452d02ee) the refill reads the link of an object already freed.
///
/// The setup leaves objects on that list, with the tasks-trace grace period done and the
/// normal one pending, and the free list one allocation above its refill. CPU 0 allocates;
/// an NMI stalls it between the head's load and the read of its link, and while it stalls
/// CPU 1 lets the normal grace period pass and runs the callback, until that finishes or is
/// seen blocked (on the cache lock the refill holds): the window a slow NMI opens on real
/// hardware.
fn refill_races_the_freeing_callback() {
    use crate::sync::atomic::AtomicBool;
    cpu::bind(0);
    let ma = crate::sync::Arc::new(MemAlloc::new(8192, false).expect("fixed size"));
    let objs: Vec<_> = (0..4).filter_map(|_| ma.cache_alloc()).collect();
    assert_eq!(objs.len(), 4);
    for p in objs {
        // SAFETY: allocated above, freed once; the trim moves the surplus to the tasks-trace
        // lists and starts their grace period.
        unsafe { ma.cache_free(p) };
    }
    let mut held: Vec<_> = (0..2).filter_map(|_| ma.cache_alloc()).collect();
    assert_eq!(ma.free_count(0, 0), 1, "one allocation above the refill");
    rcu::tasks_trace::synchronize();
    let done = crate::sync::Arc::new(AtomicBool::new(false));
    let stalled = crate::sync::Arc::new(AtomicBool::new(false));
    let (d2, s2, s3) = (done.clone(), stalled.clone(), stalled.clone());
    let runner = crate::sync::thread::spawn(move || {
        cpu::bind(1);
        while !s2.load(Ordering::Acquire) {
            crate::sync::thread::yield_now();
        }
        rcu::synchronize();
        d2.store(true, Ordering::Release);
    });
    let stall = std::rc::Rc::new(move |_: cpu::Interrupt, _: &cpu::Site| {
        stalled.store(true, Ordering::Release);
        for _ in 0..64 {
            if done.load(Ordering::Acquire) {
                return;
            }
            crate::sync::thread::yield_now();
        }
    });
    cpu::install(cpu::InterruptPlan {
        decide: Box::new(|site| {
            (site.name == "alloc_bulk:del_first").then_some(cpu::Interrupt::Nmi)
        }),
        handler: stall,
    });
    held.extend(ma.cache_alloc());
    cpu::uninstall();
    assert!(
        s3.load(Ordering::Acquire),
        "the refill found objects to reuse (the NMI stalled its del_first)"
    );
    runner.join().expect("no panic");
    for p in held {
        // SAFETY: allocated above, freed once.
        unsafe { ma.cache_free(p) };
    }
    rcu::barrier();
    ma.validate().expect("valid");
    let ma = crate::sync::Arc::into_inner(ma).expect("the last reference");
    destroy_and_settle(ma);
}

/// [`refill_races_the_freeing_callback`] under random schedules (the hand-off makes the
/// window certain; the schedules vary everything around it).
#[test]
fn refill_reuse_races_the_callback_that_frees_the_list() {
    shuttle::check_random(refill_races_the_freeing_callback, 50);
}
