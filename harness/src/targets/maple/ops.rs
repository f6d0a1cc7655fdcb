//! Target `maple_ops`: `algos::maple` against the range-map model
//! ([`RangeModel`](super::model::RangeModel)), one operation at a time.
//!
//! Operations are the normal API (`mtree_store_range`, `mtree_insert_range`, `mtree_erase`,
//! `mtree_load`, `mt_find`, `mtree_alloc_range`, `mtree_alloc_rrange`, `mtree_destroy`), the
//! advanced API under the lock (`mas_walk`, chains of `mas_next`, `mas_prev`, `mas_find`,
//! `mas_find_rev`, `mas_empty_area[_rev]`), bulk stores that grow the tree to height 3 in
//! one step, RCU mode on/off, and re-initialisation with either tree kind (plain or
//! `MT_FLAGS_ALLOC_RANGE`), so one fuzz target covers both kinds and both modes. Indexes
//! are small (below 512, often below 16) with occasional values next to `u64::MAX`, so
//! splits, spanning stores, the root entry and the rightmost-node cases come quickly.
//!
//! After every step `validate()` must pass and the tree's ranges, kind, RCU mode and root
//! representation must equal the model's. Both cost a walk of the whole tree, so most steps
//! get the quick check instead ([`Target::quick_check`]): the kind, mode and root
//! representation, and the ranges in the window the operation may write (plus one index on
//! each side, where trimmed neighbours end); the engine runs the full checks periodically,
//! after the last step, and after every step when it replays a failing input.
//!
//! **Allocation failures.** A write whose node allocation fails under the lock drops the lock
//! (an interrupt may run a nested operation there, at the `maple_nomem` point), allocates
//! again and, if that fails too, returns `NoMem`. The operation wrappers check that such a
//! failed write changed nothing (when no nested operation ran meanwhile: no write path ran,
//! the height is the same, `validate()` passes), count it, and retry it, as a kernel caller retries after `-ENOMEM`; the model sees the
//! operation once. `mtree_erase` reports no error (the kernel's returns the entry even when
//! the erase failed for memory); its failure is recognized by the entry still being there.
//! [`nomem_counts`] tells tests how often all this happened.
//!
//! **The lone root entry.** A tree holding a single entry at index 0, stored while the tree
//! had no nodes, keeps it in the root pointer (`mas_store_root`); the kernel's `mas_prev` and
//! `mas_find_rev` then return that entry for any start above `min`, whatever `min` is. The
//! model tracks that representation ([`MapleModel::root_entry`]) to predict it.

use super::model::{ModelError, RangeModel};
use crate::target::Target;
use algos::maple::{MapleError, MapleTree};
use algos::sync::cpu::Interrupt;
use algos::sync::fault;
use arbitrary::{Arbitrary, Unstructured};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The values stored in the tree.
pub use super::model::Val;

/// `mas_next`/`mas_prev`/`mas_find`/`mas_find_rev` chains this long run until the first
/// `None` (the tree never holds that many ranges).
pub const ALL_STEPS: u16 = 8192;

/// Most attempts of one write that keeps failing with `NoMem` (the fault patterns of an
/// input are finite, so this is never reached by a correct tree).
const MAX_ATTEMPTS: usize = 10_000;

