//! Runs one concurrent [`Scenario`] on the active backend and checks its history.
//!
//! This is the body every concurrent engine shares: on std it is a stress run on real
//! threads; inside a shuttle execution it is one schedule; inside `loom::model` it is one of
//! loom's exhaustively enumerated executions. Threads are spawned through `algos::sync`, so
//! the backend decides the interleaving; thread `i` is bound to logical CPU `i`.
//!
//! Each thread installs its own interrupt plan and allocation-failure plan from the
//! scenario (an NMI on CPU 0 racing a remote free from CPU 1), and the target's concurrent
//! invariants ([`Target::check_concurrent`]) are checked after every operation and at every
//! interrupt point. After the threads join, the post operations run, outstanding RCU
//! callbacks are flushed, `validate()` must pass, and the recorded history (nested interrupt
//! operations included) must be linearizable with respect to the target's model.

use crate::input::{IrqSpec, Scenario};
use crate::linearize::{self, Event, LinError};
use crate::report::{self, Failure, Row};
use crate::target::Target;
use algos::sync::{cpu, fault, rcu, thread, Arc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

type Log<Op, Ret> = std::sync::Arc<Mutex<Vec<Event<Op, Ret>>>>;

std::thread_local! {
    /// The operation each column is in (init `0`, threads, post `n + 1`), for the schedule
    /// engine's rendering of an interleaving. Shuttle runs every task of an execution, and
    /// its scheduler, on the OS thread that started it, so this is per execution.
    static PROGRESS: std::cell::RefCell<Vec<Option<usize>>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn set_progress(column: usize, op: Option<usize>) {
    PROGRESS.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() <= column {
            p.resize(column + 1, None);
        }
        p[column] = op;
    });
}

/// Forgets the progress of the previous execution.
pub fn progress_reset() {
    PROGRESS.with(|p| p.borrow_mut().clear());
}

/// The (column, operation index) a task is in: task `i >= 1` is column `i`; the main task
/// runs init (column 0) and post (the last column).
pub fn in_progress(task: usize) -> Option<(usize, usize)> {
    PROGRESS.with(|p| {
        let p = p.borrow();
        if task == 0 {
            let last = p.len().checked_sub(1)?;
            return p[0..=last]
                .iter()
                .enumerate()
                .filter(|(c, _)| *c == 0 || *c == last && last > 0)
                .find_map(|(c, o)| o.map(|i| (c, i)));
        }
        p.get(task).copied().flatten().map(|i| (task, i))
    })
}

#[allow(clippy::too_many_arguments)]
fn record<T: Target>(
    t: &T,
    sut: &T::Sut,
    clock: &AtomicU64,
    log: &Log<T::Op, T::Ret>,
    thread: usize,
    index: usize,
    op: &T::Op,
) {
    set_progress(thread, Some(index));
    let call = clock.fetch_add(1, Ordering::SeqCst);
    let ret = t.apply(sut, op);
    set_progress(thread, None);
    concurrent_check(t, sut, || (t.op_name(op), format!("after {op:?}")));
    let ret_at = clock.fetch_add(1, Ordering::SeqCst);
    log.lock().unwrap_or_else(|e| e.into_inner()).push(Event {
        thread,
        op: op.clone(),
        ret,
        call,
        ret_at,
    });
}

/// Column names: 0 is `init`, `n + 1` is `post`, `1..=n` are threads, and `n + 1 + i` the
/// nested interrupt operations of thread `i`.
fn column(thread: usize, nthreads: usize) -> String {
    if thread == 0 {
        "init".into()
    } else if thread == nthreads + 1 {
        "post".into()
    } else if thread > nthreads + 1 {
        format!("thread {} (irq)", thread - nthreads - 1)
    } else {
        format!("thread {thread}")
    }
}

/// Runs the target's [`Target::check_concurrent`]; a violation panics with a titled report
/// (`BUG: INVARIANT: concurrent invariant broken in <where>`), so it fails the execution at
/// the scheduling point where it was seen. `at` gives the title's `<where>` (an operation's
/// name or an interrupt point's, never argument values: the title is the dedup key of the
/// crash store, and one bug found with other arguments is the same bug) and a detail line
/// for the report (the operation with its arguments).
fn concurrent_check<T: Target>(t: &T, sut: &T::Sut, at: impl FnOnce() -> (String, String)) {
    if let Err(e) = t.check_concurrent(sut) {
        let (at, detail) = at();
        let detail = if detail.is_empty() {
            detail
        } else {
            detail + "\n"
        };
        let dump = t.dump(sut);
        panic!(
            "BUG: INVARIANT: concurrent invariant broken in {at}\n{detail}{e}{}",
            if dump.is_empty() {
                String::new()
            } else {
                format!("\nstate:\n{dump}")
            }
        );
    }
}

