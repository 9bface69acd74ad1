//! Booting a Guest built with this project's kit: its ELF loaded at its physical
//! addresses, a [`BootInfo`] and the command line at the top of RAM, and boot page tables
//! mapping guest memory twice (see `abi::boot` for the Guest's side of this contract).
//!
//! The memory map (guest-physical), from the top down:
//!
//! ```text
//!   total      ┬ end of guest memory
//!              │ device pages (the device page first), just above RAM
//!   mem_size   ┼ end of RAM
//!              │ BootInfo + command line      (one page)
//!              │ the Launcher's boot stack    (one page)
//!              │ boot page tables + directory
//!   usable_end ┼ first byte the Guest must not reuse before it has its own page tables
//!              │ the kernel, loaded at its ELF physical addresses (usually from 1 MiB)
//!   0          ┴
//! ```
//!
//! The boot page tables map all of guest memory twice, at virtual == physical (as later
//! lguest Launchers did) and at PAGE_OFFSET + physical (the 2.6.23 linear map), so kernels
//! linked either way boot.

use super::{BootRequest, Layout, LoadError};
use crate::addr::GuestPhys;
use crate::guest::TSC_KHZ;
use abi::boot::{BOOT_CMDLINE_MAX, BOOT_MAGIC, BOOT_VERSION, BootInfo};
use abi::segments::*;
use abi::{PAGE_OFFSET, PAGE_SIZE, RESERVED_START};
use cpu::{Cpu, PhysMem, Reg, SegReg, TscMode, Vcpu, cr, pte};
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};

/// Smallest RAM we accept: a kernel at 1 MiB needs something above it.
pub const MIN_MEM: u32 = 2 << 20;

/// Where the kit's boot protocol puts things, besides the common [`Layout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KitLayout {
    mem_size: u32,
    total: u32,
    device_page: GuestPhys,
    pub usable_end: u32,
    pub pgdir: GuestPhys,
    pub boot_info: GuestPhys,
    pub cmdline: GuestPhys,
    /// Initial %esp (virtual == physical).
    pub stack_top: u32,
}

/// Boot a kit Guest: see the top of this file.
pub(super) fn load(image: &[u8], req: &BootRequest) -> Result<(Cpu, Layout), LoadError> {
    let layout = KitLayout::new(req.mem_size, 1 + req.device_pages)?;
    let mut mem = PhysMem::new(layout.total);
    let k = load_elf(image, &mut mem, &layout)?;
    build_page_tables(&mut mem, &layout);
    write_boot_info(&mut mem, &layout, req.cmdline)?;
    let common = Layout {
        mem_size: layout.mem_size,
        total: layout.total,
        device_page: layout.device_page,
        pgdir: layout.pgdir,
    };
    super::write_console_desc(&mut mem, &common);
    let mut cpu = Cpu::new(mem);
    cpu.set_tsc_mode(TscMode::Realtime { khz: TSC_KHZ });
    super::initial_gdt(&mut cpu, GUEST_SEGMENT_PAGES_LIMIT, true);
    initial_registers(&mut cpu, &layout, k.entry);
    Ok((cpu, common))
}

impl KitLayout {
    /// Lay out `mem_size` bytes of RAM (rounded up to pages) with `device_pages` pages of
    /// device memory above it.
    fn new(mem_size: u64, device_pages: u32) -> Result<KitLayout, LoadError> {
        let Layout { mem_size: mem, total, .. } = Layout::new(mem_size, device_pages, MIN_MEM)?;
        let page_tables = total.div_ceil(4 << 20);
        let boot_info = mem - PAGE_SIZE;
        let stack_top = boot_info;
        let pgdir = stack_top - PAGE_SIZE - (page_tables + 1) * PAGE_SIZE;
        Ok(KitLayout {
            mem_size: mem,
            total,
            device_page: GuestPhys(mem),
            usable_end: pgdir,
            pgdir: GuestPhys(pgdir),
            boot_info: GuestPhys(boot_info),
            cmdline: GuestPhys(boot_info + abi::boot::BOOT_INFO_SIZE),
            stack_top,
        })
    }
}

/// A loaded kernel: guest memory with the kernel in it, and where to start.
struct Kernel {
    entry: u32,
}