/// One operation of `maple_ops`. Decoded by a hand-written [`Arbitrary`] impl that weights
/// the operations and draws indexes from a small space (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapleOp {
    /// `mtree_store_range(first, last, val)`.
    Store {
        /// First index.
        first: u64,
        /// Last index (inclusive).
        last: u64,
        /// Value.
        val: Val,
    },
    /// `mtree_store_range(first, last, NULL)`: erases the window.
    StoreNull {
        /// First index.
        first: u64,
        /// Last index (inclusive).
        last: u64,
    },
    /// `mtree_insert_range(first, last, val)`.
    Insert {
        /// First index.
        first: u64,
        /// Last index (inclusive).
        last: u64,
        /// Value.
        val: Val,
    },
    /// `mtree_erase(index)`: removes the whole range holding `index`.
    Erase(u64),
    /// `mtree_load(index)`.
    Load(u64),
    /// `mt_find(&index, max)`.
    Find {
        /// Start index.
        index: u64,
        /// Upper limit.
        max: u64,
    },
    /// `mtree_alloc_range`.
    AllocRange {
        /// Window start.
        min: u64,
        /// Window end (inclusive).
        max: u64,
        /// Size of the area.
        size: u64,
        /// Value.
        val: Val,
    },
    /// `mtree_alloc_rrange`.
    AllocRrange {
        /// Window start.
        min: u64,
        /// Window end (inclusive).
        max: u64,
        /// Size of the area.
        size: u64,
        /// Value.
        val: Val,
    },
    /// `mas_walk` from a fresh state at `index`.
    MasWalk(u64),
    /// `mas_next(max)`, `steps` times (until the first `None`), from a fresh state at
    /// `index`.
    MasNext {
        /// Start index.
        index: u64,
        /// Upper limit.
        max: u64,
        /// Most calls.
        steps: u16,
    },
    /// `mas_prev(min)`, `steps` times, from a fresh state at `index`.
    MasPrev {
        /// Start index.
        index: u64,
        /// Lower limit.
        min: u64,
        /// Most calls.
        steps: u16,
    },
    /// `mas_find(max)`, `steps` times, from a fresh state at `index`.
    MasFind {
        /// Start index.
        index: u64,
        /// Upper limit.
        max: u64,
        /// Most calls.
        steps: u16,
    },
    /// An iteration that writes as it goes, as a VMA merge does: from a fresh state at
    /// `index`, `mas_find(max)`, then grow the found range by `grow` indexes and
    /// `mas_store(val)` over it, then find again (which must move past the stored range),
    /// `steps` times. Runs without injected allocation failures (a failed store in the
    /// middle of an iteration has no retry the target could model).
    MasFindStore {
        /// Start index.
        index: u64,
        /// Upper limit of the finds.
        max: u64,
        /// Most find/store rounds.
        steps: u16,
        /// Indexes added past each found range's end before storing.
        grow: u8,
        /// The value stored.
        val: Val,
    },
    /// `mas_find_rev(min)`, `steps` times, from a fresh state at `index`.
    MasFindRev {
        /// Start index.
        index: u64,
        /// Lower limit.
        min: u64,
        /// Most calls.
        steps: u16,
    },
    /// `mas_empty_area` (or `mas_empty_area_rev`) on either tree kind.
    EmptyArea {
        /// Window start.
        min: u64,
        /// Window end (inclusive).
        max: u64,
        /// Size of the area.
        size: u64,
        /// Highest area instead of lowest.
        rev: bool,
    },
    /// `count` stores of `[first + k * stride, first + k * stride + len]` with value
    /// `val + k` (in descending order of `k` if `rev`), as the kernel's tests fill trees.
    /// Runs with interrupts disabled, so that it is one operation for the model.
    Populate {
        /// Start of the first range.
        first: u64,
        /// Number of stores.
        count: u8,
        /// Distance between range starts (1..=4).
        stride: u8,
        /// Range length minus one.
        len: u8,
        /// Value of the first range.
        val: Val,
        /// Store the last range first.
        rev: bool,
    },
    /// `mt_set_in_rcu` (true) or `mt_clear_in_rcu` (false).
    Rcu(bool),
    /// `mtree_destroy`: removes everything, keeping the kind and mode.
    Destroy,
    /// Replaces the tree with a new empty one of the given kind and mode
    /// (`mtree_destroy` + `mt_init_flags`). Never in an interrupt.
    Reset {
        /// `MT_FLAGS_ALLOC_RANGE`.
        alloc: bool,
        /// RCU mode.
        rcu: bool,
    },
}

/// An index: mostly below 512, often below 16, sometimes within 64 of `u64::MAX`.
fn index(u: &mut Unstructured<'_>) -> arbitrary::Result<u64> {
    let b = u16::arbitrary(u)?;
    Ok(match b >> 13 {
        7 => u64::MAX - u64::from(b & 0x3f),
        6 => u64::from(b & 0x0f),
        _ => u64::from(b) % 512,
    })
}

/// An inclusive range starting at an [`index`]: usually short, sometimes long, sometimes
/// reaching `u64::MAX`, rarely inverted (`first > last`, which the tree must refuse).
fn range(u: &mut Unstructured<'_>) -> arbitrary::Result<(u64, u64)> {
    let first = index(u)?;
    let l = u8::arbitrary(u)?;
    let last = match l {
        0..=159 => first.saturating_add(u64::from(l % 8)),
        160..=223 => first.saturating_add(u64::from(l % 64) * 4),
        224..=249 => first.saturating_add(u64::from(l) * 5),
        250 if first > 0 => first - 1,
        _ => u64::MAX,
    };
    Ok((first, last))
}

/// A size for the empty-area searches: usually 1..=8, sometimes larger, rarely 0.
fn size(u: &mut Unstructured<'_>) -> arbitrary::Result<u64> {
    let b = u8::arbitrary(u)?;
    Ok(match b {
        0 => 0,
        1..=199 => 1 + u64::from(b % 8),
        _ => u64::from(b) * 3,
    })
}

/// A chain length: 1, 2, 3 or [`ALL_STEPS`].
fn steps(u: &mut Unstructured<'_>) -> arbitrary::Result<u16> {
    Ok(match u8::arbitrary(u)? % 4 {
        0 => 1,
        1 => 2,
        2 => 3,
        _ => ALL_STEPS,
    })
}

