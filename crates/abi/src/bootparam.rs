//! The Linux boot header ("zero page") as the 2.6.23 lguest Launcher filled it for a Linux
//! Guest (`include/asm-i386/bootparam.h`, `e820.h`).
//!
//! A real Linux Guest is not entered at its ELF entry point: the Launcher finds the
//! [`LGUEST_SIGNATURE`] in the loaded image and starts just after it, in code that sets up
//! a stack and calls `lguest_init` with %esi holding the guest-physical address of the boot
//! header, which is 0. Of the header's 4096 bytes the 2.6.23 Launcher wrote only these:
//! one e820 entry covering all of RAM, the command-line pointer (the line itself at
//! guest-physical [`CMDLINE_ADDR`]), the initrd's place and size with "unknown boot loader",
//! and the hardware subarchitecture "lguest". Everything else is zero.
//!
//! This project's own Guests use [`crate::boot`] instead.

/// The bytes the Launcher looks for in a kernel image; execution starts just after them.
pub const LGUEST_SIGNATURE: &[u8] = b"GenuineLguest";

/// Guest-physical address of the boot header (`struct boot_params`).
pub const BOOT_PARAMS_ADDR: u32 = 0;
/// Size of the boot header.
pub const BOOT_PARAMS_SIZE: u32 = 4096;
/// Guest-physical address of the command line (just after the boot header).
pub const CMDLINE_ADDR: u32 = 4096;
/// Longest command line a 2.6.23 i386 kernel reads (`COMMAND_LINE_SIZE`), NUL included.
pub const COMMAND_LINE_SIZE: u32 = 2048;

/// `e820_entries`: the number of entries in the e820 map (`E820NR`).
pub const OFF_E820_ENTRIES: u32 = 0x1e8;
/// `hdr.type_of_loader`: 0xFF, "unknown", when an initrd is given.
pub const OFF_TYPE_OF_LOADER: u32 = 0x210;
/// `hdr.ramdisk_image`: guest-physical address of the initrd.
pub const OFF_RAMDISK_IMAGE: u32 = 0x218;
/// `hdr.ramdisk_size`: its size in bytes (the 2.6.23 Launcher gave it rounded up to pages).
pub const OFF_RAMDISK_SIZE: u32 = 0x21c;
/// `hdr.cmd_line_ptr`: guest-physical address of the command line.
pub const OFF_CMD_LINE_PTR: u32 = 0x228;
/// `hdr.hardware_subarch` (read by later kernels; 2.6.23 is entered through the signature).
pub const OFF_HARDWARE_SUBARCH: u32 = 0x23c;
/// `e820_map`: the memory map (`E820MAP`).
pub const OFF_E820_MAP: u32 = 0x2d0;

/// `type_of_loader` for a boot loader with no assigned number.
pub const LOADER_TYPE_UNKNOWN: u8 = 0xFF;
/// `hardware_subarch` of an lguest Guest.
pub const HARDWARE_SUBARCH_LGUEST: u32 = 1;
/// e820 type of usable RAM (`E820_RAM`).
pub const E820_RAM: u32 = 1;

/// One e820 map entry (`struct e820entry`, packed: 20 bytes).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820Entry {
    pub addr: u64,
    pub size: u64,
    pub r#type: u32,
}

impl E820Entry {
    /// The entry's bytes as they lie in the boot header.
    pub fn to_bytes(self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[..8].copy_from_slice(&{ self.addr }.to_le_bytes());
        b[8..16].copy_from_slice(&{ self.size }.to_le_bytes());
        b[16..].copy_from_slice(&{ self.r#type }.to_le_bytes());
        b
    }
}

/// Offset in a bzImage of the setup header's magic ("HdrS"), which marks the image as a
/// Linux boot image rather than an ELF file.
pub const BZIMAGE_HDRS_OFFSET: usize = 0x202;
/// The setup header's magic.
pub const BZIMAGE_HDRS: &[u8; 4] = b"HdrS";

/// Where a bzImage's decompressed kernel goes (guest-physical): 1 MiB.
pub const BZIMAGE_LOAD_ADDR: u32 = 0x100000;
