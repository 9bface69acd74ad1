//! The ALU kernel of `crates/cpu/benches/kernels.c` (adds, xors, shifts, rotates and a
//! multiply on registers), N iterations (default 15000000, as there).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

linux::entry!(main);

fn main() -> i32 {
    common::run("alu", "iteration", common::count(15_000_000), alu)
}

#[inline(never)]
fn alu(n: u32) -> u32 {
    let (mut a, mut b, mut c, mut d) = (0x1234_5678u32, 0x9abc_def0u32, 7u32, 0u32);
    for i in 0..n {
        let i = core::hint::black_box(i);
        a = a.wrapping_add(b ^ i);
        b = b.rotate_left(3);
        c ^= a.wrapping_add(b & 0xff);
        d = d.wrapping_add((c >> 5).wrapping_sub(a));
        a = a.wrapping_mul(33).wrapping_add(d);
    }
    a ^ b ^ c ^ d
}
