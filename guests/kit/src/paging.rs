//! Page tables: the Guest builds them in its own RAM and tells the Host what it changed.
//!
//! The Host runs the Guest on *shadow* page tables of its own, made from the Guest's two
//! levels of 32-bit x86 tables (a page directory of 1024 entries, each naming a page table
//! of 1024 entries, each mapping 4 KiB). The Host's view changes only when the Guest says
//! so, as the 2.6.23 Guest did from its `set_pte`/`set_pmd` hooks:
//! - `LHCALL_SET_PTE(pgdir, vaddr, pte)` after changing one page-table entry;
//! - `LHCALL_SET_PMD(pgdir, index)` after changing one page-directory entry;
//! - `LHCALL_NEW_PGTABLE(pgdir)` to switch address spaces (what writing %cr3 was);
//! - `LHCALL_FLUSH_TLB(kernel)` to have it forget everything it knew about user mappings
//!   (and kernel ones too if `kernel` is non-zero), after changes not announced one by one.
//!
//! Page directories and entries are named by guest-physical address. Kernel mappings (at
//! and above [`PAGE_OFFSET`]) are the same in every address space: [`init`] builds them
//! once, mapping all of RAM and the device pages above it there, and every [`PageDir`]
//! shares those page tables.
//! Mapping at or above the reserved top of memory, or a page outside guest memory, is
//! Sudden Death.
//!
//! Announcements can be batched: inside [`lazy_mmu`] they are queued in the async
//! hypercall ring instead of made one by one, and flushed at the end with one
//! `LHCALL_FLUSH_ASYNC` — Linux's lazy MMU mode, which is how 2.6.23 built a new process's
//! page tables cheaply.

use crate::hcall::{async_hcall, flush_async, hcall};
use crate::page_alloc::{self, alloc_page, free_page};
use crate::{Global, boot, bus, crash_fmt, irq, phys_to_virt};
use abi::{Hcall, PAGE_OFFSET, PAGE_SIZE};

/// Page-table entry bits.
pub mod pte {
    /// Present.
    pub const P: u32 = 0x001;
    /// Writable.
    pub const RW: u32 = 0x002;
    /// User-accessible (ring 3).
    pub const US: u32 = 0x004;
    /// Accessed.
    pub const A: u32 = 0x020;
    /// Dirty.
    pub const D: u32 = 0x040;
    /// The frame address.
    pub const FRAME: u32 = 0xFFFF_F000;
}

/// Entries in a page directory or a page table.
const ENTRIES: u32 = 1024;
/// Page-directory index of the first kernel mapping.
const KERNEL_PDE: u32 = PAGE_OFFSET >> 22;
/// Bits of a page-directory entry: present, writable, user; what a page may do is up to
/// its page-table entry.
const PDE_FLAGS: u32 = pte::P | pte::RW | pte::US | pte::A;
/// Bits of the kernel's linear map.
const KERNEL_PTE: u32 = pte::P | pte::RW | pte::A | pte::D;

/// The kernel's page directory, once [`init`] has built it (guest-physical, 0 before).
static KERNEL_PGDIR: Global<u32> = Global::new(0);
/// Whether announcements are being queued ([`lazy_mmu`]).
static LAZY: Global<bool> = Global::new(false);

/// One address space: a page directory in guest RAM, by guest-physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageDir(pub u32);

/// Build the kernel's page tables — all of RAM at [`PAGE_OFFSET`] + physical, and the
/// device pages just above it ([`bus::pages_end`]), so the drivers keep working — and
/// switch to them (`LHCALL_NEW_PGTABLE`). The Launcher's boot page tables, and the rest
/// of its boot data above `usable_end`, are then free RAM for [`page_alloc`]. Call once,
/// early: code still using the boot identity map (virtual == physical) stops working.
pub fn init() -> PageDir {
    let mem = boot::mem_size();
    // Read while the boot page tables still map the device page.
    let end = bus::pages_end().max(mem);
    let pgdir = PageDir(alloc_page());
    for t in 0..end.div_ceil(4 << 20) {
        let table = alloc_page();
        for i in 0..ENTRIES {
            let frame = (t * ENTRIES + i) * PAGE_SIZE;
            if frame < end {
                write_entry(table, i, frame | KERNEL_PTE);
            }
        }
        write_entry(pgdir.0, KERNEL_PDE + t, table | pte::P | pte::RW | pte::A);
    }
    // SAFETY: only this function writes it, before any PageDir::new reads it.
    unsafe { *KERNEL_PGDIR.get() = pgdir.0 };
    pgdir.switch_to();
    page_alloc::extend_to(mem);
    pgdir
}

/// The kernel's page directory (after [`init`]).
pub fn kernel() -> PageDir {
    // SAFETY: written once by init.
    let pgdir = unsafe { *KERNEL_PGDIR.get() };
    if pgdir == 0 {
        crash_fmt(format_args!("paging: used before paging::init"));
    }
    PageDir(pgdir)
}

impl PageDir {
    /// A new address space: no user mappings, the kernel's shared.
    pub fn new() -> PageDir {
        let kernel = kernel();
        let pgdir = PageDir(alloc_page());
        for i in KERNEL_PDE..ENTRIES {
            write_entry(pgdir.0, i, read_entry(kernel.0, i));
        }
        pgdir
    }

