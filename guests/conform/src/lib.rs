//! Shared by the conformance Guests (`src/bin/conform_*.rs`): each binary checks one area
//! of the ABI, the first word of the command line picks one behaviour (a *variant*), and
//! the Guest prints `conform: <variant>: ok <what it measured>` and powers off, or
//! CRASHes with `conform: <variant>: <what went wrong>`. Variants that must end in Sudden
//! Death print what they are about to do and then do it; if the Host lets them live they
//! crash saying so.
//!
//! Most checks run a *probe*: a few instructions in assembly with the label `1:` on the
//! instruction expected to trap and `2:` where execution resumes ([`probe!`]). The
//! recording handlers installed by [`record_traps`] note the frame they were given
//! ([`Seen`]), move EIP to the probe's resume label, and return.
#![no_std]

use guest::idt::Gate;
use guest::traps::{self, TrapFrame};
use guest::{Global, irq, println};

/// Run the variant named by the first word of the command line (`default` if none).
pub fn run(area: &str, default: &'static str, variants: &[(&str, fn())]) -> ! {
    let name = guest::boot::cmdline().split_whitespace().next().unwrap_or(default);
    set_name(name);
    match variants.iter().find(|(n, _)| *n == name) {
        Some((_, f)) => f(),
        None => fail(format_args!("{area} has no variant {name}")),
    }
    guest::power_off()
}

static NAME: Global<&'static str> = Global::new("?");

fn set_name(name: &'static str) {
    // SAFETY: written once, before any variant runs.
    unsafe { *NAME.get() = name };
}

/// The variant being run.
pub fn name() -> &'static str {
    // SAFETY: written once by `run`.
    unsafe { *NAME.get() }
}

/// Report success: `conform: <variant>: ok <details>`.
#[macro_export]
macro_rules! ok {
    ($($arg:tt)*) => {
        guest::println!("conform: {}: ok {}", $crate::name(), format_args!($($arg)*))
    };
}

/// Say what the variant is about to do (for the Sudden Death ones).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        guest::println!("conform: {}: {}", $crate::name(), format_args!($($arg)*))
    };
}

/// Crash with `conform: <variant>: <message>`.
pub fn fail(args: core::fmt::Arguments) -> ! {
    guest::crash_fmt(format_args!("conform: {}: {}", name(), args))
}

/// Crash with a message unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            $crate::fail(format_args!($($arg)*))
        }
    };
}

/// Crash unless `left == right`, showing both in hex.
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr, $what:expr) => {{
        let (l, r) = ($left, $right);
        if l != r {
            $crate::fail(format_args!("{}: got {:#x}, expected {:#x}", $what, l, r))
        }
    }};
}

/// A probe's addresses: `code` (call it), `fault` (label `1:`), `resume` (label `2:`).
#[repr(C)]
pub struct Probe {
    pub code: u32,
    pub fault: u32,
    pub resume: u32,
}

impl Probe {
    /// Call the probe's code and return its %eax. Probes keep the callee-saved
    /// registers.
    pub fn call(&self) -> u32 {
        // SAFETY: probe! code is a function of the C ABI that returns; what it traps on is
        // handled by the recording handlers, which resume it at its `2:` label.
        unsafe {
            let f: extern "C" fn() -> u32 = core::mem::transmute(self.code as usize);
            f()
        }
    }
}

/// `probe!(NAME, "insn", ...)`: a [`Probe`] static named NAME whose code is the given
/// instructions (with `1:` before the one expected to trap and `2:` after it), then `ret`.
#[macro_export]
macro_rules! probe {
    ($name:ident, $($insn:literal),+ $(,)?) => {
        core::arch::global_asm!(
            concat!(
                ".pushsection .text.probe_", stringify!($name), ", \"ax\"\n",
                "probe_code_", stringify!($name), ":\n",
                $($insn, "\n",)+
                "ret\n",
                ".popsection\n",
                ".pushsection .rodata.probe_", stringify!($name), ", \"a\"\n",
                ".balign 4\n",
                ".global ", stringify!($name), "\n",
                stringify!($name), ":\n",
                ".long probe_code_", stringify!($name), ", 1b, 2b\n",
                ".popsection\n",
            ),
            options(att_syntax)
        );
        // SAFETY: the assembly above defines the symbol as three words, the layout of
        // Probe, in read-only data that nothing writes.
        unsafe extern "C" {
            pub safe static $name: $crate::Probe;
        }
    };
}

/// What a recording handler saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen {
    /// The frame as it arrived.
    pub frame: TrapFrame,
    /// Where the frame was (its lowest address).
    pub frame_at: u32,
    /// `lguest_data.irq_enabled` inside the handler.
    pub irq_enabled: u32,
    /// `lguest_data.cr2` inside the handler.
    pub cr2: u32,
}

const MAX_SEEN: usize = 4;

struct Log {
    seen: [Seen; MAX_SEEN],
    count: usize,
    /// Where to resume after the next trap (0: leave EIP as it is).
    resume: u32,
}

static LOG: Global<Log> = Global::new(Log { seen: [EMPTY; MAX_SEEN], count: 0, resume: 0 });
const EMPTY: Seen = Seen { frame: TrapFrame::ZERO, frame_at: 0, irq_enabled: 0, cr2: 0 };

/// A handler that records the frame and resumes where the current probe says.
pub fn record(frame: &mut TrapFrame) {
    let seen = Seen {
        frame: *frame,
        frame_at: frame as *const TrapFrame as u32,
        irq_enabled: irq::save_fl(),
        cr2: guest::lguest_data::cr2(),
    };
    // SAFETY: one CPU; the log is only touched by handlers and by the probe runner
    // between probes. Nested traps record in the order they arrive.
    let log = unsafe { &mut *LOG.get() };
    if log.count < MAX_SEEN {
        log.seen[log.count] = seen;
    }
    log.count += 1;
    if log.resume != 0 {
        frame.eip = log.resume;
    }
}

