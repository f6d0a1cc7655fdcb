//! The sequential reference model of the maple tree's external semantics: the oracle every
//! maple check uses. The harness targets (`maple_ops`, `maple_rcu_sched`) compare
//! [`MapleTree`](super::MapleTree) against it operation by operation, the port of
//! lib/test_maple_tree.c (`algos/tests/maple_kernel`) runs its sequences against both, and
//! the tree's unit tests check every write against it. Compiled for `algos`' own tests and
//! with the `model` feature.
//!
//! [`RangeModel`] is deliberately naive: a `BTreeMap` from the first index of each stored range to its
//! last index and value. Empty space is simply absence, so adjacent NULL ranges are always
//! merged, as in the kernel. Stored (non-NULL) ranges are never merged with their
//! neighbours, even when they hold equal values: the kernel keeps them as separate ranges,
//! and that is visible through [`RangeModel::find`] (which reports the end of the range it
//! returned) and [`RangeModel::erase`] (which removes one whole range).
//!
//! Indexes are `u64`; `u64::MAX` plays the role of the kernel's `ULONG_MAX`; every range is
//! inclusive at both ends. The model has no reserved entries (the kernel's `XA_ZERO_ENTRY`,
//! which occupies space but reads back as NULL): every stored value is an ordinary one.
//!
//! Each method names the kernel function (lib/maple_tree.c, include/linux/maple_tree.h) whose
//! observable behaviour it reproduces.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::ops::Bound;

/// Errors of the modelled operations, mirroring the kernel's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelError {
    /// `-EEXIST`: an insert found an occupied index in its range.
    Exists,
    /// `-EINVAL`: malformed request (`first > last`, zero size, a window too small for the
    /// size, or an allocation request on a tree without `MT_FLAGS_ALLOC_RANGE`).
    Invalid,
    /// `-ENOMEM`: never produced by the model (it does not allocate nodes); present so the
    /// real tree's results can be compared variant for variant.
    NoMem,
    /// `-EBUSY`: no empty area of the requested size in the window.
    Busy,
}

/// The tree's errors are the model's, variant for variant.
impl From<super::MapleError> for ModelError {
    fn from(e: super::MapleError) -> Self {
        match e {
            super::MapleError::Exists => ModelError::Exists,
            super::MapleError::Invalid => ModelError::Invalid,
            super::MapleError::NoMem => ModelError::NoMem,
            super::MapleError::Busy => ModelError::Busy,
        }
    }
}

/// A range map with the maple tree's external semantics.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RangeModel<T: Clone + Eq + Hash + Debug> {
    /// first index -> (last index, value); ranges are disjoint.
    map: BTreeMap<u64, (u64, T)>,
    /// The tree was created with `MT_FLAGS_ALLOC_RANGE`.
    alloc: bool,
}

impl<T: Clone + Eq + Hash + Debug> Default for RangeModel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash + Debug> RangeModel<T> {
    /// An empty plain tree (`mt_init_flags(mt, 0)` / `DEFINE_MTREE`).
    pub fn new() -> Self {
        RangeModel {
            map: BTreeMap::new(),
            alloc: false,
        }
    }

    /// An empty allocation tree (`mt_init_flags(mt, MT_FLAGS_ALLOC_RANGE)`).
    ///
    /// The flag changes nothing about loads, stores or searches for empty areas; it only
    /// makes [`alloc_range`](Self::alloc_range) and [`alloc_rrange`](Self::alloc_rrange)
    /// usable (on a plain tree they fail with [`ModelError::Invalid`], as
    /// `mtree_alloc_range` checks `mt_is_alloc`). Index 0 is not reserved: an allocation may
    /// start at 0.
    pub fn new_alloc() -> Self {
        RangeModel {
            map: BTreeMap::new(),
            alloc: true,
        }
    }

    /// Whether this is an allocation tree (`mt_is_alloc`).
    pub fn is_alloc(&self) -> bool {
        self.alloc
    }

