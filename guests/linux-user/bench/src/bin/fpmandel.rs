//! Floating point in `f64` (x87 code on i586): the Mandelbrot set over a 64×48 grid, at
//! most 256 iterations a point, N times (default 4), the grid shifted a little each time.
//! Multiplies, adds and compares in a tight loop: what numeric code does.

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

linux::entry!(main);

fn main() -> i32 {
    common::run("mandelbrot", "grid", common::count(4), mandel)
}

#[inline(never)]
fn mandel(reps: u32) -> u32 {
    let mut check = 0u32;
    for r in 0..core::hint::black_box(reps) {
        let shift = f64::from(r) * 0.001;
        for py in 0..48 {
            for px in 0..64 {
                let cx = -2.0 + f64::from(px) * (3.0 / 64.0) + shift;
                let cy = -1.2 + f64::from(py) * (2.4 / 48.0);
                let (mut x, mut y, mut n) = (0.0f64, 0.0f64, 0u32);
                while n < 256 && x * x + y * y <= 4.0 {
                    let t = x * x - y * y + cx;
                    y = 2.0 * x * y + cy;
                    x = t;
                    n += 1;
                }
                check = check.wrapping_mul(31).wrapping_add(n);
            }
        }
    }
    check
}
