//! HALTs with interrupts on but nothing that could ever raise one (no clock event, no
//! DMA bound): the Host must end it rather than wait forever.
#![no_std]
#![no_main]

use guest::{BootInfo, irq, println};

guest::entry!(kmain);

fn kmain(_boot: &'static BootInfo) -> ! {
    println!("halt_forever: halting with no interrupt source");
    irq::enable();
    guest::halt();
    guest::crash("halt_forever: HALT returned, but nothing could have woken the Guest")
}
