//! Processes: `fork`, `execve`, `exit`, `wait4` and the [`WaitStatus`] it reports, ids,
//! process groups and sessions, `kill`, resource limits, `prctl`, `uname` and `reboot`.

use crate::Result;
use crate::signal::signal_name;
use crate::syscall::{check, nr, syscall0, syscall1, syscall2, syscall3, syscall6};
use core::ffi::{CStr, c_char};
use core::fmt;

/// End the calling thread (`exit`); in a single-threaded program, the process.
pub fn exit(code: i32) -> ! {
    // SAFETY: exit does not return.
    unsafe { syscall1(nr::EXIT, code as u32) };
    unreachable!("exit returned")
}

/// End the process (`exit_group`).
pub fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group does not return.
    unsafe { syscall1(nr::EXIT_GROUP, code as u32) };
    unreachable!("exit_group returned")
}

/// `fork`: `Ok(0)` in the child, `Ok(child's pid)` in the parent.
pub fn fork() -> Result<i32> {
    // SAFETY: the child is a copy of this process; nothing is shared that either could
    // break for the other (the kit keeps no buffered output).
    check(unsafe { syscall0(nr::FORK) }).map(|pid| pid as i32)
}

/// Fork a child that runs `f` and exits (`exit_group`) with what it returns: the
/// child's pid.
pub fn fork_child(f: impl FnOnce() -> i32) -> Result<i32> {
    match fork()? {
        0 => exit_group(f()),
        pid => Ok(pid),
    }
}

/// Run `path` in this process with `argv` and `envp` (NULL-terminated lists of C
/// strings). Returns only if that failed.
pub fn execve(path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> crate::Errno {
    assert!(argv.last().is_some_and(|p| p.is_null()), "argv must end with a null pointer");
    assert!(envp.last().is_some_and(|p| p.is_null()), "envp must end with a null pointer");
    // SAFETY: the path and the two lists are NUL/NULL-terminated and only read.
    let ret =
        unsafe { syscall3(nr::EXECVE, path.as_ptr() as u32, argv.as_ptr() as u32, envp.as_ptr() as u32) };
    match check(ret) {
        Err(e) => e,
        Ok(_) => unreachable!("execve returned success"),
    }
}

pub const WNOHANG: u32 = 1;
pub const WUNTRACED: u32 = 2;
pub const WCONTINUED: u32 = 8;

/// `wait4`: the pid waited for (0 with `WNOHANG` if none has changed state) and its
/// status.
pub fn wait4(pid: i32, options: u32) -> Result<(i32, WaitStatus)> {
    let mut status = 0u32;
    // SAFETY: the kernel writes one int into status; no rusage.
    check(unsafe { syscall6(nr::WAIT4, pid as u32, &raw mut status as u32, options, 0, 0, 0) })
        .map(|p| (p as i32, WaitStatus(status)))
}

/// The old `waitpid` system call (i386 keeps it beside `wait4`).
pub fn waitpid(pid: i32, options: u32) -> Result<(i32, WaitStatus)> {
    let mut status = 0u32;
    // SAFETY: the kernel writes one int into status.
    check(unsafe { syscall3(nr::WAITPID, pid as u32, &raw mut status as u32, options) })
        .map(|p| (p as i32, WaitStatus(status)))
}

pub const P_ALL: u32 = 0;
pub const P_PID: u32 = 1;
pub const P_PGID: u32 = 2;
pub const WSTOPPED: u32 = 2;
pub const WEXITED: u32 = 4;
pub const WNOWAIT: u32 = 0x0100_0000;

/// `waitid`: the `siginfo` describing the child's change of state (`si_pid` 0 if
/// `WNOHANG` found none).
pub fn waitid(idtype: u32, id: i32, options: u32) -> Result<crate::signal::SigInfo> {
    let mut info = crate::signal::SigInfo::zeroed();
    // SAFETY: the kernel writes one siginfo_t (128 bytes) into info; no rusage.
    check(unsafe { syscall6(nr::WAITID, idtype, id as u32, &raw mut info as u32, options, 0, 0) })
        .map(|_| info)
}

/// `waitpid(pid, &status, 0)` retried on `EINTR`: the status of `pid`.
pub fn wait_for(pid: i32) -> Result<WaitStatus> {
    loop {
        match wait4(pid, 0) {
            Err(crate::Errno::EINTR) => continue,
            other => return other.map(|(_, s)| s),
        }
    }
}

/// The status word `wait4` fills in, decoded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct WaitStatus(pub u32);

impl WaitStatus {
    /// Exited normally: with this code.
    pub fn exit_code(self) -> Option<u32> {
        (self.0 & 0x7f == 0).then_some((self.0 >> 8) & 0xff)
    }
    /// Killed by a signal: which.
    pub fn term_signal(self) -> Option<u32> {
        let sig = self.0 & 0x7f;
        (sig != 0 && sig != 0x7f).then_some(sig)
    }
    /// Killed by a signal and dumped core.
    pub fn core_dumped(self) -> bool {
        self.term_signal().is_some() && self.0 & 0x80 != 0
    }
    /// Stopped: by which signal.
    pub fn stop_signal(self) -> Option<u32> {
        (self.0 & 0xff == 0x7f).then_some((self.0 >> 8) & 0xff)
    }
    /// Continued by `SIGCONT`.
    pub fn continued(self) -> bool {
        self.0 == 0xffff
    }
}

/// `exited 3`, `killed by SIGTERM`, `stopped by SIGSTOP`, `continued`. Whether a core
/// was dumped is left out: that depends on the machine's core settings, not on the kernel.
impl fmt::Display for WaitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(code) = self.exit_code() {
            write!(f, "exited {code}")
        } else if let Some(sig) = self.term_signal() {
            write!(f, "killed by {}", signal_name(sig))
        } else if self.continued() {
            f.write_str("continued")
        } else if let Some(sig) = self.stop_signal() {
            write!(f, "stopped by {}", signal_name(sig))
        } else {
            write!(f, "status {:#x}", self.0)
        }
    }
}