/// Installs thread `i`'s interrupt plan (its specs of `sc.irqs`, `at` counted over this
/// thread's interrupt points) and checks the concurrent invariants at every interrupt point
/// it reaches. The nested operations are recorded in the history in column `nested_column`.
fn install_thread_plan<T: Target + Clone>(
    t: &T,
    sut: &Arc<T::Sut>,
    clock: &std::sync::Arc<AtomicU64>,
    log: &Log<T::Op, T::Ret>,
    nested_column: usize,
    specs: Vec<IrqSpec<T::Op>>,
) {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    let pending: Rc<RefCell<Vec<T::Op>>> = Rc::new(RefCell::new(Vec::new()));
    let points = Rc::new(Cell::new(0u64));
    let (t1, s1, p1) = (t.clone(), sut.clone(), pending.clone());
    let decide = Box::new(move |site: &cpu::Site| {
        concurrent_check(&t1, &s1, || (site.name.to_string(), String::new()));
        let n = points.get();
        points.set(n + 1);
        let spec = specs.iter().find(|s| u64::from(s.at) == n)?;
        let kind: cpu::Interrupt = spec.kind.into();
        let ok = match kind {
            cpu::Interrupt::Irq => site.irq_deliverable,
            cpu::Interrupt::Nmi => site.nmi_deliverable,
        };
        if !ok || !t1.interrupt_op_allowed(&spec.op, kind) {
            return None;
        }
        p1.borrow_mut().push(spec.op.clone());
        Some(kind)
    });
    let (t2, s2, c2, l2) = (t.clone(), sut.clone(), clock.clone(), log.clone());
    let handler = Rc::new(move |_kind: cpu::Interrupt, _site: &cpu::Site| {
        let Some(op) = pending.borrow_mut().pop() else {
            return;
        };
        let call = c2.fetch_add(1, Ordering::SeqCst);
        let ret = t2.apply(&s2, &op);
        let ret_at = c2.fetch_add(1, Ordering::SeqCst);
        l2.lock().unwrap_or_else(|e| e.into_inner()).push(Event {
            thread: nested_column,
            op,
            ret,
            call,
            ret_at,
        });
    });
    cpu::install(cpu::InterruptPlan { decide, handler });
}

/// What one execution of a scenario did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Executed {
    /// Operations applied to the structure (init, every thread, post).
    pub ops: u64,
    /// The linearizability search ran out of budget: the history got no verdict.
    pub inconclusive: bool,
}

