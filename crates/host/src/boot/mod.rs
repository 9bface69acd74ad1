//! Building a Guest: tell what kind of kernel an image is, lay out guest memory, load the
//! kernel, write what it is told at boot, build its first page tables, GDT and registers.
//!
//! Two kinds of kernel boot, each the way its own Launcher did it:
//! - a **Linux 2.6.23 lguest Guest** (`linux.rs`): an ELF `vmlinux` or a `bzImage` holding
//!   the `GenuineLguest` signature, entered just after it with the Linux boot header at
//!   guest-physical 0, an optional initrd at the top of RAM, and page tables mapping RAM at
//!   the kernel's PAGE_OFFSET, exactly as the 2.6.23 Launcher and Host set it up;
//! - a Guest built with **this project's kit** (`kit.rs`): any other static 32-bit ELF,
//!   entered at its ELF entry point with a [`abi::boot::BootInfo`] in %esi.
//!
//! [`load`] tells them apart by the image alone (the signature, or a bzImage's setup
//! header), so the user never has to say which.
//!
//! Both put the device page (an array of `lguest_device_desc`) just above RAM, followed by
//! the pages the devices own, and both start the CPU at CPL 1 with paging on; the page
//! directory they built becomes the Host's first shadowed one.

mod kit;
mod linux;

use crate::addr::GuestPhys;
use abi::segments::*;
use abi::{LguestDeviceDesc, PAGE_OFFSET, PAGE_SIZE, RESERVED_START, Revision};
use cpu::{Cpu, Descriptor, PhysMem, Vcpu};
use thiserror::Error;

pub use kit::MIN_MEM;

/// Largest guest memory (RAM and device pages): PAGE_OFFSET + memory must stay below the
/// reserved top 4 MiB.
pub const MAX_GUEST_MEMORY: u32 = RESERVED_START - PAGE_OFFSET;

/// Why a kernel cannot be booted. These are the user's mistakes, reported before the
/// Guest runs.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum LoadError {
    #[error("not an ELF file or a Linux bzImage")]
    NotElf,
    #[error("a 64-bit ELF file; the Guest must be a 32-bit x86 kernel")]
    Not32Bit,
    #[error("an ELF file for machine {0}, not 32-bit x86 (EM_386)")]
    NotX86(u16),
    #[error("not an executable ELF file (type {0}); link the kernel statically")]
    NotExecutable(u16),
    #[error("a big-endian ELF file; x86 is little-endian")]
    BigEndian,
    #[error("malformed ELF file: {0}")]
    Malformed(String),
    #[error("no loadable segments")]
    NoSegments,
    #[error(
        "segment {index} (guest-physical {paddr:#x}..{end:#x}) does not fit in guest RAM below {limit:#x}; \
         use --mem to give the Guest more memory"
    )]
    SegmentOutsideRam { index: usize, paddr: u64, end: u64, limit: u32 },
    #[error("entry point {0:#x} is not inside the kernel's loaded segments")]
    EntryOutside(u32),
    #[error("memory size {got:#x} is too small: at least {min:#x} bytes needed")]
    MemoryTooSmall { got: u64, min: u64 },
    #[error("memory size {got:#x} is too large: at most {max:#x} bytes")]
    MemoryTooLarge { got: u64, max: u64 },
    #[error("command line is {len} bytes; at most {max}")]
    CmdlineTooLong { len: usize, max: u32 },
    #[error("{0}")]
    Device(String),
    #[error(
        "a Linux kernel without lguest support: no \"GenuineLguest\" signature (build it with CONFIG_LGUEST_GUEST=y)"
    )]
    NotLguestLinux,
    #[error("Linux kernel: {0}")]
    Linux(String),
    #[error("an initrd needs a Linux kernel; {0} is not one (this project's Guests take no initrd)")]
    InitrdForKitGuest(&'static str),
    #[error(
        "the initrd ({size} bytes) does not fit in guest RAM above the kernel (which ends at {kernel_end:#x}); \
         use --mem to give the Guest more memory"
    )]
    InitrdTooLarge { size: usize, kernel_end: u32 },
}

/// Where things are in guest memory, for every kind of Guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Bytes of RAM (what the Guest is told it has).
    pub mem_size: u32,
    /// Total guest memory: RAM plus the device pages above it.
    pub total: u32,
    /// The device page, just above RAM.
    pub device_page: GuestPhys,
    /// The page directory the Guest starts with.
    pub pgdir: GuestPhys,
}

