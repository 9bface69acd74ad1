//! The block driver: a disk on the lguest bus, read and written in 512-byte sectors.
//!
//! The disk's one page is a shared `struct lguest_block_page` ([`LguestBlockPage`]), and
//! its guest-physical address is the key of every transfer. At [`Disk::open`] the driver
//! binds one reply buffer at that key (`LHCALL_BIND_DMA`). A request is: write `type`,
//! `sector`, `bytes` and `result = 0` into the page; point the reply buffer at where read
//! data should land; send a DMA to the key (`LHCALL_SEND_DMA`) holding the data for a
//! write, nothing for a read; wait until `result` is 1 (done) or 2 (error).
//!
//! This Launcher answers inside the SEND_DMA, so the wait usually ends at once; the
//! driver also copes with an answer that comes later, with the device's IRQ, by halting
//! until an interrupt arrives. One request is in flight at a time, and each moves at
//! most [`MAX_REQUEST`] bytes; [`Disk::read_sectors`] and [`Disk::write_sectors`] split
//! larger buffers. Buffers must be in the kernel's linear map (statics, the kit's stack,
//! page_alloc pages), since the Launcher names them by physical address.

use crate::bus::{self, Device};
use crate::dma::{bind_dma, dma_from, send_dma, unbind_dma};
use crate::idt::Gate;
use crate::traps::{self, TrapFrame};
use crate::{Global, irq};
use abi::{
    FIRST_EXTERNAL_VECTOR, LGUEST_BLOCK_DONE, LGUEST_BLOCK_PENDING, LGUEST_BLOCK_READ, LGUEST_BLOCK_WRITE,
    LGUEST_DEVICE_S_ACKNOWLEDGE, LGUEST_DEVICE_S_DRIVER, LGUEST_DEVICE_S_DRIVER_OK, LGUEST_DEVICE_S_FAILED,
    LGUEST_DEVICE_T_BLOCK, LGUEST_MAX_DEVICES, LGUEST_MAX_DMA_SECTIONS, LguestBlockPage, LguestDma,
    PAGE_SIZE, SECTOR_SIZE,
};
use core::sync::atomic::{Ordering, compiler_fence};

/// Bytes one request moves at most: 15 pages of buffer, wherever they start, touch at
/// most 16 pages, one per section of an `lguest_dma`.
pub const MAX_REQUEST: usize = (LGUEST_MAX_DMA_SECTIONS - 1) * PAGE_SIZE as usize;

const SECTOR: usize = SECTOR_SIZE as usize;

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The Launcher answered with an error: outside the disk, a read-only disk, a
    /// malformed request, or an I/O error on the host.
    Device,
    /// The buffer is not a whole number of sectors.
    NotWholeSectors,
    /// A buffer given to [`Disk::request`] is larger than [`MAX_REQUEST`].
    TooBig,
}

/// A descriptor with no sections.
const EMPTY: LguestDma =
    LguestDma { used_len: 0, addr: [0; LGUEST_MAX_DMA_SECTIONS], len: [0; LGUEST_MAX_DMA_SECTIONS] };

/// The reply buffers, one per place on the bus. The Launcher reads a bound one whenever
/// it answers, so they live in a static.
static REPLY: Global<[LguestDma; LGUEST_MAX_DEVICES]> = Global::new([EMPTY; LGUEST_MAX_DEVICES]);

/// An open disk.
pub struct Disk {
    dev: Device,
    page: *mut LguestBlockPage,
    reply: *mut LguestDma,
}

impl Disk {
    /// Set up the `nth` block device on the bus (0 is the first): acknowledge it, bind
    /// its reply buffer, and take its IRQ. `None` if there is no such disk, or the Host
    /// had no room for the binding (the device is then marked FAILED). Open each disk
    /// once.
    pub fn open(nth: usize) -> Option<Disk> {
        let dev = bus::find(LGUEST_DEVICE_T_BLOCK, nth)?;
        dev.set_status(LGUEST_DEVICE_S_ACKNOWLEDGE);
        dev.set_status(LGUEST_DEVICE_S_DRIVER);
        // SAFETY: the index of a device is below LGUEST_MAX_DEVICES (bus::find).
        let reply = unsafe { REPLY.get().cast::<LguestDma>().add(dev.index as usize) };
        let disk = Disk { dev, page: dev.page().cast(), reply };
        traps::set_handler(FIRST_EXTERNAL_VECTOR + dev.irq() as u8, Gate::INTERRUPT, block_irq);
        if !disk.bind_reply() {
            dev.set_status(LGUEST_DEVICE_S_FAILED);
            return None;
        }
        dev.set_status(LGUEST_DEVICE_S_DRIVER_OK);
        Some(disk)
    }

    /// Its place on the bus.
    pub fn device(&self) -> Device {
        self.dev
    }

