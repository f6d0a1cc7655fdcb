//! The generators are tested themselves (wasmtime's `test_valid` idea): random bytes, framed
//! the way each registry target's fuzz entry reads them (`DynTarget::generate`), must decode
//! and reach every operation variant of every target, and for the maple tree every write
//! path `write_stats()` counts. A variant or path that random inputs never reach is a blind
//! spot of every engine at once.
//!
//! The variant lists are exhaustive `match`es, so adding an operation without teaching the
//! test about it does not compile.

use harness::engine::random::Rng;
use harness::registry;
use harness::target::{decode, split_input, Scenario, SeqInput};
use harness::targets::maple::ops::MapleOp;
use harness::targets::maple::rcu::MapleRcuOp;
use harness::targets::percpu::ops::PercpuOp;
use harness::targets::percpu::sched::PercpuSchedOp;
use harness::targets::shadow::ops::ShadowOp;
use harness::targets::toy::counter::CounterOp;
use harness::targets::toy::rcu_cell::RcuOp as CellOp;
use harness::targets::toy::stack::StackOp;
use std::collections::BTreeSet;

const INPUTS: usize = 2_000;

/// The operations of `INPUTS` generated inputs of the registry target `name`.
fn generated_ops<Op>(name: &str) -> Vec<Op>
where
    Op: for<'a> arbitrary::Arbitrary<'a>,
{
    let t = registry::find(name).expect("registered");
    let mut rng = Rng::new(0x5eed);
    let mut ops = Vec::new();
    let mut decoded = 0;
    for _ in 0..INPUTS {
        let data = t.generate(&mut rng);
        if name.ends_with("_sched") {
            let (sc, _) = split_input(&data).expect("framing");
            if let Ok(s) = decode::<Scenario<Op>>(sc) {
                decoded += 1;
                ops.extend(s.init);
                ops.extend(s.threads.into_iter().flatten());
                ops.extend(s.post);
            }
        } else if let Ok(s) = decode::<SeqInput<Op>>(&data) {
            decoded += 1;
            ops.extend(s.ops);
            ops.extend(s.interrupts.into_iter().map(|i| i.op));
        }
    }
    assert!(
        decoded * 10 >= INPUTS * 9,
        "{name}: only {decoded} of {INPUTS} generated inputs decode"
    );
    ops
}

fn assert_reaches<Op>(name: &str, all: &[&str], variant: fn(&Op) -> &'static str)
where
    Op: for<'a> arbitrary::Arbitrary<'a>,
{
    let seen: BTreeSet<&str> = generated_ops::<Op>(name).iter().map(variant).collect();
    let missing: Vec<&&str> = all.iter().filter(|v| !seen.contains(**v)).collect();
    assert!(
        missing.is_empty(),
        "{name}: random inputs never reach {missing:?}"
    );
}

#[test]
fn counter_targets_reach_every_operation() {
    fn v(op: &CounterOp) -> &'static str {
        match op {
            CounterOp::Inc => "Inc",
            CounterOp::Add(_) => "Add",
            CounterOp::Get => "Get",
            CounterOp::IncIrqsOff => "IncIrqsOff",
        }
    }
    let all = ["Inc", "Add", "Get", "IncIrqsOff"];
    assert_reaches::<CounterOp>("counter", &all, v);
    assert_reaches::<CounterOp>("counter_sched", &all, v);
}

#[test]
fn stack_targets_reach_every_operation() {
    fn v(op: &StackOp) -> &'static str {
        match op {
            StackOp::Push(_) => "Push",
            StackOp::Pop => "Pop",
            StackOp::Len => "Len",
        }
    }
    let all = ["Push", "Pop", "Len"];
    assert_reaches::<StackOp>("stack", &all, v);
    assert_reaches::<StackOp>("stack_sched", &all, v);
}

#[test]
fn rcu_cell_targets_reach_every_operation() {
    fn v(op: &CellOp) -> &'static str {
        match op {
            CellOp::Read => "Read",
            CellOp::Write(_) => "Write",
            CellOp::Synchronize => "Synchronize",
        }
    }
    let all = ["Read", "Write", "Synchronize"];
    assert_reaches::<CellOp>("rcu_cell", &all, v);
    assert_reaches::<CellOp>("rcu_cell_sched", &all, v);
}

#[test]
fn shadow_ops_reaches_every_operation() {
    fn v(op: &ShadowOp) -> &'static str {
        match op {
            ShadowOp::Alloc { .. } => "Alloc",
            ShadowOp::Free { .. } => "Free",
            ShadowOp::Poison { .. } => "Poison",
            ShadowOp::Unpoison { .. } => "Unpoison",
            ShadowOp::Store { .. } => "Store",
            ShadowOp::LoadStore { .. } => "LoadStore",
            ShadowOp::Copy { .. } => "Copy",
            ShadowOp::Memset { .. } => "Memset",
            ShadowOp::Check { .. } => "Check",
        }
    }
    let all = [
        "Alloc",
        "Free",
        "Poison",
        "Unpoison",
        "Store",
        "LoadStore",
        "Copy",
        "Memset",
        "Check",
    ];
    assert_reaches::<ShadowOp>("shadow_ops", &all, v);
}

