//! How a Guest finds its boot information. This is the one part of the ABI that is this
//! project's own: the 2.6.23 Launcher passed these facts in a Linux boot header, which our
//! Guests (not Linux kernels) do not have.
//!
//! On the first instruction:
//! - the CPU is at CPL 1 with CS = [`crate::segments::LGUEST_KERNEL_CS`] and
//!   DS = ES = SS = FS = GS = [`crate::segments::LGUEST_KERNEL_DS`], flat up to the
//!   reserved top of memory;
//! - paging is on with a page directory that maps all of guest RAM twice, at virtual ==
//!   physical and at [`crate::PAGE_OFFSET`] + physical;
//! - %esi holds the guest-physical (and, through the identity map, virtual) address of a
//!   [`BootInfo`]; %esp points to a small stack below it; interrupts are disabled;
//! - everything between `BootInfo::usable_end` and the top of RAM belongs to the Launcher
//!   (boot page tables, this structure, the command line) and must not be reused until the
//!   Guest has installed its own page tables and copied what it wants.
//!
//! The device page (an array of [`crate::LguestDeviceDesc`]) is the page just above RAM:
//! guest-physical `mem_size`.

use core::mem::offset_of;

/// `BootInfo::magic`: "LGRS" in little-endian.
pub const BOOT_MAGIC: u32 = u32::from_le_bytes(*b"LGRS");
/// `BootInfo::version` of this layout.
pub const BOOT_VERSION: u32 = 1;
/// Longest command line the Launcher passes, NUL not counted.
pub const BOOT_CMDLINE_MAX: u32 = 1024;

/// What the Launcher tells the Guest at boot (pointed to by %esi).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootInfo {
    /// [`BOOT_MAGIC`].
    pub magic: u32,
    /// [`BOOT_VERSION`].
    pub version: u32,
    /// Bytes of guest RAM, starting at guest-physical 0.
    pub mem_size: u32,
    /// First byte of RAM the Guest may not use freely (the Launcher's boot data).
    pub usable_end: u32,
    /// Guest-physical address of the NUL-terminated command line.
    pub cmdline: u32,
    /// Length of the command line, NUL not counted.
    pub cmdline_len: u32,
    /// Guest-physical address of the device page (`mem_size`).
    pub device_page: u32,
    /// Guest-physical address of the boot page directory (in CR3 at entry).
    pub boot_pgdir: u32,
}

pub const BOOT_INFO_SIZE: u32 = core::mem::size_of::<BootInfo>() as u32;
pub const OFF_BOOT_MAGIC: u32 = offset_of!(BootInfo, magic) as u32;
pub const OFF_BOOT_VERSION: u32 = offset_of!(BootInfo, version) as u32;
pub const OFF_BOOT_MEM_SIZE: u32 = offset_of!(BootInfo, mem_size) as u32;
pub const OFF_BOOT_USABLE_END: u32 = offset_of!(BootInfo, usable_end) as u32;
pub const OFF_BOOT_CMDLINE: u32 = offset_of!(BootInfo, cmdline) as u32;
pub const OFF_BOOT_CMDLINE_LEN: u32 = offset_of!(BootInfo, cmdline_len) as u32;
pub const OFF_BOOT_DEVICE_PAGE: u32 = offset_of!(BootInfo, device_page) as u32;
pub const OFF_BOOT_PGDIR: u32 = offset_of!(BootInfo, boot_pgdir) as u32;
