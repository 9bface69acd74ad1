//! Loading a user program: a static 32-bit x86 ELF executable, copied page by page into
//! fresh RAM and mapped into a task's address space.
//!
//! Only what the program headers say matters: each `PT_LOAD` segment becomes user pages
//! at its virtual address, writable only if the segment is, holding the file's bytes and
//! zeroes past them (`.bss`). Everything must lie in user space below the stack region.
//! The caller wraps this in `paging::lazy_mmu`, so the Host hears of all the new
//! mappings in one `LHCALL_FLUSH_ASYNC` at the end (`task.rs`).

use crate::task::STACK_BOTTOM;
use guest::abi::PAGE_SIZE;
use guest::page_alloc::alloc_page;
use guest::paging::{PageDir, pte};
use guest::phys_to_virt;

/// Where a loaded program is.
#[derive(Clone, Copy, Debug)]
pub struct Image {
    /// Where it starts running.
    pub entry: u32,
    /// The first and one past the last byte it occupies, page aligned.
    pub start: u32,
    pub end: u32,
}

const PT_LOAD: u32 = 1;
const PF_W: u32 = 2;

fn u16_at(elf: &[u8], off: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes(elf.get(off..off + 2)?.try_into().ok()?)))
}

fn u32_at(elf: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(elf.get(off..off + 4)?.try_into().ok()?))
}

/// One `PT_LOAD` segment: the bytes from the file that go at `vaddr`, then zeroes up to
/// `end`.
struct Segment<'a> {
    vaddr: u32,
    end: u32,
    file: &'a [u8],
    writable: bool,
}

/// Program header `i` (of those at `phoff`) if it is a segment to load, checked.
fn segment(elf: &[u8], phoff: usize, i: usize) -> Result<Option<Segment<'_>>, &'static str> {
    let field = |n: usize| u32_at(elf, phoff + i * 32 + 4 * n).ok_or("truncated program header");
    let (kind, offset, vaddr, filesz, memsz, flags) =
        (field(0)?, field(1)?, field(2)?, field(4)?, field(5)?, field(6)?);
    if kind != PT_LOAD || memsz == 0 {
        return Ok(None);
    }
    let end = vaddr.checked_add(memsz).filter(|&end| end <= STACK_BOTTOM);
    let Some(end) = end else { return Err("a segment reaches beyond user space") };
    let file = elf.get(offset as usize..(offset as usize).saturating_add(filesz as usize));
    let Some(file) = file.filter(|_| filesz <= memsz) else { return Err("a segment is not in the file") };
    Ok(Some(Segment { vaddr, end, file, writable: flags & PF_W != 0 }))
}

/// Map the program `elf` into `pgdir`, which must be a fresh address space that is not
/// in use yet, and say where it went. Everything is checked before anything is mapped, so
/// a bad program leaves the address space empty.
pub fn load(pgdir: PageDir, elf: &[u8]) -> Result<Image, &'static str> {
    // e_ident: "\x7fELF", 32-bit, little-endian; e_type executable; e_machine i386.
    if elf.get(..6) != Some(b"\x7fELF\x01\x01") || u16_at(elf, 16) != Some(2) || u16_at(elf, 18) != Some(3) {
        return Err("not a 32-bit x86 ELF executable");
    }
    let bad = "truncated ELF header";
    let entry = u32_at(elf, 24).ok_or(bad)?;
    let phoff = u32_at(elf, 28).ok_or(bad)? as usize;
    let phnum = u16_at(elf, 44).ok_or(bad)? as usize;

    let mut image = Image { entry, start: u32::MAX, end: 0 };
    for i in 0..phnum {
        if let Some(seg) = segment(elf, phoff, i)? {
            image.start = image.start.min(seg.vaddr & !(PAGE_SIZE - 1));
            image.end = image.end.max(seg.end.next_multiple_of(PAGE_SIZE));
        }
    }
    if image.start >= image.end || !(image.start..image.end).contains(&entry) {
        return Err("no loadable code at the entry point");
    }

    for i in 0..phnum {
        if let Some(seg) = segment(elf, phoff, i)? {
            let flags = pte::US | if seg.writable { pte::RW } else { 0 };
            for page in ((seg.vaddr & !(PAGE_SIZE - 1))..seg.end).step_by(PAGE_SIZE as usize) {
                map_segment_page(pgdir, page, seg.vaddr, seg.file, flags);
            }
        }
    }
    Ok(image)
}

/// Map user page `page` with `flags` and copy into it the part of the segment's `file`
/// bytes (which belong at `vaddr`) that falls in it. A page two segments share (when
/// they are not page aligned) is mapped once, with the rights of both.
fn map_segment_page(pgdir: PageDir, page: u32, vaddr: u32, file: &[u8], flags: u32) {
    let old = pgdir.entry(page);
    let frame = if old & pte::P != 0 { old & pte::FRAME } else { alloc_page() };
    pgdir.map(page, frame, flags | (old & pte::RW));
    // The bytes of `file` that land in this page, and where in the page they go.
    let from = page.max(vaddr) - vaddr;
    let to = (page + PAGE_SIZE - vaddr).min(file.len() as u32);
    if from < to {
        let dest = phys_to_virt(frame).wrapping_add((vaddr + from - page) as usize);
        // SAFETY: `frame` is a RAM page of this address space, reached through the
        // kernel's linear map, and the copy stays inside it (from..to is within the page).
        unsafe { core::ptr::copy_nonoverlapping(file[from as usize..].as_ptr(), dest, (to - from) as usize) };
    }
}
