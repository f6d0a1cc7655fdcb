//! Fuzz target `mglru_sched`: a thin wrapper over the harness registry entry of the same name.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::registry::fuzz("mglru_sched", data));
