//! The kernel's crash-only sequences (`check_fuzzer`, `check_node_overwrite`,
//! `check_spanning_relatives`): the kernel ignores their results and relies on its internal
//! checks. Here the tree and the model run each sequence in lockstep: every result is
//! compared, and the tree is validated and its contents compared with the model's. (Run on
//! the model alone these would compare it with itself, so they are not instantiated twice.)

use super::api::*;

/// A tree and a model driven together; every result is compared.
struct Checked<'a> {
    mt: &'a Tree,
    model: Model,
}

impl<'a> Checked<'a> {
    fn new(mt: &'a Tree) -> Self {
        assert!(mt.is_empty());
        Checked {
            mt,
            model: Model::new(),
        }
    }

    /// `mtree_test_insert`.
    #[track_caller]
    fn insert(&mut self, index: u64, val: u64) {
        let want = self.model.insert_range(index, index, val);
        assert_eq!(
            model_err(self.mt.insert(index, val)),
            want,
            "insert({index})"
        );
    }

    /// `mtree_test_insert_range`.
    #[track_caller]
    fn insert_range(&mut self, first: u64, last: u64, val: u64) {
        let want = self.model.insert_range(first, last, val);
        assert_eq!(
            model_err(self.mt.insert_range(first, last, val)),
            want,
            "insert_range({first}, {last})"
        );
    }

    /// `mtree_test_store`.
    #[track_caller]
    fn store(&mut self, index: u64, val: u64) {
        self.store_range(index, index, Some(val));
    }

    /// `mtree_test_store_range`.
    #[track_caller]
    fn store_range(&mut self, first: u64, last: u64, val: Option<u64>) {
        let want = self.model.store_range(first, last, val);
        assert_eq!(
            model_err(self.mt.store_range(first, last, val)),
            want,
            "store_range({first}, {last})"
        );
    }

    /// `mtree_test_erase`.
    #[track_caller]
    fn erase(&mut self, index: u64) {
        let want = self.model.erase(index);
        assert_eq!(self.mt.erase(index), want, "erase({index})");
    }

    /// `mtree_test_load`.
    #[track_caller]
    fn load(&mut self, index: u64) {
        assert_eq!(self.mt.load(index), self.model.load(index), "load({index})");
    }

    /// Validate the tree and compare its contents with the model.
    #[track_caller]
    fn check(&self) {
        self.mt.validate().unwrap();
        assert_eq!(
            self.mt.ranges(),
            RangeApi::ranges(&self.model),
            "tree contents"
        );
    }
}

// ---- check_fuzzer ----------------------------------------------------------------------------

/// One call of the fuzzer sequences (`mtree_test_*`).
#[derive(Clone, Copy)]
enum F {
    /// `mtree_test_insert`
    I(u64, u64),
    /// `mtree_test_store`
    S(u64, u64),
    /// `mtree_test_store_range`
    Sr(u64, u64, u64),
    /// `mtree_test_insert_range`
    Ir(u64, u64, u64),
    /// `mtree_test_erase`
    E(u64),
    /// `mtree_test_load`
    L(u64),
}

/// Run a fuzzer sequence on a fresh plain tree (`mt_init_flags(mt, 0)`). The kernel ignores
/// every result and relies on its internal checks; added here: each result is compared with
/// the model, and the tree is validated and compared after every step.
fn run_fuzzer(ops: &[F]) {
    let mt = Tree::new();
    let mut c = Checked::new(&mt);
    for (step, &op) in ops.iter().enumerate() {
        match op {
            F::I(i, v) => c.insert(i, v),
            F::S(i, v) => c.store(i, v),
            F::Sr(f, l, v) => c.store_range(f, l, Some(v)),
            F::Ir(f, l, v) => c.insert_range(f, l, v),
            F::E(i) => c.erase(i),
            F::L(i) => c.load(i),
        }
        if let Err(e) = mt.validate() {
            panic!("step {step}: validate: {e:?}");
        }
        assert_eq!(
            mt.ranges(),
            RangeApi::ranges(&c.model),
            "step {step}: contents"
        );
    }
    c.check();
    mt.destroy();
    assert!(mt.is_empty());
}

use F::{Ir, Sr, E, I, L, S};

/// Port of `check_fuzzer` sequence 1: a spanning rebalance of a single root node.
#[test]
fn check_fuzzer_1() {
    run_fuzzer(&[
        I(88, 0xb1),
        I(84, 0xa9),
        I(2, 0x5),
        I(4, 0x9),
        I(14, 0x1d),
        I(7, 0xf),
        I(12, 0x19),
        I(18, 0x25),
        Sr(8, 18, 0x11),
    ]);
}

/// Port of `check_fuzzer` sequence 2: a spanning rebalance of two nodes in the root.
#[test]
fn check_fuzzer_2() {
    run_fuzzer(&[
        S(87, 0xaf),
        S(0, 0x1),
        L(4),
        I(4, 0x9),
        S(8, 0x11),
        S(44, 0x59),
        S(68, 0x89),
        S(2, 0x5),
        I(43, 0x57),
        I(24, 0x31),
        I(844, 0x699),
        S(84, 0xa9),
        S(4, 0x9),
        E(4),
        L(5),
        E(0),
    ]);
}

