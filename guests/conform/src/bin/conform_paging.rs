//! conform_paging: NEW_PGTABLE, SET_PTE, SET_PMD and FLUSH_TLB over the Host's shadow
//! page tables. The Guest's tables live in its RAM (built with the kit's `paging`), and
//! the Host's view changes when the Guest announces a change; page-table entries naming
//! memory outside the Guest, or mappings in the reserved top 4 MiB, are Sudden Death.
//! Two frames are told apart by what is written in them (`A` or `B`).
//!
//! Variants: `set_pte`, `new_pgtable`, `set_pmd`, `flush_tlb`, `flush_tlb_kernel`,
//! `kernel_everywhere`, `lazy`, `pf_error_codes`, and Sudden Death: `pte_outside_ram`, `pte_outside_ram_access`,
//! `reserved_pte`, `reserved_pmd`.
#![no_std]
#![no_main]

use conform::{Probe, check, check_eq, check_frame, ok, probe, record_traps, say, trap_of};
use guest::abi::{Hcall, PAGE_OFFSET, PAGE_SIZE, RESERVED_START};
use guest::idt::Gate;
use guest::page_alloc::alloc_page;
use guest::paging::{self, PageDir, pte};
use guest::{BootInfo, hcall, phys_to_virt};

guest::entry!(kmain);

/// The address the tests map and unmap (a user address, touched by the kernel).
const VADDR: u32 = 0x0040_0000;
const A: u32 = 0xAAAA_0001;
const B: u32 = 0xBBBB_0002;

probe!(READ_VADDR, "1: movl 0x00400000, %eax", "2:");
probe!(WRITE_VADDR, "1: movl %eax, 0x00400004", "2:");

fn kmain(_boot: &'static BootInfo) -> ! {
    record_traps(Gate::TRAP);
    paging::init();
    conform::run(
        "conform_paging",
        "set_pte",
        &[
            ("set_pte", set_pte),
            ("new_pgtable", new_pgtable),
            ("set_pmd", set_pmd),
            ("flush_tlb", flush_tlb),
            ("flush_tlb_kernel", flush_tlb_kernel),
            ("kernel_everywhere", kernel_everywhere),
            ("lazy", lazy),
            ("pf_error_codes", pf_error_codes),
            ("pte_outside_ram", pte_outside_ram),
            ("pte_outside_ram_access", pte_outside_ram_access),
            ("reserved_pte", reserved_pte),
            ("reserved_pmd", reserved_pmd),
        ],
    )
}

/// A fresh frame holding `tag` in its first word.
fn frame_with(tag: u32) -> u32 {
    let f = alloc_page();
    // SAFETY: a fresh page of RAM in the linear map.
    unsafe { phys_to_virt(f).cast::<u32>().write_volatile(tag) };
    f
}

/// The first word at virtual `v`, read as the CPU sees it now.
fn read(v: u32) -> u32 {
    // SAFETY: the callers map `v` first.
    unsafe { (v as usize as *const u32).read_volatile() }
}

fn set_pte() {
    let pgdir = paging::kernel();
    let s = trap_of(&READ_VADDR);
    check_frame(&s, 14, 0, READ_VADDR.fault);
    pgdir.map(VADDR, frame_with(A), pte::RW);
    check_eq!(read(VADDR), A, "after SET_PTE (new page table, SET_PMD)");
    pgdir.map(VADDR, frame_with(B), pte::RW);
    check_eq!(read(VADDR), B, "after SET_PTE changed the frame");
    pgdir.unmap(VADDR);
    let s = trap_of(&READ_VADDR);
    check_frame(&s, 14, 0, READ_VADDR.fault);
    ok!("unmapped faults, SET_PTE maps frame A then B, SET_PTE 0 unmaps again");
}

fn new_pgtable() {
    let (a, b) = (PageDir::new(), PageDir::new());
    a.map(VADDR, frame_with(A), pte::RW);
    b.map(VADDR, frame_with(B), pte::RW);
    for _ in 0..3 {
        a.switch_to();
        check_eq!(read(VADDR), A, "in address space a");
        b.switch_to();
        check_eq!(read(VADDR), B, "in address space b");
    }
    paging::kernel().switch_to();
    let s = trap_of(&READ_VADDR);
    check_frame(&s, 14, 0, READ_VADDR.fault);
    ok!("NEW_PGTABLE switches between two address spaces mapping {VADDR:#x} differently");
}

fn set_pmd() {
    let pgdir = paging::kernel();
    pgdir.map(VADDR, frame_with(A), pte::RW);
    check_eq!(read(VADDR), A, "through the first page table");
    // A second page table mapping B, swapped into the directory entry by hand.
    let table = alloc_page();
    // SAFETY: fresh page-table page and our own directory, both RAM in the linear map.
    unsafe {
        let entry = frame_with(B) | pte::P | pte::RW | pte::A | pte::D;
        phys_to_virt(table).cast::<u32>().add(((VADDR >> 12) & 0x3FF) as usize).write_volatile(entry);
        phys_to_virt(pgdir.0).cast::<u32>().add((VADDR >> 22) as usize).write_volatile(table | 0x7);
        hcall(Hcall::SetPmd, pgdir.0, VADDR >> 22, 0);
    }
    check_eq!(read(VADDR), B, "after SET_PMD");
    ok!("SET_PMD makes a replaced page-directory entry take effect");
}

/// Point the PTE for `vaddr` in `pgdir` at `frame` without telling the Host.
fn write_pte_quietly(pgdir: PageDir, vaddr: u32, frame: u32) {
    // SAFETY: the directory and its tables are RAM in the linear map.
    unsafe {
        let dir = phys_to_virt(pgdir.0).cast::<u32>();
        let table = dir.add((vaddr >> 22) as usize).read_volatile() & pte::FRAME;
        let entry = frame | pte::P | pte::RW | pte::A | pte::D;
        phys_to_virt(table).cast::<u32>().add(((vaddr >> 12) & 0x3FF) as usize).write_volatile(entry);
    }
}

