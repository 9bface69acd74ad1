//! Executes a privileged instruction at CPL 1, which raises #GP: Sudden Death.
//!
//! The command line picks the instruction: `cli` (the default; IOPL is 0), `sti`, `hlt`,
//! `cr3` (mov %eax,%cr3), `lidt`, or `in` (inb $0x60).
#![no_std]
#![no_main]

use core::arch::asm;
use guest::{BootInfo, println};

guest::entry!(kmain);

fn kmain(boot: &'static BootInfo) -> ! {
    let insn = misbehave::variant("cli");
    println!("privileged: executing {insn} at CPL 1");
    // SAFETY: each of these traps with #GP at CPL 1 and so never completes; if the CPU let
    // one through, it would change state the Host owns, and we crash straight after.
    unsafe {
        match insn {
            "cli" => asm!("cli", options(att_syntax, nomem, nostack)),
            "sti" => asm!("sti", options(att_syntax, nomem, nostack)),
            "hlt" => asm!("hlt", options(att_syntax, nomem, nostack)),
            // The boot page directory itself, so even a CPU that let it through would not
            // lose its footing.
            "cr3" => asm!("movl {0}, %cr3", in(reg) boot.boot_pgdir, options(att_syntax, nostack)),
            "lidt" => {
                let idtr = [0u16; 3];
                asm!("lidt ({0})", in(reg) &idtr, options(att_syntax, nostack));
            }
            "in" => asm!("inb $0x60, %al", out("al") _, options(att_syntax, nomem, nostack)),
            other => guest::crash_fmt(format_args!("privileged: unknown variant {other}")),
        }
    }
    guest::crash_fmt(format_args!("privileged: {insn} did not trap at CPL 1"))
}