/// Port of `check_fuzzer` sequence 3: a node overflow on copy.
#[test]
fn check_fuzzer_3() {
    run_fuzzer(&[
        Sr(0, u64::MAX, 0x1),
        S(4, 0x9),
        E(5),
        E(0),
        E(4),
        S(5, 0xb),
        E(5),
        S(5, 0xb),
        E(5),
        E(4),
        S(4, 0x9),
        S(444, 0x379),
        S(0, 0x1),
        L(0),
        S(5, 0xb),
        E(0),
    ]);
}

/// Port of `check_fuzzer` sequence 4: a spanning store writing a wrong pivot in the last slot.
#[test]
fn check_fuzzer_4() {
    run_fuzzer(&[
        I(261, 0x20b),
        S(516, 0x409),
        S(6, 0xd),
        I(5, 0xb),
        I(1256, 0x9d1),
        S(4, 0x9),
        E(1),
        S(56, 0x71),
        I(1, 0x3),
        S(24, 0x31),
        E(1),
        I(2263, 0x11af),
        I(446, 0x37d),
        Sr(6, 45, 0xd),
        Sr(3, 446, 0x7),
    ]);
}

/// Port of `check_fuzzer` sequence 5: extending a NULL may overflow the slots.
#[test]
fn check_fuzzer_5() {
    run_fuzzer(&[
        S(48, 0x61),
        S(3, 0x7),
        L(0),
        S(88, 0xb1),
        S(81, 0xa3),
        I(0, 0x1),
        I(8, 0x11),
        I(4, 0x9),
        I(2480, 0x1361),
        I(u64::MAX, 0xffffffffffffffff),
        E(u64::MAX),
    ]);
}

/// Port of `check_fuzzer` sequence 6: stale data in the implied last slot of a reused node.
#[test]
fn check_fuzzer_6() {
    run_fuzzer(&[
        E(3),
        I(22, 0x2d),
        I(15, 0x1f),
        L(2),
        I(1, 0x3),
        I(1, 0x3),
        I(5, 0xb),
        E(1),
        I(1, 0x3),
        I(4, 0x9),
        I(1, 0x3),
        E(1),
        I(2, 0x5),
        I(1, 0x3),
        E(3),
        I(22, 0x2d),
        I(15, 0x1f),
        I(2, 0x5),
        I(1, 0x3),
        I(8, 0x11),
        L(2),
        I(1, 0x3),
        I(1, 0x3),
        S(1, 0x3),
        I(5, 0xb),
        E(1),
        I(1, 0x3),
        I(4, 0x9),
        I(1, 0x3),
        E(1),
        I(2, 0x5),
        I(1, 0x3),
        E(3),
        I(22, 0x2d),
        I(15, 0x1f),
        I(2, 0x5),
        I(1, 0x3),
        I(8, 0x11),
        I(12, 0x19),
        E(1),
        Sr(4, 62, 0x9),
        E(62),
        Sr(1, 0, 0x3),
        I(11, 0x17),
        I(3, 0x7),
        I(3, 0x7),
        S(62, 0x7d),
        E(62),
        Sr(1, 15, 0x3),
        E(1),
        I(22, 0x2d),
        I(12, 0x19),
        E(1),
        I(3, 0x7),
        S(62, 0x7d),
        E(62),
        I(122, 0xf5),
        S(3, 0x7),
        I(0, 0x1),
        Sr(0, 1, 0x1),
        I(85, 0xab),
        I(72, 0x91),
        I(81, 0xa3),
        I(726, 0x5ad),
        I(0, 0x1),
        I(1, 0x3),
        S(51, 0x67),
        I(611, 0x4c7),
        I(485, 0x3cb),
        I(1, 0x3),
        E(1),
        I(0, 0x1),
        I(1, 0x3),
        Ir(26, 1, 0x35),
        L(1),
        Sr(1, 22, 0x3),
        I(1, 0x3),
        E(1),
        L(53),
        L(1),
        Sr(1, 1, 0x3),
        I(222, 0x1bd),
        I(485, 0x3cb),
        I(1, 0x3),
        E(1),
        L(0),
        I(21, 0x2b),
        I(3, 0x7),
        S(621, 0x4db),
        I(0, 0x1),
        E(5),
        I(1, 0x3),
        S(62, 0x7d),
        E(62),
        Sr(1, 0, 0x3),
        I(22, 0x2d),
        I(12, 0x19),
        E(1),
        I(1, 0x3),
        Sr(4, 62, 0x9),
        E(62),
        E(1),
        L(1),
        Sr(1, 22, 0x3),
        I(1, 0x3),
        E(1),
        L(53),
        L(1),
        Sr(1, 1, 0x3),
        I(222, 0x1bd),
        I(485, 0x3cb),
        I(1, 0x3),
        E(1),
        I(1, 0x3),
        L(0),
        L(0),
    ]);
}