impl<'a> Arbitrary<'a> for MapleOp {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let tag = u8::arbitrary(u)?;
        Ok(match tag {
            44..=49 => {
                let (index, max) = range(u)?;
                MapleOp::MasFindStore {
                    index,
                    max,
                    // A bounded walk (a VMA merge touches a few neighbours): the bug class
                    // shows from the second round on, and an unbounded one would store over
                    // every range of a populated tree.
                    steps: 1 + u16::from(u8::arbitrary(u)? % 16),
                    grow: u8::arbitrary(u)? % 8,
                    val: Val::arbitrary(u)?,
                }
            }
            0..=43 => {
                let (first, last) = range(u)?;
                MapleOp::Store {
                    first,
                    last,
                    val: Val::arbitrary(u)?,
                }
            }
            50..=74 => {
                let (first, last) = range(u)?;
                MapleOp::StoreNull { first, last }
            }
            75..=94 => {
                let (first, last) = range(u)?;
                MapleOp::Insert {
                    first,
                    last,
                    val: Val::arbitrary(u)?,
                }
            }
            95..=114 => MapleOp::Erase(index(u)?),
            115..=129 => MapleOp::Load(index(u)?),
            130..=141 => {
                let (index, max) = range(u)?;
                MapleOp::Find { index, max }
            }
            142..=161 => {
                let (min, max) = range(u)?;
                let (size, val) = (size(u)?, Val::arbitrary(u)?);
                if tag < 152 {
                    MapleOp::AllocRange {
                        min,
                        max,
                        size,
                        val,
                    }
                } else {
                    MapleOp::AllocRrange {
                        min,
                        max,
                        size,
                        val,
                    }
                }
            }
            162..=171 => MapleOp::MasWalk(index(u)?),
            172..=181 => {
                let (index, max) = range(u)?;
                MapleOp::MasNext {
                    index,
                    max,
                    steps: steps(u)?,
                }
            }
            182..=191 => {
                let (min, index) = range(u)?;
                MapleOp::MasPrev {
                    index,
                    min,
                    steps: steps(u)?,
                }
            }
            192..=201 => {
                let (index, max) = range(u)?;
                MapleOp::MasFind {
                    index,
                    max,
                    steps: steps(u)?,
                }
            }
            202..=211 => {
                let (min, index) = range(u)?;
                MapleOp::MasFindRev {
                    index,
                    min,
                    steps: steps(u)?,
                }
            }
            212..=221 => {
                let (min, max) = range(u)?;
                MapleOp::EmptyArea {
                    min,
                    max,
                    size: size(u)?,
                    rev: bool::arbitrary(u)?,
                }
            }
            222..=245 => MapleOp::Populate {
                first: index(u)?,
                count: u8::arbitrary(u)?,
                stride: 1 + u8::arbitrary(u)? % 4,
                len: u8::arbitrary(u)? % 6,
                val: Val::arbitrary(u)?,
                rev: bool::arbitrary(u)?,
            },
            246..=250 => MapleOp::Rcu(bool::arbitrary(u)?),
            251..=252 => MapleOp::Destroy,
            _ => MapleOp::Reset {
                alloc: bool::arbitrary(u)?,
                rcu: bool::arbitrary(u)?,
            },
        })
    }
}

/// The ranges of a [`MapleOp::Populate`], in store order.
fn populate_ranges(first: u64, count: u8, stride: u8, len: u8, rev: bool) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> = (0..u64::from(count))
        .map_while(|k| {
            let f = first.checked_add(k.checked_mul(u64::from(stride))?)?;
            Some((f, f.checked_add(u64::from(len))?))
        })
        .collect();
    if rev {
        v.reverse();
    }
    v
}

/// What an operation returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapleRet {
    /// Nothing (`Rcu`, `Destroy`, `Reset`, `Populate`).
    Unit,
    /// A store or insert.
    Write(Result<(), ModelError>),
    /// An allocation: the first index of the area.
    Alloc(Result<u64, ModelError>),
    /// `mtree_load` / `mtree_erase`.
    Value(Option<Val>),
    /// `mt_find`: the entry and the updated index.
    Found(Option<Val>, u64),
    /// `mas_walk`: `index`, `last` and the entry.
    Walk(u64, u64, Option<Val>),
    /// A chain of advanced-API calls: `(index, last, entry)` of each one that found an entry.
    Chain(Vec<(u64, u64, Val)>),
    /// An empty-area search: `(index, last)`.
    Area(Result<(u64, u64), ModelError>),
}

/// The model: the ranges, the tree's RCU mode, and whether its only entry (at index 0) is
/// held in the root pointer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapleModel {
    /// The stored ranges (and the tree kind).
    pub map: RangeModel<Val>,
    /// RCU mode.
    pub rcu: bool,
    /// The tree has no nodes and holds one entry, at index 0, in its root.
    pub root_entry: bool,
}

