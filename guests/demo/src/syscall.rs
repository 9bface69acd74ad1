//! System calls: `int $0x80` from a task, through a gate with DPL 3 (the only gate ring 3
//! may `int` to), with the ABI of `uapi.rs`.
//!
//! The gate is an interrupt gate: a system call runs with interrupts off, so a clock tick
//! cannot preempt the kernel halfway through one, and the kernel needs no locks. Calls
//! that give up the CPU (yield, sleep, exit) go back to the scheduler through
//! `sched::stop`; the others return straight to the task with the result in %eax.

use crate::sched::{self, Stop};
use crate::uapi::{EFAULT, ENOSYS, SYS_EXIT, SYS_GETPID, SYS_SLEEP, SYS_WRITE, SYS_YIELD, SYSCALL_VECTOR};
use guest::abi::{PAGE_OFFSET, PAGE_SIZE};
use guest::console;
use guest::idt::{Gate, GateType};
use guest::paging::pte;
use guest::traps::{self, TrapFrame};

/// Bytes one `write` takes at most.
const WRITE_MAX: u32 = 4096;

/// Load the system-call gate.
pub fn init() {
    traps::set_handler(SYSCALL_VECTOR, Gate { kind: GateType::Interrupt, dpl: 3 }, on_syscall);
}

fn on_syscall(frame: &mut TrapFrame) {
    let pid = sched::with_current(|task| {
        task.counters.syscalls += 1;
        task.pid
    });
    let (arg1, arg2) = (frame.ebx, frame.ecx);
    frame.eax = match frame.eax {
        SYS_EXIT => sched::stop(frame, Stop::Exit(arg1)),
        SYS_WRITE => write(arg1, arg2),
        SYS_YIELD => {
            frame.eax = 0;
            sched::stop(frame, Stop::Yielded)
        }
        SYS_SLEEP => {
            frame.eax = 0;
            sched::stop(frame, Stop::Sleep(arg1))
        }
        SYS_GETPID => pid,
        _ => ENOSYS,
    };
}

/// `write(buf, len)`: copy the task's bytes to the console, a piece at a time through a
/// kernel buffer (the Host takes DMA buffers by guest-physical address, which only the
/// kernel's linear map gives).
fn write(buf: u32, len: u32) -> u32 {
    let len = len.min(WRITE_MAX);
    if !user_readable(buf, len) {
        return EFAULT;
    }
    let mut piece = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(piece.len() as u32);
        // SAFETY: the bytes are mapped for the task to read (checked above) in its
        // address space, which is the current one; the kernel may read user pages.
        unsafe {
            core::ptr::copy_nonoverlapping((buf + done) as usize as *const u8, piece.as_mut_ptr(), n as usize)
        };
        console::write_bytes(&piece[..n as usize]);
        done += n;
    }
    len
}

/// Whether the task on the CPU may read the `len` bytes at `addr`: all below
/// PAGE_OFFSET, on pages its page tables map present and user-accessible.
fn user_readable(addr: u32, len: u32) -> bool {
    let Some(end) = addr.checked_add(len) else { return false };
    if end > PAGE_OFFSET {
        return false;
    }
    let pgdir = sched::with_current(|task| task.pgdir);
    let first = addr & !(PAGE_SIZE - 1);
    (first..end)
        .step_by(PAGE_SIZE as usize)
        .all(|page| pgdir.entry(page) & (pte::P | pte::US) == pte::P | pte::US)
}
