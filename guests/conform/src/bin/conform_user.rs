//! conform_user: user mode (ring 3). A system call through a DPL-3 gate arrives with the
//! user's SS:ESP on the kernel stack named by SET_STACK, and returns to ring 3; traps from
//! user mode are reflected with the frame hardware pushes; `int $0x1f` (the hypercall)
//! from user mode is #GP(0xFA), so a user program cannot reach the Host; `int` to a gate
//! whose DPL is below 3 is #GP, to a missing one #NP; page faults carry the U bit and
//! fill cr2; a clock interrupt in user mode arrives on the kernel stack too.
//!
//! Variants: `syscall`, `syscall_direct`, `hcall`, `int_dpl1`, `int3_dpl1`, `int3_dpl3`, `np`,
//! `pf_unmapped`, `pf_read_only`, `pf_supervisor`, `privileged`, `irq`.
#![no_std]
#![no_main]

use conform::{Seen, UserSpace, check, check_eq, ok, record, seen, user_prog};
use guest::abi::X86_EFLAGS_IF;
use guest::abi::segments::{USER_CS, USER_DS};
use guest::clock::{self, CLOCK_VECTOR};
use guest::idt::{Gate, GateType, SYSCALL_VECTOR};
use guest::traps::{self, TrapFrame};
use guest::{BootInfo, irq, paging, usermode};

guest::entry!(kmain);

// Syscall 1 adds %ebx and %ecx; syscall 0 exits with %ebx.
user_prog!(
    SYSCALL,
    "movl $1, %eax",
    "movl $40, %ebx",
    "movl $2, %ecx",
    "1: int $0x80",
    "2:",
    "movl %eax, %ebx",
    "movl $0, %eax",
    "int $0x80",
    "ud2",
);
// As SYSCALL, through vector 0x81, which the Host never hands the CPU to deliver itself.
user_prog!(
    SYSCALL_81,
    "movl $1, %eax",
    "movl $40, %ebx",
    "movl $2, %ecx",
    "1: int $0x81",
    "2:",
    "movl %eax, %ebx",
    "movl $0, %eax",
    "int $0x81",
    "ud2",
);
user_prog!(HCALL, "movl $2, %eax", "1: int $0x1f", "2: ud2");
user_prog!(INT_40, "1: int $0x40", "2: ud2");
user_prog!(INT3, "1: int3", "2: ud2");
user_prog!(INT_42, "1: int $0x42", "2: ud2");
user_prog!(PF_UNMAPPED, "1: movl 0x00a00000, %eax", "2: ud2");
user_prog!(PF_READ_ONLY, "call 3f", "3: popl %edx", "1: movl %eax, (%edx)", "2: ud2");
user_prog!(PF_SUPERVISOR, "1: movl 0xc0100000, %eax", "2: ud2");
user_prog!(PRIVILEGED, "1: cli", "2: ud2");
user_prog!(SPIN, "1: jmp 1b", "2:");

fn kmain(_boot: &'static BootInfo) -> ! {
    paging::init();
    conform::expect_at(0);
    conform::run(
        "conform_user",
        "syscall",
        &[
            ("syscall", syscall),
            ("syscall_direct", syscall_direct),
            ("hcall", hcall),
            ("int_dpl1", int_dpl1),
            ("int3_dpl1", int3_dpl1),
            ("int3_dpl3", int3_dpl3),
            ("np", np),
            ("pf_unmapped", pf_unmapped),
            ("pf_read_only", pf_read_only),
            ("pf_supervisor", pf_supervisor),
            ("privileged", privileged),
            ("irq", irq_in_user),
        ],
    )
}

fn on_syscall(frame: &mut TrapFrame) {
    record(frame);
    match frame.eax {
        0 => usermode::exit(frame.ebx),
        1 => frame.eax = frame.ebx + frame.ecx,
        n => conform::fail(format_args!("unknown system call {n}")),
    }
}

/// Record a trap from user mode and end the program with its vector.
fn user_trap(frame: &mut TrapFrame) {
    record(frame);
    usermode::exit(frame.vector)
}

