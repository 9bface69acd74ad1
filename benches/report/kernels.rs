//! Guest CPU speed: the three kernels of `crates/cpu/benches/kernels.c` (ALU loop,
//! memory-heavy sieve, branchy quicksort), each linked with `mb.c` and `mb.S` into ONE
//! static 32-bit ELF that runs natively as a Linux process, on both of our CPU engines
//! (the harness plays Linux for `write` and `exit`; the CPU counts the instructions
//! retired), and under QEMU as a multiboot kernel (which plays Linux itself). All must
//! compute the same result; MIPS everywhere is our instruction count over that run's time.

use crate::support;
use crate::{machine, qemu};
use cpu::{Engine, JitStats};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// (name, what it stresses).
pub const KERNELS: [(&str, &str); 3] =
    [("alu", "ALU loop"), ("sieve", "memory-heavy sieve"), ("sort", "branchy quicksort")];
pub const NATIVE_RUNS: usize = 10;
/// Runs of each of our engines.
pub const INTERP_RUNS: usize = 5;
pub const QEMU_RUNS: usize = 10;

pub struct Speed {
    pub name: &'static str,
    pub what: &'static str,
    /// Instructions retired, counted by the interpreter.
    pub insns: u64,
    pub native: Duration,
    /// The interpreter and the translator.
    pub interp: Duration,
    pub jit: Duration,
    /// What the translator did in its best run.
    pub jit_stats: Option<JitStats>,
    /// Timed inside the Guest with RDTSC (host TSC under TCG).
    pub qemu: Option<Duration>,
    /// QEMU's wall time from spawn to exit, start-up and BIOS included.
    pub qemu_wall: Option<Duration>,
}

impl Speed {
    pub fn mips(&self, d: Duration) -> f64 {
        self.insns as f64 / d.as_secs_f64() / 1e6
    }
}

/// As `crates/cpu/benches/interp.rs` builds kernels.c (whose floating-point kernels use
/// the x87 and `__builtin_sqrt` without a C library).
const CFLAGS: [&str; 14] = [
    "-m32",
    "-O2",
    "-march=i686",
    "-mno-sse",
    "-mno-mmx",
    "-mfpmath=387",
    "-fno-math-errno",
    "-ffreestanding",
    "-nostdlib",
    "-static",
    "-no-pie",
    "-fno-pic",
    "-fno-stack-protector",
    "-fno-asynchronous-unwind-tables",
];

fn gcc(args: &[&std::ffi::OsStr]) {
    let status = Command::new("gcc")
        .args(CFLAGS)
        .args(args)
        .status()
        .expect("run gcc (gcc with 32-bit support is needed for this benchmark)");
    assert!(status.success(), "gcc {args:?} failed");
}

/// Build kernel `k` (0 alu, 1 sieve, 2 sort) as the three-way ELF, in `dir`.
pub fn build(dir: &Path, k: usize) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let here = root.join("benches/report");
    let object = dir.join(format!("kernel-{k}.o"));
    let elf = dir.join(format!("{}.elf", KERNELS[k].0));
    // kernels.c exactly as the CPU benchmark builds it, its `_start` renamed so mb.S's
    // entry point can choose between it and the multiboot path.
    let define = format!("-DKERNEL={k}");
    gcc(&[
        define.as_ref(),
        "-D_start=kernels_linux_start".as_ref(),
        "-c".as_ref(),
        root.join("crates/cpu/benches/kernels.c").as_os_str(),
        "-o".as_ref(),
        object.as_os_str(),
    ]);
    gcc(&[
        "-T".as_ref(),
        here.join("mb.ld").as_os_str(),
        "-Wl,--build-id=none,-z,max-page-size=4096,--no-warn-rwx-segments".as_ref(),
        object.as_os_str(),
        here.join("mb.c").as_os_str(),
        here.join("mb.S").as_os_str(),
        "-o".as_ref(),
        elf.as_os_str(),
    ]);
    elf
}

/// Best of a few QEMU runs: (time inside, wall time from spawn to exit, result).
fn under_qemu(elf: &Path) -> (Duration, Duration, u32) {
    let (mut inside, mut wall, mut result) = (Duration::MAX, Duration::MAX, 0);
    for _ in 0..QEMU_RUNS {
        let (w, out) = qemu::run(elf, "mode=cpu");
        let (_, _, cycles) = qemu::samples(&out)
            .into_iter()
            .find(|s| s.0 == "cpu")
            .unwrap_or_else(|| panic!("no timing from QEMU:\n{out}"));
        inside = inside.min(Duration::from_nanos(machine::cycles_to_ns(cycles as f64) as u64));
        wall = wall.min(w);
        let hex = out.lines().find_map(|l| l.strip_prefix("result 0x")).expect("a result line");
        result = u32::from_str_radix(hex.trim(), 16).expect("hex result");
    }
    (inside, wall, result)
}

/// Measure every kernel (`with_qemu`: under QEMU too).
pub fn measure(dir: &Path, with_qemu: bool) -> Vec<Speed> {
    let mut speeds = Vec::new();
    for (k, &(name, what)) in KERNELS.iter().enumerate() {
        eprintln!("report: {name} kernel: native, interpreter, translator, QEMU");
        let elf = build(dir, k);
        let (native, nres) = support::native_kernel(&elf, NATIVE_RUNS);
        // The engines take turns, so that a busy spell of the machine falls on both.
        let (mut interp, mut jit, mut jit_stats) = (Duration::MAX, Duration::MAX, None);
        let mut insns = None;
        for _ in 0..INTERP_RUNS {
            for engine in [Engine::Interp, Engine::Jit] {
                let (t, n, r, stats) = support::kernel_on(&elf, engine);
                assert_eq!(r, nres, "{name}: the {engine} engine computed {r:#x}, the processor {nres:#x}");
                assert_eq!(
                    *insns.get_or_insert(n),
                    n,
                    "{name}: the {engine} engine retired a different count"
                );
                if engine == Engine::Interp {
                    interp = interp.min(t);
                } else if t < jit {
                    (jit, jit_stats) = (t, stats);
                }
            }
        }
        let insns = insns.unwrap_or(0);
        let (mut qemu, mut qemu_wall) = (None, None);
        if with_qemu {
            let (inside, wall, qres) = under_qemu(&elf);
            assert_eq!(qres, nres, "{name}: QEMU computed {qres:#x}, the processor {nres:#x}");
            qemu = Some(inside);
            qemu_wall = Some(wall);
        }
        speeds.push(Speed { name, what, insns, native, interp, jit, jit_stats, qemu, qemu_wall });
    }
    speeds
}

/// Wall time of QEMU booting a kernel that exits at once (best of a few).
pub fn qemu_baseline(dir: &Path) -> Duration {
    let elf = dir.join("alu.elf");
    if !elf.exists() {
        build(dir, 0);
    }
    (0..QEMU_RUNS).map(|_| qemu::run(&elf, "mode=empty").0).min().expect("runs")
}
