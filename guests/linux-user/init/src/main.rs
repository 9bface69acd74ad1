//! `/init` of the test initramfs: runs Linux programs one after another and reports how
//! each ended, between markers a test can find in the console output.
//!
//! It mounts /proc, /sys and a tmpfs on /tmp, reads the kernel command line from
//! /proc/cmdline, and runs each `run=NAME[,ARG...]` it finds there, in order: `/bin/NAME`
//! with those arguments (commas separate them; an argument cannot hold a comma or a
//! space). Without any `run=`, it runs the programs of `checks/programs.txt`. Each run
//! is framed by two lines:
//!
//! ```text
//! [lguest-init] begin NAME ARG...
//! ...what the program printed...
//! [lguest-init] end NAME: exited 0
//! ```
//!
//! (`killed by SIGSEGV` and the like when a signal ended it), and after the last one
//! `[lguest-init] done: N run, M failed`. Then it syncs and powers off
//! (`reboot(LINUX_REBOOT_CMD_POWER_OFF)`): under lguest the Launcher exits 0; on a PC
//! without a way to power off, 2.6.23 says "System halted." and ends init, which panics
//! the kernel (`panic=1` then reboots, and QEMU's `-no-reboot` exits).
//!
//! It is process 1, so it also reaps orphans while it waits: any child it did not start
//! is waited for and forgotten. Run as any other process it refuses to do anything.

#![no_std]
#![no_main]

use linux::fs::{self, mkdir, mount};
use linux::process::{self, execve, fork, wait4};
use linux::{Bytes, CBuf, Errno, cbuf, println};

linux::entry!(main);

/// The programs run when the command line names none, with their arguments.
const ALL: &str = include_str!("../../checks/programs.txt");

const MARK: &str = "[lguest-init]";

fn main() -> i32 {
    // It mounts, and it powers the machine off at the end: never as anything but init.
    if process::getpid() != 1 {
        linux::eprintln!("{MARK} not process 1: refusing to run (this /init powers the machine off)");
        return 1;
    }
    setup_mounts();
    let mut cmdline = [0u8; 2048];
    let len = fs::read_file(c"/proc/cmdline", &mut cmdline).unwrap_or(0);
    let cmdline = &cmdline[..len];

    let mut runs = 0;
    let mut failed = 0;
    let mut any = false;
    for token in cmdline.split(|&b| b == b' ' || b == b'\n').filter_map(|t| t.strip_prefix(b"run=")) {
        any = true;
        runs += 1;
        failed += u32::from(!run(token.split(|&b| b == b',')));
    }
    if !any {
        let lines = ALL.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
        for line in lines {
            runs += 1;
            failed += u32::from(!run(line.as_bytes().split(|&b| b == b' ').filter(|w| !w.is_empty())));
        }
    }
    println!("{MARK} done: {runs} run, {failed} failed");
    power_off()
}

/// Mount what the programs expect; a mount that fails is reported, not fatal.
fn setup_mounts() {
    for (source, target, fstype) in
        [(c"proc", c"/proc", c"proc"), (c"sysfs", c"/sys", c"sysfs"), (c"tmpfs", c"/tmp", c"tmpfs")]
    {
        match mkdir(target, 0o755) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => println!("{MARK} mkdir {}: {e}", Bytes(target.to_bytes())),
        }
        if let Err(e) = mount(source, target, fstype, 0) {
            println!("{MARK} mount {}: {e}", Bytes(target.to_bytes()));
        }
    }
}

/// Most arguments a program is given, its name included.
const MAX_ARGS: usize = 16;

/// Run one program (its name, then its arguments) to its end: whether it exited 0.
fn run<'a>(mut words: impl Iterator<Item = &'a [u8]>) -> bool {
    let Some(name) = words.next() else { return false };
    let path = cbuf!("/bin/{}", Bytes(name));
    let mut argv_bufs: [CBuf; MAX_ARGS] = core::array::from_fn(|_| CBuf::new());
    argv_bufs[0] = path.clone();
    let mut argc = 1;
    let mut line = cbuf!("{MARK} begin {}", Bytes(name));
    for word in words.take(MAX_ARGS - 1) {
        argv_bufs[argc] = CBuf::from_bytes(word);
        argc += 1;
        line.push(b" ");
        line.push(word);
    }
    println!("{}", Bytes(line.as_bytes()));

    let pid = match fork() {
        Ok(0) => {
            let mut argv = [core::ptr::null(); MAX_ARGS + 1];
            for (slot, arg) in argv.iter_mut().zip(&argv_bufs[..argc]) {
                *slot = arg.as_ptr();
            }
            let envp = [c"PATH=/bin".as_ptr(), c"HOME=/".as_ptr(), core::ptr::null()];
            let err = execve(&path, &argv[..=argc], &envp);
            println!("{MARK} cannot run {}: {err}", Bytes(path.as_bytes()));
            process::exit(127)
        }
        Ok(pid) => pid,
        Err(e) => {
            println!("{MARK} end {}: fork failed: {e}", Bytes(name));
            return false;
        }
    };
    // Orphans are this process's children too: reap them until ours ends.
    let status = loop {
        match wait4(-1, 0) {
            Ok((p, status)) if p == pid => break Ok(status),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => break Err(e),
        }
    };
    match status {
        Ok(status) => {
            println!("{MARK} end {}: {status}", Bytes(name));
            status.exit_code() == Some(0)
        }
        Err(e) => {
            println!("{MARK} end {}: wait failed: {e}", Bytes(name));
            false
        }
    }
}

/// Sync and power off; if the kernel says no, say so and stay (ending process 1 would
/// panic the kernel with a less clear message).
fn power_off() -> ! {
    fs::sync();
    let err = process::reboot(process::LINUX_REBOOT_CMD_POWER_OFF);
    println!("{MARK} power off failed: {err:?}");
    loop {
        linux::signal::pause();
    }
}
