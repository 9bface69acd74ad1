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

/// `LHCALL_BIND_DMA`: offer the `count` buffers described at `dmas` to receive what is
/// sent to `key`, raising `irq` when one is filled. False if the Host had no room.
///
/// # Safety
/// Until they are unbound, the Host may write into the buffers the descriptors name and
/// into the descriptors' `used_len` at any hypercall or interrupt: `dmas` must point to
/// `count` descriptors in the linear map, and both must stay valid for that long.
pub unsafe fn bind_dma(key: u32, dmas: *const LguestDma, count: u32, irq: u32) -> bool {
    // SAFETY: the caller's promise.
    unsafe { hcall(Hcall::BindDma, key, virt_to_phys(dmas), (count << 8) | irq) != 0 }
}

/// Take back the buffers bound at `key` with [`bind_dma`] from `dmas`.
pub fn unbind_dma(key: u32, dmas: *const LguestDma) {
    // SAFETY: unbinding only stops the Host from writing the buffers.
    unsafe { hcall(Hcall::BindDma, key, virt_to_phys(dmas), 0) };
}
