//! DMA on the lguest bus: describing Guest buffers as `abi::LguestDma` and sending them.
//!
//! A `lguest_dma` lists up to [`LGUEST_MAX_DMA_SECTIONS`] sections by guest-physical
//! address, none crossing a page, a zero length ending the list. `LHCALL_SEND_DMA` copies
//! them into whatever buffers another party (the Launcher's device, another Guest) bound
//! to the key, and the Host writes how many bytes went in `used_len`.

use crate::hcall::hcall;
use crate::virt_to_phys;
use abi::{Hcall, LGUEST_MAX_DMA_SECTIONS, LguestDma, PAGE_SIZE};

/// Describe as much of `buf` as fits in one `lguest_dma`, split at page boundaries, and
/// say how many bytes that is (all of `buf` unless it spans more than 16 pages). `buf`
/// must be in the kernel's linear map, as statics and the stack are.
pub fn dma_from(buf: &[u8]) -> (LguestDma, usize) {
    let mut dma = LguestDma::default();
    let mut done = 0;
    for i in 0..LGUEST_MAX_DMA_SECTIONS {
        let rest = &buf[done..];
        if rest.is_empty() {
            break;
        }
        let phys = virt_to_phys(rest.as_ptr());
        let len = rest.len().min((PAGE_SIZE - phys % PAGE_SIZE) as usize);
        dma.addr[i] = phys;
        dma.len[i] = len as u16;
        done += len;
    }
    (dma, done)
}

/// `LHCALL_SEND_DMA`: send the buffers `dma` describes to `key` and return how many bytes
/// the receiver took (`used_len`; 0 if nobody had a buffer bound).
pub fn send_dma(key: u32, dma: &mut LguestDma) -> u32 {
    // SAFETY: SEND_DMA only reads the sections (guest memory the Host checks) and writes
    // used_len into `dma`, which we hold exclusively.
    unsafe { hcall(Hcall::SendDma, key, virt_to_phys(dma), 0) };
    // SAFETY: `dma` is a valid reference; volatile because the Host wrote it.
    unsafe { (&raw const dma.used_len).read_volatile() }
}
