//! Guests that break the rules of the Guest↔Host ABI on purpose, one binary per way the
//! Host must end a Guest ("Sudden Death", or a crash). Each prints what it is about to do
//! first, so a test sees it ran, and CRASHes with a message saying so if the Host lets it
//! get away with it.
#![no_std]

use core::arch::asm;

/// `int $0x1F` with any call number, the way a buggy or hostile Guest could make it (the
/// kit's `hcall` only takes the numbers the ABI has).
///
/// # Safety
/// Whatever the call does, the caller must be ready for.
pub unsafe fn raw_hcall(nr: u32, arg1: u32, arg2: u32, arg3: u32) -> u32 {
    let ret: u32;
    // SAFETY: a hypercall trap; the caller answers for what it asks.
    unsafe {
        asm!(
            "int $0x1f",
            inlateout("eax") nr => ret,
            in("edx") arg1,
            in("ebx") arg2,
            in("ecx") arg3,
            options(att_syntax, nostack),
        );
    }
    ret
}

/// The first word of the command line, or `default` if there is none: the variant of
/// the misbehaviour to try.
pub fn variant(default: &'static str) -> &'static str {
    guest::boot::cmdline().split_whitespace().next().unwrap_or(default)
}

/// A guest-physical address well beyond RAM and the device pages above it.
pub fn beyond_ram() -> u32 {
    guest::boot::mem_size() + (16 << 20)
}
