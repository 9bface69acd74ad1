//! The architectural state of the CPU and the memory-access paths every instruction uses.
//!
//! A data access goes: segment check (two compares against the precomputed range) →
//! linear address → TLB probe → a load or store in guest RAM. Anything unusual (a TLB miss,
//! an access that crosses a page, a store to a page that holds code) leaves the fast path
//! for `*_slow`, which walks the page tables and raises the right exception.

use crate::direct::Direct;
use crate::exit::{Exit, Res, Stop};
use crate::flags::Lazy;
use crate::mem::{PAGE_MASK, PhysMem};
use crate::ops::Width;
use crate::paging::Tlb;
use crate::regs::{SegReg, cr, eflags};
use crate::segments::{LOAD_MEMO, LoadMemo, SEG_MEMO, SegMemo, Segment};
use std::cell::Cell;

/// How RDTSC counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TscMode {
    /// One tick per retired instruction: deterministic, for tests.
    Instructions,
    /// Host time at `khz` ticks per millisecond, starting from 0 when the mode is set.
    Realtime { khz: u32 },
}

/// Index of the always-zero pseudo register used for "no base" or "no index" in an
/// effective address, so address generation has no branches.
pub(crate) const REG_NONE: u8 = 8;

#[derive(Clone)]
pub(crate) struct State {
    /// EAX..EDI, then entries that are always 0 ([`REG_NONE`] is one). There are 256 so
    /// that indexing with any `u8` register number needs no bounds check on the hot paths.
    pub regs: [u32; 256],
    pub eip: u32,
    /// EFLAGS except the six arithmetic flags, which live in `cc`.
    pub flags: u32,
    pub cc: Lazy,
    /// ES, CS, SS, DS, FS, GS, and two null entries so that a segment number masked to
    /// three bits needs no bounds check on the memory-access paths.
    pub segs: [Segment; 8],
    pub cpl: u8,
    /// CPL is 3: the privilege class for paging (kept beside `cpl` for the hot paths).
    pub user: bool,
    /// Bumped on every CS load, so cached blocks re-check base, limit and size.
    pub cs_gen: u64,
    pub cr0: u32,
    pub cr2: u32,
    pub cr3: u32,
    pub cr4: u32,
    pub dr: [u32; 8],
    /// The x87 (see `fpu/`).
    pub fpu: crate::fpu::Fpu,
    /// What CPUID.1:EDX reports (features this CPU has, as many as the Host shows).
    pub cpuid_edx: u32,
    pub gdt: Vec<u64>,
    pub mem: PhysMem,
    /// Where page directories and tables live, if not in `mem` (the Host's shadow tables).
    pub pt_mem: Option<PhysMem>,
    pub tlb: Tlb,
    /// Set when a store hit a page holding decoded code: the current block must stop.
    pub smc: bool,
    /// Set (with `smc`) when a store hit a watched page: `run` returns after it.
    pub watch_hit: bool,
    /// Instructions retired so far (counted at block granularity, exact at exits).
    pub retired: u64,
    pub tsc_mode: TscMode,
    pub tsc_start: std::time::Instant,
    /// Set by the check engine: RDTSC reads this value plus the instructions retired
    /// since the count given, so that both of its CPUs read one clock.
    pub tsc_pin: Option<(u64, u64)>,
    /// Gates `int n` is delivered through without an exit (see `direct.rs`).
    pub direct: Direct,
    /// Recently built segment caches (see `State::cache_for`).
    pub seg_memo: [Cell<SegMemo>; SEG_MEMO],
    /// Recent checked segment loads (see `State::load_seg_checked`).
    pub load_memo: [Cell<LoadMemo>; LOAD_MEMO],
    /// What translated code keeps beside the registers (see `jit/`).
    pub jit: JitCtx,
}

/// The words translated code reads and writes through its State pointer besides the
/// architectural state: the budget it counts down, the validity stamp its block heads
/// compare, and how the last stop happened. Unused by the interpreter.
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct JitCtx {
    /// Instructions left in the budget: every block head subtracts its length.
    pub left: u64,
    /// `left` and `retired` when the run entered translated code (to set `retired`
    /// exactly before an interpreter handler runs).
    pub left0: u64,
    pub retired0: u64,
    /// The stamp valid blocks carry: the epoch, CPL 3 and which segments are flat.
    pub stamp: u64,
    /// The packed `Stop` of the handler that stopped a block (0: a store that must end it).
    pub res: u64,
    /// Guest RAM and the TLB, for the generated code's fast paths.
    pub ram: u64,
    pub tlb: u64,
    /// The translator's table of translations, the block cache and the code memory, for
    /// the callback that revalidates a block from inside translated code (set for the
    /// duration of one entry; see `jit::native::revalidate`).
    pub translations: u64,
    pub cache: u64,
    pub code: u64,
}