impl fmt::Debug for WaitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn id(nr: u32) -> i32 {
    // SAFETY: these calls take no arguments and cannot fail.
    unsafe { syscall0(nr) as i32 }
}

pub fn getpid() -> i32 {
    id(nr::GETPID)
}
pub fn getppid() -> i32 {
    id(nr::GETPPID)
}
pub fn gettid() -> i32 {
    id(nr::GETTID)
}
pub fn getpgrp() -> i32 {
    id(nr::GETPGRP)
}
pub fn getuid() -> u32 {
    id(nr::GETUID32) as u32
}
pub fn geteuid() -> u32 {
    id(nr::GETEUID32) as u32
}
pub fn getgid() -> u32 {
    id(nr::GETGID32) as u32
}
pub fn getegid() -> u32 {
    id(nr::GETEGID32) as u32
}

pub fn setpgid(pid: i32, pgid: i32) -> Result<()> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall2(nr::SETPGID, pid as u32, pgid as u32) }).map(drop)
}

pub fn getpgid(pid: i32) -> Result<i32> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall1(nr::GETPGID, pid as u32) }).map(|p| p as i32)
}

/// A new session with this process its leader: the session id.
pub fn setsid() -> Result<i32> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall0(nr::SETSID) }).map(|p| p as i32)
}

pub fn getsid(pid: i32) -> Result<i32> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall1(nr::GETSID, pid as u32) }).map(|p| p as i32)
}

/// Send signal `sig` to `pid` (a process, `-pgid` a group, 0 this group, -1 all).
pub fn kill(pid: i32, sig: u32) -> Result<()> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall2(nr::KILL, pid as u32, sig) }).map(drop)
}

/// Let another process run.
pub fn sched_yield() {
    // SAFETY: touches no memory of ours.
    unsafe { syscall0(nr::SCHED_YIELD) };
}

pub const RLIMIT_CORE: u32 = 4;
pub const RLIMIT_NOFILE: u32 = 7;
pub const RLIM_INFINITY: u32 = !0;

/// `ugetrlimit`: (soft, hard) limit of `resource`.
pub fn getrlimit(resource: u32) -> Result<(u32, u32)> {
    let mut lim = [0u32; 2];
    // SAFETY: the kernel writes a struct rlimit (two longs) into lim.
    check(unsafe { syscall2(nr::UGETRLIMIT, resource, lim.as_mut_ptr() as u32) }).map(|_| (lim[0], lim[1]))
}

pub fn setrlimit(resource: u32, soft: u32, hard: u32) -> Result<()> {
    let lim = [soft, hard];
    // SAFETY: the kernel reads a struct rlimit (two longs) from lim.
    check(unsafe { syscall2(nr::SETRLIMIT, resource, lim.as_ptr() as u32) }).map(drop)
}

pub const PR_SET_PDEATHSIG: u32 = 1;
pub const PR_GET_DUMPABLE: u32 = 3;
pub const PR_SET_DUMPABLE: u32 = 4;
pub const PR_SET_NAME: u32 = 15;
pub const PR_GET_NAME: u32 = 16;

/// `prctl` with integer arguments.
pub fn prctl(option: u32, arg: u32) -> Result<u32> {
    // SAFETY: the options the kit names with an integer argument touch no memory; for
    // PR_SET_NAME/PR_GET_NAME the caller passes a 16-byte buffer's address.
    check(unsafe { syscall6(nr::PRCTL, option, arg, 0, 0, 0, 0) })
}

/// Make a process that a signal kills leave no core file, whatever the machine's core
/// settings: a core limit of 0 and not dumpable. Its wait status then never has the
/// core bit, on any kernel.
pub fn no_core_dumps() {
    let _ = setrlimit(RLIMIT_CORE, 0, 0);
    let _ = prctl(PR_SET_DUMPABLE, 0);
}

/// `struct new_utsname`: six 65-byte fields.
pub struct Utsname {
    raw: [[u8; 65]; 6],
}

impl Utsname {
    fn field(&self, i: usize) -> &[u8] {
        let f = &self.raw[i];
        &f[..f.iter().position(|&b| b == 0).unwrap_or(65)]
    }
    pub fn sysname(&self) -> &[u8] {
        self.field(0)
    }
    pub fn nodename(&self) -> &[u8] {
        self.field(1)
    }
    pub fn release(&self) -> &[u8] {
        self.field(2)
    }
    pub fn version(&self) -> &[u8] {
        self.field(3)
    }
    pub fn machine(&self) -> &[u8] {
        self.field(4)
    }
}

pub fn uname() -> Result<Utsname> {
    let mut u = Utsname { raw: [[0; 65]; 6] };
    // SAFETY: the kernel writes one struct new_utsname (390 bytes) into u.
    check(unsafe { syscall1(nr::UNAME, &raw mut u as u32) }).map(|_| u)
}

pub const LINUX_REBOOT_CMD_RESTART: u32 = 0x0123_4567;
pub const LINUX_REBOOT_CMD_HALT: u32 = 0xcdef_0123;
pub const LINUX_REBOOT_CMD_POWER_OFF: u32 = 0x4321_fedc;

/// `reboot(LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, cmd)`; returns only if it failed
/// (or, on some kernels, if the machine cannot power off).
pub fn reboot(cmd: u32) -> Result<()> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall6(nr::REBOOT, 0xfee1_dead, 672_274_793, cmd, 0, 0, 0) }).map(drop)
}
