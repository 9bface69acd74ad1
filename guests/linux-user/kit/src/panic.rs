//! The panic handler: a program that panics prints the message on standard error and
//! exits with status 101, as a Rust program with a C library does.

use crate::process::exit_group;
use core::panic::PanicInfo;

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    crate::eprintln!("panic: {info}");
    exit_group(101)
}

/// The precompiled `core` has unwind tables, whose entries name this personality
/// routine; with `panic = "abort"` nothing unwinds, so it is never called, but the
/// linker needs the symbol.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}
