//! Raw system calls: `int $0x80` with the number in `%eax` and up to six arguments in
//! `%ebx`, `%ecx`, `%edx`, `%esi`, `%edi`, `%ebp`; the result comes back in `%eax`, a
//! value from -4095 to -1 being `-errno`. [`nr`] has the i386 numbers of 2.6.23.
//!
//! Calls with up to three arguments are inline assembly. The compiler reserves `%esi` and
//! `%ebp` on i386, so calls with more go through [`syscall6`], a small assembly function
//! that loads all six registers itself.

use crate::{Errno, Result};
use core::arch::{asm, global_asm};

/// System call numbers (i386), as in 2.6.23's `arch/i386/kernel/syscall_table.S`.
pub mod nr {
    pub const EXIT: u32 = 1;
    pub const FORK: u32 = 2;
    pub const READ: u32 = 3;
    pub const WRITE: u32 = 4;
    pub const OPEN: u32 = 5;
    pub const CLOSE: u32 = 6;
    pub const WAITPID: u32 = 7;
    pub const LINK: u32 = 9;
    pub const UNLINK: u32 = 10;
    pub const EXECVE: u32 = 11;
    pub const CHDIR: u32 = 12;
    pub const MKNOD: u32 = 14;
    pub const CHMOD: u32 = 15;
    pub const LSEEK: u32 = 19;
    pub const TIME: u32 = 13;
    pub const GETPID: u32 = 20;
    pub const MOUNT: u32 = 21;
    pub const UMOUNT2: u32 = 52;
    pub const ALARM: u32 = 27;
    pub const PAUSE: u32 = 29;
    pub const ACCESS: u32 = 33;
    pub const SYNC: u32 = 36;
    pub const KILL: u32 = 37;
    pub const RENAME: u32 = 38;
    pub const MKDIR: u32 = 39;
    pub const RMDIR: u32 = 40;
    pub const DUP: u32 = 41;
    pub const PIPE: u32 = 42;
    pub const TIMES: u32 = 43;
    pub const BRK: u32 = 45;
    pub const IOCTL: u32 = 54;
    pub const SETPGID: u32 = 57;
    pub const UMASK: u32 = 60;
    pub const DUP2: u32 = 63;
    pub const GETPPID: u32 = 64;
    pub const GETPGRP: u32 = 65;
    pub const SETSID: u32 = 66;
    pub const SETRLIMIT: u32 = 75;
    pub const GETTIMEOFDAY: u32 = 78;
    pub const SYMLINK: u32 = 83;
    pub const READLINK: u32 = 85;
    pub const REBOOT: u32 = 88;
    pub const MUNMAP: u32 = 91;
    pub const TRUNCATE: u32 = 92;
    pub const FCHMOD: u32 = 94;
    pub const SOCKETCALL: u32 = 102;
    pub const SETITIMER: u32 = 104;
    pub const GETITIMER: u32 = 105;
    pub const WAIT4: u32 = 114;
    pub const UNAME: u32 = 122;
    pub const MPROTECT: u32 = 125;
    pub const GETPGID: u32 = 132;
    pub const FCHDIR: u32 = 133;
    pub const FSYNC: u32 = 118;
    pub const MSYNC: u32 = 144;
    pub const WRITEV: u32 = 146;
    pub const GETSID: u32 = 147;
    pub const FDATASYNC: u32 = 148;
    pub const SCHED_YIELD: u32 = 158;
    pub const NANOSLEEP: u32 = 162;
    pub const MREMAP: u32 = 163;
    pub const POLL: u32 = 168;
    pub const PRCTL: u32 = 172;
    pub const RT_SIGRETURN: u32 = 173;
    pub const RT_SIGACTION: u32 = 174;
    pub const RT_SIGPROCMASK: u32 = 175;
    pub const RT_SIGPENDING: u32 = 176;
    pub const RT_SIGSUSPEND: u32 = 179;
    pub const SIGRETURN: u32 = 119;
    pub const SIGALTSTACK: u32 = 186;
    pub const PREAD64: u32 = 180;
    pub const PWRITE64: u32 = 181;
    pub const GETCWD: u32 = 183;
    pub const UGETRLIMIT: u32 = 191;
    pub const MMAP2: u32 = 192;
    pub const FTRUNCATE64: u32 = 194;
    pub const STAT64: u32 = 195;
    pub const LSTAT64: u32 = 196;
    pub const FSTAT64: u32 = 197;
    pub const GETUID32: u32 = 199;
    pub const GETGID32: u32 = 200;
    pub const GETEUID32: u32 = 201;
    pub const GETEGID32: u32 = 202;
    pub const GETDENTS64: u32 = 220;
    pub const FCNTL64: u32 = 221;
    pub const GETTID: u32 = 224;
    pub const TKILL: u32 = 238;
    pub const EXIT_GROUP: u32 = 252;
    pub const CLOCK_GETTIME: u32 = 265;
    pub const CLOCK_GETRES: u32 = 266;
    pub const CLOCK_NANOSLEEP: u32 = 267;
    pub const WAITID: u32 = 284;
}

