//! I/O on the lguest bus: the DMA core behind LHCALL_BIND_DMA and LHCALL_SEND_DMA.
//!
//! All Guest I/O is two hypercalls. BIND_DMA offers an array of `struct lguest_dma`
//! buffers that will *receive* whatever is sent to a key, and names the IRQ to raise when
//! one is filled; SEND_DMA sends one `lguest_dma`'s worth of data to a key. The other
//! party here is always the Launcher: its devices (console, block, network) own keys, take
//! what the Guest sends them ([`Guest::send_dma`]) and put input into the Guest's bound
//! buffers ([`Guest::send_to_guest`]). A send to a key nobody owns completes with
//! used_len 0, as a send to an unbound key did in 2.6.23.
//!
//! Every `lguest_dma` is checked — at most 16 sections, each inside guest memory — before
//! a byte moves, and a bad one is Sudden Death. A section of a seed-revision Guest (this
//! project's kit) may not cross a page either; a Linux Guest's may, because the 2.6.23
//! Launcher, which served every device itself, checked only that a section lay in guest
//! memory, and Linux's drivers rely on that (the console sends straight from its output
//! buffer, wherever it lies).

use crate::addr::GuestPhys;
use crate::guest::{Guest, Res};
use crate::outcome::KillReason;
use abi::{
    LGUEST_DMA_SIZE, LGUEST_IRQS, LGUEST_MAX_DMA, LGUEST_MAX_DMA_SECTIONS, OFF_DMA_ADDR, OFF_DMA_LEN,
    OFF_DMA_USED_LEN, PAGE_SIZE, Revision,
};
use tracing::trace;

/// One checked section of a DMA buffer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Section {
    pub addr: u32,
    pub len: u32,
}

/// A validated `lguest_dma`: its sections, without allocation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dma {
    pub sections: [Section; LGUEST_MAX_DMA_SECTIONS],
    pub count: usize,
    pub total: u32,
}

impl Dma {
    pub fn sections(&self) -> &[Section] {
        &self.sections[..self.count]
    }
}

/// An array of receive buffers the Guest bound to a key (LHCALL_BIND_DMA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Binding {
    pub key: u32,
    /// Guest-physical address of the first `lguest_dma`.
    pub dmas: GuestPhys,
    pub num: u32,
    /// Where to start looking for a free buffer next time.
    pub next: u32,
    pub irq: u32,
}

/// What became of data the Launcher tried to give the Guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Copied this many bytes into a bound buffer and raised its IRQ.
    Delivered(u32),
    /// Buffers are bound to the key but all are full (the IRQ was raised anyway, so the
    /// Guest gets a chance to restock).
    NoBuffer,
    /// Nothing is bound to the key.
    NotBound,
}

impl Guest {
    /// Read and check the `lguest_dma` at `at`.
    pub(crate) fn read_dma(&self, at: GuestPhys) -> Res<Dma> {
        self.check_range("lguest_dma", at, LGUEST_DMA_SIZE)?;
        let mut dma = Dma { sections: [Section::default(); LGUEST_MAX_DMA_SECTIONS], count: 0, total: 0 };
        for i in 0..LGUEST_MAX_DMA_SECTIONS as u32 {
            let len = self.read_u16("lguest_dma", at.offset(OFF_DMA_LEN + 2 * i))? as u32;
            if len == 0 {
                break;
            }
            let addr = self.read_u32("lguest_dma", at.offset(OFF_DMA_ADDR + 4 * i))?;
            let bad = |problem: String| KillReason::BadDma { dma: at, problem };
            if self.revision == Revision::Seed && (addr % PAGE_SIZE) + len > PAGE_SIZE {
                return Err(bad(format!("section {i} ({addr:#x}+{len:#x}) crosses a page boundary")).into());
            }
            if !self.mem().contains(addr, len) {
                return Err(bad(format!("section {i} ({addr:#x}+{len:#x}) is outside guest memory")).into());
            }
            dma.sections[dma.count] = Section { addr, len };
            dma.count += 1;
            dma.total += len;
        }
        Ok(dma)
    }

    /// Gather the bytes of a checked `lguest_dma` into `out` (cleared first).
    pub(crate) fn gather(&self, dma: &Dma, out: &mut Vec<u8>) {
        out.clear();
        for s in dma.sections() {
            // Checked by read_dma.
            out.extend_from_slice(self.mem().slice(s.addr, s.len).unwrap_or(&[]));
        }
    }

