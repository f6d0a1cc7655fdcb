//! The KMSAN KUnit suite (`mm/kmsan/kmsan_test.c`) ported to user space, plus the parts of
//! the sanitizer the kernel suite has no counterpart for: the address registry, the
//! `check!` macro, and the propagation rules of `Tainted`.
//!
//! Every case captures its reports with `shadow::collect` (never the process-wide mode, as
//! tests run in parallel) and asserts, for each report, its kind, its byte range and the
//! line of the call that created the poison. Calls whose line is compared are written on
//! the same line as the `line!()` they are compared with.
//!
//! Kernel cases left out: vmap/vunmap and per-CPU variables (no such memory here; a
//! plain store/load round trip stands in for the per-CPU one), printk, and the stack depot
//! round trip (origins here are not stored as depot handles).

use shadow::{
    check, collect, disable, registry, BugKind, Created, Origin, Prim, Report, Sandbox, Tainted,
    MAX_ORIGIN_DEPTH,
};

/// The line of the call that created the poison behind `r`.
fn root_line(r: &Report) -> u32 {
    r.origin
        .expect("report has an origin")
        .root()
        .1
        .location
        .line()
}

/// What created the poison behind `r`.
fn root_kind(r: &Report) -> Created {
    r.origin.expect("report has an origin").root().0
}

/// The lines of the "stored to memory at" links of `o`, most recent first.
fn store_lines(o: Origin) -> Vec<u32> {
    o.stores().iter().map(|s| s.location.line()).collect()
}

/// A value whose bits set in `shadow` are uninitialized, with a `Local` origin created at the
/// caller. (`Tainted::uninit` should do the same; see `tainted_uninit_origin_is_its_caller`.)
#[track_caller]
fn local<T: Prim>(value: T, shadow: T) -> Tainted<T> {
    let origin = (shadow != Tainted::init(value).shadow).then_some(Origin::new(Created::Local));
    Tainted {
        value,
        shadow,
        origin,
    }
}

/// Uses a value the way the kernel suite's `USE()` does: as a branch condition.
#[track_caller]
fn use_value(v: Tainted<u32>) -> bool {
    v.eq(Tainted::init(0)).branch()
}

// ---------------------------------------------------------------------------------------
// Allocations
// ---------------------------------------------------------------------------------------

#[test]
fn uninit_kmalloc_is_reported_with_the_alloc_as_origin() {
    let mut sb = Sandbox::new(4096);
    let (p, at) = (sb.alloc(4, false).unwrap(), line!());
    let ((), reps) = collect(|| {
        let v = sb.load::<u32>(p).unwrap();
        assert_eq!(v.shadow, u32::MAX);
        use_value(v);
    });
    assert_eq!(reps.len(), 1, "{reps:#?}");
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, None, "a value use has no byte range");
    assert_eq!(root_kind(&reps[0]), Created::Alloc);
    assert_eq!(root_line(&reps[0]), at);
    assert!(reps[0].render().contains("(allocation)"));

    let (runs, reps) = collect(|| sb.check(p, 4).unwrap());
    assert_eq!(runs.len(), 1);
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, Some((0, 3, 4)));
    assert_eq!(root_line(&reps[0]), at);
    assert!(reps[0]
        .render()
        .contains("Bytes 0-3 of 4 are uninitialized"));
}

#[test]
fn kmalloc_then_memset_is_initialized() {
    let mut sb = Sandbox::new(4096);
    let p = sb.alloc(4, false).unwrap();
    sb.memset(p, 0, 4).unwrap();
    let (runs, reps) = collect(|| {
        use_value(sb.load::<u32>(p).unwrap());
        sb.check(p, 4).unwrap()
    });
    assert!(runs.is_empty());
    assert!(reps.is_empty(), "{reps:#?}");
    assert_eq!(sb.origin_at(p).unwrap(), None);
}

#[test]
fn kzalloc_is_initialized() {
    let mut sb = Sandbox::new(4096);
    let p = sb.alloc(4, true).unwrap();
    let (v, reps) = collect(|| check!(sb.load::<u32>(p).unwrap()));
    assert_eq!(v, 0);
    assert!(reps.is_empty(), "{reps:#?}");
}

#[test]
fn vmalloc_sized_buffer_memset_then_checked_page_by_page() {
    const PAGE: usize = 4096;
    let mut sb = Sandbox::new(9 * PAGE);
    let buf = sb.alloc(8 * PAGE, false).unwrap();
    sb.store(buf, Tainted::init(1u8)).unwrap();
    sb.memset(buf, 0xfe, 8 * PAGE).unwrap();
    let ((), reps) = collect(|| {
        assert_eq!(check!(sb.load::<u8>(buf).unwrap()), 0xfe);
        for i in 0..8 {
            assert!(sb.check(buf + i * PAGE, PAGE).unwrap().is_empty());
        }
    });
    assert!(reps.is_empty(), "{reps:#?}");
}

// ---------------------------------------------------------------------------------------
// Locals and parameters
// ---------------------------------------------------------------------------------------

#[test]
fn uninit_local_is_reported_with_the_local_as_origin() {
    let (cond, at) = (local::<u32>(0, u32::MAX), line!());
    let (_, reps) = collect(|| use_value(cond));
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, None);
    assert_eq!(root_kind(&reps[0]), Created::Local);
    assert_eq!(root_line(&reps[0]), at);
    assert!(reps[0].render().contains("(local)"));
}

#[test]
fn tainted_uninit_origin_is_its_caller() {
    let (v, at) = (Tainted::<u8>::uninit(0, 1), line!());
    assert_eq!(v.origin.unwrap().root().1.location.line(), at);
}

#[test]
fn initialized_local_is_silent() {
    let (_, reps) = collect(|| use_value(Tainted::init(1)));
    assert!(reps.is_empty());
}

#[inline(never)]
fn two_param_fn_2(a: Tainted<u32>, b: Tainted<u32>) {
    check!(a);
    check!(b);
}

#[inline(never)]
fn one_param_fn(a: Tainted<u32>) {
    two_param_fn_2(a, a);
    check!(a);
}

