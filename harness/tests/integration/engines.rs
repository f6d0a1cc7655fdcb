//! Every engine must catch the bug it is meant to catch in the toy targets, and pass the
//! correct flavour under the same budget. (Schedule-engine proofs are in `schedule.rs`,
//! which needs `--features shuttle`; loom's are in the `loom-tests` crate.)

use harness::engine::random::Budget;
use harness::engine::{proptest, sequential};
use harness::registry::{DynTarget, Engine, RunError, Sequential};
use harness::report::Repro;
use harness::target::{FaultSpec, IrqKind, IrqSpec, SeqInput};
use harness::targets::toy::counter::{CounterBug, CounterOp, CounterTarget};
use harness::targets::toy::stack::{StackBug, StackOp, StackTarget};

fn seq(bug: CounterBug) -> Sequential<CounterTarget> {
    Sequential {
        target: CounterTarget::new("counter", bug),
        algo: "test",
        about: "",
    }
}

#[test]
fn sequential_random_catches_off_by_one_and_passes_correct() {
    let f = seq(CounterBug::AddOffByOne)
        .check(Budget::iterations(20_000), 1, Engine::SeqRandom)
        .expect_err("the off-by-one must be found")
        .expect_failure();
    assert_eq!(
        f.title(),
        "INVARIANT: structure and model disagree in counter::Add",
        "{}",
        f.render()
    );
    // The reproducer replays to the same failure through the fuzz entry's path.
    let Some(Repro::Input(bytes)) = f.repro.clone() else {
        panic!("no reproducer")
    };
    match seq(CounterBug::AddOffByOne).run_input(&bytes) {
        Err(RunError::Failure(g)) => assert_eq!(g.title(), f.title()),
        other => panic!("reproducer did not fail again: {other:?}"),
    }
    assert!(seq(CounterBug::None).run_input(&bytes).is_ok());
    let stats = seq(CounterBug::None)
        .check(Budget::iterations(20_000), 1, Engine::SeqRandom)
        .expect("correct counter passes");
    // Counts of work done: every input decoded (the decoder takes any bytes), and random
    // bytes give many operations per input (a decoder that yields empty inputs would not).
    assert_eq!(stats.decoded, 20_000);
    assert!(stats.inputs >= stats.decoded);
    assert!(stats.ops > 10 * stats.decoded, "{stats:?}");
    assert_eq!(stats.executions, stats.decoded);
}

#[test]
fn sequential_engine_with_an_irq_catches_a_lost_update() {
    // One Inc, interrupted between its load and store by an IRQ that also increments.
    let input = SeqInput {
        ops: vec![CounterOp::Inc, CounterOp::Get],
        faults: FaultSpec::Never,
        interrupts: vec![IrqSpec {
            at: 0,
            kind: IrqKind::Irq,
            op: CounterOp::Inc,
        }],
    };
    let t = CounterTarget::new("counter", CounterBug::LostUpdate);
    let f = sequential::run(&t, &input).expect_err("lost update under IRQ");
    assert!(
        f.title().contains("counter::Inc") || f.title().contains("counter::Get"),
        "{}",
        f.render()
    );
    assert!(
        f.table.as_deref().unwrap_or("").contains("irq"),
        "{}",
        f.render()
    );
    // The correct counter passes the same input, and the IRQ really was delivered: the run
    // applied three operations, one of them nested (the model accepting Get = 2 is not
    // evidence of delivery, since the engine models the nested operation too).
    let ran =
        sequential::run(&CounterTarget::new("counter", CounterBug::None), &input).expect("correct");
    assert_eq!((ran.ops, ran.nested), (3, 1), "{ran:?}");
    // Without the interrupt, the buggy counter is sequentially correct.
    sequential::run(&t, &SeqInput::ops(input.ops.clone())).expect("no IRQ, no bug");
}

#[test]
fn sequential_random_finds_the_irq_lost_update_from_bytes() {
    let f = seq(CounterBug::LostUpdate)
        .check(Budget::iterations(50_000), 7, Engine::SeqRandom)
        .expect_err("random bytes reach an IRQ inside Inc")
        .expect_failure();
    assert!(
        f.render().contains("irq") || f.render().contains("nmi"),
        "{}",
        f.render()
    );
}