/// Check a frame pushed for a trap from user mode at `eip` with the user stack untouched.
fn check_user_frame(s: &Seen, vector: u32, error_code: u32, eip: u32) {
    conform::check_frame(s, vector, error_code, eip);
    let f = &s.frame;
    check_eq!(f.cs, u32::from(USER_CS), "CS in the frame");
    check_eq!(f.ss, u32::from(USER_DS), "SS in the frame");
    check_eq!(f.esp, conform::USER_STACK_TOP, "ESP in the frame");
    check!(f.irqs_were_enabled(), "pushed EFLAGS {:#x} lacks IF (user mode runs with it)", f.eflags);
}

/// Run `prog` with every exception going to `user_trap`; return the one trap seen.
fn run_to_trap(prog: &'static conform::UserProg) -> (UserSpace, Seen) {
    conform::record_traps(Gate::TRAP);
    for v in 0..32u8 {
        if !matches!(v, 2 | 8 | 15 | 0x1F) {
            traps::set_handler(v, Gate::TRAP, user_trap);
        }
    }
    let space = UserSpace::new(prog);
    conform::expect_at(0);
    let vector = space.run();
    let s = seen();
    check!(s.len() == 1, "expected one trap from user mode, saw {}", s.len());
    check_eq!(vector, s[0].frame.vector, "vector passed to usermode::exit");
    (space, s[0])
}

fn syscall() {
    traps::set_handler(SYSCALL_VECTOR, Gate::SYSCALL, on_syscall);
    let space = UserSpace::new(&SYSCALL);
    let result = space.run();
    check_eq!(result, 42, "the user program's result (40 + 2 by system call)");
    let s = seen();
    check!(s.len() == 2, "expected two system calls, saw {}", s.len());
    check_user_frame(&s[0], u32::from(SYSCALL_VECTOR), 0, space.user_addr(SYSCALL.after));
    check_eq!(s[0].irq_enabled, X86_EFLAGS_IF, "irq_enabled in a trap gate's handler from user mode");
    ok!(
        "int $0x80 through a DPL 3 gate: frame with SS:ESP {:#x}:{:#x} at {:#x}, result back in %eax",
        s[0].frame.ss,
        s[0].frame.esp,
        s[0].frame_at
    );
}

/// `int $0x80` through a DPL 3 trap gate is one of lguest's *direct traps*: the CPU
/// delivers it without the Host. It must leave exactly the frame the Host leaves for the
/// same system call through a gate it delivers itself (vector 0x81), in the same place.
fn syscall_direct() {
    traps::set_handler(SYSCALL_VECTOR, Gate::SYSCALL, on_syscall);
    traps::set_handler(0x81, Gate::SYSCALL, on_syscall);
    conform::expect_at(0);
    let direct = UserSpace::new(&SYSCALL);
    check_eq!(direct.run(), 42, "the result through int $0x80");
    let d = seen()[0];
    conform::expect_at(0);
    let host = UserSpace::new(&SYSCALL_81);
    check_eq!(host.run(), 42, "the result through int $0x81");
    let h = seen()[0];
    check_user_frame(&d, u32::from(SYSCALL_VECTOR), 0, direct.user_addr(SYSCALL.after));
    check_user_frame(&h, 0x81, 0, host.user_addr(SYSCALL_81.after));
    let (df, hf) = (&d.frame, &h.frame);
    check_eq!(df.eip, hf.eip, "EIP pushed directly and by the Host");
    check_eq!(df.cs, hf.cs, "CS pushed directly and by the Host");
    check_eq!(df.eflags, hf.eflags, "EFLAGS pushed directly and by the Host");
    check_eq!(df.esp, hf.esp, "ESP pushed directly and by the Host");
    check_eq!(df.ss, hf.ss, "SS pushed directly and by the Host");
    check_eq!(d.frame_at, h.frame_at, "where the frame is on the kernel stack");
    check_eq!(d.irq_enabled, h.irq_enabled, "irq_enabled in the handler");
    check_eq!(df.ebx, hf.ebx, "EBX in the frame");
    check_eq!(df.ecx, hf.ecx, "ECX in the frame");
    check_eq!(df.ds, hf.ds, "DS in the frame");
    check_eq!(df.gs, hf.gs, "GS in the frame");
    ok!(
        "int $0x80 delivered without the Host leaves the Host's frame: eflags {:#x} at {:#x}",
        df.eflags,
        d.frame_at
    );
}

fn hcall() {
    let (space, s) = run_to_trap(&HCALL);
    check_user_frame(&s, 13, 0x1F * 8 + 2, space.user_addr(HCALL.fault));
    ok!("int $0x1f from user mode is #GP(0xfa) at the int, delivered to the Guest kernel");
}

