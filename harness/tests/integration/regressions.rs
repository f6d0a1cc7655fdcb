//! Regression tests as `mmcheck` prints them under "regression test:" (the typed form, which
//! survives changes to the byte decoder), one sentence each on the bug it pins. They run on
//! the correct code, so they pass; each was generated from the planted bug named above it.

use harness::target::{FaultSpec, SeqInput};
use harness::targets::toy::counter::CounterOp::*;

/// Pins `mutants/toy/counter_add_off_by_one` (`Counter::add(0x7f)` added 0x80): found by the
/// sequential engine as `INVARIANT: structure and model disagree in counter::Add`.
#[test]
fn repro_counter_2a63d598_typed() {
    let input = SeqInput {
        ops: vec![
            IncIrqsOff,
            IncIrqsOff,
            Add(127),
            Add(188),
            Add(202),
            Inc,
            Add(109),
            Inc,
            Get,
            IncIrqsOff,
            Add(213),
            Get,
            Get,
            Get,
            Inc,
            IncIrqsOff,
            IncIrqsOff,
            Add(123),
            Get,
            IncIrqsOff,
            Get,
            IncIrqsOff,
            Add(0),
            Inc,
            Inc,
            Inc,
            Inc,
            Inc,
            Inc,
            Inc,
            Inc,
            Inc,
            Inc,
            Inc,
        ],
        faults: FaultSpec::Never,
        interrupts: vec![],
    };
    harness::registry::expect_pass_typed("counter", input);
}

/// Pins `mutants/toy/counter_lost_update` (`Counter::inc` as a separate load and store): found
/// by the schedule engine as `LINEARIZABILITY: non-linearizable history in
/// counter_sched::Get`, with IRQs on threads 1 and 3. On the correct counter the recorded
/// schedule no longer applies (no window between load and store), so the scenario is
/// re-checked under PCT and random schedules.
#[cfg(feature = "shuttle")]
#[test]
fn repro_counter_sched_83e328a9_typed() {
    use harness::target::{IrqKind, IrqSpec, Scenario};
    let input = (
        Scenario {
            init: vec![],
            threads: vec![
                vec![Inc, Get, Add(163)],
                vec![Get],
                vec![Add(4), Add(42), Add(225), Add(159)],
            ],
            post: vec![],
            irqs: vec![
                (
                    2,
                    IrqSpec {
                        at: 0,
                        kind: IrqKind::Irq,
                        op: Inc,
                    },
                ),
                (
                    0,
                    IrqSpec {
                        at: 0,
                        kind: IrqKind::Irq,
                        op: Inc,
                    },
                ),
            ],
            faults: vec![],
        },
        Vec::<u8>::from([1, 0, 1, 2, 1, 2, 0, 1, 1, 1, 1, 0, 0, 0, 1]),
    );
    harness::registry::expect_pass_typed("counter_sched", input);
}
