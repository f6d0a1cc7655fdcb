//! The allocator's own tests on the std backend: the kernel's tables, and ports of the
//! scenarios of the kernel selftests (`test_bpf_ma`, `preempted_bpf_ma_op`, the htab-mem
//! cross-CPU case) with the invariants checked by `validate` after each.

use super::*;
use crate::sync::thread;
use crate::sync::{atomic::AtomicBool, Arc};

/// Every boundary of the size → class table (`bpf_mem_cache_idx`).
#[test]
fn size_class_matches_the_kernel_table() {
    let table: &[(usize, Option<usize>)] = &[
        (0, None),
        (1, Some(2)),
        (8, Some(2)),
        (9, Some(2)),
        (16, Some(2)),
        (17, Some(3)),
        (24, Some(3)),
        (25, Some(3)),
        (32, Some(3)),
        (33, Some(4)),
        (64, Some(4)),
        (65, Some(0)),
        (72, Some(0)),
        (96, Some(0)),
        (97, Some(5)),
        (104, Some(5)),
        (128, Some(5)),
        (129, Some(1)),
        (136, Some(1)),
        (192, Some(1)),
        (193, Some(6)),
        (256, Some(6)),
        (257, Some(7)),
        (512, Some(7)),
        (513, Some(8)),
        (1024, Some(8)),
        (1025, Some(9)),
        (2048, Some(9)),
        (2049, Some(10)),
        (4096, Some(10)),
        (4097, None),
        (usize::MAX, None),
    ];
    for &(size, class) in table {
        assert_eq!(size_class(size), class, "size {size}");
    }
    for (i, &u) in UNIT_SIZES.iter().enumerate() {
        assert_eq!(size_class(u), Some(i), "idx(sizes[{i}])");
    }
    // Every size lands in the smallest class that holds it.
    for s in 1..=SIZE_MAX {
        let k = size_class(s).expect("in range");
        let unit = UNIT_SIZES[k];
        assert!(unit >= s);
        assert!(
            UNIT_SIZES.iter().all(|&u| u < s || u >= unit),
            "size {s}: a smaller class fits"
        );
    }
}

#[test]
fn watermarks_are_the_kernels_numbers() {
    let w = |u, p| {
        let w = watermarks(u, p);
        (w.low, w.high, w.batch, w.prefill)
    };
    for u in [16, 32, 64, 96, 128, 192, 256] {
        assert_eq!(w(u, false), (32, 96, 48, 4), "unit {u}");
    }
    assert_eq!(w(512, false), (16, 48, 24, 1));
    assert_eq!(w(1024, false), (8, 24, 12, 1));
    assert_eq!(w(2048, false), (4, 12, 6, 1));
    assert_eq!(w(4096, false), (2, 6, 3, 1));
    assert_eq!(
        w(264, false),
        (31, 93, 45, 1),
        "batch divides before it multiplies"
    );
    assert_eq!(w(300, false), (27, 81, 39, 1));
    assert_eq!(w(4104, false), (1, 5, 3, 1));
    assert_eq!(w(8200, false), (1, 3, 1, 1));
    for u in [8, 16, 256, 512, 4096] {
        assert_eq!(w(u, true), (1, 3, 1, 1), "per-CPU unit {u}");
    }
}

#[test]
fn init_rules_and_size_limits() {
    assert_eq!(
        MemAlloc::new(0, true).err(),
        Some(MemAllocError::InvalidSize)
    );
    let ma = MemAlloc::new(0, false).expect("size classes");
    assert!(ma.alloc(0).is_none(), "size 0 gives nothing");
    assert!(ma.alloc(4089).is_none(), "4089 + 8 > 4096");
    assert!(ma.alloc(usize::MAX).is_none(), "no overflow");
    assert!(ma.alloc(usize::MAX - 7).is_none());
    assert!(ma.cache_alloc().is_none(), "no fixed-size cache here");
    let p = ma.alloc(4088).expect("the largest request");
    // SAFETY: allocated above, freed once.
    unsafe { ma.free(p) };
    // Prefill: 4 objects in classes up to 256 bytes, 1 above, on every CPU.
    for cpu in 0..ma.nr_cpus() {
        for (k, &u) in UNIT_SIZES.iter().enumerate() {
            let want = if u <= 256 { 4 } else { 1 };
            if cpu != crate::sync::cpu::current() {
                assert_eq!(ma.free_count(cpu, k), want, "cpu {cpu} class {k}");
            }
        }
    }
    ma.validate().expect("valid");
}

