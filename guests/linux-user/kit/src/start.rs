//! The entry point, `_start`, and the initial stack the kernel hands a new program.
//!
//! At `_start`, `%esp` points at `argc`, then `argc` pointers to the arguments and a NULL,
//! then the environment's pointers and a NULL, then the auxiliary vector: (type, value)
//! pairs ending with `AT_NULL`. `_start` clears `%ebp` (the end of the frame chain),
//! aligns the stack to 16 bytes as the i386 System V ABI the compiler assumes asks, and
//! calls [`start_rust`] with that pointer, which records it and runs the program's
//! main function ([`entry!`](crate::entry)).

use crate::process::exit_group;
use core::arch::global_asm;
use core::sync::atomic::{AtomicPtr, Ordering};

global_asm!(
    ".globl _start",
    ".type _start, @function",
    "_start:",
    "    xorl %ebp, %ebp",
    "    movl %esp, %eax",
    "    andl $-16, %esp",
    "    subl $12, %esp",
    "    pushl %eax",
    "    call {start}",
    "    hlt",
    ".size _start, . - _start",
    start = sym start_rust,
    options(att_syntax)
);

/// The initial stack pointer: where `argc` is.
static INITIAL_SP: AtomicPtr<u32> = AtomicPtr::new(core::ptr::null_mut());

unsafe extern "C" {
    /// The program's main function, named by `linux::entry!`.
    fn __linux_main() -> i32;
}

/// Record the initial stack and run the program.
extern "C" fn start_rust(sp: *mut u32) -> ! {
    INITIAL_SP.store(sp, Ordering::Relaxed);
    // SAFETY: entry! defines __linux_main as a safe function taking nothing.
    let code = unsafe { __linux_main() };
    exit_group(code)
}

/// The pointers that follow `argc` on the initial stack: `argv`, NULL, `envp`, NULL, auxv.
fn words() -> *const u32 {
    let sp = INITIAL_SP.load(Ordering::Relaxed);
    assert!(!sp.is_null(), "the initial stack is read before _start ran");
    sp
}

/// How many arguments the program was started with (`argv[0]` included).
pub fn argc() -> usize {
    // SAFETY: the kernel put argc at the initial stack pointer, and nothing writes there.
    unsafe { *words() as usize }
}

/// Argument `i` (`argv[i]`), without its NUL.
pub fn arg(i: usize) -> Option<&'static [u8]> {
    // SAFETY: i < argc, so argv[i] is one of the kernel's pointers to a NUL-terminated
    // string on the initial stack, which lives as long as the program.
    (i < argc()).then(|| unsafe { cstr_at(*words().add(1 + i)) })
}

/// The arguments, `argv[0]` first.
pub fn args() -> impl Iterator<Item = &'static [u8]> {
    (0..argc()).filter_map(arg)
}

/// The pointer list that starts at word `first` of the initial stack and ends with NULL.
fn list(first: usize) -> impl Iterator<Item = u32> {
    let base = words();
    // SAFETY: the kernel ends each list with a NULL word, and the walk stops there.
    (first..).map(move |i| unsafe { *base.add(i) }).take_while(|&p| p != 0)
}

/// The environment's `NAME=value` strings.
pub fn env() -> impl Iterator<Item = &'static [u8]> {
    // SAFETY: each entry is a pointer to a NUL-terminated string on the initial stack.
    list(argc() + 2).map(|p| unsafe { cstr_at(p) })
}

/// The value of environment variable `name`.
pub fn getenv(name: &[u8]) -> Option<&'static [u8]> {
    env().find_map(|var| var.strip_prefix(name).and_then(|rest| rest.strip_prefix(b"=")))
}

/// The value of auxiliary vector entry `key` (`AT_PAGESZ` = 6, `AT_ENTRY` = 9, ...).
pub fn auxv(key: u32) -> Option<u32> {
    let envc = list(argc() + 2).count();
    let base = words();
    let first = argc() + 2 + envc + 1;
    // SAFETY: the auxiliary vector follows the environment's NULL and ends with AT_NULL.
    let mut pairs = (first..).step_by(2).map(|i| unsafe { (*base.add(i), *base.add(i + 1)) });
    pairs.find(|&(k, _)| k == key || k == 0).filter(|&(k, _)| k == key).map(|(_, v)| v)
}

/// `AT_PAGESZ`: the page size, in the auxiliary vector.
pub const AT_PAGESZ: u32 = 6;
/// `AT_ENTRY`: the program's entry point, in the auxiliary vector.
pub const AT_ENTRY: u32 = 9;

/// The NUL-terminated string at address `p`, without its NUL.
///
/// # Safety
/// `p` points to a NUL-terminated string that lives for the rest of the program.
unsafe fn cstr_at(p: u32) -> &'static [u8] {
    let p = p as *const u8;
    // SAFETY: the caller's promise: every byte up to the NUL is readable.
    unsafe { core::slice::from_raw_parts(p, crate::strlen::strlen(p)) }
}