impl MapleModel {
    fn new(alloc: bool, rcu: bool) -> Self {
        MapleModel {
            map: if alloc {
                RangeModel::new_alloc()
            } else {
                RangeModel::new()
            },
            rcu,
            root_entry: false,
        }
    }

    /// Whether the tree has no nodes (it is empty or holds a root entry).
    fn leafless(&self) -> bool {
        self.root_entry || self.map.is_empty()
    }

    /// Records a write of `[first, last]` (an entry, or NULL) that took place on a tree that
    /// was `leafless` before it: the tree keeps a root entry only when `[0, 0]` gets an entry
    /// while it has no nodes.
    fn wrote(&mut self, leafless: bool, first: u64, last: u64, entry: bool) {
        self.root_entry = leafless && first == 0 && last == 0 && entry;
    }

    fn store(&mut self, first: u64, last: u64, val: Option<Val>) -> Result<(), ModelError> {
        let (leafless, entry) = (self.leafless(), val.is_some());
        self.map.store_range(first, last, val)?;
        self.wrote(leafless, first, last, entry);
        Ok(())
    }

    /// The lone root entry, if the tree is in that representation.
    fn root(&self) -> Option<(u64, u64, Val)> {
        if !self.root_entry {
            return None;
        }
        self.map.ranges().next().map(|(f, l, v)| (f, l, *v))
    }
}

/// How often the allocation-failure path ran on this thread (all `maple_ops` runs so far).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NomemCounts {
    /// `mas_nomem` retries (the tree's `WriteStats::nomem_retries`, summed over the trees).
    pub retries: u64,
    /// Writes that failed with `NoMem` (and were retried by the target).
    pub failures: u64,
}

thread_local! {
    static NOMEM: Cell<NomemCounts> = const {
        Cell::new(NomemCounts { retries: 0, failures: 0 })
    };
}

fn count_nomem(retries: u64, failures: u64) {
    NOMEM.with(|c| {
        let mut v = c.get();
        v.retries += retries;
        v.failures += failures;
        c.set(v);
    });
}

/// The allocation-failure counters of the current thread.
pub fn nomem_counts() -> NomemCounts {
    NOMEM.with(Cell::get)
}

/// The structure under test: the current tree (replaced by [`MapleOp::Reset`]) and a count
/// of operations started, by which a write notices that a nested operation ran inside it.
pub struct MapleSut {
    tree: Mutex<Arc<MapleTree<Val>>>,
    applies: AtomicU64,
}

impl std::fmt::Debug for MapleSut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapleSut")
            .field("tree", &*self.tree())
            .finish()
    }
}

impl MapleSut {
    /// A new empty tree.
    pub fn new(alloc: bool, rcu: bool) -> Self {
        MapleSut {
            tree: Mutex::new(Arc::new(new_tree(alloc, rcu))),
            applies: AtomicU64::new(0),
        }
    }

