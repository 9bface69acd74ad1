//! Page tables: the Guest's, which live in its RAM, and the Host's *shadow* copies, which
//! are what the CPU actually walks.
//!
//! The Guest builds ordinary two-level i386 page tables and tells us about them:
//! LHCALL_NEW_PGTABLE when it switches page directory, LHCALL_SET_PTE and LHCALL_SET_PMD
//! when it changes an entry, LHCALL_FLUSH_TLB when it changed many. We keep shadow page
//! directories (up to [`PGDIRS`], one per Guest directory recently used) in page-table
//! memory the Guest cannot address (`Vcpu::set_page_table_memory`), and fill them lazily:
//! a shadow entry starts empty, the CPU page-faults on it, and [`Guest::demand_page`]
//! looks at the Guest's own tables. If they allow the access, we copy the entry (checked:
//! its frame must be guest memory) and the Guest never knows; if not, the fault is the
//! Guest's, and it is reflected to its handler. So the Host's view of the Guest's address
//! space changes only when the Guest announces a change, or faults on an address we have
//! not looked at yet: exactly the contract of 2.6.23.
//!
//! As in 2.6.23, a shadow PTE is read-only until the Guest PTE's dirty bit is set, so the
//! first write faults into the Host, which sets the Guest's dirty bit; the accessed bit
//! is set when we fill an entry. Mappings at or above the reserved top 4 MiB, and entries
//! naming memory outside the Guest, are Sudden Death.

use crate::addr::GuestPhys;
use crate::guest::{Guest, Res};
use crate::outcome::KillReason;
use abi::{PAGE_OFFSET, PAGE_SIZE, RESERVED_START, Revision};
use cpu::{PhysMem, Vcpu, pf, pte};
use tracing::trace;

/// Shadow page directories kept at once.
pub const PGDIRS: usize = 8;
/// Index of the first page-directory entry covering the reserved top 4 MiB.
const RESERVED_PGD_INDEX: u32 = RESERVED_START >> 22;
/// Page-table memory: the directories first, then room for every page table they can have.
const ARENA_PAGES: u32 = PGDIRS as u32 * (1 + RESERVED_PGD_INDEX);
/// PDE flags a Guest may use (anything else, notably 4 MiB pages, is refused).
const PGD_ALLOWED: u32 = pte::P | pte::RW | pte::US | pte::A | pte::D | pte::PWT | pte::PCD | pte::G;
/// PTE flags copied into the shadow (the global bit means nothing to us).
const PTE_COPIED: u32 = pte::P | pte::RW | pte::US | pte::A | pte::D | pte::PWT | pte::PCD;

/// The Host's shadow page tables.
pub(crate) struct Shadow {
    /// Which Guest page directory each shadow directory mirrors.
    pgdirs: [Option<GuestPhys>; PGDIRS],
    /// The one in CR3.
    current: usize,
    /// Which directory to reuse next when all are taken.
    victim: usize,
    /// Free page-table pages in page-table memory.
    free: Vec<u32>,
}

impl Shadow {
    /// Bookkeeping for an empty page-table memory.
    pub fn new() -> Shadow {
        let free = (PGDIRS as u32..ARENA_PAGES).rev().map(|p| p * PAGE_SIZE).collect();
        Shadow { pgdirs: [None; PGDIRS], current: 0, victim: 0, free }
    }

    /// The page-table memory itself (zeroed on demand by the allocator, so its untouched
    /// pages cost nothing).
    fn memory() -> PhysMem {
        PhysMem::new(ARENA_PAGES * PAGE_SIZE)
    }
}

/// Address of shadow page directory `i` in page-table memory.
fn spgd_base(i: usize) -> u32 {
    i as u32 * PAGE_SIZE
}

/// What became of a page fault.
pub(crate) enum Demand {
    /// We mapped it: the Guest just runs on.
    Fixed,
    /// The Guest's tables do not allow it: reflect #PF with this error code.
    GuestFault(u32),
}

impl Guest {
    fn pt(&mut self) -> Option<&mut PhysMem> {
        self.cpu.page_table_memory_mut()
    }

    fn spt_read(&mut self, addr: u32) -> u32 {
        self.pt().and_then(|m| m.read_u32(addr).ok()).unwrap_or(0)
    }

    fn spt_write(&mut self, addr: u32, v: u32) {
        if let Some(m) = self.pt() {
            let _ = m.write_u32(addr, v);
        }
    }

    /// Start shadowing the boot page directory and hand the shadow memory to the CPU.
    pub(crate) fn init_shadow(&mut self, boot_pgdir: GuestPhys) {
        self.shadow = Shadow::new();
        self.cpu.set_page_table_memory(Some(Shadow::memory()));
        self.shadow.pgdirs[0] = Some(boot_pgdir);
        self.shadow.current = 0;
        self.cpu.set_cr3(spgd_base(0));
    }