impl Layout {
    /// RAM of `mem_size` bytes rounded up to pages, `device_pages` pages above it; the page
    /// directory is filled in by the loader.
    fn new(mem_size: u64, device_pages: u32, min: u32) -> Result<Layout, LoadError> {
        let mem = mem_size.div_ceil(PAGE_SIZE as u64) * PAGE_SIZE as u64;
        if mem < min as u64 {
            return Err(LoadError::MemoryTooSmall { got: mem_size, min: min as u64 });
        }
        let total = mem + device_pages as u64 * PAGE_SIZE as u64;
        if total > MAX_GUEST_MEMORY as u64 {
            let max = MAX_GUEST_MEMORY as u64 - device_pages as u64 * PAGE_SIZE as u64;
            return Err(LoadError::MemoryTooLarge { got: mem_size, max });
        }
        let (mem, total) = (mem as u32, total as u32);
        Ok(Layout { mem_size: mem, total, device_page: GuestPhys(mem), pgdir: GuestPhys(0) })
    }
}

/// Which boot protocol a kernel image wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelKind {
    /// A Linux 2.6.23 lguest Guest (`vmlinux` or `bzImage`).
    Linux,
    /// A Guest built with this project's kit.
    Kit,
}

impl KernelKind {
    /// The `struct lguest_data` revision this kind of Guest speaks.
    pub fn revision(self) -> Revision {
        match self {
            KernelKind::Linux => Revision::Release,
            KernelKind::Kit => Revision::Seed,
        }
    }

    /// Tell a Linux lguest kernel from a kit Guest by the image alone: a bzImage is Linux;
    /// an ELF file is Linux if its loadable segments hold the `GenuineLguest` signature.
    pub fn of(image: &[u8]) -> KernelKind {
        if linux::is_linux(image) { KernelKind::Linux } else { KernelKind::Kit }
    }
}

/// What the Launcher hands the loader besides the image.
pub struct BootRequest<'a> {
    pub mem_size: u64,
    /// Pages the devices other than the console own (the device page itself not counted).
    pub device_pages: u32,
    pub cmdline: &'a str,
    pub initrd: Option<&'a [u8]>,
    /// A Linux Guest emulates the x87 in its kernel instead of using the CPU's.
    pub math_emulation: bool,
}

/// A Guest ready to run: its CPU (memory inside), where things are, and what it is.
pub struct Booted {
    pub cpu: Cpu,
    pub layout: Layout,
    pub kind: KernelKind,
}

/// Build a Guest from a kernel image: memory, the loaded kernel, boot data, the device
/// page with the console in it, page tables, GDT and registers.
pub fn load(image: &[u8], req: &BootRequest) -> Result<Booted, LoadError> {
    let kind = KernelKind::of(image);
    let (cpu, layout) = match kind {
        KernelKind::Linux => linux::load(image, req)?,
        KernelKind::Kit => {
            if req.initrd.is_some() {
                return Err(LoadError::InitrdForKitGuest("the kernel image"));
            }
            kit::load(image, req)?
        }
    };
    Ok(Booted { cpu, layout, kind })
}

/// Write device descriptor `n` of the device page.
pub fn write_device_desc(mem: &mut PhysMem, layout: &Layout, n: u32, d: &LguestDeviceDesc) {
    let at = layout.device_page.0 + n * abi::DEVICE_DESC_SIZE;
    let _ = mem.write_u16(at + abi::OFF_DESC_TYPE, d.r#type);
    let _ = mem.write_u16(at + abi::OFF_DESC_FEATURES, d.features);
    let _ = mem.write_u16(at + abi::OFF_DESC_STATUS, d.status);
    let _ = mem.write_u16(at + abi::OFF_DESC_NUM_PAGES, d.num_pages);
    let _ = mem.write_u32(at + abi::OFF_DESC_PFN, d.pfn);
}

/// The console, which is always device 0 (as in 2.6.23).
fn write_console_desc(mem: &mut PhysMem, layout: &Layout) {
    let console = LguestDeviceDesc {
        r#type: abi::LGUEST_DEVICE_T_CONSOLE,
        features: 0,
        status: 0,
        num_pages: 0,
        pfn: 0,
    };
    write_device_desc(mem, layout, 0, &console);
}

/// A GDT with only the Guest kernel's code and data segments (DPL 1, flat from 0, limit
/// `limit_pages` pages, accessed bits preset so the CPU never needs to write the table,
/// which is Host memory), and user segments if `user` is set.
fn initial_gdt(cpu: &mut Cpu, limit_pages: u32, user: bool) {
    let seg = |access: u8| Descriptor::new(0, limit_pages, access, cpu::dflags::G | cpu::dflags::DB);
    for i in 0..GDT_ENTRIES {
        cpu.set_gdt_entry(i, Descriptor(0));
    }
    cpu.set_gdt_entry(GDT_ENTRY_KERNEL_CS, seg(0xBB));
    cpu.set_gdt_entry(GDT_ENTRY_KERNEL_DS, seg(0xB3));
    if user {
        cpu.set_gdt_entry(GDT_ENTRY_USER_CS, seg(0xFB));
        cpu.set_gdt_entry(GDT_ENTRY_USER_DS, seg(0xF3));
    }
}
