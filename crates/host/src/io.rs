//! I/O on the lguest bus: DMA descriptors and LHCALL_SEND_DMA.
//!
//! A `struct lguest_dma` names up to 16 sections of guest-physical memory; every one is
//! checked (inside guest memory, not crossing a page) before any byte moves, and a bad one
//! kills the Guest. In this version the only receiver is the Launcher's console at key 0
//! (LGUEST_CONSOLE_DMA_KEY); a send to a key nobody bound completes with used_len 0.

use crate::addr::GuestPhys;
use crate::guest::{Guest, Res};
use crate::outcome::KillReason;
use abi::{
    LGUEST_CONSOLE_DMA_KEY, LGUEST_DMA_SIZE, LGUEST_MAX_DMA_SECTIONS, OFF_DMA_ADDR, OFF_DMA_LEN, PAGE_SIZE,
};
use tracing::trace;

/// One checked section of a DMA buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Section {
    pub addr: u32,
    pub len: u32,
}

/// A validated `lguest_dma`: its sections, without allocation.
pub(crate) struct Dma {
    pub sections: [Section; LGUEST_MAX_DMA_SECTIONS],
    pub count: usize,
    pub total: u32,
}

impl Guest {
    /// Read and check the `lguest_dma` at `at`.
    pub(crate) fn read_dma(&self, at: GuestPhys) -> Res<Dma> {
        self.check_range("lguest_dma", at, LGUEST_DMA_SIZE)?;
        let mut dma =
            Dma { sections: [Section { addr: 0, len: 0 }; LGUEST_MAX_DMA_SECTIONS], count: 0, total: 0 };
        for i in 0..LGUEST_MAX_DMA_SECTIONS as u32 {
            let len = self.read_u16("lguest_dma", at.offset(OFF_DMA_LEN + 2 * i))? as u32;
            if len == 0 {
                break;
            }
            let addr = self.read_u32("lguest_dma", at.offset(OFF_DMA_ADDR + 4 * i))?;
            let bad = |problem: String| KillReason::BadDma { dma: at, problem };
            if (addr % PAGE_SIZE) + len > PAGE_SIZE {
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

    /// LHCALL_SEND_DMA: send the buffers described at `at` to `key`.
    pub(crate) fn send_dma(&mut self, key: u32, at: GuestPhys) -> Res {
        let dma = self.read_dma(at)?;
        let used = if key == LGUEST_CONSOLE_DMA_KEY {
            let mut buf = std::mem::take(&mut self.scratch);
            buf.clear();
            for s in &dma.sections[..dma.count] {
                // Checked by read_dma.
                buf.extend_from_slice(self.mem().slice(s.addr, s.len).unwrap_or(&[]));
            }
            self.console.write(&buf);
            self.scratch = buf;
            dma.total
        } else {
            0
        };
        trace!(target: "lguest::dma", "send_dma key={key:#x} dma={at} len={} used={used}", dma.total);
        self.write_u32("lguest_dma used_len", at, used)
    }
}
