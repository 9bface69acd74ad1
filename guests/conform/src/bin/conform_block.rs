//! conform_block: the block device, driven by the command line (`VARIANT ARGS...`).
//!
//! - `write SEED COUNT`: write the pattern for SEED over sectors 0..COUNT (in requests
//!   of every size up to the largest), read it back and compare;
//! - `verify SEED COUNT`: read sectors 0..COUNT and compare with the pattern for SEED;
//! - `durable COUNT`: write sector k (the pattern for seed k), then print `wrote k`, for
//!   k in 0..COUNT, one request each;
//! - `past_end`: reads and writes at and across the end of the disk get errors;
//! - `read_only`: a write gets an error and the sector is unchanged;
//! - `hostile`: malformed requests (huge, wrapping, unaligned, mismatched, unknown type,
//!   no reply buffer) each get an error, and the disk keeps working;
//! - `bad_dma`: a request whose DMA points outside guest memory (Sudden Death);
//! - `failed`: the driver sets FAILED and the Guest powers off.
//!
//! The pattern byte at disk offset `o` for seed `s` is the top byte of
//! `(o ^ s) * 0x9E3779B1` (32-bit), which the root tests compute too.
#![no_std]
#![no_main]

use conform::{check, ok, say};
use guest::abi::{LGUEST_BLOCK_READ, LGUEST_BLOCK_WRITE, LGUEST_DEVICE_S_FAILED, LguestDma};
use guest::block::{Disk, Error, MAX_REQUEST};
use guest::{BootInfo, Global, println};

guest::entry!(kmain);

const SECTOR: usize = 512;
/// Bytes the buffers hold: more than one request moves, so transfers are split.
const BUF: usize = 128 * SECTOR;

static WRITE_BUF: Global<[u8; BUF]> = Global::new([0; BUF]);
static READ_BUF: Global<[u8; BUF]> = Global::new([0; BUF]);

fn kmain(_boot: &'static BootInfo) -> ! {
    conform::run(
        "conform_block",
        "write",
        &[
            ("write", write),
            ("verify", verify),
            ("durable", durable),
            ("past_end", past_end),
            ("read_only", read_only),
            ("hostile", hostile),
            ("bad_dma", bad_dma),
            ("failed", failed),
        ],
    )
}

/// The pattern byte at disk offset `offset` for `seed`.
fn pattern(seed: u32, offset: u32) -> u8 {
    ((offset ^ seed).wrapping_mul(0x9E37_79B1) >> 24) as u8
}

/// Command-line argument `i` (0 is the variant) as a number.
fn arg(i: usize) -> u32 {
    let word = guest::boot::cmdline().split_whitespace().nth(i);
    match word.and_then(|w| w.parse().ok()) {
        Some(n) => n,
        None => conform::fail(format_args!("argument {i} should be a number")),
    }
}

fn disk() -> Disk {
    match Disk::open(0) {
        Some(d) => d,
        None => conform::fail(format_args!("no block device (or it could not be set up)")),
    }
}

fn buffers() -> (&'static mut [u8; BUF], &'static mut [u8; BUF]) {
    // SAFETY: each variant calls this once; nothing else uses the buffers.
    unsafe { (&mut *WRITE_BUF.get(), &mut *READ_BUF.get()) }
}

/// Fill `buf` with the pattern for `seed` as it would lie at sector `sector`.
fn fill(buf: &mut [u8], seed: u32, sector: u32) {
    let base = sector * SECTOR as u32;
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern(seed, base + i as u32);
    }
}

/// Compare `buf` with the pattern for `seed` at sector `sector`.
fn compare(buf: &[u8], seed: u32, sector: u32) {
    let base = sector * SECTOR as u32;
    for (i, &b) in buf.iter().enumerate() {
        let want = pattern(seed, base + i as u32);
        check!(b == want, "byte {:#x} of the disk is {b:#04x}, expected {want:#04x}", base + i as u32);
    }
}

/// Check that the Launcher answered a request with an error.
fn refused(got: Result<(), Error>, what: &str) {
    check!(got == Err(Error::Device), "{what}: got {got:?}, expected an error from the Launcher");
}

/// Sizes of successive requests, in sectors: every size from 1 up, then the buffer.
fn sizes(count: u32) -> impl Iterator<Item = (u32, u32)> {
    let mut at = 0;
    let mut n = 0;
    core::iter::from_fn(move || {
        if at >= count {
            return None;
        }
        n = if n < 8 { n + 1 } else { (BUF / SECTOR) as u32 };
        let len = n.min(count - at);
        let chunk = (at, len);
        at += len;
        Some(chunk)
    })
}

fn write() {
    let (seed, count) = (arg(1), arg(2));
    let mut disk = disk();
    check!(count <= disk.num_sectors(), "the disk has {} sectors, fewer than {count}", disk.num_sectors());
    let (wbuf, rbuf) = buffers();
    let mut requests = 0;
    for (at, len) in sizes(count) {
        let bytes = len as usize * SECTOR;
        fill(&mut wbuf[..bytes], seed, at);
        check!(disk.write_sectors(at, &wbuf[..bytes]).is_ok(), "writing sectors {at}+{len} failed");
        requests += bytes.div_ceil(MAX_REQUEST);
    }
    for (at, len) in sizes(count) {
        let bytes = len as usize * SECTOR;
        rbuf[..bytes].fill(0);
        check!(disk.read_sectors(at, &mut rbuf[..bytes]).is_ok(), "reading sectors {at}+{len} failed");
        compare(&rbuf[..bytes], seed, at);
    }
    ok!("wrote {count} sectors in {requests} requests and read them back")
}