/// Writes a pattern over `n` bytes of `p`, and checks it back.
fn fill(p: NonNull<u8>, n: usize, seed: u8) {
    for i in 0..n {
        // SAFETY: the object holds at least `n` bytes.
        unsafe { p.as_ptr().add(i).write(seed.wrapping_add(i as u8)) };
    }
}

fn holds(p: NonNull<u8>, n: usize, seed: u8) -> bool {
    // SAFETY: as in `fill`.
    (0..n).all(|i| unsafe { p.as_ptr().add(i).read() } == seed.wrapping_add(i as u8))
}

/// `test_bpf_ma` / batch_alloc_free: every class, a struct of `size - 8` bytes so that
/// the header lands it exactly on the class, batches of 128/64/32/16/8.
#[test]
fn test_bpf_ma_batch_alloc_free_every_class() {
    let ma = MemAlloc::new(0, false).expect("size classes");
    let data_sizes = [16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096];
    for (round, &size) in data_sizes.iter().enumerate() {
        let batch = match size {
            ..=256 => 128,
            512 => 64,
            1024 => 32,
            2048 => 16,
            _ => 8,
        };
        let n = size - HEADER;
        let class = size_class(size).expect("class");
        let objs: Vec<NonNull<u8>> = (0..batch)
            .map(|i| {
                let p = ma
                    .alloc(n)
                    .unwrap_or_else(|| panic!("size {n}: NULL at {i}"));
                assert_eq!(p.as_ptr() as usize % 8, 0, "8-byte aligned");
                fill(p, n, i as u8);
                p
            })
            .collect();
        let distinct: std::collections::HashSet<_> = objs.iter().collect();
        assert_eq!(distinct.len(), batch, "no object handed out twice");
        for (i, &p) in objs.iter().enumerate() {
            assert!(holds(p, n, i as u8), "size {n}: contents survive");
        }
        for p in objs {
            // SAFETY: each allocated above and freed once.
            unsafe { ma.free(p) };
        }
        ma.drain_deferred();
        ma.validate()
            .unwrap_or_else(|e| panic!("round {round} size {size}: {e}"));
        let cpu = crate::sync::cpu::current();
        let high = watermarks(UNIT_SIZES[class], false).high;
        assert!(
            ma.free_count(cpu, class) <= high,
            "size {size}: trimmed to the high watermark ({} > {high})",
            ma.free_count(cpu, class)
        );
    }
}

/// The fixed-size mode: unit = size + 8; objects keep their contents; the list is bounded.
#[test]
fn fixed_size_cache_alloc_free() {
    let ma = MemAlloc::new(300, false).expect("fixed size");
    assert!(ma.alloc(16).is_none(), "no size classes here");
    let w = watermarks(308, false);
    let objs: Vec<_> = (0..200)
        .map(|i| {
            let p = ma.cache_alloc().expect("refilled in time");
            fill(p, 300, i as u8);
            p
        })
        .collect();
    for (i, &p) in objs.iter().enumerate() {
        assert!(holds(p, 300, i as u8));
    }
    for p in objs {
        // SAFETY: allocated above, freed once.
        unsafe { ma.cache_free(p) };
    }
    ma.drain_deferred();
    ma.validate().expect("valid");
    assert!(ma.free_count(crate::sync::cpu::current(), 0) <= w.high);
}

