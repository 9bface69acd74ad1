//! The system-call ABI between the demo kernel and its user programs, shared by both:
//! the kernel compiles it as `crate::uapi`, the user library (`user/ulib.rs`) includes
//! the same file.
//!
//! A system call is `int $0x80` (a gate with DPL 3, so ring 3 may use it) with the call
//! number in %eax and arguments in %ebx, %ecx and %edx, as Linux i386 did; the result
//! comes back in %eax, a negative errno (as a u32) on failure.

/// The system-call vector.
pub const SYSCALL_VECTOR: u8 = 0x80;

/// `exit(code)`: end the calling task with status `code`. Does not return.
pub const SYS_EXIT: u32 = 0;
/// `write(buf, len)`: write `len` bytes at `buf` to the console; returns how many.
pub const SYS_WRITE: u32 = 1;
/// `yield()`: let the other tasks run; returns 0 when this one runs again.
pub const SYS_YIELD: u32 = 2;
/// `sleep(ms)`: sleep at least `ms` milliseconds; returns 0.
pub const SYS_SLEEP: u32 = 3;
/// `getpid()`: the calling task's process id.
pub const SYS_GETPID: u32 = 4;

/// A buffer a system call was given is not mapped for the caller to read.
pub const EFAULT: u32 = -14i32 as u32;
/// No such system call.
pub const ENOSYS: u32 = -38i32 as u32;
