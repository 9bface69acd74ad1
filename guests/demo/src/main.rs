//! demo: a small operating system for lguest, and the kernel `cargo run --release` boots.
//!
//! It does what a Guest OS does, in the order a reader would look for it:
//! 1. installs its GDT (`LHCALL_LOAD_GDT`) and IDT (`LHCALL_LOAD_IDT_ENTRY`, one gate per
//!    vector: exceptions in `fault.rs`, the clock in `sched.rs`, system calls in
//!    `syscall.rs` through a DPL-3 gate at 0x80);
//! 2. builds its own page tables, all of RAM at PAGE_OFFSET for the kernel only
//!    (`paging::init`, `LHCALL_NEW_PGTABLE`);
//! 3. loads each user program (`user/`, built by `build.rs`) into a new address space,
//!    its page-table updates batched through the async ring (`task.rs`, `elf.rs`);
//! 4. runs the tasks at CPL 3, round-robin, preempted by the clock (`sched.rs`); one of
//!    them faults on purpose and is killed while the others finish;
//! 5. prints a summary and powers off — or, when the command line has the word `shell`,
//!    starts the shell first (`user/shell.rs`): one more task, reading the console through
//!    a `read` system call that puts it to sleep until input arrives, and using the disk
//!    and the network through system calls (`syscall.rs`, `devices.rs`). The demo powers
//!    off when the shell exits (`exit`, or the end of its input).
#![no_std]
#![no_main]

mod devices;
mod elf;
mod fault;
mod sched;
mod syscall;
mod task;
mod uapi;
mod user;

use guest::{BootInfo, boot, clock, gdt, paging, println};

guest::entry!(kmain);

fn kmain(boot: &'static BootInfo) -> ! {
    let start = clock::now_ns();
    println!("demo: a small OS on lguest, {} MiB of RAM", boot.mem_size >> 20);

    // Segments: Linux's flat layout. The Host turns our ring-0 descriptors into ring 1.
    gdt::load_gdt(&gdt::default_gdt());
    // The IDT: every gate goes to one of the kit's entry stubs, then to our handler.
    fault::init();
    sched::init();
    syscall::init();
    println!("demo: GDT and IDT loaded: exceptions, clock (vector 32), system calls (int $0x80, DPL 3)");

    paging::init();
    println!("demo: running on our own page tables: RAM at {:#x}, kernel-only", guest::abi::PAGE_OFFSET);
    devices::init();

    for program in user::PROGRAMS {
        if let Err(e) = sched::spawn(program) {
            println!("demo: cannot start {}: {e}", program.name);
        }
    }

    println!("demo: starting the scheduler: a clock tick every {} ms", sched::TICK_MS);
    sched::run();
    sched::summary((clock::now_ns() - start) / 1_000_000);
    if boot::cmdline().split_whitespace().any(|w| w == "shell") {
        match sched::spawn(&user::SHELL) {
            Ok(_) => sched::run(),
            Err(e) => println!("demo: cannot start the shell: {e}"),
        }
    }
    println!("demo: powering off");
    guest::power_off()
}
