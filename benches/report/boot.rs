//! Boot time and memory: from process start to the Guest's first console line, and the
//! process's peak RSS less the Guest RAM resident in it, for the Launcher and for QEMU.
//!
//! Both map their Guest's RAM as one anonymous mapping of the Guest's size that the
//! kernel fills on first touch, so "less Guest RAM" is less that mapping's resident size
//! (read from /proc/PID/smaps while the Guest idles after its first line): what is left
//! is the monitor's own cost — code, heap, caches, the JIT's or decoder's buffers.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Start `cmd` with its stdin a pipe nobody writes to and its stdout read here.
fn spawn(cmd: &mut Command) -> (Instant, Child) {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
    let start = Instant::now();
    let child = cmd.spawn().unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    (start, child)
}

/// Wait for the first line on the child's stdout: (time since `start`, the line).
fn first_line(start: Instant, child: &mut Child) -> (Duration, String) {
    let mut out = BufReader::new(child.stdout.as_mut().expect("piped stdout"));
    let mut line = Vec::new();
    out.read_until(b'\n', &mut line).expect("read the console");
    let at = start.elapsed();
    (at, String::from_utf8_lossy(&line).trim().to_string())
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Best of `runs` boots: (time to the first console line, that line).
pub fn time_to_first_line(runs: usize, mut make: impl FnMut() -> Command) -> (Duration, String) {
    let mut best = (Duration::MAX, String::new());
    for _ in 0..runs {
        let (start, mut child) = spawn(&mut make());
        let (at, line) = first_line(start, &mut child);
        stop(child);
        assert!(!line.is_empty(), "no console line from {:?}", make());
        if at < best.0 {
            best = (at, line);
        }
    }
    best
}

/// Memory of a process whose Guest idles after printing its first line, in KiB.
pub struct Memory {
    /// VmHWM: the peak resident set.
    pub peak: u64,
    /// The resident part of the Guest-RAM mapping.
    pub guest_ram: u64,
}

impl Memory {
    pub fn overhead(&self) -> u64 {
        self.peak.saturating_sub(self.guest_ram)
    }
}

/// Boot, wait for the first line and a moment more, and read the process's memory.
/// `ram` is the Guest's RAM size in bytes. The smallest of `runs` overheads is kept.
pub fn memory_at_rest(runs: usize, ram: u64, mut make: impl FnMut() -> Command) -> Memory {
    let mut best: Option<Memory> = None;
    for _ in 0..runs {
        let (start, mut child) = spawn(&mut make());
        first_line(start, &mut child);
        std::thread::sleep(Duration::from_millis(300));
        let pid = child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
        let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).expect("read smaps");
        stop(child);
        let peak = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmHWM in /proc/PID/status");
        let m = Memory { peak, guest_ram: guest_ram_rss(&smaps, ram) };
        if best.as_ref().is_none_or(|b| m.overhead() < b.overhead()) {
            best = Some(m);
        }
    }
    best.expect("at least one run")
}

/// Resident KiB of the anonymous read-write mapping holding the Guest's RAM: the one
/// sized between `ram` and `ram` + 1 MiB (an allocator may add a page of its own).
fn guest_ram_rss(smaps: &str, ram: u64) -> u64 {
    let mut best = 0;
    let mut candidate = false;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if let Some((lo, hi)) = first.split_once('-') {
            let (Ok(lo), Ok(hi)) = (u64::from_str_radix(lo, 16), u64::from_str_radix(hi, 16)) else {
                continue;
            };
            let perms = words.next().unwrap_or("");
            let path = words.nth(3);
            let size = hi - lo;
            candidate = perms.starts_with("rw") && path.is_none() && (ram..=ram + (1 << 20)).contains(&size);
        } else if candidate && first == "Rss:" {
            let kib = words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            best = best.max(kib);
        }
    }
    best
}
