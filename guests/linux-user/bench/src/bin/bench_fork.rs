//! The process loop: `fork`, the child `exit`s at once, the parent `wait4`s for it, N
//! times (default 1000): what making and ending a process costs.

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

use linux::process::{exit_group, fork, wait4};

linux::entry!(main);

fn main() -> i32 {
    common::run("fork+exit+wait", "fork", common::count(1000), |n| {
        let mut failed = 0u32;
        for _ in 0..n {
            match fork() {
                Ok(0) => exit_group(7),
                Ok(pid) => {
                    failed += u32::from(!matches!(wait4(pid, 0), Ok((_, s)) if s.exit_code() == Some(7)))
                }
                Err(_) => failed += 1,
            }
        }
        failed
    })
}
