//! Hypercall costs, measured from inside a Guest (`guests/bench/src/bin/hcall_bench.rs`):
//! the round trip of a synchronous hypercall, and the amortized cost of one queued in the
//! async ring. Run with `cargo bench --bench hypercalls`.
//!
//! For scale: a hardware VM exit on this kind of machine costs about 7.5 µs.

mod common;
use common::*;

fn main() {
    // Several runs: the machine is shared and noisy; report the best of each.
    let best = Best::of(&images::HCALL_BENCH, 5);
    let (sync, asyn, empty) = (best.ns("sync_hcall"), best.ns("async_hcall"), best.ns("empty_loop"));
    println!("hypercalls (best of 5 runs, 1,000,000 calls each)");
    println!("  synchronous hypercall round trip   {sync:8.1} ns");
    println!("  async hypercall, amortized         {asyn:8.1} ns");
    println!("  ratio async / sync                 {:8.2}", asyn / sync);
    println!("  (guest loop overhead per iteration {empty:8.1} ns, included above)");
    println!(
        "  heap allocations in a run of 2,000,000 hypercalls: {} (decoding code blocks, console output)",
        best.allocations.unwrap_or(0)
    );
}