/// Fresh objects are zeroed (997849c4b969); recycled ones keep their contents (type-stable
/// memory).
#[test]
fn fresh_objects_are_zero_and_recycled_ones_keep_their_contents() {
    let ma = MemAlloc::new(56, false).expect("fixed size");
    let p = ma.cache_alloc().expect("prefilled");
    // SAFETY: 56 bytes are ours.
    assert!((0..56).all(|i| unsafe { p.as_ptr().add(i).read() } == 0));
    fill(p, 56, 7);
    // SAFETY: freed once.
    unsafe { ma.cache_free(p) };
    let q = ma.cache_alloc().expect("the object just freed");
    assert_eq!(p, q, "LIFO: the object freed last comes back first");
    assert!(holds(q, 56, 7), "recycled memory is not re-initialised");
    // SAFETY: freed once.
    unsafe { ma.cache_free(q) };
}

#[test]
fn percpu_mode_gives_an_area_per_cpu() {
    let ma = MemAlloc::new(64, true).expect("per-CPU");
    assert!(ma.is_percpu());
    let w = watermarks(64, true);
    assert_eq!((w.low, w.high, w.batch, w.prefill), (1, 3, 1, 1));
    let objs: Vec<_> = (0..20).filter_map(|_| ma.cache_alloc()).collect();
    assert!(!objs.is_empty());
    for (i, &p) in objs.iter().enumerate() {
        for cpu in 0..ma.nr_cpus() {
            // SAFETY: live object of this allocator.
            let a = unsafe { ma.percpu_area(p, cpu) }.expect("per-CPU mode");
            // SAFETY: 64 bytes per CPU.
            assert!((0..64).all(|j| unsafe { a.as_ptr().add(j).read() } == 0));
            fill(a, 64, (i + cpu) as u8);
        }
    }
    for (i, &p) in objs.iter().enumerate() {
        for cpu in 0..ma.nr_cpus() {
            // SAFETY: as above.
            let a = unsafe { ma.percpu_area(p, cpu) }.expect("per-CPU mode");
            assert!(holds(a, 64, (i + cpu) as u8));
        }
    }
    for p in objs {
        // SAFETY: freed once.
        unsafe { ma.cache_free(p) };
    }
    ma.drain_deferred();
    ma.validate().expect("valid");
}

