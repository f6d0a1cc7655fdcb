//! The loom models, one binary (one link) with a module per subject, as the harness keeps
//! its integration tests. Every module is `#![cfg(mmcheck_loom)]`: without
//! `RUSTFLAGS="--cfg mmcheck_loom"` the binary builds and runs no tests. Run with
//! `RUSTFLAGS="--cfg mmcheck_loom" cargo test -p loom-tests --release`.
//!
//! Every model runs through [`model`] (or calls [`panic_hooks_in_order`] before its own
//! `loom::model::Builder`): the modules share one process, and so its panic hooks.

mod cpu;
mod maple;
mod mglru;
mod percpu;
mod rcu;
mod rt;
mod shadow;
mod targets;

/// Installs the harness's panic hook, once per process, before the first loom execution.
///
/// loom runs its threads as `generator` coroutines, and a finished coroutine unwinds with a
/// non-string `Done` payload. On its first use `generator` installs a hook that drops those
/// and passes every other panic on to the hook it found. The harness's hook (which the
/// engines use to record the first panic of a run, as the failure's title) must be the one
/// found, i.e. installed first; installed after, it sees every `Done` first and records
/// "non-string panic payload" in place of the real failure (as `targets` then does).
#[cfg(mmcheck_loom)]
fn panic_hooks_in_order() {
    harness::report::install_panic_capture();
}

/// `loom::model`, after [`panic_hooks_in_order`].
#[cfg(mmcheck_loom)]
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    panic_hooks_in_order();
    loom::model(f);
}