    /// Whether nothing is stored (`mtree_empty`).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of stored (non-NULL) ranges.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Removes everything, keeping the tree kind (`mtree_destroy` followed by re-init with
    /// the same flags).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// The stored range containing `index`, as `(first, last, &value)`.
    fn entry_at(&self, index: u64) -> Option<(u64, u64, &T)> {
        self.map
            .range(..=index)
            .next_back()
            .filter(|(_, (last, _))| *last >= index)
            .map(|(first, (last, v))| (*first, *last, v))
    }

    /// Stored ranges intersecting `[first, last]`, in ascending order.
    fn overlapping(&self, first: u64, last: u64) -> impl Iterator<Item = (u64, u64, &T)> + '_ {
        let head = self.entry_at(first);
        let tail = self
            .map
            .range((Bound::Excluded(first), Bound::Included(last)))
            .map(|(f, (l, v))| (*f, *l, v));
        head.into_iter().chain(tail)
    }

    /// The value at `index` (`mtree_load`).
    pub fn load(&self, index: u64) -> Option<T> {
        self.entry_at(index).map(|(_, _, v)| v.clone())
    }

    /// The range containing `index` and what it holds, NULL ranges included, as
    /// `(first, last, value)` — what `mas_walk` returns and leaves in `mas.index`/`mas.last`.
    /// For an index in empty space the range is the whole maximal empty run (an empty tree
    /// gives `(0, u64::MAX, None)`).
    pub fn walk(&self, index: u64) -> (u64, u64, Option<T>) {
        if let Some((f, l, v)) = self.entry_at(index) {
            return (f, l, Some(v.clone()));
        }
        let first = self
            .map
            .range(..index)
            .next_back()
            .map_or(0, |(_, (l, _))| l + 1);
        let last = self
            .map
            .range((Bound::Excluded(index), Bound::Unbounded))
            .next()
            .map_or(u64::MAX, |(f, _)| f - 1);
        (first, last, None)
    }

    /// Stores `value` over `[first, last]`, replacing whatever was there (`mtree_store_range`).
    /// Ranges that stick out of `[first, last]` are trimmed to their remaining parts, which
    /// keep their value and become separate ranges. `None` erases the window.
    ///
    /// Errors: [`ModelError::Invalid`] if `first > last`.
    pub fn store_range(
        &mut self,
        first: u64,
        last: u64,
        value: Option<T>,
    ) -> Result<(), ModelError> {
        if first > last {
            return Err(ModelError::Invalid);
        }
        // The overlapping ranges one at a time (no list of them: this runs for every store
        // of every fuzz input): the one holding `first`, then those starting inside.
        let mut next = self.entry_at(first).map(|(f, _, _)| f);
        while let Some(f) = next.or_else(|| self.map.range(first..=last).next().map(|(f, _)| *f)) {
            next = None;
            let (l, v) = self.map.remove(&f).expect("overlapping range present");
            if f < first {
                self.map.insert(f, (first - 1, v.clone()));
            }
            if l > last {
                self.map.insert(last + 1, (l, v));
                break;
            }
        }
        if let Some(v) = value {
            self.map.insert(first, (last, v));
        }
        Ok(())
    }

    /// Stores `value` at the single index `index` (`mtree_store`).
    pub fn store(&mut self, index: u64, value: Option<T>) -> Result<(), ModelError> {
        self.store_range(index, index, value)
    }

    /// Stores `value` over `[first, last]` only if every index there is empty
    /// (`mtree_insert_range`).
    ///
    /// Errors: [`ModelError::Invalid`] if `first > last` (checked first);
    /// [`ModelError::Exists`] if any index in the range is occupied.
    pub fn insert_range(&mut self, first: u64, last: u64, value: T) -> Result<(), ModelError> {
        if first > last {
            return Err(ModelError::Invalid);
        }
        if self.overlapping(first, last).next().is_some() {
            return Err(ModelError::Exists);
        }
        self.map.insert(first, (last, value));
        Ok(())
    }

    /// Inserts `value` at the single index `index` (`mtree_insert`).
    pub fn insert(&mut self, index: u64, value: T) -> Result<(), ModelError> {
        self.insert_range(index, index, value)
    }

    /// Removes the whole range containing `index` and returns its value; `None` (and no
    /// change) if `index` is empty (`mtree_erase`).
    pub fn erase(&mut self, index: u64) -> Option<T> {
        let (first, _, _) = self.entry_at(index)?;
        self.map.remove(&first).map(|(_, v)| v)
    }

    /// The first stored range intersecting `[*index, max]` (`mt_find`).
    ///
    /// Returns `None` without touching `*index` if `*index > max` or nothing is found. On
    /// success `*index` becomes the returned range's last index plus one, wrapping to 0 when
    /// that range ends at `u64::MAX` (the kernel computes `mas.last + 1` in unsigned long,
    /// and `mt_for_each` relies on the wrap to stop: see [`find_after`](Self::find_after)).
    /// The returned range may start before `*index` and may end after `max`.
    pub fn find(&self, index: &mut u64, max: u64) -> Option<T> {
        if *index > max {
            return None;
        }
        let (_, last, v) = self.overlapping(*index, max).next()?;
        *index = last.wrapping_add(1);
        Some(v.clone())
    }

    /// Continues an iteration started by [`find`](Self::find) (`mt_find_after`): `None` if
    /// `*index` is 0 — the previous step returned the range ending at `u64::MAX` — and
    /// otherwise the same as `find`. `mt_for_each(mt, entry, index, max)` is `find` once,
    /// then `find_after` until `None`.
    pub fn find_after(&self, index: &mut u64, max: u64) -> Option<T> {
        if *index == 0 {
            return None;
        }
        self.find(index, max)
    }

    /// The stored ranges intersecting `[lo, hi]` in ascending order, as
    /// `(first, last, &value)` (the first may start before `lo`, the last end after `hi`).
    pub fn ranges_in(&self, lo: u64, hi: u64) -> impl Iterator<Item = (u64, u64, &T)> + '_ {
        self.overlapping(lo, hi)
    }

    /// Every stored range in ascending order, as `(first, last, &value)`.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64, &T)> + '_ {
        self.map.iter().map(|(f, (l, v))| (*f, *l, v))
    }

    /// Argument checks shared by both empty-area searches (`mas_empty_area` and
    /// `mas_empty_area_rev` reject these before looking at the tree).
    fn check_window(min: u64, max: u64, size: u64) -> Result<(), ModelError> {
        if min > max || size == 0 || max - min < size - 1 {
            return Err(ModelError::Invalid);
        }
        Ok(())
    }

    /// The lowest empty area of `size` indexes inside `[min, max]`, as `(index, last)` with
    /// `last = index + size - 1` (`mas_empty_area`; the kernel leaves the area in
    /// `mas.index`/`mas.last`).
    ///
    /// Errors: [`ModelError::Invalid`] if `min > max`, `size == 0` or the window holds fewer
    /// than `size` indexes; [`ModelError::Busy`] if no empty run of `size` indexes fits in
    /// the window. Works on both tree kinds.
    pub fn empty_area(&self, min: u64, max: u64, size: u64) -> Result<(u64, u64), ModelError> {
        Self::check_window(min, max, size)?;
        // Lowest index not yet ruled out.
        let mut start = min;
        for (f, l, _) in self.overlapping(min, max) {
            if f > start && f - start >= size {
                break;
            }
            if l == u64::MAX {
                return Err(ModelError::Busy);
            }
            start = l + 1;
            if start > max {
                return Err(ModelError::Busy);
            }
        }
        if max - start < size - 1 {
            return Err(ModelError::Busy);
        }
        Ok((start, start + (size - 1)))
    }

    /// The highest empty area of `size` indexes inside `[min, max]`, as `(index, last)`
    /// (`mas_empty_area_rev`).
    ///
    /// Errors as for [`empty_area`](Self::empty_area).
    pub fn empty_area_rev(&self, min: u64, max: u64, size: u64) -> Result<(u64, u64), ModelError> {
        Self::check_window(min, max, size)?;
        // Highest index not yet ruled out.
        let mut end = max;
        let ranges: Vec<(u64, u64)> = self.overlapping(min, max).map(|(f, l, _)| (f, l)).collect();
        for &(f, l) in ranges.iter().rev() {
            if l < end && end - l >= size {
                break;
            }
            if f == 0 {
                return Err(ModelError::Busy);
            }
            end = f - 1;
            if end < min {
                return Err(ModelError::Busy);
            }
        }
        if end - min < size - 1 {
            return Err(ModelError::Busy);
        }
        Ok((end - (size - 1), end))
    }

    /// Stores `value` in the lowest empty area of `size` indexes inside `[min, max]` and
    /// returns its first index (`mtree_alloc_range`).
    ///
    /// Errors: [`ModelError::Invalid`] on a plain tree or for a malformed window (see
    /// [`empty_area`](Self::empty_area)); [`ModelError::Busy`] if nothing fits.
    pub fn alloc_range(
        &mut self,
        min: u64,
        max: u64,
        size: u64,
        value: T,
    ) -> Result<u64, ModelError> {
        if !self.alloc {
            return Err(ModelError::Invalid);
        }
        let (first, last) = self.empty_area(min, max, size)?;
        self.map.insert(first, (last, value));
        Ok(first)
    }

    /// Stores `value` in the highest empty area of `size` indexes inside `[min, max]` and
    /// returns its first index (`mtree_alloc_rrange`).
    ///
    /// Errors as for [`alloc_range`](Self::alloc_range).
    pub fn alloc_rrange(
        &mut self,
        min: u64,
        max: u64,
        size: u64,
        value: T,
    ) -> Result<u64, ModelError> {
        if !self.alloc {
            return Err(ModelError::Invalid);
        }
        let (first, last) = self.empty_area_rev(min, max, size)?;
        self.map.insert(first, (last, value));
        Ok(first)
    }

    /// The first stored range intersecting `[index, max]`, as `(first, last, value)`: what
    /// the first `mas_find(mas, max)` of a fresh state at `index` returns (the range may
    /// start before `index`); `None` if `index > max` or nothing is there. A further
    /// `mas_find` continues with [`next`](Self::next) from the returned range's last index.
    pub fn find_range(&self, index: u64, max: u64) -> Option<(u64, u64, T)> {
        if index > max {
            return None;
        }
        self.overlapping(index, max)
            .next()
            .map(|(f, l, v)| (f, l, v.clone()))
    }

    /// The stored range after the range holding `index` (stored or empty), if it starts at or
    /// before `max`: what `mas_next(mas, max)` returns from a fresh state at `index`, and
    /// from a state on a range ending at `index`. `None` if `index >= max`.
    pub fn next(&self, index: u64, max: u64) -> Option<(u64, u64, T)> {
        if index >= max {
            return None;
        }
        let (_, last, _) = self.walk(index);
        if last >= max {
            return None;
        }
        self.map
            .range(last + 1..=max)
            .next()
            .map(|(f, (l, v))| (*f, *l, v.clone()))
    }

    /// The stored range before the range holding `index` (stored or empty), if it ends at or
    /// after `min`: what `mas_prev(mas, min)` returns from a fresh state at `index` in a tree
    /// of nodes, and from a state on a range starting at `index`. `None` if the range holding
    /// `index` starts at or below `min`.
    ///
    /// A tree holding only a root entry at index 0 (no nodes) behaves differently: the
    /// kernel returns that entry for any `index > min`, whatever `min` is
    /// (`mas_prev_setup`'s `mas_is_ptr` case). The model has no nodes and leaves that to its
    /// user.
    pub fn prev(&self, index: u64, min: u64) -> Option<(u64, u64, T)> {
        if index <= min {
            return None;
        }
        let (first, _, _) = self.walk(index);
        if first <= min {
            return None;
        }
        self.map
            .range(..first)
            .next_back()
            .filter(|(_, (l, _))| *l >= min)
            .map(|(f, (l, v))| (*f, *l, v.clone()))
    }

    /// What the first `mas_find_rev(mas, min)` of a fresh state at `index` returns: the
    /// stored range holding `index`, else the closest stored range before it that ends at
    /// or after `min`. `None` if `index < min`. A further `mas_find_rev` continues with
    /// [`prev`](Self::prev) from the returned range's first index. (The same caveat about a
    /// lone root entry as for [`prev`](Self::prev) applies.)
    pub fn find_rev_range(&self, index: u64, min: u64) -> Option<(u64, u64, T)> {
        if index < min {
            return None;
        }
        match self.walk(index) {
            (f, l, Some(v)) => Some((f, l, v)),
            (f, _, None) if f <= min => None,
            (f, _, None) => self.entry_at(f - 1).map(|(f, l, v)| (f, l, v.clone())),
        }
    }
}

