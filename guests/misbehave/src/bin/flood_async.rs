//! Queues far more async hypercalls than the 64-slot ring holds: every one must still
//! run, in order. Each is a console SEND_DMA of a numbered line, so the output shows it.
#![no_std]
#![no_main]

use guest::abi::{Hcall, LGUEST_CONSOLE_DMA_KEY, LguestDma};
use guest::dma::dma_from;
use guest::{BootInfo, Global, println, virt_to_phys};

guest::entry!(kmain);

/// How many SEND_DMAs to queue; a GET_WALLCLOCK goes between each two as well.
const CALLS: usize = 200;
const LINE: &[u8; 22] = b"flood_async: call NNN\n";

static LINES: Global<[[u8; LINE.len()]; CALLS]> = Global::new([*LINE; CALLS]);
static DMAS: Global<[LguestDma; CALLS]> =
    Global::new([LguestDma { used_len: 0, addr: [0; 16], len: [0; 16] }; CALLS]);

fn kmain(_boot: &'static BootInfo) -> ! {
    println!("flood_async: queueing {CALLS} console writes and {} clock reads", CALLS - 1);
    for i in 0..CALLS {
        // SAFETY: only this loop writes LINES[i] and DMAS[i], each once, before queueing
        // the call that reads them; the Host is done with them by the flush below.
        let (line, dma) = unsafe { (&mut (*LINES.get())[i], &mut (*DMAS.get())[i]) };
        line[18..21].copy_from_slice(&[
            b'0' + (i / 100) as u8,
            b'0' + (i / 10 % 10) as u8,
            b'0' + (i % 10) as u8,
        ]);
        (*dma, _) = dma_from(line);
        if i > 0 {
            // SAFETY: GET_WALLCLOCK only returns a value, which an async call drops.
            unsafe { guest::async_hcall(Hcall::GetWallclock, 0, 0, 0) };
        }
        // SAFETY: the line and the descriptor are statics left alone until the flush.
        unsafe { guest::async_hcall(Hcall::SendDma, LGUEST_CONSOLE_DMA_KEY, virt_to_phys(dma), 0) };
    }
    guest::flush_async();
    // SAFETY: the Host has run every queued call, so nothing else uses DMAS now.
    let taken = unsafe { (*DMAS.get()).iter().filter(|d| d.used_len as usize == LINE.len()).count() };
    println!("flood_async: done; the console took {taken} of {CALLS} lines whole");
    guest::power_off()
}
