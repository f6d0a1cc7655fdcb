//! loom models of the BPF memory allocator (`algos::percpu`), exhaustive over interleavings
//! with bounded preemptions. The allocators are fixed-size with a unit above 8 KiB, so the
//! kernel's watermarks are low 1, high 3, batch 1, prefill 1, and a handful of operations
//! cross them (refill, trim, grace periods) without a state space loom cannot finish.
//! Every model ends with `validate()` and the checking hooks' own checks (class of every
//! free, nothing handed out twice, memory back only after both grace periods).
#![cfg(mmcheck_loom)]

use algos::percpu::MemAlloc;
use algos::sync::{cpu, rcu, thread, Arc, Mutex};

/// A unit above 8 KiB: low 1, high 3, batch 1.
const BIG: usize = 8192;

fn settle(ma: &MemAlloc) {
    for _ in 0..4 {
        rcu::synchronize();
        rcu::tasks_trace::synchronize();
    }
    ma.drain_deferred();
}

/// Frees on CPU 1 of objects allocated on CPU 0 trim into CPU 0's `free_by_rcu_ttrace`
/// (pushes from another CPU) and start its tasks-trace grace period (the
/// `call_rcu_ttrace_in_progress` hand-off), while CPU 0 keeps allocating (its refill takes
/// objects off the same lists with `llist_del_first` under the cache lock) and runs the
/// grace-period callbacks (their `llist_del_all`).
#[test]
fn cross_cpu_trim_races_the_owners_refill_and_callbacks() {
    crate::model(|| {
        cpu::bind(0);
        let ma = Arc::new(MemAlloc::new(BIG, false).expect("fixed size"));
        let objs: Vec<usize> = (0..4)
            .map(|_| ma.cache_alloc().expect("refilled").as_ptr() as usize)
            .collect();
        let handed = Arc::new(Mutex::new(objs));
        let (m2, h2) = (ma.clone(), handed.clone());
        let freer = thread::spawn(move || {
            cpu::bind(1);
            let objs: Vec<usize> = std::mem::take(&mut *h2.lock());
            for a in objs {
                let p = std::ptr::NonNull::new(a as *mut u8).expect("non-null");
                // SAFETY: allocated on CPU 0, freed once here.
                unsafe { m2.cache_free(p) };
            }
            // Grace-period callbacks run here too, on another CPU than the owner's refill.
            for _ in 0..2 {
                rcu::tasks_trace::poll();
                rcu::poll();
            }
        });
        // CPU 0 allocates and frees meanwhile, and lets grace periods pass.
        for _ in 0..2 {
            let p = ma.cache_alloc().expect("memory is available");
            rcu::tasks_trace::poll();
            rcu::poll();
            // SAFETY: allocated just above.
            unsafe { ma.cache_free(p) };
        }
        freer.join().expect("no panic");
        settle(&ma);
        ma.validate().expect("valid");
    });
}

/// Destroy while grace-period callbacks of the allocator are pending and another thread runs
/// them: the callbacks see `draining` and free what they hold; nothing leaks, nothing is
/// freed twice, and the allocator's state outlives the last callback.
#[test]
fn destroy_races_the_grace_period_callbacks() {
    crate::model(|| {
        cpu::bind(0);
        let ma = MemAlloc::new(BIG, false).expect("fixed size");
        let objs: Vec<_> = (0..4)
            .map(|_| ma.cache_alloc().expect("refilled"))
            .collect();
        for (i, p) in objs.into_iter().enumerate() {
            // SAFETY: allocated above, freed once.
            unsafe {
                if i % 2 == 0 {
                    ma.cache_free_rcu(p)
                } else {
                    ma.cache_free(p)
                }
            }
        }
        let runner = thread::spawn(|| {
            cpu::bind(1);
            for _ in 0..3 {
                rcu::poll();
                rcu::tasks_trace::poll();
            }
        });
        drop(ma);
        runner.join().expect("no panic");
        rcu::barrier();
        rcu::tasks_trace::barrier();
        rcu::barrier();
    });
}
