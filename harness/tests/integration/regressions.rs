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

/// rt_sched let the most important lock holder close a cycle with the minimal walk; a failed proxy start's deboost walk requeued the owner's waiter at the boosted priority first, the closing walk stopped at step [4] before its cycle check, and both tasks slept for ever (the kernel's walk does the same: rt_sched now uses full detection for every lock holder)
#[cfg(feature = "shuttle")]
#[test]
fn regress_rt_sched_min_walk_overtaken() {
    #[allow(unused_imports)]
    use harness::target::{FaultSpec, IrqKind, IrqSpec, Scenario, SeqInput};
    use harness::targets::rt::sched::RtSchedOp::*;
    #[allow(unused_imports)]
    use harness::targets::rt::sched::*;
    let input = (
        Scenario {
            init: vec![
                TryLock(101),
                Unlock(62),
                Signal(62),
                Unlock(118),
                Lock(1),
                ProxyWait(70),
            ],
            threads: vec![
                vec![
                    ProxyRequeue(83),
                    TryLock(186),
                    ProxyWait(227),
                    LockInterruptible(73),
                ],
                vec![
                    LockInterruptible(118),
                    Signal(236),
                    Lock(0),
                    Spin(242),
                    Lock(70),
                ],
                vec![
                    TryLock(240),
                    SetPrio { task: 94, prio: 26 },
                    ProxyWait(227),
                    LockInterruptible(73),
                    Unlock(212),
                ],
                vec![
                    SetPrio {
                        task: 177,
                        prio: 215,
                    },
                    Lock(0),
                    Lock(99),
                    ProxyWait(129),
                    SetPrio {
                        task: 161,
                        prio: 47,
                    },
                ],
            ],
            post: vec![LockChecked(152)],
            irqs: vec![],
            faults: vec![(2, FaultSpec::Pattern(vec![]))],
        },
        Vec::<u8>::from([
            38, 48, 152, 150, 187, 130, 88, 138, 68, 207, 86, 118, 200, 203, 220, 120, 165, 244,
            143, 60, 123, 161, 38, 255, 255, 255, 255, 0, 0, 225, 242, 146, 161, 177, 215, 21, 70,
            119, 218, 82, 62, 73, 174, 58, 116, 118, 212, 46, 105, 225, 242, 161, 47, 221, 69, 3,
            38, 48, 152, 150, 187, 130, 88, 138, 68, 207, 86, 118, 200, 203, 220, 120, 38, 255,
            255, 255, 255, 255, 212, 14, 107, 0, 0, 0, 0, 225, 242, 146, 120, 165, 244, 143,
        ]),
    );
    harness::registry::expect_pass_typed("rt_sched", input);
}
