//! hcall_bench: what a hypercall costs, synchronous and queued in the async ring.
//!
//! - `sync_hcall`: `LHCALL_FLUSH_ASYNC` with an empty ring, i.e. a bare round trip
//!   Guest → Host → Guest;
//! - `async_hcall`: the same call queued in the ring; every 65th finds the ring full and
//!   is made synchronously, draining the 64 queued ones, so the total over many calls is
//!   the amortized cost of an async hypercall.
#![no_std]
#![no_main]

use bench::measure;
use guest::BootInfo;
use guest::abi::Hcall;

guest::entry!(kmain);

const N: u32 = 1_000_000;

fn kmain(_boot: &'static BootInfo) -> ! {
    measure("sync_hcall", N, |_| guest::flush_async());
    measure("async_hcall", N, |_| {
        // SAFETY: FLUSH_ASYNC names no memory and changes nothing.
        unsafe { guest::async_hcall(Hcall::FlushAsync, 0, 0, 0) }
    });
    guest::flush_async();
    measure("empty_loop", N, |i| {
        core::hint::black_box(i);
    });
    guest::power_off()
}
