//! The `Target` abstraction: what is checked, written once and run by every engine. The
//! engines' input formats are in [`crate::input`] (re-exported here).

use algos::sync::cpu::Interrupt;
use arbitrary::Arbitrary;
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

    /// [`Target::step`] for an operation of a concurrent scenario, knowing who ran it:
    /// `None` for the main task (init and post operations), `Some(i)` for scenario thread
    /// `i` (its interrupts' nested operations included). For models whose answer depends on
    /// the caller (a lock's owner). Default: [`Target::step`].
    fn step_on(&self, model: &mut Self::Model, _thread: Option<usize>, op: &Self::Op) -> Self::Ret {
        self.step(model, op)
    }
    /// Whether a finished concurrent operation goes into the history the linearizability
    /// checker judges (default: every one). A target leaves out outcomes its model cannot
    /// decide (a lock call that failed while the lock was being handed to a woken waiter);
    /// they still appear in the report's table, and the invariants still judge them.
    fn in_history(&self, _op: &Self::Op, _ret: &Self::Ret) -> bool {
        true
    }
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
    /// Invariants that must hold at every scheduling point of a concurrent scenario, not only
    /// at its end: priority-inheritance chains, reader counts, list/counter agreement. The
    /// schedule and loom engines call it after every operation of every thread and at every
    /// interrupt point the structure marks (`cpu::interrupt_point`), from the running
    /// thread, which may hold the structure's locks there: it must not block (read atomics,
    /// `try_lock`). `Err` describes the violation.
    fn check_concurrent(&self, _sut: &Self::Sut) -> Result<(), String> {
        Ok(())
    }
    /// Operations a task runs after its last one, before it exits, recorded in the history
    /// like the others: scenario thread `thread` (`Some`, 0-based) after its operations, and
    /// the main task (`None`) after the init operations and after the post operations (a
    /// task releasing the locks it still holds, as a kernel task must before it exits).
    /// Default: none.
    fn end_ops(&self, _sut: &Self::Sut, _thread: Option<usize>) -> Vec<Self::Op> {
        Vec::new()
    }
    /// The structure's state as text (`mt_dump`), appended to VALIDATE and INVARIANT reports.
    /// Empty (the default) adds nothing.
    fn dump(&self, _sut: &Self::Sut) -> String {
        String::new()
    }
    /// The logical CPU scenario thread `thread` runs on (0-based; default: its own CPU,
    /// `thread`). Targets that need tasks sharing a CPU (preempted between their
    /// interrupt-disabled sections) map several threads to one.
    fn thread_cpu(&self, thread: usize) -> usize {
        thread
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

pub use crate::input::*;
