//! `struct ma_state`: the advanced API's cursor, used under the writer lock.
//!
//! The state machine is the kernel's: a state is `start` (walk from the root on next use),
//! `active` (positioned on a leaf slot), `none` (empty tree, or past a lone root entry),
//! `root` (on the lone root entry), `pause`, `overflow` (went past the upper limit) or
//! `underflow` (below the lower limit). What each operation does in each state, and what it
//! leaves in `index`/`last`, follows `mas_walk`, `mas_find`, `mas_find_rev`, `mas_next`,
//! `mas_prev` and their `*_setup` helpers.

use super::node::{is_node, node_type, wentry, wnode, NodeType};
use super::write::{descend, items_of, starts, Item, Step};
use super::{Core, MapleError, MapleGuard};

/// Where a maple state is (`enum maple_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Start,
    Active,
    None,
    Root,
    Pause,
    Overflow,
    Underflow,
}

/// The advanced API's cursor (`MA_STATE`), borrowing the held writer lock.
pub struct MaState<'g, 'a, T: Clone + Send + Sync + 'static> {
    guard: &'g mut MapleGuard<'a, T>,
    index: u64,
    last: u64,
    status: Status,
    /// The leaf the state is on (when active), its limits, offset and data end.
    node: usize,
    min: u64,
    max: u64,
    offset: usize,
    end: usize,
    /// The walk that reached the current leaf, root first, valid while the tree's write
    /// sequence number is still `path_seq`. Moving to a neighbouring leaf climbs only as
    /// far as the nearest ancestor that covers the new index (the kernel's
    /// `mas_next_node`/`mas_prev_node` climb through parent pointers the same way).
    path: Vec<Step>,
    path_seq: u64,
    /// Set by a write: the state is active on `index..=last`, but its leaf position is
    /// found only when an operation needs it (a `MapleTree::erase` never does).
    reposition: bool,
}

impl<T: Clone + Send + Sync + 'static> Drop for MaState<'_, '_, T> {
    fn drop(&mut self) {
        let path = std::mem::take(&mut self.path);
        self.guard.return_path_buf(path);
    }
}

impl<T: Clone + Send + Sync + 'static> std::fmt::Debug for MaState<'_, '_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaState")
            .field("index", &self.index)
            .field("last", &self.last)
            .field("status", &self.status)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("offset", &self.offset)
            .finish()
    }
}

