//! Shared by the benchmark Guests: timing with the TSC and reporting in a form the
//! Host-side benchmark harness (`benches/` in the root workspace) parses.
//!
//! Every result is one console line: `bench <name> <iterations> <nanoseconds>`.
#![no_std]

use guest::{lguest_data, println, rdtsc};

/// Nanoseconds since some fixed point, from the TSC and the frequency the Host reports.
pub fn now_ns() -> u64 {
    let khz = u64::from(lguest_data::tsc_khz().max(1));
    rdtsc() * 1_000_000 / khz
}

/// Report `n` iterations that took `ns` nanoseconds in all.
pub fn report(name: &str, n: u32, ns: u64) {
    println!("bench {name} {n} {ns}");
}

/// Run `f` `n` times and report the total time as `bench <name> <n> <ns>`.
pub fn measure(name: &str, n: u32, mut f: impl FnMut(u32)) {
    let start = now_ns();
    for i in 0..n {
        f(i);
    }
    let ns = now_ns() - start;
    println!("bench {name} {n} {ns}");
}