#[inline(never)]
fn two_param_fn(a: Tainted<u32>, b: Tainted<u32>) {
    one_param_fn(Tainted::init(0));
    check!(a);
    check!(b);
}

#[test]
fn uninit_parameter_is_reported_where_used() {
    let (uninit, at) = (local::<u32>(7, u32::MAX), line!());
    let ((), reps) = collect(|| two_param_fn(uninit, Tainted::init(1)));
    assert_eq!(reps.len(), 1, "{reps:#?}");
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, None);
    assert_eq!(root_line(&reps[0]), at);
    assert_eq!(
        reps[0].title(),
        format!("KMSAN: uninit-value in {}::two_param_fn", module_path!())
    );
}

fn sum3(a: Tainted<u32>, b: Tainted<u32>, c: Tainted<u32>) -> Tainted<u32> {
    a + b + c
}

#[test]
fn uninit_argument_taints_the_result() {
    let (c, at) = (local::<u32>(0, 0xff), line!());
    let (a, b) = (Tainted::init(1), Tainted::init(3));
    let s = sum3(a, b, c);
    assert_eq!(s.shadow, u32::MAX, "garbage carries upward from bit 0");
    let (_, reps) = collect(|| use_value(s));
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, None);
    assert_eq!(root_line(&reps[0]), at);
}

// ---------------------------------------------------------------------------------------
// Partially initialized values and kmsan_check_memory
// ---------------------------------------------------------------------------------------

#[test]
fn partially_initialized_u64_reports_exactly_its_uninit_bytes() {
    let mut sb = Sandbox::new(4096);
    let (p, at) = (sb.alloc(8, false).unwrap(), line!());
    sb.store(p, Tainted::init(0xdead_beef_u32)).unwrap();
    let v = sb.load::<u64>(p).unwrap();
    assert_eq!(v.shadow, 0xffff_ffff_0000_0000);
    assert_eq!(v.value & 0xffff_ffff, 0xdead_beef);
    let (_, reps) = collect(|| check!(v));
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, None);
    assert_eq!(root_line(&reps[0]), at);

    // The low half alone is fine to use.
    let (_, reps) = collect(|| check!(v & Tainted::init(0xffff_ffff)));
    assert!(reps.is_empty(), "{reps:#?}");

    let (runs, reps) = collect(|| sb.check(p, 8).unwrap());
    assert_eq!(runs.len(), 1);
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, Some((4, 7, 8)));
    assert_eq!(root_line(&reps[0]), at);
    let text = reps[0].render();
    assert!(text.contains("Bytes 4-7 of 8 are uninitialized"), "{text}");
    assert!(
        text.contains(&format!("Memory access of size 8 starts at {p:#x}")),
        "{text}"
    );
}

#[test]
fn check_memory_on_a_partly_uninit_local_array() {
    // A local array of 8 bytes, initialized, into which bytes 5 and 6 receive an
    // uninitialized local.
    let mut sb = Sandbox::new(4096);
    let arr = sb.alloc(8, true).unwrap();
    let (uninit, at) = (local::<u8>(0, 0xff), line!());
    let mut store_at = 0;
    for i in 5..7 {
        store_at = (sb.store(arr + i, uninit).unwrap(), line!()).1;
    }
    // Named outside the closure: inside one, `function!()` ends in `::{{closure}}`.
    let me = shadow::function!();
    let (runs, reps) = collect(|| sb.check_in(arr, 8, Some(me)).unwrap());
    assert_eq!(runs.len(), 1);
    assert_eq!(reps.len(), 1, "{reps:#?}");
    let r = &reps[0];
    assert_eq!(r.kind, BugKind::UninitValue);
    assert_eq!(r.bytes, Some((5, 6, 8)));
    assert_eq!(root_kind(r), Created::Local);
    assert_eq!(root_line(r), at);
    assert_eq!(store_lines(r.origin.unwrap()), vec![store_at]);
    assert_eq!(
        r.title(),
        format!(
            "KMSAN: uninit-value in {}::check_memory_on_a_partly_uninit_local_array",
            module_path!()
        )
    );
}

#[test]
fn single_uninit_byte_is_reported_as_one_byte() {
    let mut sb = Sandbox::new(4096);
    let p = sb.alloc(8, true).unwrap();
    let at = (sb.poison(p + 6, 1).unwrap(), line!()).1;
    let (_, reps) = collect(|| sb.check(p, 8).unwrap());
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, Some((6, 6, 8)));
    assert_eq!(root_kind(&reps[0]), Created::Poison);
    assert_eq!(root_line(&reps[0]), at);
    let text = reps[0].render();
    assert!(text.contains("Byte 6 of 8 is uninitialized"), "{text}");
    assert!(text.contains("(poison)"), "{text}");
}

#[test]
fn check_splits_runs_by_origin() {
    let mut sb = Sandbox::new(4096);
    let p = sb.alloc(16, true).unwrap();
    let a = (sb.poison(p + 2, 6).unwrap(), line!()).1;
    let b = (sb.poison(p + 8, 5).unwrap(), line!()).1;
    let (runs, reps) = collect(|| sb.check(p, 16).unwrap());
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(reps.len(), 2, "{reps:#?}");
    for r in &reps {
        assert_eq!(r.kind, BugKind::UninitValue);
        assert_eq!(r.addr, Some(p));
    }
    assert_eq!(reps[0].bytes, Some((2, 7, 16)));
    assert_eq!(root_line(&reps[0]), a);
    assert_eq!(reps[1].bytes, Some((8, 12, 16)));
    assert_eq!(root_line(&reps[1]), b);
    assert!(reps[0]
        .render()
        .contains("Bytes 2-7 of 16 are uninitialized"));
    assert!(reps[1]
        .render()
        .contains("Bytes 8-12 of 16 are uninitialized"));
}

