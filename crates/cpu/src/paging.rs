//! Paging: the two-level i386 page walk, 4 MiB pages, and the TLB.
//!
//! The TLB is software's answer to "a page walk per access is too slow": a direct-mapped
//! table per privilege class (supervisor for CPL 0-2, user for CPL 3), each entry holding
//! the linear page it translates and the physical frame, with separate tags for reads and
//! for writes. A write tag is only filled when the page is writable for that class, its
//! dirty bit is already set, and it holds no decoded code: so every store that needs the
//! page walker's attention (setting D) or the code cache's (self-modifying code) misses the
//! fast path and lands in [`State::translate`].
//!
//! Like a real TLB, ours is not coherent with the page tables: a changed PTE is seen only
//! after the Host or the Guest invalidates (`invlpg`, a CR3 write, [`crate::Cpu::flush_tlb`]).
//!
//! The page tables themselves normally live in guest RAM, as on hardware. A Host that
//! keeps *shadow* page tables (as lguest does) can instead give the CPU a separate
//! page-table memory: CR3 and every PDE then point into that memory, while the frames the
//! PTEs name are still guest RAM. The Guest cannot address the shadow tables at all.

use crate::exit::{Exit, Stop, StopKind, fault_code};
use crate::mem::{PAGE_MASK, PAGE_SIZE};
use crate::regs::{cr, pf, vector};
use crate::state::State;

/// Entries per privilege class.
pub(crate) const TLB_ENTRIES: usize = 1024;
/// A tag no address masked as the fast paths mask it (page and low two bits) can equal.
pub(crate) const TLB_INVALID: u32 = 0xFFC;

/// PTE/PDE bits.
pub mod pte {
    pub const P: u32 = 1 << 0;
    pub const RW: u32 = 1 << 1;
    pub const US: u32 = 1 << 2;
    pub const PWT: u32 = 1 << 3;
    pub const PCD: u32 = 1 << 4;
    pub const A: u32 = 1 << 5;
    pub const D: u32 = 1 << 6;
    /// In a PDE: this entry maps a 4 MiB page (with CR4.PSE).
    pub const PS: u32 = 1 << 7;
    pub const G: u32 = 1 << 8;
    pub const FRAME: u32 = 0xFFFF_F000;
    pub const FRAME_4M: u32 = 0xFFC0_0000;
}

/// One translation. The fast paths compare a tag with the accessed address masked to its
/// page *and* its natural alignment (`lin & (PAGE_MASK | (N - 1))`), so one compare also
/// rejects an access that might cross into the next page (and, less usefully, any
/// misaligned one, which the slow path then handles).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TlbEntry {
    pub rtag: u32,
    pub wtag: u32,
    /// The physical page.
    pub phys: u32,
    /// `phys - linear page` (wrapping): linear address + addend = physical address.
    pub addend: u32,
}

const EMPTY: TlbEntry = TlbEntry { rtag: TLB_INVALID, wtag: TLB_INVALID, phys: 0, addend: 0 };

#[derive(Clone)]
pub(crate) struct Tlb {
    /// `[supervisor entries..., user entries...]`; a fixed-size array, so that
    /// [`Tlb::index`] needs no bounds check.
    pub entries: Box<[TlbEntry; 2 * TLB_ENTRIES]>,
    /// Bumped on every invalidation that may concern cached blocks, so that they know to
    /// re-check their translation.
    pub generation: u64,
    /// A filter of the linear pages cached blocks were decoded from (a bit per hash of
    /// the page number; set when a block is validated, cleared by `flush_all`): `invlpg`
    /// of a page that holds no cached code leaves the blocks alone. (Updating a data page's
    /// mapping is what page faults and copy-on-write do all the time.)
    pub code_pages: [u64; CODE_FILTER_WORDS],
}

/// Words of [`Tlb::code_pages`].
const CODE_FILTER_WORDS: usize = 64;

impl Tlb {
    pub fn new() -> Tlb {
        Tlb { entries: Box::new([EMPTY; 2 * TLB_ENTRIES]), generation: 0, code_pages: [0; CODE_FILTER_WORDS] }
    }

