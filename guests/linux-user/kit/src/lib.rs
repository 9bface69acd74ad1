//! The Linux user kit: what a Rust program needs to run on an i386 Linux kernel with no C
//! library — a 2.6.23 Guest's or the machine's own.
//!
//! A program is a `no_std`, `no_main` binary that names its main function with
//! [`entry!`]; the kit's `_start` ([`start`]) keeps the initial stack (argv, envp, auxv)
//! and calls it, and the process exits with what it returns:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! linux::entry!(main);
//!
//! fn main() -> i32 {
//!     linux::println!("hello from pid {}", linux::process::getpid());
//!     0
//! }
//! ```
//!
//! Every system call is `int $0x80` ([`syscall`]; the vDSO and `sysenter` are not used)
//! and returns `Result<_, Errno>` ([`errno`]). The calls are grouped by what they are
//! about: [`fs`] (files, directories, pipes, mounts), [`process`] (fork, exec, wait,
//! ids, limits, reboot), [`mm`] (mmap, brk), [`signal`] (handlers with `siginfo`, masks,
//! alarms; [`jmp`] to leave a handler for good, [`probe`] to touch memory that may fault),
//! [`time`] (clocks and sleeps), [`net`] (IPv4 sockets through `socketcall`, interface
//! addresses).
//! [`println!`] writes a whole line at once to standard output; [`check`] is how the
//! test programs report what they saw.
//!
//! Only system calls and flags that Linux 2.6.23 has are here, with the i386 numbers and
//! structure layouts of that kernel (which today's kernels keep for 32-bit programs).
//! The kit uses no floating point: i586 code would be x87 instructions, which the Guest
//! CPU does not have.
#![no_std]

#[cfg(not(target_arch = "x86"))]
compile_error!(
    "the Linux user kit is for i586-unknown-linux-gnu: run cargo inside guests/linux-user/, \
     whose configuration sets the target"
);

pub mod check;
pub mod errno;
pub mod fs;
pub mod io;
pub mod jmp;
pub mod mm;
pub mod net;
mod panic;
pub mod probe;
pub mod process;
pub mod signal;
pub mod start;
#[path = "../../../kit/src/string.rs"]
mod string;
mod strlen;
pub mod syscall;
pub mod time;

pub use errno::Errno;
pub use io::{Bytes, CBuf};
pub use start::{arg, argc, args, auxv, env, getenv};

/// The result of a system call.
pub type Result<T> = core::result::Result<T, Errno>;

/// Name the program's `fn main() -> i32`: `_start` calls it with the initial stack
/// recorded (see [`start`]), and the process exits (`exit_group`) with its value.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn __linux_main() -> i32 {
            $main()
        }
    };
}
