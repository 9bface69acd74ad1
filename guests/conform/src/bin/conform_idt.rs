//! conform_idt: LHCALL_LOAD_IDT_ENTRY. A trap gate leaves `irq_enabled` alone and an
//! interrupt gate clears it; either way the pushed EFLAGS carries the Guest's interrupt
//! flag, and the kit's return path puts it back. Only interrupt and trap gates may be
//! loaded; a not-present gate removes the vector; the hypercall vector cannot be taken.
//!
//! Variants: `trap_gate`, `interrupt_gate`, `flags_off`, `not_present`,
//! `hypercall_vector`, `task_gate` and `call_gate` (both Sudden Death).
#![no_std]
#![no_main]

use conform::{check, check_eq, check_frame, ok, probe, record, say, trap_of};
use guest::abi::X86_EFLAGS_IF;
use guest::idt::{self, Gate};
use guest::{BootInfo, irq, traps};

guest::entry!(kmain);

probe!(INT3, "1: int3", "2:");
probe!(INT_40, "1: int $0x40", "2:");
probe!(INT_1F, "movl $0, %eax", "1: int $0x1f", "2:");

fn kmain(_boot: &'static BootInfo) -> ! {
    conform::record_traps(Gate::TRAP);
    conform::run(
        "conform_idt",
        "trap_gate",
        &[
            ("trap_gate", trap_gate),
            ("interrupt_gate", interrupt_gate),
            ("flags_off", flags_off),
            ("not_present", not_present),
            ("hypercall_vector", hypercall_vector),
            ("task_gate", task_gate),
            ("call_gate", call_gate),
        ],
    )
}

fn trap_gate() {
    traps::set_handler(3, Gate::TRAP, record);
    irq::enable();
    let s = trap_of(&INT3);
    check_eq!(s.irq_enabled, X86_EFLAGS_IF, "irq_enabled inside a trap gate's handler");
    check!(s.frame.irqs_were_enabled(), "pushed EFLAGS {:#x} lacks IF", s.frame.eflags);
    check_eq!(irq::save_fl(), X86_EFLAGS_IF, "irq_enabled after the handler returned");
    irq::disable();
    ok!("trap gate: irq_enabled stays 0x200 in the handler, pushed EFLAGS has IF");
}

fn interrupt_gate() {
    traps::set_handler(3, Gate::INTERRUPT, record);
    irq::enable();
    let s = trap_of(&INT3);
    check_eq!(s.irq_enabled, 0, "irq_enabled inside an interrupt gate's handler");
    check!(s.frame.irqs_were_enabled(), "pushed EFLAGS {:#x} lacks IF", s.frame.eflags);
    check_eq!(irq::save_fl(), X86_EFLAGS_IF, "irq_enabled after lguest_iret");
    irq::disable();
    ok!("interrupt gate: irq_enabled 0 in the handler, pushed EFLAGS has IF, 0x200 again after iret");
}

fn flags_off() {
    traps::set_handler(3, Gate::TRAP, record);
    irq::disable();
    let s = trap_of(&INT3);
    check!(!s.frame.irqs_were_enabled(), "pushed EFLAGS {:#x} has IF with irq_enabled 0", s.frame.eflags);
    check_eq!(irq::save_fl(), 0, "irq_enabled after the handler returned");
    ok!("with irq_enabled 0 the pushed EFLAGS has no IF, and it stays 0");
}

fn not_present() {
    traps::set_handler(0x40, Gate::TRAP, record);
    let s = trap_of(&INT_40);
    check_frame(&s, 0x40, 0, INT_40.resume);
    idt::clear_gate(0x40);
    let s = trap_of(&INT_40);
    check_frame(&s, 11, 0x40 * 8 + 2, INT_40.fault);
    ok!("after a not-present gate is loaded, int $0x40 raises #NP(0x202)");
}

fn hypercall_vector() {
    // The Host ignores a gate for its own vector: int $0x1f stays a hypercall.
    traps::set_handler(0x1F, Gate::TRAP, record);
    conform::expect_at(INT_1F.resume);
    INT_1F.call();
    check!(conform::seen().is_empty(), "int $0x1f went to the Guest's gate");
    ok!("a gate for vector 0x1f is ignored: int $0x1f is still a hypercall");
}

fn bad_gate(kind: u32) {
    let (lo, hi) = idt::gate_words(traps::stub_address(0x40), Gate::TRAP);
    let hi = (hi & !0xF00) | (kind << 8);
    say!("loading a gate of type {kind:#x} for vector 0x40");
    // SAFETY: the Host must refuse it; if it does not, we crash below.
    unsafe { idt::load_idt_entry(0x40, lo, hi) };
    conform::fail(format_args!("the Host accepted a gate of type {kind:#x}"));
}

fn task_gate() {
    bad_gate(0x5);
}

fn call_gate() {
    bad_gate(0xC);
}
