//! hostile_segments: descriptors and far transfers that try to reach ring 0, the Host's
//! own GDT entries (10, 11, 16, 31) or the reserved top 4 MiB. Nothing may give the
//! Guest CPL 0: ring-0 descriptors come back as ring 1, far jumps, calls, returns and
//! IRETs to odd selectors are #GP (which the Guest handles and carries on from), and
//! segments are cut below the reserved region or refused.
//!
//! Variants:
//! - `ring0_code`: a ring-0 code segment, far-jumped to with RPL 0, runs at CPL 1;
//! - `conforming_ring0`: a ring-0 conforming code segment, and the Host reloading CS
//!   (LOAD_TLS) while the Guest runs in it: still CPL 1;
//! - `crafted_returns`: RETF and IRET frames naming ring 0, the Host's code segment, the
//!   TSS, the Host's data segment as SS, and EFLAGS asking for IOPL 3 and VM86;
//! - `far_odd_selectors`: far JMP and CALL to the null selector, every Host entry, a data
//!   segment, a ring-3 code segment, an LDT selector, one beyond the GDT, an empty TLS
//!   entry; SS and DS loads of Host and ring-0 selectors;
//! - `code_reaching_reserved`: 4 GiB code segments are cut below the reserved region and a
//!   far jump past the cut is #GP;
//! - `code_base_in_reserved`, `expand_down_reaching_reserved`, `gdt_too_many`,
//!   `gdt_outside_ram`, `gdt_unloads_kernel_cs`, `tls_expand_down`, `tls_outside_ram`:
//!   LOAD_GDT / LOAD_TLS the Host must refuse (Sudden Death);
//! - `tls_ring0`: a ring-0 TLS entry comes back as ring 1 and is usable;
//! - `user_to_kernel`: from user mode (ring 3), a far call to the kernel's code segment,
//!   an IRET to it, and loading the kernel's data segment: each #GP, delivered to the
//!   Guest kernel with the user's CS in the frame.
#![no_std]
#![no_main]

use conform::{
    UserSpace, check, check_eq, check_frame, ok, probe, record, record_traps, say, trap_of, user_prog,
};
use guest::abi::segments::{GDT_ENTRY_KERNEL_CS, LGUEST_KERNEL_CS, LGUEST_KERNEL_DS, USER_CS};
use guest::abi::{Hcall, RESERVED_START};
use guest::gdt::{self, Descriptor, access, flags, lar, lsl};
use guest::idt::Gate;
use guest::traps::{self, TrapFrame};
use guest::{BootInfo, paging, usermode, virt_to_phys};
use hostile::{beyond_ram, raw_hcall};

guest::entry!(kmain);

/// The first free GDT entry in Linux's layout, for our test segments (20-22).
const A: usize = 20;
/// Ring-1 and ring-0 versions of the access bytes.
const DPL1: u8 = 1 << access::DPL_SHIFT;
const CONFORMING: u8 = 0x04;
const EXPAND_DOWN: u8 = 0x04;

