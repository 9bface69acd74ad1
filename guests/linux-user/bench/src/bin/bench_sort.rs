//! The branch kernel of `crates/cpu/benches/kernels.c`: quicksort of 16384 pseudo-random
//! numbers (data-dependent, unpredictable branches), N times (default 60, as there).

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

linux::entry!(main);

const SORT_N: usize = 16384;

fn main() -> i32 {
    common::run("quicksort", "sort", common::count(60), sort)
}

fn quicksort(v: &mut [u32], mut lo: isize, mut hi: isize) {
    while lo < hi {
        let pivot = v[((lo + hi) / 2) as usize];
        let (mut i, mut j) = (lo, hi);
        while i <= j {
            while v[i as usize] < pivot {
                i += 1;
            }
            while v[j as usize] > pivot {
                j -= 1;
            }
            if i <= j {
                v.swap(i as usize, j as usize);
                i += 1;
                j -= 1;
            }
        }
        if j - lo < hi - i {
            quicksort(v, lo, j);
            lo = i;
        } else {
            quicksort(v, i, hi);
            hi = j;
        }
    }
}

#[inline(never)]
fn sort(reps: u32) -> u32 {
    let mut values = [0u32; SORT_N];
    let (mut seed, mut check) = (1u32, 0u32);
    for _ in 0..reps {
        for v in values.iter_mut() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *v = seed >> 7;
        }
        quicksort(&mut values, 0, SORT_N as isize - 1);
        check = check.wrapping_add(values[SORT_N / 2] ^ values[17]);
    }
    check
}