/// The model against a naive per-index array, on a small universe: loads, `mas_walk` ranges,
/// the stored ranges, insert and erase results, `mt_find` and both empty-area searches.
/// (Pure safe code over a `BTreeMap`: nothing for Miri to check, and proptest's case budget
/// is far too slow there.)
#[cfg(all(test, not(miri)))]
mod tests {
    use super::{ModelError, RangeModel};
    use proptest::prelude::*;

    /// Indexes 0..UNIVERSE may be written; the naive array covers a bit more so that searches
    /// see the empty space above.
    const UNIVERSE: u64 = 64;
    const SPAN: usize = 96;

    /// Naive model: each index holds (store id, value); a stored range is a maximal run of one id.
    #[derive(Clone)]
    struct Naive {
        cells: Vec<Option<(u32, u8)>>,
        next_id: u32,
    }

    impl Naive {
        fn new() -> Self {
            Naive {
                cells: vec![None; SPAN],
                next_id: 0,
            }
        }

        fn store(&mut self, first: u64, last: u64, v: Option<u8>) {
            self.next_id += 1;
            for i in first..=last {
                self.cells[i as usize] = v.map(|v| (self.next_id, v));
            }
        }

        fn run(&self, index: usize) -> (usize, usize) {
            let id = self.cells[index].map(|c| c.0);
            let mut f = index;
            while f > 0 && self.cells[f - 1].map(|c| c.0) == id {
                f -= 1;
            }
            let mut l = index;
            while l + 1 < SPAN && self.cells[l + 1].map(|c| c.0) == id {
                l += 1;
            }
            (f, l)
        }