fn maple_variant(op: &MapleOp) -> &'static str {
    match op {
        MapleOp::Store { .. } => "Store",
        MapleOp::StoreNull { .. } => "StoreNull",
        MapleOp::Insert { .. } => "Insert",
        MapleOp::Erase(_) => "Erase",
        MapleOp::Load(_) => "Load",
        MapleOp::Find { .. } => "Find",
        MapleOp::AllocRange { .. } => "AllocRange",
        MapleOp::AllocRrange { .. } => "AllocRrange",
        MapleOp::MasWalk(_) => "MasWalk",
        MapleOp::MasNext { .. } => "MasNext",
        MapleOp::MasPrev { .. } => "MasPrev",
        MapleOp::MasFind { .. } => "MasFind",
        MapleOp::MasFindRev { .. } => "MasFindRev",
        MapleOp::MasFindStore { .. } => "MasFindStore",
        MapleOp::EmptyArea { .. } => "EmptyArea",
        MapleOp::Populate { .. } => "Populate",
        MapleOp::Rcu(_) => "Rcu",
        MapleOp::Destroy => "Destroy",
        MapleOp::Reset { .. } => "Reset",
    }
}

#[test]
fn maple_ops_reaches_every_operation() {
    let all = [
        "Store",
        "StoreNull",
        "Insert",
        "Erase",
        "Load",
        "Find",
        "AllocRange",
        "AllocRrange",
        "MasWalk",
        "MasNext",
        "MasPrev",
        "MasFind",
        "MasFindRev",
        "MasFindStore",
        "EmptyArea",
        "Populate",
        "Rcu",
        "Destroy",
        "Reset",
    ];
    assert_reaches::<MapleOp>("maple_ops", &all, maple_variant);
}

#[test]
fn maple_rcu_sched_reaches_every_operation() {
    fn v(op: &MapleRcuOp) -> &'static str {
        match op {
            MapleRcuOp::Load(_) => "Load",
            MapleRcuOp::Find { .. } => "Find",
            MapleRcuOp::Store { .. } => "Store",
            MapleRcuOp::StoreNull { .. } => "StoreNull",
            MapleRcuOp::Erase(_) => "Erase",
        }
    }
    let all = ["Load", "Find", "Store", "StoreNull", "Erase"];
    assert_reaches::<MapleRcuOp>("maple_rcu_sched", &all, v);
}

/// Every write path of the tree runs under generated `maple_ops` inputs (with their
/// allocation-failure plans installed, so `mas_nomem` runs too). The std backend only: the
/// tree is driven directly, outside a model execution.
#[cfg(not(feature = "shuttle"))]
#[test]
fn maple_ops_reaches_every_write_path() {
    use harness::target::Target;
    use harness::targets::maple::ops::MapleOpsTarget;
    let t = MapleOpsTarget::new("maple_ops", false, false);
    let reg = registry::find("maple_ops").expect("registered");
    let mut rng = Rng::new(0x3a9e);
    let mut total = algos::maple::WriteStats::default();
    let add = |total: &mut algos::maple::WriteStats, s: algos::maple::WriteStats| {
        total.exact_fit += s.exact_fit;
        total.slot_store += s.slot_store;
        total.append += s.append;
        total.node_store += s.node_store;
        total.split += s.split;
        total.spanning_store += s.spanning_store;
        total.rebalance += s.rebalance;
        total.push += s.push;
        total.root_store += s.root_store;
        total.nomem_retries += s.nomem_retries;
    };
    for _ in 0..INPUTS {
        let data = reg.generate(&mut rng);
        let Ok(input) = decode::<SeqInput<MapleOp>>(&data) else {
            continue;
        };
        let prev = algos::sync::fault::install((&input.faults).into());
        let sut = t.new_sut();
        for op in &input.ops {
            if matches!(op, MapleOp::Reset { .. }) {
                add(&mut total, sut.tree().write_stats());
            }
            t.apply(&sut, op);
        }
        add(&mut total, sut.tree().write_stats());
        algos::sync::fault::install(prev);
    }
    let algos::maple::WriteStats {
        exact_fit,
        slot_store,
        append,
        node_store,
        split,
        spanning_store,
        rebalance,
        push,
        root_store,
        nomem_retries,
    } = total;
    let paths = [
        ("exact_fit", exact_fit),
        ("slot_store", slot_store),
        ("append", append),
        ("node_store", node_store),
        ("split", split),
        ("spanning_store", spanning_store),
        ("rebalance", rebalance),
        ("push", push),
        ("root_store", root_store),
        ("nomem_retries", nomem_retries),
    ];
    let missing: Vec<&str> = paths.iter().filter(|p| p.1 == 0).map(|p| p.0).collect();
    assert!(
        missing.is_empty(),
        "maple_ops inputs never reach the write paths {missing:?}: {total:?}"
    );
}

