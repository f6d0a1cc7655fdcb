//! Targets of the multi-gen LRU (`algos::mglru`): [`ops`] (sequential).

pub mod ops;