/// An IRQ spec and an NMI spec aimed at an interrupt point inside `irq_save`: the NMI is
/// delivered there, the IRQ is not (the nested operation count says which ran).
#[test]
fn nmi_is_delivered_where_irq_is_masked() {
    // `IncIrqsOff` runs its interrupt point inside `cpu::irq_save`.
    let input = |kind| SeqInput {
        ops: vec![CounterOp::IncIrqsOff, CounterOp::Get],
        faults: FaultSpec::Never,
        interrupts: vec![IrqSpec {
            at: 0,
            kind,
            op: CounterOp::Add(5),
        }],
    };
    let t = CounterTarget::new("counter", CounterBug::None);
    let nmi = sequential::run(&t, &input(IrqKind::Nmi)).expect("correct counter with an NMI");
    assert_eq!(
        nmi.nested, 1,
        "the NMI must arrive inside irq_save: {nmi:?}"
    );
    let irq = sequential::run(&t, &input(IrqKind::Irq)).expect("correct counter, IRQ masked");
    assert_eq!(
        irq.nested, 0,
        "the IRQ must be held off by irq_save: {irq:?}"
    );
}

#[test]
fn proptest_shrinks_the_off_by_one_to_one_operation() {
    let t = CounterTarget::new("counter", CounterBug::AddOffByOne);
    let f = proptest::check(&t, 2_000, 3).expect_err("proptest finds it");
    let Some(Repro::Chunks(chunks)) = &f.repro else {
        panic!("no chunks: {}", f.render())
    };
    let input = proptest::input_from_chunks::<CounterTarget>(chunks);
    assert_eq!(
        input.ops,
        vec![CounterOp::Add(0x7f)],
        "not shrunk: {}",
        f.render()
    );
    assert!(f.repro_test().expect("repro test").contains("expect_pass"));
    proptest::check(&CounterTarget::new("counter", CounterBug::None), 500, 3)
        .expect("correct passes");
}

#[test]
fn split_pop_is_invisible_to_sequential_engines() {
    // The planted stack bug is a concurrency bug: sequential engines must not report it
    // (they would be lying), which is why the schedule engine exists.
    let t = StackTarget::new("stack", StackBug::SplitPop);
    let s = Sequential {
        target: t.clone(),
        algo: "test",
        about: "",
    };
    let stats = s
        .check(Budget::iterations(5_000), 5, Engine::SeqRandom)
        .expect("sequentially fine");
    assert!(stats.ops > stats.decoded, "{stats:?}");
    proptest::check(&t, 300, 5).expect("sequentially fine");
    let input = SeqInput::ops(vec![
        StackOp::Push(1),
        StackOp::Push(1),
        StackOp::Pop,
        StackOp::Len,
    ]);
    sequential::run(&t, &input).expect("duplicates handled");
}

#[test]
fn failure_reports_carry_title_table_and_repro_test() {
    let t = CounterTarget::new("counter", CounterBug::AddOffByOne);
    let input = SeqInput::ops(vec![CounterOp::Inc, CounterOp::Add(0x7f), CounterOp::Get]);
    let mut f = sequential::run(&t, &input).expect_err("bug");
    f.repro = Some(Repro::Input(vec![1, 2, 3]));
    let r = f.render();
    assert!(
        r.starts_with("MMCHECK-TITLE: INVARIANT: structure and model disagree in counter::Add"),
        "{r}"
    );
    assert!(r.contains("Add(127)"), "{r}");
    assert!(
        r.contains("#[test]") && r.contains("harness::registry::expect_pass(\"counter\""),
        "{r}"
    );
    assert!(r.contains("counter holds 129, the model 128"), "{r}");
}

/// A target whose `Boom` operation panics: the failure must keep the trace before it.
#[derive(Debug, Clone)]
struct Boomer;

#[derive(Debug, Clone, PartialEq, Eq, Hash, arbitrary::Arbitrary)]
enum BoomOp {
    Tick,
    Boom,
}

impl harness::target::Target for Boomer {
    type Op = BoomOp;
    type Ret = ();
    type Model = ();
    type Sut = ();
    fn name(&self) -> &'static str {
        "boomer"
    }
    fn new_sut(&self) {}
    fn new_model(&self) {}
    fn apply(&self, _: &(), op: &BoomOp) {
        if *op == BoomOp::Boom {
            panic!("boom: the structure is corrupt");
        }
    }
    fn step(&self, _: &mut (), _: &BoomOp) {}
}

#[test]
fn a_panicking_operation_is_reported_with_the_trace_before_it() {
    let input = SeqInput::ops(vec![BoomOp::Tick, BoomOp::Tick, BoomOp::Boom, BoomOp::Tick]);
    let f = sequential::run(&Boomer, &input).expect_err("the panic is a failure");
    assert!(
        f.title()
            .starts_with("PANIC: boom: the structure is corrupt in "),
        "{}",
        f.title()
    );
    let table = f.table.as_deref().expect("a trace");
    assert!(table.contains("#1 Tick -> ()"), "{table}");
    assert!(
        table.contains("!") && table.contains("#2 Boom -> panicked"),
        "{table}"
    );
    assert!(!table.contains("#3"), "{table}");
}
