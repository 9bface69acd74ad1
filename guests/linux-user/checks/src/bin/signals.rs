//! Signals: handlers with and without `siginfo`, what they are told (`si_code`, sender,
//! fault address, the registers of the interrupted context), the mask while a handler
//! runs, `SA_NODEFER`/`SA_RESETHAND`/`SA_RESTART`, blocking and pending (standard
//! signals merge, real-time ones queue), `sigsuspend`, `kill` to ourselves and to a
//! child, `tkill`, `alarm` and `setitimer`, `SIGCHLD`, the alternate stack, and faults:
//! `SIGSEGV` from a bad read, a write to read-only memory and a privileged instruction,
//! `SIGILL`, `SIGFPE`, `SIGTRAP`, each handled by leaving the handler for good
//! (`linux::jmp`), by fixing the registers and returning, or by exiting — and the wait
//! status each default action gives.
//!
//! Run with no arguments.

#![no_std]
#![no_main]

use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
use linux::check::{Hex, Report};
use linux::fs::{close, pipe, read, write};
use linux::io::{recv, send};
use linux::jmp::{JmpBuf, catch, escape};
use linux::mm::{self, PROT_READ};
use linux::process::{self, fork_child, getpid, getppid, getuid, kill, wait_for, wait4};
use linux::signal::{
    self, Handler, Reg, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SIG_BLOCK, SIG_SETMASK,
    SIG_UNBLOCK, SIGALRM, SIGCHLD, SIGFPE, SIGILL, SIGKILL, SIGRTMIN, SIGSEGV, SIGSTOP, SIGTERM, SIGTRAP,
    SIGUSR1, SIGUSR2, SigInfo, SigName, SigSet, UContext, sigaction, sigpending, sigprocmask,
};
use linux::time::{CLOCK_MONOTONIC, clock_gettime, nanosleep};
use linux::{Errno, cbuf};

linux::entry!(main);

fn main() -> i32 {
    let mut t = Report::new();
    // Whatever the parent left us: nothing blocked, default actions.
    let _ = sigprocmask(SIG_SETMASK, SigSet::empty());
    dispositions(&mut t);
    delivery(&mut t);
    masks(&mut t);
    queueing(&mut t);
    children(&mut t);
    timers(&mut t);
    interruptions(&mut t);
    alternate_stack(&mut t);
    faults(&mut t);
    fault_fixup(&mut t);
    default_actions(&mut t);
    t.finish()
}

/// What the last handler run saw.
struct Seen {
    count: AtomicU32,
    signo: AtomicU32,
    code: AtomicU32,
    pid: AtomicU32,
    uid: AtomicU32,
    addr: AtomicU32,
    blocked_lo: AtomicU32,
    uc_mask_lo: AtomicU32,
    order: AtomicU32,
}

static SEEN: Seen = Seen {
    count: AtomicU32::new(0),
    signo: AtomicU32::new(0),
    code: AtomicU32::new(0),
    pid: AtomicU32::new(0),
    uid: AtomicU32::new(0),
    addr: AtomicU32::new(0),
    blocked_lo: AtomicU32::new(0),
    uc_mask_lo: AtomicU32::new(0),
    order: AtomicU32::new(0),
};

fn reset() {
    for a in [&SEEN.count, &SEEN.signo, &SEEN.code, &SEEN.pid, &SEEN.uid, &SEEN.addr, &SEEN.order] {
        a.store(0, Relaxed);
    }
}

extern "C" fn plain(sig: i32) {
    SEEN.count.fetch_add(1, Relaxed);
    SEEN.signo.store(sig as u32, Relaxed);
    SEEN.blocked_lo.store(signal::blocked().words()[0], Relaxed);
    // The order signals came in: one byte each, the latest lowest.
    let order = SEEN.order.load(Relaxed);
    SEEN.order.store(order << 8 | sig as u32, Relaxed);
}

extern "C" fn info(sig: i32, si: *mut SigInfo, uc: *mut UContext) {
    // SAFETY: the kernel passes valid siginfo and ucontext pointers to a SA_SIGINFO handler.
    let (si, uc) = unsafe { (&*si, &*uc) };
    plain(sig);
    SEEN.code.store(si.code() as u32, Relaxed);
    SEEN.pid.store(si.pid() as u32, Relaxed);
    SEEN.uid.store(si.uid(), Relaxed);
    SEEN.addr.store(si.addr(), Relaxed);
    SEEN.uc_mask_lo.store(uc.sigmask().words()[0], Relaxed);
}

/// The low word of a signal set, for comparing with what a handler recorded.
fn lo(set: &[u32]) -> Hex {
    Hex(SigSet::of(set).words()[0])
}

