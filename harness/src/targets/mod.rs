//! The registered targets, one file each.
//!
//! The toy targets ([`counter`], [`stack`], [`rcu_cell`]) exist to prove the engines: each
//! has planted-bug flavours that the harness's own tests run, asserting that the engines that
//! should catch the bug do, and that the correct flavour passes. The registry holds only the
//! correct flavours; `mutants/toy/` plants the bugs as patches for `mmcheck mutants`.

pub mod counter;
pub mod maple_model;
pub mod maple_ops;
pub mod maple_rcu;
pub mod rcu_cell;
pub mod shadow_ops;
pub mod stack;

use crate::dyn_target::{DynTarget, Schedule, Sequential};

/// The catalogue: every registered target (built once by [`crate::registry::all`]).
///
/// Naming rule: a schedule target's name ends in `_sched`; a sequential target's does not.
/// Each entry names its algorithm, the `mutants/<algo>/` directory whose planted bugs it is
/// expected to catch (the toy targets also carry the platform layer's).
pub fn all() -> Vec<Box<dyn DynTarget>> {
    vec![
        Box::new(Sequential {
            target: counter::CounterTarget::new("counter", counter::CounterBug::None),
            algo: "toy",
            about: "toy atomic counter; sequential differential with IRQ/NMI injection",
        }),
        Box::new(Schedule {
            target: counter::CounterTarget::new("counter_sched", counter::CounterBug::None),
            algo: "toy",
            about: "toy atomic counter; concurrent scenarios, linearizability",
            priority_aware: false,
        }),
        Box::new(Sequential {
            target: stack::StackTarget::new("stack", stack::StackBug::None),
            algo: "toy",
            about: "toy locked stack; sequential differential",
        }),
        Box::new(Schedule {
            target: stack::StackTarget::new("stack_sched", stack::StackBug::None),
            algo: "toy",
            about: "toy locked stack; concurrent scenarios, linearizability",
            priority_aware: false,
        }),
        Box::new(Sequential {
            target: rcu_cell::RcuCellTarget::new("rcu_cell", rcu_cell::RcuBug::None),
            algo: "toy",
            about: "toy RCU-published value; sequential differential",
        }),
        Box::new(Schedule {
            target: rcu_cell::RcuCellTarget::new("rcu_cell_sched", rcu_cell::RcuBug::None),
            algo: "toy",
            about: "toy RCU-published value; RCU readers vs. writer, model RCU quarantine",
            priority_aware: false,
        }),
        Box::new(Sequential {
            target: shadow_ops::ShadowOpsTarget,
            algo: "shadow",
            about: "the shadow sanitizer vs. a byte-array model: shadow, origins, chains, reports",
        }),
        Box::new(Sequential {
            target: maple_ops::MapleOpsTarget::new("maple_ops", false, false),
            algo: "maple",
            about: "maple tree vs. a range-map model: normal and advanced API, both tree kinds, RCU on/off, NoMem, IRQs",
        }),
        Box::new(Schedule {
            target: maple_rcu::MapleRcuTarget::new("maple_rcu_sched"),
            algo: "maple",
            about: "maple tree in RCU mode: lock-free loads/finds vs. writers replacing nodes, linearizability",
            priority_aware: false,
        }),
    ]
}
