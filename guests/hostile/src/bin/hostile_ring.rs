//! hostile_ring: the async hypercall ring in `lguest_data`, flooded. The Host drains at
//! most one pass of it per synchronous hypercall, so no amount of queueing holds it for
//! long, and whatever is queued is checked like any hypercall.
//!
//! Variants:
//! - `async_flood`: 200,000 calls queued through the kit (the ring fills every 64 and
//!   falls back to a synchronous call); every one completes;
//! - `forged_ring`: 5,000 times, every slot marked pending by hand (with status bytes
//!   other than 0 too) and FLUSH_ASYNC: each flush runs the whole ring once;
//! - `async_invalid`: a full ring whose slots hold an unknown call, a second LGUEST_INIT
//!   and valid calls: the first bad one is Sudden Death.
#![no_std]
#![no_main]

use conform::{check, ok, say};
use guest::abi::{HCALL_DONE, Hcall, LHCALL_RING_SIZE};
use guest::{BootInfo, lguest_data};

guest::entry!(kmain);

fn kmain(_boot: &'static BootInfo) -> ! {
    conform::run(
        "hostile_ring",
        "async_flood",
        &[("async_flood", async_flood), ("forged_ring", forged_ring), ("async_invalid", async_invalid)],
    )
}

/// How many ring slots are not done.
fn pending() -> usize {
    let data = lguest_data::as_ptr();
    // SAFETY: the lguest_data static; volatile because the Host writes the statuses.
    (0..LHCALL_RING_SIZE)
        .filter(|&i| unsafe { (&raw const (*data).hcall_status[i]).read_volatile() } != HCALL_DONE)
        .count()
}

/// Fill every slot with `call(slot)` and mark it pending with `status(slot)`.
fn forge(call: impl Fn(usize) -> (u32, u32), status: impl Fn(usize) -> u8) {
    let data = lguest_data::as_ptr();
    for i in 0..LHCALL_RING_SIZE {
        let (eax, edx) = call(i);
        // SAFETY: the ring is ours to fill while the slots are done; the status goes last.
        unsafe {
            let slot = &raw mut (*data).hcalls[i];
            (&raw mut (*slot).eax).write_volatile(eax);
            (&raw mut (*slot).edx).write_volatile(edx);
            (&raw mut (*slot).ebx).write_volatile(0);
            (&raw mut (*slot).ecx).write_volatile(0);
            (&raw mut (*data).hcall_status[i]).write_volatile(status(i));
        }
    }
}

fn async_flood() {
    const CALLS: u32 = 200_000;
    say!("queueing {CALLS} async calls");
    let start = guest::clock::now_ns();
    for i in 0..CALLS {
        // SAFETY: GET_WALLCLOCK and TS change nothing the Guest relies on.
        unsafe {
            if i % 2 == 0 {
                guest::async_hcall(Hcall::GetWallclock, 0, 0, 0);
            } else {
                guest::async_hcall(Hcall::Ts, 0, 0, 0);
            }
        }
    }
    guest::flush_async();
    let ms = (guest::clock::now_ns() - start) / 1_000_000;
    check!(pending() == 0, "{} slots still pending after the flush", pending());
    ok!("all {CALLS} async calls completed in {ms} ms");
}

fn forged_ring() {
    const ROUNDS: u32 = 5_000;
    say!("{ROUNDS} times: every slot pending by hand, then FLUSH_ASYNC");
    for round in 0..ROUNDS {
        // Status bytes 0..=0xFE all mean pending to the Host.
        forge(|_| (Hcall::Ts as u32, 0), |i| ((round as usize + i) % 0xFF) as u8);
        guest::flush_async();
        check!(pending() == 0, "round {round}: {} slots still pending after FLUSH_ASYNC", pending());
    }
    ok!("{ROUNDS} forged full rings each ran in one flush");
}

fn async_invalid() {
    say!("a full ring of valid calls, an unknown call 0x7fffffff and a second LGUEST_INIT");
    forge(
        |i| match i {
            40 => (0x7FFF_FFFF, 0),
            41 => (Hcall::LguestInit as u32, 0),
            _ => (Hcall::GetWallclock as u32, 0),
        },
        |_| 0,
    );
    guest::flush_async();
    conform::fail(format_args!("the Host ran an unknown queued call"));
}