impl<'g, 'a, T: Clone + Send + Sync + 'static> MaState<'g, 'a, T> {
    pub(crate) fn new(guard: &'g mut MapleGuard<'a, T>, first: u64, last: u64) -> Self {
        let path = guard.take_path_buf();
        MaState {
            guard,
            index: first,
            last,
            status: Status::Start,
            node: 0,
            min: 0,
            max: u64::MAX,
            offset: 0,
            end: 0,
            path,
            path_seq: u64::MAX,
            reposition: false,
        }
    }

    fn core(&self) -> &Core {
        &self.guard.tree().core
    }

    /// The first index of the current range.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The last index of the current range.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// `mas_set`: restarts at `index`.
    pub fn set(&mut self, index: u64) {
        self.set_range(index, index);
    }

    /// `mas_set_range`: restarts over `[first, last]`.
    pub fn set_range(&mut self, first: u64, last: u64) {
        self.index = first;
        self.last = last;
        self.status = Status::Start;
    }

    /// `mas_reset`: walk again from the root on next use.
    pub fn reset(&mut self) {
        self.status = Status::Start;
    }

    /// `mas_pause`: the next find/next continues after `last` (prev: before `index`) with a
    /// fresh walk, as needed after the lock was dropped.
    pub fn pause(&mut self) {
        self.status = Status::Pause;
    }

    /// True when positioned on a leaf slot (`mas_is_active`).
    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }

    /// True after running past the upper limit (`mas_is_overflow`).
    pub fn is_overflow(&self) -> bool {
        self.status == Status::Overflow
    }

    /// True after running past the lower limit (`mas_is_underflow`).
    pub fn is_underflow(&self) -> bool {
        self.status == Status::Underflow
    }

    /// True when the tree is empty or the state is past a lone root entry (`mas_is_none`).
    pub fn is_none(&self) -> bool {
        self.status == Status::None
    }

    fn entry(&self, raw: usize) -> Option<T> {
        // SAFETY: `raw` is a live entry of the tree (the lock is held).
        (raw != 0).then(|| unsafe { wentry::<T>(raw) })
    }

    fn root_entry(&self) -> usize {
        let r = self.core().root();
        if is_node(r) {
            0
        } else {
            r
        }
    }

    fn pivot(&self, i: usize) -> u64 {
        // SAFETY: the state's node is live under the lock.
        unsafe { wnode(self.node) }.pivot(NodeType::Leaf64, i)
    }

    fn slot(&self, i: usize) -> usize {
        // SAFETY: as above.
        unsafe { wnode(self.node) }.slot(NodeType::Leaf64, i)
    }

    /// The first index of slot `i` of the current leaf (`mas_safe_min`).
    fn safe_min(&self, i: usize) -> u64 {
        if i == 0 {
            self.min
        } else {
            self.pivot(i - 1) + 1
        }
    }

    /// The last index of slot `i` of the current leaf.
    fn slot_max(&self, i: usize) -> u64 {
        if i < self.end {
            self.pivot(i)
        } else {
            self.max
        }
    }

    /// Positions on the leaf holding `index`: from the nearest ancestor on the remembered
    /// path that covers it, or from the root if the tree changed since the path was taken.
    fn enter_leaf(&mut self, index: u64) {
        self.reposition = false;
        let core = &self.guard.tree().core;
        let seq = core.seq.load(crate::sync::atomic::Ordering::Relaxed);
        if seq != self.path_seq {
            self.path.clear();
            self.path_seq = seq;
        }
        while let Some(s) = self.path.last() {
            if s.min <= index && index <= s.max {
                break;
            }
            self.path.pop();
        }
        let from = match self.path.pop() {
            Some(s) => (s.enode, s.min, s.max),
            None => (core.root(), 0, u64::MAX),
        };
        // SAFETY: under the lock, and the path is from the current tree (checked through
        // the sequence number above), so every node on it is live; `from` covers `index`.
        unsafe { descend(&mut self.path, from, index, usize::MAX) };
        let s = *self.path.last().expect("a leaf");
        self.node = s.enode;
        self.min = s.min;
        self.max = s.max;
        self.offset = s.off;
        // SAFETY: as above.
        self.end = unsafe { wnode(s.enode) }.data_end(NodeType::Leaf64, s.max);
        self.status = Status::Active;
    }

    /// `mas_state_walk` from the start: sets the status, and for an active state the
    /// position and `index`/`last` of the range holding `index`. Returns the entry.
    fn state_walk(&mut self) -> usize {
        let root = self.core().root();
        if root == 0 {
            self.status = Status::None;
            return 0;
        }
        if !is_node(root) {
            self.status = Status::Root;
            return if self.index == 0 { root } else { 0 };
        }
        self.enter_leaf(self.index);
        self.index = self.safe_min(self.offset);
        self.last = self.slot_max(self.offset);
        self.slot(self.offset)
    }

    /// `mas_walk`: the entry at `index`; `index`/`last` become the range holding it.
    pub fn walk(&mut self) -> Option<T> {
        let raw = self.walk_raw();
        self.entry(raw)
    }

    fn walk_raw(&mut self) -> usize {
        self.status = Status::Start;
        let e = self.state_walk();
        match self.status {
            Status::None => {
                self.index = 0;
                self.last = u64::MAX;
                0
            }
            Status::Root => {
                if self.index == 0 {
                    self.last = 0;
                    e
                } else {
                    self.index = 1;
                    self.last = u64::MAX;
                    self.status = Status::None;
                    0
                }
            }
            _ => e,
        }
    }

    /// `mas_next_slot`: the next slot's entry (skipping NULLs unless `empty`), not starting
    /// past `max`.
    fn next_slot(&mut self, max: u64, empty: bool) -> usize {
        if self.max >= max {
            let pivot = if self.offset < self.end {
                self.pivot(self.offset)
            } else {
                self.max
            };
            if pivot >= max {
                self.status = Status::Overflow;
                return 0;
            }
        }
        let mut advance_in_node = self.offset < self.end;
        if advance_in_node {
            self.index = self.pivot(self.offset) + 1;
        }
        loop {
            if advance_in_node {
                self.offset += 1;
                self.last = self.slot_max(self.offset);
            } else {
                if self.last >= max {
                    self.status = Status::Overflow;
                    return 0;
                }
                // `mas_next_node`: the next leaf.
                if self.max >= max || self.max == u64::MAX {
                    self.status = Status::Overflow;
                    return 0;
                }
                let next = self.max + 1;
                self.enter_leaf(next);
                self.offset = 0;
                self.index = self.min;
                self.last = self.slot_max(0);
            }
            let e = self.slot(self.offset);
            if e != 0 || empty {
                return e;
            }
            if self.last >= max {
                self.status = Status::Overflow;
                return 0;
            }
            self.index = self.last + 1;
            advance_in_node = self.offset < self.end;
        }
    }

    /// `mas_prev_slot`: the previous slot's entry (skipping NULLs unless `empty`), not
    /// ending below `min`.
    fn prev_slot(&mut self, min: u64, empty: bool) -> usize {
        if self.min <= min {
            let pivot = self.safe_min(self.offset);
            if pivot <= min {
                self.status = Status::Underflow;
                return 0;
            }
        }
        loop {
            if self.offset > 0 {
                self.offset -= 1;
                self.last = self.index - 1;
                self.index = self.safe_min(self.offset);
            } else {
                if self.index <= min {
                    self.status = Status::Underflow;
                    return 0;
                }
                // `mas_prev_node`: the previous leaf.
                if self.min == 0 || self.min - 1 < min {
                    self.status = Status::Underflow;
                    return 0;
                }
                let prev = self.min - 1;
                self.enter_leaf(prev);
                self.offset = self.end;
                self.last = self.max;
                self.index = self.safe_min(self.offset);
            }
            let e = self.slot(self.offset);
            if e != 0 || empty {
                return e;
            }
            if self.index <= min {
                self.status = Status::Underflow;
                return 0;
            }
        }
    }

    /// `mas_find`: on the first call the entry at or after `index`, up to `max`; then the
    /// next entry. `index`/`last` become its range.
    pub fn find(&mut self, max: u64) -> Option<T> {
        let raw = self.find_raw(max);
        self.entry(raw)
    }

    fn find_raw(&mut self, max: u64) -> usize {
        self.settle();
        match self.status {
            Status::Active => {
                if self.last >= max {
                    return 0;
                }
                let e = self.next_slot(max, false);
                self.status = Status::Active;
                return e;
            }
            Status::Start | Status::Root => {}
            Status::Pause => {
                if self.last >= max {
                    return 0;
                }
                self.last += 1;
                self.index = self.last;
                self.status = Status::Start;
            }
            Status::None => {
                if self.last >= max {
                    return 0;
                }
                self.index = self.last;
                self.status = Status::Start;
            }
            Status::Underflow => {
                if self.index >= max {
                    self.status = Status::Overflow;
                    return 0;
                }
                let e = self.walk_raw();
                if e != 0 {
                    return e;
                }
            }
            Status::Overflow => {
                if self.last >= max {
                    return 0;
                }
                let e = self.walk_raw();
                if e != 0 {
                    return e;
                }
            }
        }
        if self.status == Status::Start {
            if self.index > max {
                return 0;
            }
            let e = self.walk_raw();
            if e != 0 {
                return e;
            }
        }
        if self.status == Status::Root {
            self.status = Status::None;
            self.index = 1;
            self.last = u64::MAX;
            return 0;
        }
        if self.status == Status::None {
            return 0;
        }
        if self.index == max {
            return 0;
        }
        let e = self.next_slot(max, false);
        self.status = Status::Active;
        e
    }

    /// `mas_find_rev`: on the first call the entry at or before `index`, down to `min`;
    /// then the previous entry.
    pub fn find_rev(&mut self, min: u64) -> Option<T> {
        let raw = self.find_rev_raw(min);
        self.entry(raw)
    }

    fn find_rev_raw(&mut self, min: u64) -> usize {
        self.settle();
        match self.status {
            Status::Active => {
                if self.index < min {
                    return 0;
                }
                return self.prev_slot(min, false);
            }
            Status::Start | Status::Root => {}
            Status::Pause => {
                if self.index <= min {
                    self.status = Status::Underflow;
                    return 0;
                }
                self.index -= 1;
                self.last = self.index;
                self.status = Status::Start;
            }
            Status::None => {
                if self.index <= min {
                    self.status = Status::None;
                    return 0;
                }
                self.last = self.index;
                self.status = Status::Start;
            }
            Status::Overflow => {
                if self.index <= min {
                    self.status = Status::Underflow;
                    return 0;
                }
                self.status = Status::Active;
            }
            Status::Underflow => {
                if self.index <= min {
                    return 0;
                }
                self.status = Status::Active;
            }
        }
        if self.status == Status::Start {
            if self.index < min {
                return 0;
            }
            let e = self.walk_raw();
            if e != 0 {
                return e;
            }
        }
        if self.status == Status::Root {
            self.status = Status::None;
            return 0;
        }
        if self.status == Status::None {
            // Walked to nothing: the previous location is the root entry at 0.
            self.index = 0;
            self.last = 0;
            self.status = Status::Root;
            return self.root_entry();
        }
        if self.index < min {
            return 0;
        }
        self.prev_slot(min, false)
    }

    /// `mas_next`: the next entry after the current one, up to `max`.
    pub fn next(&mut self, max: u64) -> Option<T> {
        let raw = self.next_raw(max);
        self.entry(raw)
    }

    fn next_raw(&mut self, max: u64) -> usize {
        self.settle();
        let was_none = self.status == Status::None;
        if self.last >= max {
            self.status = Status::Overflow;
            return 0;
        }
        match self.status {
            Status::Active => return self.next_slot(max, false),
            Status::None | Status::Pause | Status::Start => {
                self.walk_raw();
            }
            Status::Overflow => self.status = Status::Active,
            Status::Underflow => {
                self.status = Status::Active;
                let e = self.walk_raw();
                if e != 0 {
                    return e;
                }
            }
            Status::Root => {}
        }
        match self.status {
            Status::Active => self.next_slot(max, false),
            Status::Root => {
                if was_none && self.index == 0 {
                    self.index = 0;
                    self.last = 0;
                    return 0;
                }
                self.index = 1;
                self.last = u64::MAX;
                self.status = Status::None;
                0
            }
            _ => 0,
        }
    }

    /// `mas_prev`: the entry before the current one, down to `min`.
    pub fn prev(&mut self, min: u64) -> Option<T> {
        let raw = self.prev_raw(min);
        self.entry(raw)
    }

    fn prev_raw(&mut self, min: u64) -> usize {
        self.settle();
        if self.index <= min {
            self.status = Status::Underflow;
            return 0;
        }
        match self.status {
            Status::Active => return self.prev_slot(min, false),
            Status::Start | Status::Root => {}
            Status::None | Status::Pause => self.status = Status::Start,
            Status::Underflow => self.status = Status::Active,
            Status::Overflow => {
                self.status = Status::Active;
                let e = self.walk_raw();
                if e != 0 {
                    return e;
                }
            }
        }
        if self.status == Status::Start {
            self.walk_raw();
        }
        if self.status == Status::Root {
            if self.index == 0 {
                self.status = Status::None;
                return 0;
            }
            self.index = 0;
            self.last = 0;
            return self.root_entry();
        }
        if self.status == Status::None {
            if self.index != 0 {
                self.index = 0;
                self.last = 0;
                self.status = Status::Root;
                return self.root_entry();
            }
            return 0;
        }
        self.prev_slot(min, false)
    }

    /// `mas_store_gfp`: stores `entry` over `[index, last]`. Afterwards `index`/`last` are
    /// the range written (a NULL store grows over adjacent NULLs) and the state is on it,
    /// so a following `find` continues after it.
    pub fn store(&mut self, entry: Option<T>) -> Result<(), MapleError> {
        if self.index > self.last {
            return Err(MapleError::Invalid);
        }
        let (f, l) = self.guard.write(self.index, self.last, entry, false)?;
        self.index = f;
        self.last = l;
        self.position_on(f, l);
        Ok(())
    }

    /// After a write: positions on the range `[f, l]` just written.
    fn position_on(&mut self, f: u64, l: u64) {
        let root = self.core().root();
        if root == 0 {
            self.status = Status::None;
        } else if !is_node(root) {
            self.status = Status::Root;
        } else {
            self.status = Status::Active;
            self.reposition = true;
        }
        self.index = f;
        self.last = l;
    }

    /// Finds the leaf position a write left pending (see `reposition`).
    fn settle(&mut self) {
        if self.reposition && self.status == Status::Active {
            self.enter_leaf(self.index);
        }
        self.reposition = false;
    }

    /// `mas_erase`: erases the whole range holding `index`; returns its entry, and
    /// `index`/`last` become the range erased.
    pub fn erase(&mut self) -> Option<T> {
        let raw = self.walk_raw();
        if raw == 0 {
            return None;
        }
        let old = self.entry(raw);
        let (mut f, mut l) = (self.index, self.last);
        if self.status == Status::Root {
            f = 0;
            l = 0;
        }
        if let Ok((nf, nl)) = self.guard.write(f, l, None, false) {
            f = nf;
            l = nl;
        }
        self.position_on(f, l);
        old
    }

    /// `mas_empty_area`: the lowest free area of `size` indexes within `[min, max]`; on
    /// success `index()..=last()` is that area.
    pub fn empty_area(&mut self, min: u64, max: u64, size: u64) -> Result<(), MapleError> {
        self.area(min, max, size, false)
    }

    /// `mas_empty_area_rev`: the highest free area of `size` indexes within `[min, max]`.
    pub fn empty_area_rev(&mut self, min: u64, max: u64, size: u64) -> Result<(), MapleError> {
        self.area(min, max, size, true)
    }

    fn area(&mut self, min: u64, max: u64, size: u64, rev: bool) -> Result<(), MapleError> {
        if min > max || size == 0 || max - min < size - 1 {
            return Err(MapleError::Invalid);
        }
        let root = self.core().root();
        if !is_node(root) {
            // `mas_sparse_area`: nothing stored, or only index 0.
            let mut lo = min;
            if root != 0 && lo == 0 {
                lo = 1;
                if lo > max || max - lo + 1 < size {
                    return Err(MapleError::Busy);
                }
            }
            if rev {
                self.last = max;
                self.index = max - (size - 1);
            } else {
                self.index = lo;
                self.last = lo + (size - 1);
            }
            self.status = Status::Start;
            return Ok(());
        }
        let alloc = self.core().is_alloc();
        // SAFETY: under the lock.
        let found = unsafe { search(root, 0, u64::MAX, min, max, size, alloc, rev) };
        match found {
            Some(start) => {
                self.index = start;
                self.last = start + (size - 1);
                self.status = Status::Start;
                Ok(())
            }
            None => Err(MapleError::Busy),
        }
    }
}