#[test]
fn check_splits_runs_on_initialized_bytes() {
    let mut sb = Sandbox::new(4096);
    let (p, at) = (sb.alloc(12, false).unwrap(), line!());
    sb.store(p + 4, Tainted::init(0u16)).unwrap();
    let (runs, reps) = collect(|| sb.check(p, 12).unwrap());
    assert_eq!(
        runs.iter().map(|r| (r.first, r.last)).collect::<Vec<_>>(),
        vec![(0, 3), (6, 11)]
    );
    assert_eq!(reps.len(), 2);
    assert_eq!(reps[0].bytes, Some((0, 3, 12)));
    assert_eq!(reps[1].bytes, Some((6, 11, 12)));
    for r in &reps {
        assert_eq!(r.kind, BugKind::UninitValue);
        assert_eq!(root_line(r), at);
    }
}

// ---------------------------------------------------------------------------------------
// Use after free
// ---------------------------------------------------------------------------------------

#[test]
fn use_after_free_reports_the_access_and_the_use() {
    let mut sb = Sandbox::new(4096);
    let var = sb.alloc(80, false).unwrap();
    sb.store(var + 12, Tainted::init(0xfeed_face_u32)).unwrap();
    let at = (sb.free(var).unwrap(), line!()).1;
    assert!(sb.is_freed(var + 79));
    let (value, reps) = collect(|| sb.load::<u32>(var + 12).unwrap());
    assert_eq!(reps.len(), 1, "the access itself is reported: {reps:#?}");
    assert_eq!(reps[0].kind, BugKind::UseAfterFree);
    assert_eq!(reps[0].bytes, Some((0, 3, 4)));
    assert_eq!(reps[0].addr, Some(var + 12));
    assert_eq!(root_kind(&reps[0]), Created::Free);
    assert_eq!(root_line(&reps[0]), at);

    // The value read out of freed memory carries the free as its origin.
    assert!(!value.is_init());
    let (_, reps) = collect(|| use_value(value));
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UseAfterFree);
    assert_eq!(reps[0].bytes, None);
    assert_eq!(root_line(&reps[0]), at);
    assert!(reps[0].title().starts_with("KMSAN: use-after-free in "));

    // Checking freed memory also says use-after-free.
    let (_, reps) = collect(|| sb.check(var, 80).unwrap());
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UseAfterFree);
    assert_eq!(reps[0].bytes, Some((0, 79, 80)));
    assert_eq!(root_line(&reps[0]), at);
}

#[test]
fn stores_and_copies_touching_freed_memory_are_reported() {
    let mut sb = Sandbox::new(4096);
    let live = sb.alloc(16, true).unwrap();
    let dead = sb.alloc(16, true).unwrap();
    let at = (sb.free(dead).unwrap(), line!()).1;
    assert!(!sb.is_freed(live));
    let ((), reps) = collect(|| {
        sb.store(dead + 8, Tainted::init(1u64)).unwrap();
        sb.memcpy(live, dead, 8).unwrap();
        sb.memset(dead, 0, 2).unwrap();
    });
    assert_eq!(reps.len(), 3, "{reps:#?}");
    for r in &reps {
        assert_eq!(r.kind, BugKind::UseAfterFree);
        assert_eq!(root_line(r), at);
    }
    assert_eq!(reps[0].bytes, Some((0, 7, 8)));
    assert_eq!(reps[1].bytes, Some((0, 7, 8)));
    assert_eq!(reps[2].bytes, Some((0, 1, 2)));
    // Accesses to the live neighbour are not.
    let ((), reps) = collect(|| {
        sb.store(live + 8, Tainted::init(1u64)).unwrap();
        sb.load::<u64>(live + 8).unwrap();
    });
    assert!(reps.is_empty(), "{reps:#?}");
}

#[test]
fn double_free_is_reported_with_the_first_free_as_origin() {
    let mut sb = Sandbox::new(4096);
    let p = sb.alloc(24, false).unwrap();
    let first = (sb.free(p).unwrap(), line!()).1;
    let (res, reps) = collect(|| sb.free(p));
    assert_eq!(res, Ok(()));
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UseAfterFree);
    assert_eq!(reps[0].bytes, Some((0, 23, 24)));
    assert_eq!(root_line(&reps[0]), first);
}

// ---------------------------------------------------------------------------------------
// Propagation through memory
// ---------------------------------------------------------------------------------------

#[test]
fn uninit_value_stored_and_loaded_keeps_its_origin() {
    // The per-CPU case: an uninitialized local stored to memory and read back.
    let mut sb = Sandbox::new(4096);
    let slot = sb.alloc(4, true).unwrap();
    let (uninit, at) = (local::<u32>(0, u32::MAX), line!());
    let st = (sb.store(slot, uninit).unwrap(), line!()).1;
    let v = sb.load::<u32>(slot).unwrap();
    let (_, reps) = collect(|| use_value(v));
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, None);
    assert_eq!(root_line(&reps[0]), at);
    assert_eq!(store_lines(reps[0].origin.unwrap()), vec![st]);
    let text = reps[0].render();
    assert!(text.contains("Uninit was stored to memory at:"), "{text}");
    assert!(text.contains("Uninit was created at:"), "{text}");
}

#[test]
fn memcpy_of_initialized_memory_is_silent() {
    let mut sb = Sandbox::new(4096);
    let src = sb.alloc(8, false).unwrap();
    let dst = sb.alloc(8, true).unwrap();
    sb.store(src, Tainted::init(1u64)).unwrap();
    sb.memcpy(dst, src, 8).unwrap();
    let (runs, reps) = collect(|| sb.check(dst, 8).unwrap());
    assert!(runs.is_empty() && reps.is_empty(), "{reps:#?}");
    assert_eq!(sb.load::<u64>(dst).unwrap(), Tainted::init(1));
}

#[test]
fn memcpy_aligned_to_aligned_chains_the_origin() {
    let mut sb = Sandbox::new(4096);
    let (src, at) = (sb.alloc(4, false).unwrap(), line!());
    let dst = sb.alloc(4, true).unwrap();
    let cp = (sb.memcpy(dst, src, 4).unwrap(), line!()).1;
    let (_, reps) = collect(|| sb.check(dst, 4).unwrap());
    assert_eq!(reps.len(), 1);
    let r = &reps[0];
    assert_eq!(r.kind, BugKind::UninitValue);
    assert_eq!(r.bytes, Some((0, 3, 4)));
    assert_eq!(root_kind(r), Created::Alloc);
    assert_eq!(root_line(r), at);
    assert_eq!(store_lines(r.origin.unwrap()), vec![cp]);
    let text = r.render();
    assert!(text.contains("Uninit was stored to memory at:"), "{text}");
    assert!(
        text.contains(&format!(":{cp}:")),
        "the memcpy's frame: {text}"
    );
}

