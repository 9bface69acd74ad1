//! CRASHes with a message address beyond RAM: Sudden Death (the Host must not read
//! outside the Guest, and cannot print the message).
#![no_std]
#![no_main]

use guest::abi::Hcall;
use guest::{BootInfo, println};

guest::entry!(kmain);

fn kmain(_boot: &'static BootInfo) -> ! {
    let addr = misbehave::beyond_ram();
    println!("bad_crash_address: LHCALL_CRASH with the message at {addr:#x}, beyond RAM");
    // SAFETY: the address is outside guest RAM; the Host should never come back.
    unsafe { guest::hcall(Hcall::Crash, addr, 0, 0) };
    guest::crash("bad_crash_address: the Host returned from CRASH")
}