// Far jump to GDT entry 20 with RPL 0, read CS there, come back.
probe!(VISIT_A, "ljmp $0xa0, $3f", "3: movl %cs, %eax", "ljmp $0x61, $4f", "4:", "1:", "2:");
// Returns that try to reach ring 0 or the Host's entries.
probe!(RETF_RING0, "pushl $0x60", "pushl $2f", "1: lret", "2: addl $8, %esp");
probe!(IRET_RING0, "pushfl", "pushl $0x60", "pushl $2f", "1: iret", "2: addl $12, %esp");
probe!(IRET_HOST_CS, "pushfl", "pushl $0x51", "pushl $2f", "1: iret", "2: addl $12, %esp");
probe!(IRET_TSS, "pushfl", "pushl $0x81", "pushl $2f", "1: iret", "2: addl $12, %esp");
probe!(
    IRET_HOST_SS,
    "pushl $0x5b",
    "pushl %esp",
    "pushfl",
    "pushl $0x73",
    "pushl $2f",
    "1: iret",
    "2: addl $20, %esp"
);
// A same-ring IRET whose EFLAGS asks for IOPL 3 and virtual-8086 mode; %eax gets EFLAGS.
probe!(
    IRET_IOPL,
    "pushfl",
    "orl $0x23000, (%esp)",
    "pushl $0x61",
    "pushl $3f",
    "iret",
    "3: pushfl",
    "popl %eax",
    "1:",
    "2:"
);
// Far jumps and calls to odd selectors.
probe!(JMP_NULL, "1: ljmp $0x0, $2f", "2:");
probe!(JMP_HOST_CS, "1: ljmp $0x51, $2f", "2:");
probe!(JMP_HOST_DS, "1: ljmp $0x59, $2f", "2:");
probe!(JMP_TSS, "1: ljmp $0x81, $2f", "2:");
probe!(JMP_DF_TSS, "1: ljmp $0xf9, $2f", "2:");
probe!(JMP_DATA, "1: ljmp $0x69, $2f", "2:");
probe!(JMP_USER_CS, "1: ljmp $0x73, $2f", "2:");
probe!(JMP_LDT, "1: ljmp $0x105, $2f", "2:");
probe!(JMP_BEYOND, "1: ljmp $0xfff9, $2f", "2:");
probe!(JMP_TLS, "1: ljmp $0x31, $2f", "2:");
probe!(CALL_NULL, "1: lcall $0x0, $2f", "2:");
probe!(CALL_HOST_CS, "1: lcall $0x51, $2f", "2:");
probe!(CALL_HOST_DS, "1: lcall $0x59, $2f", "2:");
probe!(CALL_TSS, "1: lcall $0x81, $2f", "2:");
probe!(CALL_DF_TSS, "1: lcall $0xf9, $2f", "2:");
probe!(CALL_DATA, "1: lcall $0x69, $2f", "2:");
probe!(CALL_USER_CS, "1: lcall $0x73, $2f", "2:");
probe!(CALL_LDT, "1: lcall $0x105, $2f", "2:");
probe!(CALL_BEYOND, "1: lcall $0xfff9, $2f", "2:");
probe!(CALL_TLS, "1: lcall $0x31, $2f", "2:");
probe!(SS_RING0, "movl $0x68, %eax", "1: movl %eax, %ss", "2:");
probe!(SS_HOST_DS, "movl $0x59, %eax", "1: movl %eax, %ss", "2:");
probe!(DS_HOST_DS, "movl $0x59, %eax", "1: movl %eax, %ds", "2:");
// Past the end of cut-back code segments.
probe!(JMP_RESERVED, "1: ljmp $0xa1, $0xffc00000", "2:");
probe!(JMP_PAST_CUT, "1: ljmp $0xb1, $0x100000", "2:");

// From ring 3: into the kernel's code and data segments.
user_prog!(USER_LCALL, "1: lcall $0x61, $0", "2: ud2");
user_prog!(USER_IRET, "pushl $0x69", "pushl %esp", "pushfl", "pushl $0x61", "pushl $0", "1: iret", "2: ud2");
user_prog!(USER_LOAD_DS, "movl $0x69, %eax", "1: movl %eax, %ds", "2: ud2");

fn kmain(_boot: &'static BootInfo) -> ! {
    record_traps(Gate::TRAP);
    conform::run(
        "hostile_segments",
        "ring0_code",
        &[
            ("ring0_code", ring0_code),
            ("conforming_ring0", conforming_ring0),
            ("crafted_returns", crafted_returns),
            ("far_odd_selectors", far_odd_selectors),
            ("code_reaching_reserved", code_reaching_reserved),
            ("code_base_in_reserved", code_base_in_reserved),
            ("expand_down_reaching_reserved", expand_down_reaching_reserved),
            ("gdt_too_many", gdt_too_many),
            ("gdt_outside_ram", gdt_outside_ram),
            ("gdt_unloads_kernel_cs", gdt_unloads_kernel_cs),
            ("tls_ring0", tls_ring0),
            ("tls_expand_down", tls_expand_down),
            ("tls_outside_ram", tls_outside_ram),
            ("user_to_kernel", user_to_kernel),
        ],
    )
}

