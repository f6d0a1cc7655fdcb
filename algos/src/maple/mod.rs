//! The maple tree (`lib/maple_tree.c`, `include/linux/maple_tree.h`): an RCU-safe B-tree of
//! non-overlapping inclusive `u64` ranges, with gap tracking for allocation trees.
//!
//! Layout and invariants follow the kernel (see [`node`]): 256-byte nodes of the kernel's
//! types, pivots as inclusive upper bounds with limits implied by the parent, adjacent
//! NULL ranges always merged, no leaf but the rightmost ending in NULL, the kernel's
//! minimum occupancies, the height kept in the tree, and a lone entry at index 0 held in
//! the root itself. Writers are serialized by the tree's lock; in RCU mode
//! ([`MapleTree::set_in_rcu`]) readers are lock-free, nodes that readers may see are
//! copied rather than changed, replaced nodes are marked dead (a reader that meets one
//! restarts from the root) and freed after a grace period. Outside RCU mode readers take
//! the lock and nodes are rewritten in place when that is possible.
//!
//! Nodes come from an allocator that the fault injector can fail
//! (`sync::fault` site `maple_node_alloc`); the store then drops the lock, allocates with
//! the blocking allocation, takes the lock again and walks again (`mas_nomem`). While the
//! lock is dropped, an interrupt may arrive (`sync::cpu` point `maple_nomem`).

#[cfg(any(test, feature = "model"))]
pub mod model;
pub(crate) mod node;
mod state;
mod validate;
mod write;

#[cfg(all(test, not(mmcheck_model)))]
mod tests;

pub use node::cache_stats;
pub use state::MaState;
pub use validate::ValidateError;

use crate::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use crate::sync::rcu::{self, Shared};
use crate::sync::{cpu, Mutex, MutexGuard};
use node::{is_node, node_type, rentry, rnode, Access, Locked, Node};
use std::marker::PhantomData;
use write::Plan;

/// Why a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapleError {
    /// An index of the range is already occupied (`-EEXIST`).
    Exists,
    /// Bad arguments, e.g. `first > last` (`-EINVAL`).
    Invalid,
    /// A node allocation failed, also after dropping the lock (`-ENOMEM`).
    NoMem,
    /// No free area fits (`-EBUSY`).
    Busy,
}

impl std::fmt::Display for MapleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            MapleError::Exists => "range already occupied (EEXIST)",
            MapleError::Invalid => "invalid argument (EINVAL)",
            MapleError::NoMem => "out of memory (ENOMEM)",
            MapleError::Busy => "no free area fits (EBUSY)",
        };
        f.write_str(s)
    }
}

impl std::error::Error for MapleError {}

/// How many times each write path ran (for tests that must reach every path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// One slot replaced in place (`mas_wr_exact_fit` / `wr_exact_fit`).
    pub exact_fit: u64,
    /// A leaf rewritten in place with the same number of slots (`wr_slot_store`).
    pub slot_store: u64,
    /// A leaf rewritten in place with slots added at its end (`wr_append`).
    pub append: u64,
    /// A leaf replaced by one node (or rewritten in place) (`wr_node_store`).
    pub node_store: u64,
    /// A level needed more than one node (`wr_split_store`).
    pub split: u64,
    /// The store covered more than one leaf (`wr_spanning_store`).
    pub spanning_store: u64,
    /// A node below minimum occupancy took in its right neighbour (`wr_rebalance`).
    pub rebalance: u64,
    /// A full node shared its content with a sibling instead of splitting
    /// (`mas_push_data`).
    pub push: u64,
    /// The root changed wholesale (`wr_store_root` / `wr_new_root`).
    pub root_store: u64,
    /// Node allocation failed under the lock and was retried without it (`mas_nomem`).
    pub nomem_retries: u64,
}

/// Tree flag: allocation tree with gap tracking (`MT_FLAGS_ALLOC_RANGE`).
const FLAG_ALLOC: u32 = 1;
/// Tree flag: RCU mode (`MT_FLAGS_USE_RCU`).
const FLAG_RCU: u32 = 2;

/// The part of the tree readers see.
pub(crate) struct Core {
    /// 0 (empty), an entry (the lone entry at index 0), or an encoded root node.
    root: AtomicUsize,
    flags: AtomicU32,
    height: AtomicU32,
    /// Bumped by every write; a write plan made before a change is stale.
    seq: AtomicU64,
}

