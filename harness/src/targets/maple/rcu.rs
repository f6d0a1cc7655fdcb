//! Target `maple_rcu`: lock-free RCU readers of `algos::maple` racing its writers, on the
//! schedule engine.
//!
//! Every scenario starts from a tree in RCU mode pre-populated with [`INIT_RANGES`] ranges
//! `[10 i, 10 i + 5]` (so it has height 2 and several leaves). Threads run writes
//! (`mtree_store_range` with an entry or NULL, `mtree_erase`) and lock-free reads
//! (`mtree_load`, `mt_find`); writes are short or long ranges around the populated ones, so
//! they replace leaves, split them, span several and rebalance. The linearizability checker
//! then requires every read to return what its index held at some instant during the read,
//! and the model RCU reports a reader that touches a node freed too early. The shape the
//! target exists for is one writer and two readers; generated scenarios mix reads and writes
//! on every thread, which contains that shape.

use super::model::{ModelError, RangeModel};
use crate::target::Target;
use algos::maple::MapleTree;
use algos::sync::fault;
use arbitrary::{Arbitrary, Unstructured};

/// The values stored in the tree.
pub use super::model::Val;

/// What the tree under test holds: a [`Val`] the tree keeps behind a pointer. Small
/// integers would be value entries inside the slot words; a struct is an entry object of
/// its own, so this target also checks that overwritten and erased entries are freed only
/// after the readers that may hold them are gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boxed(pub Val);

/// Ranges stored before every scenario: `[10 i, 10 i + 5]` holds `i + 1`.
pub const INIT_RANGES: u64 = 32;

/// Indexes of operations are below this (a little past the populated ones).
pub const INDEX_SPACE: u64 = 10 * INIT_RANGES + 16;

/// One operation of `maple_rcu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapleRcuOp {
    /// `mtree_load(index)`: a lock-free RCU reader.
    Load(u64),
    /// `mt_find(&index, max)`: a lock-free RCU reader.
    Find {
        /// Start index.
        index: u64,
        /// Upper limit.
        max: u64,
    },
    /// `mtree_store_range(first, last, val)`.
    Store {
        /// First index.
        first: u64,
        /// Last index (inclusive).
        last: u64,
        /// Value.
        val: Val,
    },
    /// `mtree_store_range(first, last, NULL)`.
    StoreNull {
        /// First index.
        first: u64,
        /// Last index (inclusive).
        last: u64,
    },
    /// `mtree_erase(index)`.
    Erase(u64),
}

fn index(u: &mut Unstructured<'_>) -> arbitrary::Result<u64> {
    Ok(u64::from(u16::arbitrary(u)?) % INDEX_SPACE)
}

/// A range: mostly within one populated range or gap, sometimes across several (up to
/// about a leaf and a half).
fn range(u: &mut Unstructured<'_>) -> arbitrary::Result<(u64, u64)> {
    let first = index(u)?;
    let l = u8::arbitrary(u)?;
    let len = if l < 160 {
        u64::from(l % 12)
    } else {
        u64::from(l) % 96
    };
    Ok((first, first + len))
}

impl<'a> Arbitrary<'a> for MapleRcuOp {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u8::arbitrary(u)? % 8 {
            0..=2 => MapleRcuOp::Load(index(u)?),
            3 => {
                let (index, max) = range(u)?;
                MapleRcuOp::Find { index, max }
            }
            4 | 5 => {
                let (first, last) = range(u)?;
                MapleRcuOp::Store {
                    first,
                    last,
                    val: Val::arbitrary(u)?,
                }
            }
            6 => {
                let (first, last) = range(u)?;
                MapleRcuOp::StoreNull { first, last }
            }
            _ => MapleRcuOp::Erase(index(u)?),
        })
    }
}

impl MapleRcuOp {
    /// Whether this is a reader (a lock-free operation).
    pub fn is_read(&self) -> bool {
        matches!(self, MapleRcuOp::Load(_) | MapleRcuOp::Find { .. })
    }
}

/// What an operation returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RcuRet {
    /// `Load` / `Erase`.
    Value(Option<Val>),
    /// `Find`: the entry and the updated index.
    Found(Option<Val>, u64),
    /// A store.
    Write(Result<(), ModelError>),
}

/// The `maple_rcu` target.
#[derive(Debug, Clone)]
pub struct MapleRcuTarget {
    name: &'static str,
}

impl MapleRcuTarget {
    /// A target named `name`.
    pub fn new(name: &'static str) -> Self {
        MapleRcuTarget { name }
    }

