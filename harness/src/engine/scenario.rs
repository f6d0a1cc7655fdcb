//! Runs one concurrent [`Scenario`] on the active backend and checks its history.
//!
//! This is the body every concurrent engine shares: on std it is a stress run on real
//! threads; inside a shuttle execution it is one schedule; inside `loom::model` it is one of
//! loom's exhaustively enumerated executions. Threads are spawned through `algos::sync`, so
//! the backend decides the interleaving; thread `i` is bound to logical CPU `i`.
//!
//! After the threads join, the post operations run, outstanding RCU callbacks are flushed,
//! `validate()` must pass, and the recorded history must be linearizable with respect to
//! the target's model.

use crate::linearize::{self, Event};
use crate::report::{self, Failure, Row};
use crate::target::{Scenario, Target};
use algos::sync::{cpu, rcu, thread, Arc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

type Log<Op, Ret> = std::sync::Arc<Mutex<Vec<Event<Op, Ret>>>>;

fn record<T: Target>(
    t: &T,
    sut: &T::Sut,
    clock: &AtomicU64,
    log: &Log<T::Op, T::Ret>,
    thread: usize,
    op: &T::Op,
) {
    let call = clock.fetch_add(1, Ordering::SeqCst);
    let ret = t.apply(sut, op);
    let ret_at = clock.fetch_add(1, Ordering::SeqCst);
    log.lock().unwrap_or_else(|e| e.into_inner()).push(Event {
        thread,
        op: op.clone(),
        ret,
        call,
        ret_at,
    });
}

/// Column names: 0 is `init`, `n + 1` is `post`, others are threads.
fn column(thread: usize, nthreads: usize) -> String {
    if thread == 0 {
        "init".into()
    } else if thread == nthreads + 1 {
        "post".into()
    } else {
        format!("thread {thread}")
    }
}

/// Executes `sc` once on the current backend; must run inside a model execution on loom and
/// shuttle. Returns the failure if the history is not linearizable or the structure is
/// invalid afterwards. Panics of the code under test propagate.
pub fn execute<T: Target + Clone>(t: &T, sc: &Scenario<T::Op>) -> Result<(), Failure> {
    let sut = Arc::new(t.new_sut());
    let clock = std::sync::Arc::new(AtomicU64::new(0));
    let log: Log<T::Op, T::Ret> = std::sync::Arc::new(Mutex::new(Vec::new()));
    let n = sc.threads.len();
    cpu::bind(0);
    for op in &sc.init {
        record(t, &sut, &clock, &log, 0, op);
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
        handles.push(thread::spawn(move || {
            cpu::bind(i);
            for op in &ops2 {
                record(&t2, &sut2, &clock2, &log2, i + 1, op);
            }
        }));
    }
    for h in handles {
        if let Err(p) = h.join() {
            std::panic::resume_unwind(p);
        }
    }
    for op in &sc.post {
        record(t, &sut, &clock, &log, n + 1, op);
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
        let mut f = Failure::new(
            "VALIDATE",
            "invalid structure",
            t.name(),
            format!("after the scenario:\n{e}"),
        );
        f.table = Some(rows(&[]));
        return Err(f);
    }
    let init = t.new_model();
    if let Err(e) = linearize::check_partitioned(
        &init,
        &events,
        |op| t.partition(op),
        |m, op| t.step(m, op),
        |a, b| t.ret_eq(a, b),
    ) {
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
            "the history is not linearizable{}\n  longest linearizable prefix: [{}]\n  model state there: {}\n  no operation can come next:\n{}",
            e.partition.map(|k| format!(" (partition {k})")).unwrap_or_default(),
            order.join(", "),
            e.model_at_stuck,
            e.stuck.iter().map(|(_, s)| format!("    {s}")).collect::<Vec<_>>().join("\n"),
        );
        let mut f = Failure::new("LINEARIZABILITY", "non-linearizable history", func, details);
        f.table = Some(rows(&stuck));
        return Err(f);
    }
    Ok(())
}

/// Runs `sc` once on the active backend (std: real threads; shuttle/loom: one default
/// execution) and reports any failure, including panics.
pub fn run<T: Target + Clone>(t: &T, sc: &Scenario<T::Op>) -> Result<(), Failure> {
    let (t2, sc2) = (t.clone(), sc.clone());
    super::run_once(move || execute(&t2, &sc2)).map_err(|mut f| {
        f.target = t.name().to_string();
        f.decoded = format!("{sc:#?}");
        f
    })
}