    /// The current tree.
    pub fn tree(&self) -> Arc<MapleTree<Val>> {
        self.tree.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn replace(&self, tree: MapleTree<Val>) {
        let old = std::mem::replace(
            &mut *self.tree.lock().unwrap_or_else(|e| e.into_inner()),
            Arc::new(tree),
        );
        count_nomem(old.write_stats().nomem_retries, 0);
    }

    /// Runs one attempt of a write at a time until it does not fail for memory. After a
    /// failed attempt during which no nested operation ran, the tree must be unchanged: no
    /// write took place (the write-path counters), the same height and emptiness, and
    /// `validate()` passes. (Comparing every range before and after each attempt would
    /// cost a walk of the whole tree per store; the retry that follows is compared with
    /// the model in full.) `failed` tells whether an attempt's result is a memory failure.
    fn retry<R>(
        &self,
        tree: &MapleTree<Val>,
        what: &str,
        mut attempt: impl FnMut() -> R,
        failed: impl Fn(&MapleTree<Val>, &R) -> bool,
    ) -> R {
        let shape = |t: &MapleTree<Val>| {
            let s = t.write_stats();
            let writes = s.exact_fit
                + s.slot_store
                + s.append
                + s.node_store
                + s.split
                + s.spanning_store
                + s.root_store;
            (writes, t.height(), t.is_empty())
        };
        for _ in 0..MAX_ATTEMPTS {
            let started = self.applies.load(Ordering::SeqCst);
            let faults = fault::stats().failed;
            let before = shape(tree);
            let r = attempt();
            // Only an injected allocation failure can make a write fail for memory.
            if fault::stats().failed == faults || !failed(tree, &r) {
                return r;
            }
            count_nomem(0, 1);
            if self.applies.load(Ordering::SeqCst) == started {
                let after = shape(tree);
                assert!(
                    after == before,
                    "maple: {what} failed for memory but changed the tree: (writes, height, empty) went from {before:?} to {after:?}"
                );
                if let Err(e) = tree.validate() {
                    panic!("maple: {what} failed for memory and left an invalid tree: {e}");
                }
            }
        }
        panic!("maple: {what} still fails for memory after {MAX_ATTEMPTS} attempts");
    }

    fn write(
        &self,
        tree: &MapleTree<Val>,
        what: &str,
        f: impl FnMut() -> Result<(), MapleError>,
    ) -> Result<(), ModelError> {
        self.retry(tree, what, f, |_, r| r == &Err(MapleError::NoMem))
            .map_err(ModelError::from)
    }
}

impl Drop for MapleSut {
    fn drop(&mut self) {
        count_nomem(self.tree().write_stats().nomem_retries, 0);
    }
}

fn new_tree(alloc: bool, rcu: bool) -> MapleTree<Val> {
    let t = if alloc {
        MapleTree::new_alloc()
    } else {
        MapleTree::new()
    };
    if rcu {
        t.set_in_rcu();
    }
    t
}

/// Which model step produces the first result of a chain.
#[derive(Clone, Copy)]
enum ChainKind {
    Next,
    Prev,
    Find,
    FindRev,
}

/// The `maple_ops` target; the initial tree's kind and mode are its configuration.
#[derive(Debug, Clone)]
pub struct MapleOpsTarget {
    name: &'static str,
    alloc: bool,
    rcu: bool,
}

impl MapleOpsTarget {
    /// A target named `name` whose runs start with an empty tree of this kind and mode.
    pub fn new(name: &'static str, alloc: bool, rcu: bool) -> Self {
        MapleOpsTarget { name, alloc, rcu }
    }

    /// A store of `val` over `[first, last]`.
    fn store(
        &self,
        sut: &MapleSut,
        t: &MapleTree<Val>,
        what: &str,
        first: u64,
        last: u64,
        val: Option<Val>,
    ) -> Result<(), ModelError> {
        sut.write(t, what, || t.store_range(first, last, val))
    }

    fn chain_real(
        tree: &MapleTree<Val>,
        kind: ChainKind,
        index: u64,
        limit: u64,
        steps: u16,
    ) -> MapleRet {
        let mut g = tree.lock();
        let mut mas = g.ma_state(index, index);
        let mut out = Vec::new();
        for _ in 0..steps {
            let e = match kind {
                ChainKind::Next => mas.next(limit),
                ChainKind::Prev => mas.prev(limit),
                ChainKind::Find => mas.find(limit),
                ChainKind::FindRev => mas.find_rev(limit),
            };
            match e {
                Some(v) => out.push((mas.index(), mas.last(), v)),
                None => break,
            }
        }
        MapleRet::Chain(out)
    }

    fn chain_model(
        m: &MapleModel,
        kind: ChainKind,
        index: u64,
        limit: u64,
        steps: u16,
    ) -> MapleRet {
        let map = &m.map;
        let first = match kind {
            ChainKind::Next => map.next(index, limit),
            ChainKind::Find => map.find_range(index, limit),
            // `mas_prev_setup` / `mas_find_rev_setup`: a lone root entry is the previous
            // entry of every index above `min`.
            ChainKind::Prev if index > limit && index > 0 && m.root_entry => m.root(),
            ChainKind::FindRev if index >= limit && index > 0 && m.root_entry => m.root(),
            ChainKind::Prev => map.prev(index, limit),
            ChainKind::FindRev => map.find_rev_range(index, limit),
        };
        let mut out = Vec::new();
        let mut cur = first;
        while let Some(r) = cur {
            out.push(r);
            if out.len() >= usize::from(steps) {
                break;
            }
            cur = match kind {
                ChainKind::Next | ChainKind::Find => map.next(r.1, limit),
                ChainKind::Prev | ChainKind::FindRev => map.prev(r.0, limit),
            };
        }
        MapleRet::Chain(out)
    }
}

/// The checks behind [`MapleOpsTarget`]'s invariants and quick checks.
impl MapleOpsTarget {
    /// Kind, RCU mode and root representation: O(1).
    fn shape_matches(t: &MapleTree<Val>, m: &MapleModel) -> Result<(), String> {
        if t.is_alloc() != m.map.is_alloc() {
            return Err(format!(
                "the tree is {}an allocation tree, the model {}",
                if t.is_alloc() { "" } else { "not " },
                if m.map.is_alloc() { "is" } else { "is not" }
            ));
        }
        if t.in_rcu() != m.rcu {
            return Err(format!(
                "the tree's RCU mode is {}, the model's {}",
                t.in_rcu(),
                m.rcu
            ));
        }
        let root_entry = t.height() == 0 && !t.is_empty();
        if root_entry != m.root_entry {
            return Err(format!(
                "the tree {} its only entry in the root (height {}), the model says it {}",
                if root_entry { "holds" } else { "does not hold" },
                t.height(),
                if m.root_entry { "does" } else { "does not" }
            ));
        }
        Ok(())
    }

