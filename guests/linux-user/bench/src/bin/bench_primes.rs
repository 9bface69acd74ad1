//! Division: the primes below 30,000 counted by trial division, N times (default 4):
//! a `div` in the inner loop, as in number theory, formatting and hashing to buckets.

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

linux::entry!(main);

const LIMIT: u32 = 30_000;

fn main() -> i32 {
    common::run("primes", "count", common::count(4), primes)
}

#[inline(never)]
fn primes(reps: u32) -> u32 {
    let mut check = 0u32;
    for r in 0..core::hint::black_box(reps) {
        let mut count = 0u32;
        let mut n = 2u32;
        while n < core::hint::black_box(LIMIT) {
            let mut d = 2u32;
            let mut prime = true;
            while d * d <= n {
                if n.is_multiple_of(d) {
                    prime = false;
                    break;
                }
                d += 1;
            }
            count += prime as u32;
            n += 1;
        }
        check = check.wrapping_add(count ^ r);
    }
    check
}
