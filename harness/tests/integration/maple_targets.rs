//! The maple tree targets: `maple_ops` (sequential differential) and `maple_rcu_sched`
//! (schedule engine) pass their engines for a bounded budget, and the allocation-failure path
//! is really exercised. The `maple_rcu_sched` schedule tests need `--features shuttle`.

use harness::engine::random::Budget;
use harness::engine::sequential;
use harness::registry::{self, DynTarget, Engine, Sequential};
use harness::target::{FaultSpec, IrqKind, IrqSpec, SeqInput, Target};
use harness::targets::maple::ops::{nomem_counts, MapleOp, MapleOpsTarget};
use harness::targets::maple::rcu::MapleRcuTarget;

fn ops_target(alloc: bool, rcu: bool) -> MapleOpsTarget {
    MapleOpsTarget::new("maple_ops", alloc, rcu)
}

#[test]
fn maple_ops_passes_random_inputs() {
    let t = registry::find("maple_ops").expect("registered");
    let stats = t
        .check(Budget::iterations(300), 5, Engine::SeqRandom)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.decoded, 300);
    // Operations applied, not loop turns: random inputs carry dozens of operations.
    assert!(stats.ops > 10 * stats.decoded, "{stats:?}");
}

#[test]
fn maple_ops_from_an_alloc_tree_in_rcu_mode_passes_random_inputs() {
    let t = Sequential {
        target: ops_target(true, true),
        algo: "test",
        about: "",
    };
    let stats = t
        .check(Budget::iterations(300), 6, Engine::SeqRandom)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(stats.ops > 10 * stats.decoded, "{stats:?}");
}

#[test]
fn maple_ops_proptest_state_machine() {
    let t = registry::find("maple_ops").expect("registered");
    let stats = t
        .check(Budget::iterations(64), 7, Engine::Proptest)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.executions, 64);
    assert!(stats.ops > 64, "{stats:?}");
}