    /// `LHCALL_NEW_PGTABLE`: run on this address space from now on.
    pub fn switch_to(self) {
        // SAFETY: the new directory maps the kernel as the old one did (init and new
        // copy it), so the code and stack we are on stay where they are.
        unsafe { hcall(Hcall::NewPgtable, self.0, 0, 0) };
    }

    /// Map the page at `vaddr` to the frame at guest-physical `phys` with `flags` (`pte::P`
    /// is added), making a page table if there is none, and tell the Host. Only user
    /// addresses (below `PAGE_OFFSET`) may need a new page table: the kernel's are fixed.
    pub fn map(self, vaddr: u32, phys: u32, flags: u32) {
        let entry = (phys & pte::FRAME) | flags | pte::P;
        let pde = vaddr >> 22;
        let dir_entry = read_entry(self.0, pde);
        if dir_entry & pte::P == 0 {
            if pde >= KERNEL_PDE {
                crash_fmt(format_args!("paging: no kernel page table for {vaddr:#x}"));
            }
            // Fill the new table first, so the Host never sees it half made.
            let table = alloc_page();
            write_entry(table, pte_index(vaddr), entry);
            write_entry(self.0, pde, table | PDE_FLAGS);
            announce(Hcall::SetPmd, self.0, pde, 0);
        } else {
            write_entry(dir_entry & pte::FRAME, pte_index(vaddr), entry);
            announce(Hcall::SetPte, self.0, vaddr & pte::FRAME, entry);
        }
    }

    /// Remove the mapping of the page at `vaddr`, if any, and tell the Host.
    pub fn unmap(self, vaddr: u32) {
        let dir_entry = read_entry(self.0, vaddr >> 22);
        if dir_entry & pte::P != 0 {
            write_entry(dir_entry & pte::FRAME, pte_index(vaddr), 0);
            announce(Hcall::SetPte, self.0, vaddr & pte::FRAME, 0);
        }
    }

    /// The page-table entry for `vaddr` (0 if there is none).
    pub fn entry(self, vaddr: u32) -> u32 {
        let dir_entry = read_entry(self.0, vaddr >> 22);
        if dir_entry & pte::P == 0 { 0 } else { read_entry(dir_entry & pte::FRAME, pte_index(vaddr)) }
    }

    /// Give back the directory and its user page tables (not the pages they map). It must
    /// not be the current address space. The Host is told each table is gone, so the
    /// pages can be reused for anything.
    pub fn free(self) {
        for pde in 0..KERNEL_PDE {
            let dir_entry = read_entry(self.0, pde);
            if dir_entry & pte::P != 0 {
                write_entry(self.0, pde, 0);
                announce(Hcall::SetPmd, self.0, pde, 0);
                free_page(dir_entry & pte::FRAME);
            }
        }
        free_page(self.0);
    }
}

impl Default for PageDir {
    fn default() -> Self {
        PageDir::new()
    }
}

/// `LHCALL_FLUSH_TLB`: have the Host drop what it knows of the user mappings (and the
/// kernel's too if `kernel`), so changes made without SET_PTE/SET_PMD take effect.
pub fn flush_tlb(kernel: bool) {
    // SAFETY: the Host re-reads the Guest's own page tables afterwards.
    unsafe { hcall(Hcall::FlushTlb, u32::from(kernel), 0, 0) };
}

/// Run `f` with page-table announcements queued in the async ring, then flush them all
/// with one hypercall. Until then the Host may still see the old mappings, so `f` must
/// not rely on the ones it makes (it builds tables for an address space not yet in use).
pub fn lazy_mmu<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: the flag is only touched here and in `announce`, on this one CPU.
    let was = unsafe { LAZY.get().replace(true) };
    let r = f();
    // SAFETY: as above.
    unsafe { *LAZY.get() = was };
    if !was {
        flush_async();
    }
    r
}

/// Tell the Host about a change: now, or queued when in [`lazy_mmu`].
fn announce(call: Hcall, pgdir: u32, arg2: u32, arg3: u32) {
    // SAFETY: the flag is a plain bool only changed by lazy_mmu.
    let lazy = unsafe { *LAZY.get() };
    // SAFETY: SET_PTE and SET_PMD only make the Host re-read tables we just wrote, which
    // stay where they are (a queued call reads them later, at the flush).
    unsafe {
        if lazy {
            async_hcall(call, pgdir, arg2, arg3);
        } else {
            hcall(call, pgdir, arg2, arg3);
        }
    }
}

fn pte_index(vaddr: u32) -> u32 {
    (vaddr >> 12) & (ENTRIES - 1)
}

/// Entry `i` of the directory or table at guest-physical `table`.
fn read_entry(table: u32, i: u32) -> u32 {
    // SAFETY: page tables are RAM pages from page_alloc, in the linear map.
    unsafe { phys_to_virt(table).cast::<u32>().add(i as usize).read_volatile() }
}

fn write_entry(table: u32, i: u32, value: u32) {
    irq::without_interrupts(|| {
        // SAFETY: as in read_entry; the table is ours to change.
        unsafe { phys_to_virt(table).cast::<u32>().add(i as usize).write_volatile(value) }
    });
}