    /// The Guest page directory currently in use.
    fn guest_cr3(&self) -> GuestPhys {
        self.shadow.pgdirs[self.shadow.current].unwrap_or(GuestPhys(0))
    }

    fn bad_pt(&self, why: String) -> crate::guest::End {
        KillReason::BadPageTable(why).into()
    }

    /// A frame the Guest's tables name must be guest memory.
    fn check_frame(&self, what: &str, entry: u32, vaddr: u32) -> Res {
        let frame = entry & pte::FRAME;
        if !self.mem().contains(frame, PAGE_SIZE) {
            return Err(self.bad_pt(format!(
                "{what} {entry:#x} for virtual {vaddr:#x} names guest-physical {frame:#x}, outside guest memory"
            )));
        }
        Ok(())
    }

    /// Check a Guest PDE and copy it into a shadow PDE (allocating a shadow page table).
    fn shadow_pgd(&mut self, i: usize, vaddr: u32, gpgd: u32) -> Res<u32> {
        let spgd_addr = spgd_base(i) + (vaddr >> 22) * 4;
        let spgd = self.spt_read(spgd_addr);
        if spgd & pte::P != 0 {
            return Ok(spgd);
        }
        if gpgd & !(pte::FRAME | PGD_ALLOWED) != 0 {
            return Err(self.bad_pt(format!(
                "page directory entry {gpgd:#x} for virtual {vaddr:#x} uses unsupported flags (4 MiB pages?)"
            )));
        }
        self.check_frame("page directory entry", gpgd, vaddr)?;
        let Some(page) = self.shadow.free.pop() else {
            return Err(self.bad_pt("out of shadow page tables".into()));
        };
        let spgd = page | (gpgd & (pte::P | pte::RW | pte::US | pte::A));
        self.spt_write(spgd_addr, spgd);
        Ok(spgd)
    }

    /// The shadow PTE for a checked Guest PTE: read-only until the Guest's dirty bit is
    /// set, so the first write comes to us.
    fn gpte_to_spte(gpte: u32) -> u32 {
        let flags = gpte & PTE_COPIED;
        let flags = if gpte & pte::D == 0 { flags & !pte::RW } else { flags };
        (gpte & pte::FRAME) | flags
    }

    /// A page fault at `vaddr` with hardware error code `code` (W and U bits): map it from
    /// the Guest's tables if they allow it (lguest's `demand_page`).
    pub(crate) fn demand_page(&mut self, vaddr: u32, code: u32) -> Res<Demand> {
        let write = code & pf::W != 0;
        let user = code & pf::U != 0;
        let access = code & (pf::W | pf::U);
        let gpgd_addr = self.guest_cr3().offset((vaddr >> 22) * 4);
        let gpgd = self.read_u32("page directory", gpgd_addr)?;
        if gpgd & pte::P == 0 {
            return Ok(Demand::GuestFault(access));
        }
        let gpte_addr = GuestPhys((gpgd & pte::FRAME) + ((vaddr >> 12) & 0x3FF) * 4);
        self.check_frame("page directory entry", gpgd, vaddr)?;
        let gpte = self.read_u32("page table", gpte_addr)?;
        if gpte & pte::P == 0 {
            return Ok(Demand::GuestFault(access));
        }
        let both = gpgd & gpte;
        let wp = self.cpu.cr0() & cpu::cr::CR0_WP != 0;
        if (user && both & pte::US == 0) || (write && (user || wp) && both & pte::RW == 0) {
            return Ok(Demand::GuestFault(access | pf::P));
        }
        if vaddr >= RESERVED_START {
            return Err(self.bad_pt(format!("access to the reserved top of memory at {vaddr:#x}")));
        }
        self.check_frame("page table entry", gpte, vaddr)?;
        let i = self.shadow.current;
        let spgd = self.shadow_pgd(i, vaddr, gpgd)?;
        let gpte = gpte | pte::A | if write { pte::D } else { 0 };
        self.write_u32("page table", gpte_addr, gpte)?;
        let spte_addr = (spgd & pte::FRAME) + ((vaddr >> 12) & 0x3FF) * 4;
        self.spt_write(spte_addr, Self::gpte_to_spte(gpte));
        self.cpu.invlpg(vaddr);
        Ok(Demand::Fixed)
    }

    /// Release shadow page table `index` of shadow directory `i`.
    fn release_pgd(&mut self, i: usize, index: u32) {
        let addr = spgd_base(i) + index * 4;
        let spgd = self.spt_read(addr);
        if spgd & pte::P == 0 {
            return;
        }
        let page = spgd & pte::FRAME;
        if let Some(m) = self.pt() {
            let _ = m.fill(page, PAGE_SIZE, 0);
        }
        self.shadow.free.push(page);
        self.spt_write(addr, 0);
    }

    /// Drop the user part (below PAGE_OFFSET) of shadow directory `i`.
    fn flush_user_mappings(&mut self, i: usize) {
        for index in 0..(PAGE_OFFSET >> 22) {
            self.release_pgd(i, index);
        }
    }