fn dpl_of(sel: u32) -> u32 {
    let ar = lar(sel).unwrap_or_else(|| conform::fail(format_args!("lar {sel:#x}: not visible")));
    (ar >> 13) & 3
}

fn cs() -> u32 {
    let cs: u32;
    // SAFETY: reads a segment register.
    unsafe { core::arch::asm!("movl %cs, {0:e}", out(reg) cs, options(att_syntax, nomem, nostack)) };
    cs
}

/// Load the default GDT with `extra` entries from 20 on.
fn load_with(extra: &[Descriptor]) {
    let mut table = gdt::default_gdt();
    table[A..A + extra.len()].copy_from_slice(extra);
    gdt::load_gdt(&table[..A + extra.len()]);
}

fn ring0_code() {
    load_with(&[Descriptor::flat(access::KERNEL_CODE)]);
    check_eq!(dpl_of(0xa0), 1, "DPL of the ring-0 code segment the Host installed");
    let there = VISIT_A.call();
    check_eq!(there, 0xa1, "CS after a far jump with selector 0xa0 (RPL 0)");
    check_eq!(cs(), u32::from(LGUEST_KERNEL_CS), "CS after coming back");
    ok!("a ring-0 code segment comes back ring 1; jumping to it with RPL 0 gives CS {there:#x}, CPL 1");
}

fn conforming_ring0() {
    load_with(&[Descriptor::flat(access::KERNEL_CODE | CONFORMING)]);
    check_eq!(dpl_of(0xa0), 1, "DPL of the conforming ring-0 code segment");
    let tls = [Descriptor::NULL; 3];
    let (cs_inside, cs_after_reload): (u32, u32);
    // SAFETY: jump into the conforming segment (flat, so the next instruction is where it
    // was), make LOAD_TLS there so that the Host reloads CS, read CS, and jump back.
    unsafe {
        core::arch::asm!(
            "ljmp $0xa0, $3f",
            "3: movl %cs, %ecx",
            "pushl %ecx",
            "xorl %ecx, %ecx",
            "int $0x1f",
            "movl %cs, %ecx",
            "popl %edx",
            "ljmp $0x61, $4f",
            "4:",
            inout("eax") Hcall::LoadTls as u32 => _,
            inout("edx") virt_to_phys(&raw const tls) => cs_inside,
            in("ebx") 0,
            out("ecx") cs_after_reload,
            options(att_syntax),
        )
    };
    check_eq!(cs_inside, 0xa1, "CS in the conforming segment");
    check_eq!(cs_after_reload, 0xa1, "CS after the Host reloaded it");
    ok!("a conforming ring-0 segment runs at CPL 1, also after the Host reloads CS from it");
}

fn crafted_returns() {
    for (probe, sel, what) in [
        (&RETF_RING0, 0x60, "RETF to ring 0"),
        (&IRET_RING0, 0x60, "IRET to ring 0"),
        (&IRET_HOST_CS, 0x50, "IRET to the Host's code segment"),
        (&IRET_TSS, 0x80, "IRET to the TSS"),
        (&IRET_HOST_SS, 0x58, "IRET to ring 3 with the Host's data segment as SS"),
    ] {
        let seen = trap_of(probe);
        check_frame(&seen, 13, sel, probe.fault);
        say!("{what}: #GP({sel:#x})");
        check_eq!(cs(), u32::from(LGUEST_KERNEL_CS), "CS after the fault");
    }
    let flags = IRET_IOPL.call();
    check!(flags & 0x23000 == 0, "IRET at CPL 1 set IOPL or VM: EFLAGS {flags:#x}");
    ok!("every crafted RETF/IRET frame faulted, and IOPL 3 and VM in EFLAGS were ignored");
}

