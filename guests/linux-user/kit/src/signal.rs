//! Signals: `rt_sigaction` with handlers that get `siginfo` and the interrupted context,
//! masks (`rt_sigprocmask`, `rt_sigpending`, `rt_sigsuspend`), `alarm`, `setitimer`.
//!
//! A C library gives the kernel a *restorer* with every handler (`SA_RESTORER`): the
//! code the handler returns into, which asks the kernel to undo the signal frame. The
//! kit does the same with its own two ([`linux_restore_rt`] for `SA_SIGINFO` handlers,
//! `rt_sigreturn`; `linux_restore` for plain ones, `sigreturn`), so a handler works on a
//! kernel without a vDSO and on today's, which would otherwise look for the vDSO's.

use crate::Result;
use crate::syscall::{check, nr, syscall0, syscall1, syscall2, syscall3, syscall6};
use core::arch::global_asm;
use core::fmt;

pub const SIGHUP: u32 = 1;
pub const SIGINT: u32 = 2;
pub const SIGQUIT: u32 = 3;
pub const SIGILL: u32 = 4;
pub const SIGTRAP: u32 = 5;
pub const SIGABRT: u32 = 6;
pub const SIGBUS: u32 = 7;
pub const SIGFPE: u32 = 8;
pub const SIGKILL: u32 = 9;
pub const SIGUSR1: u32 = 10;
pub const SIGSEGV: u32 = 11;
pub const SIGUSR2: u32 = 12;
pub const SIGPIPE: u32 = 13;
pub const SIGALRM: u32 = 14;
pub const SIGTERM: u32 = 15;
pub const SIGCHLD: u32 = 17;
pub const SIGCONT: u32 = 18;
pub const SIGSTOP: u32 = 19;
pub const SIGTSTP: u32 = 20;
pub const SIGTTIN: u32 = 21;
pub const SIGTTOU: u32 = 22;
pub const SIGURG: u32 = 23;
pub const SIGXCPU: u32 = 24;
pub const SIGXFSZ: u32 = 25;
pub const SIGVTALRM: u32 = 26;
pub const SIGPROF: u32 = 27;
pub const SIGWINCH: u32 = 28;
pub const SIGIO: u32 = 29;
pub const SIGPWR: u32 = 30;
pub const SIGSYS: u32 = 31;
/// The first real-time signal the kernel has (C libraries keep a few for themselves).
pub const SIGRTMIN: u32 = 32;

const NAMES: [&str; 32] = [
    "signal 0",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// A signal number shown by name: `SIGSEGV`, or `SIGRTMIN+2` past the classic ones.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SigName(pub u32);

impl fmt::Display for SigName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match NAMES.get(self.0 as usize) {
            Some(name) => f.write_str(name),
            None if self.0 <= 64 => write!(f, "SIGRTMIN+{}", self.0 - SIGRTMIN),
            None => write!(f, "signal {}", self.0),
        }
    }
}

impl fmt::Debug for SigName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Signal `sig` by name, for printing.
pub fn signal_name(sig: u32) -> SigName {
    SigName(sig)
}

/// A set of signals 1..=64, as the kernel's `sigset_t` (two words).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct SigSet([u32; 2]);

impl SigSet {
    pub const fn empty() -> SigSet {
        SigSet([0; 2])
    }
    pub const fn full() -> SigSet {
        SigSet([!0; 2])
    }
    pub fn of(sigs: &[u32]) -> SigSet {
        let mut s = SigSet::empty();
        for &sig in sigs {
            s.add(sig);
        }
        s
    }
    pub fn add(&mut self, sig: u32) {
        let bit = sig - 1;
        self.0[(bit / 32) as usize] |= 1 << (bit % 32);
    }
    pub fn remove(&mut self, sig: u32) {
        let bit = sig - 1;
        self.0[(bit / 32) as usize] &= !(1 << (bit % 32));
    }
    pub fn contains(&self, sig: u32) -> bool {
        let bit = sig - 1;
        self.0[(bit / 32) as usize] & (1 << (bit % 32)) != 0
    }
    pub fn is_empty(&self) -> bool {
        self.0 == [0, 0]
    }
    /// The set's raw words, low signals first.
    pub fn words(&self) -> [u32; 2] {
        self.0
    }
}

/// The members, by name: `{SIGUSR1, SIGTERM}`.
impl fmt::Debug for SigSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        let mut first = true;
        for sig in (1..=64).filter(|&s| self.contains(s)) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}", SigName(sig))?;
        }
        f.write_str("}")
    }
}

