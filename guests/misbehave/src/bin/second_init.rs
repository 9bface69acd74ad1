//! Makes LHCALL_LGUEST_INIT a second time (the kit made the first): Sudden Death.
#![no_std]
#![no_main]

use guest::abi::Hcall;
use guest::{BootInfo, lguest_data, println, virt_to_phys};

guest::entry!(kmain);

fn kmain(_boot: &'static BootInfo) -> ! {
    println!("second_init: making LHCALL_LGUEST_INIT again");
    // SAFETY: the same, valid, page as the first time; the Host should never come back.
    unsafe { guest::hcall(Hcall::LguestInit, virt_to_phys(lguest_data::as_ptr()), 0, 0) };
    guest::crash("second_init: the Host accepted a second LGUEST_INIT")
}
