//! Hypercall costs, measured from inside a Guest (`guests/bench/src/bin/hcall_bench.rs`):
//! the round trip of a synchronous hypercall, and the amortized cost of one queued in the
//! async ring. Run with `cargo bench --bench hypercalls`.
//!
//! For scale: a hardware VM exit on this kind of machine costs about 7.5 µs.

mod common;
use common::*;

fn main() {
    // Several runs: the machine is shared and noisy; report the best of each.
    let mut best: Vec<(String, f64)> = Vec::new();
    for _ in 0..5 {
        for s in run_bench_guest(&images::HCALL_BENCH, "") {
            let v = s.ns_per();
            match best.iter_mut().find(|(n, _)| *n == s.name) {
                Some((_, b)) => *b = b.min(v),
                None => best.push((s.name.clone(), v)),
            }
        }
    }
    let get = |n: &str| best.iter().find(|(k, _)| k == n).map(|(_, v)| *v).unwrap_or(f64::NAN);
    let (sync, asyn, empty) = (get("sync_hcall"), get("async_hcall"), get("empty_loop"));
    println!("hypercalls (best of 5 runs, 1,000,000 calls each)");
    println!("  synchronous hypercall round trip   {sync:8.1} ns");
    println!("  async hypercall, amortized         {asyn:8.1} ns");
    println!("  ratio async / sync                 {:8.2}", asyn / sync);
    println!("  (guest loop overhead per iteration {empty:8.1} ns, included above)");
}
