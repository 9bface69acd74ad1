//! Network throughput between two Guests in separate Launchers on one named network: one
//! Guest (`net_guest mode=flood`) sends N frames to the other as fast as it can, the other
//! (`mode=sink`) counts what arrives, from the first frame to the last. Run with
//! `cargo bench --bench net`.
//!
//! The sender is not flow-controlled (a slow receiver costs frames, never the sender's
//! progress), so the numbers are the receiver's: frames and bytes per second that made
//! it into the receiving Guest, with how many were lost and where.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Frames per run.
const FRAMES: u32 = 50_000;

struct Result {
    tx_fps: f64,
    rx_frames: u64,
    rx_fps: f64,
    rx_mbps: f64,
    report: String,
}

fn launcher(dir: &Path, id: u16, cmdline: &str) -> Child {
    let guest = images::by_name("net_guest").expect("the net_guest kernel").path();
    Command::new(env!("CARGO_BIN_EXE_lguest"))
        .env("LGUEST_NET_DIR", dir)
        .arg("run")
        .arg(guest)
        .args(["--net", "bench", "--guestid", &id.to_string(), "--cmdline", cmdline])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lguest")
}

/// Read a Launcher's output to the end: its stdout and stderr.
fn drain(mut child: Child) -> (String, String) {
    let mut err = child.stderr.take().expect("stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    let status = child.wait().expect("wait for lguest");
    let err = err_reader.join().unwrap_or_default();
    assert!(status.success(), "a benchmark Guest failed ({status}):\n{out}\n{err}");
    (out, err)
}

/// The numbers of a `bench NAME FRAMES NS BYTES` line.
fn bench_line(out: &str, name: &str) -> (u64, u64, u64) {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("bench {name} ")))
        .unwrap_or_else(|| panic!("no bench {name} line in:\n{out}"));
    let n: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    (n[0], n[1], n[2])
}

fn run(len: u32) -> Result {
    let dir = std::env::temp_dir().join(format!("lguest-net-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("network directory");
    let mut sink = launcher(&dir, 1, "mode=sink timeout=60");
    // Wait until the sink is on the network.
    let mut lines = BufReader::new(sink.stdout.take().expect("stdout"));
    let mut line = String::new();
    while !line.contains("net_guest: up") {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("the sink Guest did not come up");
        }
    }
    let flood = launcher(&dir, 2, &format!("mode=flood to=id1 count={FRAMES} len={len}"));
    let (tx_out, tx_err) = drain(flood);
    let mut rest = String::new();
    let _ = lines.read_to_string(&mut rest);
    let (_, rx_err) = drain(sink);
    let (tx_frames, tx_ns, _) = bench_line(&tx_out, "net_tx");
    let (rx_frames, rx_ns, rx_bytes) = bench_line(&rest, "net_rx");
    let _ = std::fs::remove_dir_all(&dir);
    let secs = Duration::from_nanos(rx_ns.max(1)).as_secs_f64();
    Result {
        tx_fps: tx_frames as f64 / Duration::from_nanos(tx_ns.max(1)).as_secs_f64(),
        rx_frames,
        rx_fps: rx_frames as f64 / secs,
        rx_mbps: rx_bytes as f64 / secs / 1e6,
        report: format!("{}{}", tx_err.trim(), rx_err.trim()).replace("lguest: ", "\n      "),
    }
}

fn main() {
    println!("network: one Guest floods {FRAMES} frames to another on a named network (best of 3 runs)");
    for len in [1514, 60] {
        let best = (0..3).map(|_| run(len)).max_by(|a, b| a.rx_fps.total_cmp(&b.rx_fps)).expect("three runs");
        println!("  {len:4}-byte frames: received {:6} of {FRAMES}", best.rx_frames);
        println!(
            "      receiver {:9.0} frames/s {:8.1} MB/s   (sender offered {:9.0} frames/s)",
            best.rx_fps, best.rx_mbps, best.tx_fps
        );
        println!("      counters:{}", best.report);
    }
}