/// Load the ELF segments of `image` into `mem` at their physical addresses. A segment
/// whose physical address is in the PAGE_OFFSET window (a linker script that set no
/// load address) is loaded at `paddr - PAGE_OFFSET`.
fn load_elf(image: &[u8], mem: &mut PhysMem, layout: &KitLayout) -> Result<Kernel, LoadError> {
    if image.len() < 16 || &image[..4] != b"\x7fELF" {
        return Err(LoadError::NotElf);
    }
    // e_ident[EI_CLASS] and e_ident[EI_DATA].
    match image[4] {
        1 => {}
        2 => return Err(LoadError::Not32Bit),
        _ => return Err(LoadError::Malformed("unknown ELF class".into())),
    }
    if image[5] != 1 {
        return Err(LoadError::BigEndian);
    }
    let header = elf::FileHeader32::<object::LittleEndian>::parse(image)
        .map_err(|e| LoadError::Malformed(e.to_string()))?;
    let endian = object::LittleEndian;
    let machine = header.e_machine(endian);
    if machine != elf::EM_386 {
        return Err(LoadError::NotX86(machine.0));
    }
    let kind = header.e_type(endian);
    if kind != elf::ET_EXEC {
        return Err(LoadError::NotExecutable(kind.0));
    }
    let phdrs = header.program_headers(endian, image).map_err(|e| LoadError::Malformed(e.to_string()))?;
    let mut segments = Vec::new();
    for (index, ph) in phdrs.iter().enumerate() {
        if ph.p_type(endian) != elf::PT_LOAD || ph.p_memsz(endian) == 0 {
            continue;
        }
        let mut paddr = ph.p_paddr(endian) as u64;
        if paddr >= PAGE_OFFSET as u64 {
            paddr -= PAGE_OFFSET as u64;
        }
        let memsz = ph.p_memsz(endian) as u64;
        let filesz = ph.p_filesz(endian) as u64;
        let end = paddr + memsz;
        if end > layout.usable_end as u64 {
            return Err(LoadError::SegmentOutsideRam { index, paddr, end, limit: layout.usable_end });
        }
        if filesz > memsz {
            return Err(LoadError::Malformed(format!("segment {index} has p_filesz > p_memsz")));
        }
        let data = ph
            .data(endian, image)
            .map_err(|_| LoadError::Malformed(format!("segment {index} lies outside the file")))?;
        // Checked against usable_end above, so this cannot fail.
        mem.write(paddr as u32, data).map_err(|e| LoadError::Malformed(e.to_string()))?;
        let vaddr = ph.p_vaddr(endian);
        segments.push((paddr as u32, end as u32, vaddr, memsz as u32));
    }
    if segments.is_empty() {
        return Err(LoadError::NoSegments);
    }
    let entry = header.e_entry(endian);
    let inside = segments.iter().any(|&(_, _, vaddr, memsz)| entry.wrapping_sub(vaddr) < memsz);
    if !inside {
        return Err(LoadError::EntryOutside(entry));
    }
    Ok(Kernel { entry })
}

/// Page-table entry flags for the boot mappings: present, writable, supervisor only,
/// accessed and dirty already set (so the first touches need no page-table writes).
const BOOT_PTE: u32 = pte::P | pte::RW | pte::A | pte::D;

/// Build the boot page directory: guest memory mapped at 0 and at PAGE_OFFSET, sharing
/// one set of page tables.
fn build_page_tables(mem: &mut PhysMem, layout: &KitLayout) {
    let pgdir = layout.pgdir.0;
    let first_pt = pgdir + PAGE_SIZE;
    let tables = layout.total.div_ceil(4 << 20);
    let mut page = [0u8; PAGE_SIZE as usize];
    for t in 0..tables {
        for (i, chunk) in page.chunks_exact_mut(4).enumerate() {
            let frame = (t * 1024 + i as u32) * PAGE_SIZE;
            let e = if frame < layout.total { frame | BOOT_PTE } else { 0 };
            chunk.copy_from_slice(&e.to_le_bytes());
        }
        let _ = mem.write(first_pt + t * PAGE_SIZE, &page);
        let pde = (first_pt + t * PAGE_SIZE) | BOOT_PTE;
        let _ = mem.write_u32(pgdir + t * 4, pde);
        let _ = mem.write_u32(pgdir + ((PAGE_OFFSET >> 22) + t) * 4, pde);
    }
}

/// Write BootInfo, the command line and the device page.
fn write_boot_info(mem: &mut PhysMem, layout: &KitLayout, cmdline: &str) -> Result<(), LoadError> {
    if cmdline.len() > BOOT_CMDLINE_MAX as usize {
        return Err(LoadError::CmdlineTooLong { len: cmdline.len(), max: BOOT_CMDLINE_MAX });
    }
    let info = BootInfo {
        magic: BOOT_MAGIC,
        version: BOOT_VERSION,
        mem_size: layout.mem_size,
        usable_end: layout.usable_end,
        cmdline: layout.cmdline.0,
        cmdline_len: cmdline.len() as u32,
        device_page: layout.device_page.0,
        boot_pgdir: layout.pgdir.0,
    };
    let words = [
        info.magic,
        info.version,
        info.mem_size,
        info.usable_end,
        info.cmdline,
        info.cmdline_len,
        info.device_page,
        info.boot_pgdir,
    ];
    for (i, w) in words.iter().enumerate() {
        let _ = mem.write_u32(layout.boot_info.0 + 4 * i as u32, *w);
    }
    let _ = mem.write(layout.cmdline.0, cmdline.as_bytes());
    let _ = mem.write_u8(layout.cmdline.0 + cmdline.len() as u32, 0);
    Ok(())
}

/// Flat segment limit (in pages, for G=1) that stops just below the reserved top 4 MiB.
pub const GUEST_SEGMENT_PAGES_LIMIT: u32 = (RESERVED_START >> 12) - 1;

/// Put the CPU in the state the Guest's first instruction sees (see `abi::boot`).
fn initial_registers(cpu: &mut Cpu, layout: &KitLayout, entry: u32) {
    // The selectors name descriptors we just installed; loading cannot fail.
    let _ = cpu.load_segment(SegReg::Cs, LGUEST_KERNEL_CS);
    for s in [SegReg::Ds, SegReg::Es, SegReg::Ss, SegReg::Fs, SegReg::Gs] {
        let _ = cpu.load_segment(s, LGUEST_KERNEL_DS);
    }
    cpu.set_cr0(cr::CR0_PE | cr::CR0_PG | cr::CR0_WP | cr::CR0_ET | cr::CR0_NE | cr::CR0_EM);
    cpu.set_cr3(layout.pgdir.0);
    cpu.set_eflags(cpu::eflags::FIXED);
    for r in Reg::ALL {
        cpu.set_reg(r, 0);
    }
    cpu.set_reg(Reg::Esi, layout.boot_info.0);
    cpu.set_reg(Reg::Esp, layout.stack_top);
    cpu.set_eip(entry);
}
