//! The sequential differential engine, the workhorse of fuzzing.
//!
//! Operations are applied one by one to the structure and to the model; results must agree,
//! and `validate()` and the target's invariants must hold after every step. Allocation
//! failures are injected per [`FaultSpec`](crate::target::FaultSpec). Interrupts are injected
//! at the structure's interrupt points per [`IrqSpec`](crate::target::IrqSpec): the nested
//! operation runs on the same thread inside the interrupted one, so the two may take effect
//! in either order. Such a step is checked with the linearizability checker, and the engine
//! carries every model state a valid order can lead to into the next step, pruning those
//! that later steps contradict.

use crate::input::SeqInput;
use crate::linearize::{self, Event, LinError};
use crate::report::{self, Failure, Row};
use crate::target::Target;
use algos::sync::cpu::{self, Interrupt, InterruptPlan, Site};
use algos::sync::fault;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Most model states carried between steps.
const MAX_CANDIDATES: usize = 32;

/// What a sequential run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ran {
    /// Operations applied to the structure, nested interrupt operations included.
    pub ops: u64,
    /// Nested interrupt operations among them.
    pub nested: u64,
    /// Steps whose interrupt history the linearizability search could not decide (the run
    /// stopped checking there).
    pub inconclusive: bool,
}

/// Runs `input` against `target` on the active backend (inside one model execution under
/// loom or shuttle).
pub fn run<T: Target + Clone>(target: &T, input: &SeqInput<T::Op>) -> Result<Ran, Failure> {
    let t = target.clone();
    let inp = input.clone();
    let ran = std::sync::Arc::new(std::sync::Mutex::new(Ran::default()));
    let r2 = ran.clone();
    super::run_once(move || {
        let r = run_here(&t, &inp)?;
        *r2.lock().unwrap_or_else(|e| e.into_inner()) = r;
        Ok(())
    })
    .map_err(|mut f| {
        f.target = target.name().to_string();
        if f.decoded.is_empty() {
            f.decoded = format!("{input:#?}");
        }
        f
    })?;
    let r = *ran.lock().unwrap_or_else(|e| e.into_inner());
    Ok(r)
}

type NestedLog<T> = Rc<RefCell<Vec<Nested<<T as Target>::Op, <T as Target>::Ret>>>>;

struct Nested<Op, Ret> {
    kind: Interrupt,
    event: Event<Op, Ret>,
}

