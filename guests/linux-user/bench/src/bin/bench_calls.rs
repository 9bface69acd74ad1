//! Function calls: the naive recursive Fibonacci of 24, N times (default 40): about
//! 75,000 calls and returns each, with the stack traffic of real code (what interpreters,
//! parsers and tree walkers spend their time on).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

linux::entry!(main);

fn main() -> i32 {
    common::run("fib", "run", common::count(40), calls)
}

#[inline(never)]
fn fib(n: u32) -> u32 {
    if n < 2 { n } else { fib(n - 1).wrapping_add(fib(n - 2)) }
}

#[inline(never)]
fn calls(reps: u32) -> u32 {
    let mut check = 0u32;
    for r in 0..core::hint::black_box(reps) {
        check = check.wrapping_add(fib(core::hint::black_box(24)) ^ r);
    }
    check
}