fn dispositions(t: &mut Report) {
    t.section("dispositions");
    let old = sigaction(SIGUSR1, Handler::Plain(plain), 0, SigSet::empty());
    t.eq("the first sigaction's old handler (default)", old.map(|a| a.handler), Ok(0));
    let now = signal::get_action(SIGUSR1);
    t.eq("get_action: the handler is ours", now.map(|a| a.handler == plain as *const () as u32), Ok(true));
    sigaction(SIGUSR2, Handler::Info(info), SA_RESTART, SigSet::of(&[SIGTERM])).expect("sigaction");
    let now = signal::get_action(SIGUSR2);
    t.eq(
        "get_action: flags (SA_SIGINFO|SA_RESTART)",
        now.map(|a| Hex(a.flags)),
        Ok(Hex(signal::SA_SIGINFO | SA_RESTART)),
    );
    t.eq("get_action: sa_mask", now.map(|a| a.mask), Ok(SigSet::of(&[SIGTERM])));
    t.eq("sigaction on SIGKILL", signal::signal(SIGKILL, Handler::Ignore).map(drop), Err(Errno::EINVAL));
    t.eq(
        "sigaction on SIGSTOP",
        signal::signal(SIGSTOP, Handler::Plain(plain)).map(drop),
        Err(Errno::EINVAL),
    );
    t.eq("sigaction on signal 0", signal::signal(0, Handler::Ignore).map(drop), Err(Errno::EINVAL));
    t.eq("sigaction on signal 65", signal::signal(65, Handler::Ignore).map(drop), Err(Errno::EINVAL));
    t.eq("kill with signal 65", kill(getpid(), 65), Err(Errno::EINVAL));
    t.eq("kill(getpid(), 0)", kill(getpid(), 0), Ok(()));
    t.eq(
        "blocking SIGKILL and SIGSTOP is ignored",
        {
            let _ = sigprocmask(SIG_BLOCK, SigSet::of(&[SIGKILL, SIGSTOP, SIGUSR1]));
            let b = signal::blocked();
            let _ = sigprocmask(SIG_SETMASK, SigSet::empty());
            b
        },
        SigSet::of(&[SIGUSR1]),
    );
}

fn delivery(t: &mut Report) {
    t.section("delivery");
    reset();
    signal::raise(SIGUSR1).expect("raise");
    t.eq("raise(SIGUSR1): the plain handler ran before raise returned", SEEN.count.load(Relaxed), 1);
    t.eq("blocked inside the handler", Hex(SEEN.blocked_lo.load(Relaxed)), lo(&[SIGUSR1]));
    t.eq("blocked after it returned", signal::blocked(), SigSet::empty());

    reset();
    kill(getpid(), SIGUSR2).expect("kill");
    t.eq("kill(self, SIGUSR2): handler runs", SEEN.count.load(Relaxed), 1);
    t.eq("si_signo", SigName(SEEN.signo.load(Relaxed)), SigName(SIGUSR2));
    t.eq("si_code (SI_USER)", SEEN.code.load(Relaxed) as i32, signal::SI_USER);
    t.same("si_pid is ours", SEEN.pid.load(Relaxed) as i32, getpid());
    t.same("si_uid is ours", SEEN.uid.load(Relaxed), getuid());
    t.eq(
        "blocked inside: the signal and sa_mask",
        Hex(SEEN.blocked_lo.load(Relaxed)),
        lo(&[SIGUSR2, SIGTERM]),
    );
    t.eq("uc_sigmask: the mask before", Hex(SEEN.uc_mask_lo.load(Relaxed)), Hex(0));

    reset();
    signal::tkill(process::gettid(), SIGUSR2).expect("tkill");
    t.eq("tkill(self): si_code (SI_TKILL)", SEEN.code.load(Relaxed) as i32, signal::SI_TKILL);

    reset();
    sigaction(SIGUSR1, Handler::Plain(plain), SA_NODEFER | SA_RESETHAND, SigSet::empty()).expect("sigaction");
    signal::raise(SIGUSR1).expect("raise");
    t.eq("SA_NODEFER|SA_RESETHAND: handler runs", SEEN.count.load(Relaxed), 1);
    t.eq("SA_NODEFER: the signal is not blocked inside", Hex(SEEN.blocked_lo.load(Relaxed)), Hex(0));
    t.eq("SA_RESETHAND: the action is default again", signal::get_action(SIGUSR1).map(|a| a.handler), Ok(0));
    sigaction(SIGUSR1, Handler::Plain(plain), 0, SigSet::empty()).expect("sigaction");
}