#[test]
fn memcpy_aligned_to_unaligned_poisons_both_destination_slots() {
    let mut sb = Sandbox::new(4096);
    let (src, at) = (sb.alloc(4, false).unwrap(), line!());
    let dst = sb.alloc(8, true).unwrap();
    let cp = (sb.memcpy(dst + 1, src, 4).unwrap(), line!()).1;

    // First destination slot: bytes 1-3 of it.
    let (_, reps) = collect(|| sb.check(dst, 4).unwrap());
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, Some((1, 3, 4)));
    assert_eq!(root_line(&reps[0]), at);
    assert_eq!(store_lines(reps[0].origin.unwrap()), vec![cp]);

    // Second destination slot: byte 0 of it.
    let (_, reps) = collect(|| sb.check(dst + 4, 4).unwrap());
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, Some((0, 0, 4)));
    assert_eq!(root_line(&reps[0]), at);
    assert_eq!(store_lines(reps[0].origin.unwrap()), vec![cp]);
    assert!(reps[0].render().contains("Byte 0 of 4 is uninitialized"));

    // Exactly bytes 1-4 of the destination.
    let shadow: Vec<u8> = (0..8).map(|i| sb.shadow_at(dst + i).unwrap()).collect();
    assert_eq!(shadow, [0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0]);
}

#[test]
fn unaligned_copy_of_two_origins_across_slots() {
    // Source: bytes 0-3 poisoned at line `a`, bytes 4-7 at line `b`. Copied to offset 2 of
    // the destination (a higher address: the copy runs backwards), they land in three
    // destination slots; the middle slot (bytes 4-7) receives bytes of both and takes the
    // origin of the bytes copied last, the first half's.
    let mut sb = Sandbox::new(4096);
    let src = sb.alloc(8, true).unwrap();
    let a = (sb.poison(src, 4).unwrap(), line!()).1;
    let b = (sb.poison(src + 4, 4).unwrap(), line!()).1;
    let dst = sb.alloc(12, true).unwrap();
    let cp = (sb.memcpy(dst + 2, src, 8).unwrap(), line!()).1;
    let (runs, reps) = collect(|| sb.check(dst, 12).unwrap());
    assert_eq!(runs.first().map(|r| r.first), Some(2));
    assert_eq!(runs.last().map(|r| r.last), Some(9));
    assert_eq!(reps.len(), 2, "{reps:#?}");
    assert_eq!(reps[0].bytes, Some((2, 7, 12)));
    assert_eq!(root_line(&reps[0]), a);
    assert_eq!(reps[1].bytes, Some((8, 9, 12)));
    assert_eq!(root_line(&reps[1]), b);
    for r in &reps {
        assert_eq!(r.kind, BugKind::UninitValue);
        assert_eq!(store_lines(r.origin.unwrap()), vec![cp]);
    }

    // The same bytes copied to a lower address run forwards: the middle slot then takes
    // the second half's origin.
    let low = sb.alloc(32, true).unwrap();
    let src = low + 16;
    let a = (sb.poison(src, 4).unwrap(), line!()).1;
    let b = (sb.poison(src + 4, 4).unwrap(), line!()).1;
    sb.memcpy(low + 2, src, 8).unwrap();
    let (_, reps) = collect(|| sb.check(low, 12).unwrap());
    assert_eq!(reps.len(), 2, "{reps:#?}");
    assert_eq!(reps[0].bytes, Some((2, 3, 12)));
    assert_eq!(root_line(&reps[0]), a);
    assert_eq!(reps[1].bytes, Some((4, 9, 12)));
    assert_eq!(root_line(&reps[1]), b);
}

#[test]
fn memcpy_between_differently_aligned_sandboxes() {
    // A base that is not 4-aligned: slots follow absolute addresses, not offsets.
    let mut sb = Sandbox::with_base(0x2001, 256);
    let (src, at) = (sb.alloc(6, false).unwrap(), line!());
    let dst = sb.alloc(16, true).unwrap();
    sb.memcpy(dst + 3, src, 6).unwrap();
    let (_, reps) = collect(|| sb.check(dst, 16).unwrap());
    assert_eq!(reps.len(), 1, "{reps:#?}");
    assert_eq!(reps[0].bytes, Some((3, 8, 16)));
    assert_eq!(root_line(&reps[0]), at);
    assert_eq!(reps[0].origin.unwrap().depth(), 1);
}

#[test]
fn memmove_overlapping_forwards_and_backwards() {
    // dst > src: the copy runs backwards so the overlapping source is read first.
    let mut sb = Sandbox::new(4096);
    let buf = sb.alloc(16, true).unwrap();
    for i in 0..8 {
        sb.store(buf + i, Tainted::init(i as u8 + 1)).unwrap();
    }
    let at = (sb.poison(buf, 4).unwrap(), line!()).1;
    let mv = (sb.memmove(buf + 1, buf, 8).unwrap(), line!()).1;
    let data: Vec<u8> = (1..9).map(|i| sb.byte_at(buf + i).unwrap()).collect();
    assert_eq!(&data[4..], &[5, 6, 7, 8], "initialized bytes moved by one");
    let shadow: Vec<u8> = (0..10).map(|i| sb.shadow_at(buf + i).unwrap()).collect();
    assert_eq!(shadow, [0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0]);
    let (_, reps) = collect(|| sb.check(buf, 16).unwrap());
    assert_eq!(reps.len(), 1, "{reps:#?}");
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, Some((0, 4, 16)));
    assert_eq!(root_line(&reps[0]), at);
    let o = reps[0].origin.unwrap();
    assert_eq!(
        store_lines(o),
        vec![mv],
        "one link per copy, not one per byte"
    );
    assert_eq!(o.depth(), 1);

    // dst < src: forwards.
    let buf = sb.alloc(16, true).unwrap();
    let at = (sb.poison(buf + 4, 4).unwrap(), line!()).1;
    let mv = (sb.memmove(buf, buf + 3, 8).unwrap(), line!()).1;
    let shadow: Vec<u8> = (0..12).map(|i| sb.shadow_at(buf + i).unwrap()).collect();
    assert_eq!(shadow, [0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0]);
    let (_, reps) = collect(|| sb.check(buf, 16).unwrap());
    assert_eq!(reps.len(), 1, "{reps:#?}");
    assert_eq!(reps[0].bytes, Some((1, 4, 16)));
    assert_eq!(root_line(&reps[0]), at);
    let o = reps[0].origin.unwrap();
    assert_eq!(store_lines(o), vec![mv]);
    assert_eq!(o.depth(), 1);
}

