//! Leaving a signal handler for good: [`catch`] runs a function with a way back out,
//! and [`escape`] (from the function, or a handler it caused) takes it — `sigsetjmp`
//! and `siglongjmp` without the mask, which the caller restores itself if it wants to.
//!
//! Both are assembly, so that no Rust function "returns twice": `linux_catch` saves the
//! callee-saved registers and the stack pointer in a [`JmpBuf`] and calls the function;
//! `linux_escape` puts them back and returns from `linux_catch` a second way. Frames
//! abandoned that way have no destructors run; the functions run under `catch` own
//! nothing that needs one.

use core::arch::global_asm;
use core::sync::atomic::AtomicU32;

/// Where [`escape`] returns to: the stack pointer `linux_catch` saved, below its saved
/// registers. It can be a `static`, for a signal handler to reach.
#[repr(C)]
pub struct JmpBuf {
    esp: AtomicU32,
}

impl JmpBuf {
    pub const fn new() -> JmpBuf {
        JmpBuf { esp: AtomicU32::new(0) }
    }
}

impl Default for JmpBuf {
    fn default() -> JmpBuf {
        JmpBuf::new()
    }
}

global_asm!(
    // u32 linux_catch(void (*f)(u32), u32 arg, JmpBuf *buf): cdecl.
    ".globl linux_catch",
    ".type linux_catch, @function",
    "linux_catch:",
    "    pushl %ebp",
    "    movl %esp, %ebp",
    "    pushl %ebx",
    "    pushl %esi",
    "    pushl %edi",
    "    movl 16(%ebp), %eax",
    "    movl %esp, (%eax)",
    "    andl $-16, %esp",
    "    subl $12, %esp",
    "    pushl 12(%ebp)",
    "    call *8(%ebp)",
    "    xorl %eax, %eax",
    "    leal -12(%ebp), %esp",
    ".Lcatch_return:",
    "    popl %edi",
    "    popl %esi",
    "    popl %ebx",
    "    popl %ebp",
    "    ret",
    // void linux_escape(JmpBuf *buf, u32 value): never returns.
    ".globl linux_escape",
    ".type linux_escape, @function",
    "linux_escape:",
    "    movl 8(%esp), %eax",
    "    movl 4(%esp), %edx",
    "    movl (%edx), %esp",
    "    jmp .Lcatch_return",
    options(att_syntax)
);

unsafe extern "C" {
    fn linux_catch(f: extern "C" fn(u32), arg: u32, buf: *const JmpBuf) -> u32;
    fn linux_escape(buf: *const JmpBuf, value: u32) -> !;
}

/// Run `f(arg)`: 0 if it returned, or the value given to [`escape`] on `buf` while it
/// ran (by it, or by a signal handler it caused).
pub fn catch(f: extern "C" fn(u32), arg: u32, buf: &JmpBuf) -> u32 {
    // SAFETY: linux_catch keeps the calling convention; it writes buf's one word, which
    // is an atomic (shared mutation is allowed), and buf outlives the call.
    unsafe { linux_catch(f, arg, buf) }
}

/// Return `value` (non-zero) from the [`catch`] that filled `buf`.
///
/// # Safety
/// `buf` was filled by a [`catch`] that is still running (this is its function, or a
/// handler for a signal it caused), and the frames in between need no destructors.
pub unsafe fn escape(buf: &JmpBuf, value: u32) -> ! {
    assert!(value != 0, "escape with 0 would look like a normal return");
    // SAFETY: the caller's promise.
    unsafe { linux_escape(buf, value) }
}
