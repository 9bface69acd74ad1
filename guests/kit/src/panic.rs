//! How a Guest ends: [`power_off`], [`crash`], and the panic handler.
//!
//! All three are `LHCALL_CRASH` with the guest-physical address of a NUL-terminated
//! message. A 2.6.23 Guest powered off by "crashing" with the message "Power down", which
//! the Host treats as a clean exit; any other message is a crash. A panic sends
//! `panicked at FILE:LINE:COL: MESSAGE`.

use crate::hcall::{halt, hcall};
use crate::{Global, virt_to_phys};
use abi::Hcall;
use core::ffi::CStr;
use core::fmt::{self, Write};
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

/// Longest crash message sent, NUL included; longer ones are cut.
const CRASH_MSG_MAX: usize = 512;

/// Stop the Guest cleanly: `LHCALL_CRASH` with "Power down".
pub fn power_off() -> ! {
    lhcall_crash(c"Power down")
}

/// Stop the Guest because something went wrong, with `msg` as the reason.
pub fn crash(msg: &str) -> ! {
    crash_fmt(format_args!("{msg}"))
}

/// [`crash`] with a formatted message.
pub fn crash_fmt(args: fmt::Arguments) -> ! {
    static CRASHING: AtomicBool = AtomicBool::new(false);
    static MSG: Global<CrashMsg> = Global::new(CrashMsg { buf: [0; CRASH_MSG_MAX], len: 0 });
    if CRASHING.swap(true, Ordering::Relaxed) {
        // Formatting the message crashed or panicked: MSG is in use.
        lhcall_crash(c"crashed while formatting a crash message");
    }
    // SAFETY: CRASHING lets only the first caller get here, and it never returns.
    let msg = unsafe { &mut *MSG.get() };
    // CrashMsg cuts instead of failing; an error from a Display impl just ends the text.
    let _ = msg.write_fmt(args);
    lhcall_crash(msg.as_cstr())
}

fn lhcall_crash(msg: &CStr) -> ! {
    // SAFETY: CRASH only reads the message; the Host does not resume a Guest after it.
    unsafe { hcall(Hcall::Crash, virt_to_phys(msg.as_ptr()), 0, 0) };
    loop {
        halt();
    }
}

/// A message under construction, always leaving room for the NUL.
struct CrashMsg {
    buf: [u8; CRASH_MSG_MAX],
    len: usize,
}

impl CrashMsg {
    fn as_cstr(&mut self) -> &CStr {
        self.buf[self.len] = 0;
        // An interior NUL from the message just ends it early.
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"")
    }
}

impl Write for CrashMsg {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = CRASH_MSG_MAX - 1 - self.len;
        let take = s.len().min(room);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    match info.location() {
        Some(at) => crash_fmt(format_args!(
            "panicked at {}:{}:{}: {}",
            at.file(),
            at.line(),
            at.column(),
            info.message()
        )),
        None => crash_fmt(format_args!("panicked: {}", info.message())),
    }
}

/// The toolchain's precompiled `core` for this target is built to unwind, and without LTO
/// (debug builds) its objects still name the unwinder's personality routine. Nothing
/// unwinds in a Guest (panic = "abort"), so the symbol only has to exist.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}
