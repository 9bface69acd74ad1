//! The system-call loop: `getppid` N times (default 100000), timed with
//! `CLOCK_MONOTONIC`: what one round trip into the kernel and back costs.

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

linux::entry!(main);

fn main() -> i32 {
    common::run("getppid", "call", common::count(100_000), |n| {
        let mut x = 0u32;
        for _ in 0..n {
            x = x.wrapping_add(linux::process::getppid() as u32);
        }
        x
    })
}
