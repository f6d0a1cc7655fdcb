//! The PREEMPT_RT locks' targets: [`ops`] (sequential: one task's operations on several
//! locks against a model, self-deadlocks and error returns included) and [`sched`] (the
//! schedule engine: tasks with priorities contending, free interleavings and SCHED_FIFO on
//! one CPU with the priority-inversion monitor) and [`rwbase_sched`] (the reader-writer
//! locks on the schedule engine).

pub mod ops;
pub mod rwbase_sched;
pub mod sched;