    /// LHCALL_BIND_DMA. Returns 1 on success, 0 when there is no room (or the IRQ is
    /// not one of the Guest's 32); a count of 0 unbinds.
    pub(crate) fn bind_dma(&mut self, key: u32, dmas: GuestPhys, count: u32, irq: u32) -> Res<u32> {
        if count == 0 {
            let before = self.bindings.iter().flatten().count();
            for b in self.bindings.iter_mut() {
                if b.is_some_and(|b| b.key == key && b.dmas == dmas) {
                    *b = None;
                }
            }
            trace!(target: "lguest::dma", "unbind key={key:#x} dmas={dmas}");
            return Ok((self.bindings.iter().flatten().count() < before) as u32);
        }
        if irq as usize >= LGUEST_IRQS {
            return Ok(0);
        }
        let len = count.saturating_mul(LGUEST_DMA_SIZE);
        self.check_range("BIND_DMA buffer array", dmas, len)?;
        let Some(slot) = self.bindings.iter_mut().find(|b| b.is_none()) else {
            return Ok(0);
        };
        *slot = Some(Binding { key, dmas, num: count, next: 0, irq });
        trace!(target: "lguest::dma", "bind key={key:#x} dmas={dmas} count={count} irq={irq}");
        self.device_bound(key)?;
        Ok(1)
    }

    /// LHCALL_SEND_DMA: send the buffers described at `at` to `key`.
    pub(crate) fn send_dma(&mut self, key: u32, at: GuestPhys) -> Res {
        let dma = self.read_dma(at)?;
        let used = self.device_send(key, &dma)?;
        trace!(target: "lguest::dma", "send key={key:#x} dma={at} len={} used={used}", dma.total);
        self.write_u32("lguest_dma used_len", at.offset(OFF_DMA_USED_LEN), used)
    }

    /// Put `parts` (concatenated) into the next free buffer the Guest bound to `key`, set
    /// its used_len, and raise its IRQ.
    pub(crate) fn send_to_guest(&mut self, key: u32, parts: &[&[u8]]) -> Res<Delivery> {
        let Some(bi) = self.bindings.iter().position(|b| b.is_some_and(|b| b.key == key)) else {
            return Ok(Delivery::NotBound);
        };
        let Some(b) = self.bindings[bi] else { return Ok(Delivery::NotBound) };
        let mut found = None;
        for i in 0..b.num {
            let idx = (b.next + i) % b.num;
            let at = b.dmas.offset(idx * LGUEST_DMA_SIZE);
            if self.read_u32("bound lguest_dma", at.offset(OFF_DMA_USED_LEN))? == 0 {
                found = Some((idx, at));
                break;
            }
        }
        self.trigger_irq(b.irq);
        let Some((idx, at)) = found else { return Ok(Delivery::NoBuffer) };
        let dma = self.read_dma(at)?;
        // Copy run by run: each run is as long as both the section and the part allow.
        let mut copied = 0u32;
        let mut src = parts.iter().copied().filter(|p| !p.is_empty());
        let mut part: &[u8] = src.next().unwrap_or(&[]);
        'out: for s in dma.sections() {
            let mut off = 0;
            while off < s.len {
                if part.is_empty() {
                    match src.next() {
                        Some(p) => part = p,
                        None => break 'out,
                    }
                }
                let n = part.len().min((s.len - off) as usize);
                // Checked by read_dma.
                let _ = self.cpu_mem_write(s.addr + off, &part[..n]);
                part = &part[n..];
                off += n as u32;
                copied += n as u32;
            }
        }
        self.write_u32("bound lguest_dma used_len", at.offset(OFF_DMA_USED_LEN), copied)?;
        if let Some(b) = self.bindings[bi].as_mut() {
            b.next = (idx + 1) % b.num;
        }
        trace!(target: "lguest::dma", "deliver key={key:#x} into {at} len={copied} irq={}", b.irq);
        Ok(Delivery::Delivered(copied))
    }

    fn cpu_mem_write(&mut self, addr: u32, bytes: &[u8]) -> Result<(), cpu::OutOfRam> {
        use cpu::Vcpu;
        self.cpu.mem_mut().write(addr, bytes)
    }

    /// Whether the Guest has buffers bound at `key`.
    pub(crate) fn is_bound(&self, key: u32) -> bool {
        self.bindings.iter().any(|b| b.is_some_and(|b| b.key == key))
    }
}

/// No bindings yet.
pub(crate) const NO_BINDINGS: [Option<Binding>; LGUEST_MAX_DMA] = [None; LGUEST_MAX_DMA];
