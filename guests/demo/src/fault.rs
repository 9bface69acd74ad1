//! Exceptions: what happens when code does something the CPU refuses.
//!
//! The Host reflects every exception to the gate the kernel loaded for it. From a task
//! (ring 3): a page fault on a stack page it has not touched before is fixed by mapping
//! the page (`Task::grow_stack`) — the task never notices — and any other fault kills
//! the task, which is what a kernel owes the other tasks. From the kernel itself (ring 1)
//! an exception is a bug, and the Guest crashes saying where.

use crate::sched::{self, Stop};
use crate::task::Fault;
use core::fmt;
use guest::abi::PAGE_SIZE;
use guest::idt::Gate;
use guest::traps::{self, TrapFrame};
use guest::{lguest_data, println};

/// The page-fault vector.
const PAGE_FAULT: u32 = 14;

/// Send every exception vector the Host lets a Guest have to [`on_exception`]. Interrupt
/// gates, so that no interrupt comes in before the handler has read `cr2`.
pub fn init() {
    for vector in 0..32 {
        // NMI, double fault, spurious and the hypercall vector are the Host's.
        if !matches!(vector, 2 | 8 | 15 | 0x1F) {
            traps::set_handler(vector, Gate::INTERRUPT, on_exception);
        }
    }
}

fn on_exception(frame: &mut TrapFrame) {
    let addr = if frame.vector == PAGE_FAULT { lguest_data::cr2() } else { 0 };
    let fault = Fault { vector: frame.vector, error_code: frame.error_code, addr, eip: frame.eip };
    if !frame.from_user() {
        guest::crash_fmt(format_args!("demo: kernel bug: {fault}"));
    }
    if fault.vector == PAGE_FAULT {
        let grown = sched::with_current(|t| {
            t.grow_stack(addr, fault.error_code).then(|| (t.pid, t.name, t.stack_pages()))
        });
        if let Some((pid, name, pages)) = grown {
            let kib = pages * PAGE_SIZE / 1024;
            println!(
                "demo: task {pid} ({name}): page fault at {addr:#x} handled: its stack is now {kib} KiB"
            );
            // Back to the instruction that faulted, which now succeeds.
            return;
        }
    }
    sched::stop(frame, Stop::Killed(fault))
}

/// The names of the exceptions, by vector.
const NAMES: [&str; 20] = [
    "divide error",
    "debug trap",
    "NMI",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack fault",
    "general protection fault",
    "page fault",
    "exception 15",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point error",
];

/// `page fault at 0xdead0000 (error 0x6: user write, not present) at eip 0x4000b2`, or
/// `general protection fault (error 0x0) at eip 0x400123`.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match NAMES.get(self.vector as usize) {
            Some(name) => write!(f, "{name}")?,
            None => write!(f, "exception {}", self.vector)?,
        }
        if self.vector == PAGE_FAULT {
            // The error code's bits: 1 the page was present (so the access was not
            // allowed), 2 a write, 4 from user mode.
            let code = self.error_code;
            let who = if code & 4 != 0 { "user" } else { "kernel" };
            let what = if code & 2 != 0 { "write" } else { "read" };
            let why = if code & 1 != 0 { "not allowed" } else { "not present" };
            write!(f, " at {:#x} (error {code:#x}: {who} {what}, {why})", self.addr)?;
        } else {
            write!(f, " (error {:#x})", self.error_code)?;
        }
        write!(f, " at eip {:#x}", self.eip)
    }
}