/// A system call's raw result as `Ok(value)` or `Err(errno)`.
#[inline]
pub fn check(ret: u32) -> Result<u32> {
    if ret > -4096i32 as u32 { Err(Errno(ret.wrapping_neg())) } else { Ok(ret) }
}

/// System call `nr` with no arguments.
///
/// # Safety
/// As for [`syscall3`].
#[inline(always)]
pub unsafe fn syscall0(nr: u32) -> u32 {
    let ret: u32;
    // SAFETY: int $0x80 changes only %eax (and the flags); what else the call does is the
    // caller's promise.
    unsafe { asm!("int $0x80", inlateout("eax") nr => ret, options(att_syntax, nostack)) };
    ret
}

/// System call `nr` with one argument.
///
/// # Safety
/// As for [`syscall3`].
#[inline(always)]
pub unsafe fn syscall1(nr: u32, a1: u32) -> u32 {
    let ret: u32;
    // SAFETY: as in syscall0.
    unsafe { asm!("int $0x80", inlateout("eax") nr => ret, in("ebx") a1, options(att_syntax, nostack)) };
    ret
}

/// System call `nr` with two arguments.
///
/// # Safety
/// As for [`syscall3`].
#[inline(always)]
pub unsafe fn syscall2(nr: u32, a1: u32, a2: u32) -> u32 {
    let ret: u32;
    // SAFETY: as in syscall0.
    unsafe {
        asm!("int $0x80", inlateout("eax") nr => ret, in("ebx") a1, in("ecx") a2, options(att_syntax, nostack))
    };
    ret
}

/// System call `nr` with three arguments.
///
/// # Safety
/// The arguments are what call `nr` expects: pointers to memory it may read or write,
/// valid for what it does with them; and the call does nothing that breaks the program's
/// own assumptions (unmapping its memory, say).
#[inline(always)]
pub unsafe fn syscall3(nr: u32, a1: u32, a2: u32, a3: u32) -> u32 {
    let ret: u32;
    // SAFETY: as in syscall0.
    unsafe {
        asm!(
            "int $0x80",
            inlateout("eax") nr => ret,
            in("ebx") a1,
            in("ecx") a2,
            in("edx") a3,
            options(att_syntax, nostack),
        )
    };
    ret
}

// The six-argument call, cdecl: (nr, a1, a2, a3, a4, a5, a6) on the stack.
global_asm!(
    ".globl linux_syscall6",
    ".type linux_syscall6, @function",
    "linux_syscall6:",
    "    pushl %ebp",
    "    pushl %edi",
    "    pushl %esi",
    "    pushl %ebx",
    "    movl 20(%esp), %eax",
    "    movl 24(%esp), %ebx",
    "    movl 28(%esp), %ecx",
    "    movl 32(%esp), %edx",
    "    movl 36(%esp), %esi",
    "    movl 40(%esp), %edi",
    "    movl 44(%esp), %ebp",
    "    int $0x80",
    "    popl %ebx",
    "    popl %esi",
    "    popl %edi",
    "    popl %ebp",
    "    ret",
    ".size linux_syscall6, . - linux_syscall6",
    options(att_syntax)
);

unsafe extern "C" {
    fn linux_syscall6(nr: u32, a1: u32, a2: u32, a3: u32, a4: u32, a5: u32, a6: u32) -> u32;
}

/// System call `nr` with up to six arguments (pass 0 for the ones it does not take).
///
/// # Safety
/// As for [`syscall3`].
#[inline]
pub unsafe fn syscall6(nr: u32, a1: u32, a2: u32, a3: u32, a4: u32, a5: u32, a6: u32) -> u32 {
    // SAFETY: linux_syscall6 saves and restores every register the calling convention
    // asks it to keep; the call itself is the caller's promise.
    unsafe { linux_syscall6(nr, a1, a2, a3, a4, a5, a6) }
}