#[test]
fn memmove_within_one_slot_region_by_many_bytes() {
    // A long backwards overlapping move across many slots keeps one chain link.
    let mut sb = Sandbox::new(4096);
    let buf = sb.alloc(64, true).unwrap();
    let at = (sb.poison(buf, 32).unwrap(), line!()).1;
    let mv = (sb.memmove(buf + 5, buf, 32).unwrap(), line!()).1;
    let (_, reps) = collect(|| sb.check(buf, 64).unwrap());
    // Bytes 0-3 were not written by the move and keep the poison's own origin; the rest
    // (including byte 4, whose slot received moved bytes) carry one chain link.
    assert_eq!(reps.len(), 2, "{reps:#?}");
    assert_eq!(reps[0].bytes, Some((0, 3, 64)));
    assert_eq!(reps[0].origin.unwrap().depth(), 0);
    assert_eq!(root_line(&reps[0]), at);
    assert_eq!(reps[1].bytes, Some((4, 36, 64)));
    assert_eq!(root_line(&reps[1]), at);
    assert_eq!(store_lines(reps[1].origin.unwrap()), vec![mv]);
}

#[test]
fn memset_of_every_width_initializes() {
    for width in [2usize, 4, 8] {
        let mut sb = Sandbox::new(4096);
        let p = sb.alloc(width, false).unwrap();
        sb.memset(p, 0, width).unwrap();
        let (runs, reps) = collect(|| sb.check(p, width).unwrap());
        assert!(
            runs.is_empty() && reps.is_empty(),
            "width {width}: {reps:#?}"
        );
        assert_eq!(sb.origin_at(p).unwrap(), None);
    }
}

#[test]
fn partial_memset_keeps_the_rest_poisoned() {
    let mut sb = Sandbox::new(4096);
    let (p, at) = (sb.alloc(8, false).unwrap(), line!());
    sb.memset(p + 1, 0x11, 5).unwrap();
    let (_, reps) = collect(|| sb.check(p, 8).unwrap());
    assert_eq!(reps.len(), 2);
    assert_eq!(reps[0].bytes, Some((0, 0, 8)));
    assert_eq!(reps[1].bytes, Some((6, 7, 8)));
    for r in &reps {
        assert_eq!(r.kind, BugKind::UninitValue);
        assert_eq!(root_line(r), at);
    }
}

fn fibonacci(sb: &mut Sandbox, array: usize, size: usize, start: usize) {
    if start < 2 || start == size {
        return;
    }
    let a = sb.load::<u32>(array + 4 * (start - 1)).unwrap();
    let b = sb.load::<u32>(array + 4 * (start - 2)).unwrap();
    sb.store(array + 4 * start, a + b).unwrap();
    fibonacci(sb, array, size, start + 1);
}

#[test]
fn long_origin_chain_is_capped() {
    let len = usize::from(MAX_ORIGIN_DEPTH) * 2 + 2;
    let mut sb = Sandbox::new(4096);
    let (accum, at) = (sb.alloc(4 * len, false).unwrap(), line!());
    // accum[1] is never written, so accum[2..] inherit its poison through the sums.
    sb.store(accum, Tainted::init(1u32)).unwrap();
    fibonacci(&mut sb, accum, len, 2);
    let last = accum + 4 * (len - 1);
    let (_, reps) = collect(|| sb.check(last, 4).unwrap());
    assert_eq!(reps.len(), 1);
    let r = &reps[0];
    assert_eq!(r.kind, BugKind::UninitValue);
    assert_eq!(r.bytes, Some((0, 3, 4)));
    assert_eq!(root_line(r), at);
    let o = r.origin.unwrap();
    assert_eq!(o.depth(), MAX_ORIGIN_DEPTH);
    assert_eq!(o.stores().len(), usize::from(MAX_ORIGIN_DEPTH));
    let text = r.render();
    assert!(
        text.contains("<Zero or more stacks not recorded to save memory>"),
        "{text}"
    );
    assert_eq!(
        text.matches("Uninit was stored to memory at:").count(),
        usize::from(MAX_ORIGIN_DEPTH)
    );
    // A shorter chain is not summarized.
    let (_, reps) = collect(|| sb.check(accum + 4 * 4, 4).unwrap());
    assert_eq!(reps[0].origin.unwrap().depth(), 3);
    assert!(!reps[0].render().contains("stacks not recorded"));
}

#[test]
fn copying_uninit_memory_without_using_it_is_silent() {
    let ((), reps) = collect(|| {
        let mut sb = Sandbox::new(4096);
        let src = sb.alloc(32, false).unwrap();
        let dst = sb.alloc(32, true).unwrap();
        sb.memcpy(dst, src, 32).unwrap();
        sb.memmove(dst + 3, dst, 16).unwrap();
        let v = sb.load::<u64>(dst).unwrap();
        let w = (v + Tainted::init(1)) ^ Tainted::init(7);
        sb.store(src + 8, w).unwrap();
        let _ = sb.load::<u16>(src + 9).unwrap();
    });
    assert!(reps.is_empty(), "{reps:#?}");
}

// ---------------------------------------------------------------------------------------
// The runtime: disable(), titles, report text
// ---------------------------------------------------------------------------------------

