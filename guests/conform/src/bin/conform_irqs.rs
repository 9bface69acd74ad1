//! conform_irqs: virtual interrupts. IRQ n arrives at vector 32 + n only while
//! `irq_enabled` is 0x200, the IRQ is not blocked in `blocked_interrupts`, and EIP is
//! outside [noirq_start, noirq_end); a pending one is delivered as soon as all three
//! allow. The clock (IRQ 0) is the source: armed for 100 µs, then held off for 2 ms
//! during which the Guest makes hypercall after hypercall — each a chance for the Host to
//! deliver — before it lets the interrupt in.
//!
//! Variants: `delivery`, `disabled`, `blocked`, `noirq`, `halt_disabled`.
#![no_std]
#![no_main]

use conform::{check, check_eq, ok, record, seen};
use guest::abi::segments::LGUEST_KERNEL_CS;
use guest::abi::{OFF_BLOCKED_INTERRUPTS, OFF_IRQ_ENABLED, X86_EFLAGS_IF};
use guest::clock::{self, CLOCK_VECTOR};
use guest::idt::Gate;
use guest::{BootInfo, flush_async, irq, lguest_data, traps};

guest::entry!(kmain);

/// How long an interrupt is held off.
const HOLD_NS: u64 = 2_000_000;

fn kmain(_boot: &'static BootInfo) -> ! {
    traps::set_handler(CLOCK_VECTOR, Gate::INTERRUPT, record);
    conform::expect_at(0);
    conform::run(
        "conform_irqs",
        "delivery",
        &[
            ("delivery", delivery),
            ("disabled", disabled),
            ("blocked", blocked),
            ("noirq", noirq),
            ("halt_disabled", halt_disabled),
        ],
    )
}

/// Make hypercalls for `HOLD_NS`, failing if the interrupt arrives meanwhile.
fn hold_off(why: &str) -> u32 {
    let end = clock::now_ns() + HOLD_NS;
    let mut calls = 0;
    while clock::now_ns() < end {
        flush_async();
        calls += 1;
        check!(seen().is_empty(), "IRQ 0 was delivered {why}");
    }
    calls
}

/// Write `value` to the lguest_data word at `offset`, then make a hypercall. Returns the
/// address just after the write and the address just after the hypercall, so the caller
/// can tell from the interrupt's frame when it came.
fn write_then_hcall(offset: u32, value: u32) -> (u32, u32) {
    let field = (lguest_data::as_ptr() as u32) + offset;
    let (after_write, after_hcall): (u32, u32);
    // SAFETY: a volatile store to a Guest-owned lguest_data field, then FLUSH_ASYNC. An
    // interrupt may push its frame on our stack (no `nostack`) and returns here.
    unsafe {
        core::arch::asm!(
            "movl $2f, {aw}",
            "movl $3f, {ah}",
            "movl {value}, ({field})",
            "2:",
            "movl $0, %eax",
            "int $0x1f",
            "3:",
            field = in(reg) field,
            value = in(reg) value,
            aw = out(reg) after_write,
            ah = out(reg) after_hcall,
            out("eax") _,
            options(att_syntax),
        )
    };
    (after_write, after_hcall)
}

/// Check the one interrupt that arrived, after a write ending at `after_write` and a
/// hypercall ending at `after_hcall`; say when it came.
fn delivered(after_write: u32, after_hcall: u32) -> &'static str {
    let s = seen();
    check!(s.len() == 1, "expected IRQ 0 once, it came {} times", s.len());
    let f = &s[0].frame;
    check_eq!(f.vector, u32::from(CLOCK_VECTOR), "vector");
    check_eq!(f.cs, u32::from(LGUEST_KERNEL_CS), "CS");
    check!(f.irqs_were_enabled(), "pushed EFLAGS {:#x} lacks IF", f.eflags);
    check_eq!(s[0].irq_enabled, 0, "irq_enabled inside the interrupt gate's handler");
    if f.eip == after_write {
        "right after the write"
    } else if f.eip == after_hcall {
        "after the next hypercall"
    } else {
        conform::fail(format_args!(
            "IRQ 0 came at eip {:#x}: not right after the write ({after_write:#x}) nor after the next hypercall ({after_hcall:#x})",
            f.eip
        ))
    }
}

fn delivery() {
    irq::disable();
    clock::set_clockevent(100_000);
    clock::spin_until(clock::now_ns() + HOLD_NS);
    let (w, h) = write_then_hcall(OFF_IRQ_ENABLED, X86_EFLAGS_IF);
    let when = delivered(w, h);
    check_eq!(irq::save_fl(), X86_EFLAGS_IF, "irq_enabled after the handler returned");
    ok!(
        "IRQ 0 at vector 32, pushed EFLAGS has IF, irq_enabled 0 in the handler and 0x200 after; delivered {when}"
    );
}

