//! mmcheck's harness: one target definition, every engine.
//!
//! A [`target::Target`] says *what* is checked: operations, a sequential model, how an
//! operation applies to each, and the invariants after every step. The [`engine`]s say *how*
//! inputs and interleavings are chosen. [`dyn_target`] erases a target's types, [`targets`]
//! is the catalogue, and [`registry`] finds a target by name for the fuzz targets, corpus
//! replay and the `mmcheck` command; [`report`] turns any failure into a titled report
//! with a reproducer; [`linearize`] checks concurrent histories.

// A `Failure` is large (a whole report) and returned only on the cold path of a found bug.
#![allow(clippy::result_large_err)]

pub mod corpus;
pub mod dyn_target;
pub mod engine;
pub mod input;
pub mod linearize;
pub mod mutant;
pub mod registry;
pub mod report;
pub mod sim;
pub mod target;
pub mod targets;