#[test]
fn percpu_ops_reaches_every_operation() {
    fn v(op: &PercpuOp) -> &'static str {
        match op {
            PercpuOp::Alloc { .. } => "Alloc",
            PercpuOp::AllocFallback { .. } => "AllocFallback",
            PercpuOp::AllocBatch { .. } => "AllocBatch",
            PercpuOp::Free { .. } => "Free",
            PercpuOp::FreeRcu { .. } => "FreeRcu",
            PercpuOp::FreeBatch { .. } => "FreeBatch",
            PercpuOp::Migrate { .. } => "Migrate",
            PercpuOp::Threaded { .. } => "Threaded",
            PercpuOp::IrqWorkThread => "IrqWorkThread",
            PercpuOp::GracePeriod => "GracePeriod",
            PercpuOp::Drain => "Drain",
            PercpuOp::Destroy { .. } => "Destroy",
            PercpuOp::CheckAll => "CheckAll",
        }
    }
    let all = [
        "Alloc",
        "AllocFallback",
        "AllocBatch",
        "Free",
        "FreeRcu",
        "FreeBatch",
        "Migrate",
        "Threaded",
        "IrqWorkThread",
        "GracePeriod",
        "Drain",
        "Destroy",
        "CheckAll",
    ];
    assert_reaches::<PercpuOp>("percpu_ops", &all, v);
}

#[test]
fn rt_ops_reaches_every_operation() {
    use harness::targets::rt::ops::RtOp;
    fn v(op: &RtOp) -> &'static str {
        match op {
            RtOp::Lock { .. } => "Lock",
            RtOp::LockChecked { .. } => "LockChecked",
            RtOp::LockInterruptible { .. } => "LockInterruptible",
            RtOp::TryLock { .. } => "TryLock",
            RtOp::Unlock { .. } => "Unlock",
            RtOp::SetPrio { .. } => "SetPrio",
        }
    }
    let all = [
        "Lock",
        "LockChecked",
        "LockInterruptible",
        "TryLock",
        "Unlock",
        "SetPrio",
    ];
    assert_reaches::<RtOp>("rt_ops", &all, v);
}

#[test]
fn mglru_ops_reaches_every_operation() {
    use harness::targets::mglru::ops::MglruOp;
    fn v(op: &MglruOp) -> &'static str {
        match op {
            MglruOp::Access { .. } => "Access",
            MglruOp::Run { .. } => "Run",
            MglruOp::Reclaim { .. } => "Reclaim",
            MglruOp::ReclaimZones { .. } => "ReclaimZones",
            MglruOp::Mapped { .. } => "Mapped",
            MglruOp::Protect { .. } => "Protect",
            MglruOp::Memcg { .. } => "Memcg",
            MglruOp::Sysfs { .. } => "Sysfs",
            MglruOp::Age { .. } => "Age",
            MglruOp::Evict { .. } => "Evict",
            MglruOp::Swappiness { .. } => "Swappiness",
            MglruOp::Write { .. } => "Write",
            MglruOp::Pid { .. } => "Pid",
        }
    }
    let all = [
        "Access",
        "Run",
        "Reclaim",
        "ReclaimZones",
        "Mapped",
        "Protect",
        "Memcg",
        "Sysfs",
        "Age",
        "Evict",
        "Swappiness",
        "Write",
        "Pid",
    ];
    assert_reaches::<MglruOp>("mglru_ops", &all, v);
}

#[test]
fn rt_sched_targets_reach_every_operation() {
    use harness::targets::rt::sched::RtSchedOp;
    fn v(op: &RtSchedOp) -> &'static str {
        match op {
            RtSchedOp::Lock(_) => "Lock",
            RtSchedOp::LockChecked(_) => "LockChecked",
            RtSchedOp::LockInterruptible(_) => "LockInterruptible",
            RtSchedOp::TryLock(_) => "TryLock",
            RtSchedOp::Unlock(_) => "Unlock",
            RtSchedOp::Signal(_) => "Signal",
            RtSchedOp::SetPrio { .. } => "SetPrio",
            RtSchedOp::Spin(_) => "Spin",
            RtSchedOp::ProxyWait(_) => "ProxyWait",
            RtSchedOp::ProxyRequeue(_) => "ProxyRequeue",
        }
    }
    let all = [
        "Lock",
        "LockChecked",
        "LockInterruptible",
        "TryLock",
        "Unlock",
        "Signal",
        "SetPrio",
        "Spin",
        "ProxyWait",
        "ProxyRequeue",
    ];
    assert_reaches::<RtSchedOp>("rt_sched", &all, v);
    assert_reaches::<RtSchedOp>("rt_prio_sched", &all, v);
}

