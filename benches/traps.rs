//! Trap, interrupt and context-switch costs, measured from inside a Guest
//! (`guests/bench/src/bin/trap_bench.rs`), on each CPU engine, each printed beside the
//! synchronous hypercall round trip of the same engine for scale. Run with
//! `cargo bench --bench traps`.

mod common;
use common::*;
use host::Engine;

fn main() {
    // Several runs: the machine is shared and noisy; report the best of each.
    let engines = [Engine::Interp, Engine::Jit];
    let best = Best::per_engine(&images::TRAP_BENCH, 3, &engines);
    println!("traps and interrupts (best of 3 runs per engine), ns each and in hypercall round trips");
    println!("  {:<48} {:>10} {:>10} {:>9}", "", "interp", "jit", "jit/int");
    let hcall = [best[0].ns("sync_hcall"), best[1].ns("sync_hcall")];
    println!(
        "  {:<48} {:7.1} ns {:7.1} ns {:8.2}x",
        "synchronous hypercall round trip",
        hcall[0],
        hcall[1],
        hcall[1] / hcall[0]
    );
    for (name, what) in [
        ("kernel_trap", "int3 in the kernel, reflected and returned"),
        ("kernel_page_fault", "kernel page fault, reflected and skipped"),
        ("syscall", "system call round trip (user -> kernel -> user)"),
        ("user_page_fault", "user page fault, reflected and returned"),
        ("irq_latency", "clock deadline -> IRQ handler (guest spinning)"),
        ("irq_latency_halt", "clock deadline -> IRQ handler (guest halted)"),
        ("context_switch", "switch between two user tasks (yield)"),
    ] {
        let (i, j) = (best[0].ns(name), best[1].ns(name));
        println!(
            "  {what:<48} {i:7.1} ns {j:7.1} ns {:8.2}x   ({:.1} / {:.1} hypercalls)",
            j / i,
            i / hcall[0],
            j / hcall[1]
        );
    }
    for (b, e) in best.iter().zip(engines) {
        println!(
            "  heap allocations in a whole run of these on {e}: {} (decoding code blocks, console output)",
            b.allocations.unwrap_or(0)
        );
    }
}