    fn apply_once(&self, t: &MapleTree<Boxed>, op: &MapleRcuOp) -> RcuRet {
        let val = |b: Option<Boxed>| b.map(|b| b.0);
        match *op {
            MapleRcuOp::Load(index) => RcuRet::Value(val(t.load(index))),
            MapleRcuOp::Find { index, max } => {
                let mut i = index;
                let v = val(t.find(&mut i, max));
                RcuRet::Found(v, i)
            }
            MapleRcuOp::Store { first, last, val } => RcuRet::Write(
                t.store_range(first, last, Some(Boxed(val)))
                    .map_err(ModelError::from),
            ),
            MapleRcuOp::StoreNull { first, last } => {
                RcuRet::Write(t.store_range(first, last, None).map_err(ModelError::from))
            }
            MapleRcuOp::Erase(index) => RcuRet::Value(val(t.erase(index))),
        }
    }
}

/// The ranges every scenario starts with.
pub fn init_ranges() -> impl Iterator<Item = (u64, u64, Val)> {
    (0..INIT_RANGES).map(|i| (10 * i, 10 * i + 5, i as Val + 1))
}

impl Target for MapleRcuTarget {
    type Op = MapleRcuOp;
    type Ret = RcuRet;
    type Model = RangeModel<Val>;
    type Sut = MapleTree<Boxed>;

    fn name(&self) -> &'static str {
        self.name
    }

    fn new_sut(&self) -> MapleTree<Boxed> {
        let t = MapleTree::new();
        t.set_in_rcu();
        for (f, l, v) in init_ranges() {
            t.store_range(f, l, Some(Boxed(v)))
                .expect("populating the initial tree");
        }
        t
    }

    fn new_model(&self) -> RangeModel<Val> {
        let mut m = RangeModel::new();
        for (f, l, v) in init_ranges() {
            m.store_range(f, l, Some(v)).expect("well-formed range");
        }
        m
    }

    fn apply(&self, t: &MapleTree<Boxed>, op: &MapleRcuOp) -> RcuRet {
        // Allocation failures come from the scenario's per-thread fault plans (and from the
        // proptest bridge). A store that fails for memory changed nothing and is retried,
        // as a kernel caller retries after -ENOMEM; it takes effect at the attempt that
        // succeeds. An erase runs without injected failures: like the kernel's
        // `mas_erase`, ours returns the entry it found *before* `mas_nomem` dropped the
        // lock, so under memory pressure two concurrent erasers of one index can both get
        // it back (found by this target once scenarios carried fault plans), a return value
        // no linearizable model can give.
        if let MapleRcuOp::Erase(_) = op {
            return fault::without_faults(|| self.apply_once(t, op));
        }
        for _ in 0..10_000 {
            let r = self.apply_once(t, op);
            if !matches!(r, RcuRet::Write(Err(ModelError::NoMem))) {
                return r;
            }
        }
        panic!("maple: {op:?} still fails for memory after 10000 attempts");
    }

    fn step(&self, m: &mut RangeModel<Val>, op: &MapleRcuOp) -> RcuRet {
        match *op {
            MapleRcuOp::Load(index) => RcuRet::Value(m.load(index)),
            MapleRcuOp::Find { index, max } => {
                let mut i = index;
                let v = m.find(&mut i, max);
                RcuRet::Found(v, i)
            }
            MapleRcuOp::Store { first, last, val } => {
                RcuRet::Write(m.store_range(first, last, Some(val)))
            }
            MapleRcuOp::StoreNull { first, last } => {
                RcuRet::Write(m.store_range(first, last, None))
            }
            MapleRcuOp::Erase(index) => RcuRet::Value(m.erase(index)),
        }
    }

    fn invariants(&self, t: &MapleTree<Boxed>, m: &RangeModel<Val>) -> Result<(), String> {
        let real: Vec<(u64, u64, Val)> = t
            .ranges()
            .into_iter()
            .map(|(f, l, b)| (f, l, b.0))
            .collect();
        let model: Vec<(u64, u64, Val)> = m.ranges().map(|(f, l, v)| (f, l, *v)).collect();
        if real != model {
            return Err(format!("the tree holds {real:?}\n  the model {model:?}"));
        }
        if !t.in_rcu() {
            return Err("the tree left RCU mode".into());
        }
        Ok(())
    }

    fn validate(&self, t: &MapleTree<Boxed>) -> Result<(), String> {
        t.validate().map_err(|e| e.to_string())
    }

    fn dump(&self, t: &MapleTree<Boxed>) -> String {
        t.dump()
    }
}
