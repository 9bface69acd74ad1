//! conform_traps: exceptions and software interrupts in the Guest kernel are reflected to
//! its handlers with the frame the hardware would push — EFLAGS, CS, EIP and, for the
//! exceptions that have one, the error code — with EIP at a fault's instruction and past
//! a trap's; #PF also fills `lguest_data.cr2`.
//!
//! Variants: `de`, `ud`, `gp_selector`, `gp_int`, `gp_privileged`, `pf_read`,
//! `pf_write`, `int3`, `int3_gp`, `into`, `int_n`, `np`, `nm`, `nested`, `registers`.
#![no_std]
#![no_main]

use conform::{
    Seen, check, check_eq, check_frame, expect_at, ok, probe, record, record_traps, seen, trap_of,
};
use guest::abi::Hcall;
use guest::abi::segments::{LGUEST_KERNEL_CS, LGUEST_KERNEL_DS};
use guest::idt::{Gate, GateType};
use guest::traps::{self, KERNEL_FRAME_SIZE, TrapFrame};
use guest::{BootInfo, hcall, lguest_data};

guest::entry!(kmain);

/// Not mapped by the boot page tables (RAM is far smaller).
const UNMAPPED: u32 = 0xA000_0000;

probe!(DE, "movl $1, %eax", "xorl %edx, %edx", "xorl %ecx, %ecx", "1: divl %ecx", "2:");
probe!(UD, "1: ud2", "2:");
probe!(GP_SELECTOR, "movl $0x28, %eax", "1: movl %eax, %fs", "2:");
probe!(GP_INT, "1: int $0x41", "2:");
probe!(GP_PRIVILEGED, "1: cli", "2:");
probe!(PF_READ, "1: movl 0xA0000000, %eax", "2:");
probe!(PF_WRITE, "1: movl %eax, 0xA0000ffc", "2:");
probe!(INT3, "1: int3", "2:");
probe!(INTO, "movb $0x7f, %al", "addb $1, %al", "1: into", "2:");
probe!(INT_N, "1: int $0x40", "2:");
probe!(NP, "1: int $0x42", "2:");
probe!(NM, "1: fld1", "2:");
// Every general register set to a pattern across a reflected trap; %eax comes back 0 if
// they all survived.
probe!(
    REGISTERS,
    "pushl %ebx",
    "pushl %esi",
    "pushl %edi",
    "pushl %ebp",
    "movl $0x11111111, %eax",
    "movl $0x22222222, %ebx",
    "movl $0x33333333, %ecx",
    "movl $0x44444444, %edx",
    "movl $0x55555555, %esi",
    "movl $0x66666666, %edi",
    "movl $0x77777777, %ebp",
    "1: int3",
    "2:",
    "xorl $0x11111111, %eax",
    "xorl $0x22222222, %ebx",
    "orl %ebx, %eax",
    "xorl $0x33333333, %ecx",
    "orl %ecx, %eax",
    "xorl $0x44444444, %edx",
    "orl %edx, %eax",
    "xorl $0x55555555, %esi",
    "orl %esi, %eax",
    "xorl $0x66666666, %edi",
    "orl %edi, %eax",
    "xorl $0x77777777, %ebp",
    "orl %ebp, %eax",
    "popl %ebp",
    "popl %edi",
    "popl %esi",
    "popl %ebx",
);

fn kmain(_boot: &'static BootInfo) -> ! {
    record_traps(Gate::TRAP);
    conform::run(
        "conform_traps",
        "ud",
        &[
            ("de", de),
            ("ud", ud),
            ("gp_selector", gp_selector),
            ("gp_int", gp_int),
            ("gp_privileged", gp_privileged),
            ("pf_read", pf_read),
            ("pf_write", pf_write),
            ("int3", int3),
            ("int3_gp", int3_gp),
            ("into", into),
            ("int_n", int_n),
            ("np", np),
            ("nm", nm),
            ("nested", nested),
            ("registers", registers),
        ],
    )
}

/// A fault: vector, error code, EIP at the instruction, the kernel's CS.
fn fault(probe: &conform::Probe, vector: u32, error_code: u32) -> Seen {
    let s = trap_of(probe);
    check_frame(&s, vector, error_code, probe.fault);
    check_eq!(s.frame.cs, u32::from(LGUEST_KERNEL_CS), "CS in the trap frame");
    s
}

/// A trap: like a fault, but EIP past the instruction.
fn trap(probe: &conform::Probe, vector: u32) -> Seen {
    let s = trap_of(probe);
    check_frame(&s, vector, 0, probe.resume);
    check_eq!(s.frame.cs, u32::from(LGUEST_KERNEL_CS), "CS in the trap frame");
    s
}

fn de() {
    fault(&DE, 0, 0);
    ok!("#DE at the div, no error code");
}

fn ud() {
    fault(&UD, 6, 0);
    ok!("#UD at the ud2");
}

fn gp_selector() {
    fault(&GP_SELECTOR, 13, 0x28);
    ok!("#GP(0x28) loading %fs with a selector for an empty GDT entry");
}

fn gp_int() {
    traps::set_handler(0x41, Gate { kind: GateType::Trap, dpl: 0 }, record);
    fault(&GP_INT, 13, 0x41 * 8 + 2);
    ok!("#GP(0x20a) at int $0x41, whose gate is DPL 0");
}