    /// The ranges intersecting `[lo, hi]` (found with `mas_find` from `lo`) equal the
    /// model's.
    fn window_matches(t: &MapleTree<Val>, m: &MapleModel, lo: u64, hi: u64) -> Result<(), String> {
        let mut real = Vec::new();
        {
            let mut g = t.lock();
            let mut mas = g.ma_state(lo, lo);
            while let Some(v) = mas.find(hi) {
                real.push((mas.index(), mas.last(), v));
                if mas.last() >= hi {
                    break;
                }
            }
        }
        let model = m.map.ranges_in(lo, hi);
        if real.iter().copied().ne(model.map(|(f, l, v)| (f, l, *v))) {
            let model: Vec<(u64, u64, Val)> = m
                .map
                .ranges_in(lo, hi)
                .map(|(f, l, v)| (f, l, *v))
                .collect();
            return Err(format!(
                "in [{lo:#x}, {hi:#x}] the tree holds {real:?}, the model {model:?}"
            ));
        }
        Ok(())
    }
}

impl Target for MapleOpsTarget {
    type Op = MapleOp;
    type Ret = MapleRet;
    type Model = MapleModel;
    type Sut = MapleSut;

    fn name(&self) -> &'static str {
        self.name
    }

    fn new_sut(&self) -> MapleSut {
        MapleSut::new(self.alloc, self.rcu)
    }

    fn new_model(&self) -> MapleModel {
        MapleModel::new(self.alloc, self.rcu)
    }

    fn apply(&self, sut: &MapleSut, op: &MapleOp) -> MapleRet {
        sut.applies.fetch_add(1, Ordering::SeqCst);
        let tree = sut.tree();
        let t = &*tree;
        match *op {
            MapleOp::Store { first, last, val } => {
                MapleRet::Write(self.store(sut, t, "store", first, last, Some(val)))
            }
            MapleOp::StoreNull { first, last } => {
                MapleRet::Write(self.store(sut, t, "store NULL", first, last, None))
            }
            MapleOp::Insert { first, last, val } => {
                MapleRet::Write(sut.write(t, "insert", || t.insert_range(first, last, val)))
            }
            // Without injected allocation failures: like the kernel's `mas_erase`, ours
            // stores NULL over the range it found *before* `mas_nomem` dropped the lock, so a
            // store an interrupt made in that window inside the range is wiped (found by this
            // target: an IRQ's Store(0, 0) lost to Erase(100) of [0, 289]); no order of the two
            // operations gives that, so the target cannot check it, only pin it
            // (corpus/maple_ops/regress-erase-wipes-a-store-made-during-nomem).
            MapleOp::Erase(index) => MapleRet::Value(fault::without_faults(|| t.erase(index))),
            MapleOp::Load(index) => MapleRet::Value(t.load(index)),
            MapleOp::Find { index, max } => {
                let mut i = index;
                let v = t.find(&mut i, max);
                MapleRet::Found(v, i)
            }
            MapleOp::AllocRange {
                min,
                max,
                size,
                val,
            } => MapleRet::Alloc(
                sut.retry(
                    t,
                    "alloc_range",
                    || t.alloc_range(min, max, size, val),
                    |_, r| r == &Err(MapleError::NoMem),
                )
                .map_err(ModelError::from),
            ),
            MapleOp::AllocRrange {
                min,
                max,
                size,
                val,
            } => MapleRet::Alloc(
                sut.retry(
                    t,
                    "alloc_rrange",
                    || t.alloc_rrange(min, max, size, val),
                    |_, r| r == &Err(MapleError::NoMem),
                )
                .map_err(ModelError::from),
            ),
            MapleOp::MasWalk(index) => {
                let mut g = t.lock();
                let mut mas = g.ma_state(index, index);
                let v = mas.walk();
                MapleRet::Walk(mas.index(), mas.last(), v)
            }
            MapleOp::MasNext { index, max, steps } => {
                Self::chain_real(t, ChainKind::Next, index, max, steps)
            }
            MapleOp::MasPrev { index, min, steps } => {
                Self::chain_real(t, ChainKind::Prev, index, min, steps)
            }
            MapleOp::MasFind { index, max, steps } => {
                Self::chain_real(t, ChainKind::Find, index, max, steps)
            }
            MapleOp::MasFindStore {
                index,
                max,
                steps,
                grow,
                val,
            } => fault::without_faults(|| {
                let mut g = t.lock();
                let mut mas = g.ma_state(index, index);
                let mut out = Vec::new();
                for _ in 0..steps {
                    let Some(v) = mas.find(max) else { break };
                    let (i, l) = (mas.index(), mas.last());
                    out.push((i, l, v));
                    let end = l.saturating_add(u64::from(grow));
                    mas.set_range(i, end);
                    if let Err(e) = mas.store(Some(val)) {
                        panic!("mas_store({i}, {end}) failed without injected faults: {e}");
                    }
                    if end == u64::MAX {
                        break;
                    }
                }
                MapleRet::Chain(out)
            }),
            MapleOp::MasFindRev { index, min, steps } => {
                Self::chain_real(t, ChainKind::FindRev, index, min, steps)
            }
            MapleOp::EmptyArea {
                min,
                max,
                size,
                rev,
            } => {
                let mut g = t.lock();
                let mut mas = g.ma_state(0, 0);
                let r = if rev {
                    mas.empty_area_rev(min, max, size)
                } else {
                    mas.empty_area(min, max, size)
                };
                MapleRet::Area(
                    r.map(|()| (mas.index(), mas.last()))
                        .map_err(ModelError::from),
                )
            }
            MapleOp::Populate {
                first,
                count,
                stride,
                len,
                val,
                rev,
            } => {
                // Many stores, one operation: no interrupt may run between them.
                let _irqs_off = algos::sync::cpu::irq_save();
                for (k, (f, l)) in populate_ranges(first, count, stride, len, rev)
                    .into_iter()
                    .enumerate()
                {
                    let v = Some(val.wrapping_add(k as Val));
                    // Every range is well-formed: only a memory failure could make it fail,
                    // and the wrapper retries those.
                    let r = self.store(sut, t, "populate store", f, l, v);
                    assert!(
                        r.is_ok(),
                        "maple: populate store of [{f}, {l}] failed: {r:?}"
                    );
                }
                MapleRet::Unit
            }
            MapleOp::Rcu(on) => {
                if on {
                    t.set_in_rcu();
                } else {
                    t.clear_in_rcu();
                }
                MapleRet::Unit
            }
            MapleOp::Destroy => {
                t.destroy();
                MapleRet::Unit
            }
            MapleOp::Reset { alloc, rcu } => {
                drop(tree);
                sut.replace(new_tree(alloc, rcu));
                MapleRet::Unit
            }
        }
    }