/// The kernel's `siginfo_t` (128 bytes), read through accessors: which fields mean
/// something depends on the signal and `si_code`.
#[repr(C)]
pub struct SigInfo {
    words: [u32; 32],
}

impl SigInfo {
    /// All zeros, for a call to fill.
    pub const fn zeroed() -> SigInfo {
        SigInfo { words: [0; 32] }
    }
    pub fn signo(&self) -> u32 {
        self.words[0]
    }
    pub fn errno(&self) -> i32 {
        self.words[1] as i32
    }
    pub fn code(&self) -> i32 {
        self.words[2] as i32
    }
    /// The sender's pid (`kill`, `SIGCHLD`).
    pub fn pid(&self) -> i32 {
        self.words[3] as i32
    }
    /// The sender's uid (`kill`, `SIGCHLD`).
    pub fn uid(&self) -> u32 {
        self.words[4]
    }
    /// The child's exit code or signal (`SIGCHLD`).
    pub fn status(&self) -> i32 {
        self.words[5] as i32
    }
    /// The faulting address (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`).
    pub fn addr(&self) -> u32 {
        self.words[3]
    }
}

pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_TKILL: i32 = -6;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const BUS_ADRERR: i32 = 2;
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;

/// The interrupted context a `SA_SIGINFO` handler gets (i386 `struct ucontext`): the
/// registers at the signal, which the handler may change before it returns, and the mask
/// restored then.
#[repr(C)]
pub struct UContext {
    /// uc_flags, uc_link, uc_stack (3 words), then `struct sigcontext` (22 words), then
    /// uc_sigmask.
    words: [u32; 29],
}

/// Registers in `struct sigcontext`, as word indexes into it.
#[derive(Clone, Copy)]
pub enum Reg {
    Edi = 4,
    Esi = 5,
    Ebp = 6,
    Esp = 7,
    Ebx = 8,
    Edx = 9,
    Ecx = 10,
    Eax = 11,
    /// The exception vector (14 for a page fault).
    Trapno = 12,
    /// The exception's error code (for a page fault: present, write, user bits).
    Err = 13,
    Eip = 14,
    Eflags = 16,
    /// The page fault's address.
    Cr2 = 21,
}

const MCONTEXT: usize = 5;

impl UContext {
    pub fn reg(&self, r: Reg) -> u32 {
        self.words[MCONTEXT + r as usize]
    }
    pub fn set_reg(&mut self, r: Reg, value: u32) {
        self.words[MCONTEXT + r as usize] = value;
    }
    /// The mask to be restored when the handler returns.
    pub fn sigmask(&self) -> SigSet {
        SigSet([self.words[27], self.words[28]])
    }
}

/// A handler that gets the signal number only.
pub type PlainHandler = extern "C" fn(i32);
/// A `SA_SIGINFO` handler.
pub type InfoHandler = extern "C" fn(i32, *mut SigInfo, *mut UContext);

/// What to do with a signal.
#[derive(Clone, Copy)]
pub enum Handler {
    Default,
    Ignore,
    Plain(PlainHandler),
    Info(InfoHandler),
}

pub const SA_NOCLDSTOP: u32 = 0x1;
pub const SA_NOCLDWAIT: u32 = 0x2;
pub const SA_SIGINFO: u32 = 0x4;
pub const SA_RESTORER: u32 = 0x0400_0000;
pub const SA_ONSTACK: u32 = 0x0800_0000;
pub const SA_RESTART: u32 = 0x1000_0000;
pub const SA_NODEFER: u32 = 0x4000_0000;
pub const SA_RESETHAND: u32 = 0x8000_0000;

global_asm!(
    ".globl linux_restore_rt",
    ".type linux_restore_rt, @function",
    "linux_restore_rt:",
    "    movl ${rt}, %eax",
    "    int $0x80",
    "    hlt",
    ".globl linux_restore",
    ".type linux_restore, @function",
    "linux_restore:",
    "    popl %eax",
    "    movl ${plain}, %eax",
    "    int $0x80",
    "    hlt",
    rt = const nr::RT_SIGRETURN,
    plain = const nr::SIGRETURN,
    options(att_syntax)
);

unsafe extern "C" {
    /// Where a `SA_SIGINFO` handler returns: `rt_sigreturn`.
    pub fn linux_restore_rt();
    /// Where a plain handler returns: pop the signal number, `sigreturn`.
    pub fn linux_restore();
}