    /// The filter bit of the linear page holding `lin`.
    #[inline(always)]
    fn code_bit(lin: u32) -> (usize, u64) {
        let page = lin >> 12;
        let h = (page ^ (page >> 12)) as usize & (CODE_FILTER_WORDS * 64 - 1);
        (h / 64, 1 << (h % 64))
    }

    /// Note that a block decoded from the page holding `lin` is valid from now on.
    #[inline(always)]
    pub fn note_code_page(&mut self, lin: u32) {
        let (w, b) = Tlb::code_bit(lin);
        self.code_pages[w] |= b;
    }

    #[inline(always)]
    pub fn index(lin: u32, user: bool) -> usize {
        (((lin >> 12) as usize & (TLB_ENTRIES - 1)) | (user as usize * TLB_ENTRIES)) & (2 * TLB_ENTRIES - 1)
    }

    pub fn flush_all(&mut self) {
        self.entries.fill(EMPTY);
        self.code_pages = [0; CODE_FILTER_WORDS];
        self.generation += 1;
    }

    pub fn flush_page(&mut self, lin: u32) {
        let page = lin & PAGE_MASK;
        for user in [false, true] {
            let e = &mut self.entries[Tlb::index(lin, user)];
            if e.rtag == page || e.wtag == page {
                *e = EMPTY;
            }
        }
        let (w, b) = Tlb::code_bit(lin);
        if self.code_pages[w] & b != 0 {
            self.generation += 1;
        }
    }

    /// Stop fast-path writes to physical page `phys` (it now holds decoded code, or is
    /// watched).
    pub fn drop_write_tags_for(&mut self, phys_page: u32) {
        for e in self.entries.iter_mut() {
            if e.phys == phys_page {
                e.wtag = TLB_INVALID;
            }
        }
    }
}

/// The result of a successful walk.
pub(crate) struct Walk {
    pub phys_page: u32,
    /// May this privilege class write the page?
    pub writable: bool,
    /// Is the dirty bit set (after this access)?
    pub dirty: bool,
}

impl State {
    fn paging(&self) -> bool {
        self.cr0 & cr::CR0_PG != 0
    }

    /// Read a paging-structure entry: from guest RAM, or from the Host's page-table
    /// memory when it has given us one (see [`crate::Cpu::set_page_table_memory`]).
    fn read_pt_entry(&self, addr: u32) -> Result<u32, Stop> {
        let mem = self.pt_mem.as_ref().unwrap_or(&self.mem);
        mem.read_u32(addr).map_err(|_| Stop::fault(Exit::BadPhysical { addr }))
    }

    fn write_pt_entry(&mut self, addr: u32, v: u32) {
        // The address was just read successfully, so it is inside that memory.
        match self.pt_mem.as_mut() {
            Some(pt) => {
                let _ = pt.write_u32(addr, v);
            }
            None => self.store_phys(addr, &v.to_le_bytes()),
        }
    }

    /// Walk the page tables for `lin`. Sets accessed (and, for writes, dirty) bits.
    pub(crate) fn walk(&mut self, lin: u32, write: bool, user: bool) -> Result<Walk, Stop> {
        if !self.paging() {
            return Ok(Walk { phys_page: lin & PAGE_MASK, writable: true, dirty: true });
        }
        let err_base = if write { pf::W } else { 0 } | if user { pf::U } else { 0 };
        let page_fault =
            |_: &mut State, present: bool| fault_code(vector::PF, err_base | if present { pf::P } else { 0 });
        let pde_addr = (self.cr3 & PAGE_MASK) | ((lin >> 22) << 2);
        let pde = self.read_pt_entry(pde_addr)?;
        if pde & pte::P == 0 {
            return Err(page_fault(self, false));
        }
        let wp = self.cr0 & cr::CR0_WP != 0;
        let allowed = |bits: u32| -> bool {
            if user && bits & pte::US == 0 {
                return false;
            }
            if write && (user || wp) && bits & pte::RW == 0 {
                return false;
            }
            true
        };
        let may_write =
            |bits: u32| -> bool { (!user || bits & pte::US != 0) && (bits & pte::RW != 0 || (!user && !wp)) };
        if pde & pte::PS != 0 && self.cr4 & cr::CR4_PSE != 0 {
            if !allowed(pde) {
                return Err(page_fault(self, true));
            }
            let new = pde | pte::A | if write { pte::D } else { 0 };
            if new != pde {
                self.write_pt_entry(pde_addr, new);
            }
            return Ok(Walk {
                phys_page: (pde & pte::FRAME_4M) | (lin & 0x003F_F000),
                writable: may_write(pde),
                dirty: new & pte::D != 0,
            });
        }
        let pte_addr = (pde & pte::FRAME) | ((lin >> 10) & 0xFFC);
        let pte = self.read_pt_entry(pte_addr)?;
        if pte & pte::P == 0 {
            return Err(page_fault(self, false));
        }
        let combined = pde & pte;
        if !allowed(combined) {
            return Err(page_fault(self, true));
        }
        if pde & pte::A == 0 {
            self.write_pt_entry(pde_addr, pde | pte::A);
        }
        let new = pte | pte::A | if write { pte::D } else { 0 };
        if new != pte {
            self.write_pt_entry(pte_addr, new);
        }
        Ok(Walk { phys_page: pte & pte::FRAME, writable: may_write(combined), dirty: new & pte::D != 0 })
    }

