//! `algos`: Linux memory-management algorithms re-implemented in Rust over a checkable
//! platform layer.
//!
//! Every algorithm in this crate reaches threads, atomics, locks, RCU, CPUs, interrupts,
//! task priorities and allocation through [`sync`], never through `std` directly. That one
//! facade has three backends (std, loom, shuttle; see `DESIGN.md`), so the same code runs in
//! production, under loom's exhaustive model checker and under shuttle's schedulers.
//!
//! The algorithms themselves (maple tree, BPF per-CPU allocator, PREEMPT_RT locks, MGLRU)
//! arrive with their own issues; this crate currently holds the platform layer.

pub mod maple;
pub mod sync;
