//! Hypercall costs, measured from inside a Guest (`guests/bench/src/bin/hcall_bench.rs`):
//! the round trip of a synchronous hypercall, and the amortized cost of one queued in the
//! async ring, on each CPU engine. Run with `cargo bench --bench hypercalls`.
//!
//! For scale: a hardware VM exit on this kind of machine costs about 7.5 µs.

mod common;
use common::*;
use host::Engine;

fn main() {
    // Several runs: the machine is shared and noisy; report the best of each.
    let engines = [Engine::Interp, Engine::Jit];
    let best = Best::per_engine(&images::HCALL_BENCH, 5, &engines);
    println!("hypercalls (best of 5 runs per engine, 1,000,000 calls each)");
    println!("  {:<36} {:>10} {:>10} {:>9}", "", "interp", "jit", "jit/int");
    for (name, what) in [
        ("sync_hcall", "synchronous hypercall round trip"),
        ("async_hcall", "async hypercall, amortized"),
        ("empty_loop", "guest loop overhead per iteration"),
    ] {
        let (i, j) = (best[0].ns(name), best[1].ns(name));
        println!("  {what:<36} {i:7.1} ns {j:7.1} ns {:8.2}x", j / i);
    }
    for (b, e) in best.iter().zip(engines) {
        println!(
            "  heap allocations in a run of 2,000,000 hypercalls on {e}: {} (decoding code blocks, console output)",
            b.allocations.unwrap_or(0)
        );
    }
}
