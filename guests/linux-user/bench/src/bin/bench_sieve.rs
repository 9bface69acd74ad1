//! The memory kernel of `crates/cpu/benches/kernels.c`: the sieve of Eratosthenes over
//! 65536 bytes, N times (default 300, as there). The result is the prime count, 6542.

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

linux::entry!(main);

const SIEVE_N: usize = 65536;

fn main() -> i32 {
    common::run("sieve", "sieve", common::count(300), sieve)
}

#[inline(never)]
fn sieve(reps: u32) -> u32 {
    let mut composite = [0u8; SIEVE_N];
    let mut count = 0;
    for _ in 0..reps {
        composite.fill(0);
        count = 0;
        for i in 2..SIEVE_N {
            if core::hint::black_box(composite[i]) != 0 {
                continue;
            }
            count += 1;
            let mut j = i + i;
            while j < SIEVE_N {
                composite[j] = 1;
                j += i;
            }
        }
    }
    count
}
