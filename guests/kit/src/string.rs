//! The C memory functions the compiler calls: `memcpy`, `memmove`, `memset`, `memcmp` and
//! `bcmp`. A kernel brings its own (Linux i386 had them in `arch/i386/lib/string.c`); the
//! toolchain's compiler_builtins leaves them to the C library on this target.
//!
//! The copies and fills are single `rep movsb` / `rep stosb` instructions, which our CPU
//! runs in bulk. They are written in assembly so that the compiler cannot turn them back
//! into calls to themselves. %esi is reserved by the compiler on i386, so it is swapped
//! in and out by hand around each string instruction.

use core::arch::asm;

/// # Safety
/// `dest` and `src` are valid for `n` bytes and do not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's promise; %esi is restored by the second xchg.
    unsafe {
        asm!(
            "xchgl {src}, %esi",
            "rep movsb",
            "xchgl {src}, %esi",
            src = inout(reg) src => _,
            inout("edi") dest => _,
            inout("ecx") n => _,
            options(att_syntax, nostack, preserves_flags),
        );
    }
    dest
}

/// # Safety
/// `dest` and `src` are valid for `n` bytes; they may overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // dest is below src, or past its end: a forward copy never reads what it wrote.
        // SAFETY: the caller's promise, and the check above.
        return unsafe { memcpy(dest, src, n) };
    }
    // dest overlaps the end of src: copy backwards, from the last byte.
    // SAFETY: the caller's promise; n > 0 here, so the last bytes exist; %esi is restored
    // and the direction flag cleared again before returning.
    unsafe {
        asm!(
            "xchgl {src}, %esi",
            "std",
            "rep movsb",
            "cld",
            "xchgl {src}, %esi",
            src = inout(reg) src.add(n - 1) => _,
            inout("edi") dest.add(n - 1) => _,
            inout("ecx") n => _,
            options(att_syntax, nostack),
        );
    }
    dest
}

/// # Safety
/// `dest` is valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller's promise.
    unsafe {
        asm!(
            "rep stosb",
            inout("edi") dest => _,
            inout("ecx") n => _,
            in("eax") c,
            options(att_syntax, nostack, preserves_flags),
        );
    }
    dest
}

/// # Safety
/// `a` and `b` are valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: i < n, the caller's promise.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// # Safety
/// `a` and `b` are valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller's promise.
    unsafe { memcmp(a, b, n) }
}
