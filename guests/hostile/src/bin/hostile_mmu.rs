//! hostile_mmu: page tables that try to reach memory that is not the Guest's — frames
//! beyond RAM, announced (SET_PTE) or written behind the Host's back, page tables outside
//! RAM, 4 MiB pages, and the reserved top 4 MiB where 2.6.23 kept the Switcher.
//!
//! Variants:
//! - `pte_outside_ram`: SET_PTE naming a frame beyond RAM (Sudden Death);
//! - `stale_pte_outside_ram`: a mapped page's PTE silently rewritten to beyond RAM: the
//!   Host's stale shadow still reaches only the old page, and after FLUSH_TLB the refill
//!   is Sudden Death;
//! - `pde_outside_ram`: a page directory entry naming a page table beyond RAM (death);
//! - `pde_large_page`: a 4 MiB page directory entry (death);
//! - `set_pte_reserved`, `set_pmd_reserved`: announcing a mapping of the reserved region
//!   (death);
//! - `reserved_unannounced`: the Guest's own tables map the reserved region; reading it
//!   is a #GP from the segment limit, handled by the Guest, which carries on;
//! - `set_stack_in_reserved`: making the Host itself touch that mapping, through
//!   SET_STACK (death);
//! - `new_pgtable_outside_ram`: NEW_PGTABLE beyond RAM (death).
#![no_std]
#![no_main]

use conform::{check_eq, check_frame, ok, probe, record_traps, say, trap_of};
use guest::abi::segments::LGUEST_KERNEL_DS;
use guest::abi::{Hcall, RESERVED_START};
use guest::idt::Gate;
use guest::page_alloc::alloc_page;
use guest::paging::{self, PageDir, pte};
use guest::{BootInfo, phys_to_virt};
use hostile::{beyond_ram, raw_hcall};

guest::entry!(kmain);

/// User addresses no mapping uses, each in its own 4 MiB.
const VADDR: u32 = 0xA000_0000;
const VADDR2: u32 = 0xA040_0000;
const VADDR3: u32 = 0xA080_0000;

probe!(READ_RESERVED, "1: movl 0xffc00000, %eax", "2:");

fn kmain(_boot: &'static BootInfo) -> ! {
    conform::run(
        "hostile_mmu",
        "pte_outside_ram",
        &[
            ("pte_outside_ram", pte_outside_ram),
            ("stale_pte_outside_ram", stale_pte_outside_ram),
            ("pde_outside_ram", pde_outside_ram),
            ("pde_large_page", pde_large_page),
            ("set_pte_reserved", set_pte_reserved),
            ("set_pmd_reserved", set_pmd_reserved),
            ("reserved_unannounced", reserved_unannounced),
            ("set_stack_in_reserved", set_stack_in_reserved),
            ("new_pgtable_outside_ram", new_pgtable_outside_ram),
        ],
    )
}

/// Entry `i` of the table or directory at guest-physical `table`, for writing behind the
/// Host's back.
fn slot(table: u32, i: u32) -> *mut u32 {
    phys_to_virt(table).cast::<u32>().wrapping_add(i as usize)
}

/// The page-table entry for `vaddr` in `dir` (whose table must exist).
fn pte_slot(dir: PageDir, vaddr: u32) -> *mut u32 {
    // SAFETY: the directory is a page of RAM in the linear map.
    let pde = unsafe { slot(dir.0, vaddr >> 22).read_volatile() };
    slot(pde & pte::FRAME, (vaddr >> 12) & 0x3FF)
}

fn read(vaddr: u32) -> u32 {
    // SAFETY: the caller mapped it, or expects the Host to stop the read.
    unsafe { (vaddr as usize as *const u32).read_volatile() }
}

fn pte_outside_ram() {
    let dir = paging::init();
    dir.map(VADDR, alloc_page(), pte::RW);
    let frame = beyond_ram() & pte::FRAME;
    say!("SET_PTE maps {VADDR:#x} to guest-physical {frame:#x}, beyond RAM");
    // SAFETY: the Host should refuse the mapping; if not, we crash below.
    unsafe { raw_hcall(Hcall::SetPte as u32, dir.0, VADDR, frame | pte::P | pte::RW) };
    conform::fail(format_args!("the Host accepted a PTE beyond RAM"));
}