    /// Drop all of shadow directory `i`.
    fn clear_pgdir(&mut self, i: usize) {
        for index in 0..RESERVED_PGD_INDEX {
            self.release_pgd(i, index);
        }
    }

    /// LHCALL_NEW_PGTABLE: switch to the Guest page directory at `pgtable`.
    pub(crate) fn guest_new_pagetable(&mut self, pgtable: GuestPhys) -> Res {
        if !pgtable.0.is_multiple_of(PAGE_SIZE) || !self.mem().contains(pgtable.0, PAGE_SIZE) {
            return Err(self.bad_pt(format!("page directory {pgtable} is not a page of guest memory")));
        }
        let i = match self.shadow.pgdirs.iter().position(|p| *p == Some(pgtable)) {
            Some(i) => i,
            None => {
                let i = match self.shadow.pgdirs.iter().position(|p| p.is_none()) {
                    Some(free) => free,
                    None => {
                        // Reuse one, but never the one in use. Only its user half goes:
                        // kernel mappings are the same in every address space (SET_PTE
                        // for a kernel address changes them in all shadows), so they stay
                        // valid, and the new address space need not fault them all in
                        // again, as in 2.6.23's new_pgdir.
                        let mut v = self.shadow.victim;
                        if v == self.shadow.current {
                            v = (v + 1) % PGDIRS;
                        }
                        self.shadow.victim = (v + 1) % PGDIRS;
                        self.flush_user_mappings(v);
                        v
                    }
                };
                self.shadow.pgdirs[i] = Some(pgtable);
                i
            }
        };
        self.shadow.current = i;
        self.cpu.set_cr3(spgd_base(i));
        trace!(target: "lguest::hcall", "  page directory {pgtable} in shadow {i}");
        self.pin_stack_pages()
    }

    /// LHCALL_SET_PTE: the Guest changed the entry for `vaddr` in directory `cr3`.
    pub(crate) fn guest_set_pte(&mut self, cr3: GuestPhys, vaddr: u32, gpte: u32) -> Res {
        if vaddr >= RESERVED_START {
            return Err(self.bad_pt(format!("mapping {vaddr:#x}, in the reserved top of memory")));
        }
        if gpte & pte::P != 0 {
            self.check_frame("page table entry", gpte, vaddr)?;
        }
        // Kernel mappings are the same in every address space: change them everywhere.
        for i in 0..PGDIRS {
            let applies = match self.shadow.pgdirs[i] {
                Some(p) => vaddr >= PAGE_OFFSET || p == cr3,
                None => false,
            };
            if applies {
                self.do_set_pte(i, vaddr, gpte);
            }
        }
        self.cpu.invlpg(vaddr);
        Ok(())
    }

    fn do_set_pte(&mut self, i: usize, vaddr: u32, gpte: u32) {
        let spgd = self.spt_read(spgd_base(i) + (vaddr >> 22) * 4);
        if spgd & pte::P == 0 {
            return; // nothing shadowed there yet: a fault will fill it
        }
        let spte_addr = (spgd & pte::FRAME) + ((vaddr >> 12) & 0x3FF) * 4;
        // As in 2.6.23: take the entry now only if the Guest already used it (A or D),
        // otherwise let the first access fault it in.
        let spte =
            if gpte & pte::P != 0 && gpte & (pte::A | pte::D) != 0 { Self::gpte_to_spte(gpte) } else { 0 };
        self.spt_write(spte_addr, spte);
    }

    /// LHCALL_SET_PMD: the Guest changed entry `index` of directory `cr3`.
    pub(crate) fn guest_set_pmd(&mut self, cr3: GuestPhys, index: u32) -> Res {
        if index >= RESERVED_PGD_INDEX && self.revision == Revision::Release {
            // A Linux Guest announces its entries for the top of memory while it builds
            // its page tables; the 2.6.23 Host ignored those (the fixmap is moved below
            // the reserved region, so nothing is ever mapped there).
            trace!(target: "lguest::hcall", "  ignoring page directory entry {index} (reserved top of memory)");
            return Ok(());
        }
        if index >= RESERVED_PGD_INDEX {
            return Err(
                self.bad_pt(format!("page directory entry {index} covers the reserved top of memory"))
            );
        }
        if let Some(i) = self.shadow.pgdirs.iter().position(|p| *p == Some(cr3)) {
            self.release_pgd(i, index);
            self.cpu.flush_tlb();
        }
        Ok(())
    }

    /// LHCALL_FLUSH_TLB: forget the user mappings of the current directory, or with
    /// `all`, every shadow mapping of every directory.
    pub(crate) fn guest_flush_tlb(&mut self, all: bool) -> Res {
        if all {
            for i in 0..PGDIRS {
                self.clear_pgdir(i);
            }
        } else {
            let i = self.shadow.current;
            self.flush_user_mappings(i);
        }
        self.cpu.flush_tlb();
        self.pin_stack_pages()
    }
}
