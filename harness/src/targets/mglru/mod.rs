//! Targets of the multi-gen LRU (`algos::mglru`): [`ops`] (sequential) and [`sched`] (the
//! schedule engine: lock-free accessors against agers and evictors).

pub mod ops;
pub mod sched;
