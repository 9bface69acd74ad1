//! Integer matrix multiplication: two 48×48 matrices of `u32` multiplied N times (default
//! 40), the product folded into the next left operand so no iteration can be skipped.
//! Multiplies, nested loops and strided loads: what image, codec and crypto code does.

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

linux::entry!(main);

const N: usize = 48;

fn main() -> i32 {
    common::run("matmul", "product", common::count(40), matmul)
}

#[inline(never)]
fn matmul(reps: u32) -> u32 {
    let mut a = [[0u32; N]; N];
    let mut b = [[0u32; N]; N];
    let mut c = [[0u32; N]; N];
    let mut seed = 7u32;
    for (ra, rb) in a.iter_mut().zip(b.iter_mut()) {
        for (x, y) in ra.iter_mut().zip(rb.iter_mut()) {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *x = seed >> 20;
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *y = seed >> 20;
        }
    }
    let mut check = 0u32;
    for _ in 0..core::hint::black_box(reps) {
        for i in 0..N {
            for j in 0..N {
                let mut sum = 0u32;
                for k in 0..N {
                    sum = sum.wrapping_add(a[i][k].wrapping_mul(b[k][j]));
                }
                c[i][j] = sum;
            }
        }
        for i in 0..N {
            for j in 0..N {
                a[i][j] = c[i][j] >> 12;
            }
        }
        check = check.wrapping_add(c[N / 2][N / 3]);
    }
    check
}
