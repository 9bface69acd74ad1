//! idle_bench: boots, prints one line and then sleeps in HALT, woken once a second by the
//! clock, until the Launcher is stopped. The benchmark report (`benches/report/`) times
//! the Launcher's start to this line and then reads its memory use at rest, beside QEMU
//! booting a multiboot kernel that does the same.
#![no_std]
#![no_main]

use guest::clock::{self, CLOCK_VECTOR};
use guest::idt::Gate;
use guest::{BootInfo, irq, println, traps};

guest::entry!(kmain);

fn kmain(_boot: &'static BootInfo) -> ! {
    println!("idle_bench: up");
    traps::set_handler(CLOCK_VECTOR, Gate::INTERRUPT, |_| {});
    irq::enable();
    loop {
        clock::set_clockevent(1_000_000_000);
        guest::halt();
    }
}
