//! `fault [null|div0|ud2]`: a program that does what the processor refuses, with no
//! handler for the signal it earns, so the kernel kills it: a store to address 0
//! (SIGSEGV), a division by zero (SIGFPE) or an undefined instruction (SIGILL). It prints
//! what it is about to do first; it never gets to print anything after.

#![no_std]
#![no_main]

linux::entry!(main);

fn main() -> i32 {
    let what = linux::arg(1).and_then(|a| core::str::from_utf8(a).ok()).unwrap_or("null");
    linux::println!("fault: about to {what}");
    match what {
        // SAFETY: none: the store faults, and the kernel ends the process.
        "null" => unsafe { core::ptr::write_volatile(core::ptr::null_mut::<u32>(), 1) },
        "div0" => {
            let zero = core::hint::black_box(0u32);
            // SAFETY: `div` by zero raises #DE before writing anything.
            unsafe {
                core::arch::asm!("div {0}", in(reg) zero, inout("eax") 1u32 => _, inout("edx") 0u32 => _)
            };
        }
        // SAFETY: ud2 raises #UD.
        "ud2" => unsafe { core::arch::asm!("ud2") },
        _ => {
            linux::println!("fault: usage: fault [null|div0|ud2]");
            return 2;
        }
    }
    linux::println!("fault: still alive (the processor did not fault)");
    1
}
