//! Booting a real Linux 2.6.23 lguest Guest, as the 2.6.23 Launcher laid it out and the
//! 2.6.23 Host started it.
//!
//! The kernel comes as an ELF `vmlinux` (each loadable segment at its physical address;
//! PAGE_OFFSET is the distance between the segments' virtual and physical addresses) or as
//! a `bzImage` (the gzip'd kernel inside it unpacked at 1 MiB; PAGE_OFFSET read from the
//! entry code, or guessed as the 2.6.23 Launcher did). Either way the entry point is just
//! after the `GenuineLguest` signature, a virtual address: the code there sets up a stack,
//! turns %esi (0) into a virtual pointer to the boot header and calls `lguest_init`.
//!
//! The memory map (guest-physical), from the top down:
//!
//! ```text
//!   total      ┬ end of guest memory
//!              │ device pages (the device page first), just above RAM
//!   mem_size   ┼ end of RAM
//!              │ the initrd, if any            (its size rounded up to pages)
//!              │ the page directory            (one page)
//!              │ page tables mapping all of RAM at PAGE_OFFSET
//!              │ ...free...
//!              │ the kernel, at its physical addresses (from 1 MiB)
//!   4096       ┼ the command line
//!   0          ┴ the boot header ("zero page": e820 map, command line and initrd pointers)
//! ```
//!
//! Unlike a kit Guest's, these page tables map RAM only at PAGE_OFFSET (virtual 0 is not
//! mapped), with user-accessible, writable entries (flags 7), as the original did. The
//! Guest replaces them with its own within its first milliseconds.
//!
//! The first registers are those the 2.6.23 Host gave: CS = `__KERNEL_CS|1`, DS = ES = SS
//! = `__KERNEL_DS|1`, FS = GS = 0, EFLAGS 0x202, every general register 0 (so %esi names
//! the boot header at guest-physical 0), and the GDT holds only the kernel's flat 4 GiB
//! code and data segments at DPL 1.

use super::{BootRequest, Layout, LoadError};
use crate::guest::TSC_KHZ;
use abi::bootparam::*;
use abi::segments::{LGUEST_KERNEL_CS, LGUEST_KERNEL_DS};
use abi::{PAGE_SIZE, RESERVED_START};
use cpu::{Cpu, PhysMem, Reg, SegReg, TscMode, Vcpu, cr};
use flate2::read::GzDecoder;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use std::io::Read;

/// Page-table entry flags of the Launcher's linear map: present, writable, user.
const PAGE_PRESENT: u32 = 0x7;
/// 4 KiB pages per page table.
const PTES_PER_PAGE: u32 = 1024;
/// Longest gzip'd kernel we unpack from a bzImage (more than any i386 kernel of the time).
const MAX_UNPACKED: u64 = 64 << 20;

/// A kernel loaded into guest memory.
struct Kernel {
    /// Virtual address of the first instruction (just after the signature).
    entry: u32,
    /// The kernel's PAGE_OFFSET.
    page_offset: u32,
    /// Guest-physical end of the kernel (its bss included): nothing of the Launcher's may
    /// be put below it.
    end: u32,
}

/// Whether `image` is a Linux lguest kernel: a bzImage, or an ELF file whose loadable
/// segments hold the signature.
pub(super) fn is_linux(image: &[u8]) -> bool {
    if is_bzimage(image) {
        return true;
    }
    let Ok(segments) = elf_segments(image) else { return false };
    segments.iter().any(|s| find(s.data, LGUEST_SIGNATURE).is_some())
}

fn is_elf(image: &[u8]) -> bool {
    image.starts_with(b"\x7fELF")
}

fn is_bzimage(image: &[u8]) -> bool {
    !is_elf(image) && image.get(BZIMAGE_HDRS_OFFSET..BZIMAGE_HDRS_OFFSET + 4) == Some(&BZIMAGE_HDRS[..])
}

