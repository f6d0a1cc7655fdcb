//! Toy target: a value published through RCU.
//!
//! The value lives in an RCU object holding two atomics, `v` and `3 * v`; readers load the
//! object under `rcu::read_lock` and check the pair; the writer publishes a new object and
//! retires the old one after a grace period. Planted bug: [`RcuBug::EarlyFree`] frees the old
//! object at once instead, so a reader that loaded it just before is left holding freed
//! memory. The model RCU quarantines freed objects and, with the `sanitize` feature the
//! harness always enables, poisons them as freed, so the schedule engine and loom report
//! `KMSAN: use-after-free` at the reader's next access, with the free site as origin.

use crate::target::Target;
use algos::sync::atomic::{AtomicU64, Ordering};
use algos::sync::{rcu, Mutex};
use arbitrary::Arbitrary;

/// Which bug, if any, the cell carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RcuBug {
    /// Correct: `retire` (free after a grace period).
    None,
    /// The replaced object is freed immediately.
    EarlyFree,
}

/// An operation on the cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Arbitrary)]
pub enum RcuOp {
    /// A reader: load the value under `rcu::read_lock`.
    Read,
    /// The writer: publish a new value.
    Write(u8),
    /// `synchronize_rcu`.
    Synchronize,
}

struct Payload {
    v: AtomicU64,
    triple: AtomicU64,
}

/// The structure under test.
pub struct RcuCell {
    slot: rcu::Atomic<Payload>,
    writer: Mutex<()>,
    bug: RcuBug,
}

impl std::fmt::Debug for RcuCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RcuCell")
    }
}

impl RcuCell {
    /// A cell holding 0 with `bug` planted.
    pub fn new(bug: RcuBug) -> Self {
        RcuCell {
            slot: rcu::Atomic::new(Payload {
                v: AtomicU64::new(0),
                triple: AtomicU64::new(0),
            }),
            writer: Mutex::new(()),
            bug,
        }
    }

    /// Reads the value; panics if the pair is torn (which would mean the object changed
    /// under the reader).
    pub fn read(&self) -> u64 {
        let g = rcu::read_lock();
        let p = self
            .slot
            .load(Ordering::Acquire, &g)
            .expect("the cell is never empty");
        let v = p.v.load(Ordering::Relaxed);
        let t = p.triple.load(Ordering::Relaxed);
        assert_eq!(t, v * 3, "torn RCU read: {v} / {t}");
        v
    }

    /// Publishes `v`.
    pub fn write(&self, v: u8) {
        let _w = self.writer.lock();
        let v = u64::from(v);
        let new = rcu::Owned::new(Payload {
            v: AtomicU64::new(v),
            triple: AtomicU64::new(v * 3),
        });
        let old = self.slot.swap(Some(new), Ordering::AcqRel);
        match self.bug {
            // SAFETY: `old` was unpublished by the swap above and is retired once.
            RcuBug::None => unsafe { old.retire() },
            // SAFETY (of the model run): the model quarantines instead of freeing, so the
            // planted too-early free is reported rather than undefined.
            RcuBug::EarlyFree => unsafe { old.free_now() },
        }
    }
}

/// The RCU cell target.
#[derive(Debug, Clone)]
pub struct RcuCellTarget {
    name: &'static str,
    bug: RcuBug,
}

impl RcuCellTarget {
    /// A target named `name` running the cell with `bug`.
    pub fn new(name: &'static str, bug: RcuBug) -> Self {
        RcuCellTarget { name, bug }
    }
}

impl Target for RcuCellTarget {
    type Op = RcuOp;
    type Ret = Option<u64>;
    type Model = u64;
    type Sut = RcuCell;

    fn name(&self) -> &'static str {
        self.name
    }
    fn new_sut(&self) -> RcuCell {
        RcuCell::new(self.bug)
    }
    fn new_model(&self) -> u64 {
        0
    }
    fn apply(&self, c: &RcuCell, op: &RcuOp) -> Option<u64> {
        match op {
            RcuOp::Read => Some(c.read()),
            RcuOp::Write(v) => {
                c.write(*v);
                None
            }
            RcuOp::Synchronize => {
                rcu::synchronize();
                None
            }
        }
    }
    fn step(&self, m: &mut u64, op: &RcuOp) -> Option<u64> {
        match op {
            RcuOp::Read => Some(*m),
            RcuOp::Write(v) => {
                *m = u64::from(*v);
                None
            }
            RcuOp::Synchronize => None,
        }
    }
    fn interrupt_op_allowed(&self, op: &RcuOp, _: algos::sync::cpu::Interrupt) -> bool {
        // synchronize_rcu sleeps: never from interrupt context.
        *op != RcuOp::Synchronize
    }
}