impl State {
    pub fn new(mem: PhysMem) -> State {
        let flat = Segment::null(0);
        State {
            regs: [0; 256],
            eip: 0,
            flags: eflags::FIXED,
            cc: Lazy::from_eflags(0),
            segs: [flat; 8],
            cpl: 0,
            user: false,
            cs_gen: 0,
            cr0: cr::CR0_PE | cr::CR0_ET | cr::CR0_EM,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            dr: [0; 8],
            fpu: crate::fpu::Fpu::new(),
            cpuid_edx: crate::ops::system::CPUID_FEATURES_EDX,
            gdt: Vec::new(),
            mem,
            pt_mem: None,
            tlb: Tlb::new(),
            smc: false,
            watch_hit: false,
            retired: 0,
            tsc_mode: TscMode::Instructions,
            tsc_start: std::time::Instant::now(),
            tsc_pin: None,
            direct: Direct::new(),
            seg_memo: [const { Cell::new(SegMemo::EMPTY) }; SEG_MEMO],
            load_memo: [const { Cell::new(LoadMemo::EMPTY) }; LOAD_MEMO],
            jit: JitCtx::default(),
        }
    }

    // ---- EFLAGS ----

    /// The full EFLAGS value.
    #[inline]
    pub fn eflags(&self) -> u32 {
        (self.flags & !eflags::ARITH) | self.cc.bits() | eflags::FIXED
    }

    /// Replace EFLAGS (all writable bits; no privilege rules: callers apply those).
    #[inline]
    pub fn set_eflags(&mut self, v: u32) {
        self.flags = (v & eflags::WRITABLE & !eflags::ARITH) | eflags::FIXED;
        self.cc = Lazy::from_eflags(v);
    }

    /// Set or clear some of the arithmetic flags, keeping the others.
    #[inline]
    pub fn set_arith_flags(&mut self, mask: u32, value: u32) {
        if mask & !(eflags::CF | eflags::OF) == 0 {
            self.cc.override_cf_of(mask, value);
            return;
        }
        let cur = self.cc.bits();
        self.cc = Lazy::from_eflags((cur & !mask) | (value & mask));
    }

    #[inline]
    pub fn df(&self) -> bool {
        self.flags & eflags::DF != 0
    }

    pub fn iopl(&self) -> u8 {
        ((self.flags & eflags::IOPL) >> eflags::IOPL_SHIFT) as u8
    }

    // ---- registers ----

    #[inline(always)]
    pub fn reg8(&self, r: u8) -> u32 {
        if r < 4 { self.regs[r as usize] & 0xFF } else { (self.regs[(r - 4) as usize] >> 8) & 0xFF }
    }

    #[inline(always)]
    pub fn set_reg8(&mut self, r: u8, v: u32) {
        if r < 4 {
            let x = &mut self.regs[r as usize];
            *x = (*x & !0xFF) | (v & 0xFF);
        } else {
            let x = &mut self.regs[(r - 4) as usize];
            *x = (*x & !0xFF00) | ((v & 0xFF) << 8);
        }
    }

    #[inline(always)]
    pub fn set_reg16(&mut self, r: u8, v: u32) {
        let x = &mut self.regs[r as usize];
        *x = (*x & !0xFFFF) | (v & 0xFFFF);
    }

    // ---- privilege and mode ----

    /// Change the current privilege level (done when CS is loaded).
    pub fn set_cpl(&mut self, cpl: u8) {
        self.cpl = cpl;
        self.user = cpl == 3;
    }

    /// Load CS with an already-checked cache; CPL follows its RPL.
    pub fn load_cs(&mut self, seg: Segment) {
        let old = &self.segs[SegReg::Cs as usize];
        // Cached blocks depend on CS's base, limit and default size (and, through their
        // own key, on CPL 3 or not): reloading the same segment, as every trap into the
        // Guest kernel does, must not make them all re-validate.
        if old.base != seg.base || old.limit != seg.limit || old.big() != seg.big() || old.is_null() {
            self.cs_gen += 1;
        }
        self.segs[SegReg::Cs as usize] = seg;
        self.set_cpl(seg.rpl());
    }

