//! Build the demo's user programs (`user/*.rs`) and leave them in OUT_DIR, where
//! `src/user.rs` embeds them.
//!
//! A user program is linked at a user address with its own linker script (`user/user.ld`),
//! so it cannot be part of the kernel's link; and cargo cannot build one binary of a
//! workspace as an input of another. So we run the compiler cargo uses (`RUSTC`) directly,
//! for the kernel's target: first the user library, `ulib`, then each program against it.
//! A direct rustc takes no cargo lock, so this works inside any cargo build.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The user programs, in `user/`: the ones the kernel starts, in order, then the shell.
/// (`shell.rs` also has a module of its own, `user/demofs.rs`, which rustc finds itself.)
const PROGRAMS: &[&str] = &["primes", "collatz", "faulty", "countdown", "shell"];

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let user = Path::new("user").canonicalize().expect("the user/ directory");
    println!("cargo:rerun-if-changed=user");
    println!("cargo:rerun-if-changed=src/uapi.rs");
    println!("cargo:rerun-if-changed=../kit/src/string.rs");

    // Always optimised: the programs are the demo's workload, and how long it runs should
    // not depend on the profile the kernel is built with. No debug information: the
    // kernel embeds the files, and their symbols are enough to look up an eip.
    let common = |cmd: &mut Command| {
        cmd.args(["--edition", "2024", "--target", &target])
            .args(["-C", "opt-level=2", "-C", "panic=abort", "-C", "relocation-model=static"])
            .args(["-C", "strip=debuginfo", "-D", "warnings"]);
    };

    let mut ulib = Command::new(&rustc);
    common(&mut ulib);
    ulib.args(["--crate-type", "rlib", "--crate-name", "ulib", "--out-dir"])
        .arg(&out)
        .arg(user.join("ulib.rs"));
    run(ulib, "ulib");

    for name in PROGRAMS {
        let mut prog = Command::new(&rustc);
        common(&mut prog);
        prog.args(["--crate-type", "bin", "--crate-name", name])
            .args(["-C", "linker=rust-lld", "-C", "linker-flavor=ld.lld"])
            .arg("-C")
            .arg(format!("link-arg=-T{}", user.join("user.ld").display()))
            .arg("--extern")
            .arg(format!("ulib={}", out.join("libulib.rlib").display()))
            .arg("-o")
            .arg(out.join(name))
            .arg(user.join(format!("{name}.rs")));
        run(prog, name);
    }
}

fn run(mut cmd: Command, what: &str) {
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run rustc for {what}: {e}"));
    assert!(status.success(), "compiling the user program {what} failed (rustc's messages are above)");
}
