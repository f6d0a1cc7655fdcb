//! Sequential reference model of the maple tree's external semantics.
//!
//! The model itself ([`RangeModel`], [`ModelError`]) lives in `algos` as
//! `algos::maple::model` (feature `model`), where the tree's unit tests and the port of
//! lib/test_maple_tree.c use the same oracle as the harness; it is re-exported here so the
//! maple targets keep naming it `super::model::RangeModel`. What only the harness needs
//! (the root-entry and RCU-mode tracking of the `maple_ops` target) stays with the targets.

pub use algos::maple::model::{ModelError, RangeModel};

/// The values the maple targets store: small integers, kept in the slot word as value
/// entries (`xa_mk_value`) by the tree.
pub type Val = u16;
