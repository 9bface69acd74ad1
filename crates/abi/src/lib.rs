//! The Guest↔Host ABI of lguest as of Linux 2.6.23, and nothing else.
//!
//! Both sides depend on this crate: the Host (`crates/host`) reads and writes these
//! structures in guest memory, and the Guest kit (`guests/kit`) lays them out in its own
//! memory. Everything here is `#[repr(C)]` with the layout of the 32-bit (i386) original,
//! which the tests at the bottom check field by field.
//!
//! Names follow the C headers (`include/asm-i386/lguest.h`, `include/linux/lguest_launcher.h`)
//! so a reader holding the original can find their way; where Rust style forces a change
//! (CamelCase types) the C name is given in the doc comment.
//!
//! [`bootparam`] is the Linux boot header the 2.6.23 Launcher wrote for a real Linux Guest,
//! and [`lguest_data`] has both revisions of the shared page ([`Revision`]): the mission's
//! seed, which the Guest kit uses, and the 2.6.23 release, which Linux uses.
//!
//! Two things are this project's own additions, because the 2.6.23 Launcher passed them
//! through a Linux boot header that our Guests do not have: [`boot`] (how a Guest finds its
//! RAM size, command line and device page) and the fixed Guest segment selectors in
//! [`segments`].
#![no_std]

pub mod boot;
pub mod bootparam;
pub mod devices;
pub mod hcall;
pub mod lguest_data;
pub mod segments;

pub use devices::*;
pub use hcall::*;
pub use lguest_data::*;

/// The trap vector of a hypercall: `int $0x1F`.
pub const LGUEST_TRAP_ENTRY: u8 = 0x1F;

/// Number of virtual interrupt lines; IRQ n arrives at vector [`FIRST_EXTERNAL_VECTOR`] + n.
pub const LGUEST_IRQS: usize = 32;

/// The vector of IRQ 0 (the clock). Vectors below it are CPU exceptions.
pub const FIRST_EXTERNAL_VECTOR: u8 = 32;

/// `X86_EFLAGS_IF`: the value of `lguest_data.irq_enabled` that means "interrupts on".
pub const X86_EFLAGS_IF: u32 = 0x200;

/// Smallest clock-event delta the Host honours, in nanoseconds (smaller ones are raised).
pub const LG_CLOCK_MIN_DELTA: u32 = 100;

/// Largest clock-event delta, in nanoseconds (`ULONG_MAX` on i386).
pub const LG_CLOCK_MAX_DELTA: u32 = u32::MAX;

/// Guest pages are 4 KiB.
pub const PAGE_SIZE: u32 = 4096;

/// Where the 2.6.23 Launcher's linear map of guest RAM started: guest-physical 0 appears
/// at this virtual address as well as at virtual 0.
pub const PAGE_OFFSET: u32 = 0xC000_0000;

/// Bytes at the top of the virtual address space the Guest must never use (the Host's
/// switcher lived there). The Host reports it in `lguest_data.reserve_mem`.
pub const RESERVE_MEM: u32 = 4 << 20;

/// First virtual address the Guest may not map or reach through a segment.
pub const RESERVED_START: u32 = 0u32.wrapping_sub(RESERVE_MEM);