/// Install [`record`] through `gate` for every exception vector the Host lets a Guest
/// have (all of 0-31 except 2, 8, 15 and the hypercall vector).
pub fn record_traps(gate: Gate) {
    for v in 0..32u8 {
        if !matches!(v, 2 | 8 | 15 | 0x1F) {
            traps::set_handler(v, gate, record);
        }
    }
}

/// Forget what was recorded, and resume at `resume` after the next trap (0: don't move).
pub fn expect_at(resume: u32) {
    // SAFETY: see `record`.
    unsafe {
        let log = &mut *LOG.get();
        log.count = 0;
        log.resume = resume;
    }
}

/// Resume at `resume` after the next trap, keeping what was recorded (for a trap inside
/// a handler).
pub fn resume_at(resume: u32) {
    // SAFETY: see `record`.
    unsafe { (*LOG.get()).resume = resume };
}

/// The traps recorded since [`expect_at`].
pub fn seen() -> &'static [Seen] {
    // SAFETY: see `record`; read between probes.
    let log = unsafe { &*LOG.get() };
    &log.seen[..log.count.min(MAX_SEEN)]
}

/// Run `probe`, which must trap exactly once, and return what the handler saw.
pub fn trap_of(probe: &Probe) -> Seen {
    expect_at(probe.resume);
    probe.call();
    let seen = seen();
    check!(seen.len() == 1, "expected one trap from the probe, saw {}", seen.len());
    seen[0]
}

/// Check a frame's vector, error code and EIP.
pub fn check_frame(seen: &Seen, vector: u32, error_code: u32, eip: u32) {
    check_eq!(seen.frame.vector, vector, "vector");
    check_eq!(seen.frame.error_code, error_code, "error code");
    check_eq!(seen.frame.eip, eip, "EIP in the trap frame");
}

/// Print the boring part of a frame, for the record.
pub fn describe(seen: &Seen) {
    let f = &seen.frame;
    println!(
        "conform: {}: frame vector {:#x} error {:#x} eip {:#x} cs {:#x} eflags {:#x}",
        name(),
        f.vector,
        f.error_code,
        f.eip,
        f.cs,
        f.eflags
    );
}

/// A user-mode program: position-independent code between `start` and `end`, copied to a
/// user page by [`UserSpace::new`]; `fault` (label `1:`) and `after` (label `2:`) mark the
/// instruction of interest, as in a [`Probe`].
#[repr(C)]
pub struct UserProg {
    pub start: u32,
    pub fault: u32,
    pub after: u32,
    pub end: u32,
}

/// `user_prog!(NAME, "insn", ...)`: a [`UserProg`] static named NAME.
#[macro_export]
macro_rules! user_prog {
    ($name:ident, $($insn:literal),+ $(,)?) => {
        core::arch::global_asm!(
            concat!(
                ".pushsection .text.user_", stringify!($name), ", \"ax\"\n",
                "user_code_", stringify!($name), ":\n",
                $($insn, "\n",)+
                "user_end_", stringify!($name), ":\n",
                ".popsection\n",
                ".pushsection .rodata.user_", stringify!($name), ", \"a\"\n",
                ".balign 4\n",
                ".global ", stringify!($name), "\n",
                stringify!($name), ":\n",
                ".long user_code_", stringify!($name), ", 1b, 2b, user_end_", stringify!($name), "\n",
                ".popsection\n",
            ),
            options(att_syntax)
        );
        // SAFETY: the assembly above defines the symbol as four words, the layout of
        // UserProg, in read-only data that nothing writes.
        unsafe extern "C" {
            pub safe static $name: $crate::UserProg;
        }
    };
}

/// Where user programs are put.
pub const USER_CODE: u32 = 0x0040_0000;
/// The top of the user stack (one page below it is mapped).
pub const USER_STACK_TOP: u32 = 0x0080_0000;

/// An address space with a user program at [`USER_CODE`] (read-only) and a writable
/// user stack page below [`USER_STACK_TOP`]; the kernel is mapped as everywhere.
pub struct UserSpace {
    pub pgdir: guest::paging::PageDir,
    pub prog: &'static UserProg,
}

impl UserSpace {
    /// Build it and switch to it. Needs `paging::init` first.
    pub fn new(prog: &'static UserProg) -> UserSpace {
        use guest::paging::{PageDir, pte};
        let len = prog.end - prog.start;
        check!(len <= guest::abi::PAGE_SIZE, "user program of {len} bytes is more than a page");
        let code = guest::page_alloc::alloc_page();
        // SAFETY: `prog` names code in our image; `code` is a fresh page of RAM.
        unsafe {
            core::ptr::copy_nonoverlapping(
                prog.start as usize as *const u8,
                guest::phys_to_virt(code),
                len as usize,
            )
        };
        let stack = guest::page_alloc::alloc_page();
        let pgdir = PageDir::new();
        pgdir.map(USER_CODE, code, pte::US);
        pgdir.map(USER_STACK_TOP - guest::abi::PAGE_SIZE, stack, pte::US | pte::RW);
        pgdir.switch_to();
        UserSpace { pgdir, prog }
    }

    /// Where label `addr` of the program is in user space.
    pub fn user_addr(&self, addr: u32) -> u32 {
        USER_CODE + (addr - self.prog.start)
    }

    /// Run the program from its start with the stack at [`USER_STACK_TOP`], until a
    /// handler calls `usermode::exit`; return what it passed.
    pub fn run(&self) -> u32 {
        guest::usermode::run(&guest::usermode::user_frame(USER_CODE, USER_STACK_TOP))
    }
}
