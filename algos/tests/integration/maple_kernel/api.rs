//! What the shared sequences may call: [`RangeApi`], implemented by the tree (its normal
//! API, each call under the tree's lock) and by the model, and the kernel test helpers of
//! lib/test_maple_tree.c written once over it.
//!
//! Results use the model's error type; the tree's [`MapleError`] converts variant for
//! variant. Checks of the tree's internals (height, `mt_validate`, RCU mode, `MaState`
//! walks) go through [`on_tree`], which does nothing for the model: the counterpart of the
//! kernel's `MT_BUG_ON`s on internals that the radix-tree test build can see and a
//! reference model has no notion of.

use algos::maple::model::{ModelError, RangeModel};
use algos::maple::{MaState, MapleError, MapleTree};

/// The tree under test.
pub type Tree = MapleTree<u64>;
/// The reference model.
pub type Model = RangeModel<u64>;

/// Stand-in for `XA_ZERO_ENTRY`: `xa_mk_value` never produces it (values are at most
/// `LONG_MAX`).
pub const ZERO: u64 = u64::MAX;
/// `LONG_MAX`.
pub const LONG_MAX: u64 = i64::MAX as u64;
/// `MTREE_ALLOC_MAX` of lib/test_maple_tree.c.
pub const MTREE_ALLOC_MAX: u64 = 0x2000000000000;

pub const EEXIST: Result<(), ModelError> = Err(ModelError::Exists);
pub const EBUSY: Result<(), ModelError> = Err(ModelError::Busy);
pub const EINVAL: Result<(), ModelError> = Err(ModelError::Invalid);

/// The external API of the maple tree that the kernel's sequences use (`mtree_*`, `mt_find`,
/// and the results `mas_walk` / `mas_empty_area*` leave in `mas.index`/`mas.last`).
pub trait RangeApi {
    /// A plain tree (`mt_init_flags(mt, 0)`).
    fn new() -> Self;
    /// An allocation tree (`mt_init_flags(mt, MT_FLAGS_ALLOC_RANGE)`).
    fn new_alloc() -> Self;
    /// `mtree_empty`.
    fn is_empty(&self) -> bool;
    /// `mtree_load`.
    fn load(&self, index: u64) -> Option<u64>;
    /// `mtree_store_range`.
    fn store_range(&mut self, first: u64, last: u64, val: Option<u64>) -> Result<(), ModelError>;
    /// `mtree_store`.
    fn store(&mut self, index: u64, val: Option<u64>) -> Result<(), ModelError> {
        self.store_range(index, index, val)
    }
    /// `mtree_insert_range`.
    fn insert_range(&mut self, first: u64, last: u64, val: u64) -> Result<(), ModelError>;
    /// `mtree_insert`.
    fn insert(&mut self, index: u64, val: u64) -> Result<(), ModelError> {
        self.insert_range(index, index, val)
    }
    /// `mtree_erase`.
    fn erase(&mut self, index: u64) -> Option<u64>;
    /// `mt_find` without the kernel's filtering of `XA_ZERO_ENTRY` (see [`mt_find`]).
    fn find(&self, index: &mut u64, max: u64) -> Option<u64>;
    /// `mtree_alloc_range`.
    fn alloc_range(&mut self, min: u64, max: u64, size: u64, val: u64) -> Result<u64, ModelError>;
    /// `mtree_alloc_rrange`.
    fn alloc_rrange(&mut self, min: u64, max: u64, size: u64, val: u64) -> Result<u64, ModelError>;
    /// `mas_empty_area` from a fresh state: the area as `(mas.index, mas.last)`.
    fn empty_area(&self, min: u64, max: u64, size: u64) -> Result<(u64, u64), ModelError>;
    /// `mas_empty_area_rev` from a fresh state.
    fn empty_area_rev(&self, min: u64, max: u64, size: u64) -> Result<(u64, u64), ModelError>;
    /// `mas_walk` from a fresh state at `index`: `(mas.index, mas.last, entry)`.
    fn walk(&self, index: u64) -> (u64, u64, Option<u64>);
    /// `mas_for_each(mas, entry, max)` from a fresh state at `index`: every range found, as
    /// `(mas.index, mas.last, entry)`.
    fn mas_for_each(&self, index: u64, max: u64) -> Vec<(u64, u64, u64)>;
    /// Every stored range in order (`mt_dump`, compared rather than printed).
    fn ranges(&self) -> Vec<(u64, u64, u64)>;
    /// `mtree_destroy`; the tree keeps its kind.
    fn destroy(&mut self);
    /// The tree itself, for checks of its internals; `None` for the model.
    fn tree(&self) -> Option<&Tree> {
        None
    }
}

