//! The network driver: Ethernet frames through the Launcher's network device.
//!
//! The protocol is 2.6.23's `lguest_net` as this project's Launchers speak it (the Host's
//! `devices/net.rs` has the whole story): the device owns one page of `struct lguest_net`
//! slots; the Guest's own slot number is in the low bits of the descriptor's `features`
//! ([`abi::LGUEST_NET_SLOT_MASK`]). The driver
//!
//! 1. finds the device on the bus and sets ACKNOWLEDGE, then DRIVER;
//! 2. publishes its MAC, `02:00:lo:hi:00:00` from `lguest_data.guestid` (as Linux does)
//!    ([`abi::lguest_net_mac`]), in its slot;
//! 3. binds [`NUM_RX`] receive buffers of [`abi::ETH_FRAME_LEN`] bytes at its slot's key
//!    (`page + 4 * slot`), raising the device's IRQ, and sets DRIVER_OK;
//! 4. sends every frame to the Launcher's key (`page + 4 * 0`), which switches it.
//!
//! Receiving is polled: the Launcher fills a free buffer (`used_len` 0), sets its
//! `used_len` and raises the IRQ; [`Net::recv`] takes the frames out in the order they
//! were filled and gives the buffers back by zeroing `used_len`. The IRQ handler only
//! counts; its job is to wake [`Net::recv_until`], which HALTs while nothing has arrived.
//! Promiscuous mode is the multicast bit of the published MAC, followed by an empty send
//! that tells the Launcher to look at the slot again.
//!
//! The buffers are statics, so there is one open device at a time. Device pages lie above
//! RAM, where the boot page tables and `paging::init`'s both map them (see [`crate::bus`]).

use crate::bus::{self, Device};
use crate::dma::{bind_dma, dma_from, send_dma};
use crate::idt::Gate;
use crate::traps::{self, TrapFrame};
use crate::{Global, clock, hcall, irq, lguest_data, virt_to_phys};
use abi::{
    ETH_ALEN, ETH_FRAME_LEN, FIRST_EXTERNAL_VECTOR, LGUEST_DEVICE_S_ACKNOWLEDGE, LGUEST_DEVICE_S_DRIVER,
    LGUEST_DEVICE_S_DRIVER_OK, LGUEST_DEVICE_S_FAILED, LGUEST_DEVICE_T_NET, LGUEST_NET_LAUNCHER_SLOT,
    LGUEST_NET_PROMISC, LGUEST_NET_SLOT_MASK, LGUEST_NET_SLOT_SIZE, LGUEST_NET_SLOTS, LguestDma,
    lguest_net_key, lguest_net_mac,
};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering, compiler_fence};

/// Receive buffers bound at once (2.6.23's `NUM_SKBS`).
pub const NUM_RX: usize = 8;

/// Bytes of the largest frame.
pub const FRAME_MAX: usize = ETH_FRAME_LEN as usize;

/// An Ethernet address.
pub type Mac = [u8; ETH_ALEN];

/// The broadcast address.
pub const BROADCAST: Mac = [0xff; ETH_ALEN];

/// One receive buffer, aligned so that it never crosses a page (one DMA section).
#[repr(C, align(2048))]
struct RxBuf([u8; FRAME_MAX]);

struct Rx {
    bufs: [RxBuf; NUM_RX],
    dmas: [LguestDma; NUM_RX],
}

static RX: Global<Rx> = Global::new(Rx {
    bufs: [const { RxBuf([0; FRAME_MAX]) }; NUM_RX],
    dmas: [LguestDma { used_len: 0, addr: [0; 16], len: [0; 16] }; NUM_RX],
});

/// Some device has the buffers.
static OPEN: AtomicBool = AtomicBool::new(false);

/// Receive interrupts so far.
static RX_IRQS: AtomicU32 = AtomicU32::new(0);

fn rx_irq(_frame: &mut TrapFrame) {
    RX_IRQS.fetch_add(1, Ordering::Relaxed);
}

fn clock_tick(_frame: &mut TrapFrame) {}

/// A received frame (a copy: its buffer went back to the Launcher).
#[derive(Clone)]
pub struct Frame {
    len: usize,
    data: [u8; FRAME_MAX],
}

impl Frame {
    /// A frame of `len` zero bytes (at most [`FRAME_MAX`]).
    pub const fn zeroed(len: usize) -> Frame {
        Frame { len: if len < FRAME_MAX { len } else { FRAME_MAX }, data: [0; FRAME_MAX] }
    }

    /// Its destination MAC.
    pub fn dst(&self) -> Mac {
        let mut m = [0; ETH_ALEN];
        m.copy_from_slice(&self.data[0..ETH_ALEN]);
        m
    }

