//! ulib: everything a demo user program links with — its entry point, the system calls,
//! `print!`/`println!`, a panic handler, and the memory functions the compiler calls.
//!
//! User programs are ordinary `no_std` Rust, compiled by `build.rs` for the same i586
//! target as the kernel but linked by `user/user.ld` at user addresses (0x400000), and
//! run by the kernel at CPL 3 in an address space of their own. They cannot make a
//! hypercall (the Host would turn `int $0x1f` from ring 3 into a #GP); all they can do
//! is compute and ask the kernel through `int $0x80` (`uapi`).
#![no_std]

#[path = "../src/uapi.rs"]
mod uapi;
pub use uapi::*;

use core::arch::asm;
use core::fmt::{self, Write};

/// Name the program's `fn main() -> u32`: the kernel starts the program at `_start`, on
/// a fresh stack, and the task exits with what `main` returns.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn _start() -> ! {
            $crate::exit($main())
        }
    };
}

/// System call `nr` with up to three arguments.
fn syscall(nr: u32, a1: u32, a2: u32, a3: u32) -> u32 {
    let ret: u32;
    // SAFETY: the kernel reads (never writes) the memory a call names and changes no
    // register but %eax; it pushes its frame on its own stack, not ours.
    unsafe {
        asm!(
            "int $0x80",
            inlateout("eax") nr => ret,
            in("ebx") a1,
            in("ecx") a2,
            in("edx") a3,
            options(att_syntax, nostack),
        );
    }
    ret
}

/// End this task with status `code`.
pub fn exit(code: u32) -> ! {
    syscall(SYS_EXIT, code, 0, 0);
    unreachable!("the kernel returned from exit")
}

/// Write `bytes` to the console; returns how many were written.
pub fn write(bytes: &[u8]) -> u32 {
    syscall(SYS_WRITE, bytes.as_ptr() as u32, bytes.len() as u32, 0)
}

/// Let the other tasks run.
pub fn yield_now() {
    syscall(SYS_YIELD, 0, 0, 0);
}

/// Sleep at least `ms` milliseconds.
pub fn sleep(ms: u32) {
    syscall(SYS_SLEEP, ms, 0, 0);
}

/// This task's process id.
pub fn getpid() -> u32 {
    syscall(SYS_GETPID, 0, 0, 0)
}

/// A system call's result: `Err(errno)` (one of the `uapi` constants) if it failed.
fn check(ret: u32) -> Result<u32, u32> {
    if ret > -4096i32 as u32 { Err(ret) } else { Ok(ret) }
}

/// What an error from a system call means, for messages.
pub fn strerror(err: u32) -> &'static str {
    match err {
        ESRCH => "no such task",
        EIO => "I/O error",
        EFAULT => "bad address",
        ENODEV => "no such device",
        EINVAL => "invalid argument",
        ENOSYS => "no such system call",
        EADDRNOTAVAIL => "no address (start the Guest with ip= on its command line)",
        ETIMEDOUT => "timed out",
        _ => "unknown error",
    }
}

/// Read console input into `buf`, sleeping until some arrives: how many bytes, 0 once
/// input has ended.
pub fn read(buf: &mut [u8]) -> Result<usize, u32> {
    check(syscall(SYS_READ, buf.as_mut_ptr() as u32, buf.len() as u32, 0)).map(|n| n as usize)
}

/// Milliseconds since the kernel started.
pub fn uptime_ms() -> u32 {
    syscall(SYS_UPTIME, 0, 0, 0)
}

/// The task in slot `slot` of the kernel's table: `Ok(None)` for an empty slot,
/// `Err(EINVAL)` past the end of the table.
pub fn taskinfo(slot: u32) -> Result<Option<TaskInfo>, u32> {
    let mut info = TaskInfo::default();
    match check(syscall(SYS_TASKINFO, slot, &raw mut info as u32, 0)) {
        Ok(_) => Ok(Some(info)),
        Err(ESRCH) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sectors on the disk.
pub fn disk_size() -> Result<u32, u32> {
    check(syscall(SYS_DISK_SIZE, 0, 0, 0))
}

/// Read `buf.len() / 512` sectors (at most `DISK_MAX_SECTORS`) from `sector`.
pub fn disk_read(sector: u32, buf: &mut [u8]) -> Result<(), u32> {
    let count = buf.len() as u32 / SECTOR;
    check(syscall(SYS_DISK_READ, sector, buf.as_mut_ptr() as u32, count)).map(|_| ())
}

/// Write `buf.len() / 512` sectors (at most `DISK_MAX_SECTORS`) at `sector`.
pub fn disk_write(sector: u32, buf: &[u8]) -> Result<(), u32> {
    let count = buf.len() as u32 / SECTOR;
    check(syscall(SYS_DISK_WRITE, sector, buf.as_ptr() as u32, count)).map(|_| ())
}

/// Bytes in a sector.
pub const SECTOR: u32 = 512;

/// Ping the IPv4 address `ip` once with sequence number `seq`: the round trip in
/// microseconds.
pub fn ping(ip: [u8; 4], seq: u16) -> Result<u32, u32> {
    check(syscall(SYS_PING, u32::from_be_bytes(ip), u32::from(seq), 0))
}

/// A line being formatted: whatever one `print!` produces goes out in one `write`, so
/// lines from different tasks do not get mixed up mid-line.
struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                write(&self.buf);
                self.len = 0;
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

/// What `print!` calls.
#[doc(hidden)]
pub fn _print(args: fmt::Arguments) {
    let mut line = Line { buf: [0; 256], len: 0 };
    // Line::write_str never fails, and there is nobody to tell if a Display impl does.
    let _ = line.write_fmt(args);
    write(&line.buf[..line.len]);
}

/// Print to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::_print(format_args!($($arg)*)) };
}

/// Print a line to the console.
#[macro_export]
macro_rules! println {
    () => {{ $crate::write(b"\n"); }};
    ($($arg:tt)*) => { $crate::_print(format_args!("{}\n", format_args!($($arg)*))) };
}

/// A panicking program says why and exits with status 101, as a Rust program would.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("panicked: {}", info.message());
    exit(101)
}

/// The precompiled `core` names the unwinder's personality routine; nothing unwinds here
/// (panic = "abort"), so it only has to exist.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

// The memory functions the compiler emits calls to. User programs cannot call the
// kernel's (its pages are supervisor-only), so they link their own copy of the same
// source.
#[path = "../../kit/src/string.rs"]
mod string;