/// The lowest (or, with `rev`, highest) start of a free area of `size` indexes within
/// `[lo, hi]` below `enode`, descending only into children whose recorded gap can hold it.
///
/// # Safety
/// Under the lock; `enode` live with limits `[min, max]`.
#[allow(clippy::too_many_arguments)]
unsafe fn search(
    enode: usize,
    min: u64,
    max: u64,
    lo: u64,
    hi: u64,
    size: u64,
    alloc: bool,
    rev: bool,
) -> Option<u64> {
    let ty = node_type(enode);
    // SAFETY: the caller's guarantee.
    let raw = unsafe { items_of(enode, min, max) };
    let items: Vec<(u64, Item)> = starts(&raw, min).map(|(s, it)| (s, *it)).collect();
    let visit = |(start, it): &(u64, Item)| -> Option<u64> {
        if it.last < lo || *start > hi {
            return None;
        }
        if ty.is_leaf() {
            if it.slot != 0 {
                return None;
            }
            let s = (*start).max(lo);
            let e = it.last.min(hi);
            if e < s || e - s < size - 1 {
                return None;
            }
            return Some(if rev { e - (size - 1) } else { s });
        }
        if alloc && it.gap < size {
            return None;
        }
        // SAFETY: children of a live node are live.
        unsafe { search(it.slot, *start, it.last, lo, hi, size, alloc, rev) }
    };
    if rev {
        items.iter().rev().find_map(visit)
    } else {
        items.iter().find_map(visit)
    }
}