fn flush_tlb() {
    let pgdir = paging::kernel();
    pgdir.map(VADDR, frame_with(A), pte::RW);
    check_eq!(read(VADDR), A, "before the quiet change");
    write_pte_quietly(pgdir, VADDR, frame_with(B));
    let before = read(VADDR);
    paging::flush_tlb(false);
    check_eq!(read(VADDR), B, "after FLUSH_TLB");
    let seen = if before == A { "the old frame" } else { "already the new one" };
    ok!("an unannounced PTE change is seen after FLUSH_TLB (before it: {seen})");
}

fn flush_tlb_kernel() {
    let pgdir = paging::kernel();
    // A kernel (linear-map) address of a spare page, pointed elsewhere by hand.
    let spare = frame_with(A);
    let v = PAGE_OFFSET + spare;
    check_eq!(read(v), A, "the spare page through the linear map");
    write_pte_quietly(pgdir, v, frame_with(B));
    paging::flush_tlb(false);
    let after_user_flush = read(v);
    paging::flush_tlb(true);
    check_eq!(read(v), B, "after FLUSH_TLB(kernel too)");
    write_pte_quietly(pgdir, v, spare);
    paging::flush_tlb(true);
    let kept = if after_user_flush == A { "kept" } else { "dropped too" };
    ok!("FLUSH_TLB 1 makes an unannounced kernel PTE change seen (FLUSH_TLB 0 {kept} it)");
}

fn kernel_everywhere() {
    let kernel = paging::kernel();
    let other = PageDir::new();
    let spare = frame_with(A);
    let v = PAGE_OFFSET + spare;
    other.switch_to();
    check_eq!(read(v), A, "in the other address space, before");
    kernel.switch_to();
    kernel.map(v, frame_with(B), pte::RW | pte::A | pte::D);
    check_eq!(read(v), B, "in the kernel's address space");
    other.switch_to();
    check_eq!(read(v), B, "in the other address space, after SET_PTE in the kernel's");
    kernel.switch_to();
    ok!("SET_PTE of a kernel address in one page directory applies to all of them");
}

fn lazy() {
    let pgdir = PageDir::new();
    let frames = [frame_with(A), frame_with(B), frame_with(A ^ B)];
    paging::lazy_mmu(|| {
        for (i, f) in frames.iter().enumerate() {
            pgdir.map(VADDR + i as u32 * PAGE_SIZE, *f, pte::RW);
        }
    });
    pgdir.switch_to();
    for (i, want) in [A, B, A ^ B].iter().enumerate() {
        check_eq!(read(VADDR + i as u32 * PAGE_SIZE), *want, "a page mapped in lazy MMU mode");
    }
    paging::kernel().switch_to();
    ok!("three mappings announced through the async ring and flushed at once are all seen");
}

fn pf_error_codes() {
    let pgdir = paging::kernel();
    let fault = |p: &Probe, code: u32| {
        let s = trap_of(p);
        check_frame(&s, 14, code, p.fault);
        s.cr2
    };
    let r = fault(&READ_VADDR, 0);
    let w = fault(&WRITE_VADDR, 2);
    pgdir.map(VADDR, frame_with(A), 0);
    check_eq!(read(VADDR), A, "a read-only page reads");
    let ro = fault(&WRITE_VADDR, 3);
    check_eq!(r, VADDR, "cr2 of the read");
    check_eq!(w, VADDR + 4, "cr2 of the write");
    check_eq!(ro, VADDR + 4, "cr2 of the write to a read-only page");
    ok!("kernel #PF error codes from the Guest's tables: read 0, write 2, write to read-only 3");
}

fn pte_outside_ram() {
    let beyond = guest::boot::mem_size() + (64 << 20);
    let pgdir = paging::kernel();
    pgdir.map(VADDR, frame_with(A), pte::RW);
    say!("SET_PTE mapping {VADDR:#x} to guest-physical {beyond:#x}, outside guest memory");
    pgdir.map(VADDR, beyond, pte::RW | pte::A);
    conform::fail(format_args!("the Host accepted a PTE outside guest memory"));
}

fn pte_outside_ram_access() {
    let beyond = guest::boot::mem_size() + (64 << 20);
    // A new page table announced with SET_PMD: the Host looks at the entry when it is used.
    paging::kernel().map(VADDR, beyond, pte::RW);
    say!("reading {VADDR:#x}, which the Guest's tables map to guest-physical {beyond:#x}");
    let v = read(VADDR);
    conform::fail(format_args!("read {v:#x} through a PTE outside guest memory"));
}

fn reserved_pte() {
    say!("SET_PTE for {RESERVED_START:#x}, in the reserved top of memory");
    // SAFETY: the Host must refuse it.
    unsafe { hcall(Hcall::SetPte, paging::kernel().0, RESERVED_START, alloc_page() | pte::P | pte::RW) };
    conform::fail(format_args!("the Host accepted a mapping at {RESERVED_START:#x}"));
}

fn reserved_pmd() {
    let pgdir = paging::kernel();
    let table = alloc_page();
    // SAFETY: our own directory; the Host must refuse the entry we announce.
    unsafe { phys_to_virt(pgdir.0).cast::<u32>().add(1023).write_volatile(table | pte::P | pte::RW) };
    say!("SET_PMD for page-directory entry 1023, the reserved top 4 MiB");
    // SAFETY: as above.
    unsafe { hcall(Hcall::SetPmd, pgdir.0, 1023, 0) };
    check!(false, "the Host accepted page-directory entry 1023");
}
