//! `strlen`, the one C string function the compiler calls: it recognises a loop that
//! looks for a NUL and turns it into a call (as `core::ffi::CStr::from_ptr` also does).
//! The memory functions are the Guest kit's (`guests/kit/src/string.rs`).

use core::arch::asm;

/// # Safety
/// `s` points to a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let left: usize;
    // SAFETY: the caller's promise: repne scasb stops at the NUL. A loop in Rust would
    // be compiled back into a call to strlen.
    unsafe {
        asm!(
            "repne scasb",
            inout("edi") s => _,
            inout("ecx") usize::MAX => left,
            in("eax") 0,
            options(att_syntax, nostack, readonly),
        );
    }
    // ecx counted down once per byte scanned, the NUL included.
    usize::MAX - left - 1
}
