//! cargo fuzz target `host`: hypercalls, traps and DMA against random guest memory
//! (crates/fuzzing).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::host(data));