    /// Its source MAC.
    pub fn src(&self) -> Mac {
        let mut m = [0; ETH_ALEN];
        m.copy_from_slice(&self.data[ETH_ALEN..2 * ETH_ALEN]);
        m
    }

    /// Its EtherType.
    pub fn ethertype(&self) -> u16 {
        u16::from_be_bytes([self.data[12], self.data[13]])
    }

    /// What follows the 14-byte header.
    pub fn payload(&self) -> &[u8] {
        &self.data[14.min(self.len)..self.len]
    }
}

impl core::ops::Deref for Frame {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

impl core::ops::DerefMut for Frame {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.data[..self.len]
    }
}

/// Write a MAC as `02:00:07:00:00:00`.
pub struct MacDisplay(pub Mac);

impl core::fmt::Display for MacDisplay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

/// What the driver counted.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub tx_frames: u32,
    /// Sends the Launcher did not take whole (`used_len` short).
    pub tx_errors: u32,
    pub rx_frames: u32,
}

/// An open network device.
pub struct Net {
    dev: Device,
    /// Our slot in the device page.
    me: u32,
    mac: Mac,
    promisc: bool,
    /// The buffer the next frame should be in.
    next: usize,
    stats: Stats,
}

/// Why [`Net::open`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// The Launcher gave this Guest no network device (no `--net`).
    NoDevice,
    /// A [`Net`] is open already.
    Busy,
    /// The descriptor makes no sense (no pages, or a slot outside them).
    BadDescriptor,
    /// The Host had no room for our receive buffers.
    BindFailed,
}

impl Net {
    /// Open the first network device.
    pub fn open() -> Result<Net, OpenError> {
        Net::open_nth(0)
    }

    /// Open the `nth` network device (counting from 0).
    pub fn open_nth(nth: usize) -> Result<Net, OpenError> {
        let dev = bus::find(LGUEST_DEVICE_T_NET, nth).ok_or(OpenError::NoDevice)?;
        if OPEN.swap(true, Ordering::Acquire) {
            return Err(OpenError::Busy);
        }
        dev.set_status(LGUEST_DEVICE_S_ACKNOWLEDGE);
        let desc = dev.descriptor();
        let me = u32::from(desc.features & LGUEST_NET_SLOT_MASK);
        if desc.num_pages == 0 || me >= LGUEST_NET_SLOTS {
            dev.set_status(LGUEST_DEVICE_S_FAILED);
            OPEN.store(false, Ordering::Release);
            return Err(OpenError::BadDescriptor);
        }
        dev.set_status(LGUEST_DEVICE_S_DRIVER);
        let mut net = Net {
            dev,
            me,
            mac: lguest_net_mac(lguest_data::guestid()),
            promisc: false,
            next: 0,
            stats: Stats::default(),
        };
        net.publish();
        let rx = RX.get();
        // SAFETY: OPEN makes us the only user of RX, and nothing is bound yet, so nobody
        // else reads or writes it while we fill in the descriptors.
        unsafe {
            for i in 0..NUM_RX {
                let buf = &raw const (*rx).bufs[i].0;
                let dma = &raw mut (*rx).dmas[i];
                dma.write_volatile(LguestDma { used_len: 0, addr: [0; 16], len: [0; 16] });
                (*dma).addr[0] = virt_to_phys(buf);
                (*dma).len[0] = FRAME_MAX as u16;
            }
        }
        if !traps::has_handler(clock::CLOCK_VECTOR) {
            traps::set_handler(clock::CLOCK_VECTOR, Gate::INTERRUPT, clock_tick);
        }
        traps::set_handler(net.vector(), Gate::INTERRUPT, rx_irq);
        // SAFETY: the descriptors and buffers are statics, ours until `Drop` unbinds them.
        let bound = unsafe { bind_dma(net.key(me), &raw const (*rx).dmas[0], NUM_RX as u32, dev.irq()) };
        if !bound {
            dev.set_status(LGUEST_DEVICE_S_FAILED);
            traps::clear_handler(net.vector());
            OPEN.store(false, Ordering::Release);
            return Err(OpenError::BindFailed);
        }
        dev.set_status(LGUEST_DEVICE_S_DRIVER_OK);
        Ok(net)
    }

    fn vector(&self) -> u8 {
        FIRST_EXTERNAL_VECTOR + self.dev.irq() as u8
    }

    fn key(&self, slot: u32) -> u32 {
        lguest_net_key(self.dev.phys(), slot)
    }

    fn slot(&self, n: u32) -> *mut [u8; ETH_ALEN] {
        self.dev.page().wrapping_add((n * LGUEST_NET_SLOT_SIZE) as usize).cast()
    }

