//! The sequences of lib/test_maple_tree.c that drive a cursor (`MaState`) through the tree:
//! `mas_find_rev`, `mas_next`/`mas_prev` across nodes, stores through an iterating cursor,
//! the cursor's state machine, gap searches followed by `mas_store` on the same state, and
//! the spanning store and tree copy written through cursors. They observe cursor states and
//! node boundaries the model has no notion of, so they run on the tree only.

use super::api::*;

/// Port of `check_rev_find`.
#[test]
fn check_rev_find() {
    let mt = Tree::new_alloc();
    for i in 0..=200u64 {
        mt.store_range(i * 10, i * 10 + 5, Some(i)).unwrap();
    }

    let mut g = mt.lock();
    let mut mas = g.ma_state(0, 0);
    mas.set(1000);
    assert_eq!(mas.find_rev(1000), Some(100));
    assert_eq!(mas.find_rev(1000), None);

    mas.set(999);
    assert_eq!(mas.find_rev(997), None);

    mas.set(1000);
    assert_eq!(mas.find_rev(900), Some(100));
    assert_eq!(mas.find_rev(900), Some(99));

    mas.set(20);
    assert_eq!(mas.find_rev(0), Some(2));
    assert_eq!(mas.find_rev(0), Some(1));
    assert_eq!(mas.find_rev(0), Some(0));
    assert_eq!(mas.find_rev(0), None);
}

/// Port of `check_iteration`.
#[test]
fn check_iteration() {
    let mt = Tree::new_alloc();
    for i in 0..=125u64 {
        mt.store_range(i * 10, i * 10 + 9, Some(i)).unwrap();
    }

    {
        let mut g = mt.lock();
        let mut mas = g.ma_state(0, 0);

        // The kernel writes mas.index/mas.last and calls mas_store on the active state; the port
        // uses mas_set_range, which restarts the store's walk from the root. The resulting tree
        // and cursor range are the same.
        let mut i = 0;
        while let Some(val) = mas.find(925) {
            check_range(&mas, i * 10, i * 10 + 9);
            // Overwrite the end of entry 92.
            if i == 92 {
                mas.set_range(925, 929);
                mas.store(Some(val)).unwrap();
            }
            i += 1;
        }
        assert_eq!(i, 93, "added: iterations");
        // The next mas_find moves on to the following entry.
        assert_eq!(mas.find(u64::MAX), Some(i));

        mas.set(0);
        let mut i = 0;
        while let Some(val) = mas.find(785) {
            check_range(&mas, i * 10, i * 10 + 9);
            // Overwrite the start of entry 78.
            if i == 78 {
                mas.set_range(780, 785);
                mas.store(Some(val)).unwrap();
            } else {
                i += 1;
            }
        }
        assert_eq!(mas.find(u64::MAX), Some(i));

        mas.set(0);
        let mut i = 0;
        while let Some(val) = mas.find(765) {
            check_range(&mas, i * 10, i * 10 + 9);
            // Overwrite the end of entry 76 and run to the end.
            if i == 76 {
                mas.set_range(760, 765);
                mas.store(Some(val)).unwrap();
            }
            i += 1;
        }
        // The next find returns what is left of entry 76: 766-769.
        assert_eq!(mas.find(u64::MAX), Some(76));
    }
    mt.validate().unwrap();
}

/// Port of `check_next_entry`.
#[test]
fn check_next_entry() {
    let mut mt = Tree::new();
    let limit = 30;
    assert!(mt.is_empty());
    seq(&mut mt, limit);

    let mut g = mt.lock();
    let mut mas = g.ma_state(0, 0);
    assert_eq!(mas.walk(), Some(0));
    for i in 1..=limit + 1 {
        let entry = mas.next(limit);
        if i > limit {
            assert_eq!(entry, None);
        } else {
            assert_eq!(entry, Some(i));
        }
    }
}