impl RangeApi for Tree {
    fn new() -> Self {
        MapleTree::new()
    }
    fn new_alloc() -> Self {
        MapleTree::new_alloc()
    }
    fn is_empty(&self) -> bool {
        MapleTree::is_empty(self)
    }
    fn load(&self, index: u64) -> Option<u64> {
        MapleTree::load(self, index)
    }
    fn store_range(&mut self, first: u64, last: u64, val: Option<u64>) -> Result<(), ModelError> {
        Ok(MapleTree::store_range(self, first, last, val)?)
    }
    fn insert_range(&mut self, first: u64, last: u64, val: u64) -> Result<(), ModelError> {
        Ok(MapleTree::insert_range(self, first, last, val)?)
    }
    fn erase(&mut self, index: u64) -> Option<u64> {
        MapleTree::erase(self, index)
    }
    fn find(&self, index: &mut u64, max: u64) -> Option<u64> {
        MapleTree::find(self, index, max)
    }
    fn alloc_range(&mut self, min: u64, max: u64, size: u64, val: u64) -> Result<u64, ModelError> {
        Ok(MapleTree::alloc_range(self, min, max, size, val)?)
    }
    fn alloc_rrange(&mut self, min: u64, max: u64, size: u64, val: u64) -> Result<u64, ModelError> {
        Ok(MapleTree::alloc_rrange(self, min, max, size, val)?)
    }
    fn empty_area(&self, min: u64, max: u64, size: u64) -> Result<(u64, u64), ModelError> {
        let mut g = self.lock();
        let mut mas = g.ma_state(0, 0);
        mas.empty_area(min, max, size)?;
        Ok((mas.index(), mas.last()))
    }
    fn empty_area_rev(&self, min: u64, max: u64, size: u64) -> Result<(u64, u64), ModelError> {
        let mut g = self.lock();
        let mut mas = g.ma_state(0, 0);
        mas.empty_area_rev(min, max, size)?;
        Ok((mas.index(), mas.last()))
    }
    fn walk(&self, index: u64) -> (u64, u64, Option<u64>) {
        let mut g = self.lock();
        let mut mas = g.ma_state(index, index);
        let entry = mas.walk();
        (mas.index(), mas.last(), entry)
    }
    fn mas_for_each(&self, index: u64, max: u64) -> Vec<(u64, u64, u64)> {
        let mut g = self.lock();
        let mut mas = g.ma_state(index, index);
        let mut out = Vec::new();
        while let Some(v) = mas.find(max) {
            out.push((mas.index(), mas.last(), v));
            assert!(out.len() < 100_000, "mas_for_each does not terminate");
        }
        out
    }
    fn ranges(&self) -> Vec<(u64, u64, u64)> {
        MapleTree::ranges(self)
    }
    fn destroy(&mut self) {
        MapleTree::destroy(self)
    }
    fn tree(&self) -> Option<&Tree> {
        Some(self)
    }
}

