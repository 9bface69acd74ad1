//! The Launcher's devices on the lguest bus, and the events that bring them input.
//!
//! Devices are described to the Guest in the device page (an array of
//! `lguest_device_desc` just above RAM); each owns DMA keys. What the Guest sends to a
//! key comes to [`Guest::device_send`]; input for the Guest (a keystroke, a network
//! frame) arrives from helper threads as an [`Event`] on one channel, which the run loop
//! drains between runs of the CPU and HALT waits on, so a halted Guest sleeps until
//! input, its clock, or a signal wakes it.

pub(crate) mod block;
pub(crate) mod console;
pub(crate) mod net;

use crate::addr::GuestPhys;
use crate::guest::{Guest, Res};
use crate::io::Dma;
use abi::{LGUEST_CONSOLE_DMA_KEY, PAGE_SIZE};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

/// A device the Launcher puts on the bus besides the console (which is always there).
pub enum DeviceConfig {
    Block(block::BlockConfig),
    Net(net::NetConfig),
}

/// Where a device sits on the bus: its descriptor in the device page, and the pages it
/// owns just above RAM (its shared memory; its DMA keys are addresses in it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Index of its `lguest_device_desc` in the device page (the console is 0).
    pub index: u32,
    pub pfn: u32,
    pub pages: u32,
}

impl Slot {
    /// Guest-physical address of the device's first page (its first DMA key).
    pub fn phys(&self) -> GuestPhys {
        GuestPhys(self.pfn * PAGE_SIZE)
    }

    /// Whether `key` falls in this device's pages.
    pub fn owns_key(&self, key: u32) -> bool {
        key.wrapping_sub(self.phys().0) < self.pages * PAGE_SIZE
    }
}

/// The devices besides the console.
#[derive(Default)]
pub(crate) struct Devices {
    pub blocks: Vec<block::Block>,
    pub nets: Vec<net::Net>,
}

impl DeviceConfig {
    /// Pages of shared memory the device needs.
    pub(crate) fn pages(&self) -> u32 {
        match self {
            DeviceConfig::Block(_) => block::PAGES,
            DeviceConfig::Net(_) => net::PAGES,
        }
    }
}

/// Something that happened outside the Guest and concerns it.
#[derive(Debug)]
pub enum Event {
    /// Bytes typed (or piped) at the Launcher's standard input.
    ConsoleInput(Vec<u8>),
    /// Standard input ended.
    ConsoleEof,
    /// The Launcher was asked to stop (a signal): end the Guest.
    Stop(String),
    /// A frame arrived for network device `dev` (its buffer goes back to the device's pool).
    NetFrame { dev: usize, frame: Vec<u8> },
}

/// The channel events arrive on. Cheap to check when empty: one atomic load.
pub(crate) struct Events {
    tx: Sender<Event>,
    rx: Receiver<Event>,
    queued: Arc<AtomicUsize>,
}

/// A handle other threads use to send the Guest events.
#[derive(Clone)]
pub struct EventSender {
    tx: Sender<Event>,
    queued: Arc<AtomicUsize>,
}

impl EventSender {
    /// Queue an event; false if the Guest is gone.
    pub fn send(&self, e: Event) -> bool {
        self.queued.fetch_add(1, Ordering::Release);
        if self.tx.send(e).is_err() {
            self.queued.fetch_sub(1, Ordering::Release);
            return false;
        }
        true
    }
}

impl Events {
    pub fn new() -> Events {
        let (tx, rx) = channel();
        Events { tx, rx, queued: Arc::new(AtomicUsize::new(0)) }
    }

    pub fn sender(&self) -> EventSender {
        EventSender { tx: self.tx.clone(), queued: self.queued.clone() }
    }

    #[inline]
    pub fn any_queued(&self) -> bool {
        self.queued.load(Ordering::Acquire) != 0
    }