        fn empty_area(&self, min: u64, max: u64, size: u64, rev: bool) -> Option<(u64, u64)> {
            let fits = |s: u64| {
                (s..s + size).all(|i| i as usize >= SPAN || self.cells[i as usize].is_none())
            };
            if max - min < size - 1 {
                return None;
            }
            let starts = min..=max - (size - 1);
            if rev {
                starts.rev().find(|&s| fits(s))
            } else {
                starts.into_iter().find(|&s| fits(s))
            }
            .map(|s| (s, s + size - 1))
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        StoreRange(u64, u64, Option<u8>),
        InsertRange(u64, u64, u8),
        Erase(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let idx = 0..UNIVERSE;
        prop_oneof![
            (
                idx.clone(),
                idx.clone(),
                proptest::option::weighted(0.8, any::<u8>())
            )
                .prop_map(|(a, b, v)| Op::StoreRange(a, b, v)),
            (idx.clone(), idx.clone(), any::<u8>()).prop_map(|(a, b, v)| Op::InsertRange(a, b, v)),
            idx.prop_map(Op::Erase),
        ]
    }

    fn check_against(model: &RangeModel<u8>, naive: &Naive) {
        for i in 0..SPAN {
            assert_eq!(
                model.load(i as u64),
                naive.cells[i].map(|c| c.1),
                "load({i})"
            );
            let (f, l) = naive.run(i);
            let (mf, ml, mv) = model.walk(i as u64);
            assert_eq!(mv, naive.cells[i].map(|c| c.1), "walk({i}) value");
            assert_eq!(mf, f as u64, "walk({i}) first");
            if l + 1 < SPAN {
                assert_eq!(ml, l as u64, "walk({i}) last");
            } else {
                assert_eq!(ml, u64::MAX, "walk({i}) last");
            }
        }
        let runs: Vec<(u64, u64, u8)> = model.ranges().map(|(f, l, v)| (f, l, *v)).collect();
        let mut expect = Vec::new();
        let mut i = 0;
        while i < SPAN {
            let (_, l) = naive.run(i);
            if let Some((_, v)) = naive.cells[i] {
                expect.push((i as u64, l as u64, v));
            }
            i = l + 1;
        }
        assert_eq!(runs, expect);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn model_matches_array(ops in proptest::collection::vec(op(), 0..40), alloc in any::<bool>()) {
            let mut model = if alloc { RangeModel::new_alloc() } else { RangeModel::new() };
            let mut naive = Naive::new();
            for op in ops {
                match op {
                    Op::StoreRange(a, b, v) => {
                        let r = model.store_range(a, b, v);
                        if a > b {
                            prop_assert_eq!(r, Err(ModelError::Invalid));
                        } else {
                            prop_assert_eq!(r, Ok(()));
                            naive.store(a, b, v);
                        }
                    }
                    Op::InsertRange(a, b, v) => {
                        let r = model.insert_range(a, b, v);
                        if a > b {
                            prop_assert_eq!(r, Err(ModelError::Invalid));
                        } else if (a..=b).any(|i| naive.cells[i as usize].is_some()) {
                            prop_assert_eq!(r, Err(ModelError::Exists));
                        } else {
                            prop_assert_eq!(r, Ok(()));
                            naive.store(a, b, Some(v));
                        }
                    }
                    Op::Erase(i) => {
                        let got = model.erase(i);
                        prop_assert_eq!(got, naive.cells[i as usize].map(|c| c.1));
                        if got.is_some() {
                            let (f, l) = naive.run(i as usize);
                            naive.store(f as u64, l as u64, None);
                        }
                    }
                }
                check_against(&model, &naive);
            }
        }

        #[test]
        fn searches_match_array(
            ops in proptest::collection::vec(op(), 0..30),
            queries in proptest::collection::vec((0..80u64, 0..80u64, 1..20u64), 1..20),
        ) {
            let mut model = RangeModel::new_alloc();
            let mut naive = Naive::new();
            for op in ops {
                match op {
                    Op::StoreRange(a, b, v) if a <= b => {
                        model.store_range(a, b, v).unwrap();
                        naive.store(a, b, v);
                    }
                    Op::Erase(i) => {
                        let erased = model.erase(i);
                        prop_assert_eq!(erased, naive.cells[i as usize].map(|c| c.1));
                        if erased.is_some() {
                            let (f, l) = naive.run(i as usize);
                            naive.store(f as u64, l as u64, None);
                        }
                    }
                    _ => {}
                }
            }
            for (min, max, size) in queries {
                // mt_find
                let mut index = min;
                let got = model.find(&mut index, max);
                let first_hit = (min..=max).find(|&i| (i as usize) < SPAN && naive.cells[i as usize].is_some());
                match first_hit {
                    Some(i) if min <= max => {
                        prop_assert_eq!(got, naive.cells[i as usize].map(|c| c.1));
                        prop_assert_eq!(index, naive.run(i as usize).1 as u64 + 1);
                    }
                    _ => {
                        prop_assert_eq!(got, None);
                        prop_assert_eq!(index, min);
                    }
                }
                // mas_empty_area / mas_empty_area_rev
                for rev in [false, true] {
                    let got = if rev { model.empty_area_rev(min, max, size) } else { model.empty_area(min, max, size) };
                    if min > max || max - min < size - 1 {
                        prop_assert_eq!(got, Err(ModelError::Invalid));
                    } else {
                        prop_assert_eq!(got, naive.empty_area(min, max, size, rev).ok_or(ModelError::Busy));
                    }
                }
            }
        }
    }
}