    fn step(&self, m: &mut MapleModel, op: &MapleOp) -> MapleRet {
        match *op {
            MapleOp::Store { first, last, val } => MapleRet::Write(m.store(first, last, Some(val))),
            MapleOp::StoreNull { first, last } => MapleRet::Write(m.store(first, last, None)),
            MapleOp::Insert { first, last, val } => {
                let leafless = m.leafless();
                let r = m.map.insert_range(first, last, val);
                if r.is_ok() {
                    m.wrote(leafless, first, last, true);
                }
                MapleRet::Write(r)
            }
            MapleOp::Erase(index) => {
                let r = m.map.erase(index);
                if r.is_some() {
                    // The kernel erases the whole range; only which representation results
                    // matters here, and erasing never produces a root entry.
                    m.root_entry = false;
                }
                MapleRet::Value(r)
            }
            MapleOp::Load(index) => MapleRet::Value(m.map.load(index)),
            MapleOp::Find { index, max } => {
                let mut i = index;
                let v = m.map.find(&mut i, max);
                MapleRet::Found(v, i)
            }
            MapleOp::AllocRange {
                min,
                max,
                size,
                val,
            } => {
                let leafless = m.leafless();
                let r = m.map.alloc_range(min, max, size, val);
                if let Ok(f) = r {
                    m.wrote(leafless, f, f + (size - 1), true);
                }
                MapleRet::Alloc(r)
            }
            MapleOp::AllocRrange {
                min,
                max,
                size,
                val,
            } => {
                let leafless = m.leafless();
                let r = m.map.alloc_rrange(min, max, size, val);
                if let Ok(f) = r {
                    m.wrote(leafless, f, f + (size - 1), true);
                }
                MapleRet::Alloc(r)
            }
            MapleOp::MasWalk(index) => {
                let (f, l, v) = m.map.walk(index);
                MapleRet::Walk(f, l, v)
            }
            MapleOp::MasNext { index, max, steps } => {
                Self::chain_model(m, ChainKind::Next, index, max, steps)
            }
            MapleOp::MasPrev { index, min, steps } => {
                Self::chain_model(m, ChainKind::Prev, index, min, steps)
            }
            MapleOp::MasFind { index, max, steps } => {
                Self::chain_model(m, ChainKind::Find, index, max, steps)
            }
            MapleOp::MasFindStore {
                index,
                max,
                steps,
                grow,
                val,
            } => {
                let mut out = Vec::new();
                let mut at = index;
                for _ in 0..steps {
                    let Some((f, l, v)) = m.map.find_range(at, max) else {
                        break;
                    };
                    out.push((f, l, v));
                    let end = l.saturating_add(u64::from(grow));
                    m.store(f, end, Some(val))
                        .expect("a range the model just found stores");
                    if end == u64::MAX {
                        break;
                    }
                    at = end + 1;
                }
                MapleRet::Chain(out)
            }
            MapleOp::MasFindRev { index, min, steps } => {
                Self::chain_model(m, ChainKind::FindRev, index, min, steps)
            }
            MapleOp::EmptyArea {
                min,
                max,
                size,
                rev,
            } => MapleRet::Area(if rev {
                m.map.empty_area_rev(min, max, size)
            } else {
                m.map.empty_area(min, max, size)
            }),
            MapleOp::Populate {
                first,
                count,
                stride,
                len,
                val,
                rev,
            } => {
                for (k, (f, l)) in populate_ranges(first, count, stride, len, rev)
                    .into_iter()
                    .enumerate()
                {
                    m.store(f, l, Some(val.wrapping_add(k as Val)))
                        .expect("well-formed range");
                }
                MapleRet::Unit
            }
            MapleOp::Rcu(on) => {
                m.rcu = on;
                MapleRet::Unit
            }
            MapleOp::Destroy => {
                m.map.clear();
                m.root_entry = false;
                MapleRet::Unit
            }
            MapleOp::Reset { alloc, rcu } => {
                *m = MapleModel::new(alloc, rcu);
                MapleRet::Unit
            }
        }
    }

