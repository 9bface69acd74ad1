//! Makes hypercall 99, which does not exist: Sudden Death.
#![no_std]
#![no_main]

use guest::{BootInfo, println};

guest::entry!(kmain);

fn kmain(_boot: &'static BootInfo) -> ! {
    println!("bad_hypercall: making hypercall 99");
    // SAFETY: there is no hypercall 99; the Host should never come back.
    unsafe { misbehave::raw_hcall(99, 0, 0, 0) };
    guest::crash("bad_hypercall: the Host returned from hypercall 99")
}
