//! The harness's toy targets under loom: the same target definitions the fuzzers and the
//! schedule engine run, explored exhaustively for one small scenario each.
#![cfg(mmcheck_loom)]

use harness::engine::scenario;
use harness::target::Scenario;
use harness::targets::toy::counter::{CounterBug, CounterOp, CounterTarget};
use harness::targets::toy::rcu_cell::{RcuBug, RcuCellTarget, RcuOp};
use harness::targets::toy::stack::{StackBug, StackOp, StackTarget};

fn sc<Op>(threads: Vec<Vec<Op>>, post: Vec<Op>) -> Scenario<Op> {
    Scenario::new(vec![], threads, post)
}

#[test]
fn counter_is_linearizable_and_lost_update_is_caught() {
    let s = sc(
        vec![vec![CounterOp::Inc], vec![CounterOp::Inc]],
        vec![CounterOp::Get],
    );
    scenario::run(&CounterTarget::new("counter_sched", CounterBug::None), &s).expect("correct");
    let f = scenario::run(
        &CounterTarget::new("counter_sched", CounterBug::LostUpdate),
        &s,
    )
    .expect_err("lost update");
    assert_eq!(f.checker, "LINEARIZABILITY", "{}", f.render());
}

#[test]
fn stack_split_pop_is_caught() {
    let s = Scenario {
        init: vec![StackOp::Push(1), StackOp::Push(2)],
        threads: vec![vec![StackOp::Pop], vec![StackOp::Pop]],
        post: vec![],
        irqs: Vec::new(),
        faults: Vec::new(),
    };
    scenario::run(&StackTarget::new("stack_sched", StackBug::None), &s).expect("correct");
    let f = scenario::run(&StackTarget::new("stack_sched", StackBug::SplitPop), &s)
        .expect_err("split pop");
    assert_eq!(f.checker, "LINEARIZABILITY", "{}", f.render());
}

#[test]
fn rcu_cell_early_free_is_caught() {
    let s = sc(vec![vec![RcuOp::Read], vec![RcuOp::Write(1)]], vec![]);
    scenario::run(&RcuCellTarget::new("rcu_cell_sched", RcuBug::None), &s).expect("correct");
    let f = scenario::run(&RcuCellTarget::new("rcu_cell_sched", RcuBug::EarlyFree), &s)
        .expect_err("early free");
    assert_eq!(
        f.title().split(" in ").next(),
        Some("KMSAN: use-after-free"),
        "{}",
        f.render()
    );
}