#[test]
fn maple_rcu_proptest_state_machine() {
    // The proptest bridge runs schedule targets' operations sequentially.
    let t = registry::find("maple_rcu_sched").expect("registered");
    t.check(Budget::iterations(32), 8, Engine::Proptest)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Writes that need node allocations: in RCU mode every store copies its leaf.
fn writes() -> Vec<MapleOp> {
    let mut ops = vec![
        MapleOp::Reset {
            alloc: true,
            rcu: true,
        },
        MapleOp::Populate {
            first: 0,
            count: 40,
            stride: 3,
            len: 1,
            val: 1,
            rev: false,
        },
    ];
    for i in 0..20u64 {
        ops.push(MapleOp::Store {
            first: 7 * i,
            last: 7 * i + 2,
            val: 100 + i as u16,
        });
        ops.push(MapleOp::AllocRange {
            min: 0,
            max: 400,
            size: 2,
            val: 200 + i as u16,
        });
        ops.push(MapleOp::Erase(5 * i));
    }
    ops
}

#[test]
fn fault_injection_reaches_the_nomem_path() {
    let before = nomem_counts();
    let input = SeqInput {
        ops: writes(),
        // Every other allocation fails, and runs of two in a row make whole writes fail.
        faults: FaultSpec::Pattern(vec![0b1011_0110; 32]),
        interrupts: Vec::new(),
    };
    sequential::run(&ops_target(false, false), &input).unwrap_or_else(|f| panic!("{}", f.render()));
    let after = nomem_counts();
    assert!(
        after.retries > before.retries,
        "no mas_nomem retry: {before:?} -> {after:?}"
    );
    assert!(
        after.failures > before.failures,
        "no write failed with NoMem: {before:?} -> {after:?}"
    );
}

#[test]
fn an_irq_write_while_the_lock_is_dropped_for_memory() {
    // The first interrupt points are the `maple_nomem` points of the first failing writes:
    // nested writes run there, between the failed attempt and the retry.
    let nested = |at, first| IrqSpec {
        at,
        kind: IrqKind::Irq,
        op: MapleOp::Store {
            first,
            last: first + 3,
            val: 999,
        },
    };
    let input = SeqInput {
        ops: writes(),
        faults: FaultSpec::Pattern(vec![0b0000_0011; 16]),
        interrupts: vec![nested(0, 10), nested(1, 60), nested(3, 5)],
    };
    let before = nomem_counts();
    sequential::run(&ops_target(false, false), &input).unwrap_or_else(|f| panic!("{}", f.render()));
    assert!(nomem_counts().retries > before.retries);
}

#[test]
#[allow(clippy::result_large_err)] // `run_once` takes the engines' `Failure` as is.
fn maple_rcu_initial_tree_has_height_two() {
    harness::engine::run_once(|| {
        let t = MapleRcuTarget::new("maple_rcu_sched");
        let tree = t.new_sut();
        assert!(tree.in_rcu());
        assert_eq!(
            tree.height(),
            2,
            "pre-population must give a two-level tree"
        );
        t.invariants(&tree, &t.new_model())
            .expect("tree and model start equal");
        Ok(())
    })
    .unwrap_or_else(|f| panic!("{}", f.render()));
}

/// Regression found by this target: a store over every index on a tree of height 2 used to
/// retire the walked leaves' entries twice. Under shuttle the model RCU reports a double
/// retire; on std it would be a real double free, so it runs only there.
#[cfg(feature = "shuttle")]
#[test]
fn regression_new_root_double_free() {
    let mut ops: Vec<MapleOp> = (0..20u64)
        .map(|k| MapleOp::Store {
            first: 10 * k,
            last: 10 * k + 5,
            val: 1,
        })
        .collect();
    ops.push(MapleOp::StoreNull {
        first: 0,
        last: u64::MAX,
    });
    let t = MapleOpsTarget::new("maple_ops", false, false);
    sequential::run(&t, &SeqInput::ops(ops)).unwrap_or_else(|f| panic!("{}", f.render()));
}

#[cfg(feature = "shuttle")]
mod schedule {
    use super::*;
    use harness::engine::schedule::{self, Mode, Options};
    use harness::target::Scenario;
    use harness::targets::maple::rcu::MapleRcuOp;

    #[test]
    fn maple_rcu_passes_random_and_pct_schedules() {
        let t = registry::find("maple_rcu_sched").expect("registered");
        for kind in [Engine::SchedRandom, Engine::SchedPct] {
            let stats = t
                .check(Budget::iterations(20), 3, kind)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(stats.decoded, 20);
            assert!(stats.executions >= 20 * 50, "{stats:?}");
            assert!(stats.ops >= stats.executions * 2, "{stats:?}");
        }
    }

    #[test]
    fn one_writer_two_rcu_readers() {
        // The writer replaces leaves (a spanning store, a split, a NULL store merging
        // ranges across a node boundary, an erase) while two readers load indexes around
        // them.
        let writer = vec![
            MapleRcuOp::Store {
                first: 95,
                last: 170,
                val: 500,
            },
            MapleRcuOp::Store {
                first: 201,
                last: 201,
                val: 501,
            },
            MapleRcuOp::StoreNull {
                first: 40,
                last: 62,
            },
            MapleRcuOp::Erase(250),
        ];
        let reader = |base: u64| -> Vec<MapleRcuOp> {
            vec![
                MapleRcuOp::Load(base),
                MapleRcuOp::Find {
                    index: base + 40,
                    max: base + 90,
                },
                MapleRcuOp::Load(base + 55),
                MapleRcuOp::Load(base + 150),
            ]
        };
        let sc = Scenario {
            init: Vec::new(),
            threads: vec![writer, reader(50), reader(100)],
            post: vec![MapleRcuOp::Load(201), MapleRcuOp::Load(250)],
            irqs: Vec::new(),
            faults: Vec::new(),
        };
        let t = MapleRcuTarget::new("maple_rcu_sched");
        for seed in 0..4 {
            schedule::check(
                &t,
                &sc,
                None,
                Mode::Random {
                    seed,
                    iterations: 100,
                },
                Options::default(),
            )
            .unwrap_or_else(|f| panic!("{}", f.render()));
        }
        schedule::check(
            &t,
            &sc,
            None,
            Mode::Pct {
                seed: 1,
                depth: 3,
                iterations: 200,
            },
            Options::default(),
        )
        .unwrap_or_else(|f| panic!("{}", f.render()));
    }
}