impl RangeApi for Model {
    fn new() -> Self {
        RangeModel::new()
    }
    fn new_alloc() -> Self {
        RangeModel::new_alloc()
    }
    fn is_empty(&self) -> bool {
        RangeModel::is_empty(self)
    }
    fn load(&self, index: u64) -> Option<u64> {
        RangeModel::load(self, index)
    }
    fn store_range(&mut self, first: u64, last: u64, val: Option<u64>) -> Result<(), ModelError> {
        RangeModel::store_range(self, first, last, val)
    }
    fn insert_range(&mut self, first: u64, last: u64, val: u64) -> Result<(), ModelError> {
        RangeModel::insert_range(self, first, last, val)
    }
    fn erase(&mut self, index: u64) -> Option<u64> {
        RangeModel::erase(self, index)
    }
    fn find(&self, index: &mut u64, max: u64) -> Option<u64> {
        RangeModel::find(self, index, max)
    }
    fn alloc_range(&mut self, min: u64, max: u64, size: u64, val: u64) -> Result<u64, ModelError> {
        RangeModel::alloc_range(self, min, max, size, val)
    }
    fn alloc_rrange(&mut self, min: u64, max: u64, size: u64, val: u64) -> Result<u64, ModelError> {
        RangeModel::alloc_rrange(self, min, max, size, val)
    }
    fn empty_area(&self, min: u64, max: u64, size: u64) -> Result<(u64, u64), ModelError> {
        RangeModel::empty_area(self, min, max, size)
    }
    fn empty_area_rev(&self, min: u64, max: u64, size: u64) -> Result<(u64, u64), ModelError> {
        RangeModel::empty_area_rev(self, min, max, size)
    }
    fn walk(&self, index: u64) -> (u64, u64, Option<u64>) {
        RangeModel::walk(self, index)
    }
    fn mas_for_each(&self, index: u64, max: u64) -> Vec<(u64, u64, u64)> {
        // The first mas_find returns the range holding or following `index`; each further one
        // the next stored range after the previous one.
        let mut out = Vec::new();
        let mut next = self.find_range(index, max);
        while let Some((f, l, v)) = next {
            out.push((f, l, v));
            assert!(out.len() < 100_000, "mas_for_each does not terminate");
            next = self.next(l, max);
        }
        out
    }
    fn ranges(&self) -> Vec<(u64, u64, u64)> {
        RangeModel::ranges(self)
            .map(|(f, l, v)| (f, l, *v))
            .collect()
    }
    fn destroy(&mut self) {
        self.clear()
    }
}

/// Runs `check` on the tree only: its internals have no counterpart in the model.
pub fn on_tree<M: RangeApi>(mt: &M, check: impl FnOnce(&Tree)) {
    if let Some(t) = mt.tree() {
        check(t);
    }
}

/// `mt_validate` (tree only).
#[track_caller]
pub fn validate<M: RangeApi>(mt: &M) {
    on_tree(mt, |t| t.validate().unwrap());
}

/// `MT_BUG_ON(mt, !mt_height(mt))`-style checks of the height (tree only).
#[track_caller]
pub fn check_height<M: RangeApi>(mt: &M, ok: impl FnOnce(u32) -> bool) {
    on_tree(mt, |t| {
        let h = t.height();
        assert!(ok(h), "unexpected height {h}");
    });
}

// ---- the kernel test helpers ---------------------------------------------------------------

/// `mtree_insert_index`.
pub fn insert_index<M: RangeApi>(mt: &mut M, index: u64) -> Result<(), ModelError> {
    mt.insert(index, index & LONG_MAX)
}

/// `mtree_erase_index`.
#[track_caller]
pub fn erase_index<M: RangeApi>(mt: &mut M, index: u64) {
    assert_eq!(mt.erase(index), Some(index & LONG_MAX), "erase({index})");
    assert_eq!(mt.load(index), None, "load({index}) after erase");
}

/// `check_load`.
#[track_caller]
pub fn check_load<M: RangeApi>(mt: &M, index: u64, expect: Option<u64>) {
    assert_eq!(mt.load(index), expect, "load({index})");
}

/// `check_index_load`.
#[track_caller]
pub fn check_index_load<M: RangeApi>(mt: &M, index: u64) {
    check_load(mt, index, Some(index & LONG_MAX));
}

/// `check_store_range`: the store's result, and on success every index of the range.
#[track_caller]
pub fn check_store_range<M: RangeApi>(
    mt: &mut M,
    start: u64,
    end: u64,
    val: Option<u64>,
    expect: Result<(), ModelError>,
) {
    assert_eq!(
        mt.store_range(start, end, val),
        expect,
        "store_range({start}, {end})"
    );
    if expect.is_ok() {
        for i in start..=end {
            check_load(mt, i, val);
        }
    }
}

/// `check_insert_range`.
#[track_caller]
pub fn check_insert_range<M: RangeApi>(
    mt: &mut M,
    start: u64,
    end: u64,
    val: u64,
    expect: Result<(), ModelError>,
) {
    assert_eq!(
        mt.insert_range(start, end, val),
        expect,
        "insert_range({start}, {end})"
    );
    if expect.is_ok() {
        for i in start..=end {
            check_load(mt, i, Some(val));
        }
    }
}

/// `check_insert`.
#[track_caller]
pub fn check_insert<M: RangeApi>(mt: &mut M, index: u64, val: u64) {
    assert_eq!(mt.insert(index, val), Ok(()), "insert({index})");
}

