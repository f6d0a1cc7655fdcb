//! loom models of the maple tree's RCU protocol on small trees: a writer replaces nodes
//! (copy, publish with one pointer store, mark the old node dead, free it after a grace
//! period) while a lock-free reader walks; every read must see the old or the new value,
//! never a torn node, and never a freed one (the model RCU reports that as a
//! use-after-free). Run with `RUSTFLAGS="--cfg mmcheck_loom" cargo test -p loom-tests --release`.
#![cfg(mmcheck_loom)]

use algos::maple::MapleTree;
use algos::sync::{rcu, thread, Arc};

/// `loom::model` with room for the many atomic accesses of building nodes (a node is 32
/// atomic words), after [`crate::panic_hooks_in_order`].
fn model(f: impl Fn() + Sync + Send + 'static) {
    crate::panic_hooks_in_order();
    let mut b = loom::model::Builder::new();
    b.max_branches = 200_000;
    b.check(f);
}

/// A tree in RCU mode holding `[10k, 10k + 4] = k` for `k < n`.
fn tree(n: u64) -> Arc<MapleTree<u64>> {
    let mt = MapleTree::new();
    mt.set_in_rcu();
    for k in 0..n {
        mt.store_range(10 * k, 10 * k + 4, Some(k)).expect("store");
    }
    Arc::new(mt)
}

/// A store into the middle of a range rebuilds the (root) leaf: the reader sees the old
/// range or the new one, the untouched range always, and the old leaf is freed only after
/// the reader's grace period.
#[test]
fn node_store_publishes_a_copy() {
    model(|| {
        let mt = tree(4);
        assert_eq!(mt.height(), 1);
        let r = mt.clone();
        let reader = thread::spawn(move || {
            let a = r.load(21);
            assert!(a == Some(2) || a == Some(100), "load(21) = {a:?}");
            assert_eq!(r.load(30), Some(3));
            assert_eq!(r.load(25), None);
        });
        mt.store_range(21, 22, Some(100)).expect("store");
        reader.join().unwrap();
        rcu::barrier();
        mt.validate().expect("valid");
        assert_eq!(mt.load(21), Some(100));
        assert_eq!(mt.load(20), Some(2));
        assert_eq!(mt.load(23), Some(2));
        assert!(rcu::stats().quarantined >= 1, "the replaced leaf was freed");
    });
}

/// A write that splits a full leaf replaces the root with a new subtree while a reader
/// walks it; the reader meets the old or the new tree, possibly a dead node (and then
/// restarts), and always reads a value the index held.
#[test]
fn split_replaces_the_root_under_a_reader() {
    model(|| {
        let mt = tree(8); // 16 slots with the gaps: the leaf is full.
        let h = mt.height();
        let r = mt.clone();
        let reader = thread::spawn(move || {
            let a = r.load(42);
            assert!(a == Some(4) || a == Some(7), "load(42) = {a:?}");
            assert_eq!(r.load(70), Some(7));
        });
        mt.store_range(41, 42, Some(7)).expect("store");
        reader.join().unwrap();
        rcu::barrier();
        mt.validate().expect("valid");
        assert!(mt.height() > h, "the split added a level");
    });
}

/// In a two-level tree, a node store replaces one leaf inside the root by a single
/// pointer store; `find` racing with it returns an entry that was there.
#[test]
fn leaf_replacement_under_find() {
    model(|| {
        let mt = tree(12);
        assert_eq!(mt.height(), 2);
        let r = mt.clone();
        let reader = thread::spawn(move || {
            let mut i = 91;
            let v = r.find(&mut i, u64::MAX);
            assert!(
                (v == Some(9) && i == 95) || (v == Some(50) && i == 100),
                "find(91) = {v:?}, next {i}"
            );
        });
        mt.store_range(96, 99, Some(50)).expect("store");
        mt.erase(90);
        reader.join().unwrap();
        rcu::barrier();
        mt.validate().expect("valid");
    });
}

/// A value the tree keeps behind a pointer (an entry object of its own). Small integers
/// live in the slot words as value entries, so only a type like this one has an entry
/// that must outlive the readers that loaded its pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Boxed(u64);

/// An exact-fit store replaces one entry pointer in place; the reader sees the old entry
/// or the new one, and the old entry is freed only after the reader's grace period (a
/// too-early free is a use-after-free report at the reader's clone).
#[test]
fn exact_fit_retires_the_old_entry() {
    model(|| {
        let mt = MapleTree::new();
        mt.set_in_rcu();
        for k in 0..4 {
            mt.store_range(10 * k, 10 * k + 4, Some(Boxed(k)))
                .expect("store");
        }
        let mt = Arc::new(mt);
        let r = mt.clone();
        let reader = thread::spawn(move || {
            let a = r.load(21);
            assert!(
                a == Some(Boxed(2)) || a == Some(Boxed(100)),
                "load(21) = {a:?}"
            );
        });
        let before = mt.write_stats().exact_fit;
        mt.store_range(20, 24, Some(Boxed(100))).expect("store");
        assert_eq!(mt.write_stats().exact_fit, before + 1, "took the exact fit");
        reader.join().unwrap();
        rcu::barrier();
        mt.validate().expect("valid");
        assert_eq!(mt.load(22), Some(Boxed(100)));
        assert!(rcu::stats().quarantined >= 1, "the old entry was freed");
    });
}

/// An erase that leaves a leaf below its minimum rebalances it with its right neighbour:
/// both leaves and their parent (the root) are replaced by copies while a reader walks.
/// The reader sees the erased range or nothing, and the neighbour's ranges always.
#[test]
fn rebalance_replaces_both_leaves_under_a_reader() {
    model(|| {
        let mt = tree(12);
        mt.erase(0);
        assert_eq!(mt.height(), 2);
        let r = mt.clone();
        let reader = thread::spawn(move || {
            let a = r.load(12);
            assert!(a == Some(1) || a.is_none(), "load(12) = {a:?}");
            assert_eq!(r.load(111), Some(11));
        });
        let before = mt.write_stats().rebalance;
        mt.erase(10);
        assert_eq!(mt.write_stats().rebalance, before + 1, "took the rebalance");
        reader.join().unwrap();
        rcu::barrier();
        mt.validate().expect("valid");
        assert_eq!(mt.load(12), None);
        assert!(
            rcu::stats().quarantined >= 3,
            "both leaves and the old root were freed"
        );
    });
}

/// Erasing until the tree fits in one leaf collapses it: the root becomes a single new
/// leaf and the height drops while a reader is inside the old two-level tree.
#[test]
fn collapse_to_one_leaf_under_a_reader() {
    model(|| {
        let mt = tree(12);
        for k in 0..4 {
            mt.erase(10 * k);
        }
        assert_eq!(mt.height(), 2);
        let r = mt.clone();
        let reader = thread::spawn(move || {
            let a = r.load(42);
            assert!(a == Some(4) || a.is_none(), "load(42) = {a:?}");
            assert_eq!(r.load(93), Some(9));
        });
        mt.erase(40);
        reader.join().unwrap();
        rcu::barrier();
        mt.validate().expect("valid");
        assert_eq!(mt.height(), 1, "the tree collapsed to one leaf");
        assert_eq!(mt.load(42), None);
    });
}
