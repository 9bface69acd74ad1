//! cargo fuzz target `cpu`: random code from a random starting state (crates/fuzzing).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::cpu(data));
