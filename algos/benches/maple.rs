//! Maple tree benches (being written).

fn main() {}
