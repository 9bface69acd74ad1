//! The Guest's interrupt flag, which lives in `lguest_data.irq_enabled`.
//!
//! A Guest at CPL 1 may not execute `cli`/`sti`, and a hypercall would be too slow for
//! something done this often, so it writes [`abi::X86_EFLAGS_IF`] or 0 into the shared
//! page and the Host only delivers interrupts while it reads `X86_EFLAGS_IF` there. These
//! are the 2.6.23 Guest's `save_fl`, `restore_fl`, `irq_disable` and `irq_enable`.

use crate::lguest_data;
use abi::X86_EFLAGS_IF;
use core::sync::atomic::{Ordering, compiler_fence};

/// The current flag: `X86_EFLAGS_IF` (interrupts on) or 0.
pub fn save_fl() -> u32 {
    // SAFETY: the page is a static; irq_enabled is the Guest's to read and write.
    unsafe { (&raw const (*lguest_data::as_ptr()).irq_enabled).read_volatile() }
}

/// Put back a flag [`save_fl`] returned.
pub fn restore_fl(flags: u32) {
    // Whatever the caller did with interrupts off must be done before they come back on.
    compiler_fence(Ordering::SeqCst);
    // SAFETY: as in save_fl.
    unsafe { (&raw mut (*lguest_data::as_ptr()).irq_enabled).write_volatile(flags) };
}

/// Turn interrupts off.
pub fn disable() {
    // SAFETY: as in save_fl.
    unsafe { (&raw mut (*lguest_data::as_ptr()).irq_enabled).write_volatile(0) };
    compiler_fence(Ordering::SeqCst);
}

/// Turn interrupts on; the Host delivers any pending one at its next chance.
pub fn enable() {
    restore_fl(X86_EFLAGS_IF);
}

/// Run `f` with interrupts off, then put the flag back as it was.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    let flags = save_fl();
    disable();
    let r = f();
    restore_fl(flags);
    r
}

/// The bitmap of blocked IRQs (`lguest_data.blocked_interrupts`): bit n set means the
/// Host holds IRQ n pending instead of delivering it.
pub fn blocked() -> u32 {
    // SAFETY: the page is a static; blocked_interrupts is the Guest's to read and write.
    unsafe { (&raw const (*lguest_data::as_ptr()).blocked_interrupts[0]).read_volatile() }
}

fn set_blocked(mask: u32) {
    compiler_fence(Ordering::SeqCst);
    // SAFETY: as in blocked.
    unsafe { (&raw mut (*lguest_data::as_ptr()).blocked_interrupts[0]).write_volatile(mask) };
    compiler_fence(Ordering::SeqCst);
}

/// Block IRQ `irq` (0-31): the Host keeps it pending until [`unblock`] (the 2.6.23 Guest's
/// `disable_lguest_irq`).
pub fn block(irq: u32) {
    without_interrupts(|| set_blocked(blocked() | (1 << irq)));
}

/// Unblock IRQ `irq`; if it is pending and interrupts are on, the Host delivers it at
/// its next chance (`enable_lguest_irq`).
pub fn unblock(irq: u32) {
    without_interrupts(|| set_blocked(blocked() & !(1 << irq)));
}