fn masks(t: &mut Report) {
    t.section("blocking");
    reset();
    let old = sigprocmask(SIG_BLOCK, SigSet::of(&[SIGUSR1]));
    t.eq("sigprocmask SIG_BLOCK: the old mask", old, Ok(SigSet::empty()));
    signal::raise(SIGUSR1).expect("raise");
    signal::raise(SIGUSR1).expect("raise");
    t.eq("raised twice while blocked: handler runs", SEEN.count.load(Relaxed), 0);
    t.eq("sigpending", sigpending(), SigSet::of(&[SIGUSR1]));
    let pid = fork_child(|| {
        // A child inherits the mask, not the pending signals.
        let ok = signal::blocked() == SigSet::of(&[SIGUSR1]) && sigpending().is_empty();
        if ok { 0 } else { 1 }
    })
    .expect("fork");
    t.eq("a child: same mask, nothing pending (0 = yes)", wait_for(pid).map(|s| s.exit_code()), Ok(Some(0)));
    sigprocmask(SIG_UNBLOCK, SigSet::of(&[SIGUSR1])).expect("unblock");
    t.eq("unblocked: the handler ran (once: standard signals merge)", SEEN.count.load(Relaxed), 1);
    t.eq("sigpending", sigpending(), SigSet::empty());

    reset();
    // Two pending signals, each handler blocking the other: lowest number first.
    sigaction(SIGUSR1, Handler::Plain(plain), 0, SigSet::full()).expect("sigaction");
    sigaction(SIGTERM, Handler::Plain(plain), 0, SigSet::full()).expect("sigaction");
    sigprocmask(SIG_BLOCK, SigSet::of(&[SIGUSR1, SIGTERM])).expect("block");
    kill(getpid(), SIGTERM).expect("kill");
    kill(getpid(), SIGUSR1).expect("kill");
    t.eq("pending", sigpending(), SigSet::of(&[SIGUSR1, SIGTERM]));
    sigprocmask(SIG_SETMASK, SigSet::empty()).expect("unblock");
    let order = SEEN.order.load(Relaxed);
    t.eq(
        "delivered in the order",
        (SigName(order >> 8), SigName(order & 0xff)),
        (SigName(SIGUSR1), SigName(SIGTERM)),
    );
    signal::signal(SIGTERM, Handler::Default).expect("sigaction");
    sigaction(SIGUSR1, Handler::Plain(plain), 0, SigSet::empty()).expect("sigaction");

    reset();
    // sigsuspend: wait with the signal unblocked, for a child to send it.
    sigprocmask(SIG_BLOCK, SigSet::of(&[SIGUSR2])).expect("block");
    let parent = getpid();
    let pid = fork_child(move || if kill(parent, SIGUSR2).is_ok() { 0 } else { 1 }).expect("fork");
    let err = signal::sigsuspend(SigSet::empty());
    t.eq("sigsuspend returns", err, Errno::EINTR);
    t.eq("after the handler ran", SEEN.count.load(Relaxed), 1);
    t.same("si_pid is the child", SEEN.pid.load(Relaxed) as i32, pid);
    t.eq("the mask is back to what it was", signal::blocked(), SigSet::of(&[SIGUSR2]));
    t.eq("the child", wait_for(pid).map(|s| s.exit_code()), Ok(Some(0)));
    sigprocmask(SIG_SETMASK, SigSet::empty()).expect("unblock");
}

fn queueing(t: &mut Report) {
    t.section("real-time signals");
    reset();
    let rt = SIGRTMIN + 2;
    sigaction(rt, Handler::Info(info), 0, SigSet::empty()).expect("sigaction");
    sigprocmask(SIG_BLOCK, SigSet::of(&[rt])).expect("block");
    for _ in 0..3 {
        kill(getpid(), rt).expect("kill");
    }
    t.eq("pending", sigpending(), SigSet::of(&[rt]));
    sigprocmask(SIG_SETMASK, SigSet::empty()).expect("unblock");
    t.eq("sent three times while blocked: the handler ran", SEEN.count.load(Relaxed), 3);
    t.eq("si_signo", SigName(SEEN.signo.load(Relaxed)), SigName(rt));
}

static CHLD: Seen = Seen {
    count: AtomicU32::new(0),
    signo: AtomicU32::new(0),
    code: AtomicU32::new(0),
    pid: AtomicU32::new(0),
    uid: AtomicU32::new(0),
    addr: AtomicU32::new(0),
    blocked_lo: AtomicU32::new(0),
    uc_mask_lo: AtomicU32::new(0),
    order: AtomicU32::new(0),
};

extern "C" fn on_chld(_: i32, si: *mut SigInfo, _: *mut UContext) {
    // SAFETY: the kernel passes a valid siginfo.
    let si = unsafe { &*si };
    CHLD.count.fetch_add(1, Relaxed);
    CHLD.code.store(si.code() as u32, Relaxed);
    CHLD.pid.store(si.pid() as u32, Relaxed);
    CHLD.addr.store(si.status() as u32, Relaxed);
}

