//! The real Linux 2.6.23.17 lguest Guest (the bundled `linux/`): time from spawning the
//! monitor to the first line of userspace (`init: userspace is up`), the same bzImage and
//! initramfs booted by lguest-rs (as an lguest Guest) and by QEMU TCG (as a PC, with
//! `-kernel -initrd -append console=ttyS0`, BIOS included: that is what booting a bzImage
//! under QEMU costs).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The line `/init` prints first.
pub const USERSPACE_UP: &str = "init: userspace is up";

/// `lguest run KERNEL --initrd <bundled initramfs> --cmdline quiet`.
pub fn lguest(kernel: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lguest"));
    cmd.arg("run").arg(kernel).arg("--initrd").arg(images::linux::initramfs_path());
    cmd.args(["--cmdline", "quiet"]);
    cmd
}

/// QEMU booting the bundled bzImage and initramfs as a PC, the kernel's console on the
/// serial port (stdout). `-cpu pentium` matches the kernel's build.
pub fn qemu() -> Command {
    let mut cmd = Command::new(super::qemu::QEMU);
    cmd.args(["-accel", "tcg", "-cpu", "pentium", "-m", super::qemu::MEM, "-nodefaults", "-display", "none"])
        .args(["-no-reboot", "-serial", "stdio", "-kernel"])
        .arg(images::linux::bzimage_path())
        .arg("-initrd")
        .arg(images::linux::initramfs_path())
        .args(["-append", "console=ttyS0 quiet panic=1"]);
    cmd
}

/// Best of `runs`: the time from spawn until `line` appears on stdout.
pub fn time_to_line(runs: usize, line: &str, mut make: impl FnMut() -> Command) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let mut cmd = make();
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
        let start = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut text = String::new();
        let at = loop {
            text.clear();
            let n = out.read_line(&mut text).expect("read the console");
            assert!(n > 0, "{cmd:?} ended without printing {line:?}");
            if text.contains(line) {
                break start.elapsed();
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        best = best.min(at);
    }
    best
}
