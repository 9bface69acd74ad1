//! conform_segments: LHCALL_LOAD_GDT and LHCALL_LOAD_TLS copy descriptors into the
//! Host's GDT with lguest's fix-ups — ring 0 becomes ring 1, the accessed bit is set,
//! limits are cut below the reserved top of memory, the Host's own entries are kept —
//! and refuse system descriptors and bases in the reserved region (Sudden Death). What
//! the Host installed is read back with `lar` and `lsl`, which work at any privilege.
//!
//! Variants: `gdt_ring0`, `gdt_limit`, `gdt_host_entries`, `tls`, `gdt_system`,
//! `gdt_reserved_base`, `tls_system` (the last three Sudden Death).
#![no_std]
#![no_main]

use conform::{check, check_eq, ok, say};
use guest::BootInfo;
use guest::abi::RESERVED_START;
use guest::abi::segments::{GDT_ENTRY_LGUEST_CS, GDT_ENTRY_TLS_MIN, LGUEST_KERNEL_DS};
use guest::gdt::{self, Descriptor, access, flags, lar, lsl};

guest::entry!(kmain);

fn kmain(_boot: &'static BootInfo) -> ! {
    conform::run(
        "conform_segments",
        "gdt_ring0",
        &[
            ("gdt_ring0", gdt_ring0),
            ("gdt_limit", gdt_limit),
            ("gdt_host_entries", gdt_host_entries),
            ("tls", tls),
            ("gdt_system", gdt_system),
            ("gdt_reserved_base", gdt_reserved_base),
            ("tls_system", tls_system),
        ],
    )
}

fn dpl(access_rights: u32) -> u32 {
    (access_rights >> 13) & 3
}

/// Load %gs with `sel`, read the word at %gs:0, put %gs back.
fn read_gs0(sel: u32) -> u32 {
    let v: u32;
    // SAFETY: the caller names a readable data segment; %gs is restored.
    unsafe {
        core::arch::asm!(
            "movl {sel:e}, %gs",
            "movl %gs:0, {v:e}",
            "movl {kds:e}, %gs",
            sel = in(reg) sel,
            kds = in(reg) u32::from(LGUEST_KERNEL_DS),
            v = out(reg) v,
            options(att_syntax, nostack, readonly),
        )
    };
    v
}

/// Where our test entries go: free in Linux's layout.
const CODE: usize = 20;
const DATA: usize = 21;
const SMALL: usize = 22;

fn gdt_ring0() {
    let mut table = gdt::default_gdt();
    table[CODE] = Descriptor::flat(access::KERNEL_CODE);
    table[DATA] = Descriptor::flat(access::KERNEL_DATA);
    gdt::load_gdt(&table[..DATA + 1]);
    // Still running: the kernel's own CS and DS (also ring 0 in the table) were fixed up.
    for (n, what) in [(CODE, "code"), (DATA, "data"), (12, "kernel code"), (13, "kernel data")] {
        let ar = lar((n as u32) << 3).unwrap_or_else(|| conform::fail(format_args!("lar {n}: not visible")));
        check_eq!(dpl(ar), 1, "DPL of the ring-0 descriptor");
        check!(ar & 0x100 != 0, "GDT entry {n} ({what}): accessed bit clear ({ar:#x})");
    }
    // A ring-1 data segment is loadable at CPL 1.
    let here = 0x5eed_0001u32;
    let at = &raw const here as u32;
    let v: u32;
    // SAFETY: loads a flat writable data segment into %fs, reads our local, restores %fs.
    unsafe {
        core::arch::asm!(
            "movl {sel:e}, %fs",
            "movl %fs:({at}), {v:e}",
            "movl {kds:e}, %fs",
            sel = in(reg) ((DATA as u32) << 3) | 1,
            kds = in(reg) u32::from(LGUEST_KERNEL_DS),
            at = in(reg) at,
            v = out(reg) v,
            options(att_syntax, nostack, readonly),
        )
    };
    check_eq!(v, here, "read through the new data segment");
    ok!("ring-0 descriptors come back as ring 1 with the accessed bit set, and are usable");
}

