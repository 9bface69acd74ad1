//! The x87's transcendental instructions in a loop: FSIN, FCOS, FPATAN, FYL2X and F2XM1
//! on varying arguments, N rounds (default 500) of 64 arguments each. The results, stored
//! as doubles, are folded into a hash of their bits: the same on every x87 that computes
//! them as this processor does (QEMU's, which uses host double precision, differs).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

use core::arch::asm;

linux::entry!(main);

fn main() -> i32 {
    common::run("transcendentals", "round", common::count(500), rounds)
}

/// `fsin; fcos` of x, `fpatan` of (x, 2), `fyl2x` of (x + 1, 1), `f2xm1` of x / 4, in
/// 80-bit registers; the five results stored as doubles.
fn five(x: f64) -> [f64; 5] {
    let mut out = [0f64; 5];
    let quarter = 0.25f64;
    let two = 2.0f64;
    // SAFETY: x87 instructions on the FPU stack only, reading `x`, `two` and `quarter` and
    // writing `out`; the stack is left empty as it was found.
    unsafe {
        asm!(
            "fld qword ptr [{x}]", "fsin", "fstp qword ptr [{o}]",
            "fld qword ptr [{x}]", "fcos", "fstp qword ptr [{o} + 8]",
            "fld qword ptr [{x}]", "fld qword ptr [{two}]", "fpatan", "fstp qword ptr [{o} + 16]",
            "fld1", "fld qword ptr [{x}]", "fld1", "faddp", "fyl2x", "fstp qword ptr [{o} + 24]",
            "fld qword ptr [{x}]", "fmul qword ptr [{q}]", "f2xm1", "fstp qword ptr [{o} + 32]",
            x = in(reg) &x, two = in(reg) &two, q = in(reg) &quarter, o = in(reg) out.as_mut_ptr(),
            options(nostack),
        );
    }
    out
}

#[inline(never)]
fn rounds(n: u32) -> u32 {
    let mut h = 0x811C_9DC5u32;
    for r in 0..core::hint::black_box(n) {
        for k in 0..64u32 {
            let x = f64::from(k) * 0.0490625 + f64::from(r % 7) * 0.001 + 0.01;
            for v in five(x) {
                let b = v.to_bits();
                h = (h ^ b as u32 ^ (b >> 32) as u32).wrapping_mul(0x0100_0193);
            }
        }
    }
    h
}