/// Port of `check_prev_entry`.
#[test]
fn check_prev_entry() {
    let index = 16;
    let mut mt = Tree::new_alloc();
    seq(&mut mt, 30);
    {
        let mut g = mt.lock();
        let mut mas = g.ma_state(index, index);
        assert_eq!(mas.find(u64::MAX), Some(index));
        assert_eq!(mas.prev(0), Some(index - 1));
    }
    mt.destroy();

    // The limits of mas_prev.
    let mt = Tree::new_alloc();
    let mut g = mt.lock();
    let mut mas = g.ma_state(index, index);
    for i in 0..=index {
        mas.set_range(i * 10, i * 10 + 5);
        mas.store(Some(i)).unwrap();
    }

    mas.set(20);
    assert_eq!(mas.walk(), Some(2));
    assert_eq!(mas.prev(19), None);

    mas.set(80);
    assert_eq!(mas.walk(), Some(8));
    assert_eq!(mas.prev(76), None);
}

/// Port of `next_prev_test` (64-bit numbers).
#[test]
fn next_prev_test() {
    let nr_entries: u64 = 200;
    let level2: [u64; 6] = [707, 1000, 710, 715, 720, 725];
    let last_index: u64 = 0x7d6;

    let mt = Tree::new_alloc();
    for i in 0..=nr_entries {
        mt.store_range(i * 10, i * 10 + 5, Some(i)).unwrap();
    }

    {
        let mut g = mt.lock();
        let mut mas = g.ma_state(0, 0);
        // The kernel stops this loop early on ma_none, which it cannot reach here; the status is
        // not exposed, so the loop runs its full count.
        for _ in 0..=nr_entries / 2 {
            mas.next(1000);
        }
        mas.reset();
        mas.set(0);
        let mut i = 0;
        while mas.find(1000).is_some() {
            i += 1;
        }
        assert_eq!(i, 101, "added: entries starting at or below 1000");

        mas.reset();
        mas.set(0);
        let mut i = 0;
        while mas.find(1000).is_some() {
            mas.pause();
            i += 1;
        }
        assert_eq!(i, 101, "added: entries starting at or below 1000, paused");

        // 680-685 = 68, 686-689 = NULL, 690-695 = 69: simple next/prev.
        mas.set(686);
        assert_eq!(mas.walk(), None);

        assert_eq!(mas.next(1000), Some(690 / 10));
        check_range(&mas, 690, 695);

        assert_eq!(mas.prev(0), Some(680 / 10));
        check_range(&mas, 680, 685);

        assert_eq!(mas.next(1000), Some(690 / 10));
        check_range(&mas, 690, 695);

        assert_eq!(mas.next(1000), Some(700 / 10));
        check_range(&mas, 700, 705);

        // Across node boundaries.
        mas.set(70);
        assert_eq!(mas.walk(), Some(70 / 10));
        check_range(&mas, 70, 75);

        assert_eq!(mas.next(1000), Some(80 / 10));
        check_range(&mas, 80, 85);

        assert_eq!(mas.prev(70), Some(70 / 10));
        check_range(&mas, 70, 75);

        // Across two levels of the tree.
        mas.reset();
        mas.set(level2[0]);
        assert_eq!(mas.walk(), None);
        assert_eq!(mas.next(level2[1]), Some(level2[2] / 10));
        check_range(&mas, level2[2], level2[3]);

        assert_eq!(mas.next(level2[1]), Some(level2[4] / 10));
        check_range(&mas, level2[4], level2[5]);
        // Skipped: `mn == mas.node` (node identity is not exposed).

        assert_eq!(mas.prev(0), Some(level2[2] / 10));
        check_range(&mas, level2[2], level2[3]);

        // Off the end and back.
        mas.set(nr_entries * 10);
        assert_eq!(mas.walk(), Some(nr_entries));
        check_range(&mas, nr_entries * 10, nr_entries * 10 + 5);

        assert_eq!(mas.next(u64::MAX), None);
        check_range(&mas, last_index, u64::MAX);

        assert_eq!(mas.prev(0), Some(nr_entries));
        check_range(&mas, nr_entries * 10, nr_entries * 10 + 5);

        // Off the start and back.
        mas.reset();
        mas.set(10);
        assert_eq!(mas.walk(), Some(1));
        check_range(&mas, 10, 15);

        assert_eq!(mas.prev(0), Some(0));
        check_range(&mas, 0, 5);

        assert_eq!(mas.prev(0), None);
        check_range(&mas, 0, 5);
        // Skipped: `mas_is_underflow(&mas)` (the status is not exposed).

        // The kernel writes mas.index/mas.last and stores NULL; it resets the state right after.
        mas.set_range(0, 5);
        mas.store(None).unwrap();
        mas.reset();
        mas.set(10);
        mas.walk();

        assert_eq!(mas.prev(0), None);
        check_range(&mas, 0, 9);
    }
    mt.destroy();

    let mt = Tree::new();
    mt.store_range(0, 0, Some(0)).unwrap();
    mt.store_range(5, 5, Some(5)).unwrap();
    let mut g = mt.lock();
    let mut mas = g.ma_state(0, 0);
    mas.set(5);
    assert_eq!(mas.prev(4), None);
}

