//! Memory moves and 64-bit arithmetic: 4 KiB blocks copied around a 64 KiB buffer
//! (`copy_within`, the library's `memmove`) and a 64-bit division and remainder per block,
//! N rounds (default 200) over the buffer. What buffer handling in any program costs.

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

linux::entry!(main);

const LEN: usize = 65536;
const BLOCK: usize = 4096;

fn main() -> i32 {
    common::run("memmove", "round", common::count(200), moves)
}

#[inline(never)]
fn moves(reps: u32) -> u32 {
    let mut buf = [0u8; LEN];
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i * 7 + i / 256) as u8;
    }
    let mut acc = 0x0123_4567_89AB_CDEFu64;
    for r in 0..core::hint::black_box(reps) {
        for k in 0..LEN / BLOCK - 1 {
            let from = k * BLOCK + (r as usize % 64);
            let to = ((k + 3) * BLOCK + 13) % (LEN - BLOCK);
            buf.copy_within(from..from + BLOCK, to);
            let word = u64::from(buf[to]) | (u64::from(buf[to + BLOCK - 1]) << 8) | 0x1_0000_0001;
            acc = (acc / word) ^ (acc % word) ^ acc.rotate_left(7);
        }
    }
    (acc as u32) ^ (acc >> 32) as u32 ^ u32::from(buf[LEN / 2])
}
