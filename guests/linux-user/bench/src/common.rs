//! What every benchmark program shares: its repetition count from the command line
//! (`NAME [N]`), and the line it prints.

use linux::time::now_ns;

/// Argument 1 as a count, or `default`.
pub fn count(default: u32) -> u32 {
    linux::arg(1).and_then(|a| core::str::from_utf8(a).ok()).and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Time `f`, which does `n` iterations, and print `NAME: n ITEMs in T ns, X ns per ITEM`
/// (with two decimals, in integer arithmetic) and the value it computed.
pub fn run(name: &str, item: &str, n: u32, f: impl FnOnce(u32) -> u32) -> i32 {
    let start = now_ns();
    let value = f(n);
    let ns = now_ns() - start;
    let per100 = ns * 100 / u64::from(n.max(1));
    linux::println!(
        "{name}: {n} {item}s in {ns} ns, {}.{:02} ns per {item}, result {value:#010x}",
        per100 / 100,
        per100 % 100
    );
    0
}