#[test]
fn disable_nests_and_silences_reports() {
    let mut sb = Sandbox::new(4096);
    let (p, at) = (sb.alloc(8, false).unwrap(), line!());
    let ((), reps) = collect(|| {
        let outer = disable();
        {
            let _inner = disable();
            sb.check(p, 8).unwrap();
        }
        // Still disabled: the outer guard is alive.
        sb.check(p, 8).unwrap();
        check!(sb.load::<u64>(p).unwrap());
        drop(outer);
    });
    assert!(reps.is_empty(), "{reps:#?}");
    let (_, reps) = collect(|| sb.check(p, 8).unwrap());
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, Some((0, 7, 8)));
    assert_eq!(root_line(&reps[0]), at);
}

fn parse_header(sb: &Sandbox, p: usize) -> u32 {
    check!(sb.load::<u32>(p).unwrap())
}

#[test]
fn report_title_and_text_follow_kmsan() {
    let mut sb = Sandbox::new(4096);
    let (p, at) = (sb.alloc(4, false).unwrap(), line!());
    let (_, reps) = collect(|| parse_header(&sb, p));
    assert_eq!(reps.len(), 1);
    let r = &reps[0];
    assert_eq!(r.kind, BugKind::UninitValue);
    assert_eq!(r.bytes, None);
    assert_eq!(root_line(r), at);
    let title = format!("KMSAN: uninit-value in {}::parse_header", module_path!());
    assert_eq!(r.title(), title);
    let text = r.render();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("=========="), "{text}");
    assert_eq!(lines[1], format!("BUG: {title}"));
    assert!(text.contains("Uninit was created at:"), "{text}");
    assert!(text.contains(&format!("{}:{at}:", file!())), "{text}");
    assert!(lines.last().unwrap().starts_with("=========="), "{text}");

    // A memory check adds the byte range and the access.
    let (_, reps) = collect(|| sb.check_in(p, 4, Some("my_driver::probe")).unwrap());
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].title(), "KMSAN: uninit-value in my_driver::probe");
    assert_eq!(reps[0].bytes, Some((0, 3, 4)));
    assert_eq!(root_line(&reps[0]), at);
    let text = reps[0].render();
    assert!(
        text.contains("BUG: KMSAN: uninit-value in my_driver::probe\n"),
        "{text}"
    );
    assert!(
        text.contains("Bytes 0-3 of 4 are uninitialized\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Memory access of size 4 starts at {p:#x}\n")),
        "{text}"
    );

    // Without a function name the title falls back to file:line of the use.
    let (_, reps) = collect(|| sb.load::<u32>(p).unwrap().check());
    assert!(reps[0].title().starts_with("KMSAN: uninit-value in "));
    assert!(reps[0].title().contains("kmsan.rs:"), "{}", reps[0].title());
}

// ---------------------------------------------------------------------------------------
// The registry, on real heap memory
// ---------------------------------------------------------------------------------------

/// A heap buffer registered for the test's duration.
struct Tracked(Vec<u8>);

impl Tracked {
    fn addr(&self) -> usize {
        self.0.as_ptr() as usize
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        registry::unregister(self.addr());
    }
}

#[test]
fn registry_poison_unpoison_check() {
    let buf = Tracked(vec![0u8; 64]);
    let a = buf.addr();
    assert!(!registry::is_tracked(a));
    let at = (registry::register(a, 64, false), line!()).1;
    assert!(registry::is_tracked(a + 63));
    registry::unpoison(a, 16);
    registry::unpoison(a + 20, 44);
    let (runs, reps) = collect(|| registry::check(a, 64));
    assert_eq!(runs.len(), 1);
    assert_eq!(reps.len(), 1, "{reps:#?}");
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, Some((16, 19, 64)));
    assert_eq!(reps[0].addr, Some(a));
    assert_eq!(root_kind(&reps[0]), Created::Alloc);
    assert_eq!(root_line(&reps[0]), at);

    let p = (registry::poison(a + 40, 3), line!()).1;
    let (_, reps) = collect(|| registry::check_in(a + 32, 16, Some("drv::rx")));
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].title(), "KMSAN: uninit-value in drv::rx");
    assert_eq!(reps[0].bytes, Some((8, 10, 16)));
    assert_eq!(root_kind(&reps[0]), Created::Poison);
    assert_eq!(root_line(&reps[0]), p);

    registry::unpoison(a, 64);
    let (runs, reps) = collect(|| registry::check(a, 64));
    assert!(runs.is_empty() && reps.is_empty());
}

#[test]
fn registry_zeroed_and_untracked_memory_is_initialized() {
    let buf = Tracked(vec![0u8; 32]);
    registry::register(buf.addr(), 32, true);
    let untracked = [0u8; 16];
    let (_, reps) = collect(|| {
        registry::check(buf.addr(), 32);
        registry::check(untracked.as_ptr() as usize, 16);
    });
    assert!(reps.is_empty(), "{reps:#?}");
}

#[test]
fn registry_copy_moves_poison_and_chains_once() {
    let src = Tracked(vec![0u8; 16]);
    let dst = Tracked(vec![0u8; 16]);
    registry::register(src.addr(), 16, true);
    registry::register(dst.addr(), 16, true);
    let at = (registry::poison(src.addr() + 4, 4), line!()).1;
    registry::copy(dst.addr() + 8, src.addr(), 8);
    let (_, reps) = collect(|| registry::check(dst.addr(), 16));
    assert_eq!(reps.len(), 1, "{reps:#?}");
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, Some((12, 15, 16)));
    assert_eq!(root_line(&reps[0]), at);
    let o = reps[0].origin.unwrap();
    assert!(!o.stores().is_empty(), "the copy is a store link");

    // From untracked memory the destination becomes initialized.
    let plain = [7u8; 8];
    registry::copy(dst.addr() + 8, plain.as_ptr() as usize, 8);
    let (runs, _) = collect(|| registry::check(dst.addr(), 16));
    assert!(runs.is_empty());
}

#[test]
fn registry_copy_adds_exactly_one_chain_link() {
    let src = Tracked(vec![0u8; 8]);
    let dst = Tracked(vec![0u8; 8]);
    registry::register(src.addr(), 8, false);
    registry::register(dst.addr(), 8, true);
    let cp = (registry::copy(dst.addr(), src.addr(), 8), line!()).1;
    let (_, reps) = collect(|| registry::check(dst.addr(), 8));
    assert_eq!(store_lines(reps[0].origin.unwrap()), vec![cp]);
}