fn stale_pte_outside_ram() {
    let dir = paging::init();
    dir.map(VADDR, alloc_page(), pte::RW);
    // SAFETY: mapped just above.
    unsafe { (VADDR as usize as *mut u32).write_volatile(0x5eed) };
    let frame = beyond_ram() & pte::FRAME;
    // SAFETY: the entry exists; we change it without telling the Host, on purpose.
    unsafe { pte_slot(dir, VADDR).write_volatile(frame | pte::P | pte::RW | pte::A | pte::D) };
    let v = read(VADDR);
    check_eq!(v, 0x5eed, "read through the stale mapping");
    say!("after an unannounced PTE change the old page still reads {v:#x}; FLUSH_TLB and read again");
    paging::flush_tlb(false);
    let v = read(VADDR);
    conform::fail(format_args!("read {v:#x} through a PTE naming {frame:#x}, beyond RAM"));
}

fn pde_outside_ram() {
    let dir = paging::init();
    let table = beyond_ram() & pte::FRAME;
    say!("a page directory entry for {VADDR2:#x} names a page table at {table:#x}, beyond RAM");
    // SAFETY: an entry nothing uses yet, changed behind the Host's back on purpose.
    unsafe { slot(dir.0, VADDR2 >> 22).write_volatile(table | pte::P | pte::RW | pte::US | pte::A) };
    let v = read(VADDR2);
    conform::fail(format_args!("read {v:#x} through a page table beyond RAM"));
}

fn pde_large_page() {
    let dir = paging::init();
    let table = alloc_page();
    const PS: u32 = 0x80;
    // SAFETY: a fresh page and an unused directory entry.
    unsafe {
        slot(table, (VADDR3 >> 12) & 0x3FF).write_volatile(alloc_page() | pte::P | pte::RW | pte::A | pte::D);
        slot(dir.0, VADDR3 >> 22).write_volatile(table | pte::P | pte::RW | pte::US | pte::A | PS);
    }
    say!("a 4 MiB page directory entry for {VADDR3:#x}");
    let v = read(VADDR3);
    conform::fail(format_args!("read {v:#x} through a 4 MiB page"));
}

fn set_pte_reserved() {
    let dir = paging::init();
    say!("SET_PTE maps {RESERVED_START:#x}, the reserved top of memory");
    // SAFETY: the Host should refuse; if not, we crash below.
    unsafe { raw_hcall(Hcall::SetPte as u32, dir.0, RESERVED_START, alloc_page() | pte::P | pte::RW) };
    conform::fail(format_args!("the Host accepted a mapping of the reserved region"));
}

fn set_pmd_reserved() {
    let dir = paging::init();
    let table = alloc_page();
    // SAFETY: the last directory entry, which the Guest should never use.
    unsafe { slot(dir.0, 1023).write_volatile(table | pte::P | pte::RW | pte::A) };
    say!("SET_PMD for directory entry 1023, the reserved top of memory");
    // SAFETY: the Host should refuse; if not, we crash below.
    unsafe { raw_hcall(Hcall::SetPmd as u32, dir.0, 1023, 0) };
    conform::fail(format_args!("the Host accepted a page table for the reserved region"));
}

/// Map the reserved region's first page in our own tables, without telling the Host.
fn map_reserved_quietly() -> PageDir {
    let dir = paging::init();
    let table = alloc_page();
    // SAFETY: a fresh table in the last directory entry, behind the Host's back.
    unsafe {
        slot(table, 0).write_volatile(alloc_page() | pte::P | pte::RW | pte::A | pte::D);
        slot(table, 1).write_volatile(alloc_page() | pte::P | pte::RW | pte::A | pte::D);
        slot(dir.0, 1023).write_volatile(table | pte::P | pte::RW | pte::A);
    }
    dir
}

fn reserved_unannounced() {
    map_reserved_quietly();
    record_traps(Gate::TRAP);
    say!("our own page tables map {RESERVED_START:#x}; reading it");
    let seen = trap_of(&READ_RESERVED);
    check_frame(&seen, 13, 0, READ_RESERVED.fault);
    ok!("reading the reserved region is #GP(0) from the segment limit, whatever the page tables say");
}

fn set_stack_in_reserved() {
    map_reserved_quietly();
    let esp = RESERVED_START + 0x1000;
    say!("SET_STACK at {esp:#x}, which our own page tables map");
    // SAFETY: the Host should refuse; if not, we crash below (no user mode ever runs).
    unsafe { raw_hcall(Hcall::SetStack as u32, u32::from(LGUEST_KERNEL_DS), esp, 1) };
    conform::fail(format_args!("the Host accepted a stack in the reserved region"));
}

fn new_pgtable_outside_ram() {
    let at = beyond_ram() & pte::FRAME;
    say!("NEW_PGTABLE at {at:#x}, beyond RAM");
    // SAFETY: the Host should refuse; if not, we crash below.
    unsafe { raw_hcall(Hcall::NewPgtable as u32, at, 0, 0) };
    conform::fail(format_args!("the Host switched to a page directory beyond RAM"));
}
