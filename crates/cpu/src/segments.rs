//! Segmentation: descriptors, the segment-register caches, and the checks a segment load
//! makes.
//!
//! The GDT is Host data (`State::gdt`), handed to the CPU with [`crate::Cpu::set_gdt`]; the
//! Guest cannot address it. There is no LDT (a selector with TI set is refused with #GP, as
//! if the LDT were empty) and no task gates or call gates: a far transfer to a system
//! descriptor raises #GP.
//!
//! Every memory access checks its segment; to make that cheap each cache keeps the
//! readable and writable offset ranges precomputed (`rd_lo..=rd_hi`, `wr_lo..=wr_hi`), so
//! the check is two compares. A null or unusable segment has empty ranges and the slow
//! path ([`State::seg_fault`]) decides which exception that is.

use crate::exit::{Res, Stop, fault_code, gp};
use crate::regs::{SegReg, vector};
use crate::state::State;

/// A raw 8-byte descriptor, as it sits in a GDT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Descriptor(pub u64);

/// Access-byte bits.
pub mod access {
    /// Present.
    pub const P: u8 = 0x80;
    /// Code or data (as opposed to a system descriptor).
    pub const S: u8 = 0x10;
    /// Code (with S).
    pub const CODE: u8 = 0x08;
    /// Conforming (code) or expand-down (data).
    pub const C_OR_E: u8 = 0x04;
    /// Readable (code) or writable (data).
    pub const R_OR_W: u8 = 0x02;
    /// Accessed.
    pub const A: u8 = 0x01;
    pub const DPL_SHIFT: u8 = 5;
}

/// Flag-nibble bits (bits 52..56 of the descriptor).
pub mod dflags {
    /// Limit in 4 KiB units.
    pub const G: u8 = 0x8;
    /// 32-bit default operand size (code) / big stack (data).
    pub const DB: u8 = 0x4;
    /// 64-bit code (not on this CPU).
    pub const L: u8 = 0x2;
    pub const AVL: u8 = 0x1;
}

impl Descriptor {
    /// Build a descriptor from its parts. `limit` is the raw 20-bit field.
    pub const fn new(base: u32, limit: u32, access: u8, flags: u8) -> Descriptor {
        let d = (limit as u64 & 0xFFFF)
            | ((base as u64 & 0xFF_FFFF) << 16)
            | ((access as u64) << 40)
            | (((limit as u64 >> 16) & 0xF) << 48)
            | (((flags & 0xF) as u64) << 52)
            | (((base as u64 >> 24) & 0xFF) << 56);
        Descriptor(d)
    }

    /// A descriptor from the two words the Guest hands the Host (low word first).
    pub const fn from_words(lo: u32, hi: u32) -> Descriptor {
        Descriptor(lo as u64 | (hi as u64) << 32)
    }

    pub const fn lo(self) -> u32 {
        self.0 as u32
    }

    pub const fn hi(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub const fn base(self) -> u32 {
        ((self.0 >> 16) & 0xFF_FFFF) as u32 | (((self.0 >> 56) & 0xFF) as u32) << 24
    }

    /// The raw 20-bit limit field.
    pub const fn raw_limit(self) -> u32 {
        (self.0 & 0xFFFF) as u32 | (((self.0 >> 48) & 0xF) as u32) << 16
    }

    /// The limit in bytes (granularity applied): the last valid offset.
    pub const fn limit(self) -> u32 {
        if self.flags() & dflags::G != 0 { self.raw_limit() << 12 | 0xFFF } else { self.raw_limit() }
    }

    pub const fn access(self) -> u8 {
        (self.0 >> 40) as u8
    }

    pub const fn flags(self) -> u8 {
        ((self.0 >> 52) & 0xF) as u8
    }

    pub const fn dpl(self) -> u8 {
        (self.access() >> access::DPL_SHIFT) & 3
    }

    pub const fn present(self) -> bool {
        self.access() & access::P != 0
    }

    /// Code or data, as opposed to a system descriptor (TSS, gate, LDT).
    pub const fn is_code_or_data(self) -> bool {
        self.access() & access::S != 0
    }

    pub const fn is_code(self) -> bool {
        self.is_code_or_data() && self.access() & access::CODE != 0
    }

    pub const fn is_data(self) -> bool {
        self.is_code_or_data() && self.access() & access::CODE == 0
    }

    /// For code: conforming.
    pub const fn conforming(self) -> bool {
        self.is_code() && self.access() & access::C_OR_E != 0
    }

    /// For code: readable. For data: always.
    pub const fn readable(self) -> bool {
        self.is_data() || (self.is_code() && self.access() & access::R_OR_W != 0)
    }

    /// For data: writable. Code is never writable.
    pub const fn writable(self) -> bool {
        self.is_data() && self.access() & access::R_OR_W != 0
    }

    pub const fn with_access(self, a: u8) -> Descriptor {
        Descriptor((self.0 & !(0xFFu64 << 40)) | (a as u64) << 40)
    }
}

/// The hidden part of a segment register: what was loaded from the descriptor.
// (32 bytes, so that the memory-access paths find segment n at n << 5.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(align(32))]
pub struct Segment {
    pub selector: u16,
    pub base: u32,
    /// Last valid offset (for expand-down data: the offset *below* the first valid one).
    pub limit: u32,
    /// The descriptor's access byte; 0 for a null segment.
    pub access: u8,
    /// The descriptor's flag nibble (G, D/B, L, AVL).
    pub flags: u8,
    pub(crate) rd_lo: u32,
    pub(crate) rd_hi: u32,
    pub(crate) wr_lo: u32,
    pub(crate) wr_hi: u32,
}

impl Segment {
    /// A null (unusable) segment with the given selector.
    pub const fn null(selector: u16) -> Segment {
        Segment { selector, base: 0, limit: 0, access: 0, flags: 0, rd_lo: 1, rd_hi: 0, wr_lo: 1, wr_hi: 0 }
    }