fn verify() {
    let (seed, count) = (arg(1), arg(2));
    let mut disk = disk();
    let (_, rbuf) = buffers();
    for (at, len) in sizes(count) {
        let bytes = len as usize * SECTOR;
        check!(disk.read_sectors(at, &mut rbuf[..bytes]).is_ok(), "reading sectors {at}+{len} failed");
        compare(&rbuf[..bytes], seed, at);
    }
    ok!("{count} sectors hold the pattern for seed {seed}")
}

fn durable() {
    let count = arg(1);
    let mut disk = disk();
    let (wbuf, _) = buffers();
    for k in 0..count {
        fill(&mut wbuf[..SECTOR], k, k);
        check!(disk.write_sectors(k, &wbuf[..SECTOR]).is_ok(), "writing sector {k} failed");
        println!("wrote {k}");
    }
    ok!("wrote {count} sectors")
}

fn past_end() {
    let mut disk = disk();
    let n = disk.num_sectors();
    check!(n >= 2, "the disk needs at least 2 sectors, it has {n}");
    let (wbuf, rbuf) = buffers();
    let one = &mut rbuf[..SECTOR];
    refused(disk.read_sectors(n, one), "read of the sector after the last");
    refused(disk.read_sectors(n - 1, &mut rbuf[..2 * SECTOR]), "read across the end");
    refused(disk.write_sectors(n, &wbuf[..SECTOR]), "write of the sector after the last");
    refused(disk.write_sectors(n - 1, &wbuf[..2 * SECTOR]), "write across the end");
    refused(disk.read_sectors(u32::MAX, &mut rbuf[..SECTOR]), "read of sector 2^32-1");
    check!(disk.read_sectors(n - 1, &mut rbuf[..SECTOR]).is_ok(), "reading the last sector failed");
    ok!("reads and writes past sector {n} get errors; the last sector reads")
}

fn read_only() {
    let mut disk = disk();
    let (wbuf, rbuf) = buffers();
    check!(disk.read_sectors(0, &mut rbuf[..SECTOR]).is_ok(), "reading sector 0 failed");
    wbuf[..SECTOR].copy_from_slice(&rbuf[..SECTOR]);
    for b in &mut wbuf[..SECTOR] {
        *b = !*b;
    }
    refused(disk.write_sectors(0, &wbuf[..SECTOR]), "write to a read-only disk");
    check!(disk.read_sectors(0, &mut wbuf[..SECTOR]).is_ok(), "reading sector 0 again failed");
    check!(wbuf[..SECTOR] == rbuf[..SECTOR], "sector 0 changed");
    ok!("the write got an error and sector 0 is unchanged")
}

fn hostile() {
    let mut disk = disk();
    let (wbuf, rbuf) = buffers();
    fill(&mut wbuf[..], 0xBAD, 0);
    let (r, w) = (LGUEST_BLOCK_READ, LGUEST_BLOCK_WRITE);
    // (what, type, sector, bytes, bytes sent, reply buffer bytes)
    let cases: &[(&str, i32, u32, u32, usize, usize)] = &[
        ("a write claiming 4 GiB - 512 bytes", w, 0, 0xFFFF_FE00, SECTOR, 0),
        ("a read claiming 4 GiB - 512 bytes", r, 0, 0xFFFF_FE00, 0, SECTOR),
        ("a read claiming 64 KiB + 512 bytes", r, 0, 0x1_0200, 0, SECTOR),
        ("a read at sector 2^32-1", r, u32::MAX, 512, 0, SECTOR),
        ("a read at byte 2^32 (sector 2^23)", r, 1 << 23, 512, 0, SECTOR),
        ("a write at byte 2^32 (sector 2^23)", w, 1 << 23, 512, SECTOR, 0),
        ("a write of 100 bytes", w, 0, 100, 100, 0),
        ("a read of 100 bytes", r, 0, 100, 0, 100),
        ("a read of 0 bytes", r, 0, 0, 0, SECTOR),
        ("a write claiming 1024 bytes and sending 512", w, 0, 1024, SECTOR, 0),
        ("a write claiming 512 bytes and sending 1024", w, 0, 512, 2 * SECTOR, 0),
        ("a read of 1024 bytes into a 512-byte reply buffer", r, 0, 1024, 0, SECTOR),
        ("a request of type 7", 7, 0, 512, SECTOR, SECTOR),
        ("a request of type -1", -1, 0, 512, SECTOR, SECTOR),
    ];
    for &(what, kind, sector, bytes, sent, reply) in cases {
        let got = disk.request(kind, sector, bytes, &wbuf[..sent], &mut rbuf[..reply]);
        refused(got, what);
    }
    disk.unbind_reply();
    refused(disk.read_sectors(0, &mut rbuf[..SECTOR]), "a read with no reply buffer bound");
    check!(disk.bind_reply(), "binding the reply buffer again failed");
    check!(disk.read_sectors(0, &mut rbuf[..SECTOR]).is_ok(), "a good read after the bad requests failed");
    ok!("{} malformed requests and a read with no reply buffer got errors; the disk still reads", cases.len())
}

fn bad_dma() {
    let disk = disk();
    let mut dma = LguestDma::default();
    dma.addr[0] = 0xFFFF_F000;
    dma.len[0] = SECTOR as u16;
    say!("sending a DMA whose section is outside guest memory");
    guest::dma::send_dma(disk.device().phys(), &mut dma);
    conform::fail(format_args!("the Host let a DMA outside guest memory through"))
}

fn failed() {
    let disk = disk();
    disk.device().set_status(LGUEST_DEVICE_S_FAILED);
    ok!("the driver set FAILED")
}