extern "C" fn exit_on_usr1(_: i32, si: *mut SigInfo, _: *mut UContext) {
    // SAFETY: the kernel passes a valid siginfo.
    let from_parent = unsafe { (*si).pid() } == getppid();
    process::exit_group(if from_parent { 10 } else { 11 })
}

fn children(t: &mut Report) {
    t.section("SIGCHLD and children");
    sigaction(SIGCHLD, Handler::Info(on_chld), 0, SigSet::empty()).expect("sigaction");
    sigprocmask(SIG_BLOCK, SigSet::of(&[SIGCHLD])).expect("block");
    let pid = fork_child(|| 3).expect("fork");
    signal::sigsuspend(SigSet::empty());
    t.eq("SIGCHLD for a child exiting 3: handler runs", CHLD.count.load(Relaxed), 1);
    t.eq("si_code (CLD_EXITED)", CHLD.code.load(Relaxed) as i32, signal::CLD_EXITED);
    t.same("si_pid is the child", CHLD.pid.load(Relaxed) as i32, pid);
    t.eq("si_status", CHLD.addr.load(Relaxed), 3);
    t.eq("the child is still there to reap", wait_for(pid).map(|s| s.exit_code()), Ok(Some(3)));

    CHLD.count.store(0, Relaxed);
    let pid = fork_child(|| {
        process::no_core_dumps();
        let _ = signal::raise(SIGTERM);
        0
    })
    .expect("fork");
    signal::sigsuspend(SigSet::empty());
    t.eq(
        "SIGCHLD for a child killed by SIGTERM: si_code (CLD_KILLED)",
        CHLD.code.load(Relaxed) as i32,
        signal::CLD_KILLED,
    );
    t.eq("si_status", SigName(CHLD.addr.load(Relaxed)), SigName(SIGTERM));
    t.eq("reaped", wait_for(pid).map(|s| s.term_signal()), Ok(Some(SIGTERM)));
    sigprocmask(SIG_SETMASK, SigSet::empty()).expect("unblock");

    // Ignored SIGCHLD: children are reaped by the kernel, and wait finds none.
    signal::signal(SIGCHLD, Handler::Ignore).expect("sigaction");
    let pid = fork_child(|| 0).expect("fork");
    t.eq(
        "with SIGCHLD ignored, wait4 for an exited child",
        wait4(pid, 0).map(|(p, _)| p),
        Err(Errno::ECHILD),
    );
    signal::signal(SIGCHLD, Handler::Default).expect("sigaction");

    // kill to a child that catches the signal and exits from the handler.
    let [rd, wr] = pipe().expect("pipe");
    let pid = fork_child(|| {
        if sigaction(SIGUSR1, Handler::Info(exit_on_usr1), 0, SigSet::empty()).is_err() {
            return 1;
        }
        let _ = send(wr, &[1]);
        loop {
            signal::pause();
        }
    })
    .expect("fork");
    let mut ready = [0u32];
    t.eq("the child is ready", recv(rd, &mut ready), Ok(1));
    t.eq("kill(child, SIGUSR1)", kill(pid, SIGUSR1), Ok(()));
    t.eq(
        "it exits from its handler, having seen our pid (10)",
        wait_for(pid).map(|s| s.exit_code()),
        Ok(Some(10)),
    );
    close(rd).expect("close");
    close(wr).expect("close");
}

static ALARMS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_alarm(_: i32) {
    ALARMS.fetch_add(1, Relaxed);
}

fn elapsed_ms(since: u64) -> u64 {
    (clock_gettime(CLOCK_MONOTONIC).map(|t| t.as_ns()).unwrap_or(0) - since) / 1_000_000
}

fn now() -> u64 {
    clock_gettime(CLOCK_MONOTONIC).map(|t| t.as_ns()).unwrap_or(0)
}