/// Port of `check_fuzzer` sequence 7: clearing old data when a node is reused.
#[test]
fn check_fuzzer_7() {
    run_fuzzer(&[
        L(1),
        I(102, 0xcd),
        E(2),
        E(0),
        L(0),
        I(4, 0x9),
        I(2, 0x5),
        I(110, 0xdd),
        I(1, 0x3),
        Ir(5, 0, 0xb),
        E(2),
        S(0, 0x1),
        S(112, 0xe1),
        I(21, 0x2b),
        S(1, 0x3),
        Ir(110, 2, 0xdd),
        S(2, 0x5),
        L(22),
        E(2),
        S(210, 0x1a5),
        Sr(0, 2, 0x1),
        S(2, 0x5),
        E(2),
        E(22),
        E(1),
        E(2),
        S(0, 0x1),
        L(112),
        I(2, 0x5),
        E(2),
        S(1, 0x3),
        Ir(1, 2, 0x3),
        E(0),
        E(2),
        S(2, 0x5),
        E(0),
        E(2),
        S(0, 0x1),
        S(0, 0x1),
        E(2),
        S(2, 0x5),
        E(2),
        I(2, 0x5),
        Ir(1, 2, 0x3),
        E(0),
        E(2),
        S(0, 0x1),
        L(112),
        Sr(110, 12, 0xdd),
        S(2, 0x5),
        L(110),
        Ir(4, 71, 0x9),
        L(2),
        S(2, 0x5),
        Ir(11, 22, 0x17),
        E(12),
        S(2, 0x5),
        L(22),
    ]);
}

/// Port of `check_fuzzer` sequence 8: a wrong max for a node that consumed its right side.
#[test]
fn check_fuzzer_8() {
    run_fuzzer(&[
        S(6, 0xd),
        S(67, 0x87),
        I(15, 0x1f),
        I(6716, 0x3479),
        S(61, 0x7b),
        I(13, 0x1b),
        S(8, 0x11),
        I(1, 0x3),
        L(0),
        E(67167),
        Ir(6, 7167, 0xd),
        I(6, 0xd),
        E(67),
        I(1, 0x3),
        E(667167),
        I(6, 0xd),
        S(67, 0x87),
        I(5, 0xb),
        E(1),
        I(6, 0xd),
        E(67),
        I(15, 0x1f),
        I(67167, 0x20cbf),
        I(1, 0x3),
        L(7),
        I(16, 0x21),
        I(36, 0x49),
        S(67, 0x87),
        S(6, 0xd),
        I(367, 0x2df),
        I(115, 0xe7),
        S(0, 0x1),
        Sr(1, 3, 0x3),
        S(1, 0x3),
        E(67167),
        Ir(6, 47, 0xd),
        S(1, 0x3),
        Ir(1, 67, 0x3),
        L(67),
        I(1, 0x3),
        E(67167),
    ]);
}

/// Port of `check_fuzzer` sequence 9: a spanning store to the end of the data and the leaf
/// metadata.
#[test]
fn check_fuzzer_9() {
    run_fuzzer(&[
        I(21, 0x2b),
        I(12, 0x19),
        I(6, 0xd),
        I(8, 0x11),
        I(2, 0x5),
        I(91, 0xb7),
        I(18, 0x25),
        I(81, 0xa3),
        Sr(0, 128, 0x1),
        S(1, 0x3),
        E(8),
        I(11, 0x17),
        I(8, 0x11),
        I(21, 0x2b),
        I(2, 0x5),
        I(u64::MAX - 10, 0xffffffffffffffeb),
        E(u64::MAX - 10),
        Sr(0, 281, 0x1),
        E(2),
        I(1211, 0x977),
        I(111, 0xdf),
        I(13, 0x1b),
        I(211, 0x1a7),
        I(11, 0x17),
        I(5, 0xb),
        I(1218, 0x985),
        I(61, 0x7b),
        S(1, 0x3),
        I(121, 0xf3),
        I(8, 0x11),
        I(21, 0x2b),
        I(2, 0x5),
        I(u64::MAX - 10, 0xffffffffffffffeb),
        E(u64::MAX - 10),
    ]);
}

// ---- big overwrites --------------------------------------------------------------------------

/// Port of `check_node_overwrite`.
#[test]
fn check_node_overwrite() {
    let mt = Tree::new_alloc();
    let mut c = Checked::new(&mt);
    for i in 0..4000u64 {
        c.store_range(i * 100, i * 100 + 50, Some(i * 100));
    }
    c.store_range(319951, 367950, None);
    mt.validate().unwrap();
    // Added: contents against the model.
    c.check();
}

/// Port of `check_spanning_relatives`.
#[test]
fn check_spanning_relatives() {
    let mt = Tree::new_alloc();
    let mut c = Checked::new(&mt);
    for i in 0..=1000u64 {
        c.store_range(i * 10, i * 10 + 5, Some(i));
    }
    c.store_range(9365, 9955, None);
    // Added: the kernel only relies on its internal checks here.
    c.check();
}
