//! The `lguest_data` page: the memory this Guest shares with the Host.
//!
//! It is a page-aligned static, initialised as `abi::LguestData::new()` has it
//! (interrupts off, every async ring slot done), and registered at boot by
//! [`lguest_init`]. The Host reads `irq_enabled`, `blocked_interrupts` and the async ring
//! ([`crate::hcall::async_hcall`]) and writes the rest whenever the Guest is stopped in a
//! trap, so every access here is volatile.

use crate::hcall::hcall;
use crate::{Global, virt_to_phys};
use abi::{Hcall, LguestData};

#[repr(C, align(4096))]
pub(crate) struct LguestDataPage(Global<LguestData>);

pub(crate) static LGUEST_DATA: LguestDataPage = LguestDataPage(Global::new(LguestData::new()));

/// The page. Write through it only with volatile stores, and only to Guest-owned fields.
pub fn as_ptr() -> *mut LguestData {
    LGUEST_DATA.0.get()
}

/// `LHCALL_LGUEST_INIT`: tell the Host where the page is. Done once, by the entry path,
/// before the Guest's main function; a second call kills the Guest. The no-interrupt
/// window of the kit's interrupt return path ([`crate::traps`]) is filled in first, so it
/// protects the very first trap.
pub(crate) fn lguest_init() {
    let (start, end) = crate::traps::noirq_window();
    // SAFETY: the page is a static the Host does not look at before LGUEST_INIT.
    unsafe {
        (&raw mut (*as_ptr()).noirq_start).write_volatile(start);
        (&raw mut (*as_ptr()).noirq_end).write_volatile(end);
    }
    // SAFETY: LGUEST_INIT takes the page's guest-physical address; the Host fills in
    // reserve_mem, guestid and tsc_khz, fields no Rust reference points into.
    unsafe { hcall(Hcall::LguestInit, virt_to_phys(as_ptr()), 0, 0) };
}

/// Read one field of the page with a volatile load.
macro_rules! read_field {
    ($field:ident) => {
        // SAFETY: the page is a static, so valid for reads; volatile because the Host
        // writes it behind the compiler's back.
        unsafe { (&raw const (*as_ptr()).$field).read_volatile() }
    };
}

/// Bytes at the top of the virtual address space the Guest must not use (set by the Host
/// at LGUEST_INIT).
pub fn reserve_mem() -> u32 {
    read_field!(reserve_mem)
}

/// This Guest's id (set by the Host at LGUEST_INIT).
pub fn guestid() -> u16 {
    read_field!(guestid)
}

/// The TSC frequency in kHz (set by the Host at LGUEST_INIT).
pub fn tsc_khz() -> u32 {
    read_field!(tsc_khz)
}

/// The faulting address of the last page fault (set by the Host before it delivers one).
pub fn cr2() -> u32 {
    read_field!(cr2)
}