/// Boot a Linux Guest: see the top of this file.
pub(super) fn load(image: &[u8], req: &BootRequest) -> Result<(Cpu, Layout), LoadError> {
    let mut layout = Layout::new(req.mem_size, 1 + req.device_pages, super::MIN_MEM)?;
    let mem_size = layout.mem_size;
    let mut mem = PhysMem::new(layout.total);
    let kernel = if is_elf(image) {
        load_vmlinux(image, &mut mem, mem_size)?
    } else {
        load_bzimage(image, &mut mem, mem_size)?
    };
    let initrd_size = match req.initrd {
        Some(initrd) => load_initrd(initrd, &mut mem, mem_size, kernel.end)?,
        None => 0,
    };
    layout.pgdir.0 = setup_pagetables(&mut mem, mem_size, initrd_size, &kernel)?;
    let emulate = math_emulation(req);
    let cmdline = with_math_emulation(req.cmdline, emulate);
    write_boot_params(&mut mem, mem_size, initrd_size, &cmdline)?;
    super::write_console_desc(&mut mem, &layout);
    let mut cpu = Cpu::new(mem);
    cpu.set_tsc_mode(TscMode::Realtime { khz: TSC_KHZ });
    // Flat 4 GiB segments: the 2.6.23 Host did not cut them, and Linux relies on reaching
    // the top of the address space through segments (%gs:-N for thread-local data).
    super::initial_gdt(&mut cpu, 0xFFFFF, false);
    initial_registers(&mut cpu, kernel.entry, emulate);
    Ok((cpu, layout))
}

/// One loadable segment of an ELF file.
struct Segment<'a> {
    index: usize,
    paddr: u32,
    vaddr: u32,
    memsz: u32,
    data: &'a [u8],
}

/// The loadable segments of a 32-bit x86 executable.
fn elf_segments(image: &[u8]) -> Result<Vec<Segment<'_>>, LoadError> {
    if !is_elf(image) {
        return Err(LoadError::NotElf);
    }
    let header = elf::FileHeader32::<object::LittleEndian>::parse(image)
        .map_err(|e| LoadError::Malformed(e.to_string()))?;
    let endian = object::LittleEndian;
    if header.e_machine(endian) != elf::EM_386 {
        return Err(LoadError::NotX86(header.e_machine(endian).0));
    }
    if header.e_type(endian) != elf::ET_EXEC {
        return Err(LoadError::NotExecutable(header.e_type(endian).0));
    }
    let phdrs = header.program_headers(endian, image).map_err(|e| LoadError::Malformed(e.to_string()))?;
    let mut out = Vec::new();
    for (index, ph) in phdrs.iter().enumerate() {
        if ph.p_type(endian) != elf::PT_LOAD {
            continue;
        }
        let data = ph
            .data(endian, image)
            .map_err(|_| LoadError::Malformed(format!("segment {index} lies outside the file")))?;
        if ph.p_filesz(endian) > ph.p_memsz(endian) {
            return Err(LoadError::Malformed(format!("segment {index} has p_filesz > p_memsz")));
        }
        out.push(Segment {
            index,
            paddr: ph.p_paddr(endian),
            vaddr: ph.p_vaddr(endian),
            memsz: ph.p_memsz(endian),
            data,
        });
    }
    Ok(out)
}

/// Load a `vmlinux`: every loadable segment at its physical address, all of them the same
/// distance (PAGE_OFFSET) below their virtual addresses.
fn load_vmlinux(image: &[u8], mem: &mut PhysMem, mem_size: u32) -> Result<Kernel, LoadError> {
    let segments = elf_segments(image)?;
    let first = segments.first().ok_or(LoadError::NoSegments)?;
    let page_offset = first.vaddr.wrapping_sub(first.paddr);
    let mut end = 0u32;
    let mut entry = None;
    for s in &segments {
        if s.vaddr.wrapping_sub(s.paddr) != page_offset {
            return Err(LoadError::Linux(format!(
                "segment {} is not at PAGE_OFFSET {page_offset:#x} (virtual {:#x}, physical {:#x})",
                s.index, s.vaddr, s.paddr
            )));
        }
        let seg_end = s.paddr as u64 + s.memsz as u64;
        if seg_end > mem_size as u64 {
            return Err(LoadError::SegmentOutsideRam {
                index: s.index,
                paddr: s.paddr as u64,
                end: seg_end,
                limit: mem_size,
            });
        }
        // Checked just above, so this cannot fail.
        mem.write(s.paddr, s.data).map_err(|e| LoadError::Malformed(e.to_string()))?;
        end = end.max(seg_end as u32);
        if entry.is_none()
            && let Some(at) = find(s.data, LGUEST_SIGNATURE)
        {
            entry = Some(s.paddr + at as u32);
        }
    }
    let signature = entry.ok_or(LoadError::NotLguestLinux)?;
    kernel_at(signature, page_offset, end)
}

