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
//!
//! A target whose full checks cost time proportional to the structure's size may offer a
//! cheaper check of what one step can have changed ([`Target::quick_check`]); the engine then
//! runs the full checks only every [`FULL_CHECK_EVERY`] steps, after steps with interrupts,
//! and after the last step, and when a run fails after quick-checked steps it replays the
//! input with the full checks after every step, so that the failure names the first
//! operation after which it is detectable. The failure table is formatted only when a run
//! fails.

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

/// Most consecutive steps checked only by [`Target::quick_check`] before the full checks run.
pub const FULL_CHECK_EVERY: usize = 16;

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

/// A row of the failure table, kept unformatted until a run fails.
enum Logged<'a, T: Target> {
    /// Operation `i` and its result (`None`: it panicked).
    Op(usize, &'a T::Op, Option<T::Ret>, u64, u64),
    /// A nested interrupt operation.
    Nested(Nested<T::Op, T::Ret>),
}

/// The failure table's rows; the last operation is marked.
fn rows<T: Target>(log: &[Logged<'_, T>]) -> Vec<Row> {
    let last = log.iter().rposition(|l| matches!(l, Logged::Op(..)));
    let row = |(k, l): (usize, &Logged<'_, T>)| match l {
        Logged::Op(i, op, ret, call, ret_at) => Row {
            column: "ops".into(),
            text: match ret {
                Some(ret) => format!("#{i} {op:?} -> {ret:?}"),
                None => format!("#{i} {op:?} -> panicked"),
            },
            call: *call,
            ret_at: *ret_at,
            marked: Some(k) == last,
        },
        Logged::Nested(n) => Row {
            column: format!("{:?}", n.kind).to_lowercase(),
            text: format!("{:?} -> {:?}", n.event.op, n.event.ret),
            call: n.event.call,
            ret_at: n.event.ret_at,
            marked: false,
        },
    };
    log.iter().enumerate().map(row).collect()
}

/// The target's dump of the structure, as a report section (empty if it has none).
fn state<T: Target>(t: &T, sut: &T::Sut) -> String {
    let d = t.dump(sut);
    if d.is_empty() {
        d
    } else {
        format!("\nstate:\n{}", d.trim_end())
    }
}

/// Runs on the current thread without entering a model execution (the caller is already
/// inside one, or on std).
pub fn run_here<T: Target + Clone>(t: &T, input: &SeqInput<T::Op>) -> Result<Ran, Failure> {
    let mut quick = 0;
    let r = run_checked(t, input, false, &mut quick);
    if r.is_err() && quick > 0 {
        // Steps before the failure had only quick checks: with the full checks after every
        // step, the failure may show after an earlier operation.
        run_checked(t, input, true, &mut 0)?;
    }
    r
}

/// [`run_here`] with the full checks after every step (`full`), or quick checks where the
/// target has them; `quick` counts the steps since the last full check that had only
/// quick checks.
fn run_checked<'a, T: Target + Clone>(
    t: &T,
    input: &'a SeqInput<T::Op>,
    full: bool,
    quick: &mut usize,
) -> Result<Ran, Failure> {
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
    let mut log: Vec<Logged<'a, T>> = Vec::new();
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
                log.push(Logged::Op(i, op, None, call, tick()));
                if f.function == "<unknown>" {
                    f.function = t.op_name(op);
                }
                f.table = Some(report::table(&rows(&log)));
                return Err(f);
            }
        };
        drop(cap);
        let ret_at = tick();
        ran.ops += 1;
        let inner: Vec<Nested<T::Op, T::Ret>> = std::mem::take(&mut *nested.borrow_mut());
        ran.ops += inner.len() as u64;
        ran.nested += inner.len() as u64;
        let fail = |checker: &str, kind: &str, details: String, log: &mut Vec<Logged<'a, T>>| {
            log.push(Logged::Op(i, op, Some(ret.clone()), call, ret_at));
            log.extend(inner.iter().map(|n| {
                Logged::Nested(Nested {
                    kind: n.kind,
                    event: n.event.clone(),
                })
            }));
            let mut f = Failure::new(checker, kind, t.op_name(op), details);
            f.table = Some(report::table(&rows(&log[..])));
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
                return Err(fail("DIFF", "result mismatch", details, &mut log));
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
                    |model, real| t.ret_eq(real, model),
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
                    &mut log,
                ));
            }
        }
        next.truncate(MAX_CANDIDATES);
        // Quick checks where the target has them, unless a full check is due.
        let mut full_now =
            full || !inner.is_empty() || i + 1 == input.ops.len() || *quick + 1 >= FULL_CHECK_EVERY;
        let mut first_err = None;
        next.retain(
            |m| match (!full_now).then(|| t.quick_check(&sut, m, op)).flatten() {
                None => {
                    full_now = true;
                    true
                }
                Some(Ok(())) => true,
                Some(Err(e)) => {
                    first_err.get_or_insert(e);
                    false
                }
            },
        );
        if full_now && !next.is_empty() {
            if let Err(e) = t.validate(&sut) {
                return Err(fail(
                    "VALIDATE",
                    "invalid structure",
                    format!("after operation #{i} {op:?}:\n{e}{}", state(t, &sut)),
                    &mut log,
                ));
            }
            next.retain(|m| match t.invariants(&sut, m) {
                Ok(()) => true,
                Err(e) => {
                    first_err.get_or_insert(e);
                    false
                }
            });
            if !next.is_empty() {
                *quick = 0;
            }
        } else if !next.is_empty() {
            *quick += 1;
        }
        if next.is_empty() {
            return Err(fail(
                "INVARIANT",
                "structure and model disagree",
                format!(
                    "after operation #{i} {op:?}:\n{}{}",
                    first_err.unwrap_or_default(),
                    state(t, &sut)
                ),
                &mut log,
            ));
        }
        candidates = next;
        log.push(Logged::Op(i, op, Some(ret), call, ret_at));
        log.extend(inner.into_iter().map(Logged::Nested));
    }
    Ok(ran)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A list that silently corrupts its first element when 7 is pushed; its quick check
    /// looks only at the last element, so only a full check sees the corruption.
    #[derive(Clone)]
    struct Corrupting;

    impl Target for Corrupting {
        type Op = u8;
        type Ret = ();
        type Model = Vec<u8>;
        type Sut = Mutex<Vec<u8>>;
        fn name(&self) -> &'static str {
            "corrupting"
        }
        fn new_sut(&self) -> Self::Sut {
            Mutex::new(Vec::new())
        }
        fn new_model(&self) -> Self::Model {
            Vec::new()
        }
        fn apply(&self, sut: &Self::Sut, op: &u8) {
            let mut v = sut.lock().unwrap();
            v.push(*op);
            if *op == 7 {
                v[0] = v[0].wrapping_add(1);
            }
        }
        fn step(&self, m: &mut Vec<u8>, op: &u8) {
            m.push(*op);
        }
        fn invariants(&self, sut: &Self::Sut, m: &Vec<u8>) -> Result<(), String> {
            let v = sut.lock().unwrap();
            (*v == *m)
                .then_some(())
                .ok_or_else(|| format!("{v:?} != {m:?}"))
        }
        fn quick_check(&self, sut: &Self::Sut, m: &Vec<u8>, _: &u8) -> Option<Result<(), String>> {
            let ok = sut.lock().unwrap().last() == m.last();
            Some(ok.then_some(()).ok_or_else(|| "last differs".into()))
        }
    }

    #[test]
    fn a_late_full_check_failure_names_the_first_operation_after_which_it_shows() {
        let f = run(&Corrupting, &SeqInput::ops(vec![1, 2, 7, 3, 4])).unwrap_err();
        assert_eq!(f.checker, "INVARIANT");
        assert!(
            f.details.starts_with("after operation #2 7:"),
            "{}",
            f.details
        );
        let table = f.table.expect("a table");
        assert!(table.contains("!["), "{table}");
        assert!(
            table.contains("#2 7 -> ()") && !table.contains("#3 3"),
            "{table}"
        );
    }

    #[test]
    // Calls the engine outside a model execution.
    #[cfg(not(any(feature = "shuttle", mmcheck_loom)))]
    fn full_checks_run_at_least_every_full_check_every_steps() {
        let mut ops = vec![5, 7];
        ops.extend(std::iter::repeat_n(1, 2 * FULL_CHECK_EVERY));
        let mut quick = 0;
        let f = run_checked(&Corrupting, &SeqInput::ops(ops), false, &mut quick).unwrap_err();
        assert!(
            f.details
                .starts_with(&format!("after operation #{} ", FULL_CHECK_EVERY - 1)),
            "{}",
            f.details
        );
        assert_eq!(quick, FULL_CHECK_EVERY - 1);
    }
}
