//! The registered targets, one folder per algorithm (the folder name is the algorithm's
//! `mutants/<algo>/` directory): [`toy`], [`shadow`], [`maple`], [`percpu`], [`rt`],
//! [`mglru`].
//!
//! The toy targets exist to prove the engines: each has planted-bug flavours that the
//! harness's own tests run, asserting that the engines that should catch the bug do, and
//! that the correct flavour passes. The registry holds only the correct flavours;
//! `mutants/toy/` plants the bugs as patches for `mmcheck mutants`.

pub mod maple;
pub mod mglru;
pub mod percpu;
pub mod rt;
pub mod shadow;
pub mod toy;

use crate::dyn_target::{DynTarget, Schedule, Sequential};

/// The catalogue: every registered target (built once by [`crate::registry::all`]).
///
/// Naming rule: a schedule target's name ends in `_sched`; a sequential target's does not.
/// Each entry names its algorithm, the `mutants/<algo>/` directory whose planted bugs it is
/// expected to catch (the toy targets also carry the platform layer's).
pub fn all() -> Vec<Box<dyn DynTarget>> {
    vec![
        Box::new(Sequential {
            target: toy::counter::CounterTarget::new("counter", toy::counter::CounterBug::None),
            algo: "toy",
            about: "toy atomic counter; sequential differential with IRQ/NMI injection",
        }),
        Box::new(Schedule {
            target: toy::counter::CounterTarget::new("counter_sched", toy::counter::CounterBug::None),
            algo: "toy",
            about: "toy atomic counter; concurrent scenarios, linearizability",
            priority_aware: false,
        }),
        Box::new(Sequential {
            target: toy::stack::StackTarget::new("stack", toy::stack::StackBug::None),
            algo: "toy",
            about: "toy locked stack; sequential differential",
        }),
        Box::new(Schedule {
            target: toy::stack::StackTarget::new("stack_sched", toy::stack::StackBug::None),
            algo: "toy",
            about: "toy locked stack; concurrent scenarios, linearizability",
            priority_aware: false,
        }),
        Box::new(Sequential {
            target: toy::rcu_cell::RcuCellTarget::new("rcu_cell", toy::rcu_cell::RcuBug::None),
            algo: "toy",
            about: "toy RCU-published value; sequential differential",
        }),
        Box::new(Schedule {
            target: toy::rcu_cell::RcuCellTarget::new("rcu_cell_sched", toy::rcu_cell::RcuBug::None),
            algo: "toy",
            about: "toy RCU-published value; RCU readers vs. writer, model RCU quarantine",
            priority_aware: false,
        }),
        Box::new(Sequential {
            target: shadow::ops::ShadowOpsTarget,
            algo: "shadow",
            about: "the shadow sanitizer vs. a byte-array model: shadow, origins, chains, reports",
        }),
        Box::new(Sequential {
            target: maple::ops::MapleOpsTarget::new("maple_ops", false, false),
            algo: "maple",
            about: "maple tree vs. a range-map model: normal and advanced API, both tree kinds, RCU on/off, NoMem, IRQs",
        }),
        Box::new(Schedule {
            target: maple::rcu::MapleRcuTarget::new("maple_rcu_sched"),
            algo: "maple",
            about: "maple tree in RCU mode: lock-free loads/finds vs. writers replacing nodes, linearizability",
            priority_aware: false,
        }),
        Box::new(Sequential {
            target: percpu::ops::PercpuOpsTarget::new("percpu_ops"),
            algo: "percpu",
            about: "BPF memory allocator, three modes, vs. a multiset model; IRQ/NMI at every fast-path point, refill failures",
        }),
        Box::new(Schedule {
            target: percpu::sched::PercpuSchedTarget::new("percpu_sched"),
            algo: "percpu",
            about: "BPF memory allocator on 2-3 CPUs: cross-CPU frees, refill/trim, RCU readers, grace periods as steps",
            priority_aware: false,
        }),
        Box::new(Sequential {
            target: mglru::ops::MglruOpsTarget::new("mglru_ops"),
            algo: "mglru",
            about: "multi-gen LRU, 16 frames of anon and file pages in 3 zones and 2 memcgs: accesses, global and per-zone reclaim, debugfs aging/eviction, sysfs, memcg protection/offline/release; window, list, controller and memcg LRU checks",
        }),
        Box::new(Schedule {
            target: mglru::sched::MglruSchedTarget::new("mglru_sched"),
            algo: "mglru",
            about: "multi-gen LRU, 2-4 tasks on 12 frames: lock-free accesses and fd reads vs. aging (walk, batched folds with the lock dropped), eviction, reclaim, faults; window and lists at every step, no folio lost",
            priority_aware: false,
        }),
        Box::new(Sequential {
            target: rt::ops::RtOpsTarget::new("rt_ops"),
            algo: "rt",
            about: "rt_mutex, one task on four locks vs. a model: fast/slow paths, self-deadlock, trylock, setscheduler",
        }),
        Box::new(Schedule {
            target: rt::sched::RtSchedTarget::new("rt_sched", false),
            algo: "rt",
            about: "rt_mutex, 2-4 tasks with priorities on 3 locks: PI chains, deadlock detection, signals, setprio, requeue-PI; PI invariants at every step, linearizability",
            priority_aware: false,
        }),
        Box::new(Schedule {
            target: rt::sched::RtSchedTarget::new("rt_prio_sched", true),
            algo: "rt",
            about: "rt_sched as SCHED_FIFO on one CPU (best priority runs) with the bounded-priority-inversion monitor (Mars Pathfinder)",
            priority_aware: true,
        }),
        Box::new(Schedule {
            target: rt::rwbase_sched::RwSchedTarget::new("rwbase_sched"),
            algo: "rt",
            about: "rwbase_rt as rw_semaphore (v6.4 and pre-v6.4 reader slow path) and rwlock_t, 2-4 tasks: reader/writer exclusion, the reader counter, downgrade, signals, PI of the inner rtmutex",
            priority_aware: false,
        }),
    ]
}
