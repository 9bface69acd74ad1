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

/// `lguest run KERNEL --initrd <bundled initramfs> --cmdline quiet --cpu ENGINE`.
pub fn lguest(kernel: &std::path::Path, engine: cpu::Engine) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lguest"));
    cmd.arg("run").arg(kernel).arg("--initrd").arg(images::linux::initramfs_path());
    cmd.args(["--cmdline", "quiet", "--cpu", engine.name()]);
    cmd
}

/// QEMU booting the bundled bzImage and initramfs as a PC, the kernel's console on the
/// serial port (stdout).
pub fn qemu() -> Command {
    qemu_with(&images::linux::initramfs_path(), "quiet")
}

/// QEMU booting the bundled bzImage with `initrd` and kernel arguments `args` (after
/// `console=ttyS0 panic=1`). `-cpu pentium` matches the kernel's build.
fn qemu_with(initrd: &std::path::Path, args: &str) -> Command {
    let mut cmd = Command::new(super::qemu::QEMU);
    cmd.args(["-accel", "tcg", "-cpu", "pentium", "-m", super::qemu::MEM, "-nodefaults", "-display", "none"])
        .args(["-no-reboot", "-serial", "stdio", "-kernel"])
        .arg(images::linux::bzimage_path())
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(format!("console=ttyS0 panic=1 {args}"));
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

/// The Linux benchmark programs of `guests/linux-user/bench`, as `/init` runs them:
/// (program, arguments, what one iteration is).
pub const PROGRAMS: [(&str, &str, &str); 13] = [
    ("bench_syscall", "", "a `getppid` system call"),
    ("bench_fork", "300", "`fork`, `_exit` in the child, `wait4`"),
    ("bench_alu", "", "one iteration of the ALU loop"),
    ("bench_sieve", "", "one sieve of Eratosthenes over 64 KiB"),
    ("bench_sort", "", "one quicksort"),
    ("bench_matmul", "", "one 48×48 `u32` matrix product"),
    ("bench_crc", "", "CRC-32 of 64 KiB, a byte at a time"),
    ("bench_calls", "", "recursive `fib(24)`: 75,000 calls"),
    ("bench_string", "", "15 `memmove`s of 4 KiB and 64-bit divisions"),
    ("bench_primes", "", "primes below 30,000 by trial division"),
    ("bench_hash64", "", "100,000 steps of `u64` splitmix64 and FNV-1a"),
    ("fpmandel", "", "a 64×48 Mandelbrot grid in `f64` (x87)"),
    ("fptrans", "", "320 x87 transcendentals (FSIN, FCOS, FPATAN, FYL2X, F2XM1)"),
];

/// The test `/init`'s command line that runs every program of [`PROGRAMS`].
fn runs() -> String {
    PROGRAMS
        .iter()
        .map(|(p, args, _)| if args.is_empty() { format!("run={p}") } else { format!("run={p},{args}") })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `NAME: ... X.YY ns per ITEM, ...` lines: nanoseconds per iteration, by program (the
/// lines come in [`PROGRAMS`]' order).
fn per_iteration(text: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| {
            let before = &l[..l.find(" ns per ")?];
            before.rsplit(' ').next()?.parse().ok()
        })
        .collect()
}

/// Run the benchmark programs in a Linux Guest booted by `make` (which must power off or
/// be killed after `/init` says it is done); best of `runs` for each program.
fn in_guest(runs: usize, mut make: impl FnMut(&str) -> Command) -> Vec<f64> {
    let cmdline = runs_cmdline();
    in_guest_runs(runs, PROGRAMS.len(), || make(&cmdline))
}

/// The same for a Guest (its command line included) whose `/init` runs `programs` timed
/// programs.
fn in_guest_runs(runs: usize, programs: usize, mut make: impl FnMut() -> Command) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; programs];
    for _ in 0..runs {
        let mut cmd = make();
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = out.read_line(&mut line).expect("read the console");
            assert!(n > 0, "{cmd:?} ended before /init was done:\n{text}");
            text.push_str(&line);
            if line.contains("[lguest-init] done:") {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let got = per_iteration(&text);
        assert_eq!(got.len(), programs, "{text}");
        for (b, g) in best.iter_mut().zip(got) {
            *b = b.min(g);
        }
    }
    best
}

fn runs_cmdline() -> String {
    format!("quiet {}", runs())
}

/// The programs in lguest-rs's Linux Guest, on CPU engine `engine`.
pub fn programs_in_lguest(runs: usize, engine: cpu::Engine) -> Vec<f64> {
    in_guest(runs, |cmdline| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lguest"));
        cmd.arg("run")
            .arg(images::linux::vmlinux_path())
            .arg("--initrd")
            .arg(images::linux::test_initramfs());
        cmd.args(["--cmdline", cmdline, "--cpu", engine.name()]);
        cmd
    })
}

/// The programs in QEMU TCG, the same bzImage booted as a PC with the test initramfs.
pub fn programs_in_qemu(runs: usize) -> Vec<f64> {
    in_guest(runs, |cmdline| qemu_with(images::linux::test_initramfs(), cmdline))
}

/// The same programs as processes on this machine (best of `runs`).
pub fn programs_natively(runs: usize) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; PROGRAMS.len()];
    for _ in 0..runs {
        for (i, (name, args, _)) in PROGRAMS.iter().enumerate() {
            let program = images::linux::by_name(name).unwrap_or_else(|| panic!("no program {name}"));
            let out = Command::new(program.path())
                .args(args.split_whitespace())
                .output()
                .unwrap_or_else(|e| panic!("run {name}: {e}"));
            let text = String::from_utf8_lossy(&out.stdout);
            let got = per_iteration(&text);
            assert_eq!(got.len(), 1, "{name}: {text}");
            best[i] = best[i].min(got[0]);
        }
    }
    best
}

/// The x87 program (`fpbench`, an n-body simulation in `f64`): ns per step in the Guest
/// on the CPU's x87, in the Guest under the kernel's math emulator (`--math-emulation`),
/// in QEMU TCG (if `qemu`), and natively. Best of `runs`.
pub struct FpBench {
    pub x87: f64,
    pub emulated: f64,
    pub qemu: Option<f64>,
    pub native: f64,
}

pub fn fpbench(runs: usize, qemu: bool) -> FpBench {
    let lguest = |steps: u32, extra: &'static [&'static str]| {
        move || {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_lguest"));
            cmd.arg("run")
                .arg(images::linux::vmlinux_path())
                .arg("--initrd")
                .arg(images::linux::test_initramfs());
            cmd.args(extra).args(["--cmdline", &format!("quiet run=fpbench,{steps}")]);
            cmd
        }
    };
    let best = |v: Vec<f64>| v.first().copied().unwrap_or(f64::NAN);
    let x87 = best(in_guest_runs(runs, 1, lguest(2000, &[])));
    // The emulator takes a trap per x87 instruction: far fewer steps, the same per step.
    let emulated = best(in_guest_runs(runs, 1, lguest(40, &["--math-emulation"])));
    let qemu = qemu.then(|| {
        best(in_guest_runs(runs, 1, || qemu_with(images::linux::test_initramfs(), "quiet run=fpbench,2000")))
    });
    let program = images::linux::by_name("fpbench").expect("fpbench was built");
    let mut native = f64::INFINITY;
    for _ in 0..runs {
        let out = Command::new(program.path()).arg("200000").output().expect("run fpbench");
        native = native
            .min(per_iteration(&String::from_utf8_lossy(&out.stdout)).first().copied().unwrap_or(f64::NAN));
    }
    FpBench { x87, emulated, qemu, native }
}