fn far_odd_selectors() {
    let probes = [
        (&JMP_NULL, 0),
        (&JMP_HOST_CS, 0x50),
        (&JMP_HOST_DS, 0x58),
        (&JMP_TSS, 0x80),
        (&JMP_DF_TSS, 0xf8),
        (&JMP_DATA, 0x68),
        (&JMP_USER_CS, 0x70),
        (&JMP_LDT, 0x104),
        (&JMP_BEYOND, 0xfff8),
        (&JMP_TLS, 0x30),
        (&CALL_NULL, 0),
        (&CALL_HOST_CS, 0x50),
        (&CALL_HOST_DS, 0x58),
        (&CALL_TSS, 0x80),
        (&CALL_DF_TSS, 0xf8),
        (&CALL_DATA, 0x68),
        (&CALL_USER_CS, 0x70),
        (&CALL_LDT, 0x104),
        (&CALL_BEYOND, 0xfff8),
        (&CALL_TLS, 0x30),
        (&SS_RING0, 0x68),
        (&SS_HOST_DS, 0x58),
        (&DS_HOST_DS, 0x58),
    ];
    for (probe, code) in probes {
        let seen = trap_of(probe);
        check_frame(&seen, 13, code, probe.fault);
    }
    check_eq!(cs(), u32::from(LGUEST_KERNEL_CS), "CS afterwards");
    ok!("{} far jumps, calls and segment loads to odd selectors were each #GP(selector)", probes.len());
}

fn code_reaching_reserved() {
    let wide = Descriptor::new(0xFFB0_0000, 0xF_FFFF, access::KERNEL_CODE | DPL1, flags::G | flags::DB);
    load_with(&[Descriptor::flat(access::KERNEL_CODE | DPL1), Descriptor::NULL, wide]);
    check_eq!(lsl(0xa1).unwrap_or(0), RESERVED_START - 1, "limit of a 4 GiB code segment");
    check_eq!(lsl(0xb1).unwrap_or(0), 0xF_FFFF, "limit of a 4 GiB code segment based at 0xffb00000");
    check_frame(&trap_of(&JMP_RESERVED), 13, 0, JMP_RESERVED.fault);
    check_frame(&trap_of(&JMP_PAST_CUT), 13, 0, JMP_PAST_CUT.fault);
    ok!("code segments are cut below {RESERVED_START:#x} and jumps past the cut are #GP(0)");
}

fn dies_loading(extra: &[Descriptor], what: &str) {
    say!("LOAD_GDT with {what}");
    load_with(extra);
    conform::fail(format_args!("the Host installed {what}"));
}

fn code_base_in_reserved() {
    let d = Descriptor::new(RESERVED_START, 0xFFF, access::KERNEL_CODE, flags::DB);
    dies_loading(&[d], "a code segment based in the reserved region");
}

fn expand_down_reaching_reserved() {
    let d = Descriptor::new(0, 0xFFF, access::KERNEL_DATA | EXPAND_DOWN, flags::DB);
    dies_loading(&[d], "a 32-bit expand-down data segment, which reaches 4 GiB");
}

fn gdt_too_many() {
    let table = gdt::default_gdt();
    say!("LOAD_GDT with 0xffffffff entries");
    // SAFETY: the Host should refuse; if not, we crash below.
    unsafe { raw_hcall(Hcall::LoadGdt as u32, virt_to_phys(&raw const table), u32::MAX, 0) };
    conform::fail(format_args!("the Host loaded 0xffffffff GDT entries"));
}

