//! System calls: `int $0x80` from a task, through a gate with DPL 3 (the only gate ring 3
//! may `int` to), with the ABI of `uapi.rs`.
//!
//! The gate is an interrupt gate: a system call runs with interrupts off, so a clock tick
//! cannot preempt the kernel halfway through one, and the kernel needs no locks. Calls
//! that give up the CPU (yield, sleep, exit) go back to the scheduler through
//! `sched::stop`; the others return straight to the task with the result in %eax.
//!
//! A `read` with no input yet blocks: the task's saved eip is moved back onto its
//! `int $0x80` and the task sleeps (`Stop::WaitInput`) until the scheduler sees input or
//! its end; then it makes the same call again, which now returns. Device calls (disk,
//! ping) wait for their device inside the call, the whole kernel with them.
//!
//! User memory is checked before it is touched ([`user_buffer`]) and copied through
//! kernel buffers: the Host takes DMA buffers by guest-physical address, which only the
//! kernel's linear map gives.

use crate::sched::{self, Stop};
use crate::uapi::*;
use crate::{devices, task::STACK_BOTTOM};
use core::ptr::copy_nonoverlapping;
use guest::abi::{PAGE_OFFSET, PAGE_SIZE, SECTOR_SIZE};
use guest::idt::{Gate, GateType};
use guest::paging::pte;
use guest::traps::{self, TrapFrame};
use guest::{Global, clock, console};

/// Bytes one `write` takes at most.
const WRITE_MAX: u32 = 4096;
/// Bytes one `read` returns at most.
const READ_MAX: u32 = 256;
/// Bytes of `int $0x80`: how far back a blocked call's eip goes to make it again.
const INT_LEN: u32 = 2;

/// When the kernel started (`clock::now_ns`), for `uptime`.
static BOOT_NS: Global<u64> = Global::new(0);

/// Load the system-call gate.
pub fn init() {
    // SAFETY: written once here, before any task can make a call that reads it.
    unsafe { *BOOT_NS.get() = clock::now_ns() };
    traps::set_handler(SYSCALL_VECTOR, Gate { kind: GateType::Interrupt, dpl: 3 }, on_syscall);
}

fn on_syscall(frame: &mut TrapFrame) {
    let pid = sched::with_current(|task| {
        task.counters.syscalls += 1;
        task.pid
    });
    let (arg1, arg2, arg3) = (frame.ebx, frame.ecx, frame.edx);
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
        SYS_READ => read(frame, arg1, arg2),
        SYS_UPTIME => {
            // SAFETY: written once by init.
            let boot = unsafe { *BOOT_NS.get() };
            ((clock::now_ns() - boot) / 1_000_000) as u32
        }
        SYS_TASKINFO => taskinfo(arg1, arg2),
        SYS_DISK_SIZE => devices::disk_size().unwrap_or_else(|e| e),
        SYS_DISK_READ => disk(false, arg1, arg2, arg3),
        SYS_DISK_WRITE => disk(true, arg1, arg2, arg3),
        SYS_PING => {
            let rtt = devices::ping(arg1.to_be_bytes(), arg2 as u16);
            // The wait borrowed the clock: put the scheduler's tick back.
            sched::arm_tick();
            rtt.map(|ns| (ns / 1000).min(u64::from(u32::MAX >> 1)) as u32).unwrap_or_else(|e| e)
        }
        _ => ENOSYS,
    };
}

/// `write(buf, len)`: copy the task's bytes to the console, a piece at a time.
fn write(buf: u32, len: u32) -> u32 {
    let len = len.min(WRITE_MAX);
    if !user_buffer(buf, len, false) {
        return EFAULT;
    }
    let mut piece = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(piece.len() as u32);
        // SAFETY: the bytes are mapped for the task to read (checked above) in its
        // address space, which is the current one; the kernel may read user pages.
        unsafe { copy_nonoverlapping((buf + done) as usize as *const u8, piece.as_mut_ptr(), n as usize) };
        console::write_bytes(&piece[..n as usize]);
        done += n;
    }
    len
}

/// `read(buf, len)`: console input, or sleep until there is some (see the module comment).
fn read(frame: &mut TrapFrame, buf: u32, len: u32) -> u32 {
    let len = len.min(READ_MAX);
    if len == 0 {
        return 0;
    }
    if !user_buffer(buf, len, true) {
        return EFAULT;
    }
    if !console::bind_input() {
        return ENODEV;
    }
    let mut piece = [0u8; READ_MAX as usize];
    let n = console::read(&mut piece[..len as usize]);
    if n == 0 {
        if console::input_ended() {
            return 0;
        }
        frame.eip -= INT_LEN;
        sched::stop(frame, Stop::WaitInput);
    }
    // SAFETY: the task may write these bytes (checked above), in its address space, the
    // current one.
    unsafe { copy_nonoverlapping(piece.as_ptr(), buf as usize as *mut u8, n) };
    n as u32
}

/// `taskinfo(slot, info)`.
fn taskinfo(slot: u32, info: u32) -> u32 {
    let size = size_of::<TaskInfo>() as u32;
    if !user_buffer(info, size, true) {
        return EFAULT;
    }
    match sched::task_info(slot as usize) {
        None => EINVAL,
        Some(None) => ESRCH,
        Some(Some(t)) => {
            // SAFETY: the task may write these bytes (checked above); unaligned, since
            // nothing says the task aligned its buffer.
            unsafe { (info as usize as *mut TaskInfo).write_unaligned(t) };
            0
        }
    }
}

/// `disk_read` and `disk_write`: `count` sectors at `sector`, to or from `buf`.
fn disk(write: bool, sector: u32, buf: u32, count: u32) -> u32 {
    let Some(len) = count.checked_mul(SECTOR_SIZE) else { return EINVAL };
    if !user_buffer(buf, len, !write) {
        return EFAULT;
    }
    let user = buf as usize as *mut u8;
    let result = devices::disk_io(write, sector, count, |kernel| {
        // SAFETY: the task's buffer is `len` bytes it may read (a write) or write (a
        // read), checked above, in the current address space; `kernel` is `len` bytes too
        // (disk_io checked count before calling us).
        unsafe {
            if write {
                copy_nonoverlapping(user, kernel.as_mut_ptr(), kernel.len());
            } else {
                copy_nonoverlapping(kernel.as_ptr(), user, kernel.len());
            }
        }
    });
    result.unwrap_or_else(|e| e)
}

/// Whether the task on the CPU may read (or, with `write`, write) the `len` bytes at
/// `addr`: all below PAGE_OFFSET, on pages its page tables map present and
/// user-accessible (and writable). Stack pages it has not touched yet are mapped now, as
/// its own first touch would have.
fn user_buffer(addr: u32, len: u32, write: bool) -> bool {
    let Some(end) = addr.checked_add(len) else { return false };
    if end > PAGE_OFFSET {
        return false;
    }
    let need = if write { pte::P | pte::US | pte::RW } else { pte::P | pte::US };
    let first = addr & !(PAGE_SIZE - 1);
    sched::with_current(|task| {
        (first..end).step_by(PAGE_SIZE as usize).all(|page| {
            if page >= STACK_BOTTOM && task.pgdir.entry(page) & pte::P == 0 {
                task.grow_stack(page, 0);
            }
            task.pgdir.entry(page) & need == need
        })
    })
}
