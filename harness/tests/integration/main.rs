//! The harness's integration tests, one binary (one link) with a module per subject, as
//! wasmtime's `crates/fuzzing/tests` keeps them. Modules that need the shuttle backend, or
//! must not run on it, say so with a `#![cfg]` at their top.

mod cli;
mod corpus_replay;
mod engines;
mod generators;
mod maple_targets;
mod platform;
mod regressions;
mod rt_targets;
mod schedule;
mod shadow_target;
mod sim;
mod wiring;