/// The kernel's `struct sigaction` for `rt_sigaction`.
#[repr(C)]
#[derive(Clone, Copy)]
struct KSigaction {
    handler: u32,
    flags: u32,
    restorer: u32,
    mask: SigSet,
}

/// A signal's disposition as `rt_sigaction` reports it.
#[derive(Clone, Copy, Debug)]
pub struct Action {
    /// 0 default, 1 ignore, else a handler's address.
    pub handler: u32,
    pub flags: u32,
    pub mask: SigSet,
}

/// Set what signal `sig` does: `flags` (`SA_RESTART`, `SA_NODEFER`, ...; the kit adds
/// `SA_SIGINFO` for an [`Handler::Info`] and its restorer), `mask` blocked while the
/// handler runs. Returns the previous disposition.
pub fn sigaction(sig: u32, handler: Handler, flags: u32, mask: SigSet) -> Result<Action> {
    let (addr, flags, restorer) = match handler {
        Handler::Default => (0, flags, 0),
        Handler::Ignore => (1, flags, 0),
        Handler::Plain(f) => (f as usize as u32, flags | SA_RESTORER, linux_restore as *const () as u32),
        Handler::Info(f) => {
            (f as usize as u32, flags | SA_SIGINFO | SA_RESTORER, linux_restore_rt as *const () as u32)
        }
    };
    let new = KSigaction { handler: addr, flags, restorer, mask };
    let mut old = KSigaction { handler: 0, flags: 0, restorer: 0, mask: SigSet::empty() };
    // SAFETY: the kernel reads new and writes old, both struct sigaction; the handler and
    // restorer are functions of this program that fit the frame the kernel builds.
    check(unsafe { syscall6(nr::RT_SIGACTION, sig, &raw const new as u32, &raw mut old as u32, 8, 0, 0) })
        .map(|_| Action { handler: old.handler, flags: old.flags & !SA_RESTORER, mask: old.mask })
}

/// Put back a disposition [`sigaction`] returned.
pub fn restore_action(sig: u32, old: &Action) -> Result<()> {
    let handler = match old.handler {
        0 => Handler::Default,
        1 => Handler::Ignore,
        // SAFETY: a handler address the kernel had for this signal, with its flags.
        addr if old.flags & SA_SIGINFO != 0 => {
            Handler::Info(unsafe { core::mem::transmute::<usize, InfoHandler>(addr as usize) })
        }
        // SAFETY: as above.
        addr => Handler::Plain(unsafe { core::mem::transmute::<usize, PlainHandler>(addr as usize) }),
    };
    sigaction(sig, handler, old.flags & !SA_SIGINFO, old.mask).map(drop)
}

/// The current disposition of `sig`, unchanged.
pub fn get_action(sig: u32) -> Result<Action> {
    let mut old = KSigaction { handler: 0, flags: 0, restorer: 0, mask: SigSet::empty() };
    // SAFETY: the kernel writes old, a struct sigaction.
    check(unsafe { syscall6(nr::RT_SIGACTION, sig, 0, &raw mut old as u32, 8, 0, 0) }).map(|_| Action {
        handler: old.handler,
        flags: old.flags & !SA_RESTORER,
        mask: old.mask,
    })
}

/// [`sigaction`] with no flags and an empty mask.
pub fn signal(sig: u32, handler: Handler) -> Result<Action> {
    sigaction(sig, handler, 0, SigSet::empty())
}

pub const SIG_BLOCK: u32 = 0;
pub const SIG_UNBLOCK: u32 = 1;
pub const SIG_SETMASK: u32 = 2;

/// Change the blocked set (`how` = `SIG_BLOCK`, `SIG_UNBLOCK`, `SIG_SETMASK`): the old one.
pub fn sigprocmask(how: u32, set: SigSet) -> Result<SigSet> {
    let mut old = SigSet::empty();
    // SAFETY: the kernel reads set and writes old, 8 bytes each.
    check(unsafe { syscall6(nr::RT_SIGPROCMASK, how, &raw const set as u32, &raw mut old as u32, 8, 0, 0) })
        .map(|_| old)
}

/// The blocked set, unchanged.
pub fn blocked() -> SigSet {
    let mut old = SigSet::empty();
    // SAFETY: the kernel writes old (8 bytes); a NULL new set changes nothing.
    let _ = unsafe { syscall6(nr::RT_SIGPROCMASK, SIG_BLOCK, 0, &raw mut old as u32, 8, 0, 0) };
    old
}