    /// The cache a load of `selector` with descriptor `d` produces.
    pub const fn from_descriptor(selector: u16, d: Descriptor) -> Segment {
        let mut s = Segment {
            selector,
            base: d.base(),
            limit: d.limit(),
            access: d.access(),
            flags: d.flags(),
            rd_lo: 1,
            rd_hi: 0,
            wr_lo: 1,
            wr_hi: 0,
        };
        if !d.present() || !d.is_code_or_data() {
            return s;
        }
        let (lo, hi) = if d.is_data() && d.access() & access::C_OR_E != 0 {
            // Expand-down: valid offsets lie above the limit.
            let top = if d.flags() & dflags::DB != 0 { u32::MAX } else { 0xFFFF };
            if d.limit() >= top { (1, 0) } else { (d.limit() + 1, top) }
        } else {
            (0, d.limit())
        };
        if d.readable() {
            s.rd_lo = lo;
            s.rd_hi = hi;
        }
        if d.writable() {
            s.wr_lo = lo;
            s.wr_hi = hi;
        }
        s
    }

    pub const fn descriptor(&self) -> Descriptor {
        let raw_limit = if self.flags & dflags::G != 0 { self.limit >> 12 } else { self.limit };
        Descriptor::new(self.base, raw_limit, self.access, self.flags)
    }

    pub const fn is_null(&self) -> bool {
        self.access & access::P == 0
    }

    pub const fn dpl(&self) -> u8 {
        (self.access >> access::DPL_SHIFT) & 3
    }

    /// D/B: 32-bit code, or a 32-bit stack pointer for SS.
    pub const fn big(&self) -> bool {
        self.flags & dflags::DB != 0
    }

    pub const fn rpl(&self) -> u8 {
        (self.selector & 3) as u8
    }
}

/// Slots of the segment-cache memo (see [`State::cache_for`]).
pub(crate) const SEG_MEMO: usize = 8;

/// One remembered `Segment::from_descriptor`.
#[derive(Clone, Copy)]
pub(crate) struct SegMemo {
    selector: u16,
    descriptor: u64,
    segment: Segment,
}

impl SegMemo {
    /// Matches no load (no descriptor is all ones with selector 0 loaded from it).
    pub(crate) const EMPTY: SegMemo =
        SegMemo { selector: 0, descriptor: u64::MAX, segment: Segment::null(0) };
}

/// Slots of the segment-load memo, by GDT index.
pub(crate) const LOAD_MEMO: usize = 4;

/// A checked data or stack segment load that succeeded (see [`State::load_seg_checked`]).
#[derive(Clone, Copy)]
pub(crate) struct LoadMemo {
    selector: u16,
    stack: bool,
    cpl: u8,
    descriptor: u64,
    segment: Segment,
}

impl LoadMemo {
    /// Matches no load (the null selector never gets here).
    pub(crate) const EMPTY: LoadMemo =
        LoadMemo { selector: 0, stack: false, cpl: 0, descriptor: 0, segment: Segment::null(0) };
}

/// Where a checked segment load comes from; it decides the exception for a bad selector.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum LoadKind {
    /// MOV/POP/LDS... to DS, ES, FS or GS.
    Data,
    /// MOV/POP/LSS to SS, at privilege `cpl`.
    Stack,
}

