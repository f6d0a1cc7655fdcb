//! The `Target` abstraction: what is checked, written once and run by every engine.

use algos::sync::cpu::Interrupt;
use arbitrary::{Arbitrary, Unstructured};
use std::fmt::Debug;
use std::hash::Hash;

/// A checked structure: its operations, its sequential model, how an operation is applied to
/// each, and the invariants that must hold after every step.
///
/// A target value carries its configuration (for the toy targets, which planted bug to run),
/// so one type can back several registry entries.
pub trait Target: Send + Sync + 'static {
    /// One operation. Fuzz bytes decode into it through `Arbitrary`; every engine (libFuzzer,
    /// proptest, the random engines) generates operations that way and no other.
    type Op: for<'a> Arbitrary<'a> + Debug + Clone + Send + Sync + 'static;
    /// The result of an operation, compared between structure and model.
    type Ret: Debug + Clone + PartialEq + Send + Sync + 'static;
    /// The sequential reference model. `Hash + Eq` so the linearizability checker can cache
    /// the states it has explored.
    type Model: Debug + Clone + Eq + Hash + Send + 'static;
    /// The real structure, shared by every thread of a scenario.
    type Sut: Send + Sync + 'static;

    /// The registry name (also the fuzz target's and corpus directory's name).
    fn name(&self) -> &'static str;
    /// A fresh structure.
    fn new_sut(&self) -> Self::Sut;
    /// A fresh model, equal in content to [`Target::new_sut`].
    fn new_model(&self) -> Self::Model;
    /// Applies `op` to the structure.
    fn apply(&self, sut: &Self::Sut, op: &Self::Op) -> Self::Ret;
    /// Applies `op` to the model and returns what the structure must return.
    fn step(&self, model: &mut Self::Model, op: &Self::Op) -> Self::Ret;

    /// Invariants relating structure and model, checked after every sequential step (e.g.
    /// the whole content is equal). `Err` describes the violation.
    fn invariants(&self, _sut: &Self::Sut, _model: &Self::Model) -> Result<(), String> {
        Ok(())
    }
    /// Structural invariants of the structure alone (its `validate()`), checked after every
    /// sequential step and at the end of every concurrent scenario.
    fn validate(&self, _sut: &Self::Sut) -> Result<(), String> {
        Ok(())
    }
    /// A cheaper stand-in for [`Target::validate`] and [`Target::invariants`] after the
    /// sequential step `op`, for targets whose full checks cost time proportional to the
    /// structure's size: it checks what the step can have changed (e.g. the model's touched
    /// range). `Some(r)`: this step is checked by `r` alone (`Err` describes a violation);
    /// the sequential engine still runs the full checks every
    /// [`FULL_CHECK_EVERY`](crate::engine::sequential::FULL_CHECK_EVERY) steps and after the
    /// last one, and replays a failing input with the full checks after every step to name
    /// the first operation after which the failure is detectable. `None` (the default): the
    /// full checks run after this step.
    fn quick_check(
        &self,
        _sut: &Self::Sut,
        _model: &Self::Model,
        _op: &Self::Op,
    ) -> Option<Result<(), String>> {
        None
    }
    /// A partition key for the linearizability checker: operations with different keys
    /// commute and touch disjoint parts of the model. `None` (the default) disables
    /// partitioning for a history containing the operation.
    fn partition(&self, _op: &Self::Op) -> Option<u64> {
        None
    }
    /// Whether `op` may run as the nested operation of an interrupt of `kind`.
    fn interrupt_op_allowed(&self, _op: &Self::Op, _kind: Interrupt) -> bool {
        true
    }
    /// Compares a real result with the model's (equality by default).
    fn ret_eq(&self, real: &Self::Ret, model: &Self::Ret) -> bool {
        real == model
    }
    /// A short name of an operation, used in titles. Default: the first word of its `Debug`.
    fn op_name(&self, op: &Self::Op) -> String {
        let d = format!("{op:?}");
        let end = d
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(d.len());
        format!("{}::{}", self.name(), &d[..end])
    }
}

/// Which interrupt an [`IrqSpec`] delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum IrqKind {
    /// A maskable interrupt.
    Irq,
    /// A non-maskable interrupt.
    Nmi,
}

impl From<IrqKind> for Interrupt {
    fn from(k: IrqKind) -> Self {
        match k {
            IrqKind::Irq => Interrupt::Irq,
            IrqKind::Nmi => Interrupt::Nmi,
        }
    }
}

/// An interrupt to deliver: at the `at`-th interrupt point reached (0-based, counted over the
/// whole run), run `op` nested as an interrupt of `kind`.
#[derive(Debug, Clone, Arbitrary)]
pub struct IrqSpec<Op> {
    /// Which interrupt point, counted from the start of the run (a byte, so that random and
    /// mutated inputs land on points that are reached).
    pub at: u8,
    /// IRQ or NMI.
    pub kind: IrqKind,
    /// The nested operation.
    pub op: Op,
}

/// When allocations fail during a sequential run.
#[derive(Debug, Clone, Arbitrary, Default)]
pub enum FaultSpec {
    /// Never.
    #[default]
    Never,
    /// The N-th allocation (1-based).
    Nth(u16),
    /// Bit `i` set: allocation `i` fails.
    Pattern(Vec<u8>),
}

