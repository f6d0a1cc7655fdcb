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
