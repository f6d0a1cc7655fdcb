//! The PREEMPT_RT lock targets on the schedule engine: the Mars Pathfinder scenario passes
//! with priority inheritance under the one-CPU priority scheduler, and the
//! bounded-priority-inversion monitor reports it when the scheduler ignores inherited
//! priorities (a kernel without PI); rt-tester style scenarios pass under free and
//! priority-aware interleavings. Run with `cargo test -p harness --features shuttle`.
#![cfg(feature = "shuttle")]

use harness::engine::scenario;
use harness::engine::schedule::{self, Mode, Options, PriorityFilter};
use harness::target::Scenario;
use harness::targets::rt::sched::{RtSchedOp, RtSchedTarget, PRIOS};
use RtSchedOp::*;

/// `PRIOS` index of a priority.
fn prio(p: i32) -> u8 {
    PRIOS
        .iter()
        .position(|&x| x == p)
        .expect("a palette priority") as u8
}

/// Mars Pathfinder: thread 1 (the low, nice-0 task: the bus-management lock's holder) takes
/// lock 0, then makes thread 2 the high task (10) and thread 3 the medium one (50) and
/// works; thread 2 blocks on lock 0; thread 3 burns CPU.
fn pathfinder() -> Scenario<RtSchedOp> {
    Scenario::new(
        Vec::new(),
        vec![
            vec![
                Lock(0),
                SetPrio {
                    task: 1,
                    prio: prio(10),
                },
                SetPrio {
                    task: 2,
                    prio: prio(50),
                },
                Spin(3),
                Unlock(0),
            ],
            vec![Lock(0), Unlock(0)],
            vec![Spin(3), Spin(3)],
        ],
        Vec::new(),
    )
}

#[test]
fn pathfinder_passes_with_priority_inheritance() {
    let t = RtSchedTarget::new("rt_prio_sched", true);
    for mode in [
        Mode::Random {
            seed: 7,
            iterations: 300,
        },
        Mode::Pct {
            seed: 7,
            depth: 3,
            iterations: 300,
        },
    ] {
        if let Err(f) = schedule::check(&t, &pathfinder(), None, mode, Options::priority(true)) {
            panic!("{}", f.render());
        }
    }
}

/// Runs `sc` under a priority filter that ranks by base priority (no inheritance), with the
/// monitor armed; returns the failures' messages.
fn without_inheritance(sc: &Scenario<RtSchedOp>, iterations: usize) -> Vec<String> {
    let t = RtSchedTarget::new("rt_prio_sched", true);
    let mut found = Vec::new();
    for seed in 0..iterations as u64 {
        let random = shuttle::scheduler::RandomScheduler::new_from_seed(seed, 1);
        let mut config = shuttle::Config::new();
        config.silence_warnings = true;
        let (t2, sc2) = (t.clone(), sc.clone());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shuttle::Runner::new(PriorityFilter::by_base(random), config).run(move || {
                algos::sync::task::reset();
                if let Err(f) = scenario::execute(&t2, &sc2) {
                    panic!("{}", f.render());
                }
            })
        }));
        if let Err(p) = r {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            found.push(msg);
        }
    }
    found
}

#[test]
fn the_monitor_reports_pathfinder_without_inheritance() {
    let found = without_inheritance(&pathfinder(), 60);
    assert!(
        found
            .iter()
            .any(|m| m.contains("unbounded priority inversion")),
        "the medium task never ran over the boosted-less owner, or the monitor missed it: {found:?}"
    );
    assert!(
        found
            .iter()
            .all(|m| m.contains("unbounded priority inversion")),
        "only the inversion may fail: {found:?}"
    );
}

/// rt-tester t3-l1-pi-signal's shape: a low owner, a high interruptible waiter that gets
/// signalled, a medium task changing priorities; and t4-l2's two-lock chain. Both targets,
/// random and PCT schedules.
#[test]
fn rt_tester_shapes_pass_on_both_targets() {
    let signal = Scenario::new(
        vec![SetPrio {
            task: 1,
            prio: prio(10),
        }],
        vec![
            vec![Lock(0), Spin(1), Unlock(0)],
            vec![LockInterruptible(0), Unlock(0)],
            vec![
                Signal(1),
                SetPrio {
                    task: 1,
                    prio: prio(90),
                },
            ],
        ],
        Vec::new(),
    );
    let chain = Scenario::new(
        vec![SetPrio {
            task: 2,
            prio: prio(10),
        }],
        vec![
            vec![Lock(0), Spin(1), Unlock(0)],
            vec![Lock(1), Lock(0), Unlock(0), Unlock(1)],
            vec![Spin(0), Lock(1), Unlock(1)],
        ],
        Vec::new(),
    );
    let abba = Scenario::new(
        Vec::new(),
        vec![
            vec![Lock(0), LockChecked(1)],
            vec![Lock(1), LockChecked(0)],
            vec![Lock(0)],
        ],
        Vec::new(),
    );
    let proxy = Scenario::new(
        Vec::new(),
        vec![
            vec![Lock(0), Spin(2), Unlock(0)],
            vec![ProxyWait(0)],
            vec![ProxyRequeue(0), Signal(1)],
        ],
        Vec::new(),
    );
    for (name, aware) in [("rt_sched", false), ("rt_prio_sched", true)] {
        let t = RtSchedTarget::new(name, aware);
        for sc in [&signal, &chain, &abba, &proxy] {
            for mode in [
                Mode::Random {
                    seed: 3,
                    iterations: 200,
                },
                Mode::Pct {
                    seed: 3,
                    depth: 3,
                    iterations: 200,
                },
            ] {
                if let Err(f) = schedule::check(&t, sc, None, mode, Options::priority(aware)) {
                    panic!("{name}: {}", f.render());
                }
            }
        }
    }
}
