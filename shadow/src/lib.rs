//! `shadow`: the KMSAN-like shadow-poison sanitizer of mmcheck.
//!
//! This crate is the home of the sanitizer described in the project's issue 3 (bit-precise
//! shadow, origins and origin chains, KMSAN-format reports). It is deliberately empty until
//! that issue lands: nothing here is used by the checks yet, and nothing claims to be.
//! The dependency edge `shadow <- algos` already exists so that the layout of DESIGN.md holds.
