//! The schedule engine (shuttle) must catch each concurrency bug of the toy targets, replay
//! the failure from its recorded byte schedule, and pass the correct flavours.
//! Run with `cargo test -p harness --features shuttle`.
#![cfg(feature = "shuttle")]

use harness::engine::random::Budget;
use harness::engine::schedule::{self, ByteScheduler, Mode, Recording};
use harness::registry::{DynTarget, RunError, Schedule, ScheduleKind};
use harness::report::{unhex, Failure, Repro};
use harness::target::{Scenario, Target};
use harness::targets::counter::{CounterBug, CounterOp, CounterTarget};
use harness::targets::rcu_cell::{RcuBug, RcuCellTarget, RcuOp};
use harness::targets::stack::{StackBug, StackOp, StackTarget};
use std::sync::{Arc, Mutex};

fn entry<T: Target + Clone>(target: T) -> Schedule<T> {
    Schedule {
        target,
        about: "",
        priority_aware: false,
    }
}

/// Finds the bug with `kind`, then checks the report and that its reproducer fails again
/// through the fuzz entry path with the same title.
fn caught<T: Target + Clone>(buggy: T, kind: ScheduleKind, iterations: u64) -> Failure {
    let e = entry(buggy);
    let f = e
        .check(Budget::iterations(iterations), 11, kind)
        .expect_err("the planted bug must be caught");
    assert!(f.schedule.is_some(), "{}", f.render());
    assert!(
        f.table.is_some() || f.checker != "LINEARIZABILITY",
        "{}",
        f.render()
    );
    let Some(Repro::Input(bytes)) = f.repro.clone() else {
        panic!("no reproducer: {}", f.render())
    };
    match e.run_input(&bytes) {
        Err(RunError::Failure(g)) => assert_eq!(g.title(), f.title(), "replay differs"),
        other => panic!(
            "the recorded schedule did not reproduce: {other:?}\n{}",
            f.render()
        ),
    }
    f
}

#[test]
fn random_schedules_catch_the_lost_update() {
    let f = caught(
        CounterTarget::new("counter_sched", CounterBug::LostUpdate),
        ScheduleKind::Random,
        300,
    );
    assert_eq!(f.checker, "LINEARIZABILITY", "{}", f.render());
    assert!(f.render().contains("thread 1"), "{}", f.render());
    entry(CounterTarget::new("counter_sched", CounterBug::None))
        .check(Budget::iterations(300), 11, ScheduleKind::Random)
        .expect("the correct counter is linearizable");
}

#[test]
fn pct_catches_the_split_pop() {
    let f = caught(
        StackTarget::new("stack_sched", StackBug::SplitPop),
        ScheduleKind::Pct,
        500,
    );
    assert_eq!(f.checker, "LINEARIZABILITY", "{}", f.render());
    entry(StackTarget::new("stack_sched", StackBug::None))
        .check(Budget::iterations(500), 11, ScheduleKind::Pct)
        .expect("the correct stack is linearizable");
}

#[test]
fn model_rcu_catches_the_early_free() {
    let f = caught(
        RcuCellTarget::new("rcu_cell_sched", RcuBug::EarlyFree),
        ScheduleKind::Random,
        500,
    );
    // The model RCU quarantined the object and the sanitizer poisoned it as freed: the report
    // is KMSAN's, with the free site (the planted `free_now` in rcu_cell.rs) as origin.
    assert_eq!(f.checker, "KMSAN", "{}", f.render());
    assert_eq!(f.kind, "use-after-free", "{}", f.render());
    assert!(
        f.details.contains("Uninit was created at:"),
        "{}",
        f.render()
    );
    assert!(
        f.details
            .contains("rcu free at harness/src/targets/rcu_cell.rs"),
        "{}",
        f.render()
    );
    assert!(f.details.contains("(free)"), "{}", f.render());
    entry(RcuCellTarget::new("rcu_cell_sched", RcuBug::None))
        .check(Budget::iterations(500), 11, ScheduleKind::Random)
        .expect("correct RCU use passes");
}