impl From<&FaultSpec> for algos::sync::fault::FaultPlan {
    fn from(f: &FaultSpec) -> Self {
        use algos::sync::fault::FaultPlan;
        match f {
            FaultSpec::Never => FaultPlan::Never,
            FaultSpec::Nth(n) => FaultPlan::Nth(u64::from(*n)),
            FaultSpec::Pattern(p) => FaultPlan::Pattern(p.clone()),
        }
    }
}

/// The input of the sequential engine: operations, the interrupts injected among them, and
/// the allocation failures.
///
/// Decoding reads an operation count first (at most [`MAX_SEQ_OPS`], and no more than the
/// bytes left), so random bytes give long sequences; a derived `Vec` decoding would flip a
/// coin before each element and give one or two operations on average.
#[derive(Debug, Clone)]
pub struct SeqInput<Op> {
    /// Operations, applied in order.
    pub ops: Vec<Op>,
    /// Allocation failures.
    pub faults: FaultSpec,
    /// Interrupts, by interrupt-point number.
    pub interrupts: Vec<IrqSpec<Op>>,
}

/// Most operations in one sequential input.
pub const MAX_SEQ_OPS: usize = 64;
/// Most interrupts in one sequential input.
pub const MAX_IRQS: usize = 8;

impl<'a, Op: Arbitrary<'a>> Arbitrary<'a> for SeqInput<Op> {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = u.int_in_range(0..=MAX_SEQ_OPS)?.min(u.len());
        let ops = (0..n)
            .map(|_| Op::arbitrary(u))
            .collect::<arbitrary::Result<_>>()?;
        let faults = FaultSpec::arbitrary(u)?;
        let k = u.int_in_range(0..=MAX_IRQS)?.min(u.len());
        let interrupts = (0..k)
            .map(|_| IrqSpec::arbitrary(u))
            .collect::<arbitrary::Result<_>>()?;
        Ok(SeqInput {
            ops,
            faults,
            interrupts,
        })
    }
}

impl<Op> SeqInput<Op> {
    /// Input with these operations and nothing injected.
    pub fn ops(ops: Vec<Op>) -> Self {
        SeqInput {
            ops,
            faults: FaultSpec::Never,
            interrupts: Vec::new(),
        }
    }
}

/// A concurrent scenario in the Lincheck shape: operations run alone first, then 2–4
/// threads run their operations concurrently, then operations run alone again.
#[derive(Debug, Clone)]
pub struct Scenario<Op> {
    /// Run before the threads start.
    pub init: Vec<Op>,
    /// One list of operations per thread (thread `i` is bound to logical CPU `i`).
    pub threads: Vec<Vec<Op>>,
    /// Run after every thread has finished.
    pub post: Vec<Op>,
}

/// Bounds of generated scenarios: longer ones explode the schedule space without finding
/// more bugs (the small-scope hypothesis Lincheck relies on too).
pub const MAX_INIT: usize = 6;
/// Most operations per thread.
pub const MAX_PER_THREAD: usize = 5;
/// Most post operations.
pub const MAX_POST: usize = 3;

fn bounded<'a, Op: Arbitrary<'a>>(
    u: &mut Unstructured<'a>,
    max: usize,
) -> arbitrary::Result<Vec<Op>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| Op::arbitrary(u)).collect()
}

impl<'a, Op: Arbitrary<'a>> Arbitrary<'a> for Scenario<Op> {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let init = bounded(u, MAX_INIT)?;
        let nthreads = u.int_in_range(2..=4)?;
        let mut threads = Vec::with_capacity(nthreads);
        for _ in 0..nthreads {
            let n = u.int_in_range(1..=MAX_PER_THREAD)?;
            threads.push(
                (0..n)
                    .map(|_| Op::arbitrary(u))
                    .collect::<arbitrary::Result<_>>()?,
            );
        }
        let post = bounded(u, MAX_POST)?;
        Ok(Scenario {
            init,
            threads,
            post,
        })
    }
}

/// Decodes a value from fuzz bytes the way every engine does.
pub fn decode<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Result<T, String> {
    T::arbitrary_take_rest(Unstructured::new(data)).map_err(|e| format!("cannot decode input: {e}"))
}

/// Splits a schedule target's fuzz input (`[n_lo, n_hi] ++ scenario bytes (n) ++ schedule
/// bytes`) into scenario bytes and schedule bytes.
pub fn split_input(data: &[u8]) -> Result<(&[u8], &[u8]), String> {
    if data.len() < 2 {
        return Err(format!(
            "schedule input of {} byte(s) is shorter than its 2-byte header",
            data.len()
        ));
    }
    let n = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let rest = &data[2..];
    if n > rest.len() {
        return Err(format!(
            "schedule input header says {n} scenario bytes but only {} follow",
            rest.len()
        ));
    }
    Ok(rest.split_at(n))
}

/// Builds a schedule target's fuzz input from its parts.
pub fn join_input(scenario: &[u8], schedule: &[u8]) -> Vec<u8> {
    let n = u16::try_from(scenario.len()).expect("scenario bytes fit the 2-byte header");
    let mut v = n.to_le_bytes().to_vec();
    v.extend_from_slice(scenario);
    v.extend_from_slice(schedule);
    v
}