fn int_dpl1() {
    traps::set_handler(0x40, Gate::TRAP, user_trap);
    let (space, s) = run_to_trap(&INT_40);
    check_user_frame(&s, 13, 0x40 * 8 + 2, space.user_addr(INT_40.fault));
    ok!("int $0x40 from user mode to a DPL 1 gate is #GP(0x202) at the int");
}

fn int3_dpl1() {
    let (space, s) = run_to_trap(&INT3);
    check_user_frame(&s, 13, 3 * 8 + 2, space.user_addr(INT3.fault));
    ok!("int3 from user mode to a DPL 1 gate is #GP(0x1a) at the int3");
}

fn int3_dpl3() {
    traps::set_handler(3, Gate { kind: GateType::Trap, dpl: 3 }, user_trap);
    let space = UserSpace::new(&INT3);
    conform::expect_at(0);
    let vector = space.run();
    check_eq!(vector, 3, "vector");
    check_user_frame(&seen()[0], 3, 0, space.user_addr(INT3.after));
    ok!("int3 from user mode to a DPL 3 gate is a breakpoint trap, EIP past it");
}

fn np() {
    let (space, s) = run_to_trap(&INT_42);
    check_user_frame(&s, 11, 0x42 * 8 + 2, space.user_addr(INT_42.fault));
    ok!("int $0x42 from user mode with no gate is #NP(0x212)");
}

fn page_fault(prog: &'static conform::UserProg, code: u32, cr2: Option<u32>, what: &str) {
    let (space, s) = run_to_trap(prog);
    check_user_frame(&s, 14, code, space.user_addr(prog.fault));
    let want = cr2.unwrap_or(space.user_addr(prog.fault));
    check_eq!(s.cr2, want, "lguest_data.cr2");
    ok!("#PF({code:#x}) {what}, cr2 {:#x}", s.cr2);
}

fn pf_unmapped() {
    page_fault(&PF_UNMAPPED, 4, Some(0x00a0_0000), "reading an unmapped page from user mode");
}

fn pf_read_only() {
    // The program writes to its own code page (mapped read-only), at the address `call`
    // left in %edx: the `popl` itself.
    let (space, s) = run_to_trap(&PF_READ_ONLY);
    check_user_frame(&s, 14, 7, space.user_addr(PF_READ_ONLY.fault));
    check_eq!(s.cr2, s.frame.edx, "lguest_data.cr2 (the address written)");
    ok!("#PF(0x7) writing a read-only user page, cr2 {:#x}", s.cr2);
}

fn pf_supervisor() {
    page_fault(&PF_SUPERVISOR, 5, Some(0xc010_0000), "reading a kernel page from user mode");
}

fn privileged() {
    let (space, s) = run_to_trap(&PRIVILEGED);
    check_user_frame(&s, 13, 0, space.user_addr(PRIVILEGED.fault));
    ok!("cli in user mode is #GP(0), reflected to the Guest kernel");
}

fn on_clock_in_user(frame: &mut TrapFrame) {
    record(frame);
    usermode::exit(frame.vector)
}

fn irq_in_user() {
    traps::set_handler(CLOCK_VECTOR, Gate::INTERRUPT, on_clock_in_user);
    let space = UserSpace::new(&SPIN);
    irq::disable();
    clock::set_clockevent(1_000_000);
    let vector = space.run();
    check_eq!(vector, u32::from(CLOCK_VECTOR), "what ended the user program");
    let s = &seen()[0];
    check!(s.frame.from_user(), "the interrupt did not come from user mode (cs {:#x})", s.frame.cs);
    check_eq!(s.frame.ss, u32::from(USER_DS), "SS in the frame");
    check_eq!(s.frame.esp, conform::USER_STACK_TOP, "ESP in the frame");
    check_eq!(s.frame.eip, space.user_addr(SPIN.start), "EIP in the frame (the spinning jmp)");
    check_eq!(s.irq_enabled, 0, "irq_enabled in the interrupt gate's handler");
    check_eq!(irq::save_fl(), 0, "irq_enabled after usermode::run (as before it)");
    ok!(
        "the clock interrupts a spinning user program: frame with SS:ESP on the kernel stack at {:#x}",
        s.frame_at
    );
}
