//! The BPF memory allocator's targets: [`ops`] (sequential, with IRQ and NMI operations
//! injected at every interrupt point of the fast paths and deferred work, and backing
//! allocation failures injected).

pub mod ops;