fn disabled() {
    irq::disable();
    clock::set_clockevent(100_000);
    let calls = hold_off("while irq_enabled was 0");
    let (w, h) = write_then_hcall(OFF_IRQ_ENABLED, X86_EFLAGS_IF);
    let when = delivered(w, h);
    ok!("held off through {calls} hypercalls while irq_enabled was 0; delivered {when} it became 0x200");
}

fn blocked() {
    irq::block(clock::CLOCK_IRQ);
    irq::enable();
    clock::set_clockevent(100_000);
    let calls = hold_off("while it was blocked");
    let (w, h) = write_then_hcall(OFF_BLOCKED_INTERRUPTS, 0);
    let when = delivered(w, h);
    ok!("held off through {calls} hypercalls while blocked; delivered {when} it was unblocked");
}

unsafe extern "C" {
    /// Enable interrupts (store 0x200 at `irq_enabled`) and make hypercalls, all inside
    /// [noirq_test_start, noirq_test_end), until the TSC's low word passes `deadline`;
    /// then one more hypercall outside it.
    fn noirq_spin(deadline: u32, irq_enabled: *mut u32);
    static noirq_test_start: u8;
    static noirq_test_end: u8;
    static noirq_test_after_hcall: u8;
}

core::arch::global_asm!(
    r#"
    .section .text.noirq_spin, "ax"
    .global noirq_spin, noirq_test_start, noirq_test_end, noirq_test_after_hcall
noirq_spin:
    movl 4(%esp), %ecx
    movl 8(%esp), %edx
noirq_test_start:
    movl $0x200, (%edx)
1:  movl $0, %eax
    int $0x1f
    rdtsc
    subl %ecx, %eax
    js 1b
noirq_test_end:
    movl $0, %eax
    int $0x1f
noirq_test_after_hcall:
    ret
    "#,
    options(att_syntax)
);

fn set_noirq_window(start: u32, end: u32) {
    let data = lguest_data::as_ptr();
    // SAFETY: Guest-owned fields of the lguest_data static.
    unsafe {
        (&raw mut (*data).noirq_start).write_volatile(start);
        (&raw mut (*data).noirq_end).write_volatile(end);
    }
}

fn noirq() {
    let kit_window = traps::noirq_window();
    let (start, end) = (&raw const noirq_test_start as u32, &raw const noirq_test_end as u32);
    let after_hcall = &raw const noirq_test_after_hcall as u32;
    irq::disable();
    set_noirq_window(start, end);
    clock::set_clockevent(100_000);
    clock::spin_until(clock::now_ns() + 200_000);
    // IRQ 0 is pending; noirq_spin turns interrupts on only once inside the window.
    let deadline = (guest::rdtsc() as u32).wrapping_add(HOLD_NS as u32);
    let irq_enabled = (lguest_data::as_ptr() as u32 + OFF_IRQ_ENABLED) as *mut u32;
    // SAFETY: plain code that writes irq_enabled and makes FLUSH_ASYNC hypercalls.
    unsafe { noirq_spin(deadline, irq_enabled) };
    set_noirq_window(kit_window.0, kit_window.1);
    let s = seen();
    check!(s.len() == 1, "expected IRQ 0 once, it came {} times", s.len());
    let eip = s[0].frame.eip;
    check!(!(start..end).contains(&eip), "IRQ 0 was delivered at {eip:#x}, inside the window");
    check!(
        (end..=after_hcall).contains(&eip),
        "IRQ 0 came at {eip:#x}, not between the window's end {end:#x} and the next hypercall {after_hcall:#x}"
    );
    let when = if eip == end { "right at the window's end" } else { "after the next hypercall" };
    ok!("held off inside the no-interrupt window {start:#x}..{end:#x}; delivered {when}");
}

fn halt_disabled() {
    irq::disable();
    clock::set_clockevent(1_000_000);
    guest::halt();
    let s = seen();
    check!(s.len() == 1, "HALT returned with {} interrupts delivered", s.len());
    check!(s[0].frame.irqs_were_enabled(), "pushed EFLAGS {:#x} lacks IF", s[0].frame.eflags);
    check_eq!(irq::save_fl(), X86_EFLAGS_IF, "irq_enabled after the handler returned");
    ok!("HALT with interrupts off still wakes for the clock, which is delivered with IF set (as in 2.6.23)");
}
