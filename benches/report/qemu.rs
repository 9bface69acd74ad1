//! Running the multiboot benchmark kernel (`mb.c`) under `qemu-system-i386` with TCG.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const QEMU: &str = "qemu-system-i386";

/// Guest RAM QEMU is given: the Launcher's default, so memory use compares.
pub const MEM: &str = "64M";

/// Whether QEMU is installed (`scripts/bench.sh` installs it; the report runs without).
pub fn available() -> bool {
    Command::new(QEMU).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// The QEMU command line every measurement uses: a PC with no default devices (no VGA,
/// no network card), TCG, the serial port on stdout, isa-debug-exit for the kernel to
/// leave by, and `-kernel` loading the multiboot ELF.
pub fn command(elf: &Path, append: &str) -> Command {
    let mut cmd = Command::new(QEMU);
    cmd.args(["-accel", "tcg", "-M", "pc", "-m", MEM, "-nodefaults", "-display", "none", "-no-reboot"])
        .args(["-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-kernel")
        .arg(elf)
        .args(["-append", append]);
    cmd
}

/// Run the kernel to its isa-debug-exit: (wall time from spawn to exit, serial output).
pub fn run(elf: &Path, append: &str) -> (Duration, String) {
    let mut cmd = command(elf, append);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("start qemu-system-i386");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    // The kernel exits on its own; a stuck one is killed rather than waited for.
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for qemu") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("qemu ran {elf:?} with {append:?} for two minutes; killed");
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    let wall = start.elapsed();
    let out = reader.join().expect("stdout reader");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    // isa-debug-exit: the kernel writes 0, QEMU exits with (0 << 1) | 1.
    assert_eq!(status.code(), Some(1), "qemu {append:?} ended with {status}\n{out}\n{err}");
    (wall, out)
}

/// The kernel's `bench <name> <n> 0x<cycles>` lines: (name, n, cycles).
pub fn samples(text: &str) -> Vec<(String, u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("bench ")?.split_whitespace();
            let name = w.next()?.to_string();
            let n = w.next()?.parse().ok()?;
            let cycles = u64::from_str_radix(w.next()?.strip_prefix("0x")?, 16).ok()?;
            Some((name, n, cycles))
        })
        .collect()
}
