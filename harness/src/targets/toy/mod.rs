//! Toy targets whose code under test lives here: an atomic counter, a locked stack, and a
//! value published through RCU. Each has planted-bug flavours the engine tests use.

pub mod counter;
pub mod rcu_cell;
pub mod stack;