/// `check_dup_insert`.
#[track_caller]
pub fn check_dup_insert<M: RangeApi>(mt: &mut M, index: u64, val: u64) {
    assert_eq!(mt.insert(index, val), EEXIST, "insert({index}) again");
}

/// `check_seq` (without the verbose dump): insert 0..=max one by one, checking every load so
/// far.
#[track_caller]
pub fn seq<M: RangeApi>(mt: &mut M, max: u64) {
    assert!(mt.is_empty());
    for i in 0..=max {
        assert_eq!(insert_index(mt, i), Ok(()), "insert_index({i})");
        for j in 0..=i {
            check_index_load(mt, j);
        }
        if i != 0 {
            check_height(mt, |h| h != 0);
        }
        check_load(mt, i + 1, None);
    }
}

/// `check_rev_seq` (without the verbose dump).
#[track_caller]
pub fn rev_seq<M: RangeApi>(mt: &mut M, max: u64) {
    assert!(mt.is_empty());
    let mut i = max;
    while i != 0 {
        assert_eq!(insert_index(mt, i), Ok(()), "insert_index({i})");
        for j in i..=max {
            check_index_load(mt, j);
        }
        check_load(mt, i - 1, None);
        on_tree(mt, |t| {
            t.set_in_rcu();
            assert!(t.height() != 0);
            t.clear_in_rcu();
            assert!(t.height() != 0);
        });
        i -= 1;
    }
    check_load(mt, max + 1, None);
}

/// `check_mtree_alloc_range`.
#[track_caller]
pub fn check_mtree_alloc_range<M: RangeApi>(
    mt: &mut M,
    start: u64,
    end: u64,
    size: u64,
    expected: u64,
    eret: Result<(), ModelError>,
    val: u64,
) {
    let got = mt.alloc_range(start, end, size, val);
    let what = format!("alloc_range({start:#x}, {end:#x}, {size:#x})");
    match eret {
        Ok(()) => assert_eq!(got, Ok(expected), "{what}"),
        Err(e) => assert_eq!(got, Err(e), "{what}"),
    }
}

/// `check_mtree_alloc_rrange` (current form: `end` is passed through as the inclusive max;
/// before the 2023 gap-search rework it passed `end - 1` and the table's maxima were one
/// page higher).
#[track_caller]
pub fn check_mtree_alloc_rrange<M: RangeApi>(
    mt: &mut M,
    start: u64,
    end: u64,
    size: u64,
    expected: u64,
    eret: Result<(), ModelError>,
    val: u64,
) {
    let got = mt.alloc_rrange(start, end, size, val);
    let what = format!("alloc_rrange({start:#x}, {end:#x}, {size:#x})");
    match eret {
        Ok(()) => assert_eq!(got, Ok(expected), "{what}"),
        Err(e) => assert_eq!(got, Err(e), "{what}"),
    }
}

/// `mt_find`, including its filtering of `XA_ZERO_ENTRY` (here: [`ZERO`]). One difference:
/// when only a zero entry is left in the window, the kernel leaves `*index` untouched and this
/// emulation has moved it past the zero entry; no ported sequence depends on that.
pub fn mt_find<M: RangeApi>(mt: &M, index: &mut u64, max: u64) -> Option<u64> {
    loop {
        match mt.find(index, max) {
            Some(ZERO) if *index != 0 => continue,
            Some(ZERO) => return None,
            e => return e,
        }
    }
}

/// `mt_for_each(mt, entry, index, max)` from `index`: every entry, in order. `mt_find_after`
/// stops once `index` wrapped to 0.
pub fn mt_for_each<M: RangeApi>(mt: &M, mut index: u64, max: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut entry = mt_find(mt, &mut index, max);
    while let Some(v) = entry {
        out.push(v);
        assert!(out.len() < 100_000, "mt_for_each does not terminate");
        if index == 0 {
            break;
        }
        entry = mt_find(mt, &mut index, max);
    }
    out
}

/// The range a cursor describes.
#[track_caller]
pub fn check_range(mas: &MaState<'_, '_, u64>, index: u64, last: u64) {
    assert_eq!(
        (mas.index(), mas.last()),
        (index, last),
        "mas range: expected {index:#x}-{last:#x}, got {:#x}-{:#x}",
        mas.index(),
        mas.last()
    );
}

/// The tree's result as the model's.
pub fn model_err<T>(r: Result<T, MapleError>) -> Result<T, ModelError> {
    r.map_err(ModelError::from)
}
