//! The BPF memory allocator's targets: [`ops`] (sequential, with IRQ and NMI operations
//! injected at every interrupt point of the fast paths and deferred work, and backing
//! allocation failures injected) and [`sched`] (the schedule engine: CPUs as threads,
//! cross-CPU frees, RCU readers, grace periods as steps).

pub mod ops;
pub mod sched;
