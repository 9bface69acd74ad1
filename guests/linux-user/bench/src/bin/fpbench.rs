//! The floating-point loop: N steps (default 20000) of a small n-body simulation in
//! `f64` (five bodies: additions, multiplications, a division and a square root per pair),
//! which the i586 target compiles to x87 instructions. Timed with `CLOCK_MONOTONIC`; the
//! result is a hash of the final positions' bits, the same on every correct x87. In a
//! Linux Guest it shows what the virtual CPU's x87 costs against the kernel's math
//! emulator (`lguest run ... --math-emulation`), which takes a trap per instruction.

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

linux::entry!(main);

const BODIES: usize = 5;

fn main() -> i32 {
    common::run("n-body", "step", common::count(20_000), nbody)
}

fn nbody(steps: u32) -> u32 {
    let mut pos = [[0.0f64; 3]; BODIES];
    let mut vel = [[0.0f64; 3]; BODIES];
    let mut mass = [0.0f64; BODIES];
    for (i, ((p, v), m)) in pos.iter_mut().zip(vel.iter_mut()).zip(mass.iter_mut()).enumerate() {
        let k = i as f64 + 1.0;
        *p = [k, k * 0.5 - 1.0, 0.25 * k];
        *v = [0.01 * k, -0.02, 0.005 * (3.0 - k)];
        *m = 1.0 / k;
    }
    let dt = 0.001;
    for _ in 0..core::hint::black_box(steps) {
        for i in 0..BODIES {
            for j in i + 1..BODIES {
                let d = [pos[i][0] - pos[j][0], pos[i][1] - pos[j][1], pos[i][2] - pos[j][2]];
                let r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + 0.01;
                let r = sqrt(r2);
                let f = dt / (r2 * r);
                for (axis, &dd) in d.iter().enumerate() {
                    vel[i][axis] -= dd * mass[j] * f;
                    vel[j][axis] += dd * mass[i] * f;
                }
            }
        }
        for (p, v) in pos.iter_mut().zip(&vel) {
            for axis in 0..3 {
                p[axis] += dt * v[axis];
            }
        }
    }
    pos.iter().flatten().fold(0u32, |h, x| {
        let b = x.to_bits();
        h.rotate_left(5) ^ (b as u32) ^ ((b >> 32) as u32)
    })
}

/// The x87's square root (`fsqrt`): no C library here to provide `sqrt`.
fn sqrt(x: f64) -> f64 {
    let mut r = x;
    // SAFETY: loads `r`, takes its root on the register stack and stores it back, leaving
    // the stack as it found it.
    unsafe {
        core::arch::asm!(
            "fld qword ptr [{r}]",
            "fsqrt",
            "fstp qword ptr [{r}]",
            r = in(reg) &raw mut r,
            options(nostack),
        )
    };
    r
}