    /// Size of the disk in sectors, as the Launcher wrote it.
    pub fn num_sectors(&self) -> u32 {
        // SAFETY: the page is the device's, which the kernel's page tables map (crate::bus).
        unsafe { (&raw const (*self.page).num_sectors).read_volatile() }
    }

    /// Read `buf.len()` bytes (whole sectors) from the disk, starting at `sector`.
    pub fn read_sectors(&mut self, sector: u32, buf: &mut [u8]) -> Result<(), Error> {
        if !buf.len().is_multiple_of(SECTOR) {
            return Err(Error::NotWholeSectors);
        }
        let mut at = sector;
        for chunk in buf.chunks_mut(MAX_REQUEST) {
            self.request(LGUEST_BLOCK_READ, at, chunk.len() as u32, &[], chunk)?;
            // Cannot wrap after a chunk the Launcher accepted: the disk ends below 2^32.
            at = at.wrapping_add((chunk.len() / SECTOR) as u32);
        }
        Ok(())
    }

    /// Write `buf` (whole sectors) to the disk, starting at `sector`. When this returns
    /// `Ok`, the data is in the Launcher's file.
    pub fn write_sectors(&mut self, sector: u32, buf: &[u8]) -> Result<(), Error> {
        if !buf.len().is_multiple_of(SECTOR) {
            return Err(Error::NotWholeSectors);
        }
        let mut at = sector;
        for chunk in buf.chunks(MAX_REQUEST) {
            self.request(LGUEST_BLOCK_WRITE, at, chunk.len() as u32, chunk, &mut [])?;
            at = at.wrapping_add((chunk.len() / SECTOR) as u32);
        }
        Ok(())
    }

    /// One request exactly as given: `kind` and `sector` and `bytes` go into the block
    /// page as they are, `send` is the DMA sent, `reply` is where read data lands. The
    /// read and write methods are built on this; a test can use it to ask for things a
    /// Launcher must refuse.
    pub fn request(
        &mut self,
        kind: i32,
        sector: u32,
        bytes: u32,
        send: &[u8],
        reply: &mut [u8],
    ) -> Result<(), Error> {
        if send.len() > MAX_REQUEST || reply.len() > MAX_REQUEST {
            return Err(Error::TooBig);
        }
        let (mut out, _) = dma_from(send);
        let (back, _) = dma_from(reply);
        let page = self.page;
        // SAFETY: the reply descriptor is this disk's and no request is in flight; the
        // request fields of the page are the Guest's to write.
        unsafe {
            self.reply.write_volatile(back);
            (&raw mut (*page).r#type).write_volatile(kind);
            (&raw mut (*page).sector).write_volatile(sector);
            (&raw mut (*page).bytes).write_volatile(bytes);
            (&raw mut (*page).result).write_volatile(LGUEST_BLOCK_PENDING);
        }
        // The request must be in place before the Launcher is told to look.
        compiler_fence(Ordering::SeqCst);
        send_dma(self.dev.phys(), &mut out);
        let result = self.wait();
        // SAFETY: the request is over; an empty reply buffer keeps the Launcher out of
        // `reply`, which the caller gets back now.
        unsafe { self.reply.write_volatile(EMPTY) };
        compiler_fence(Ordering::SeqCst);
        if result == LGUEST_BLOCK_DONE { Ok(()) } else { Err(Error::Device) }
    }

    /// Wait for the Launcher's answer to the request in flight.
    fn wait(&self) -> i32 {
        // SAFETY: the page is the device's; the Launcher writes `result`.
        let result = || unsafe { (&raw const (*self.page).result).read_volatile() };
        let flags = irq::save_fl();
        irq::disable();
        let mut r = result();
        while r == LGUEST_BLOCK_PENDING {
            // With interrupts off the answer cannot slip in between the look and the
            // sleep; HALT returns (with interrupts on) as soon as an interrupt is pending.
            crate::halt();
            irq::disable();
            r = result();
        }
        irq::restore_fl(flags);
        r
    }

    /// Bind the reply buffer at the disk's key again, after [`Disk::unbind_reply`].
    /// False if the Host had no room.
    pub fn bind_reply(&self) -> bool {
        // SAFETY: the descriptor is a static, empty until a request points it at the
        // caller's buffer, and the Launcher writes that buffer only while the request
        // that did so waits for it.
        unsafe {
            self.reply.write_volatile(EMPTY);
            bind_dma(self.dev.phys(), self.reply, 1, self.dev.irq())
        }
    }

    /// Take the reply buffer back: reads fail (the Launcher has nowhere to put the data)
    /// until [`Disk::bind_reply`].
    pub fn unbind_reply(&self) {
        unbind_dma(self.dev.phys(), self.reply);
    }
}

/// The block IRQ. The waiter reads `result` itself; the interrupt only has to end its
/// HALT.
fn block_irq(_frame: &mut TrapFrame) {}