fn timers(t: &mut Report) {
    t.section("alarm and setitimer");
    signal::signal(SIGALRM, Handler::Plain(on_alarm)).expect("sigaction");
    t.eq("alarm(5) with none set", signal::alarm(5), 0);
    t.eq("alarm(0): seconds left of it", signal::alarm(0), 5);
    t.eq("alarm(0) again", signal::alarm(0), 0);
    let start = now();
    signal::alarm(1);
    let err = signal::pause();
    t.eq("alarm(1), pause: returns", err, Errno::EINTR);
    t.eq("SIGALRMs", ALARMS.load(Relaxed), 1);
    t.ok("at least 1 s later", elapsed_ms(start) >= 1000);

    ALARMS.store(0, Relaxed);
    let start = now();
    let old = signal::setitimer(signal::ITIMER_REAL, 0, 50_000);
    t.eq("setitimer(ITIMER_REAL, 50 ms): the old value", old, Ok((0, 0)));
    let left = signal::getitimer(signal::ITIMER_REAL).map(|(i, v)| (i, v > 0 && v <= 50_000));
    t.eq("getitimer: (interval, 0 < value <= 50 ms)", left, Ok((0, true)));
    signal::pause();
    t.eq("SIGALRMs", ALARMS.load(Relaxed), 1);
    t.ok("at least 50 ms later", elapsed_ms(start) >= 50);
    t.eq("getitimer after it fired", signal::getitimer(signal::ITIMER_REAL), Ok((0, 0)));

    // A periodic timer: three signals, each after the interval.
    ALARMS.store(0, Relaxed);
    let start = now();
    signal::setitimer(signal::ITIMER_REAL, 20_000, 20_000).expect("setitimer");
    while ALARMS.load(Relaxed) < 3 {
        signal::pause();
    }
    signal::setitimer(signal::ITIMER_REAL, 0, 0).expect("setitimer");
    t.eq("periodic 20 ms timer: SIGALRMs waited for", ALARMS.load(Relaxed), 3);
    t.ok("at least 60 ms later", elapsed_ms(start) >= 60);
    signal::signal(SIGALRM, Handler::Default).expect("sigaction");
}

fn interruptions(t: &mut Report) {
    t.section("interrupted system calls");
    let [rd, wr] = pipe().expect("pipe");
    // Without SA_RESTART, a blocking read is cut short.
    sigaction(SIGALRM, Handler::Plain(on_alarm), 0, SigSet::empty()).expect("sigaction");
    signal::setitimer(signal::ITIMER_REAL, 0, 10_000).expect("setitimer");
    let mut buf = [0u8; 8];
    t.eq("read from an empty pipe, SIGALRM without SA_RESTART", read(rd, &mut buf), Err(Errno::EINTR));

    // With SA_RESTART it goes on, and gets what a child writes later.
    sigaction(SIGALRM, Handler::Plain(on_alarm), SA_RESTART, SigSet::empty()).expect("sigaction");
    ALARMS.store(0, Relaxed);
    let pid = fork_child(|| {
        let _ = nanosleep(200_000_000);
        if write(wr, b"late") == Ok(4) { 0 } else { 1 }
    })
    .expect("fork");
    signal::setitimer(signal::ITIMER_REAL, 0, 10_000).expect("setitimer");
    t.eq("the same with SA_RESTART: the read gets the child's bytes", read(rd, &mut buf), Ok(4));
    t.eq("and the alarm came meanwhile", ALARMS.load(Relaxed), 1);
    t.eq("the child", wait_for(pid).map(|s| s.exit_code()), Ok(Some(0)));

    // nanosleep is never restarted: it says how much was left.
    sigaction(SIGALRM, Handler::Plain(on_alarm), SA_RESTART, SigSet::empty()).expect("sigaction");
    signal::setitimer(signal::ITIMER_REAL, 0, 10_000).expect("setitimer");
    let slept = nanosleep(5_000_000_000);
    let left = slept.map_err(|(e, rem)| (e, rem.sec < 5 && rem.as_ns() > 0));
    t.eq("nanosleep(5 s) cut by SIGALRM: (error, 0 < time left < 5 s)", left, Err((Errno::EINTR, true)));
    signal::signal(SIGALRM, Handler::Default).expect("sigaction");
    close(rd).expect("close");
    close(wr).expect("close");
}

static ALT_LO: AtomicU32 = AtomicU32::new(0);
static ALT_HIT: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_altstack(_: i32) {
    let local = 0u8;
    let at = &raw const local as u32;
    let base = ALT_LO.load(Relaxed);
    ALT_HIT.store(u32::from(at >= base && at < base + 65536), Relaxed);
}

