//! hello: the smallest tour of the Guest kit. It prints what the Launcher and the Host
//! told it, makes synchronous and async hypercalls, reads the wall clock and powers off.
#![no_std]
#![no_main]

use guest::abi::{Hcall, LGUEST_CONSOLE_DMA_KEY, LguestDma};
use guest::dma::dma_from;
use guest::{BootInfo, Global, lguest_data, println, virt_to_phys};

guest::entry!(kmain);

fn kmain(boot: &'static BootInfo) -> ! {
    println!("hello: this is a Rust Guest of lguest");
    println!("hello: command line \"{}\"", guest::boot::cmdline());
    println!("hello: {} MiB of RAM, usable below {:#x}", boot.mem_size >> 20, boot.usable_end);
    println!(
        "hello: guestid {}, tsc {} kHz, reserve_mem {:#x}",
        lguest_data::guestid(),
        lguest_data::tsc_khz(),
        lguest_data::reserve_mem()
    );

    async_lines();

    let now = guest::get_wallclock();
    let (date, time) = civil(now);
    println!(
        "hello: the wall clock says {now} ({:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC)",
        date.0, date.1, date.2, time.0, time.1, time.2
    );
    println!("hello: done");
    guest::power_off()
}

/// Console lines sent as async hypercalls: each SEND_DMA is only queued, and the Host runs
/// them in order at the FLUSH_ASYNC.
fn async_lines() {
    const LINES: [&str; 3] = ["hello: async 1 of 3\n", "hello: async 2 of 3\n", "hello: async 3 of 3\n"];
    // A queued call runs later, so what it names must outlive this function: statics.
    static DMAS: Global<[LguestDma; LINES.len()]> =
        Global::new([LguestDma { used_len: 0, addr: [0; 16], len: [0; 16] }; LINES.len()]);
    for (i, line) in LINES.iter().enumerate() {
        // SAFETY: only this function uses DMAS, and the Host is done with every entry
        // after the flush below, before it can be called again.
        let dma = unsafe { &mut (*DMAS.get())[i] };
        (*dma, _) = dma_from(line.as_bytes());
        // SAFETY: SEND_DMA reads the static line and writes used_len into a static.
        unsafe { guest::async_hcall(Hcall::SendDma, LGUEST_CONSOLE_DMA_KEY, virt_to_phys(dma), 0) };
    }
    guest::flush_async();
    println!("hello: async hypercalls done");
}

/// Seconds since the epoch as (year, month, day) and (hour, minute, second), UTC:
/// the days-to-civil algorithm of Howard Hinnant, in integers only.
fn civil(secs: u32) -> ((u32, u32, u32), (u32, u32, u32)) {
    let (days, rem) = (secs / 86400, secs % 86400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u32::from(month <= 2);
    ((year, month, day), (rem / 3600, rem / 60 % 60, rem % 60))
}
