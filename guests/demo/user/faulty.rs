//! faulty: writes to an address nothing is mapped at, as a buggy program would. The
//! kernel kills it and the other tasks carry on.
#![no_std]
#![no_main]

use ulib::println;

ulib::entry!(main);

/// Nothing is mapped here in a task's address space.
const WILD_POINTER: *mut u32 = 0xdead_0000 as *mut u32;

fn main() -> u32 {
    println!("faulty: pid {}, yielding once, then writing to {WILD_POINTER:p}", ulib::getpid());
    ulib::yield_now();
    // SAFETY: none; this is the bug the program is here to have.
    unsafe { WILD_POINTER.write_volatile(42) };
    println!("faulty: still alive, which the kernel should not have allowed");
    1
}