fn alternate_stack(t: &mut Report) {
    t.section("alternate signal stack");
    let stack = mm::mmap_anon(65536).expect("mmap");
    ALT_LO.store(stack, Relaxed);
    // Only what the new stack does is checked, not the old one sigaltstack reports: the
    // bundled 2.6.23 kernel, built with gcc 12, reads its second argument from the
    // wrong place (it writes the old stack over the new one's description instead).
    // SAFETY: the mapping is ours and used for nothing else.
    let set = unsafe { signal::sigaltstack(stack, 0, 65536) };
    t.ok_result("sigaltstack", &set);
    // SAFETY: as above; a stack smaller than MINSIGSTKSZ is refused.
    let small = unsafe { signal::sigaltstack(stack, 0, 1024) };
    t.eq("a stack smaller than MINSIGSTKSZ", small.map(drop), Err(Errno::ENOMEM));
    sigaction(SIGUSR1, Handler::Plain(on_altstack), SA_ONSTACK, SigSet::empty()).expect("sigaction");
    signal::raise(SIGUSR1).expect("raise");
    t.eq("a SA_ONSTACK handler's locals are on it", ALT_HIT.load(Relaxed), 1);
    sigaction(SIGUSR1, Handler::Plain(on_altstack), 0, SigSet::empty()).expect("sigaction");
    signal::raise(SIGUSR1).expect("raise");
    t.eq("without SA_ONSTACK they are not", ALT_HIT.load(Relaxed), 0);
    // SAFETY: turning it off gives nothing away.
    let off = unsafe { signal::sigaltstack(0, signal::SS_DISABLE, 0) };
    t.ok_result("disable it", &off);
    sigaction(SIGUSR1, Handler::Plain(on_altstack), SA_ONSTACK, SigSet::empty()).expect("sigaction");
    signal::raise(SIGUSR1).expect("raise");
    t.eq("then a SA_ONSTACK handler runs on the usual stack", ALT_HIT.load(Relaxed), 0);
    signal::signal(SIGUSR1, Handler::Default).expect("sigaction");
    // SAFETY: no longer used as a stack.
    unsafe { mm::munmap(stack, 65536) }.expect("munmap");
}

/// What a fault handler saw: signal, code, address, and from the context the exception
/// vector, its error code (low 3 bits) and CR2.
static FAULT: [AtomicU32; 7] = [const { AtomicU32::new(0) }; 7];
static JMP: JmpBuf = JmpBuf::new();

extern "C" fn on_fault(sig: i32, si: *mut SigInfo, uc: *mut UContext) {
    // SAFETY: the kernel passes valid siginfo and ucontext pointers.
    let (si, uc) = unsafe { (&*si, &*uc) };
    let vals = [
        sig as u32,
        si.code() as u32,
        si.addr(),
        uc.reg(Reg::Trapno),
        uc.reg(Reg::Err) & 7,
        uc.reg(Reg::Cr2),
        uc.reg(Reg::Eip),
    ];
    for (slot, v) in FAULT.iter().zip(vals) {
        slot.store(v, Relaxed);
    }
    // SAFETY: JMP was filled by the catch() running the faulting function, whose frames
    // own nothing.
    unsafe { escape(&JMP, 1) }
}

extern "C" fn read_at(addr: u32) {
    // SAFETY: the fault this may cause is what we test; on_fault leaves for good.
    unsafe { mm::peek(addr) };
}

extern "C" fn write_at(addr: u32) {
    // SAFETY: as above.
    unsafe { mm::poke(addr, 0x1234_5678) };
}

extern "C" fn privileged(_: u32) {
    // SAFETY: hlt in user mode faults (#GP); on_fault leaves for good.
    unsafe { asm!("hlt", options(nomem, nostack)) };
}

extern "C" fn undefined(_: u32) {
    // SAFETY: ud2 faults (#UD); on_fault leaves for good.
    unsafe { asm!("ud2", options(nomem, nostack)) };
}

extern "C" fn divide_by(divisor: u32) {
    // SAFETY: a division by zero faults (#DE); on_fault leaves for good.
    unsafe {
        asm!("divl {d}", d = in(reg) divisor, inout("eax") 100u32 => _, inout("edx") 0u32 => _, options(att_syntax, nomem, nostack));
    }
}

/// Run `f(arg)` expecting a fault; print what the handler saw: (signal, si_code,
/// si_addr, trapno), the address only if `want_addr` is given (where the instruction
/// is depends on the compiler). Returns the address.
fn fault(
    t: &mut Report,
    what: &str,
    f: extern "C" fn(u32),
    arg: u32,
    want: (u32, i32, Option<u32>, u32),
) -> u32 {
    for slot in &FAULT {
        slot.store(0, Relaxed);
    }
    let escaped = catch(f, arg, &JMP);
    let v: [u32; 7] = core::array::from_fn(|i| FAULT[i].load(Relaxed));
    t.eq(format_args!("{what}: left the handler through escape"), escaped, 1);
    let addr = want.2.map(|_| Hex(v[2]));
    t.eq(
        format_args!("{what}: (signal, si_code, si_addr, trapno)"),
        (SigName(v[0]), v[1] as i32, addr, v[3]),
        (SigName(want.0), want.1, want.2.map(Hex), want.3),
    );
    t.eq(
        format_args!("{what}: blocked after escaping (the signal, sa_mask)"),
        signal::blocked(),
        SigSet::of(&[want.0, signal::SIGBUS]),
    );
    sigprocmask(SIG_SETMASK, SigSet::empty()).expect("unblock");
    v[2]
}

