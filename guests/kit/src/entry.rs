//! Entry: from the Launcher's first instruction to the Guest's `kmain`.
//!
//! The Launcher starts the kernel at its ELF entry point, `_start`, in the state
//! `abi::boot` describes: CPL 1, flat segments, paging on with RAM mapped at virtual ==
//! physical and at PAGE_OFFSET + physical, %esi = guest-physical address of the
//! [`BootInfo`], %esp on a small Launcher stack. `_start` clears `.bss`, moves to the
//! kit's own stack ([`STACK_SIZE`] bytes in `.bss`) and calls `__lguest_start`, which
//! [`entry!`](crate::entry!) defines in the Guest's crate. That registers the
//! [`lguest_data`](crate::lguest_data) page with `LHCALL_LGUEST_INIT`, keeps a copy of the
//! boot information ([`crate::boot`]) and calls the Guest's `kmain`.

use crate::{boot, lguest_data};
use abi::boot::BootInfo;

/// Bytes of the kernel stack `_start` switches to.
pub const STACK_SIZE: usize = 16 * 1024;

// The stub. Nothing in it may touch %esi before the `push`: that is the BootInfo address.
// `rep stosb` clears from __bss_start to __bss_end (lguest-guest.ld); the kit's stack is
// part of .bss, which is fine because we are still on the Launcher's stack.
core::arch::global_asm!(
    r#"
    .section .text.start, "ax"
    .global _start
    .type _start, @function
_start:
    cld
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb
    movl $lguest_stack_top, %esp
    xorl %ebp, %ebp
    subl $12, %esp
    pushl %esi                      /* the argument; %esp is 16-byte aligned at the call */
    call __lguest_start
    ud2
    .size _start, . - _start

    .section .bss.lguest_stack, "aw", @nobits
    .balign 16
lguest_stack_bottom:
    .skip {stack_size}
lguest_stack_top:
    "#,
    stack_size = const STACK_SIZE,
    options(att_syntax)
);

/// Name the Guest's main function, `fn kmain(boot: &'static BootInfo) -> !`, which runs
/// on the kit's stack once `lguest_data` is registered.
///
/// `entry!(kmain, without_lguest_init)` skips `LHCALL_LGUEST_INIT`, for Guests that test
/// how the Host treats a bad or missing one; nothing else in the kit works until the
/// Guest has made that call itself.
#[macro_export]
macro_rules! entry {
    ($kmain:path) => {
        #[unsafe(export_name = "__lguest_start")]
        extern "C" fn __lguest_start(boot_phys: u32) -> ! {
            $crate::entry::start(boot_phys, $kmain)
        }
    };
    ($kmain:path, without_lguest_init) => {
        #[unsafe(export_name = "__lguest_start")]
        extern "C" fn __lguest_start(boot_phys: u32) -> ! {
            $crate::entry::start_without_lguest_init(boot_phys, $kmain)
        }
    };
}

/// What `entry!` runs: LGUEST_INIT, then the Guest. Not for calling directly.
#[doc(hidden)]
pub fn start(boot_phys: u32, kmain: fn(&'static BootInfo) -> !) -> ! {
    lguest_data::lguest_init();
    kmain(boot::init(boot_phys))
}

/// What `entry!(kmain, without_lguest_init)` runs. Not for calling directly.
#[doc(hidden)]
pub fn start_without_lguest_init(boot_phys: u32, kmain: fn(&'static BootInfo) -> !) -> ! {
    kmain(boot::init(boot_phys))
}
