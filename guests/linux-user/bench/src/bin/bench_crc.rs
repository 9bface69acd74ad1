//! CRC-32 (the IEEE polynomial, table-driven, a byte at a time) over a 64 KiB buffer, N
//! times (default 40): byte loads, table lookups, shifts and exclusive ors, as in every
//! checksum, compressor and parser.

#![no_std]
#![no_main]

#[path = "../common.rs"]
mod common;

linux::entry!(main);

const LEN: usize = 65536;

fn main() -> i32 {
    common::run("crc32", "buffer", common::count(40), crc)
}

#[inline(never)]
fn crc(reps: u32) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
        *t = c;
    }
    let mut buf = [0u8; LEN];
    let mut seed = 1u32;
    for b in buf.iter_mut() {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (seed >> 16) as u8;
    }
    let mut check = 0u32;
    for r in 0..core::hint::black_box(reps) {
        buf[r as usize % LEN] ^= check as u8;
        let mut c = !0u32;
        for &b in buf.iter() {
            c = table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        check ^= !c;
    }
    check
}