/// Whether `addr` is within the first bytes of function `f`.
fn within(addr: u32, f: extern "C" fn(u32)) -> bool {
    let f = f as *const () as u32;
    addr >= f && addr < f + 64
}

fn faults(t: &mut Report) {
    t.section("faults, caught");
    // Each handler blocks SIGBUS too (sa_mask), to see the mask it leaves behind.
    let mask = SigSet::of(&[signal::SIGBUS]);
    for sig in [SIGSEGV, SIGILL, SIGFPE] {
        sigaction(sig, Handler::Info(on_fault), 0, mask).expect("sigaction");
    }
    let ro = mm::mmap(0, 4096, PROT_READ, mm::MAP_PRIVATE | mm::MAP_ANONYMOUS, -1, 0).expect("mmap");

    fault(t, "read at 0x10", read_at, 0x10, (SIGSEGV, signal::SEGV_MAPERR, Some(0x10), 14));
    t.eq(
        "its error code (user, read, not present) and CR2",
        (FAULT[4].load(Relaxed), Hex(FAULT[5].load(Relaxed))),
        (4, Hex(0x10)),
    );
    fault(t, "write at 0x20", write_at, 0x20, (SIGSEGV, signal::SEGV_MAPERR, Some(0x20), 14));
    t.eq("its error code (user, write, not present)", FAULT[4].load(Relaxed), 6);
    t.eq("reading the read-only page works (and maps it)", catch(read_at, ro + 8, &JMP), 0);
    let addr =
        fault(t, "write to a read-only page + 8", write_at, ro + 8, (SIGSEGV, signal::SEGV_ACCERR, None, 14));
    t.same("its si_addr is the page + 8", addr, ro + 8);
    t.eq("its error code (user, write, present)", FAULT[4].load(Relaxed), 7);
    t.same("its CR2 is the address", FAULT[5].load(Relaxed), ro + 8);
    fault(t, "hlt in user mode", privileged, 0, (SIGSEGV, signal::SI_KERNEL, Some(0), 13));
    t.ok("its eip is in the function with the hlt", within(FAULT[6].load(Relaxed), privileged));
    let addr = fault(t, "ud2", undefined, 0, (SIGILL, 2, None, 6));
    t.ok("its si_addr is in the function with the ud2", within(addr, undefined));
    t.same("and is the eip of the context", FAULT[6].load(Relaxed), addr);
    let addr = fault(t, "divide by zero", divide_by, 0, (SIGFPE, 1, None, 0));
    t.ok("its si_addr is in the dividing function", within(addr, divide_by));
    t.same("and is the eip of the context", FAULT[6].load(Relaxed), addr);
    t.eq("divide by 7 does not fault", catch(divide_by, 7, &JMP), 0);

    // SAFETY: the read-only page is ours and unused.
    unsafe { mm::munmap(ro, 4096) }.expect("munmap");
    for sig in [SIGSEGV, SIGILL, SIGFPE] {
        signal::signal(sig, Handler::Default).expect("sigaction");
    }
}

static TRAP_EIP: AtomicU32 = AtomicU32::new(0);
static RECOVER_AT: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_trap(_: i32, si: *mut SigInfo, uc: *mut UContext) {
    // SAFETY: valid pointers from the kernel.
    let (si, uc) = unsafe { (&*si, &*uc) };
    SEEN.code.store(si.code() as u32, Relaxed);
    TRAP_EIP.store(uc.reg(Reg::Eip), Relaxed);
}

/// A SIGSEGV handler that does not leave: it changes the registers (eip past the fault,
/// ecx a value) and returns, so rt_sigreturn resumes there.
extern "C" fn fixup(_: i32, _: *mut SigInfo, uc: *mut UContext) {
    // SAFETY: a valid ucontext from the kernel; the handler may change it.
    let uc = unsafe { &mut *uc };
    uc.set_reg(Reg::Eip, RECOVER_AT.load(Relaxed));
    uc.set_reg(Reg::Ecx, 0xc0ff_ee00);
    SEEN.blocked_lo.store(signal::blocked().words()[0], Relaxed);
}