/// Signals pending while blocked.
pub fn sigpending() -> SigSet {
    let mut set = SigSet::empty();
    // SAFETY: the kernel writes set (8 bytes).
    let _ = unsafe { syscall2(nr::RT_SIGPENDING, &raw mut set as u32, 8) };
    set
}

/// Wait for a signal with `mask` blocked meanwhile; returns when a handler has run
/// (the kernel always says `EINTR`).
pub fn sigsuspend(mask: SigSet) -> crate::Errno {
    // SAFETY: the kernel reads mask (8 bytes).
    match check(unsafe { syscall2(nr::RT_SIGSUSPEND, &raw const mask as u32, 8) }) {
        Err(e) => e,
        Ok(_) => crate::Errno(0),
    }
}

/// Wait for any signal that runs a handler or ends the process.
pub fn pause() -> crate::Errno {
    // SAFETY: touches no memory of ours.
    match check(unsafe { syscall0(nr::PAUSE) }) {
        Err(e) => e,
        Ok(_) => crate::Errno(0),
    }
}

/// `SIGALRM` in `secs` seconds (0 cancels): the seconds left of the previous alarm.
pub fn alarm(secs: u32) -> u32 {
    // SAFETY: touches no memory of ours; alarm cannot fail.
    unsafe { syscall1(nr::ALARM, secs) }
}

/// Send `sig` to this process.
pub fn raise(sig: u32) -> Result<()> {
    crate::process::kill(crate::process::getpid(), sig)
}

pub const ITIMER_REAL: u32 = 0;
pub const ITIMER_VIRTUAL: u32 = 1;
pub const ITIMER_PROF: u32 = 2;

/// `setitimer(which, {interval, value})`, times in microseconds: the old (interval, value).
pub fn setitimer(which: u32, interval_us: u32, value_us: u32) -> Result<(u32, u32)> {
    let new = [interval_us / 1_000_000, interval_us % 1_000_000, value_us / 1_000_000, value_us % 1_000_000];
    let mut old = [0u32; 4];
    // SAFETY: the kernel reads new and writes old, each a struct itimerval (4 longs).
    check(unsafe { syscall3(nr::SETITIMER, which, new.as_ptr() as u32, old.as_mut_ptr() as u32) })
        .map(|_| (old[0] * 1_000_000 + old[1], old[2] * 1_000_000 + old[3]))
}

/// `getitimer(which)`: (interval, value) in microseconds.
pub fn getitimer(which: u32) -> Result<(u32, u32)> {
    let mut cur = [0u32; 4];
    // SAFETY: the kernel writes a struct itimerval (4 longs) into cur.
    check(unsafe { syscall2(nr::GETITIMER, which, cur.as_mut_ptr() as u32) })
        .map(|_| (cur[0] * 1_000_000 + cur[1], cur[2] * 1_000_000 + cur[3]))
}

/// Send `sig` to thread `tid` (`tkill`): its `si_code` is `SI_TKILL`.
pub fn tkill(tid: i32, sig: u32) -> Result<()> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall2(nr::TKILL, tid as u32, sig) }).map(drop)
}

pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;
/// Smallest alternate signal stack the kernel accepts.
pub const MINSIGSTKSZ: u32 = 2048;

/// `sigaltstack`: run `SA_ONSTACK` handlers on `[base, base + size)` (`SS_DISABLE` in
/// `flags` to stop); returns the old (base, flags, size).
///
/// # Safety
/// The memory is the program's to give, and stays so while the stack is in use.
pub unsafe fn sigaltstack(base: u32, flags: u32, size: u32) -> Result<(u32, u32, u32)> {
    let new = [base, flags, size];
    let mut old = [0u32; 3];
    // SAFETY: the kernel reads new and writes old, each a stack_t (3 words); the caller
    // promises the memory.
    check(unsafe { syscall2(nr::SIGALTSTACK, new.as_ptr() as u32, old.as_mut_ptr() as u32) })
        .map(|_| (old[0], old[1], old[2]))
}

/// The current alternate signal stack: (base, flags, size).
pub fn get_sigaltstack() -> Result<(u32, u32, u32)> {
    let mut old = [0u32; 3];
    // SAFETY: the kernel writes a stack_t (3 words) into old; a NULL new changes nothing.
    check(unsafe { syscall2(nr::SIGALTSTACK, 0, old.as_mut_ptr() as u32) }).map(|_| (old[0], old[1], old[2]))
}