    /// Write our slot: the MAC, with the multicast bit when promiscuous.
    fn publish(&mut self) {
        let mut m = self.mac;
        if self.promisc {
            m[0] |= LGUEST_NET_PROMISC;
        }
        // SAFETY: our slot is inside the device's page (checked at open), which the
        // kernel's page tables map (crate::bus); volatile because the Launcher reads it.
        unsafe { self.slot(self.me).write_volatile(m) };
    }

    /// Our MAC address.
    pub fn mac(&self) -> Mac {
        self.mac
    }

    /// The IRQ the device raises.
    pub fn irq(&self) -> u32 {
        self.dev.irq()
    }

    /// What the driver counted.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Receive every frame on the network (on) or only ours, broadcast and multicast.
    pub fn set_promisc(&mut self, on: bool) {
        self.promisc = on;
        self.publish();
        // An empty send: "look at my slot again".
        let (mut dma, _) = dma_from(&[]);
        send_dma(self.key(LGUEST_NET_LAUNCHER_SLOT), &mut dma);
    }

    /// Send one frame (header included, at most [`FRAME_MAX`] bytes, in the linear map).
    /// True if the Launcher took it; like a wire, that says nothing of who received it.
    pub fn send(&mut self, frame: &[u8]) -> bool {
        let (mut dma, len) = dma_from(frame);
        let used = send_dma(self.key(LGUEST_NET_LAUNCHER_SLOT), &mut dma);
        let ok = len == frame.len() && used as usize == frame.len();
        if ok {
            self.stats.tx_frames += 1;
        } else {
            self.stats.tx_errors += 1;
        }
        ok
    }

    fn used_len(i: usize) -> u32 {
        // SAFETY: the descriptors are ours (OPEN); volatile because the Host writes them.
        unsafe { (&raw const (*RX.get()).dmas[i].used_len).read_volatile() }
    }

    /// Whether a frame is waiting.
    pub fn rx_ready(&self) -> bool {
        (0..NUM_RX).any(|i| Net::used_len(i) != 0)
    }

    /// The next frame, if one has arrived (a copy; see [`Net::recv_with`]).
    pub fn recv(&mut self) -> Option<Frame> {
        self.recv_with(|bytes| {
            let mut frame = Frame::zeroed(bytes.len());
            frame.data[..bytes.len()].copy_from_slice(bytes);
            frame
        })
    }

    /// Look at the next frame where the Launcher put it, if one has arrived; its buffer
    /// goes back to the Launcher when `f` returns.
    pub fn recv_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let i = (0..NUM_RX).map(|k| (self.next + k) % NUM_RX).find(|&i| Net::used_len(i) != 0)?;
        let len = (Net::used_len(i) as usize).min(FRAME_MAX);
        // SAFETY: the Host filled buffer i and will not touch it until used_len is 0.
        let r = f(unsafe { &(&(*RX.get()).bufs[i].0)[..len] });
        compiler_fence(Ordering::SeqCst);
        // SAFETY: as in used_len; giving the buffer back.
        unsafe { (&raw mut (*RX.get()).dmas[i].used_len).write_volatile(0) };
        self.next = (i + 1) % NUM_RX;
        self.stats.rx_frames += 1;
        Some(r)
    }

    /// Wait (HALTed) until a frame has arrived or `deadline` ([`clock::now_ns`] time)
    /// passes; true if one has. Waiting arms the one-shot clock, replacing any event the
    /// kernel had set.
    pub fn wait_until(&mut self, deadline: u64) -> bool {
        loop {
            if self.rx_ready() {
                return true;
            }
            let now = clock::now_ns();
            if now >= deadline {
                return false;
            }
            // With interrupts off a frame cannot slip in between the look and the HALT:
            // its IRQ stays pending and HALT returns at once.
            let flags = irq::save_fl();
            irq::disable();
            if !self.rx_ready() {
                clock::set_clockevent((deadline - now).min(u64::from(u32::MAX)) as u32);
                hcall::halt();
            }
            irq::restore_fl(flags);
        }
    }

    /// The next frame, waiting (HALTed) until `deadline` at most (see [`Net::wait_until`]).
    pub fn recv_until(&mut self, deadline: u64) -> Option<Frame> {
        loop {
            if let Some(f) = self.recv() {
                return Some(f);
            }
            if !self.wait_until(deadline) {
                return None;
            }
        }
    }

    /// Receive interrupts so far (all devices share one count).
    pub fn irqs() -> u32 {
        RX_IRQS.load(Ordering::Relaxed)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // SAFETY: the slot is ours (see publish).
        unsafe { self.slot(self.me).write_volatile([0; ETH_ALEN]) };
        // SAFETY: only the address is taken.
        let dmas = unsafe { &raw const (*RX.get()).dmas[0] };
        crate::dma::unbind_dma(self.key(self.me), dmas);
        traps::clear_handler(self.vector());
        OPEN.store(false, Ordering::Release);
    }
}
