//! `algos`: Linux memory-management algorithms re-implemented in Rust over a checkable
//! platform layer.
//!
//! Every algorithm in this crate reaches threads, atomics, locks, RCU, CPUs, interrupts,
//! task priorities and allocation through [`sync`], never through `std` directly. That one
//! facade has three backends (std, loom, shuttle; see `DESIGN.md`), so the same code runs in
//! production, under loom's exhaustive model checker and under shuttle's schedulers.
//!
//! Today it holds the platform layer, the maple tree ([`maple`]), the BPF memory allocator
//! ([`percpu`]), the PREEMPT_RT locks ([`rt`]) and the multi-gen LRU ([`mglru`], in
//! progress: one lruvec, its aging, eviction and simulator).

pub mod maple;
pub mod mglru;
pub mod percpu;
pub mod rt;
pub mod sync;
