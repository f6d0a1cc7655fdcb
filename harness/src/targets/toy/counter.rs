//! Toy target: an atomic counter.
//!
//! Planted bugs: [`CounterBug::LostUpdate`] increments with a separate load and store (a
//! data race that loses updates: the schedule engine, loom, and the sequential engine with an
//! IRQ injected between the two all catch it); [`CounterBug::AddOffByOne`] adds one too many
//! for one operand (a sequential bug for the sequential engine and proptest).

use crate::target::Target;
use algos::sync::atomic::{AtomicU64, Ordering};
use algos::sync::cpu;
use arbitrary::Arbitrary;

/// Which bug, if any, the counter carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterBug {
    /// The correct counter.
    None,
    /// `Inc` is a load followed by a store.
    LostUpdate,
    /// `Add(0x7f)` adds 0x80.
    AddOffByOne,
}

/// An operation on the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Arbitrary)]
pub enum CounterOp {
    /// Add one.
    Inc,
    /// Add a value.
    Add(u8),
    /// Read the value.
    Get,
    /// Add one with interrupts disabled (`local_irq_save`): an IRQ cannot arrive inside it,
    /// an NMI can.
    IncIrqsOff,
}

/// The structure under test.
#[derive(Debug)]
pub struct Counter {
    value: AtomicU64,
    bug: CounterBug,
}

impl Counter {
    /// A zero counter with `bug` planted.
    pub fn new(bug: CounterBug) -> Self {
        Counter {
            value: AtomicU64::new(0),
            bug,
        }
    }

    /// Adds one with interrupts disabled around an interrupt point.
    pub fn inc_irqs_off(&self) {
        let _irqs = cpu::irq_save();
        cpu::interrupt_point("counter_inc_irqs_off");
        self.value.fetch_add(1, Ordering::AcqRel);
    }

    /// Adds one.
    pub fn inc(&self) {
        match self.bug {
            CounterBug::LostUpdate => {
                let v = self.value.load(Ordering::Acquire);
                cpu::interrupt_point("counter_inc");
                self.value.store(v + 1, Ordering::Release);
            }
            _ => {
                cpu::interrupt_point("counter_inc");
                self.value.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    /// Adds `n`.
    pub fn add(&self, n: u8) {
        let n = if self.bug == CounterBug::AddOffByOne && n == 0x7f {
            0x80
        } else {
            u64::from(n)
        };
        self.value.fetch_add(n, Ordering::AcqRel);
    }

    /// The value.
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Acquire)
    }
}

/// The counter target.
#[derive(Debug, Clone)]
pub struct CounterTarget {
    name: &'static str,
    bug: CounterBug,
}

impl CounterTarget {
    /// A target named `name` running the counter with `bug`.
    pub fn new(name: &'static str, bug: CounterBug) -> Self {
        CounterTarget { name, bug }
    }
}

impl Target for CounterTarget {
    type Op = CounterOp;
    type Ret = Option<u64>;
    type Model = u64;
    type Sut = Counter;

    fn name(&self) -> &'static str {
        self.name
    }
    fn new_sut(&self) -> Counter {
        Counter::new(self.bug)
    }
    fn new_model(&self) -> u64 {
        0
    }
    fn apply(&self, sut: &Counter, op: &CounterOp) -> Option<u64> {
        match op {
            CounterOp::Inc => {
                sut.inc();
                None
            }
            CounterOp::Add(n) => {
                sut.add(*n);
                None
            }
            CounterOp::Get => Some(sut.get()),
            CounterOp::IncIrqsOff => {
                sut.inc_irqs_off();
                None
            }
        }
    }
    fn step(&self, m: &mut u64, op: &CounterOp) -> Option<u64> {
        match op {
            CounterOp::Inc => {
                *m += 1;
                None
            }
            CounterOp::Add(n) => {
                *m += u64::from(*n);
                None
            }
            CounterOp::Get => Some(*m),
            CounterOp::IncIrqsOff => {
                *m += 1;
                None
            }
        }
    }
    fn invariants(&self, sut: &Counter, m: &u64) -> Result<(), String> {
        let v = sut.get();
        if v == *m {
            Ok(())
        } else {
            Err(format!("counter holds {v}, the model {m}"))
        }
    }
}