    /// Is the stack 32 bits wide (SS.B)?
    #[inline(always)]
    pub fn stack32(&self) -> bool {
        self.segs[SegReg::Ss as usize].big()
    }

    // ---- physical stores ----

    /// Store bytes at a physical address known to be inside RAM, noticing code pages.
    pub fn store_phys(&mut self, phys: u32, bytes: &[u8]) {
        let page = (phys >> 12) as usize;
        let last = ((phys + bytes.len() as u32 - 1) >> 12) as usize;
        if self.mem.note_write_page(page) | (last != page && self.mem.note_write_page(last)) {
            self.smc = true;
        }
        let watched = |m: &crate::mem::PhysMem, p: usize| m.watched.get(p).copied().unwrap_or(false);
        if watched(&self.mem, page) || (last != page && watched(&self.mem, last)) {
            self.smc = true;
            self.watch_hit = true;
        }
        let p = phys as usize;
        if let Some(dst) = self.mem.bytes.get_mut(p..p + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    }

    // ---- linear accesses ----

    /// Read `N` bytes (1, 2 or 4) at linear address `lin`.
    #[inline(always)]
    pub fn read_lin<const N: u32>(&mut self, lin: u32) -> Res<u32> {
        let e = &self.tlb.entries[Tlb::index(lin, self.user)];
        if e.rtag == lin & (PAGE_MASK | (N - 1)) {
            let p = lin.wrapping_add(e.addend) as usize;
            if let Some(b) = self.mem.bytes.get(p..p + N as usize) {
                return Ok(le_value(b));
            }
        }
        self.read_lin_slow(lin, N)
    }

    #[inline(never)]
    pub fn read_lin_slow(&mut self, lin: u32, n: u32) -> Res<u32> {
        let mut buf = [0u8; 4];
        self.read_lin_bytes(lin, &mut buf[..n as usize])?;
        Ok(u32::from_le_bytes(buf))
    }

    /// Read any number of bytes at a linear address, translating page by page. Nothing is
    /// read unless every page translates.
    pub fn read_lin_bytes(&mut self, lin: u32, buf: &mut [u8]) -> Res {
        let n = buf.len() as u32;
        let first = self.translate(lin, false)?;
        let in_first = (0x1000 - (lin & !PAGE_MASK)).min(n);
        let second =
            if in_first < n { Some(self.translate(lin.wrapping_add(in_first), false)?) } else { None };
        let (a, b) = buf.split_at_mut(in_first as usize);
        read_phys(&self.mem, first, a)?;
        if let Some(p) = second {
            read_phys(&self.mem, p, b)?;
        }
        Ok(())
    }

    /// Write the low `N` bytes of `v` at linear address `lin`.
    #[inline(always)]
    pub fn write_lin<const N: u32>(&mut self, lin: u32, v: u32) -> Res {
        let e = &self.tlb.entries[Tlb::index(lin, self.user)];
        if e.wtag == lin & (PAGE_MASK | (N - 1)) {
            let p = lin.wrapping_add(e.addend) as usize;
            if let Some(b) = self.mem.bytes.get_mut(p..p + N as usize) {
                b.copy_from_slice(&v.to_le_bytes()[..N as usize]);
                return Ok(());
            }
        }
        self.write_lin_slow(lin, &v.to_le_bytes()[..N as usize])
    }

    /// Write bytes at a linear address. Both pages are translated (and may fault) before
    /// anything is stored, so a faulting store changes nothing.
    #[inline(never)]
    pub fn write_lin_slow(&mut self, lin: u32, bytes: &[u8]) -> Res {
        let (first, second, split) = self.translate_write(lin, bytes.len() as u32)?;
        self.store_phys(first, &bytes[..split as usize]);
        if let Some(p) = second {
            self.store_phys(p, &bytes[split as usize..]);
        }
        Ok(())
    }

    /// Translate `[lin, lin+n)` for writing: (first physical, second physical if the range
    /// crosses a page, bytes in the first page).
    pub fn translate_write(&mut self, lin: u32, n: u32) -> Res<(u32, Option<u32>, u32)> {
        let first = self.translate(lin, true)?;
        let in_first = (0x1000 - (lin & !PAGE_MASK)).min(n);
        let second =
            if in_first < n { Some(self.translate(lin.wrapping_add(in_first), true)?) } else { None };
        Ok((first, second, in_first))
    }

    // ---- segmented accesses ----

    /// The linear address of `[seg:ea]` for a read of `n` bytes, after the limit and type
    /// checks.
    #[inline(always)]
    pub fn lin_read(&self, seg: u8, ea: u32, n: u32) -> Res<u32> {
        let s = &self.segs[(seg & 7) as usize];
        if ea < s.rd_lo || ea as u64 + (n as u64 - 1) > s.rd_hi as u64 {
            return Err(self.seg_fault(seg));
        }
        Ok(s.base.wrapping_add(ea))
    }

    /// The linear address of `[seg:ea]` for a write of `n` bytes.
    #[inline(always)]
    pub fn lin_write(&self, seg: u8, ea: u32, n: u32) -> Res<u32> {
        let s = &self.segs[(seg & 7) as usize];
        if ea < s.wr_lo || ea as u64 + (n as u64 - 1) > s.wr_hi as u64 {
            return Err(self.seg_fault(seg));
        }
        Ok(s.base.wrapping_add(ea))
    }

    // ---- fast paths ----
    //
    // The commonest memory instructions try these first: `None` (or `false`) means only
    // "not this way" (a segment check that fails, a TLB miss, an access that may cross a
    // page, a page where stores need watching), and the caller then runs its general
    // handler, which takes the slow path and raises the right fault. They take the width
    // as a type so that the result comes back in registers.

    /// The linear address of `[seg:ea]` if the segment allows reading `n` bytes there.
    #[inline(always)]
    fn lin_read_fast(&self, seg: u8, ea: u32, n: u32) -> Option<u32> {
        let s = &self.segs[(seg & 7) as usize];
        if ea < s.rd_lo || ea as u64 + (n as u64 - 1) > s.rd_hi as u64 {
            return None;
        }
        Some(s.base.wrapping_add(ea))
    }

    #[inline(always)]
    fn lin_write_fast(&self, seg: u8, ea: u32, n: u32) -> Option<u32> {
        let s = &self.segs[(seg & 7) as usize];
        if ea < s.wr_lo || ea as u64 + (n as u64 - 1) > s.wr_hi as u64 {
            return None;
        }
        Some(s.base.wrapping_add(ea))
    }

    /// Read a `W` at `[seg:ea]`, if it can be done the fast way.
    #[inline(always)]
    pub fn read_fast<W: Width>(&self, seg: u8, ea: u32) -> Option<u32> {
        let lin = self.lin_read_fast(seg, ea, W::N)?;
        let e = &self.tlb.entries[Tlb::index(lin, self.user)];
        if e.rtag != lin & (PAGE_MASK | (W::N - 1)) {
            return None;
        }
        let p = lin.wrapping_add(e.addend) as usize;
        self.mem.bytes.get(p..p + W::N as usize).map(le_value)
    }

    /// Write a `W` at `[seg:ea]` if it can be done the fast way; `false` if nothing was
    /// written.
    #[inline(always)]
    pub fn write_fast<W: Width>(&mut self, seg: u8, ea: u32, v: u32) -> bool {
        let Some(p) = self.rmw_fast::<W>(seg, ea) else { return false };
        self.phys_set::<W>(p, v);
        true
    }

    /// Where in RAM a `W` at `[seg:ea]` may be read and written the fast way (the page
    /// is writable, dirty, holds no code and is not watched).
    #[inline(always)]
    pub fn rmw_fast<W: Width>(&self, seg: u8, ea: u32) -> Option<usize> {
        let lin = self.lin_write_fast(seg, ea, W::N)?;
        let e = &self.tlb.entries[Tlb::index(lin, self.user)];
        if e.wtag != lin & (PAGE_MASK | (W::N - 1)) {
            return None;
        }
        let p = lin.wrapping_add(e.addend) as usize;
        (p + W::N as usize <= self.mem.bytes.len()).then_some(p)
    }

    /// Where in RAM the `n` bytes at `[seg:ea]` (all in one page) may be written the fast
    /// way, as [`State::rmw_fast`] for a wider span.
    #[inline(always)]
    pub fn span_write_fast(&self, seg: u8, ea: u32, n: u32) -> Option<usize> {
        let lin = self.lin_write_fast(seg, ea, n)?;
        if lin & !PAGE_MASK > 0x1000 - n {
            return None;
        }
        let e = &self.tlb.entries[Tlb::index(lin, self.user)];
        if e.wtag != lin & PAGE_MASK {
            return None;
        }
        let p = lin.wrapping_add(e.addend) as usize;
        (p + n as usize <= self.mem.bytes.len()).then_some(p)
    }

    /// Where in RAM the `n` bytes at `[seg:ea]` (all in one page) may be read the fast
    /// way.
    #[inline(always)]
    pub fn span_read_at(&self, seg: u8, ea: u32, n: u32) -> Option<usize> {
        let lin = self.lin_read_fast(seg, ea, n)?;
        if lin & !PAGE_MASK > 0x1000 - n {
            return None;
        }
        let e = &self.tlb.entries[Tlb::index(lin, self.user)];
        if e.rtag != lin & PAGE_MASK {
            return None;
        }
        let p = lin.wrapping_add(e.addend) as usize;
        (p + n as usize <= self.mem.bytes.len()).then_some(p)
    }

    /// The `N` bytes at `[seg:ea]` (all in one page), if they can be read the fast way.
    #[inline(always)]
    pub fn span_read_fast<const N: usize>(&self, seg: u8, ea: u32) -> Option<[u8; N]> {
        let lin = self.lin_read_fast(seg, ea, N as u32)?;
        if lin & !PAGE_MASK > 0x1000 - N as u32 {
            return None;
        }
        let e = &self.tlb.entries[Tlb::index(lin, self.user)];
        if e.rtag != lin & PAGE_MASK {
            return None;
        }
        let p = lin.wrapping_add(e.addend) as usize;
        self.mem.bytes.get(p..p + N).and_then(|b| b.try_into().ok())
    }

    /// Store `bytes` at RAM offset `p`, which [`State::span_write_fast`] returned.
    #[inline(always)]
    pub fn phys_write(&mut self, p: usize, bytes: &[u8]) {
        if let Some(b) = self.mem.bytes.get_mut(p..p + bytes.len()) {
            b.copy_from_slice(bytes);
        }
    }

    /// The `W` at RAM offset `p`, which [`State::rmw_fast`] returned.
    #[inline(always)]
    pub fn phys_get<W: Width>(&self, p: usize) -> u32 {
        self.mem.bytes.get(p..p + W::N as usize).map_or(0, le_value)
    }

    /// Store a `W` at RAM offset `p`, which [`State::rmw_fast`] returned.
    #[inline(always)]
    pub fn phys_set<W: Width>(&mut self, p: usize, v: u32) {
        if let Some(b) = self.mem.bytes.get_mut(p..p + W::N as usize) {
            b.copy_from_slice(&v.to_le_bytes()[..W::N as usize]);
        }
    }

    #[inline(always)]
    pub fn read<const N: u32>(&mut self, seg: u8, ea: u32) -> Res<u32> {
        let lin = self.lin_read(seg, ea, N)?;
        self.read_lin::<N>(lin)
    }

    #[inline(always)]
    pub fn write<const N: u32>(&mut self, seg: u8, ea: u32, v: u32) -> Res {
        let lin = self.lin_write(seg, ea, N)?;
        self.write_lin::<N>(lin, v)
    }

    /// Prepare a read-modify-write of `N` bytes at `[seg:ea]`: checks write permission
    /// (a read-modify-write faults as a write, as on hardware) and returns a handle to
    /// read and then store through.
    #[inline(always)]
    pub fn rmw<const N: u32>(&mut self, seg: u8, ea: u32) -> Res<Rmw> {
        let lin = self.lin_write(seg, ea, N)?;
        let e = &self.tlb.entries[Tlb::index(lin, self.user)];
        if e.wtag == lin & (PAGE_MASK | (N - 1)) {
            let p = lin.wrapping_add(e.addend);
            return Ok(Rmw { first: p, second: p, split: N });
        }
        let (first, second, split) = self.translate_write(lin, N)?;
        Ok(Rmw { first, second: second.unwrap_or(first), split })
    }

    #[inline(always)]
    pub fn rmw_read<const N: u32>(&self, r: Rmw) -> u32 {
        if r.split == N {
            let p = r.first as usize;
            if let Some(b) = self.mem.bytes.get(p..p + N as usize) {
                return le_value(b);
            }
        }
        let mut buf = [0u8; 4];
        for i in 0..N {
            let p = if i < r.split { r.first + i } else { r.second + (i - r.split) };
            buf[i as usize] = self.mem.bytes.get(p as usize).copied().unwrap_or(0);
        }
        u32::from_le_bytes(buf)
    }

    #[inline(always)]
    pub fn rmw_write<const N: u32>(&mut self, r: Rmw, v: u32) {
        let bytes = v.to_le_bytes();
        if r.split == N {
            let p = r.first as usize;
            if !self.mem.slow_store(p >> 12)
                && let Some(b) = self.mem.bytes.get_mut(p..p + N as usize)
            {
                b.copy_from_slice(&bytes[..N as usize]);
                return;
            }
            self.store_phys(r.first, &bytes[..N as usize]);
            return;
        }
        self.store_phys(r.first, &bytes[..r.split as usize]);
        self.store_phys(r.second, &bytes[r.split as usize..N as usize]);
    }

    // ---- the stack ----

    /// Push `N` bytes (2 or 4) on SS:ESP.
    #[inline(always)]
    pub fn push<const N: u32>(&mut self, v: u32) -> Res {
        let esp = self.regs[4];
        if self.stack32() {
            let new = esp.wrapping_sub(N);
            self.write::<N>(SegReg::Ss as u8, new, v)?;
            self.regs[4] = new;
        } else {
            let new = (esp as u16).wrapping_sub(N as u16) as u32;
            self.write::<N>(SegReg::Ss as u8, new, v)?;
            self.regs[4] = (esp & !0xFFFF) | new;
        }
        Ok(())
    }

    /// Read the value `N` bytes wide at `ESP + offset` without popping.
    #[inline(always)]
    pub fn stack_read<const N: u32>(&mut self, offset: u32) -> Res<u32> {
        let esp = self.regs[4];
        let addr = if self.stack32() {
            esp.wrapping_add(offset)
        } else {
            (esp as u16).wrapping_add(offset as u16) as u32
        };
        self.read::<N>(SegReg::Ss as u8, addr)
    }

    /// Add to ESP (or SP, on a 16-bit stack).
    #[inline(always)]
    pub fn adjust_sp(&mut self, delta: u32) {
        let esp = self.regs[4];
        self.regs[4] = if self.stack32() {
            esp.wrapping_add(delta)
        } else {
            (esp & !0xFFFF) | (esp as u16).wrapping_add(delta as u16) as u32
        };
    }

    /// Pop `N` bytes.
    #[inline(always)]
    pub fn pop<const N: u32>(&mut self) -> Res<u32> {
        let v = self.stack_read::<N>(0)?;
        self.adjust_sp(N);
        Ok(v)
    }

    // ---- time ----

    pub fn tsc(&self, retired_now: u64) -> u64 {
        if let Some((base, at)) = self.tsc_pin {
            return base.wrapping_add(retired_now.wrapping_sub(at));
        }
        self.tsc_unpinned(retired_now)
    }

    /// The TSC by `tsc_mode` alone.
    pub fn tsc_unpinned(&self, retired_now: u64) -> u64 {
        match self.tsc_mode {
            TscMode::Instructions => retired_now,
            TscMode::Realtime { khz } => {
                let ns = self.tsc_start.elapsed().as_nanos() as u64;
                ((ns as u128 * khz as u128) / 1_000_000) as u64
            }
        }
    }

    /// The faulting exit for an access that reached outside RAM.
    #[cold]
    pub fn bad_phys(addr: u32) -> Stop {
        Stop::fault(Exit::BadPhysical { addr })
    }
}

/// A translated read-modify-write target (see [`State::rmw`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rmw {
    first: u32,
    second: u32,
    /// Bytes in the first page (== size when the access does not cross a page).
    split: u32,
}

#[inline(always)]
fn le_value(b: &[u8]) -> u32 {
    match b.len() {
        1 => b[0] as u32,
        2 => u16::from_le_bytes([b[0], b[1]]) as u32,
        _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
    }
}

fn read_phys(mem: &PhysMem, phys: u32, buf: &mut [u8]) -> Res {
    mem.read(phys, buf).map_err(|_| State::bad_phys(phys))
}
