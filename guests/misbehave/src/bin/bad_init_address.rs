//! Registers its lguest_data at a guest-physical address beyond RAM: Sudden Death.
//!
//! It prints nothing first: a 2.6.23 Host accepts no hypercall before LGUEST_INIT, and
//! printing is a hypercall.
#![no_std]
#![no_main]

use guest::BootInfo;
use guest::abi::Hcall;

guest::entry!(kmain, without_lguest_init);

fn kmain(_boot: &'static BootInfo) -> ! {
    // SAFETY: the address is outside guest RAM; the Host should never come back.
    unsafe { guest::hcall(Hcall::LguestInit, misbehave::beyond_ram(), 0, 0) };
    guest::println!("bad_init_address: the Host accepted LGUEST_INIT beyond RAM");
    guest::crash("bad_init_address: the Host accepted LGUEST_INIT beyond RAM")
}
