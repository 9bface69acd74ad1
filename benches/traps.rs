//! Trap, interrupt and context-switch costs, measured from inside a Guest
//! (`guests/bench/src/bin/trap_bench.rs`), each printed beside the synchronous hypercall
//! round trip of the same run for scale. Run with `cargo bench --bench traps`.

mod common;
use common::*;

fn main() {
    // Several runs: the machine is shared and noisy; report the best of each.
    let mut best: Vec<(String, f64)> = Vec::new();
    for _ in 0..3 {
        for s in run_bench_guest(&images::TRAP_BENCH, "") {
            let v = s.ns_per();
            match best.iter_mut().find(|(n, _)| *n == s.name) {
                Some((_, b)) => *b = b.min(v),
                None => best.push((s.name.clone(), v)),
            }
        }
    }
    let get = |n: &str| best.iter().find(|(k, _)| k == n).map(|(_, v)| *v).unwrap_or(f64::NAN);
    let hcall = get("sync_hcall");
    println!("traps and interrupts (best of 3 runs), ns each and in hypercall round trips");
    println!("  {:<48} {:9.1} ns", "synchronous hypercall round trip", hcall);
    for (name, what) in [
        ("kernel_trap", "int3 in the kernel, reflected and returned"),
        ("kernel_page_fault", "kernel page fault, reflected and skipped"),
        ("syscall", "system call round trip (user -> kernel -> user)"),
        ("user_page_fault", "user page fault, reflected and returned"),
        ("irq_latency", "clock deadline -> IRQ handler (guest spinning)"),
        ("irq_latency_halt", "clock deadline -> IRQ handler (guest halted)"),
        ("context_switch", "switch between two user tasks (yield)"),
    ] {
        let v = get(name);
        println!("  {what:<48} {v:9.1} ns  {:8.1} x hypercall", v / hcall);
    }
}
