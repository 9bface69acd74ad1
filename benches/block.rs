//! Block device throughput: a Guest (`guests/bench/src/bin/blk_bench.rs`) writes then
//! reads a 32 MiB disk file sequentially, in requests of the largest size one
//! `lguest_dma` carries; the same file is then written and read directly from this
//! process with pwrite/pread of the same size. Both run from the host's page cache, so
//! the ratio is what the lguest path (hypercall, DMA copy, the Guest's own loop on the
//! software CPU) costs over plain system calls. Run with `cargo bench --bench block`.

mod common;
use common::*;
use host::{BlockConfig, Config, DeviceConfig};
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

const DISK: u64 = 32 << 20;
/// What one request moves in the Guest (`guest::block::MAX_REQUEST`: 15 pages).
const CHUNK: usize = 15 * 4096;
const RUNS: usize = 3;

/// Bytes per nanosecond is GB/s; times 1000, MB/s.
fn mb_per_s(bytes: u64, ns: u64) -> f64 {
    bytes as f64 * 1000.0 / ns as f64
}

/// One Guest run: (write MB/s, read MB/s). The Guest reports bytes moved and nanoseconds.
fn guest_run(disk: &Path) -> (f64, f64) {
    let mut config = Config::new();
    config.devices.push(DeviceConfig::Block(BlockConfig {
        path: disk.to_path_buf(),
        read_only: false,
        sync: false,
    }));
    let samples = run_bench_guest_with(&images::BLK_BENCH, config);
    let rate = |name: &str| {
        let s = find(&samples, name);
        mb_per_s(s.iterations, s.ns)
    };
    (rate("blk_write"), rate("blk_read"))
}

/// The same transfers straight from this process: (write MB/s, read MB/s).
fn direct_run(disk: &Path) -> (f64, f64) {
    let file = OpenOptions::new().read(true).write(true).open(disk).expect("open disk");
    let requests = DISK / CHUNK as u64;
    let mut buf: Vec<u8> = (0..CHUNK).map(|i| i as u8).collect();
    let start = Instant::now();
    for r in 0..requests {
        file.write_all_at(&buf, r * CHUNK as u64).expect("pwrite");
    }
    let write_ns = start.elapsed().as_nanos() as u64;
    let start = Instant::now();
    for r in 0..requests {
        file.read_exact_at(&mut buf, r * CHUNK as u64).expect("pread");
        std::hint::black_box(&buf);
    }
    let read_ns = start.elapsed().as_nanos() as u64;
    let bytes = requests * CHUNK as u64;
    (mb_per_s(bytes, write_ns), mb_per_s(bytes, read_ns))
}

fn best(runs: impl Iterator<Item = (f64, f64)>) -> (f64, f64) {
    runs.fold((0.0, 0.0), |(w, r), (w2, r2)| (f64::max(w, w2), f64::max(r, r2)))
}

fn main() {
    let path: PathBuf = std::env::temp_dir().join(format!("lguest-bench-block-{}.img", std::process::id()));
    std::fs::File::create(&path).and_then(|f| f.set_len(DISK)).expect("create disk file");
    // Alternate the two so both see the same machine.
    let mut guest = Vec::new();
    let mut direct = Vec::new();
    for _ in 0..RUNS {
        guest.push(guest_run(&path));
        direct.push(direct_run(&path));
    }
    let _ = std::fs::remove_file(&path);
    let (gw, gr) = best(guest.into_iter());
    let (dw, dr) = best(direct.into_iter());
    println!("block device, 32 MiB sequential in {CHUNK}-byte requests (best of {RUNS} runs, MB/s)");
    println!("                       guest      direct    guest/direct");
    println!("  write           {gw:10.1}  {dw:10.1}  {:10.3}", gw / dw);
    println!("  read            {gr:10.1}  {dr:10.1}  {:10.3}", gr / dr);
}
