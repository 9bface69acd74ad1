//! blk_bench: sequential throughput of the block device, seen from inside the Guest.
//!
//! Writes the whole disk, then reads it back, in requests of the largest size one
//! `lguest_dma` carries (`block::MAX_REQUEST`, from a page-aligned buffer), and reports
//! `bench blk_write <bytes> <ns>` and `bench blk_read <bytes> <ns>`. The root benchmark
//! (`benches/block.rs`) gives it a disk file and compares with the file read directly.
#![no_std]
#![no_main]

use bench::{now_ns, report};
use guest::block::{Disk, MAX_REQUEST};
use guest::{BootInfo, Global, crash};

guest::entry!(kmain);

#[repr(C, align(4096))]
struct Buffer([u8; MAX_REQUEST]);

static BUF: Global<Buffer> = Global::new(Buffer([0; MAX_REQUEST]));

fn kmain(_boot: &'static BootInfo) -> ! {
    let Some(mut disk) = Disk::open(0) else { crash("blk_bench: no block device") };
    // SAFETY: the only user of the buffer.
    let buf = unsafe { &mut (*BUF.get()).0 };
    for (i, b) in buf.iter_mut().enumerate() {
        *b = i as u8;
    }
    let per = (MAX_REQUEST / 512) as u32;
    let requests = disk.num_sectors() / per;
    let bytes = requests * MAX_REQUEST as u32;

    let start = now_ns();
    for r in 0..requests {
        if disk.write_sectors(r * per, buf).is_err() {
            crash("blk_bench: a write failed");
        }
    }
    report("blk_write", bytes, now_ns() - start);

    let start = now_ns();
    for r in 0..requests {
        if disk.read_sectors(r * per, buf).is_err() {
            crash("blk_bench: a read failed");
        }
    }
    report("blk_read", bytes, now_ns() - start);
    guest::power_off()
}