/// Port of `check_state_handling`. Every `mas.status` / `mas_is_active` / `mas_is_overflow` /
/// `mas_is_underflow` assertion of the kernel is skipped: the status is not exposed.
#[test]
fn check_state_handling() {
    let ptr: u64 = 0x1234500;
    let ptr2: u64 = 0x7ff0_0010; // &ptr
    let ptr3: u64 = 0x7ff0_0020; // &ptr2

    let mt = Tree::new_alloc();
    // A single entry at 0 (the root pointer case).
    mt.store_range(0, 0, Some(ptr)).unwrap();
    {
        let mut g = mt.lock();
        let mut mas = g.ma_state(0, 0);
        // prev: start -> underflow
        assert_eq!(mas.prev(0), None);

        // prev: start -> root
        mas.set(10);
        assert_eq!(mas.prev(0), Some(ptr));
        check_range(&mas, 0, 0);

        // prev: pause -> root
        mas.set(10);
        mas.pause();
        assert_eq!(mas.prev(0), Some(ptr));
        check_range(&mas, 0, 0);

        // next: start -> none
        mas.set(0);
        assert_eq!(mas.next(u64::MAX), None);
        check_range(&mas, 1, u64::MAX);

        // next: start -> none
        mas.set(10);
        assert_eq!(mas.next(u64::MAX), None);
        check_range(&mas, 1, u64::MAX);

        // find: start -> root
        mas.set(0);
        assert_eq!(mas.find(u64::MAX), Some(ptr));
        check_range(&mas, 0, 0);

        // find: root -> none
        assert_eq!(mas.find(u64::MAX), None);
        check_range(&mas, 1, u64::MAX);

        // find: none -> none
        assert_eq!(mas.find(u64::MAX), None);
        check_range(&mas, 1, u64::MAX);

        // find: start -> none
        mas.set(10);
        assert_eq!(mas.find(u64::MAX), None);
        check_range(&mas, 1, u64::MAX);

        // find_rev: none -> root
        assert_eq!(mas.find_rev(0), Some(ptr));
        check_range(&mas, 0, 0);

        // find_rev: start -> root
        mas.set(0);
        assert_eq!(mas.find_rev(0), Some(ptr));
        check_range(&mas, 0, 0);

        // find_rev: root -> none
        assert_eq!(mas.find_rev(0), None);
        check_range(&mas, 0, 0);

        // find_rev: none -> none
        assert_eq!(mas.find_rev(0), None);
        check_range(&mas, 0, 0);

        // find_rev: start -> root
        mas.set(10);
        assert_eq!(mas.find_rev(0), Some(ptr));
        check_range(&mas, 0, 0);

        // walk: start -> none
        mas.set(10);
        assert_eq!(mas.walk(), None);
        check_range(&mas, 1, u64::MAX);

        // walk: pause -> none
        mas.set(10);
        mas.pause();
        assert_eq!(mas.walk(), None);
        check_range(&mas, 1, u64::MAX);

        // walk: none -> none. The kernel writes index = last = 10 keeping ma_none; mas_walk
        // restarts from ma_start for any state but active, so mas_set is the same.
        mas.set(10);
        assert_eq!(mas.walk(), None);
        check_range(&mas, 1, u64::MAX);

        // walk: none -> none
        assert_eq!(mas.walk(), None);
        check_range(&mas, 1, u64::MAX);

        // walk: start -> root
        mas.set(0);
        assert_eq!(mas.walk(), Some(ptr));
        check_range(&mas, 0, 0);

        // walk: pause -> root
        mas.set(0);
        mas.pause();
        assert_eq!(mas.walk(), Some(ptr));
        check_range(&mas, 0, 0);

        // walk: none -> root (kernel: `mas.status = ma_none`; see above)
        mas.set(0);
        assert_eq!(mas.walk(), Some(ptr));
        check_range(&mas, 0, 0);

        // walk: root -> root
        assert_eq!(mas.walk(), Some(ptr));
        check_range(&mas, 0, 0);

        // walk: root -> none
        mas.set(10);
        assert_eq!(mas.walk(), None);
        check_range(&mas, 1, u64::MAX);

        // walk: none -> root (kernel: index = last = 0 with ma_none; see above)
        mas.set(0);
        assert_eq!(mas.walk(), Some(ptr));
        check_range(&mas, 0, 0);
    }

    // A tree with a node.
    mt.store_range(0, 0, None).unwrap();
    mt.store_range(0x1000, 0x1500, Some(ptr)).unwrap();
    mt.store_range(0x2000, 0x2500, Some(ptr2)).unwrap();
    mt.store_range(0x3000, 0x3500, Some(ptr3)).unwrap();

    let mut g = mt.lock();
    let mut mas = g.ma_state(0, 0);

    // next: start -> active
    mas.set(0);
    assert_eq!(mas.next(u64::MAX), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // next: pause -> active
    mas.set(0);
    mas.pause();
    assert_eq!(mas.next(u64::MAX), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // next: none -> active. The kernel sets index = last = 0 and ma_none; mas_next treats
    // ma_none like ma_start on a tree with nodes, so mas_set is the same.
    mas.set(0);
    assert_eq!(mas.next(u64::MAX), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // next: active -> active (spanning limit)
    assert_eq!(mas.next(0x2100), Some(ptr2));
    check_range(&mas, 0x2000, 0x2500);

    // next: active -> overflow (limit reached) beyond data
    assert_eq!(mas.next(0x2999), None);
    check_range(&mas, 0x2501, 0x2fff);

    // next: overflow -> active (limit changed)
    assert_eq!(mas.next(u64::MAX), Some(ptr3));
    check_range(&mas, 0x3000, 0x3500);

    // next: active -> overflow (limit reached)
    assert_eq!(mas.next(u64::MAX), None);
    check_range(&mas, 0x3501, u64::MAX);

    // next: overflow -> overflow
    assert_eq!(mas.next(u64::MAX), None);
    check_range(&mas, 0x3501, u64::MAX);

    // prev: overflow -> active
    assert_eq!(mas.prev(0), Some(ptr3));
    check_range(&mas, 0x3000, 0x3500);

    // next: none -> active, skipping the value at the location. The kernel sets ma_none
    // keeping index/last (0x1000-0x1500); mas_next restarts it like ma_start, i.e. walks
    // mas.index and then steps, so mas_set_range with the same range is the same.
    mas.set(0);
    mas.next(u64::MAX);
    let (index, last) = (mas.index(), mas.last());
    mas.set_range(index, last);
    assert_eq!(mas.next(u64::MAX), Some(ptr2));
    check_range(&mas, 0x2000, 0x2500);

    // prev: active -> active
    assert_eq!(mas.prev(0), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // prev: active -> underflow (span limit)
    mas.next(u64::MAX);
    assert_eq!(mas.prev(0x1200), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);
    assert_eq!(mas.prev(0x1200), None);
    check_range(&mas, 0x1000, 0x1500);

    // prev: underflow -> underflow (lower limit) spanning the end of a range
    assert_eq!(mas.prev(0x0100), None);
    check_range(&mas, 0, 0x0fff);

    // prev: underflow -> underflow
    assert_eq!(mas.prev(0), None);
    check_range(&mas, 0, 0x0fff);

    // prev: underflow -> underflow
    assert_eq!(mas.prev(0), None);
    check_range(&mas, 0, 0x0fff);

    // next: underflow -> active
    assert_eq!(mas.next(u64::MAX), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // prev: first value -> underflow
    assert_eq!(mas.prev(0x1000), None);
    check_range(&mas, 0x1000, 0x1500);

    // find: underflow -> first value
    assert_eq!(mas.find(u64::MAX), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // prev: pause -> active
    mas.set(0x3600);
    assert_eq!(mas.prev(0), Some(ptr3));
    mas.pause();
    assert_eq!(mas.prev(0), Some(ptr2));
    check_range(&mas, 0x2000, 0x2500);

    // prev: active -> underflow spanning min
    assert_eq!(mas.prev(0x1600), None);
    check_range(&mas, 0x1501, 0x1fff);

    // prev: active -> active, continue
    assert_eq!(mas.prev(0), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // find: start -> active
    mas.set(0);
    assert_eq!(mas.find(u64::MAX), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // find: pause -> active
    mas.set(0);
    mas.pause();
    assert_eq!(mas.find(u64::MAX), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // find: start -> active on value (1200 is decimal in the kernel test)
    mas.set(1200);
    assert_eq!(mas.find(u64::MAX), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // find: active -> active
    assert_eq!(mas.find(u64::MAX), Some(ptr2));
    check_range(&mas, 0x2000, 0x2500);

    // find: active -> active (NULL)
    assert_eq!(mas.find(0x2700), None);
    check_range(&mas, 0x2501, 0x2fff);

    // find: overflow -> active
    assert_eq!(mas.find(0x5000), Some(ptr3));
    check_range(&mas, 0x3000, 0x3500);

    // find: active -> active (NULL) end
    assert_eq!(mas.find(u64::MAX), None);
    check_range(&mas, 0x3501, u64::MAX);

    // find_rev: active (END) -> active
    assert_eq!(mas.find_rev(0), Some(ptr3));
    check_range(&mas, 0x3000, 0x3500);

    // find_rev: active -> active
    assert_eq!(mas.find_rev(0), Some(ptr2));
    check_range(&mas, 0x2000, 0x2500);

    // find_rev: pause -> active
    mas.pause();
    assert_eq!(mas.find_rev(0), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // find_rev: active -> underflow
    assert_eq!(mas.find_rev(0), None);
    check_range(&mas, 0, 0x0fff);

    // find_rev: start -> active
    mas.set(0x1200);
    assert_eq!(mas.find_rev(0), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // walk: start -> active
    mas.set(0x1200);
    assert_eq!(mas.walk(), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // walk: start -> active (NULL range)
    mas.set(0x1600);
    assert_eq!(mas.walk(), None);
    check_range(&mas, 0x1501, 0x1fff);

    // walk: pause -> active
    mas.set(0x1200);
    mas.pause();
    assert_eq!(mas.walk(), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // walk: pause -> active (NULL range)
    mas.set(0x1600);
    mas.pause();
    assert_eq!(mas.walk(), None);
    check_range(&mas, 0x1501, 0x1fff);

    // walk: none -> active. (Kernel: mas_set then `mas.status = ma_none`; mas_walk restarts
    // ma_none as ma_start, so plain mas_set is the same.)
    mas.set(0x1200);
    assert_eq!(mas.walk(), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // walk: none -> active (NULL range)
    mas.set(0x1600);
    assert_eq!(mas.walk(), None);
    check_range(&mas, 0x1501, 0x1fff);

    // walk: active -> active. (Kernel: index = last = 0x1200, offset = 0 on the active state;
    // the tree is a single leaf, so re-walking from the root gives the same.)
    mas.set(0x1200);
    assert_eq!(mas.walk(), Some(ptr));
    check_range(&mas, 0x1000, 0x1500);

    // walk: active -> active (NULL range)
    mas.set(0x1600);
    assert_eq!(mas.walk(), None);
    check_range(&mas, 0x1501, 0x1fff);
}

/// Port of `check_empty_area_fill`.
#[test]
fn check_empty_area_fill() {
    let max: u64 = 0x25D78000;
    let mt = Tree::new_alloc();

    for shift in 12..=16 {
        let size = 1u64 << shift;
        for _ in 0..5000 {
            let mut g = mt.lock();
            let mut mas = g.ma_state(0, 0);
            assert_eq!(mas.empty_area(0, max, size), Ok(()), "size {size:#x}");
            assert_eq!(mas.last(), mas.index() + size - 1);
            mas.store(Some(size)).unwrap();
        }
    }

    // No space left.
    {
        let mut g = mt.lock();
        let mut mas = g.ma_state(0, 0);
        assert_eq!(model_err(mas.empty_area(0, max, 0x1000)), EBUSY);
    }

    // Fill a depth-3 node to the maximum.
    let mut i: u64 = 629440511;
    while i <= 629440800 {
        mt.store_range(i, i + 5, Some(i)).unwrap();
        i += 6;
    }
    // Make space in the second-last depth-4 node, then in the last one.
    mt.erase(631668735);
    mt.erase(629506047);
    // Search from just after the gap in the second-last depth-4 node.
    let mut g = mt.lock();
    let mut mas = g.ma_state(0, 0);
    assert_eq!(mas.empty_area(629506048, 690000000, 0x5000), Ok(()));
}
/// Port of `check_bnode_min_spanning`.
#[test]
fn check_bnode_min_spanning() {
    // `check_bnode_min_spanning` (a function pointer) is the value.
    let val = 0x5150;
    let mt = Tree::new_alloc();
    {
        let mut g = mt.lock();
        let mut mas = g.ma_state(0, 0);
        for i in (0..=50u64).rev() {
            mas.set_range(i * 10, i * 10 + 9);
            mas.store(Some(val)).unwrap();
        }
        mas.set_range(240, 509);
        mas.store(None).unwrap();
    }
    // Added: validate and check the contents.
    mt.validate().unwrap();
    let want: Vec<(u64, u64, u64)> = (0..24u64).map(|i| (i * 10, i * 10 + 9, val)).collect();
    assert_eq!(mt.ranges(), want);
}

/// Port of `check_mas_store_gfp`: copy a tree range by range through a second cursor.
#[test]
fn check_mas_store_gfp() {
    let mt = Tree::new_alloc();
    for i in 0..=135u64 {
        mt.store_range(i * 10, i * 10 + 5, Some(i)).unwrap();
    }
    let newmt = Tree::new_alloc();
    {
        let mut ng = newmt.lock();
        let mut newmas = ng.ma_state(0, 0);
        let mut g = mt.lock();
        let mut mas = g.ma_state(0, 0);
        while let Some(val) = mas.find(u64::MAX) {
            newmas.set_range(mas.index(), mas.last());
            newmas.store(Some(val)).unwrap();
        }
    }
    newmt.validate().unwrap();
    // Added: the copy equals the original.
    assert_eq!(newmt.ranges(), mt.ranges());
    newmt.destroy();
}
