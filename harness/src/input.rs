//! The engines' inputs and how fuzz bytes frame them: [`SeqInput`] (the sequential engine:
//! operations, interrupts, allocation failures), [`Scenario`] (the schedule and loom engines:
//! init, threads, post, per-thread interrupts and faults), the schedule targets' framing
//! ([`split_input`], [`join_input`]), [`decode`], and the typed renderings regression tests
//! are written in ([`typed_seq`], [`typed_scenario`]).

use algos::sync::cpu::Interrupt;
use arbitrary::{Arbitrary, Unstructured};
use std::fmt::Debug;

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
/// threads run their operations concurrently, then operations run alone again. Each thread
/// may carry its own interrupt plan and allocation-failure plan, as sequential inputs do, so
/// "an NMI on CPU 0 racing a remote free from CPU 1" is one scenario.
#[derive(Debug, Clone)]
pub struct Scenario<Op> {
    /// Run before the threads start.
    pub init: Vec<Op>,
    /// One list of operations per thread (thread `i` is bound to logical CPU `i`).
    pub threads: Vec<Vec<Op>>,
    /// Run after every thread has finished.
    pub post: Vec<Op>,
    /// Interrupts delivered on a thread's CPU: `(thread index, spec)`, with `spec.at`
    /// counting that thread's interrupt points.
    pub irqs: Vec<(usize, IrqSpec<Op>)>,
    /// Allocation failures on one thread: `(thread index, plan)`; other threads never fail.
    pub faults: Vec<(usize, FaultSpec)>,
}

impl<Op> Scenario<Op> {
    /// A scenario without interrupts or allocation failures.
    pub fn new(init: Vec<Op>, threads: Vec<Vec<Op>>, post: Vec<Op>) -> Self {
        Scenario {
            init,
            threads,
            post,
            irqs: Vec::new(),
            faults: Vec::new(),
        }
    }
}

/// Bounds of generated scenarios: longer ones explode the schedule space without finding
/// more bugs (the small-scope hypothesis Lincheck relies on too).
pub const MAX_INIT: usize = 6;
/// Most operations per thread.
pub const MAX_PER_THREAD: usize = 5;
/// Most post operations.
pub const MAX_POST: usize = 3;
/// Most interrupts in one scenario.
pub const MAX_SCENARIO_IRQS: usize = 4;
/// Most threads with an allocation-failure plan in one scenario.
pub const MAX_SCENARIO_FAULTS: usize = 2;

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
        // Interrupts and faults come last, so bytes that ran out before them (and every
        // scenario recorded before they existed) decode to none.
        let k = u.int_in_range(0..=MAX_SCENARIO_IRQS)?;
        let mut irqs = Vec::with_capacity(k);
        for _ in 0..k {
            let t = usize::from(u8::arbitrary(u)?) % nthreads;
            irqs.push((t, IrqSpec::arbitrary(u)?));
        }
        let k = u.int_in_range(0..=MAX_SCENARIO_FAULTS)?;
        let mut faults = Vec::with_capacity(k);
        for _ in 0..k {
            let t = usize::from(u8::arbitrary(u)?) % nthreads;
            faults.push((t, FaultSpec::arbitrary(u)?));
        }
        Ok(Scenario {
            init,
            threads,
            post,
            irqs,
            faults,
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

/// Rust source that builds `input` (for typed regression tests, which survive changes to the
/// byte decoder): operations by their `Debug` form, read with the operation enum's variants
/// in scope (see [`typed_imports`]).
pub fn typed_seq<Op: Debug>(input: &SeqInput<Op>) -> String {
    let ops: Vec<String> = input.ops.iter().map(|o| format!("{o:?}")).collect();
    let irqs: Vec<String> = input.interrupts.iter().map(typed_irq).collect();
    format!(
        "SeqInput {{\n        ops: vec![{}],\n        faults: {},\n        interrupts: vec![{}],\n    }}",
        ops.join(", "),
        typed_fault(&input.faults),
        irqs.join(", ")
    )
}

/// Rust source that builds `sc` (see [`typed_seq`]).
pub fn typed_scenario<Op: Debug>(sc: &Scenario<Op>) -> String {
    let list = |v: &[Op]| {
        let items: Vec<String> = v.iter().map(|o| format!("{o:?}")).collect();
        format!("vec![{}]", items.join(", "))
    };
    let threads: Vec<String> = sc.threads.iter().map(|t| list(t)).collect();
    let irqs: Vec<String> = sc
        .irqs
        .iter()
        .map(|(t, s)| format!("({t}, {})", typed_irq(s)))
        .collect();
    let faults: Vec<String> = sc
        .faults
        .iter()
        .map(|(t, f)| format!("({t}, {})", typed_fault(f)))
        .collect();
    format!(
        "Scenario {{\n        init: {},\n        threads: vec![{}],\n        post: {},\n        irqs: vec![{}],\n        faults: vec![{}],\n    }}",
        list(&sc.init),
        threads.join(", "),
        list(&sc.post),
        irqs.join(", "),
        faults.join(", ")
    )
}

/// Rust source that builds a schedule target's typed input: the `(scenario, schedule
/// bytes)` pair [`crate::registry::expect_pass_typed`] takes.
pub fn typed_schedule_input<Op: Debug>(sc: &Scenario<Op>, schedule: &[u8]) -> String {
    format!(
        "(\n        {},\n        Vec::<u8>::from({:?}),\n    )",
        typed_scenario(sc),
        schedule
    )
}

fn typed_irq<Op: Debug>(s: &IrqSpec<Op>) -> String {
    format!(
        "IrqSpec {{ at: {}, kind: IrqKind::{:?}, op: {:?} }}",
        s.at, s.kind, s.op
    )
}

fn typed_fault(f: &FaultSpec) -> String {
    match f {
        FaultSpec::Never => "FaultSpec::Never".into(),
        FaultSpec::Nth(n) => format!("FaultSpec::Nth({n})"),
        FaultSpec::Pattern(p) => format!("FaultSpec::Pattern(vec!{p:?})"),
    }
}

/// The `use` lines a typed regression test needs: the harness's input types, and the
/// operation enum's module and variants (from its type name).
pub fn typed_imports<Op>() -> String {
    let op = std::any::type_name::<Op>();
    let module = op.rsplit_once("::").map_or(op, |(m, _)| m);
    format!(
        "    #[allow(unused_imports)]\n    use harness::target::{{FaultSpec, IrqKind, IrqSpec, Scenario, SeqInput}};\n    #[allow(unused_imports)]\n    use {module}::*;\n    use {op}::*;\n"
    )
}