    /// Write `bytes` (at most a page) at linear address `lin` as the supervisor would
    /// (the privilege a trap frame is pushed with), through the TLB and the page tables.
    /// Nothing is written unless every page translates; the error is the linear address
    /// that did not, and what the access raised there (CR2 is left alone).
    pub(crate) fn write_lin_supervisor(&mut self, lin: u32, bytes: &[u8]) -> Result<(), (u32, Stop)> {
        let n = bytes.len() as u32;
        let first = n.min(PAGE_SIZE - (lin & !PAGE_MASK));
        // The upper page first: a stack is pushed from the top down.
        let p2 = if first < n {
            let lin2 = lin.wrapping_add(first);
            Some(self.translate_as(lin2, true, false).map_err(|e| (lin2, e))?)
        } else {
            None
        };
        let p1 = self.translate_as(lin, true, false).map_err(|e| (lin, e))?;
        self.store_phys(p1, &bytes[..first as usize]);
        if let Some(p2) = p2 {
            self.store_phys(p2, &bytes[first as usize..]);
        }
        Ok(())
    }

    /// Translate linear `lin` for an access at the current privilege, filling the TLB.
    /// Returns the physical address. This is the slow path behind every fast TLB lookup.
    pub(crate) fn translate(&mut self, lin: u32, write: bool) -> Result<u32, Stop> {
        self.translate_as(lin, write, self.user).inspect_err(|e| {
            if let StopKind::Fault(Exit::Exception(x)) = e.kind()
                && x.vector == vector::PF
            {
                self.cr2 = lin;
            }
        })
    }

    /// [`State::translate`] for privilege class `user` rather than the current one, and
    /// without setting CR2 on a page fault.
    pub(crate) fn translate_as(&mut self, lin: u32, write: bool, user: bool) -> Result<u32, Stop> {
        let idx = Tlb::index(lin, user);
        let page = lin & PAGE_MASK;
        let e = self.tlb.entries[idx];
        if (!write && e.rtag == page) || (write && e.wtag == page) {
            return Ok(e.phys | (lin & !PAGE_MASK));
        }
        let w = self.walk(lin, write, user)?;
        let phys = w.phys_page | (lin & !PAGE_MASK);
        if w.phys_page as u64 + PAGE_SIZE as u64 > self.mem.size() as u64 {
            return Err(Stop::fault(Exit::BadPhysical { addr: phys }));
        }
        let slow = self.mem.slow_store((w.phys_page >> 12) as usize);
        let wtag = if w.writable && w.dirty && !slow { page } else { TLB_INVALID };
        // Replacing another page's entry needs no invalidation of cached blocks: like a
        // hardware TLB, ours may keep using a translation until software invalidates it.
        self.tlb.entries[idx] =
            TlbEntry { rtag: page, wtag, phys: w.phys_page, addend: w.phys_page.wrapping_sub(page) };
        Ok(phys)
    }
}