    fn quick_check(
        &self,
        sut: &MapleSut,
        m: &MapleModel,
        op: &MapleOp,
    ) -> Option<Result<(), String>> {
        let t = sut.tree();
        // The window of indexes the operation may write, if any.
        let window = match *op {
            MapleOp::Store { first, last, .. }
            | MapleOp::StoreNull { first, last }
            | MapleOp::Insert { first, last, .. } => Some((first, last)),
            MapleOp::Erase(index) => Some((index, index)),
            MapleOp::AllocRange { min, max, .. } | MapleOp::AllocRrange { min, max, .. } => {
                Some((min, max))
            }
            MapleOp::Populate {
                first,
                count,
                stride,
                len,
                ..
            } => {
                let r = populate_ranges(first, count, stride, len, false);
                r.first().zip(r.last()).map(|(a, b)| (a.0, b.1))
            }
            // Writes wherever its finds lead: only the full checks can tell.
            MapleOp::MasFindStore { .. } => return None,
            MapleOp::Destroy | MapleOp::Reset { .. } if t.is_empty() != m.map.is_empty() => {
                return Some(Err(format!(
                    "the tree is {}empty, the model {}",
                    if t.is_empty() { "" } else { "not " },
                    if m.map.is_empty() { "is" } else { "is not" }
                )));
            }
            _ => None,
        };
        Some(Self::shape_matches(&t, m).and_then(|()| match window {
            Some((first, last)) if first <= last => {
                Self::window_matches(&t, m, first.saturating_sub(1), last.saturating_add(1))
            }
            _ => Ok(()),
        }))
    }

    fn invariants(&self, sut: &MapleSut, m: &MapleModel) -> Result<(), String> {
        let t = sut.tree();
        Self::shape_matches(&t, m)?;
        let real = t.ranges();
        let model: Vec<(u64, u64, Val)> = m.map.ranges().map(|(f, l, v)| (f, l, *v)).collect();
        if real != model {
            let first_diff = real
                .iter()
                .zip(&model)
                .position(|(a, b)| a != b)
                .unwrap_or(real.len().min(model.len()));
            return Err(format!(
                "the tree holds {} ranges, the model {}; first difference at #{first_diff}: tree {:?}, model {:?}\n  tree:  {real:?}\n  model: {model:?}",
                real.len(),
                model.len(),
                real.get(first_diff),
                model.get(first_diff),
            ));
        }
        Ok(())
    }

    fn validate(&self, sut: &MapleSut) -> Result<(), String> {
        sut.tree().validate().map_err(|e| e.to_string())
    }

    fn dump(&self, sut: &MapleSut) -> String {
        sut.tree().dump()
    }

    fn interrupt_op_allowed(&self, op: &MapleOp, kind: Interrupt) -> bool {
        match kind {
            // NMI handlers do not use the maple tree (it takes a lock, or at least an RCU
            // read section, and an NMI would see a `Populate` half done).
            Interrupt::Nmi => false,
            // The interrupted operation holds a reference to the current tree.
            Interrupt::Irq => !matches!(op, MapleOp::Reset { .. }),
        }
    }
}
