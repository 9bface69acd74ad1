//! Fuzz targets for lguest-rs, as plain functions of the fuzzer's bytes.
//!
//! - [`cpu`]: the CPU fed random code from a random starting state (`cpu_target.rs`);
//! - [`jit`]: the same inputs on the `check` engine, the translator and the interpreter
//!   in lockstep (a difference in state at any exit is a crash);
//! - [`host`]: the Host's hypercall dispatcher, traps, interrupts, shadow MMU and DMA
//!   fed random registers and random guest memory (`host_target.rs`), through the
//!   `fuzzing` hook of `crates/host`.
//!
//! Each panics when it finds a bug — a panic in the code under test, or a broken promise
//! it checks — and returns otherwise. `fuzz/` wraps them for `cargo fuzz` (nightly, see
//! `scripts/fuzz.sh`); `tests/regressions.rs` replays every input in
//! `fuzz/regressions/<target>/` under plain `cargo test`, so a crash once found stays
//! fixed.

mod cpu_target;
mod elf;
mod host_target;
mod input;

pub use input::Input;

/// A fuzz target: runs one input, panics on a bug.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/` and the regression test know them.
pub const TARGETS: [(&str, Target); 3] = [("cpu", cpu), ("jit", jit), ("host", host)];

/// Run one CPU input.
pub fn cpu(data: &[u8]) {
    cpu_target::run(data, cpu::Engine::Interp)
}

/// Run one CPU input on the translator and the interpreter in lockstep.
pub fn jit(data: &[u8]) {
    cpu_target::run(data, cpu::Engine::Check)
}

/// Run one Host input.
pub fn host(data: &[u8]) {
    host_target::run(data)
}