fn fault_fixup(t: &mut Report) {
    t.section("faults, fixed up");
    sigaction(SIGTRAP, Handler::Info(on_trap), 0, SigSet::empty()).expect("sigaction");
    let after: u32;
    // SAFETY: int3 raises SIGTRAP, whose handler returns to the next instruction.
    unsafe {
        asm!("int3", "2:", "movl $2b, {a}", a = out(reg) after, options(att_syntax, nostack));
    }
    t.eq("int3: si_code (SI_KERNEL)", SEEN.code.load(Relaxed) as i32, signal::SI_KERNEL);
    t.same("the context's eip is just after the int3", TRAP_EIP.load(Relaxed), after);
    signal::signal(SIGTRAP, Handler::Default).expect("sigaction");

    sigaction(SIGSEGV, Handler::Info(fixup), 0, SigSet::empty()).expect("sigaction");
    let (ecx, edx, edi): (u32, u32, u32);
    // SAFETY: the read from 0x30 faults; the handler resumes at label 3 with ecx set,
    // leaving the other registers as they were.
    unsafe {
        asm!(
            "movl $3f, ({rec})",
            "movl $0x11111111, %ecx",
            "movl $0x22222222, %edx",
            "movl $0x33333333, %edi",
            "movl 0x30, %ecx",
            "movl $0xdead, %edx",
            "3:",
            rec = in(reg) RECOVER_AT.as_ptr(),
            out("ecx") ecx,
            out("edx") edx,
            out("edi") edi,
            options(att_syntax),
        );
    }
    t.eq(
        "after the fixed-up fault: ecx (set by the handler), edx, edi",
        (Hex(ecx), Hex(edx), Hex(edi)),
        (Hex(0xc0ff_ee00), Hex(0x2222_2222), Hex(0x3333_3333)),
    );
    t.eq("blocked in that handler", Hex(SEEN.blocked_lo.load(Relaxed)), lo(&[SIGSEGV]));
    t.eq("blocked after it returned", signal::blocked(), SigSet::empty());
    signal::signal(SIGSEGV, Handler::Default).expect("sigaction");
}

extern "C" fn exit_42(_: i32) {
    process::exit_group(42)
}

/// A child that runs `f` after `setup`; its wait status.
fn child_status(setup: fn(), f: extern "C" fn(u32), arg: u32) -> linux::CBuf {
    let pid = fork_child(|| {
        process::no_core_dumps();
        setup();
        f(arg);
        0
    })
    .expect("fork");
    match wait_for(pid) {
        Ok(s) => cbuf!("{s}"),
        Err(e) => cbuf!("{e}"),
    }
}

fn default_actions(t: &mut Report) {
    t.section("default actions");
    for sig in 1..=64 {
        let _ = signal::signal(sig, Handler::Default);
    }
    let none = || {};
    t.eq("a child reading 0x10", child_status(none, read_at, 0x10), cbuf!("killed by SIGSEGV"));
    t.eq(
        "... with a handler that exits 42",
        child_status(
            || {
                let _ = signal::signal(SIGSEGV, Handler::Plain(exit_42));
            },
            read_at,
            0x10,
        ),
        cbuf!("exited 42"),
    );
    t.eq(
        "... with SIGSEGV blocked (the kernel forces it)",
        child_status(
            || {
                let _ = sigprocmask(SIG_BLOCK, SigSet::of(&[SIGSEGV]));
            },
            read_at,
            0x10,
        ),
        cbuf!("killed by SIGSEGV"),
    );
    t.eq(
        "... with SIGSEGV ignored (the kernel forces it)",
        child_status(
            || {
                let _ = signal::signal(SIGSEGV, Handler::Ignore);
            },
            read_at,
            0x10,
        ),
        cbuf!("killed by SIGSEGV"),
    );
    t.eq("a child running ud2", child_status(none, undefined, 0), cbuf!("killed by SIGILL"));
    t.eq("a child dividing by zero", child_status(none, divide_by, 0), cbuf!("killed by SIGFPE"));
    t.eq("a child running hlt", child_status(none, privileged, 0), cbuf!("killed by SIGSEGV"));
    extern "C" fn raise_sig(sig: u32) {
        let _ = signal::raise(sig);
    }
    for (sig, want) in [
        (signal::SIGHUP, "killed by SIGHUP"),
        (signal::SIGINT, "killed by SIGINT"),
        (signal::SIGQUIT, "killed by SIGQUIT"),
        (signal::SIGABRT, "killed by SIGABRT"),
        (SIGTERM, "killed by SIGTERM"),
        (SIGALRM, "killed by SIGALRM"),
        (SIGUSR2, "killed by SIGUSR2"),
        (SIGRTMIN + 1, "killed by SIGRTMIN+1"),
        (SIGCHLD, "exited 0"),
        (signal::SIGURG, "exited 0"),
        (signal::SIGWINCH, "exited 0"),
        (signal::SIGCONT, "exited 0"),
    ] {
        t.eq(
            format_args!("a child raising {}", SigName(sig)),
            child_status(none, raise_sig, sig),
            cbuf!("{want}"),
        );
    }
}