impl Core {
    pub(crate) fn is_alloc(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & FLAG_ALLOC != 0
    }

    pub(crate) fn in_rcu(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & FLAG_RCU != 0
    }
}

/// The writer's private state, behind the tree's lock.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    stats: WriteStats,
    /// Nodes allocated by `mas_nomem` without the lock, used by the next attempt.
    reserve: Vec<Shared<Node>>,
    /// A walk buffer lent to each `MaState` and given back when it is dropped, so that
    /// cursors do not allocate.
    path_buf: Vec<write::Step>,
    /// The write planner's reusable buffers.
    scratch: write::Scratch,
}

// SAFETY: the reserve holds unpublished nodes owned by the writer alone.
unsafe impl Send for Writer {}

/// A maple tree mapping `u64` ranges to values of `T`.
pub struct MapleTree<T: Clone + Send + Sync + 'static> {
    core: Core,
    lock: Mutex<Writer>,
    _t: PhantomData<T>,
}

impl<T: Clone + Send + Sync + 'static> Default for MapleTree<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Send + Sync + 'static> std::fmt::Debug for MapleTree<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapleTree")
            .field("height", &self.core.height.load(Ordering::Relaxed))
            .field("flags", &self.core.flags.load(Ordering::Relaxed))
            .finish()
    }
}

