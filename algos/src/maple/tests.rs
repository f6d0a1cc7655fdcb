//! Differential tests of the tree against the reference model ([`super::model`]), with
//! `validate()` after every operation, for both tree kinds and both modes.

use super::model::{ModelError, RangeModel};
use super::MapleTree;

/// The reference (`maple::model`, the oracle of every maple check).
type Model = RangeModel<u64>;

/// The model's stored ranges, as the tree's `ranges()` lists them.
fn model_ranges(m: &Model) -> Vec<(u64, u64, u64)> {
    m.ranges().map(|(f, l, &v)| (f, l, v)).collect()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn run(seed: u64, alloc: bool, rcu: bool, ops: usize, space: u64) {
    let mt: MapleTree<u64> = if alloc {
        MapleTree::new_alloc()
    } else {
        MapleTree::new()
    };
    if rcu {
        mt.set_in_rcu();
    }
    let mut m = if alloc {
        Model::new_alloc()
    } else {
        Model::new()
    };
    let mut rng = Rng(seed | 1);
    for step in 0..ops {
        let a = rng.below(space);
        let len = match rng.below(4) {
            0 => 0,
            1 => rng.below(4),
            2 => rng.below(40),
            _ => rng.below(space / 4 + 1),
        };
        let b = (a + len).min(space);
        let what = rng.below(10);
        let ctx =
            || format!("seed {seed} alloc {alloc} rcu {rcu} step {step}: op {what} [{a}, {b}]");
        match what {
            0..=4 => {
                let v = rng.next() >> 1;
                mt.store_range(a, b, Some(v)).expect("store");
                m.store_range(a, b, Some(v)).expect("store");
            }
            5 | 6 => {
                mt.store_range(a, b, None).expect("erase range");
                m.store_range(a, b, None).expect("erase range");
            }
            7 => {
                let got = mt.erase(a);
                assert_eq!(got, m.erase(a), "{}", ctx());
            }
            8 => {
                let v = rng.next() >> 1;
                let r = mt.insert_range(a, b, v).map_err(ModelError::from);
                assert_eq!(r, m.insert_range(a, b, v), "{}", ctx());
            }
            _ => {
                if alloc {
                    let size = 1 + rng.below(20);
                    let v = rng.next() >> 1;
                    // The lowest fit in [a, space]; -EINVAL for a window smaller than the size.
                    let r = mt.alloc_range(a, space, size, v).map_err(ModelError::from);
                    assert_eq!(r, m.alloc_range(a, space, size, v), "{}", ctx());
                    if r == Err(ModelError::Invalid) {
                        // Nothing changed; the step ends here (this keeps every seed's
                        // random stream what it was when the seeds were chosen).
                        continue;
                    }
                }
            }
        }
        if let Err(e) = mt.validate() {
            panic!("{}: {e}", ctx());
        }
        for _ in 0..4 {
            let i = rng.below(space + 2);
            assert_eq!(mt.load(i), m.load(i), "{} load {i}", ctx());
        }
        if step % 16 == 0 {
            let got: Vec<(u64, u64, u64)> = mt.ranges();
            assert_eq!(got, model_ranges(&m), "{}", ctx());
        }
    }
    let got: Vec<(u64, u64, u64)> = mt.ranges();
    assert_eq!(got, model_ranges(&m), "seed {seed} final");
}

#[test]
fn differential_small_space() {
    // Miri checks the unsafe node code on a few short runs; the full sweep is for native runs.
    let (seeds, ops) = if cfg!(miri) {
        (3, 60)
    } else if cfg!(feature = "sanitize") {
        (40, 300)
    } else {
        (200, 300)
    };
    for seed in 1..seeds {
        for (alloc, rcu) in [(false, false), (false, true), (true, false), (true, true)] {
            run(seed, alloc, rcu, ops, 200);
        }
    }
}

#[test]
fn differential_large_space() {
    let (seeds, ops) = if cfg!(miri) {
        (2, 150)
    } else if cfg!(feature = "sanitize") {
        (5, 2000)
    } else {
        (20, 2000)
    };
    for seed in 1..seeds {
        for (alloc, rcu) in [(false, false), (true, true), (true, false), (false, true)] {
            run(seed, alloc, rcu, ops, 20_000);
        }
    }
}

#[test]
fn sequential_inserts_grow_and_shrink() {
    for rcu in [false, true] {
        let mt: MapleTree<u64> = MapleTree::new_alloc();
        if rcu {
            mt.set_in_rcu();
        }
        let n: u64 = if cfg!(miri) { 300 } else { 5000 };
        for i in 0..n {
            mt.store_range(i * 10, i * 10 + 5, Some(i)).expect("store");
        }
        mt.validate().expect("valid after inserts");
        assert!(mt.height() >= 3, "rcu {rcu} height {}", mt.height());
        for i in 0..n {
            assert_eq!(mt.load(i * 10 + 3), Some(i));
            assert_eq!(mt.load(i * 10 + 7), None);
        }
        for i in (0..n).rev() {
            assert_eq!(mt.erase(i * 10), Some(i));
            if i % 97 == 0 {
                mt.validate().expect("valid while erasing");
            }
        }
        assert!(mt.is_empty());
        assert_eq!(mt.height(), 0);
    }
}

/// `mas_for_each` with a store in the loop body: after `mas.store`, `find` continues after
/// the range just written, so every entry is visited exactly once.
#[test]
fn store_during_iteration_moves_past_the_stored_range() {
    for rcu in [false, true] {
        let mt: MapleTree<u64> = MapleTree::new();
        if rcu {
            mt.set_in_rcu();
        }
        for k in 0..100u64 {
            mt.store_range(10 * k, 10 * k + 4, Some(k)).expect("store");
        }
        let mut seen = Vec::new();
        {
            let mut g = mt.lock();
            let mut mas = g.ma_state(0, 0);
            while let Some(v) = mas.find(u64::MAX) {
                seen.push(v);
                // A `find` that did not move past the store would loop forever.
                assert!(seen.len() <= 100, "find revisits stored entries: {seen:?}");
                // Grow the range over the following gap, as a VMA merge would.
                let (i, l) = (mas.index(), mas.last());
                mas.set_range(i, l + 3);
                mas.store(Some(v + 1000)).expect("store");
            }
        }
        assert_eq!(seen, (0..100).collect::<Vec<_>>(), "rcu {rcu}");
        mt.validate().expect("valid");
        for k in 0..100u64 {
            assert_eq!(mt.load(10 * k + 7), Some(k + 1000));
            assert_eq!(mt.load(10 * k + 8), None);
        }
    }
}

/// Lock-free readers racing a writer on real threads: every value read belongs to a range
/// that contains the index read (a torn or stale-freed node would break this).
#[test]
fn rcu_readers_race_a_writer() {
    use crate::sync::atomic::{AtomicBool, Ordering};
    use crate::sync::{thread, Arc};
    let mt: Arc<MapleTree<u64>> = Arc::new(MapleTree::new_alloc());
    mt.set_in_rcu();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (mt, stop) = (mt.clone(), stop.clone());
            thread::spawn(move || {
                let mut rng = Rng(0x9e37 + r);
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let i = rng.below(5000);
                    if let Some(v) = mt.load(i) {
                        let (a, b) = (v >> 32, v & 0xffff_ffff);
                        assert!(a <= i && i <= b, "load({i}) = [{a}, {b}]");
                    }
                    let mut j = i;
                    if let Some(v) = mt.find(&mut j, 6000) {
                        let (a, b) = (v >> 32, v & 0xffff_ffff);
                        // The range found is what is left of [a, b] after later stores.
                        assert!(
                            j > i && a < j && j - 1 <= b,
                            "find({i}) = [{a}, {b}], next {j}"
                        );
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let mut rng = Rng(12345);
    let writes = if cfg!(miri) { 300 } else { 20_000 };
    for _ in 0..writes {
        let a = rng.below(5000);
        let b = a + rng.below(30);
        if rng.below(3) == 0 {
            mt.store_range(a, b, None).expect("erase");
        } else {
            mt.store_range(a, b, Some((a << 32) | b)).expect("store");
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().expect("reader") > 0);
    }
    mt.validate().expect("valid");
}

/// In-order appends go through `mas_push_data`: a full rightmost leaf first pushes into
/// its left sibling, filling it to `slots - 1`, so every leaf but the last two is that full
/// (the kernel's `check_ranges` relies on it to keep 1300 ranges within height 3).
#[test]
fn in_order_appends_pack_leaves() {
    let mt: MapleTree<u64> = MapleTree::new_alloc();
    for i in 0..=960u64 {
        mt.store_range(i * 10, i * 10 + 10, Some(i)).expect("store");
    }
    let shape = mt.shape();
    assert_eq!(shape.len(), 3, "{shape:?}");
    let leaves = shape.last().expect("leaves");
    assert!(
        leaves[..leaves.len() - 2].iter().all(|&n| n == 15),
        "{leaves:?}"
    );
    assert!(mt.write_stats().push > 0);
}

/// Regressions found by the `maple_ops` fuzz target: a store that covers every index of a
/// tree with internal nodes (each old entry was freed twice), and an area that ends at
/// `u64::MAX` (its end overflowed).
#[test]
fn whole_range_store_and_area_at_the_top() {
    for entry in [None, Some(7u16)] {
        let mt = MapleTree::<u16>::new();
        for k in 0..20u64 {
            mt.store_range(10 * k, 10 * k + 5, Some(1)).expect("store");
        }
        assert_eq!(mt.height(), 2);
        mt.store_range(0, u64::MAX, entry)
            .expect("store everything");
        mt.validate().expect("valid");
        assert_eq!(mt.load(12345), entry);
    }
    let mt = MapleTree::<u16>::new_alloc();
    mt.store_range(5, 6, Some(1)).expect("store");
    let mut g = mt.lock();
    let mut mas = g.ma_state(0, 0);
    mas.empty_area_rev(0, u64::MAX, 1).expect("area");
    assert_eq!((mas.index(), mas.last()), (u64::MAX, u64::MAX));
    mas.empty_area(7, u64::MAX, 3).expect("area");
    assert_eq!((mas.index(), mas.last()), (7, 9));
}

/// A short run of every tree kind and mode, sized for Miri (which checks the raw-pointer
/// node code under Stacked and Tree Borrows; CI runs it under Miri, the sweeps above only
/// natively).
#[test]
fn miri_smoke() {
    for (alloc, rcu) in [(false, false), (false, true), (true, false), (true, true)] {
        run(7, alloc, rcu, 40, 100);
    }
}

/// Integers below 2^61 are value entries in the slot words, anything else is an entry
/// object behind a pointer; both kinds, and the lone root entry, must give back exactly
/// what was stored, and erasing or overwriting must free the boxed ones only.
#[test]
fn value_entries_and_boxed_entries_round_trip() {
    use super::node::is_value;
    fn slot_of<T: Clone + Send + Sync + 'static>(mt: &MapleTree<T>, index: u64) -> usize {
        let _g = mt.lock();
        let core = &mt.core;
        let root = core.root();
        if !super::node::is_node(root) {
            return root;
        }
        let h = mt.height() as usize;
        // SAFETY: under the lock, and the tree has `h` levels.
        let s = *unsafe { core.walk_to(index, h - 1) }
            .last()
            .expect("a leaf");
        // SAFETY: as above.
        unsafe { super::node::wnode(s.enode) }.slot(super::node::NodeType::Leaf64, s.off)
    }
    fn check<T: Clone + Send + Sync + PartialEq + std::fmt::Debug + 'static>(vals: &[(T, bool)]) {
        for rcu in [false, true] {
            let mt = MapleTree::<T>::new();
            if rcu {
                mt.set_in_rcu();
            }
            // A lone entry at 0 lives in the root word.
            mt.store(0, Some(vals[0].0.clone())).expect("store");
            assert_eq!(mt.height(), 0);
            assert_eq!(is_value(slot_of(&mt, 0)), vals[0].1, "root {:?}", vals[0].0);
            for (k, (v, inline)) in vals.iter().enumerate() {
                let i = 10 * k as u64 + 5;
                mt.store_range(i, i + 2, Some(v.clone())).expect("store");
                assert_eq!(is_value(slot_of(&mt, i)), *inline, "{v:?}");
            }
            mt.validate().expect("valid");
            for (k, (v, _)) in vals.iter().enumerate() {
                let i = 10 * k as u64 + 5;
                assert_eq!(mt.load(i + 1).as_ref(), Some(v));
                // Splitting the range copies its entry into both halves.
                mt.store(i + 1, None).expect("split");
                assert_eq!(mt.load(i).as_ref(), Some(v));
                assert_eq!(mt.load(i + 2).as_ref(), Some(v));
                assert_eq!(mt.erase(i).as_ref(), Some(v));
                assert_eq!(mt.load(i + 2).as_ref(), Some(v));
            }
            assert_eq!(mt.load(0).as_ref(), Some(&vals[0].0));
            mt.validate().expect("valid");
        }
    }
    check::<u64>(&[
        (0, true),
        (1, true),
        ((1 << 61) - 1, true),
        (1 << 61, false),
        (u64::MAX, false),
    ]);
    check::<i64>(&[(0, true), (-1, false), (i64::MIN, false), (i64::MAX, false)]);
    check::<i32>(&[(-1, true), (i32::MIN, true), (7, true)]);
    check::<u8>(&[(0, true), (255, true)]);
    check::<usize>(&[(usize::MAX, false), (3, true)]);
    check::<String>(&[("a".into(), false), (String::new(), false)]);
    check::<(u32, u32)>(&[((1, 2), false)]);
}

/// `mab_calc_split`'s density rule: a split whose left node would cover fewer indexes than
/// a node has slots moves items into the left node while the right node keeps more than
/// its minimum. Sixteen single-index entries and the NULL tail (17 items) split 10 / 7,
/// not 9 / 8; the seventeenth entry then goes to the right node.
#[test]
fn dense_split_fills_the_left_node() {
    let mt = MapleTree::<u64>::new();
    for i in 0..=16u64 {
        mt.store(i, Some(i + 1)).expect("store");
    }
    mt.validate().expect("valid");
    let shape = mt.shape();
    assert_eq!(shape.len(), 2, "{shape:?}");
    assert_eq!(shape[1], vec![10, 8], "{shape:?}");
    // Sparse entries (each range wider than a node's slot count) split evenly.
    // Nine entries 100 apart and the NULLs between them: 18 items.
    let mt = MapleTree::<u64>::new();
    for i in 0..=8u64 {
        mt.store(100 * i, Some(i + 1)).expect("store");
    }
    mt.validate().expect("valid");
    let shape = mt.shape();
    assert_eq!(shape, vec![vec![2], vec![9, 9]]);
}
