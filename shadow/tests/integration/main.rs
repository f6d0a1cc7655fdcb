//! The sanitizer's integration tests, one binary (one link) with a module per subject, as
//! the harness keeps its own.

mod kmsan;
mod window;
