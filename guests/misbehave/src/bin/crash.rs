//! CRASHes with its own message: the Host prints it and exits with status 1.
#![no_std]
#![no_main]

use guest::{BootInfo, println};

guest::entry!(kmain);

fn kmain(_boot: &'static BootInfo) -> ! {
    println!("crash: giving up on purpose");
    guest::crash("crash: this Guest gave up on purpose")
}
