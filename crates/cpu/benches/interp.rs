//! The interpreter against the processor it runs on, on six guest kernels: an ALU loop,
//! a memory-heavy sieve, a branchy quicksort, and three x87 ones: a dot product, an n-body
//! step, and a loop of transcendentals (`benches/kernels.c`).
//!
//! Each kernel is compiled once with gcc into a static 32-bit executable, and that same
//! file runs natively (as a Linux process) and in the interpreter (flat ring-3 segments,
//! the benchmark playing Linux for `write` and `exit`). The table shows instructions
//! retired (counted by the interpreter; the native run executes the same ones), time,
//! MIPS, and how many times slower than native the interpreter is. Both runs must agree on
//! the kernel's result. Times are the best of a few runs.
//!
//! Run with `cargo bench -p lguest-cpu` (optionally naming kernels: `-- alu sort`).

#[path = "../tests/support/mod.rs"]
mod support;

use cpu::Engine;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const KERNELS: [&str; 6] = ["alu", "sieve", "sort", "dot", "nbody", "trig"];
/// Best of this many native runs (process start-up is part of each, and small).
const NATIVE_RUNS: usize = 5;
/// Best of this many interpreter runs (the machine may be busy with other work).
const INTERP_RUNS: usize = 3;

fn compile(kernel: usize) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/kernels.c");
    let out = support::tmp_path(&format!("bench-{}.elf", KERNELS[kernel]));
    let status = Command::new("gcc")
        .args(["-m32", "-O2", "-march=i686", "-mno-sse", "-mno-mmx", "-mfpmath=387", "-fno-math-errno"])
        .args(["-ffreestanding", "-nostdlib"])
        .args(["-static", "-no-pie", "-fno-pic", "-fno-stack-protector", "-fno-asynchronous-unwind-tables"])
        .args(["-Wl,-Ttext-segment=0x100000", "-Wl,--build-id=none"])
        .arg(format!("-DKERNEL={kernel}"))
        // Extra flags, e.g. `BENCH_CFLAGS=-DREPS_ALU=100000` for a short run under a profiler.
        .args(std::env::var("BENCH_CFLAGS").unwrap_or_default().split_whitespace())
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run gcc (gcc with 32-bit support is needed for this benchmark)");
    assert!(status.success(), "gcc failed on {}", src.display());
    out
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would too. A filter argument
    // picks kernels by name.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    println!(
        "{:<8} {:>14} {:>10} {:>8} {:>10} {:>8} {:>10} {:>8} {:>9} {:>9}",
        "kernel", "instructions", "interp", "MIPS", "jit", "MIPS", "native", "MIPS", "jit/int", "nat/jit"
    );
    let mut notes = Vec::new();
    for (k, name) in KERNELS.iter().enumerate() {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let path = compile(k);
        let (nt, nres) = support::native_kernel(&path, NATIVE_RUNS);
        let runs = |engine: Engine| {
            let (mut best, insns, res, mut stats) = support::kernel_on(&path, engine);
            for _ in 1..INTERP_RUNS {
                let (t, n, r, s) = support::kernel_on(&path, engine);
                assert_eq!((n, r), (insns, res), "{name}: runs differ");
                if t < best {
                    (best, stats) = (t, s);
                }
            }
            assert_eq!(res, nres, "{name} on {engine}: computed {res:#x}, the processor {nres:#x}");
            (best, insns, stats)
        };
        let (it, insns, _) = runs(Engine::Interp);
        let (jt, jinsns, stats) = runs(Engine::Jit);
        assert_eq!(insns, jinsns, "{name}: the engines retired different counts");
        let mips = |d: Duration| insns as f64 / d.as_secs_f64() / 1e6;
        println!(
            "{:<8} {:>14} {:>9.3}s {:>8.0} {:>9.3}s {:>8.0} {:>9.3}s {:>8.0} {:>8.2}x {:>8.2}x",
            name,
            insns,
            it.as_secs_f64(),
            mips(it),
            jt.as_secs_f64(),
            mips(jt),
            nt.as_secs_f64(),
            mips(nt),
            it.as_secs_f64() / jt.as_secs_f64(),
            jt.as_secs_f64() / nt.as_secs_f64()
        );
        if let Some(s) = stats {
            notes.push(format!(
                "{name}: {} blocks translated ({} instructions, {:.0}% native), {:.1} µs each, {} bytes of code",
                s.blocks,
                s.insns,
                100.0 * s.native_insns as f64 / s.insns.max(1) as f64,
                s.compile_ns as f64 / 1e3 / s.blocks.max(1) as f64,
                s.code_bytes
            ));
        }
        let _ = std::fs::remove_file(&path);
    }
    for n in notes {
        println!("{n}");
    }
}
