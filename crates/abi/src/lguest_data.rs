//! `struct lguest_data`: the page of memory the Guest shares with the Host.
//!
//! The Guest registers it with `LHCALL_LGUEST_INIT` (guest-physical address in %edx). From
//! then on the Guest flips `irq_enabled` and queues async hypercalls by plain memory writes,
//! and the Host fills `cr2` and the boot-time fields. The Host never holds a reference into
//! guest memory; it reads and writes fields at the `OFF_*` offsets below.

use crate::hcall::{HcallRing, LHCALL_RING_SIZE};
use core::mem::offset_of;

/// `struct lguest_data`, 1120 bytes on i386.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LguestData {
    /// 512 (`X86_EFLAGS_IF`) = interrupts enabled, 0 = disabled. Written by the Guest.
    pub irq_enabled: u32,
    /// Bitmap of the IRQs the Guest masks (`DECLARE_BITMAP(blocked_interrupts, 32)`).
    pub blocked_interrupts: [u32; 1],
    /// Faulting virtual address of the last page fault, written by the Host.
    pub cr2: u32,
    /// Async ring status: [`crate::HCALL_PENDING`] (0) or [`crate::HCALL_DONE`] (0xFF).
    pub hcall_status: [u8; LHCALL_RING_SIZE],
    /// The queued calls' registers.
    pub hcalls: [HcallRing; LHCALL_RING_SIZE],
    /// Bytes at the top of the address space the Guest must not touch (Host-written).
    pub reserve_mem: u32,
    /// This Guest's id, from which the network driver derives its MAC (Host-written).
    pub guestid: u16,
    /// TSC frequency in kHz (Host-written).
    pub tsc_khz: u32,
    /// Start of an EIP range in which the Host must not deliver interrupts.
    pub noirq_start: u32,
    /// End (exclusive) of that range: usually the Guest's interrupt-return path.
    pub noirq_end: u32,
}

impl LguestData {
    /// A page as the Guest should start it: interrupts off, ring all done.
    pub const fn new() -> Self {
        LguestData {
            irq_enabled: 0,
            blocked_interrupts: [0],
            cr2: 0,
            hcall_status: [crate::HCALL_DONE; LHCALL_RING_SIZE],
            hcalls: [HcallRing { eax: 0, edx: 0, ebx: 0, ecx: 0 }; LHCALL_RING_SIZE],
            reserve_mem: 0,
            guestid: 0,
            tsc_khz: 0,
            noirq_start: 0,
            noirq_end: 0,
        }
    }
}

impl Default for LguestData {
    fn default() -> Self {
        Self::new()
    }
}

/// Size of `struct lguest_data` in guest memory.
pub const LGUEST_DATA_SIZE: u32 = core::mem::size_of::<LguestData>() as u32;

pub const OFF_IRQ_ENABLED: u32 = offset_of!(LguestData, irq_enabled) as u32;
pub const OFF_BLOCKED_INTERRUPTS: u32 = offset_of!(LguestData, blocked_interrupts) as u32;
pub const OFF_CR2: u32 = offset_of!(LguestData, cr2) as u32;
pub const OFF_HCALL_STATUS: u32 = offset_of!(LguestData, hcall_status) as u32;
pub const OFF_HCALLS: u32 = offset_of!(LguestData, hcalls) as u32;
pub const OFF_RESERVE_MEM: u32 = offset_of!(LguestData, reserve_mem) as u32;
pub const OFF_GUESTID: u32 = offset_of!(LguestData, guestid) as u32;
pub const OFF_TSC_KHZ: u32 = offset_of!(LguestData, tsc_khz) as u32;
pub const OFF_NOIRQ_START: u32 = offset_of!(LguestData, noirq_start) as u32;
pub const OFF_NOIRQ_END: u32 = offset_of!(LguestData, noirq_end) as u32;

/// Size of one async ring entry (`struct hcall_ring`).
pub const HCALL_RING_ENTRY_SIZE: u32 = core::mem::size_of::<HcallRing>() as u32;