/// Load a `bzImage`: find the gzip'd kernel in it (a gzip header written on Unix, as the
/// 2.6.23 Launcher looked for) and unpack it at 1 MiB; if what comes out is itself an ELF
/// file (as in kernels after 2.6.23), load that instead.
fn load_bzimage(image: &[u8], mem: &mut PhysMem, mem_size: u32) -> Result<Kernel, LoadError> {
    let start = (0..image.len().saturating_sub(10))
        .find(|&i| image[i] == 0x1F && image[i + 1] == 0x8B && image[i + 9] == 0x03)
        .ok_or_else(|| LoadError::Linux("no gzip'd kernel in the bzImage".into()))?;
    let mut kernel = Vec::new();
    GzDecoder::new(&image[start..])
        .take(MAX_UNPACKED + 1)
        .read_to_end(&mut kernel)
        .map_err(|e| LoadError::Linux(format!("cannot unpack the kernel in the bzImage: {e}")))?;
    if kernel.len() as u64 > MAX_UNPACKED {
        return Err(LoadError::Linux(format!("the unpacked kernel is larger than {MAX_UNPACKED} bytes")));
    }
    if is_elf(&kernel) {
        return load_vmlinux(&kernel, mem, mem_size);
    }
    let end = BZIMAGE_LOAD_ADDR as u64 + kernel.len() as u64;
    if end > mem_size as u64 {
        return Err(LoadError::SegmentOutsideRam {
            index: 0,
            paddr: BZIMAGE_LOAD_ADDR as u64,
            end,
            limit: mem_size,
        });
    }
    let at = find(&kernel, LGUEST_SIGNATURE).ok_or(LoadError::NotLguestLinux)?;
    let page_offset =
        page_offset_from_entry(&kernel[at..]).map_or_else(|| intuit_page_offset(&kernel), Ok)?;
    // Checked against mem_size above, so this cannot fail.
    mem.write(BZIMAGE_LOAD_ADDR, &kernel).map_err(|e| LoadError::Malformed(e.to_string()))?;
    kernel_at(BZIMAGE_LOAD_ADDR + at as u32, page_offset, end as u32)
}

/// The kernel whose signature is at guest-physical `signature`.
fn kernel_at(signature: u32, page_offset: u32, end: u32) -> Result<Kernel, LoadError> {
    if !page_offset.is_multiple_of(PTES_PER_PAGE * PAGE_SIZE) || page_offset == 0 {
        return Err(LoadError::Linux(format!(
            "PAGE_OFFSET {page_offset:#x} is not a multiple of 4 MiB above 0"
        )));
    }
    let entry = signature + LGUEST_SIGNATURE.len() as u32 + page_offset;
    Ok(Kernel { entry, page_offset, end: end.next_multiple_of(PAGE_SIZE) })
}