fn gdt_outside_ram() {
    let at = beyond_ram();
    say!("LOAD_GDT from {at:#x}, beyond RAM");
    // SAFETY: the Host should refuse; if not, we crash below.
    unsafe { raw_hcall(Hcall::LoadGdt as u32, at, 16, 0) };
    conform::fail(format_args!("the Host read a GDT beyond RAM"));
}

fn gdt_unloads_kernel_cs() {
    let mut table = gdt::default_gdt();
    table[GDT_ENTRY_KERNEL_CS] = Descriptor::NULL;
    say!("LOAD_GDT with an empty kernel code segment, which CS holds");
    gdt::load_gdt(&table);
    conform::fail(format_args!("the Host kept running us on an empty CS"));
}

fn tls_ring0() {
    static VALUE: u32 = 0x7157_0000;
    let d = Descriptor::new(&raw const VALUE as u32, 0xFFF, access::KERNEL_DATA, flags::DB);
    gdt::load_tls(&[d, Descriptor::flat(access::KERNEL_DATA), Descriptor::NULL]);
    check_eq!(dpl_of(0x30), 1, "DPL of the ring-0 TLS entry");
    check_eq!(lsl(0x38).unwrap_or(0), RESERVED_START - 1, "limit of a 4 GiB TLS entry");
    let v: u32;
    // SAFETY: %gs gets the TLS entry (readable, ring 1), then the kernel's data segment.
    unsafe {
        core::arch::asm!(
            "movl $0x31, {v:e}",
            "movl {v:e}, %gs",
            "movl %gs:0, {v:e}",
            "movl {kds:e}, %gs",
            kds = in(reg) u32::from(LGUEST_KERNEL_DS),
            v = out(reg) v,
            options(att_syntax, nostack, readonly),
        )
    };
    check_eq!(v, VALUE, "%gs:0 through the TLS entry");
    ok!("a ring-0 TLS entry comes back ring 1 and reads through %gs; a 4 GiB one is cut");
}

fn tls_expand_down() {
    let d = Descriptor::new(0x1000, 0, access::KERNEL_DATA | EXPAND_DOWN, flags::DB);
    say!("LOAD_TLS with a 32-bit expand-down segment");
    gdt::load_tls(&[d, Descriptor::NULL, Descriptor::NULL]);
    conform::fail(format_args!("the Host installed an expand-down TLS segment reaching 4 GiB"));
}

fn tls_outside_ram() {
    let at = beyond_ram();
    say!("LOAD_TLS from {at:#x}, beyond RAM");
    // SAFETY: the Host should refuse; if not, we crash below.
    unsafe { raw_hcall(Hcall::LoadTls as u32, at, 0, 0) };
    conform::fail(format_args!("the Host read TLS entries beyond RAM"));
}

/// Record a #GP from user mode and end the user program with its error code.
fn user_gp(frame: &mut TrapFrame) {
    record(frame);
    usermode::exit(frame.error_code)
}

fn user_to_kernel() {
    paging::init();
    traps::set_handler(13, Gate::TRAP, user_gp);
    for (prog, sel, what) in [
        (&USER_LCALL, 0x60, "a far call to the kernel's code segment"),
        (&USER_IRET, 0x60, "an IRET to the kernel's code segment"),
        (&USER_LOAD_DS, 0x68, "loading the kernel's data segment"),
    ] {
        let space = UserSpace::new(prog);
        conform::expect_at(0);
        let code = space.run();
        let seen = conform::seen();
        check!(seen.len() == 1, "{what}: expected one trap, saw {}", seen.len());
        check_eq!(code, sel, "error code passed to usermode::exit");
        check_frame(&seen[0], 13, sel, space.user_addr(prog.fault));
        check_eq!(seen[0].frame.cs, u32::from(USER_CS), "CS in the frame");
        say!("from user mode, {what}: #GP({code:#x})");
    }
    ok!("ring 3 cannot reach the kernel's segments: every attempt was #GP from CPL 3");
}
