//! `struct lguest_data`: the page of memory the Guest shares with the Host.
//!
//! The Guest registers it with `LHCALL_LGUEST_INIT` (guest-physical address in %edx). From
//! then on the Guest flips `irq_enabled` and queues async hypercalls by plain memory writes,
//! and the Host fills `cr2` and the boot-time fields. The Host never holds a reference into
//! guest memory; it reads and writes fields at the offsets of a [`LguestDataLayout`].
//!
//! Two revisions of the structure exist, and a Host must speak the one its Guest was built
//! against ([`Revision`]):
//! - the mission's seed (July 2007), [`LguestData`], 1120 bytes: `hcall_status` follows
//!   `cr2` directly, and hypercall 11 (`LHCALL_GET_WALLCLOCK`) gives the time. The Guest kit
//!   and this project's own Guests use it; the `OFF_*` constants are its offsets.
//! - the Linux 2.6.23 release, [`LguestDataRelease`], 1128 bytes: a `struct timespec time`
//!   that the Host keeps current sits after `cr2`, moving every later field by 8 bytes, and
//!   hypercall 11 is gone. Real 2.6.23 Linux Guests use it.

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

/// `struct timespec` on i386: the wall-clock time the 2.6.23 Host writes into
/// `lguest_data.time`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    pub tv_sec: i32,
    pub tv_nsec: i32,
}

/// `struct lguest_data` of the Linux 2.6.23 release, 1128 bytes on i386: the seed's
/// [`LguestData`] with `time` after `cr2`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LguestDataRelease {
    pub irq_enabled: u32,
    pub blocked_interrupts: [u32; 1],
    pub cr2: u32,
    /// Wall-clock time, written by the Host at LHCALL_LGUEST_INIT and whenever it
    /// delivers an interrupt (the Guest's `get_wallclock` reads it).
    pub time: Timespec,
    pub hcall_status: [u8; LHCALL_RING_SIZE],
    pub hcalls: [HcallRing; LHCALL_RING_SIZE],
    pub reserve_mem: u32,
    pub guestid: u16,
    pub tsc_khz: u32,
    pub noirq_start: u32,
    pub noirq_end: u32,
}

/// Which `struct lguest_data` (and hypercall set) a Guest speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Revision {
    /// The mission's seed: [`LguestData`], with LHCALL_GET_WALLCLOCK.
    Seed,
    /// The Linux 2.6.23 release: [`LguestDataRelease`], with `time`, without hypercall 11.
    Release,
}

impl Revision {
    /// The offsets of this revision's `struct lguest_data`.
    pub const fn layout(self) -> &'static LguestDataLayout {
        match self {
            Revision::Seed => &LguestDataLayout::SEED,
            Revision::Release => &LguestDataLayout::RELEASE,
        }
    }

    /// A short name for messages and `--trace`.
    pub const fn name(self) -> &'static str {
        match self {
            Revision::Seed => "seed (July 2007, 1120 bytes, with LHCALL_GET_WALLCLOCK)",
            Revision::Release => "2.6.23 release (1128 bytes, with time)",
        }
    }

    /// Whether hypercall `call` exists in this revision.
    pub const fn has_hcall(self, call: crate::Hcall) -> bool {
        !matches!((self, call), (Revision::Release, crate::Hcall::GetWallclock))
    }
}

/// Where each field of a revision of `struct lguest_data` is, in bytes from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LguestDataLayout {
    pub size: u32,
    pub irq_enabled: u32,
    pub blocked_interrupts: u32,
    pub cr2: u32,
    /// `struct timespec time`, in the release only.
    pub time: Option<u32>,
    pub hcall_status: u32,
    pub hcalls: u32,
    pub reserve_mem: u32,
    pub guestid: u32,
    pub tsc_khz: u32,
    pub noirq_start: u32,
    pub noirq_end: u32,
}

impl LguestDataLayout {
    /// The seed's [`LguestData`].
    pub const SEED: LguestDataLayout = LguestDataLayout {
        size: LGUEST_DATA_SIZE,
        irq_enabled: OFF_IRQ_ENABLED,
        blocked_interrupts: OFF_BLOCKED_INTERRUPTS,
        cr2: OFF_CR2,
        time: None,
        hcall_status: OFF_HCALL_STATUS,
        hcalls: OFF_HCALLS,
        reserve_mem: OFF_RESERVE_MEM,
        guestid: OFF_GUESTID,
        tsc_khz: OFF_TSC_KHZ,
        noirq_start: OFF_NOIRQ_START,
        noirq_end: OFF_NOIRQ_END,
    };

    /// The 2.6.23 release's [`LguestDataRelease`].
    pub const RELEASE: LguestDataLayout = LguestDataLayout {
        size: core::mem::size_of::<LguestDataRelease>() as u32,
        irq_enabled: offset_of!(LguestDataRelease, irq_enabled) as u32,
        blocked_interrupts: offset_of!(LguestDataRelease, blocked_interrupts) as u32,
        cr2: offset_of!(LguestDataRelease, cr2) as u32,
        time: Some(offset_of!(LguestDataRelease, time) as u32),
        hcall_status: offset_of!(LguestDataRelease, hcall_status) as u32,
        hcalls: offset_of!(LguestDataRelease, hcalls) as u32,
        reserve_mem: offset_of!(LguestDataRelease, reserve_mem) as u32,
        guestid: offset_of!(LguestDataRelease, guestid) as u32,
        tsc_khz: offset_of!(LguestDataRelease, tsc_khz) as u32,
        noirq_start: offset_of!(LguestDataRelease, noirq_start) as u32,
        noirq_end: offset_of!(LguestDataRelease, noirq_end) as u32,
    };
}

/// Size of one async ring entry (`struct hcall_ring`).
pub const HCALL_RING_ENTRY_SIZE: u32 = core::mem::size_of::<HcallRing>() as u32;