#[test]
fn rwbase_sched_reaches_every_operation() {
    use harness::targets::rt::rwbase_sched::RwSchedOp;
    fn v(op: &RwSchedOp) -> &'static str {
        match op {
            RwSchedOp::Read(_) => "Read",
            RwSchedOp::ReadInterruptible(_) => "ReadInterruptible",
            RwSchedOp::TryRead(_) => "TryRead",
            RwSchedOp::Write(_) => "Write",
            RwSchedOp::WriteKillable(_) => "WriteKillable",
            RwSchedOp::TryWrite(_) => "TryWrite",
            RwSchedOp::Downgrade(_) => "Downgrade",
            RwSchedOp::Unlock(_) => "Unlock",
            RwSchedOp::Signal(_) => "Signal",
            RwSchedOp::SetPrio { .. } => "SetPrio",
            RwSchedOp::Spin(_) => "Spin",
        }
    }
    let all = [
        "Read",
        "ReadInterruptible",
        "TryRead",
        "Write",
        "WriteKillable",
        "TryWrite",
        "Downgrade",
        "Unlock",
        "Signal",
        "SetPrio",
        "Spin",
    ];
    assert_reaches::<RwSchedOp>("rwbase_sched", &all, v);
}

/// Every path of the allocator runs under generated `percpu_ops` inputs, run by the
/// sequential engine with their interrupt and allocation-failure plans: refill, reuse from
/// the tasks-trace lists, failed refills, trims, nested (NMI) allocations and frees, both
/// grace-period callbacks, and destroy's draining. The std backend only. Four times the
/// usual inputs: a nested free needs an NMI inside a fast path whose nested op frees a live
/// slot, about one input in a thousand.
#[cfg(not(feature = "shuttle"))]
#[test]
fn percpu_ops_reaches_every_allocator_path() {
    let reg = registry::find("percpu_ops").expect("registered");
    let mut rng = Rng::new(0x9e3c);
    let before = algos::percpu::path_stats();
    for _ in 0..4 * INPUTS {
        let data = reg.generate(&mut rng);
        reg.run_input(&data).expect("the correct allocator passes");
    }
    let after = algos::percpu::path_stats();
    let d = |a: u64, b: u64| a - b;
    let paths = [
        ("refill", d(after.refill, before.refill)),
        ("reused", d(after.reused, before.reused)),
        ("fresh", d(after.fresh, before.fresh)),
        (
            "refill_failed",
            d(after.refill_failed, before.refill_failed),
        ),
        ("trim", d(after.trim, before.trim)),
        ("nested_null", d(after.nested_null, before.nested_null)),
        ("nested_free", d(after.nested_free, before.nested_free)),
        (
            "nested_free_rcu",
            d(after.nested_free_rcu, before.nested_free_rcu),
        ),
        ("rcu_gp", d(after.rcu_gp, before.rcu_gp)),
        ("ttrace_gp", d(after.ttrace_gp, before.ttrace_gp)),
        (
            "free_by_rcu_done",
            d(after.free_by_rcu_done, before.free_by_rcu_done),
        ),
        ("ttrace_done", d(after.ttrace_done, before.ttrace_done)),
        ("drained", d(after.drained, before.drained)),
    ];
    let missing: Vec<&str> = paths.iter().filter(|p| p.1 == 0).map(|p| p.0).collect();
    assert!(
        missing.is_empty(),
        "percpu_ops inputs never reach the allocator paths {missing:?}: {paths:?}"
    );
}

#[test]
fn percpu_sched_reaches_every_operation() {
    fn v(op: &PercpuSchedOp) -> &'static str {
        match op {
            PercpuSchedOp::Alloc(_) => "Alloc",
            PercpuSchedOp::Free(_) => "Free",
            PercpuSchedOp::FreeRcu(_) => "FreeRcu",
            PercpuSchedOp::AllocBatch(_) => "AllocBatch",
            PercpuSchedOp::FreeBatch(..) => "FreeBatch",
            PercpuSchedOp::Read(_) => "Read",
            PercpuSchedOp::GracePeriod => "GracePeriod",
        }
    }
    let all = [
        "Alloc",
        "Free",
        "FreeRcu",
        "AllocBatch",
        "FreeBatch",
        "Read",
        "GracePeriod",
    ];
    assert_reaches::<PercpuSchedOp>("percpu_sched", &all, v);
}
