//! conform_stack: LHCALL_SET_STACK names the stack traps from user mode arrive on. It
//! must be a ring-1 segment, at most two pages, mapped writable; anything else is Sudden
//! Death.
//!
//! Variants: `good`, `ring0_segment`, `ring3_segment`, `unmapped`, `too_many_pages`.
#![no_std]
#![no_main]

use conform::{ok, say};
use guest::abi::Hcall;
use guest::abi::segments::{LGUEST_KERNEL_DS, USER_DS};
use guest::{BootInfo, hcall};

guest::entry!(kmain);

fn kmain(_boot: &'static BootInfo) -> ! {
    conform::run(
        "conform_stack",
        "good",
        &[
            ("good", good),
            ("ring0_segment", ring0_segment),
            ("ring3_segment", ring3_segment),
            ("unmapped", unmapped),
            ("too_many_pages", too_many_pages),
        ],
    )
}

/// A stack pointer in the middle of the kit's stack.
fn our_stack() -> u32 {
    let here = 0u32;
    (&raw const here as u32) & !0xFFF
}

fn set_stack(ss: u32, esp: u32, pages: u32) {
    // SAFETY: no user mode runs in this Guest, so the stack is never used.
    unsafe { hcall(Hcall::SetStack, ss, esp, pages) };
}

fn good() {
    set_stack(u32::from(LGUEST_KERNEL_DS), our_stack(), 2);
    ok!("SET_STACK with the kernel data segment and two mapped pages is accepted");
}

fn bad(ss: u32, esp: u32, pages: u32, what: &str) {
    say!("SET_STACK({ss:#x}, {esp:#x}, {pages}): {what}");
    set_stack(ss, esp, pages);
    conform::fail(format_args!("the Host accepted a stack with {what}"));
}

fn ring0_segment() {
    bad(u32::from(LGUEST_KERNEL_DS) & !3, our_stack(), 1, "an RPL 0 segment");
}

fn ring3_segment() {
    bad(u32::from(USER_DS), our_stack(), 1, "a ring-3 segment");
}

fn unmapped() {
    bad(u32::from(LGUEST_KERNEL_DS), 0xA000_1000, 1, "an unmapped page");
}

fn too_many_pages() {
    bad(u32::from(LGUEST_KERNEL_DS), our_stack(), 3, "three pages");
}
