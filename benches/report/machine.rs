//! What machine the numbers come from, and the host TSC's frequency (QEMU's Guest reads
//! the host TSC, so its cycle counts are converted with it).

use std::process::Command;
use std::time::{Duration, Instant};

/// The facts printed at the top of the report.
pub fn describe() -> Vec<(&'static str, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    let virtualized = if field("flags").split_whitespace().any(|f| f == "hypervisor") {
        " (itself a virtual machine: the `hypervisor` CPU flag is set)"
    } else {
        ""
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string()))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or_else(|| "unknown".into(), |kib| format!("{:.1} GiB", kib as f64 / (1 << 20) as f64));
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    vec![
        ("CPU", format!("{}{virtualized}", field("model name"))),
        ("cores", format!("{cores} online, {} MHz reported", field("cpu MHz"))),
        ("memory", mem_total),
        ("kernel", first_line("uname", &["-srm"])),
        ("rustc", first_line("rustc", &["--version"])),
        ("gcc", first_line("gcc", &["--version"])),
        ("QEMU", first_line("qemu-system-i386", &["--version"])),
        ("host TSC", format!("{:.3} GHz (measured against CLOCK_MONOTONIC)", tsc_hz() / 1e9)),
        ("load average at start", load),
    ]
}

/// The first line a command prints, or why there is none.
pub fn first_line(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").trim().to_string()
        }
        Ok(out) => format!("({program} failed: {})", out.status),
        Err(_) => format!("(no {program})"),
    }
}

fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no preconditions on x86-64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Host TSC cycles per second: the median of five 50 ms measurements against the
/// monotonic clock. Measured once and kept.
pub fn tsc_hz() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        let mut rates: Vec<f64> = (0..5)
            .map(|_| {
                let (t0, c0) = (Instant::now(), rdtsc());
                std::thread::sleep(Duration::from_millis(50));
                let (c1, t1) = (rdtsc(), Instant::now());
                (c1 - c0) as f64 / (t1 - t0).as_secs_f64()
            })
            .collect();
        rates.sort_by(f64::total_cmp);
        rates[2]
    })
}

/// Host TSC cycles as nanoseconds.
pub fn cycles_to_ns(cycles: f64) -> f64 {
    cycles / tsc_hz() * 1e9
}