/// Runs on the current thread without entering a model execution (the caller is already
/// inside one, or on std).
pub fn run_here<T: Target + Clone>(t: &T, input: &SeqInput<T::Op>) -> Result<Ran, Failure> {
    let sut = Rc::new(t.new_sut());
    let clock = Rc::new(Cell::new(0u64));
    let tick = {
        let c = clock.clone();
        move || {
            let v = c.get();
            c.set(v + 1);
            v
        }
    };
    let nested: NestedLog<T> = Rc::new(RefCell::new(Vec::new()));
    let pending: Rc<RefCell<Vec<T::Op>>> = Rc::new(RefCell::new(Vec::new()));
    let points = Rc::new(Cell::new(0u64));

    let prev_faults = fault::install((&input.faults).into());
    if !input.interrupts.is_empty() {
        let specs = input.interrupts.clone();
        let tt = t.clone();
        let pend = pending.clone();
        let pts = points.clone();
        let decide = Box::new(move |site: &Site| {
            let n = pts.get();
            pts.set(n + 1);
            let spec = specs.iter().find(|s| u64::from(s.at) == n)?;
            let kind: Interrupt = spec.kind.into();
            let ok = match kind {
                Interrupt::Irq => site.irq_deliverable,
                Interrupt::Nmi => site.nmi_deliverable,
            };
            if !ok || !tt.interrupt_op_allowed(&spec.op, kind) {
                return None;
            }
            pend.borrow_mut().push(spec.op.clone());
            Some(kind)
        });
        let tt = t.clone();
        let s2 = sut.clone();
        let nest = nested.clone();
        let tick2 = tick.clone();
        let pend = pending.clone();
        let handler = Rc::new(move |kind: Interrupt, _site: &Site| {
            let Some(op) = pend.borrow_mut().pop() else {
                return;
            };
            let call = tick2();
            let ret = tt.apply(&s2, &op);
            let ret_at = tick2();
            nest.borrow_mut().push(Nested {
                kind,
                event: Event {
                    thread: 1,
                    op,
                    ret,
                    call,
                    ret_at,
                },
            });
        });
        cpu::install(InterruptPlan { decide, handler });
    }
    struct Cleanup(algos::sync::fault::FaultPlan);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            cpu::uninstall();
            fault::install(std::mem::take(&mut self.0));
        }
    }
    let _cleanup = Cleanup(prev_faults);

    let mut candidates = vec![t.new_model()];
    let mut rows: Vec<Row> = Vec::new();
    let mut ran = Ran::default();
    for (i, op) in input.ops.iter().enumerate() {
        nested.borrow_mut().clear();
        let call = tick();
        // A panic of the code under test (an assertion, a sanitizer report, an RCU
        // use-after-free) becomes a failure that keeps the trace of the operations before it.
        let cap = report::Capture::start();
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.apply(&sut, op)));
        let ret = match applied {
            Ok(r) => r,
            Err(payload) => {
                let mut f = report::failure_from_panic(&cap, payload.as_ref());
                rows.push(Row {
                    column: "ops".into(),
                    text: format!("#{i} {op:?} -> panicked"),
                    call,
                    ret_at: tick(),
                    marked: true,
                });
                if f.function == "<unknown>" {
                    f.function = t.op_name(op);
                }
                f.table = Some(report::table(&rows));
                return Err(f);
            }
        };
        drop(cap);
        let ret_at = tick();
        ran.ops += 1;
        rows.push(Row {
            column: "ops".into(),
            text: format!("#{i} {op:?} -> {ret:?}"),
            call,
            ret_at,
            marked: false,
        });
        let inner: Vec<Nested<T::Op, T::Ret>> = std::mem::take(&mut *nested.borrow_mut());
        ran.ops += inner.len() as u64;
        ran.nested += inner.len() as u64;
        for n in &inner {
            rows.push(Row {
                column: format!("{:?}", n.kind).to_lowercase(),
                text: format!("{:?} -> {:?}", n.event.op, n.event.ret),
                call: n.event.call,
                ret_at: n.event.ret_at,
                marked: false,
            });
        }
        let fail = |checker: &str, kind: &str, details: String, rows: &mut Vec<Row>| {
            if let Some(r) = rows.iter_mut().rev().find(|r| r.column == "ops") {
                r.marked = true;
            }
            let mut f = Failure::new(checker, kind, t.op_name(op), details);
            f.table = Some(report::table(rows));
            f
        };
        let mut next: Vec<T::Model> = Vec::new();
        if inner.is_empty() {
            let mut expected = None;
            for mut m in candidates.drain(..) {
                let r = t.step(&mut m, op);
                if t.ret_eq(&ret, &r) {
                    if !next.contains(&m) {
                        next.push(m);
                    }
                } else if expected.is_none() {
                    expected = Some(r);
                }
            }
            if next.is_empty() {
                let details = format!(
                    "operation #{i} {op:?}\n  structure returned: {ret:?}\n  model expected:     {:?}",
                    expected.expect("at least one candidate")
                );
                return Err(fail("DIFF", "result mismatch", details, &mut rows));
            }
        } else {
            let mut events = vec![Event {
                thread: 0,
                op: op.clone(),
                ret: ret.clone(),
                call,
                ret_at,
            }];
            events.extend(inner.iter().map(|n| n.event.clone()));
            let mut why = None;
            for m in candidates.drain(..) {
                match linearize::check(
                    &m,
                    &events,
                    |m, o| t.step(m, o),
                    |a, b| t.ret_eq(a, b),
                    true,
                ) {
                    Ok(finals) => {
                        for f in finals {
                            if !next.contains(&f) {
                                next.push(f);
                            }
                        }
                    }
                    Err(LinError::NotLinearizable(e)) => why = why.or(Some(e)),
                    Err(LinError::Inconclusive(_)) => {
                        // No verdict for this step, so no sound model state to go on from.
                        ran.inconclusive = true;
                        return Ok(ran);
                    }
                }
            }
            if next.is_empty() {
                let e = why.expect("at least one candidate");
                let details = format!(
                    "operation #{i} {op:?} with {} nested interrupt operation(s): no order of \
                     them matches the model\n{}",
                    inner.len(),
                    e.stuck
                        .iter()
                        .map(|(_, s)| format!("  {s}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                return Err(fail(
                    "DIFF",
                    "result mismatch under interrupt",
                    details,
                    &mut rows,
                ));
            }
        }
        next.truncate(MAX_CANDIDATES);
        if let Err(e) = t.validate(&sut) {
            return Err(fail(
                "VALIDATE",
                "invalid structure",
                format!("after operation #{i} {op:?}:\n{e}"),
                &mut rows,
            ));
        }
        let mut first_err = None;
        next.retain(|m| match t.invariants(&sut, m) {
            Ok(()) => true,
            Err(e) => {
                first_err.get_or_insert(e);
                false
            }
        });
        if next.is_empty() {
            return Err(fail(
                "INVARIANT",
                "structure and model disagree",
                format!(
                    "after operation #{i} {op:?}:\n{}",
                    first_err.unwrap_or_default()
                ),
                &mut rows,
            ));
        }
        candidates = next;
    }
    Ok(ran)
}
