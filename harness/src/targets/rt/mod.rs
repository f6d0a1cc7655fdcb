//! The PREEMPT_RT locks' targets: [`ops`] (sequential: one task's operations on several
//! locks against a model, self-deadlocks and error returns included).

pub mod ops;
