//! The sanitizer's target: [`ops`] checks `shadow` against an independent byte-array model.

pub mod ops;
