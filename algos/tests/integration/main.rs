//! algos' integration tests, one binary (one link) with a module per subject, as the
//! harness keeps its own. The binary requires the `model` feature (see `Cargo.toml`), so the
//! kernel-sequence port never drops out silently. Modules that need other features, or must
//! not run on the loom or shuttle backends, say so with a `#![cfg]` at their top.

mod maple_kernel;
mod maple_nomem;
mod rt;