impl State {
    /// Look up `selector` in the GDT. Errors are #GP(selector) as hardware raises them for a
    /// selector beyond the table or referring to the (absent) LDT.
    pub(crate) fn gdt_descriptor(&self, selector: u16) -> Res<Descriptor> {
        let index = (selector >> 3) as usize;
        if selector & 4 != 0 {
            return Err(gp(selector as u32 & 0xFFFC));
        }
        match self.gdt.get(index) {
            Some(&d) => Ok(Descriptor(d)),
            None => Err(gp(selector as u32 & 0xFFFC)),
        }
    }

    /// Set the accessed bit of a GDT entry, as the CPU does when it loads it.
    fn mark_accessed(&mut self, selector: u16) {
        if let Some(d) = self.gdt.get_mut((selector >> 3) as usize) {
            *d |= (access::A as u64) << 40;
        }
    }

    /// Load DS/ES/FS/GS or SS with `selector`, with the checks a guest instruction makes.
    #[inline]
    pub(crate) fn load_seg_checked(&mut self, seg: SegReg, selector: u16) -> Res {
        // Every trap loads the same few selectors on the way in and out: a load that
        // passed its checks is remembered with what they depended on (the selector, the
        // descriptor, whether it is SS, the CPL), and repeated without them.
        let stack = seg == SegReg::Ss;
        let m = self.load_memo[(selector >> 3) as usize % LOAD_MEMO].get();
        if m.selector == selector
            && m.stack == stack
            && m.cpl == self.cpl
            && self.gdt.get((selector >> 3) as usize) == Some(&m.descriptor)
            && selector & 0xFFFC != 0
        {
            self.segs[seg as usize] = m.segment;
            return Ok(());
        }
        self.load_seg_checked_slow(seg, selector)
    }

    #[inline(never)]
    fn load_seg_checked_slow(&mut self, seg: SegReg, selector: u16) -> Res {
        let kind = if seg == SegReg::Ss { LoadKind::Stack } else { LoadKind::Data };
        let idx_err = selector as u32 & 0xFFFC;
        let rpl = (selector & 3) as u8;
        let cpl = self.cpl;
        if selector & 0xFFFC == 0 {
            if kind == LoadKind::Stack {
                return Err(gp(0));
            }
            self.segs[seg as usize] = Segment::null(selector);
            return Ok(());
        }
        let d = self.gdt_descriptor(selector)?;
        match kind {
            LoadKind::Stack => {
                if rpl != cpl || !d.writable() || d.dpl() != cpl {
                    return Err(gp(idx_err));
                }
                if !d.present() {
                    return Err(fault_code(vector::SS, idx_err));
                }
            }
            LoadKind::Data => {
                if !d.readable() {
                    return Err(gp(idx_err));
                }
                if (d.is_data() || !d.conforming()) && (rpl > d.dpl() || cpl > d.dpl()) {
                    return Err(gp(idx_err));
                }
                if !d.present() {
                    return Err(fault_code(vector::NP, idx_err));
                }
            }
        }
        let d = if d.access() & access::A == 0 {
            self.mark_accessed(selector);
            d.with_access(d.access() | access::A)
        } else {
            d
        };
        let segment = self.cache_for(selector, d);
        self.segs[seg as usize] = segment;
        self.load_memo[(selector >> 3) as usize % LOAD_MEMO].set(LoadMemo {
            selector,
            stack: kind == LoadKind::Stack,
            cpl,
            descriptor: d.0,
            segment,
        });
        Ok(())
    }

    /// `Segment::from_descriptor`, remembered for the last selector of each of a few
    /// slots: a Guest loads the same few selectors over and over (every trap reloads the
    /// data segments on the way in and out).
    #[inline]
    pub(crate) fn cache_for(&self, selector: u16, d: Descriptor) -> Segment {
        let slot = &self.seg_memo[(selector >> 3) as usize % SEG_MEMO];
        let m = slot.get();
        if m.selector == selector && m.descriptor == d.0 {
            return m.segment;
        }
        let segment = Segment::from_descriptor(selector, d);
        slot.set(SegMemo { selector, descriptor: d.0, segment });
        segment
    }