#[test]
fn registry_poison_freed_reports_use_after_free() {
    let buf = Tracked(vec![0u8; 48]);
    registry::register(buf.addr(), 48, true);
    let at = (registry::poison_freed(buf.addr()), line!()).1;
    let (_, reps) = collect(|| registry::check(buf.addr() + 8, 8));
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UseAfterFree);
    assert_eq!(reps[0].bytes, Some((0, 7, 8)));
    assert_eq!(root_kind(&reps[0]), Created::Free);
    assert_eq!(root_line(&reps[0]), at);
    assert!(reps[0].title().starts_with("KMSAN: use-after-free in "));
}

// ---------------------------------------------------------------------------------------
// Tainted propagation rules
// ---------------------------------------------------------------------------------------

#[test]
fn or_with_initialized_ones_is_initialized() {
    let junk = local::<u32>(0x55, u32::MAX);
    assert!((junk | Tainted::init(u32::MAX)).is_init());
    assert!((Tainted::init(u32::MAX) | junk).is_init());
    let half = junk | Tainted::init(0xffff_0000);
    assert_eq!(half.shadow, 0x0000_ffff);
    assert_eq!(half.origin, junk.origin);
    // An initialized zero does not help an OR.
    assert_eq!((junk | Tainted::init(0)).shadow, u32::MAX);
}

#[test]
fn and_with_initialized_zero_is_initialized() {
    let junk = local::<u64>(0x55, u64::MAX);
    assert!((junk & Tainted::init(0)).is_init());
    assert_eq!((junk & Tainted::init(0)).origin, None);
    assert_eq!((junk & Tainted::init(0xff)).shadow, 0xff);
    // An initialized one does not help an AND.
    assert_eq!((junk & Tainted::init(u64::MAX)).shadow, u64::MAX);
    let (_, reps) = collect(|| check!(junk & Tainted::init(0)));
    assert!(reps.is_empty());
}

#[test]
fn arithmetic_poisons_from_the_lowest_uninit_bit_upward() {
    let (x, at) = (local::<u32>(0, 0x0000_0100), line!());
    let one = Tainted::init(1u32);
    for r in [x + one, one + x, x - one, one * x] {
        assert_eq!(r.shadow, 0xffff_ff00);
        assert_eq!(r.origin, x.origin);
    }
    // The low byte is still usable.
    let (_, reps) = collect(|| check!((x + one) & Tainted::init(0xff)));
    assert!(reps.is_empty());
    let (_, reps) = collect(|| check!(x + one));
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, None);
    assert_eq!(root_line(&reps[0]), at);
    assert!((Tainted::init(2u8) + Tainted::init(3)).is_init());
}

#[test]
fn xor_and_not_keep_the_shadow() {
    let x = local::<u16>(0, 0x0f0f);
    assert_eq!((x ^ Tainted::init(0xffff)).shadow, 0x0f0f);
    assert_eq!((!x).shadow, 0x0f0f);
    assert_eq!((x ^ x).shadow, 0x0f0f, "x ^ x is not known to be 0");
}

#[test]
fn comparisons_are_initialized_when_known_bits_differ() {
    let (x, at) = (local::<u32>(0b1000, 0b0011), line!());
    // Bit 3 is initialized and set: x cannot equal 0.
    let ne = x.eq(Tainted::init(0));
    assert!(ne.init);
    assert!(!ne.value);
    // x may equal 0b1001: the answer depends on garbage.
    let maybe = x.eq(Tainted::init(0b1001));
    assert!(!maybe.init);
    let (_, reps) = collect(|| maybe.branch());
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, None);
    assert_eq!(root_line(&reps[0]), at);
    let (_, reps) = collect(|| ne.branch());
    assert!(reps.is_empty());
    assert!(Tainted::init(5u32).eq(Tainted::init(5)).branch());
}

#[test]
fn shifts_move_the_shadow_or_poison_everything() {
    let x = local::<u32>(0, 0x0000_00f0);
    assert_eq!((x << 8).shadow, 0x0000_f000);
    assert_eq!((x >> 4).shadow, 0x0000_000f);
    let gone = x >> 8;
    assert!(gone.is_init(), "all uninit bits shifted out");
    assert_eq!(gone.origin, None);
    let (amount, at) = (local::<u32>(1, 1), line!());
    let r = Tainted::init(1u32).shl_by(amount);
    assert_eq!(
        r.shadow,
        u32::MAX,
        "an uninit shift amount poisons everything"
    );
    let (_, reps) = collect(|| check!(r));
    assert_eq!(reps.len(), 1);
    assert_eq!(root_line(&reps[0]), at);
    assert_eq!(
        Tainted::init(0x80u32).shr_by(Tainted::init(7)),
        Tainted::init(1)
    );
}

#[test]
fn index_use_is_checked() {
    let mut sb = Sandbox::new(4096);
    let (p, at) = (sb.alloc(8, false).unwrap(), line!());
    sb.store(p, Tainted::init(3u32)).unwrap();
    let (i, reps) = collect(|| sb.load::<u32>(p).unwrap().index());
    assert_eq!(i, 3);
    assert!(reps.is_empty());
    let (_, reps) = collect(|| sb.load::<u32>(p + 4).unwrap().index());
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    assert_eq!(reps[0].bytes, None);
    assert_eq!(root_line(&reps[0]), at);
}

// ---------------------------------------------------------------------------------------
// Differential: a long random sequence against a byte-per-byte reference
// ---------------------------------------------------------------------------------------

#[test]
fn shadow_matches_a_simple_reference_under_random_operations() {
    differential(200, 20, 2000);
}

#[test]
fn shadow_matches_a_simple_reference_over_many_chunks() {
    // Long operations over a region several dirty-map words long.
    differential(9000, 700, 300);
}

