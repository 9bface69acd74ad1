//! Takes a trap it has no handler for (it never loaded an IDT): Sudden Death.
//!
//! The command line picks the trap: `ud2` (the default; #UD), `div0` (#DE), `int3` (#BP)
//! or `pf` (#PF, reading a virtual address nothing maps).
#![no_std]
#![no_main]

use core::arch::asm;
use guest::{BootInfo, println};

guest::entry!(kmain);

/// Virtual address the boot page tables leave unmapped (unless RAM reaches 2.5 GiB).
const UNMAPPED: u32 = 0xA000_0000;

fn kmain(_boot: &'static BootInfo) -> ! {
    let trap = misbehave::variant("ud2");
    println!("unhandled_trap: taking {trap} with no IDT");
    // SAFETY: each of these traps and, with no handler, never completes.
    unsafe {
        match trap {
            "ud2" => asm!("ud2", options(att_syntax, nomem, nostack)),
            "div0" => asm!(
                "divl {0}",
                in(reg) 0u32,
                inout("eax") 1u32 => _,
                inout("edx") 0u32 => _,
                options(att_syntax, nomem, nostack),
            ),
            "int3" => asm!("int3", options(att_syntax, nomem, nostack)),
            "pf" => {
                (UNMAPPED as usize as *const u32).read_volatile();
            }
            other => guest::crash_fmt(format_args!("unhandled_trap: unknown variant {other}")),
        }
    }
    guest::crash_fmt(format_args!("unhandled_trap: {trap} did not trap"))
}