impl<T: Clone + Send + Sync + 'static> MapleTree<T> {
    fn with_flags(flags: u32) -> Self {
        MapleTree {
            core: Core {
                root: AtomicUsize::new(0),
                flags: AtomicU32::new(flags),
                height: AtomicU32::new(0),
                seq: AtomicU64::new(0),
            },
            lock: Mutex::new(Writer::default()),
            _t: PhantomData,
        }
    }

    /// A plain tree (`mt_init_flags(mt, 0)`).
    pub fn new() -> Self {
        Self::with_flags(0)
    }

    /// An allocation tree with gap tracking (`MT_FLAGS_ALLOC_RANGE`).
    pub fn new_alloc() -> Self {
        Self::with_flags(FLAG_ALLOC)
    }

    /// Enters RCU mode (`mt_set_in_rcu`): readers become lock-free.
    pub fn set_in_rcu(&self) {
        let _g = self.lock.lock();
        self.core.flags.fetch_or(FLAG_RCU, Ordering::Release);
    }

    /// Leaves RCU mode (`mt_clear_in_rcu`).
    pub fn clear_in_rcu(&self) {
        let _g = self.lock.lock();
        self.core.flags.fetch_and(!FLAG_RCU, Ordering::Release);
    }

    /// Whether the tree is in RCU mode.
    pub fn in_rcu(&self) -> bool {
        self.core.in_rcu()
    }

    /// Whether this is an allocation tree.
    pub fn is_alloc(&self) -> bool {
        self.core.is_alloc()
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.core.root.load(Ordering::Acquire) == 0
    }

    /// The number of levels (`mt_height`): 0 for an empty tree or a lone root entry.
    pub fn height(&self) -> u32 {
        self.core.height.load(Ordering::Acquire)
    }

    /// How often each write path ran.
    pub fn write_stats(&self) -> WriteStats {
        self.lock.lock().stats
    }

    /// `mtree_load`: the entry at `index`. Lock-free in RCU mode: a reader that meets a
    /// dead node starts again from the root.
    pub fn load(&self, index: u64) -> Option<T> {
        if self.core.in_rcu() {
            self.lookup(&rcu::read_lock(), index)
        } else {
            let _g = self.lock.lock();
            self.lookup(&Locked, index)
        }
    }

    /// `mtree_lookup_walk`: the descent of [`MapleTree::load`]. In every node the slot
    /// that holds `index` is the first whose pivot is at least `index`, or the last slot
    /// when none is: the last used slot's pivot is the node's maximum (unless the node is
    /// full), so the scan needs neither the node's end nor its limits. The child is
    /// prefetched whole before its pivots are read. (Counting the pivots below `index`
    /// without branches was measured slower: the slot's address then waits for all 15
    /// pivots, while the predicted loop exit lets the next level's loads start early.)
    #[inline]
    fn lookup<A: Access>(&self, a: &A, index: u64) -> Option<T> {
        'restart: loop {
            let root = self.core.root.load(Ordering::Acquire);
            if !is_node(root) {
                // SAFETY: loaded from the tree under `a`.
                return (root != 0 && index == 0).then(|| unsafe { a.entry::<T>(root) });
            }
            let mut enode = root;
            loop {
                let ty = node_type(enode);
                // SAFETY: `enode` was loaded from the tree under `a`.
                let n = unsafe { a.node(enode) };
                let pivots = ty.pivots();
                let mut off = 0;
                while off < pivots && n.pivot(ty, off) < index {
                    off += 1;
                }
                let slot = n.slot(ty, off);
                if n.is_dead() {
                    continue 'restart;
                }
                if ty.is_leaf() {
                    // SAFETY: as above.
                    return (slot != 0).then(|| unsafe { a.entry::<T>(slot) });
                }
                node::prefetch(slot);
                enode = slot;
            }
        }
    }

    /// `mt_find`: the first entry in `[*index, max]`; on success `*index` becomes that
    /// entry's last index + 1 (wrapping to 0 after `u64::MAX`, as the kernel does).
    pub fn find(&self, index: &mut u64, max: u64) -> Option<T> {
        if *index > max {
            return None;
        }
        let _g = (!self.core.in_rcu()).then(|| self.lock.lock());
        let guard = rcu::read_lock();
        'restart: loop {
            let root = self.core.root.load(Ordering::Acquire);
            if root == 0 {
                return None;
            }
            if !is_node(root) {
                if *index == 0 {
                    *index = 1;
                    // SAFETY: loaded in this read section.
                    return Some(unsafe { rentry::<T>(root, &guard) });
                }
                return None;
            }
            let mut enode = root;
            let (mut min, mut nmax) = (0u64, u64::MAX);
            loop {
                let ty = node_type(enode);
                // SAFETY: loaded in this read section.
                let n = unsafe { rnode(enode, &guard) };
                let end = n.data_end(ty, nmax);
                let mut off = 0;
                while off < end && n.pivot(ty, off) < *index {
                    off += 1;
                }
                let lo = if off == 0 {
                    min
                } else {
                    n.pivot(ty, off - 1) + 1
                };
                let hi = if off < end { n.pivot(ty, off) } else { nmax };
                let slot = n.slot(ty, off);
                if !ty.is_leaf() {
                    if n.is_dead() {
                        continue 'restart;
                    }
                    node::prefetch(slot);
                    enode = slot;
                    min = lo;
                    nmax = hi;
                    continue;
                }
                // A NULL slot is followed by an entry (NULLs are merged, and no leaf but
                // the rightmost ends in NULL), so at most one step forward is needed.
                let found = if slot != 0 {
                    Some((slot, hi))
                } else if hi < max && off < end {
                    let next_hi = if off + 1 < end {
                        n.pivot(ty, off + 1)
                    } else {
                        nmax
                    };
                    Some((n.slot(ty, off + 1), next_hi))
                } else {
                    None
                };
                if n.is_dead() {
                    continue 'restart;
                }
                let (slot, last) = found?;
                if slot == 0 {
                    return None;
                }
                *index = last.wrapping_add(1);
                // SAFETY: loaded in this read section.
                return Some(unsafe { rentry::<T>(slot, &guard) });
            }
        }
    }

    /// Takes the writer lock (`mtree_lock`).
    pub fn lock(&self) -> MapleGuard<'_, T> {
        MapleGuard {
            tree: self,
            guard: self.lock.lock(),
        }
    }

    /// `mtree_store_range`: stores `entry` over `[first, last]` (`None` erases it).
    pub fn store_range(&self, first: u64, last: u64, entry: Option<T>) -> Result<(), MapleError> {
        if first > last {
            return Err(MapleError::Invalid);
        }
        let mut g = self.lock();
        g.write(first, last, entry, false).map(|_| ())
    }

    /// `mtree_store`: stores `entry` at `index`.
    pub fn store(&self, index: u64, entry: Option<T>) -> Result<(), MapleError> {
        self.store_range(index, index, entry)
    }

    /// `mtree_insert_range`: stores `entry` over `[first, last]` if all of it is empty.
    pub fn insert_range(&self, first: u64, last: u64, entry: T) -> Result<(), MapleError> {
        if first > last {
            return Err(MapleError::Invalid);
        }
        let mut g = self.lock();
        g.write(first, last, Some(entry), true).map(|_| ())
    }

    /// `mtree_insert`: stores `entry` at `index` if it is empty.
    pub fn insert(&self, index: u64, entry: T) -> Result<(), MapleError> {
        self.insert_range(index, index, entry)
    }

    /// `mtree_erase`: removes the whole range containing `index`; returns its entry.
    pub fn erase(&self, index: u64) -> Option<T> {
        let mut g = self.lock();
        let mut mas = g.ma_state(index, index);
        mas.erase()
    }

    /// `mtree_alloc_range`: stores `entry` in the lowest free area of `size` indexes within
    /// `[min, max]` and returns its first index.
    pub fn alloc_range(&self, min: u64, max: u64, size: u64, entry: T) -> Result<u64, MapleError> {
        self.alloc_with(min, max, size, entry, false)
    }

    /// `mtree_alloc_rrange`: as [`MapleTree::alloc_range`], the highest free area.
    pub fn alloc_rrange(&self, min: u64, max: u64, size: u64, entry: T) -> Result<u64, MapleError> {
        self.alloc_with(min, max, size, entry, true)
    }

    fn alloc_with(
        &self,
        min: u64,
        max: u64,
        size: u64,
        entry: T,
        rev: bool,
    ) -> Result<u64, MapleError> {
        if !self.is_alloc() {
            return Err(MapleError::Invalid);
        }
        let mut g = self.lock();
        loop {
            let (first, last) = {
                let mut mas = g.ma_state(0, 0);
                if rev {
                    mas.empty_area_rev(min, max, size)?;
                } else {
                    mas.empty_area(min, max, size)?;
                }
                (mas.index(), mas.last())
            };
            // The area may be gone if the lock was dropped for memory: look again then.
            match g.write(first, last, Some(entry.clone()), true) {
                Ok(_) => return Ok(first),
                Err(MapleError::Exists) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Every stored range in order: `(first, last, value)`.
    pub fn ranges(&self) -> Vec<(u64, u64, T)> {
        let mut out = Vec::new();
        let mut g = self.lock();
        let mut mas = g.ma_state(0, 0);
        while let Some(v) = mas.find(u64::MAX) {
            out.push((mas.index(), mas.last(), v));
            if mas.last() == u64::MAX {
                break;
            }
        }
        out
    }

    /// `mtree_destroy`: removes everything.
    pub fn destroy(&self) {
        let g = self.lock();
        let root = self.core.root.swap(0, Ordering::AcqRel);
        self.core.height.store(0, Ordering::Release);
        self.core.seq.fetch_add(1, Ordering::Relaxed);
        let rcu = self.core.in_rcu();
        // SAFETY: unpublished by the swap; under the lock.
        unsafe { free_root::<T>(root, rcu) };
        drop(g);
    }

    /// The number of slots in use in each node, level by level from the root: a compact
    /// `mt_dump` for tests and debugging.
    pub fn shape(&self) -> Vec<Vec<usize>> {
        let _g = self.lock.lock();
        // SAFETY: under the lock.
        unsafe { validate::shape(&self.core) }
    }

    /// `mt_dump`: the whole tree as text, node by node with ranges, entries and gaps (at
    /// most a few hundred lines), for failure reports.
    pub fn dump(&self) -> String {
        let _g = self.lock.lock();
        // SAFETY: under the lock.
        unsafe { validate::dump(&self.core) }
    }

    /// `mt_validate`: checks every structural invariant.
    pub fn validate(&self) -> Result<(), ValidateError> {
        let _g = self.lock.lock();
        // SAFETY: under the lock.
        unsafe { validate::validate(&self.core) }
    }
}

/// Frees everything below a root value that has just been unpublished.
///
/// # Safety
/// Unreachable from the tree, under the lock (or with exclusive access).
unsafe fn free_root<T: Send + 'static>(root: usize, rcu: bool) {
    if root == 0 {
        return;
    }
    if is_node(root) {
        // SAFETY: the caller's guarantee.
        unsafe { write::drop_tree::<T>(root, rcu) };
    } else {
        // SAFETY: as above.
        unsafe { node::retire_entry::<T>(root, rcu) };
    }
}

impl<T: Clone + Send + Sync + 'static> Drop for MapleTree<T> {
    fn drop(&mut self) {
        let root = self.core.root.load(Ordering::Acquire);
        // SAFETY: `&mut self`: nobody else can reach the tree. Freed now (no readers).
        unsafe { free_root::<T>(root, false) };
        let w = self.lock.lock();
        for n in w.reserve.iter() {
            // SAFETY: never published.
            unsafe { node::free_unused(*n) };
        }
    }
}