#[test]
fn byte_schedules_choose_the_interleaving() {
    let sc = Scenario {
        init: vec![],
        threads: vec![vec![CounterOp::Inc], vec![CounterOp::Inc]],
        post: vec![CounterOp::Get],
    };
    let t = CounterTarget::new("counter_sched", CounterBug::LostUpdate);
    // Without bytes the scheduler runs each thread to completion: no lost update.
    schedule::check(&t, &sc, None, Mode::Bytes(vec![]), false).expect("serial schedule");
    // Some byte schedule interleaves the two load/store pairs; find it by enumeration.
    let mut found = None;
    'outer: for a in 0..4u8 {
        for b in 0..4u8 {
            for c in 0..4u8 {
                let bytes = vec![a, b, c, a, b, c];
                if let Err(f) = schedule::check(&t, &sc, None, Mode::Bytes(bytes.clone()), false) {
                    found = Some((bytes, f));
                    break 'outer;
                }
            }
        }
    }
    let (_, f) = found.expect("some byte schedule loses an update");
    // The recorded schedule replays the failure.
    let rec = unhex(f.schedule.as_deref().expect("schedule")).expect("hex");
    let g = schedule::check(&t, &sc, None, Mode::Bytes(rec), false).expect_err("replay");
    assert_eq!(g.title(), f.title());
}

#[test]
fn rcu_reader_in_section_survives_every_random_schedule() {
    let sc = Scenario {
        init: vec![RcuOp::Write(1)],
        threads: vec![
            vec![RcuOp::Read, RcuOp::Read],
            vec![RcuOp::Write(2), RcuOp::Synchronize, RcuOp::Write(3)],
            vec![RcuOp::Read],
        ],
        post: vec![RcuOp::Read],
    };
    let t = RcuCellTarget::new("rcu_cell_sched", RcuBug::None);
    let ex = schedule::check(
        &t,
        &sc,
        None,
        Mode::Random {
            seed: 5,
            iterations: 300,
        },
        false,
    )
    .expect("no reader ever sees a freed object");
    assert_eq!(ex.executions, 300);
    let bad = RcuCellTarget::new("rcu_cell_sched", RcuBug::EarlyFree);
    let f = schedule::check(
        &bad,
        &sc,
        None,
        Mode::Random {
            seed: 5,
            iterations: 300,
        },
        false,
    )
    .expect_err("caught");
    assert_eq!(
        f.title().split(" in ").next(),
        Some("KMSAN: use-after-free")
    );
}

/// With the priority-aware filter, once the high-priority task has set its priority it runs
/// its steps without the low-priority one in between; without the filter, random schedules
/// interleave them.
#[test]
fn priority_aware_scheduling_prefers_the_best_effective_priority() {
    fn run(priority_aware: bool, seed: u64) -> Vec<Vec<char>> {
        let logs: Arc<Mutex<Vec<Vec<char>>>> = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::new(Mutex::new(Vec::new()));
        let sched = Recording::new(
            shuttle::scheduler::RandomScheduler::new_from_seed(seed, 50),
            priority_aware,
            record,
        );
        let l2 = logs.clone();
        let mut config = shuttle::Config::new();
        config.silence_warnings = true;
        shuttle::Runner::new(sched, config).run(move || {
            let log = Arc::new(Mutex::new(Vec::new()));
            let mut hs = Vec::new();
            for (name, prio) in [('H', 10), ('L', 130)] {
                let log = log.clone();
                hs.push(shuttle::thread::spawn(move || {
                    algos::sync::task::set_priority(prio);
                    for _ in 0..3 {
                        shuttle::thread::yield_now();
                        log.lock().unwrap().push(name);
                    }
                }));
            }
            for h in hs {
                h.join().unwrap();
            }
            l2.lock().unwrap().push(log.lock().unwrap().clone());
        });
        Arc::try_unwrap(logs).unwrap().into_inner().unwrap()
    }
    let contiguous_h = |log: &Vec<char>| {
        let first = log.iter().position(|&c| c == 'H').unwrap();
        log[first..first + 3].iter().all(|&c| c == 'H')
    };
    assert!(
        run(true, 1).iter().all(contiguous_h),
        "H was preempted by L"
    );
    assert!(
        !run(false, 1).iter().all(contiguous_h),
        "random schedules never interleaved"
    );
}

#[test]
fn byte_scheduler_falls_back_to_run_to_completion() {
    let mut s = ByteScheduler::new(vec![]);
    assert!(shuttle::scheduler::Scheduler::new_execution(&mut s).is_some());
    assert!(
        shuttle::scheduler::Scheduler::new_execution(&mut s).is_none(),
        "one execution only"
    );
}

#[test]
fn input_framing_round_trips_and_rejects_bad_headers() {
    let v = schedule::join_input(&[1, 2, 3], &[9, 9]);
    assert_eq!(
        schedule::split_input(&v).unwrap(),
        (&[1u8, 2, 3][..], &[9u8, 9][..])
    );
    assert!(schedule::split_input(&[5]).is_err());
    assert!(schedule::split_input(&[10, 0, 1])
        .unwrap_err()
        .contains("header says 10"));
    let _ = StackOp::Len;
}
