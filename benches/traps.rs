//! Trap, interrupt and context-switch costs, measured from inside a Guest
//! (`guests/bench/src/bin/trap_bench.rs`), each printed beside the synchronous hypercall
//! round trip of the same run for scale. Run with `cargo bench --bench traps`.

mod common;
use common::*;

fn main() {
    // Several runs: the machine is shared and noisy; report the best of each.
    let best = Best::of(&images::TRAP_BENCH, 3);
    let get = |n: &str| best.ns(n);
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
    println!(
        "  heap allocations in a whole run of these: {} (decoding code blocks, console output)",
        best.allocations.unwrap_or(0)
    );
}