/// `preempted_bpf_ma_op`: four tasks on CPU 0 each allocate and free objects of the 512
/// class (struct of 256 bytes + a lock, as the selftest's), keeping up to 512 live each;
/// no allocation may fail while memory is available (d2fc491bc41d).
#[test]
fn preempted_ops_on_one_cpu_never_see_a_spurious_null() {
    let ma = Arc::new(MemAlloc::new(0, false).expect("size classes"));
    let hs: Vec<_> = (0..4)
        .map(|t| {
            let ma = ma.clone();
            thread::spawn(move || {
                crate::sync::cpu::bind(0);
                let mut live: Vec<NonNull<u8>> = Vec::new();
                for round in 0..20 {
                    for p in live.drain(..) {
                        // SAFETY: allocated by this task, freed once.
                        unsafe { ma.free(p) };
                    }
                    for i in 0..512 {
                        let p = ma.alloc(264).unwrap_or_else(|| {
                            panic!("task {t} round {round}: NULL at {i} with memory available")
                        });
                        live.push(p);
                    }
                }
                for p in live {
                    // SAFETY: as above.
                    unsafe { ma.free(p) };
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("no NULL");
    }
    ma.drain_deferred();
    ma.validate().expect("valid");
}

/// htab-mem `add_del_on_diff_cpu`: objects allocated on CPU 0 and freed on CPU 1. Without
/// the owner hint the freeing CPU trims into its own lists and CPU 0 keeps asking the
/// backing allocator for more (822fb26bdb55's OOM); with it memory stays bounded.
#[test]
fn cross_cpu_frees_keep_memory_bounded() {
    if crate::sync::cpu::nr_cpus() < 2 {
        return;
    }
    let ma = Arc::new(MemAlloc::new(56, false).expect("fixed size"));
    // A bounded hand-over queue of batches, and a flag for the end.
    let queue = Arc::new(crate::sync::Mutex::new(std::collections::VecDeque::<
        Vec<usize>,
    >::new()));
    let done = Arc::new(AtomicBool::new(false));
    let (ma2, q2, d2) = (ma.clone(), queue.clone(), done.clone());
    let consumer = thread::spawn(move || {
        crate::sync::cpu::bind(1);
        loop {
            let batch = q2.lock().pop_front();
            match batch {
                Some(batch) => {
                    for a in batch {
                        // SAFETY: allocated by the producer, freed once here.
                        unsafe { ma2.cache_free(NonNull::new(a as *mut u8).expect("non-null")) };
                    }
                }
                None if d2.load(Ordering::Acquire) => break,
                None => thread::yield_now(),
            }
        }
    });
    crate::sync::cpu::bind(0);
    let total = 200_000;
    let mut sent = 0;
    while sent < total {
        let mut batch = Vec::with_capacity(64);
        for _ in 0..64 {
            if let Some(p) = ma.cache_alloc() {
                batch.push(p.as_ptr() as usize);
            }
            sent += 1;
        }
        while queue.lock().len() >= 4 {
            thread::yield_now();
        }
        queue.lock().push_back(batch);
        // Let grace periods pass now and then, as time does in the kernel.
        if sent % 8192 < 64 {
            crate::sync::rcu::poll();
            crate::sync::rcu::tasks_trace::poll();
        }
    }
    done.store(true, Ordering::Release);
    consumer.join().expect("no panic");
    ma.drain_deferred();
    let (obtained, returned) = ma.backing_stats();
    assert!(
        obtained < 20_000,
        "{total} objects through two CPUs took {obtained} from the backing allocator \
         ({returned} returned): memory is not bounded"
    );
    ma.validate().expect("valid");
}

/// `free_rcu`: an object is not handed out again while a read section that began before
/// the free is running; plain `free` reuses at once.
#[test]
fn free_rcu_objects_wait_for_a_reader_plain_frees_do_not() {
    let ma = Arc::new(MemAlloc::new(24, false).expect("fixed size"));
    let victim = ma.cache_alloc().expect("prefilled");
    let entered = Arc::new(AtomicBool::new(false));
    let leave = Arc::new(AtomicBool::new(false));
    let (e2, l2) = (entered.clone(), leave.clone());
    let reader = thread::spawn(move || {
        let _g = rcu::read_lock();
        e2.store(true, Ordering::Release);
        while !l2.load(Ordering::Acquire) {
            thread::yield_now();
        }
    });
    while !entered.load(Ordering::Acquire) {
        thread::yield_now();
    }
    // SAFETY: freed once; the reader "holds" it.
    unsafe { ma.cache_free_rcu(victim) };
    let mut got = Vec::new();
    for _ in 0..2000 {
        crate::sync::rcu::poll();
        if let Some(p) = ma.cache_alloc() {
            assert_ne!(
                p, victim,
                "reused while a reader that predates the free runs"
            );
            got.push(p);
        }
    }
    leave.store(true, Ordering::Release);
    reader.join().expect("no panic");
    for p in got {
        // SAFETY: freed once.
        unsafe { ma.cache_free(p) };
    }
    ma.drain_deferred();
    ma.validate().expect("valid");
    // A plain free is reused at once.
    let p = ma.cache_alloc().expect("some");
    // SAFETY: freed once.
    unsafe { ma.cache_free(p) };
    assert_eq!(ma.cache_alloc(), Some(p));
}

/// Destroy with objects on every list and callbacks in flight: nothing leaks, nothing is
/// freed twice, and the state goes away after the last callback.
#[test]
fn destroy_with_objects_everywhere_frees_everything_once() {
    let ma = MemAlloc::new(0, false).expect("size classes");
    let inner = ma.inner.clone();
    let mut live = Vec::new();
    for round in 0..3 {
        for size in [8, 100, 500, 3000] {
            let objs: Vec<_> = (0..150).filter_map(|_| ma.alloc(size)).collect();
            for (i, p) in objs.into_iter().enumerate() {
                match (i + round) % 3 {
                    // SAFETY: freed once.
                    0 => unsafe { ma.free(p) },
                    // SAFETY: freed once.
                    1 => unsafe { ma.free_rcu(p) },
                    _ => live.push(p),
                }
            }
        }
    }
    for p in live {
        // SAFETY: freed once.
        unsafe { ma.free(p) };
    }
    ma.validate().expect("valid before destroy");
    drop(ma);
    // The callbacks run later and free what they hold.
    for _ in 0..100 {
        if inner.in_flight.get() == 0 {
            break;
        }
        rcu::synchronize();
        rcu::tasks_trace::synchronize();
        rcu::synchronize();
    }
    assert_eq!(inner.in_flight.get(), 0, "every callback ran");
    let obtained: u64 = inner.caches.iter().map(|c| c.obtained.get()).sum();
    let returned: u64 = inner.caches.iter().map(|c| c.returned.get()).sum();
    assert_eq!(
        obtained, returned,
        "everything went back to the backing allocator"
    );
    for c in inner.caches.iter() {
        assert!(inner.lists(c).iter().all(|(_, v)| v.is_empty()));
    }
}

/// Objects freed from the wrong allocator are refused loudly (the kernel WARNs).
#[test]
#[should_panic(expected = "not allocated from this allocator")]
fn a_foreign_object_is_refused() {
    let a = MemAlloc::new(32, false).expect("fixed");
    let b = MemAlloc::new(32, false).expect("fixed");
    let p = a.cache_alloc().expect("prefilled");
    // SAFETY: deliberately wrong: `p` belongs to `a`; the hint check refuses it first.
    unsafe { b.cache_free(p) };
}

/// `bpf_mem_cache_alloc_flags(GFP_KERNEL)` on an empty cache allocates straight from the
/// backing allocator and must write the owner hint (75a442581d05): the object is then freed
/// like any other, and a trim hands it to the right cache.
#[cfg(mmcheck_hooks)]
#[test]
fn the_backing_fallback_writes_the_owner_hint() {
    use crate::sync::fault::{self, FaultPlan};
    crate::sync::cpu::bind(0);
    let ma = MemAlloc::new(100, false).expect("fixed size");
    let prev = fault::install(FaultPlan::From(1));
    // Refills fail: empty the cache.
    let mut got = Vec::new();
    while let Some(p) = ma.cache_alloc() {
        got.push(p);
    }
    assert!(ma.cache_alloc().is_none(), "empty, refills failing");
    let extra: Vec<_> = (0..200)
        .map(|_| ma.cache_alloc_or_backing().expect("the fallback allocates"))
        .collect();
    fault::install(prev);
    for p in got.into_iter().chain(extra) {
        // SAFETY: allocated above, freed once.
        unsafe { ma.cache_free(p) };
    }
    ma.drain_deferred();
    ma.validate().expect("valid");
}

/// `validate` finds an object on two lists (the last node of the free list pushed onto the
/// empty nested-free list too: its link stays null, so both lists stay well formed), and
/// names both lists; undone, the state is valid again.
#[test]
fn validate_reports_an_object_on_two_lists() {
    cpu::bind(0);
    let ma = MemAlloc::new(40, false).expect("fixed size");
    ma.validate().expect("valid before the corruption");
    let c = ma.inner.cache(cpu::current(), 0);
    let tail = *ma.inner.lists(c)[0].1.last().expect("prefilled");
    // SAFETY: corrupts the lists on purpose; the tail's link is null before and after, and
    // the extra entry is taken off again before the allocator is destroyed.
    unsafe { c.free_llist_extra.push(tail) };
    let err = ma.validate().expect_err("an object on two lists");
    assert!(
        err.0.contains("on free_llist of") && err.0.contains("on free_llist_extra of"),
        "the report names both lists: {}",
        err.0
    );
    assert_eq!(c.free_llist_extra.del_all(), tail);
    ma.validate().expect("valid again");
}