fn gdt_limit() {
    let mut table = gdt::default_gdt();
    table[DATA] = Descriptor::flat(access::KERNEL_DATA);
    table[SMALL] = Descriptor::new(0x1000, 0xFFF, access::KERNEL_DATA, flags::DB);
    gdt::load_gdt(&table[..SMALL + 1]);
    let flat = lsl((DATA as u32) << 3);
    check_eq!(flat.unwrap_or(0), RESERVED_START - 1, "limit of a flat 4 GiB segment");
    check_eq!(lsl((SMALL as u32) << 3).unwrap_or(0), 0xFFF, "limit of a small segment");
    ok!("a flat 4 GiB segment's limit is cut to {:#x}; a small one is kept", RESERVED_START - 1);
}

fn gdt_host_entries() {
    let mut table = gdt::default_gdt();
    table[GDT_ENTRY_LGUEST_CS] = Descriptor::flat(access::KERNEL_CODE);
    gdt::load_gdt(&table);
    check!(
        lar((GDT_ENTRY_LGUEST_CS as u32) << 3).is_none(),
        "the Host's entry 10 took the Guest's descriptor"
    );
    ok!("the Host's own GDT entry 10 is skipped, not loaded");
}

fn tls() {
    static A: u32 = 0xA11C_E000;
    static B: u32 = 0xB0B0_0000;
    static C: u32 = 0xC0C0_0000;
    let seg = |v: &'static u32| Descriptor::new(&raw const *v as u32, 0xFFF, access::USER_DATA, flags::DB);
    gdt::load_tls(&[seg(&A), seg(&B), Descriptor::NULL]);
    let sel = |i: usize| (((GDT_ENTRY_TLS_MIN + i) as u32) << 3) | 3;
    check_eq!(read_gs0(sel(0)), A, "%gs:0 through TLS entry 6");
    check_eq!(read_gs0(sel(1)), B, "%gs:0 through TLS entry 7");
    check_eq!(lsl(sel(0)).unwrap_or(0), 0xFFF, "limit of TLS entry 6");
    check!(lar(sel(2)).is_none(), "empty TLS entry 8 is visible");
    // Segment registers are reloaded: %fs holding entry 6 sees its new base at once.
    let v: u32;
    // SAFETY: %fs gets TLS entry 6 (readable), then is restored after the reload.
    unsafe {
        core::arch::asm!(
            "movl {sel:e}, %fs",
            "movl %eax, %eax",
            options(att_syntax, nostack, nomem),
            sel = in(reg) sel(0),
        );
        gdt::load_tls(&[seg(&C), seg(&B), Descriptor::NULL]);
        core::arch::asm!(
            "movl %fs:0, {v:e}",
            "movl {kds:e}, %fs",
            kds = in(reg) u32::from(LGUEST_KERNEL_DS),
            v = out(reg) v,
            options(att_syntax, nostack, readonly),
        );
    }
    check_eq!(v, C, "%fs:0 after LOAD_TLS changed the base of the entry %fs holds");
    ok!("TLS entries 6-8 hold the Guest's bases and limits; a loaded %fs sees a new base at once");
}

fn gdt_system() {
    let mut table = gdt::default_gdt();
    table[CODE] = Descriptor::new(0x1000, 0x67, 0x89, 0);
    say!("loading an available 32-bit TSS descriptor as GDT entry {CODE}");
    gdt::load_gdt(&table[..CODE + 1]);
    conform::fail(format_args!("the Host installed a TSS descriptor"));
}

fn gdt_reserved_base() {
    let mut table = gdt::default_gdt();
    table[DATA] = Descriptor::new(RESERVED_START + 0x1000, 0xFFF, access::KERNEL_DATA, flags::DB);
    say!("loading a data segment based at {:#x}, in the reserved top of memory", RESERVED_START + 0x1000);
    gdt::load_gdt(&table[..DATA + 1]);
    conform::fail(format_args!("the Host installed a segment based in the reserved region"));
}

fn tls_system() {
    say!("loading an LDT descriptor as TLS entry 7");
    gdt::load_tls(&[Descriptor::NULL, Descriptor::new(0x1000, 0xFFF, 0x82, 0), Descriptor::NULL]);
    conform::fail(format_args!("the Host installed an LDT descriptor as TLS"));
}
