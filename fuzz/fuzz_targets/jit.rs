//! cargo fuzz target `jit`: the `cpu` target's inputs on the translator and the
//! interpreter in lockstep (crates/fuzzing).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::jit(data));