/// PAGE_OFFSET from the code after the signature, which is (2.6.23's `lguest_asm.S`):
/// `mov $stack,%esp; mov %esi,%eax; add $PAGE_OFFSET,%eax; jmp lguest_init`.
fn page_offset_from_entry(at_signature: &[u8]) -> Option<u32> {
    let code = at_signature.get(LGUEST_SIGNATURE.len()..)?;
    let word = |i: usize| code.get(i..i + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    (code.first() == Some(&0xBC) && code.get(5..8) == Some(&[0x89, 0xF0, 0x05])).then(|| word(8)).flatten()
}

/// The 2.6.23 Launcher's way of finding PAGE_OFFSET in a kernel without ELF headers: the
/// kernel is full of `mov ADDRESS,%eax` (opcode 0xA1) with kernel addresses, so the top
/// byte seen more than three times is PAGE_OFFSET's.
fn intuit_page_offset(kernel: &[u8]) -> Result<u32, LoadError> {
    let mut seen = [0u32; 256];
    for i in 0..kernel.len().saturating_sub(4) {
        if kernel[i] == 0xA1 {
            let top = kernel[i + 4];
            seen[top as usize] += 1;
            if seen[top as usize] > 3 {
                return Ok((top as u32) << 24);
            }
        }
    }
    Err(LoadError::Linux("cannot work out PAGE_OFFSET from the bzImage".into()))
}

/// Put the initrd at the top of RAM; returns the room it takes (its size rounded up to
/// pages).
fn load_initrd(initrd: &[u8], mem: &mut PhysMem, mem_size: u32, kernel_end: u32) -> Result<u32, LoadError> {
    let too_large = LoadError::InitrdTooLarge { size: initrd.len(), kernel_end };
    let size = u32::try_from(initrd.len()).map_err(|_| too_large.clone())?.next_multiple_of(PAGE_SIZE);
    let at = mem_size.checked_sub(size).filter(|&at| at >= kernel_end).ok_or(too_large)?;
    // Inside RAM, as just checked.
    mem.write(at, initrd).map_err(|e| LoadError::Malformed(e.to_string()))?;
    Ok(size)
}

/// Build the Launcher's page tables below the initrd: every page of RAM mapped at
/// PAGE_OFFSET (as far as the address space allows). Returns the page directory.
fn setup_pagetables(
    mem: &mut PhysMem,
    mem_size: u32,
    initrd_size: u32,
    k: &Kernel,
) -> Result<u32, LoadError> {
    let room = RESERVED_START.saturating_sub(k.page_offset);
    let mapped_pages = mem_size.min(room) / PAGE_SIZE;
    let pte_pages = mapped_pages.div_ceil(PTES_PER_PAGE);
    let pgdir = mem_size - initrd_size - PAGE_SIZE;
    let linear = pgdir.checked_sub(pte_pages * PAGE_SIZE).filter(|&l| l >= k.end).ok_or_else(|| {
        LoadError::MemoryTooSmall {
            got: mem_size as u64,
            min: (k.end + initrd_size + (pte_pages + 1) * PAGE_SIZE) as u64,
        }
    })?;
    // All inside RAM (between the kernel's end and the initrd), so no write can fail.
    for i in 0..mapped_pages {
        let _ = mem.write_u32(linear + i * 4, (i * PAGE_SIZE) | PAGE_PRESENT);
    }
    for i in (0..mapped_pages).step_by(PTES_PER_PAGE as usize) {
        let index = (i + k.page_offset / PAGE_SIZE) / PTES_PER_PAGE;
        let _ = mem.write_u32(pgdir + index * 4, (linear + i * 4) | PAGE_PRESENT);
    }
    Ok(pgdir)
}

/// The boot header at guest-physical 0 and the command line after it.
fn write_boot_params(
    mem: &mut PhysMem,
    mem_size: u32,
    initrd_size: u32,
    cmdline: &str,
) -> Result<(), LoadError> {
    if cmdline.len() >= COMMAND_LINE_SIZE as usize {
        return Err(LoadError::CmdlineTooLong { len: cmdline.len(), max: COMMAND_LINE_SIZE - 1 });
    }
    // The first two pages are RAM (at least MIN_MEM of it), so no write can fail.
    let _ = mem.write_u8(BOOT_PARAMS_ADDR + OFF_E820_ENTRIES, 1);
    let ram = E820Entry { addr: 0, size: mem_size as u64, r#type: E820_RAM };
    let _ = mem.write(BOOT_PARAMS_ADDR + OFF_E820_MAP, &ram.to_bytes());
    let _ = mem.write_u32(BOOT_PARAMS_ADDR + OFF_CMD_LINE_PTR, CMDLINE_ADDR);
    let _ = mem.write_u32(BOOT_PARAMS_ADDR + OFF_HARDWARE_SUBARCH, HARDWARE_SUBARCH_LGUEST);
    if initrd_size != 0 {
        let _ = mem.write_u32(BOOT_PARAMS_ADDR + OFF_RAMDISK_IMAGE, mem_size - initrd_size);
        let _ = mem.write_u32(BOOT_PARAMS_ADDR + OFF_RAMDISK_SIZE, initrd_size);
        let _ = mem.write_u8(BOOT_PARAMS_ADDR + OFF_TYPE_OF_LOADER, LOADER_TYPE_UNKNOWN);
    }
    let _ = mem.write(CMDLINE_ADDR, cmdline.as_bytes());
    let _ = mem.write_u8(CMDLINE_ADDR + cmdline.len() as u32, 0);
    Ok(())
}

/// Whether the Guest emulates the x87 in its kernel rather than use the CPU's: when the
/// Launcher was asked to (`--math-emulation`), or the command line already says `no387`
/// (a kernel that believes it has no FPU never saves one across a context switch, so the
/// CPU's must not be there for its programs to use).
fn math_emulation(req: &BootRequest) -> bool {
    req.math_emulation || has_no387(req.cmdline)
}

fn has_no387(cmdline: &str) -> bool {
    cmdline.split_whitespace().any(|w| w == "no387")
}

/// The kernel command line, with `no387` added when the Guest emulates the FPU.
///
/// `lguest_init` tells the kernel it has an FPU; `no387` (arch/i386/kernel/cpu/bugs.c)
/// takes that back and sets EM in the Guest's idea of CR0, so that the #NM every x87
/// instruction raises (the CPU runs such a Guest with CR0.EM set) goes to the kernel's
/// math emulator (`CONFIG_MATH_EMULATION`) rather than to its lazy-FPU restore, which
/// would fault again forever.
fn with_math_emulation(cmdline: &str, emulate: bool) -> String {
    if !emulate || has_no387(cmdline) {
        return cmdline.to_string();
    }
    let cmdline = cmdline.trim();
    if cmdline.is_empty() { "no387".to_string() } else { format!("no387 {cmdline}") }
}

/// The registers the 2.6.23 Host started a Guest with (see the top of this file), and the
/// FPU: the CPU's x87 (CR0.EM clear, FPU and FXSR in CPUID), or none when the Guest
/// emulates it (CR0.EM set, and no FXSR in CPUID: a 2.6.23 kernel that sees FXSR runs
/// FXSAVE at boot, `mxcsr_feature_mask_init`, which its emulator cannot do).
fn initial_registers(cpu: &mut Cpu, entry: u32, emulate: bool) {
    // The selectors name the descriptors `initial_gdt` just installed; loading cannot fail.
    let _ = cpu.load_segment(SegReg::Cs, LGUEST_KERNEL_CS);
    for s in [SegReg::Ds, SegReg::Es, SegReg::Ss] {
        let _ = cpu.load_segment(s, LGUEST_KERNEL_DS);
    }
    for s in [SegReg::Fs, SegReg::Gs] {
        let _ = cpu.load_segment(s, 0);
    }
    let em = if emulate { cr::CR0_EM } else { 0 };
    cpu.set_cr0(cr::CR0_PE | cr::CR0_PG | cr::CR0_WP | cr::CR0_ET | cr::CR0_NE | em);
    if emulate {
        cpu.set_cpuid_features_edx(cpu::CPUID_FEATURES_EDX & !cpu::CPUID_FXSR);
    }
    cpu.set_eflags(0x202);
    for r in Reg::ALL {
        cpu.set_reg(r, 0);
    }
    cpu.set_eip(entry);
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    haystack
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == first)
        .map(|(i, _)| i)
        .find(|&i| haystack.get(i..i + needle.len()) == Some(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_offset_is_read_from_the_code_after_the_signature() {
        let mut code = LGUEST_SIGNATURE.to_vec();
        code.extend_from_slice(&[0xBC, 0x00, 0xE0, 0x20, 0xC0, 0x89, 0xF0, 0x05, 0, 0, 0, 0xC0, 0xE9]);
        assert_eq!(page_offset_from_entry(&code), Some(0xC000_0000));
        code[LGUEST_SIGNATURE.len()] = 0x90;
        assert_eq!(page_offset_from_entry(&code), None);
    }

    #[test]
    fn the_launchers_guess_takes_the_top_byte_of_mov_to_eax_addresses() {
        let mut k = vec![0u8; 64];
        for i in 0..4 {
            k[i * 8..i * 8 + 5].copy_from_slice(&[0xA1, 0x10, 0x20, 0x30, 0xC0]);
        }
        assert_eq!(intuit_page_offset(&k), Ok(0xC000_0000));
        assert!(intuit_page_offset(&k[..24]).is_err());
    }

    #[test]
    fn the_linear_map_covers_ram_at_page_offset_and_nothing_at_zero() {
        let mem_size = 16 << 20;
        let mut mem = PhysMem::new(mem_size);
        let k = Kernel { entry: 0xC010_0000, page_offset: 0xC000_0000, end: 2 << 20 };
        let pgdir = setup_pagetables(&mut mem, mem_size, 0, &k).unwrap();
        assert_eq!(pgdir, mem_size - PAGE_SIZE);
        assert_eq!(mem.read_u32(pgdir).unwrap(), 0, "virtual 0 is not mapped");
        let pde = mem.read_u32(pgdir + (0xC000_0000 >> 22) * 4).unwrap();
        assert_eq!(pde & 0xFFF, PAGE_PRESENT);
        let pt = pde & !0xFFF;
        assert_eq!(mem.read_u32(pt + 5 * 4).unwrap(), (5 * PAGE_SIZE) | PAGE_PRESENT);
        let last_pde = mem.read_u32(pgdir + ((0xC000_0000u32 + mem_size - 1) >> 22) * 4).unwrap();
        assert_ne!(last_pde, 0);
        assert_eq!(mem.read_u32(pgdir + ((0xC000_0000u32 + mem_size) >> 22) * 4).unwrap(), 0);
    }

    #[test]
    fn an_initrd_that_would_cover_the_kernel_is_refused() {
        let mut mem = PhysMem::new(4 << 20);
        let big = vec![0u8; 3 << 20];
        assert!(matches!(
            load_initrd(&big, &mut mem, 4 << 20, 2 << 20),
            Err(LoadError::InitrdTooLarge { .. })
        ));
        assert_eq!(load_initrd(&big[..5000], &mut mem, 4 << 20, 2 << 20), Ok(8192));
    }
}