    /// Check a code-segment selector for a far JMP/CALL at the current privilege, returning
    /// the cache to load (RPL replaced by CPL).
    pub(crate) fn check_far_code(&self, selector: u16) -> Res<Segment> {
        let idx_err = selector as u32 & 0xFFFC;
        if selector & 0xFFFC == 0 {
            return Err(gp(0));
        }
        let d = self.gdt_descriptor(selector)?;
        if !d.is_code() {
            // Call gates, task gates and TSSs are not supported on this CPU.
            return Err(gp(idx_err));
        }
        let rpl = (selector & 3) as u8;
        if d.conforming() {
            if d.dpl() > self.cpl {
                return Err(gp(idx_err));
            }
        } else if rpl > self.cpl || d.dpl() != self.cpl {
            return Err(gp(idx_err));
        }
        if !d.present() {
            return Err(fault_code(vector::NP, idx_err));
        }
        Ok(Segment::from_descriptor((selector & !3) | self.cpl as u16, d))
    }

    /// Check a code selector popped by RETF/IRET. Returns the cache and its RPL (the new CPL).
    pub(crate) fn check_return_code(&self, selector: u16) -> Res<(Segment, u8)> {
        let idx_err = selector as u32 & 0xFFFC;
        if selector & 0xFFFC == 0 {
            return Err(gp(0));
        }
        let d = self.gdt_descriptor(selector)?;
        let rpl = (selector & 3) as u8;
        if !d.is_code() || rpl < self.cpl {
            return Err(gp(idx_err));
        }
        if d.conforming() {
            if d.dpl() > rpl {
                return Err(gp(idx_err));
            }
        } else if d.dpl() != rpl {
            return Err(gp(idx_err));
        }
        if !d.present() {
            return Err(fault_code(vector::NP, idx_err));
        }
        Ok((self.cache_for(selector, d), rpl))
    }

    /// Check an SS selector popped by a return to outer privilege `rpl`.
    pub(crate) fn check_return_stack(&self, selector: u16, rpl: u8) -> Res<Segment> {
        let idx_err = selector as u32 & 0xFFFC;
        if selector & 0xFFFC == 0 {
            return Err(gp(0));
        }
        let d = self.gdt_descriptor(selector)?;
        if (selector & 3) as u8 != rpl || !d.writable() || d.dpl() != rpl {
            return Err(gp(idx_err));
        }
        if !d.present() {
            return Err(fault_code(vector::SS, idx_err));
        }
        Ok(self.cache_for(selector, d))
    }

    /// After a return to an outer ring: data segments the new CPL may not use become null.
    pub(crate) fn null_inaccessible_data_segments(&mut self) {
        for seg in [SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs] {
            let s = &self.segs[seg as usize];
            if s.is_null() {
                continue;
            }
            // Conforming code stays; anything else (data, non-conforming code) goes.
            let conforming = access::S | access::CODE | access::C_OR_E;
            if s.access & conforming != conforming && s.dpl() < self.cpl {
                self.segs[seg as usize] = Segment::null(0);
            }
        }
    }

    /// The exception for an access through `seg` at `offset` that failed the fast range
    /// check: #SS(0) for the stack segment, #GP(0) otherwise.
    #[cold]
    pub(crate) fn seg_fault(&self, seg: u8) -> Stop {
        if seg == SegReg::Ss as u8 { fault_code(vector::SS, 0) } else { gp(0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_round_trips_its_fields() {
        let d = Descriptor::new(0x1234_5678, 0xABCDE, 0x9A, 0xC);
        assert_eq!(d.base(), 0x1234_5678);
        assert_eq!(d.raw_limit(), 0xABCDE);
        assert_eq!(d.limit(), 0xABCD_EFFF);
        assert_eq!(d.access(), 0x9A);
        assert_eq!(d.flags(), 0xC);
        assert!(d.is_code() && d.readable() && !d.writable() && d.present());
        let s = Segment::from_descriptor(0x10, d);
        assert_eq!(s.descriptor(), d);
    }

    #[test]
    fn expand_down_segments_allow_offsets_above_the_limit() {
        let d = Descriptor::new(0, 0xFFF, 0x96, 0x4);
        let s = Segment::from_descriptor(0x18, d);
        assert_eq!((s.rd_lo, s.rd_hi), (0x1000, u32::MAX));
        assert_eq!((s.wr_lo, s.wr_hi), (0x1000, u32::MAX));
    }
}