    /// The next event, waiting until `deadline` (or forever with `None`).
    fn next(&self, deadline: Option<Instant>) -> Option<Event> {
        let e = match deadline {
            Some(d) => self.rx.recv_timeout(d.saturating_duration_since(Instant::now())).ok(),
            None => self.rx.recv().ok(),
        };
        if e.is_some() {
            self.queued.fetch_sub(1, Ordering::Release);
        }
        e
    }

    fn try_next(&self) -> Option<Event> {
        let e = self.rx.try_recv().ok();
        if e.is_some() {
            self.queued.fetch_sub(1, Ordering::Release);
        }
        e
    }
}

impl Guest {
    /// Put a device on the bus at `slot`: open what backs it, write its descriptor and
    /// the initial contents of its shared pages.
    pub(crate) fn add_device(
        &mut self,
        slot: Slot,
        config: DeviceConfig,
    ) -> Result<(), crate::boot::LoadError> {
        match config {
            DeviceConfig::Block(c) => self.add_block(slot, c),
            DeviceConfig::Net(c) => self.add_net(slot, c),
        }
    }

    /// A handle for sending this Guest events from other threads (the Launcher uses it
    /// to turn signals into a clean stop).
    pub fn event_sender(&self) -> EventSender {
        self.events.sender()
    }

    /// The Guest sent the data described by `dma` to `key`: give it to the device that
    /// owns the key. Returns used_len for the sender (0 if nobody owns the key).
    pub(crate) fn device_send(&mut self, key: u32, dma: &Dma) -> Res<u32> {
        if key == LGUEST_CONSOLE_DMA_KEY {
            let mut buf = std::mem::take(&mut self.scratch);
            self.gather(dma, &mut buf);
            self.console.write(&buf);
            self.scratch = buf;
            return Ok(dma.total);
        }
        if let Some(i) = self.devices.blocks.iter().position(|b| b.slot.owns_key(key)) {
            return self.block_send(i, key, dma);
        }
        if let Some(i) = self.devices.nets.iter().position(|n| n.slot.owns_key(key)) {
            return self.net_send(i, key, dma);
        }
        Ok(0)
    }

    /// The Guest just bound buffers at `key`: a device with input waiting can deliver it.
    pub(crate) fn device_bound(&mut self, key: u32) -> Res {
        if key == LGUEST_CONSOLE_DMA_KEY {
            self.console_input_ready = true;
        }
        self.net_bound(key)
    }

    /// Whether anything could ever raise an interrupt, apart from the clock.
    pub(crate) fn device_could_wake(&self) -> bool {
        (self.console.input_open() && self.is_bound(LGUEST_CONSOLE_DMA_KEY)) || !self.devices.nets.is_empty()
    }

    /// Handle queued events; with `wait`, sleep for one until the deadline (`Some(None)`
    /// means no deadline).
    pub(crate) fn poll_devices(&mut self, wait: Option<Option<Instant>>) -> Res {
        if let Some(deadline) = wait
            && let Some(e) = self.events.next(deadline)
        {
            self.handle_event(e)?;
        }
        while let Some(e) = self.events.try_next() {
            self.handle_event(e)?;
        }
        self.retry_pending_input()
    }

    fn handle_event(&mut self, e: Event) -> Res {
        match e {
            Event::ConsoleInput(bytes) => self.console_input(&bytes),
            Event::ConsoleEof => self.console_eof(),
            Event::Stop(why) => Err(crate::guest::End::Stopped(why)),
            Event::NetFrame { dev, frame } => self.net_receive(dev, frame),
        }
    }

    /// The Guest has ended, however it did: devices say what they still have to say.
    pub(crate) fn devices_at_end(&mut self) {
        self.block_at_end();
    }

    /// Devices holding input the Guest had no buffer for try again (the Guest frees
    /// buffers by plain memory writes, which we do not see).
    pub(crate) fn retry_pending_input(&mut self) -> Res {
        if self.console.has_pending() || self.console_input_ready {
            self.console_input_ready = false;
            self.deliver_console_input()?;
        }
        self.net_retry()
    }
}
