//! Touching memory that may not be there: [`read`], [`write`] and [`call`] report the
//! fault an access caused ([`Fault`]: signal, `si_code`, address) instead of dying of it.
//!
//! Each installs a `SIGSEGV`/`SIGBUS`/`SIGILL` handler for the one access, runs it under
//! [`catch`](crate::jmp::catch), and the handler leaves through
//! [`escape`](crate::jmp::escape); the old handlers and signal mask are put back after.

use crate::jmp::{JmpBuf, catch, escape};
use crate::signal::{
    self, Handler, SIG_SETMASK, SIGBUS, SIGILL, SIGSEGV, SigInfo, SigName, SigSet, UContext,
};
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// A fault an access caused.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub signal: u32,
    pub code: i32,
    pub addr: u32,
}

/// `SIGSEGV/1`: the signal's name and `si_code` (the address is left out, as it is
/// usually a relation the caller checks).
impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", SigName(self.signal), self.code)
    }
}

static JMP: JmpBuf = JmpBuf::new();
static SEEN: [AtomicU32; 3] = [const { AtomicU32::new(0) }; 3];
static VALUE: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_fault(sig: i32, si: *mut SigInfo, _: *mut UContext) {
    // SAFETY: the kernel passes a valid siginfo to a SA_SIGINFO handler.
    let si = unsafe { &*si };
    SEEN[0].store(sig as u32, Relaxed);
    SEEN[1].store(si.code() as u32, Relaxed);
    SEEN[2].store(si.addr(), Relaxed);
    // SAFETY: JMP was filled by the catch() in guarded, still running; the frames in
    // between (the access functions below) own nothing.
    unsafe { escape(&JMP, 1) }
}

/// Run `f(arg)` with faults caught.
fn guarded(f: extern "C" fn(u32), arg: u32) -> Result<(), Fault> {
    let sigs = [SIGSEGV, SIGBUS, SIGILL];
    let mut old = [None; 3];
    for (slot, &sig) in old.iter_mut().zip(&sigs) {
        *slot = signal::sigaction(sig, Handler::Info(on_fault), 0, SigSet::empty()).ok();
    }
    let mask = signal::blocked();
    let escaped = catch(f, arg, &JMP);
    let _ = signal::sigprocmask(SIG_SETMASK, mask);
    for (old, &sig) in old.iter().zip(&sigs) {
        if let Some(old) = old {
            let _ = signal::restore_action(sig, old);
        }
    }
    if escaped == 0 {
        Ok(())
    } else {
        Err(Fault {
            signal: SEEN[0].load(Relaxed),
            code: SEEN[1].load(Relaxed) as i32,
            addr: SEEN[2].load(Relaxed),
        })
    }
}

extern "C" fn do_read(addr: u32) {
    // SAFETY: the access may fault; guarded() catches that.
    VALUE.store(unsafe { core::ptr::read_volatile(addr as *const u32) }, Relaxed);
}

extern "C" fn do_write(addr: u32) {
    // SAFETY: the access may fault; guarded() catches that. The caller promised the
    // memory is the program's to write, if it is there.
    unsafe { core::ptr::write_volatile(addr as *mut u32, VALUE.load(Relaxed)) };
}

extern "C" fn do_call(addr: u32) {
    // SAFETY: the caller promised addr holds a function of this type, or faults.
    let f: extern "C" fn() -> u32 = unsafe { core::mem::transmute(addr as usize) };
    VALUE.store(f(), Relaxed);
}

/// Read the word at `addr`.
pub fn read(addr: u32) -> Result<u32, Fault> {
    guarded(do_read, addr).map(|()| VALUE.load(Relaxed))
}

/// Write `value` to the word at `addr`.
///
/// # Safety
/// If `addr` is writable, nothing else of the program's lives there.
pub unsafe fn write(addr: u32, value: u32) -> Result<(), Fault> {
    VALUE.store(value, Relaxed);
    guarded(do_write, addr)
}

/// Call the code at `addr` as `extern "C" fn() -> u32`.
///
/// # Safety
/// If `addr` is executable, it holds such a function.
pub unsafe fn call(addr: u32) -> Result<u32, Fault> {
    guarded(do_call, addr).map(|()| VALUE.load(Relaxed))
}