/// The writer lock, held (`mtree_lock`). Dropping it unlocks.
pub struct MapleGuard<'a, T: Clone + Send + Sync + 'static> {
    tree: &'a MapleTree<T>,
    guard: MutexGuard<'a, Writer>,
}

impl<T: Clone + Send + Sync + 'static> std::fmt::Debug for MapleGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MapleGuard")
    }
}

impl<'a, T: Clone + Send + Sync + 'static> MapleGuard<'a, T> {
    /// A maple state over `[first, last]` (`MA_STATE`).
    pub fn ma_state(&mut self, first: u64, last: u64) -> MaState<'_, 'a, T> {
        MaState::new(self, first, last)
    }

    /// The tree.
    pub fn tree(&self) -> &'a MapleTree<T> {
        self.tree
    }

    fn writer(&mut self) -> &mut Writer {
        &mut self.guard
    }

    /// Lends the walk buffer to a new `MaState`.
    pub(crate) fn take_path_buf(&mut self) -> Vec<write::Step> {
        std::mem::take(&mut self.writer().path_buf)
    }

    /// Takes the walk buffer back from a dropped `MaState`.
    pub(crate) fn return_path_buf(&mut self, mut buf: Vec<write::Step>) {
        buf.clear();
        self.guard.path_buf = buf;
    }

    /// Stores `entry` over `[first, last]` (insert: only if empty), with `mas_nomem`'s
    /// retry. Returns the range actually written (a NULL grows over adjacent NULLs).
    pub(crate) fn write(
        &mut self,
        first: u64,
        last: u64,
        entry: Option<T>,
        insert: bool,
    ) -> Result<(u64, u64), MapleError> {
        let tree = self.tree;
        let core = &tree.core;
        let raw = entry.map_or(0, node::alloc_entry);
        loop {
            if insert && self.occupied(first, last) {
                // SAFETY: never published.
                unsafe { node::free_entry_now::<T>(raw) };
                return Err(MapleError::Exists);
            }
            let seq = core.seq.load(Ordering::Relaxed);
            // SAFETY: the lock is held.
            let plan = unsafe { core.plan(first, last, raw, &mut self.writer().scratch) };
            let reserve = std::mem::take(&mut self.writer().reserve);
            match write::prealloc(&plan, reserve) {
                Ok(nodes) => {
                    let range = (plan.first, plan.last);
                    self.execute(plan, nodes, seq);
                    return Ok(range);
                }
                Err(kept) => {
                    // `mas_nomem`: drop the lock, allocate with a blocking allocation,
                    // take the lock again and walk again: the tree may have changed.
                    self.writer().stats.nomem_retries += 1;
                    let need = plan.builds.len();
                    let got = MutexGuard::unlocked(&mut self.guard, || {
                        cpu::interrupt_point("maple_nomem");
                        write::alloc_blocking(need, kept)
                    });
                    match got {
                        Some(nodes) => self.writer().reserve = nodes,
                        None => {
                            // SAFETY: never published.
                            unsafe { node::free_entry_now::<T>(raw) };
                            return Err(MapleError::NoMem);
                        }
                    }
                }
            }
        }
    }

    fn execute(&mut self, plan: Plan, nodes: Vec<Shared<Node>>, seq: u64) {
        let tree = self.tree;
        let core = &tree.core;
        assert_eq!(
            core.seq.load(Ordering::Relaxed),
            seq,
            "maple: stale write plan: the tree changed after the walk (mas_nomem must walk again)"
        );
        core.seq.fetch_add(1, Ordering::Relaxed);
        let w: &mut Writer = &mut self.guard;
        // SAFETY: under the lock, the plan is current (checked above), nodes fit it.
        unsafe { core.execute::<T>(plan, nodes, &mut w.stats, &mut w.scratch) };
    }

    /// True if any index of `[first, last]` holds an entry.
    fn occupied(&self, first: u64, last: u64) -> bool {
        let core = &self.tree.core;
        let root = core.root.load(Ordering::Acquire);
        if root == 0 {
            return false;
        }
        if !is_node(root) {
            return first == 0;
        }
        let h = core.height.load(Ordering::Relaxed) as usize;
        // SAFETY: under the lock.
        let path = unsafe { core.walk_to(first, h - 1) };
        let s = *path.last().expect("a leaf");
        // SAFETY: as above.
        let (_, hi) = unsafe { Core::slot_limits(&s) };
        // SAFETY: as above.
        let slot = unsafe { node::wnode(s.enode) }.slot(node_type(s.enode), s.off);
        slot != 0 || hi < last
    }
}