/// Executes `sc` once on the current backend; must run inside a model execution on loom and
/// shuttle. Returns the failure if the history is not linearizable or the structure is
/// invalid afterwards. Panics of the code under test propagate.
pub fn execute<T: Target + Clone>(t: &T, sc: &Scenario<T::Op>) -> Result<Executed, Failure> {
    let sut = Arc::new(t.new_sut());
    let clock = std::sync::Arc::new(AtomicU64::new(0));
    let log: Log<T::Op, T::Ret> = std::sync::Arc::new(Mutex::new(Vec::new()));
    let n = sc.threads.len();
    cpu::bind(0);
    progress_reset();
    set_progress(n + 1, None);
    for (k, op) in sc.init.iter().enumerate() {
        record(t, &sut, &clock, &log, 0, k, op);
    }
    for (k, op) in t.end_ops(&sut, None).iter().enumerate() {
        record(t, &sut, &clock, &log, 0, sc.init.len() + k, op);
    }
    let mut handles = Vec::with_capacity(n);
    for (i, ops) in sc.threads.iter().enumerate() {
        let (t2, sut2, clock2, log2, ops2) = (
            t.clone(),
            sut.clone(),
            clock.clone(),
            log.clone(),
            ops.clone(),
        );
        let irqs: Vec<IrqSpec<T::Op>> = sc
            .irqs
            .iter()
            .filter(|(th, _)| *th == i)
            .map(|(_, s)| s.clone())
            .collect();
        let faults = sc
            .faults
            .iter()
            .find(|(th, _)| *th == i)
            .map(|(_, f)| fault::FaultPlan::from(f));
        handles.push(thread::spawn(move || {
            // Uninstalled on the way out, unwinding included: a plan left in a model
            // backend's thread-local would be dropped after the execution, outside it.
            struct Uninstall;
            impl Drop for Uninstall {
                fn drop(&mut self) {
                    cpu::uninstall();
                    fault::install(fault::FaultPlan::Never);
                }
            }
            cpu::bind(t2.thread_cpu(i));
            if let Some(plan) = faults {
                fault::install(plan);
            }
            install_thread_plan(&t2, &sut2, &clock2, &log2, n + 2 + i, irqs);
            let _uninstall = Uninstall;
            for (k, op) in ops2.iter().enumerate() {
                record(&t2, &sut2, &clock2, &log2, i + 1, k, op);
            }
            for (k, op) in t2.end_ops(&sut2, Some(i)).iter().enumerate() {
                record(&t2, &sut2, &clock2, &log2, i + 1, ops2.len() + k, op);
            }
        }));
    }
    for h in handles {
        if let Err(p) = h.join() {
            std::panic::resume_unwind(p);
        }
    }
    for (k, op) in sc.post.iter().enumerate() {
        record(t, &sut, &clock, &log, n + 1, k, op);
    }
    for (k, op) in t.end_ops(&sut, None).iter().enumerate() {
        record(t, &sut, &clock, &log, n + 1, sc.post.len() + k, op);
    }
    rcu::barrier();
    let events: Vec<Event<T::Op, T::Ret>> =
        std::mem::take(&mut *log.lock().unwrap_or_else(|e| e.into_inner()));
    let rows = |marked: &[usize]| -> String {
        let r: Vec<Row> = events
            .iter()
            .enumerate()
            .map(|(i, e)| Row {
                column: column(e.thread, n),
                text: format!("{:?} -> {:?}", e.op, e.ret),
                call: e.call,
                ret_at: e.ret_at,
                marked: marked.contains(&i),
            })
            .collect();
        report::table(&r)
    };
    if let Err(e) = t.validate(&sut) {
        let dump = t.dump(&sut);
        let mut f = Failure::new(
            "VALIDATE",
            "invalid structure",
            t.name(),
            format!(
                "after the scenario:\n{e}{}",
                if dump.is_empty() {
                    String::new()
                } else {
                    format!("\nstate:\n{dump}")
                }
            ),
        );
        f.table = Some(rows(&[]));
        return Err(f);
    }
    let init = t.new_model();
    let mut done = Executed {
        ops: events.len() as u64,
        inconclusive: false,
    };
    // Each operation goes to the model with the task that ran it (`Target::step_on`).
    let who = |col: usize| match col {
        0 => None,
        c if c <= n => Some(c - 1),
        c if c == n + 1 => None,
        c => Some(c - n - 2),
    };
    type Tagged<Op, Ret> = Event<(Option<usize>, Op), Ret>;
    // Operations whose outcome the model cannot judge stay out of the history
    // (`Target::in_history`); `kept[i]` is the event index of history entry `i`.
    let kept: Vec<usize> = (0..events.len())
        .filter(|&i| t.in_history(&events[i].op, &events[i].ret))
        .collect();
    let tagged: Vec<Tagged<T::Op, T::Ret>> = kept
        .iter()
        .map(|&i| &events[i])
        .map(|e| Event {
            thread: e.thread,
            op: (who(e.thread), e.op.clone()),
            ret: e.ret.clone(),
            call: e.call,
            ret_at: e.ret_at,
        })
        .collect();
    match linearize::check_partitioned(
        &init,
        &tagged,
        |(_, op)| t.partition(op),
        |m, (th, op)| t.step_on(m, *th, op),
        |model, real| t.ret_eq(real, model),
    ) {
        Ok(()) => Ok(done),
        Err(LinError::Inconclusive(_)) => {
            done.inconclusive = true;
            Ok(done)
        }
        Err(LinError::NotLinearizable(mut e)) => {
            e.stuck = e.stuck.into_iter().map(|(i, s)| (kept[i], s)).collect();
            e.longest_prefix = e.longest_prefix.iter().map(|&i| kept[i]).collect();
            let stuck: Vec<usize> = e.stuck.iter().map(|(i, _)| *i).collect();
            let func = stuck
                .first()
                .map(|&i| t.op_name(&events[i].op))
                .unwrap_or_else(|| t.name().to_string());
            let order: Vec<String> = e
                .longest_prefix
                .iter()
                .map(|&i| format!("{:?}", events[i].op))
                .collect();
            let details = format!(
            "the history is not linearizable{}\n  longest linearizable prefix (a witness, in linearization order): [{}]\n  model state there: {}\n  no operation can come next:\n{}",
            e.partition.map(|k| format!(" (partition {k})")).unwrap_or_default(),
            order.join(", "),
            e.model_at_stuck,
            e.stuck.iter().map(|(_, s)| format!("    {s}")).collect::<Vec<_>>().join("\n"),
        );
            let mut f = Failure::new("LINEARIZABILITY", "non-linearizable history", func, details);
            f.table = Some(rows(&stuck));
            Err(f)
        }
    }
}

/// Runs `sc` once on the active backend (std: real threads; shuttle/loom: one default
/// execution) and reports any failure, including panics.
pub fn run<T: Target + Clone>(t: &T, sc: &Scenario<T::Op>) -> Result<(), Failure> {
    let (t2, sc2) = (t.clone(), sc.clone());
    super::run_once(move || execute(&t2, &sc2).map(|_| ())).map_err(|mut f| {
        f.target = t.name().to_string();
        f.decoded = format!("{sc:#?}");
        f
    })
}