fn gp_privileged() {
    fault(&GP_PRIVILEGED, 13, 0);
    ok!("#GP(0) at cli, reflected to the Guest's handler");
}

fn pf_read() {
    let s = fault(&PF_READ, 14, 0);
    check_eq!(s.cr2, UNMAPPED, "lguest_data.cr2 in the handler");
    check_eq!(lguest_data::cr2(), UNMAPPED, "lguest_data.cr2 after the handler");
    ok!("#PF(0) reading {UNMAPPED:#x}, cr2 {:#x}", s.cr2);
}

fn pf_write() {
    let s = fault(&PF_WRITE, 14, 2);
    check_eq!(s.cr2, UNMAPPED + 0xffc, "lguest_data.cr2");
    ok!("#PF(2) writing {:#x}, cr2 {:#x}", UNMAPPED + 0xffc, s.cr2);
}

fn int3() {
    trap(&INT3, 3);
    ok!("int3: vector 3, EIP past the int3");
}

fn int3_gp() {
    // int3 is one byte (CC): the #GP must point at it, not a byte before.
    traps::set_handler(3, Gate { kind: GateType::Trap, dpl: 0 }, record);
    fault(&INT3, 13, 3 * 8 + 2);
    ok!("#GP(0x1a) at the one-byte int3 when its gate is DPL 0");
}

fn into() {
    trap(&INTO, 4);
    ok!("into with OF set: vector 4, EIP past the into");
}

fn int_n() {
    traps::set_handler(0x40, Gate::TRAP, record);
    trap(&INT_N, 0x40);
    ok!("int $0x40: vector 0x40 through a DPL 1 gate, EIP past the int");
}

fn np() {
    fault(&NP, 11, 0x42 * 8 + 2);
    ok!("#NP(0x212) at int $0x42, which has no gate");
}

/// CR0 as `smsw` shows it (not a privileged instruction).
fn smsw() -> u32 {
    let v: u32;
    // SAFETY: smsw only reads the machine status word.
    unsafe { core::arch::asm!("smsw {0:e}", out(reg) v, options(att_syntax, nomem, nostack)) };
    v
}

const CR0_TS: u32 = 1 << 3;

fn nm() {
    // SAFETY: TS only changes the task-switched flag.
    unsafe { hcall(Hcall::Ts, 1, 0, 0) };
    check!(smsw() & CR0_TS != 0, "LHCALL_TS 1 did not set CR0.TS (cr0 {:#x})", smsw());
    fault(&NM, 7, 0);
    // SAFETY: as above.
    unsafe { hcall(Hcall::Ts, 0, 0, 0) };
    check!(smsw() & CR0_TS == 0, "LHCALL_TS 0 did not clear CR0.TS (cr0 {:#x})", smsw());
    // No FPU at all (CR0.EM): x87 still traps.
    fault(&NM, 7, 0);
    ok!("LHCALL_TS sets and clears CR0.TS; fld1 raises #NM at the instruction");
}

/// The #UD handler of `nested`: records, then takes a #DE itself.
fn nested_outer(frame: &mut TrapFrame) {
    record(frame);
    conform::resume_at(DE.resume);
    DE.call();
    conform::resume_at(UD.resume);
}

fn nested() {
    traps::set_handler(6, Gate::TRAP, nested_outer);
    expect_at(UD.resume);
    UD.call();
    let s = seen();
    check!(s.len() == 2, "expected #UD then #DE, saw {} traps", s.len());
    let (outer, inner) = (&s[0], &s[1]);
    check_frame(outer, 6, 0, UD.fault);
    check_frame(inner, 0, 0, DE.fault);
    // The inner frame was pushed on the handler's stack, below the outer frame.
    let inner_top = inner.frame_at + KERNEL_FRAME_SIZE;
    check!(
        inner_top <= outer.frame_at,
        "inner frame {:#x}..{inner_top:#x} is not below the outer one at {:#x}",
        inner.frame_at,
        outer.frame_at
    );
    ok!(
        "#DE inside the #UD handler: frame at {:#x} below the #UD frame at {:#x}, both resumed",
        inner.frame_at,
        outer.frame_at
    );
}

fn registers() {
    expect_at(REGISTERS.resume);
    let diff = REGISTERS.call();
    let s = seen();
    check!(s.len() == 1, "expected one trap, saw {}", s.len());
    let f = &s[0].frame;
    let regs = [f.eax, f.ebx, f.ecx, f.edx, f.esi, f.edi, f.ebp];
    let want = [0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x55555555, 0x66666666, 0x77777777];
    check!(regs == want, "registers in the frame {regs:x?}, expected {want:x?}");
    let ds = u32::from(LGUEST_KERNEL_DS);
    check!(
        (f.ds & 0xFFFF, f.es & 0xFFFF, f.fs & 0xFFFF, f.gs & 0xFFFF) == (ds, ds, ds, ds),
        "segment registers in the frame {:#x} {:#x} {:#x} {:#x}",
        f.ds,
        f.es,
        f.fs,
        f.gs
    );
    check_eq!(diff, 0, "registers changed across the trap (xor of differences)");
    ok!("all general and segment registers are in the frame and survive the trap");
}
