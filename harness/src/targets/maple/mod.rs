//! The maple tree's targets: [`ops`] (sequential differential over the whole API) and
//! [`rcu`] (lock-free readers against writers on the schedule engine), and their shared
//! [`model`] (the range model, re-exported from `algos::maple::model`, and `Val`).

pub mod model;
pub mod ops;
pub mod rcu;
