//! 64-bit integer arithmetic on a 32-bit CPU: a splitmix64 generator and FNV-1a over its
//! output, N times (default 40) 100,000 steps. Every `u64` multiply, shift and add is a
//! few 32-bit instructions (`mul`, `imul`, `adc`, `shrd`), as in hashes, random number
//! generators and big-number code.

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

linux::entry!(main);

fn main() -> i32 {
    common::run("hash64", "round", common::count(40), hash)
}

#[inline(never)]
fn hash(reps: u32) -> u32 {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut h = 0xCBF2_9CE4_8422_2325u64;
    for _ in 0..core::hint::black_box(reps) {
        for _ in 0..100_000 {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            h = (h ^ (z & 0xFF)).wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    (h ^ (h >> 32)) as u32
}