/// Random poison/unpoison/memmove/store/load on a `size`-byte block at three alignments,
/// operations up to `max_n` bytes long, compared after each step with a plain byte array of
/// shadow.
fn differential(size: usize, max_n: usize, iters: usize) {
    // A small xorshift so the test needs no dependency.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for base in [0x1000usize, 0x1001, 0x1003] {
        let mut sb = Sandbox::with_base(base, size + 64);
        let p = sb.alloc(size, true).unwrap();
        let mut reference = vec![0u8; size];
        for _ in 0..iters {
            let (a, b) = (next(size - max_n), next(size - max_n));
            let n = next(max_n);
            match next(6) {
                0 => {
                    sb.poison(p + a, n).unwrap();
                    reference[a..a + n].fill(0xff);
                }
                1 => {
                    sb.unpoison(p + a, n).unwrap();
                    reference[a..a + n].fill(0);
                }
                2 => {
                    sb.memmove(p + a, p + b, n).unwrap();
                    reference.copy_within(b..b + n, a);
                }
                3 => {
                    let s = (next(256) as u64 * 0x0101_0101_0101_0101) & 0xff00_ff00_00ff_ff00;
                    let v = local(0u64, s);
                    sb.store(p + a, v).unwrap();
                    reference[a..a + 8].copy_from_slice(&s.to_le_bytes());
                }
                4 => {
                    sb.store(p + a, Tainted::init(a as u32)).unwrap();
                    reference[a..a + 4].fill(0);
                }
                _ => {
                    let v = sb.load::<u64>(p + a).unwrap();
                    let want = u64::from_le_bytes(reference[a..a + 8].try_into().unwrap());
                    assert_eq!(v.shadow, want);
                    assert_eq!(v.origin.is_some(), want != 0);
                }
            }
            let want: Vec<u8> = (0..size).map(|i| reference[i]).collect();
            let got: Vec<u8> = (0..size).map(|i| sb.shadow_at(p + i).unwrap()).collect();
            assert_eq!(got, want);
            // Every poisoned byte has an origin, and every fully clean slot has none.
            for i in 0..size {
                let o = sb.origin_at(p + i).unwrap();
                if reference[i] != 0 {
                    assert!(o.is_some(), "byte {i} poisoned without origin");
                }
                let slot_start = (p + i) / 4 * 4;
                let clean = (slot_start..slot_start + 4)
                    .filter(|&x| x >= p && x < p + size)
                    .all(|x| reference[x - p] == 0);
                if clean {
                    assert_eq!(o, None, "byte {i}: clean slot keeps an origin");
                }
            }
            let (_, reps) = collect(|| sb.check(p, size).unwrap());
            let poisoned = reps
                .iter()
                .map(|r| r.bytes.unwrap())
                .map(|(f, l, _)| l - f + 1)
                .sum::<usize>();
            assert_eq!(poisoned, reference.iter().filter(|&&b| b != 0).count());
        }
    }
}

#[test]
fn function_macro_names_the_enclosing_fn_even_in_closures() {
    let in_closure = || shadow::function!();
    let name = in_closure();
    assert!(
        name.ends_with("::function_macro_names_the_enclosing_fn_even_in_closures"),
        "{name}"
    );
}

#[test]
fn a_panic_inside_collect_does_not_leave_the_scope_open() {
    let v = shadow::Tainted::<u64>::uninit(0, 1);
    let r = std::panic::catch_unwind(|| {
        shadow::collect(|| {
            panic!("the code under test failed");
        })
    });
    assert!(r.is_err());
    // Had the scope stayed open, this report would be swallowed into it instead of
    // reaching the default sink, which panics.
    let reported = std::panic::catch_unwind(|| {
        let _ = v.check();
    });
    assert!(
        reported.is_err(),
        "the report after the panic was swallowed"
    );
    let ((), outer) = shadow::collect(|| {
        let ((), inner) = shadow::collect(|| {
            let _ = v.check();
        });
        assert_eq!(inner.len(), 1);
        let _ = v.check();
    });
    assert_eq!(outer.len(), 1, "nested scopes keep their own reports");
}

/// Word checks are answered from a per-thread cache of clean words; every change that can
/// poison a word (poison, free, unregister then register again, a copy from poisoned
/// memory) must make the next check of that word look again.
#[test]
fn registry_clean_word_cache_never_hides_a_later_poison() {
    let buf = Tracked(vec![0u8; 64]);
    let src = Tracked(vec![0u8; 64]);
    let a = buf.addr();
    let word = (a + 7) & !7;
    let clean = |w: usize| collect(|| registry::check(w, 8)).1.is_empty();
    registry::register(a, 64, true);
    registry::register(src.addr(), 64, false);
    for _ in 0..3 {
        assert!(clean(word), "zeroed memory is initialized");
    }
    // A poison of one byte of the cached word.
    let p = (registry::poison(word + 5, 1), line!()).1;
    let (_, reps) = collect(|| registry::check(word, 8));
    assert_eq!(reps.len(), 1, "{reps:#?}");
    assert_eq!(reps[0].bytes, Some((5, 5, 8)));
    assert_eq!(root_line(&reps[0]), p);
    registry::unpoison(word, 8);
    assert!(clean(word));
    // A copy of uninitialized bytes over it.
    registry::copy(word, src.addr(), 8);
    assert_eq!(collect(|| registry::check(word, 8)).1.len(), 1);
    registry::unpoison(word, 8);
    assert!(clean(word));
    // Unregistered, then registered again poisoned at the same address (a slab reuse).
    registry::unregister(a);
    registry::register(a, 64, false);
    let (_, reps) = collect(|| registry::check(word, 8));
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UninitValue);
    registry::unpoison(a, 64);
    assert!(clean(word));
    // Freed: the next check is a use-after-free.
    registry::poison_freed(a);
    let (_, reps) = collect(|| registry::check(word, 8));
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0].kind, BugKind::UseAfterFree);
    // A word poisoned by another thread after this thread cached it.
    registry::unregister(a);
    registry::register(a, 64, true);
    assert!(clean(word));
    std::thread::scope(|s| {
        s.spawn(|| registry::poison(word, 8));
    });
    assert_eq!(collect(|| registry::check(word, 8)).1.len(), 1);
}
