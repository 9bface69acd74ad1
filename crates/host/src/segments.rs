//! Segments: LHCALL_LOAD_GDT and LHCALL_LOAD_TLS.
//!
//! The GDT the CPU uses belongs to the Host; the Guest hands us its table and we copy it
//! in with the fix-ups lguest made:
//! - the Host's own entries (TSS, LGUEST_CS/DS, the double-fault TSS) are never replaced
//!   (a 2.6.23 Linux GDT has descriptors there, so they are skipped, not refused);
//! - a descriptor asking for ring 0 gets ring 1 (the Guest kernel's ring), and the
//!   accessed bit is set so the CPU never needs to write the table.
//!
//! That is all the 2.6.23 release did, and all a Linux Guest gets: its segments keep
//! their limits (i386 thread-local storage reads `%gs:-N`, wrapping around the top of the
//! address space), because the reserved top 4 MiB is kept from it by the page tables
//! (`page_tables.rs`). Guests of the seed revision (this project's kit) also get the
//! stricter rules of its first Host, which their conformance tests pin down:
//! - a segment may not reach the reserved top 4 MiB: an expand-up limit that would is cut
//!   back to end below it; a base inside it, or an expand-down segment reaching it, is
//!   Sudden Death, as is any present system descriptor (TSS, LDT, gate).
//!
//! A system descriptor a Linux Guest installs (its LDT entry) is kept but never usable:
//! the CPU refuses to load it into a segment register.
//!
//! Like lguest's Switcher, which reloaded every segment register on the way back into
//! the Guest, we reload the segment registers from the new table at once; one that no
//! longer names a usable descriptor kills the Guest.

use crate::addr::GuestPhys;
use crate::guest::{Guest, Res};
use crate::outcome::KillReason;
use abi::segments::{GDT_ENTRIES, GDT_ENTRY_TLS_ENTRIES, GDT_ENTRY_TLS_MIN, guest_may_load_gdt_entry};
use abi::{RESERVED_START, Revision};
use cpu::{Descriptor, SegReg, Vcpu, access, dflags};
use tracing::trace;

/// The Guest kernel's privilege level.
const GUEST_PL: u8 = 1;

impl Guest {
    /// LHCALL_LOAD_GDT: `num` entries at guest-physical `table`.
    pub(crate) fn load_guest_gdt(&mut self, table: GuestPhys, num: u32) -> Res {
        if num as usize > GDT_ENTRIES {
            return Err(
                KillReason::BadGdt(format!("too many GDT entries ({num}, at most {GDT_ENTRIES})")).into()
            );
        }
        let entries = self.read_descriptors("GDT", table, num)?;
        let mut fixed = [Descriptor(0); GDT_ENTRIES];
        for (i, d) in entries.iter().enumerate() {
            fixed[i] = self.fixup_descriptor(i, *d)?;
        }
        for (i, d) in fixed.iter().enumerate() {
            if guest_may_load_gdt_entry(i) {
                self.cpu.set_gdt_entry(i, *d);
            }
        }
        trace!(target: "lguest::hcall", "  loaded {num} GDT entries");
        self.reload_segments("LHCALL_LOAD_GDT")
    }

    /// LHCALL_LOAD_TLS: the three TLS entries at guest-physical `table`.
    pub(crate) fn guest_load_tls(&mut self, table: GuestPhys) -> Res {
        let entries = self.read_descriptors("TLS", table, GDT_ENTRY_TLS_ENTRIES as u32)?;
        for (i, d) in entries.iter().enumerate() {
            let n = GDT_ENTRY_TLS_MIN + i;
            let d = self.fixup_descriptor(n, *d)?;
            self.cpu.set_gdt_entry(n, d);
        }
        self.reload_segments("LHCALL_LOAD_TLS")
    }

    fn read_descriptors(&self, what: &'static str, table: GuestPhys, num: u32) -> Res<Vec<Descriptor>> {
        self.check_range(what, table, num * 8)?;
        (0..num)
            .map(|i| {
                let lo = self.read_u32(what, table.offset(i * 8))?;
                let hi = self.read_u32(what, table.offset(i * 8 + 4))?;
                Ok(Descriptor::from_words(lo, hi))
            })
            .collect()
    }

    /// Reload every segment register from the (new) GDT, as lguest's Switcher did on the
    /// way back into the Guest.
    fn reload_segments(&mut self, why: &'static str) -> Res {
        for s in SegReg::ALL {
            let sel = self.cpu.segment(s).selector;
            if self.cpu.load_segment(s, sel).is_err() {
                return Err(KillReason::BadGdt(format!(
                    "after {why}, {} (selector {sel:#x}) no longer names a usable segment",
                    s.name()
                ))
                .into());
            }
        }
        // The kernel code segment or the SET_STACK segment may have changed.
        self.refresh_direct_traps();
        Ok(())
    }
}

impl Guest {
    /// Fix up one descriptor the Guest wants in GDT entry `n`, by the rules of its
    /// revision (see the top of this file).
    fn fixup_descriptor(&self, n: usize, d: Descriptor) -> Res<Descriptor> {
        match self.revision {
            Revision::Release => Ok(fixup_release(n, d)),
            Revision::Seed => fixup_descriptor(n, d),
        }
    }
}

/// The 2.6.23 release's fix-ups: ring 1 for ring 0, the accessed bit set.
fn fixup_release(n: usize, d: Descriptor) -> Descriptor {
    if !guest_may_load_gdt_entry(n) {
        return d;
    }
    let mut access_byte = d.access();
    if d.dpl() == 0 {
        access_byte |= GUEST_PL << access::DPL_SHIFT;
    }
    if d.is_code_or_data() {
        access_byte |= access::A;
    }
    Descriptor::new(d.base(), d.raw_limit(), access_byte, d.flags())
}

/// Check and fix up one descriptor a seed-revision Guest wants in GDT entry `n`.
fn fixup_descriptor(n: usize, d: Descriptor) -> Res<Descriptor> {
    if !guest_may_load_gdt_entry(n) || !d.present() {
        // The Host's own entries are skipped; a not-present entry is harmless.
        return Ok(d);
    }
    let bad = |why: String| KillReason::BadGdt(format!("GDT entry {n} ({:#018x}): {why}", d.0));
    if !d.is_code_or_data() {
        return Err(bad("system descriptors (TSS, LDT, gates) cannot be installed".into()).into());
    }
    let mut access_byte = d.access() | access::A;
    if d.dpl() == 0 {
        access_byte |= GUEST_PL << access::DPL_SHIFT;
    }
    let base = d.base();
    if base >= RESERVED_START {
        return Err(bad(format!("base {base:#x} is inside the reserved top of memory")).into());
    }
    let expand_down = d.is_data() && d.access() & access::C_OR_E != 0;
    let d = Descriptor::new(base, d.raw_limit(), access_byte, d.flags());
    if expand_down {
        let top = if d.flags() & dflags::DB != 0 { u32::MAX } else { 0xFFFF };
        if base as u64 + top as u64 >= RESERVED_START as u64 {
            return Err(bad("an expand-down segment would reach the reserved top of memory".into()).into());
        }
        return Ok(d);
    }
    let last = base as u64 + d.limit() as u64;
    if last < RESERVED_START as u64 {
        return Ok(d);
    }
    // Cut the limit back so the segment ends just below the reserved region.
    let max_last = RESERVED_START - 1 - base;
    let (raw, flags) = if d.flags() & dflags::G != 0 {
        ((max_last + 1) / 4096 - 1, d.flags())
    } else if max_last <= 0xFFFFF {
        (max_last, d.flags())
    } else {
        ((max_last + 1) / 4096 - 1, d.flags() | dflags::G)
    };
    Ok(Descriptor::new(base, raw, access_byte, flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(access: u8) -> Descriptor {
        Descriptor::new(0, 0xFFFFF, access, dflags::G | dflags::DB)
    }

    #[test]
    fn ring_0_descriptors_become_ring_1_and_accessed() {
        let d = fixup_descriptor(12, flat(0x9A)).unwrap();
        assert_eq!(d.dpl(), 1);
        assert_eq!(d.access() & access::A, access::A);
    }

    #[test]
    fn ring_3_descriptors_keep_their_ring() {
        assert_eq!(fixup_descriptor(14, flat(0xFA)).unwrap().dpl(), 3);
    }

    #[test]
    fn flat_4g_segments_are_cut_back_below_the_reserved_region() {
        let d = fixup_descriptor(13, flat(0x92)).unwrap();
        assert_eq!(d.base() as u64 + d.limit() as u64, RESERVED_START as u64 - 1);
    }

    #[test]
    fn byte_granular_limits_that_reach_the_reserved_region_are_cut_back_too() {
        let d = Descriptor::new(0xFFB0_0000, 0xFFFFF, 0x92, dflags::DB);
        let d = fixup_descriptor(6, d).unwrap();
        assert_eq!(d.base() as u64 + d.limit() as u64, RESERVED_START as u64 - 1);
    }

    #[test]
    fn system_descriptors_and_reserved_bases_are_refused() {
        assert!(fixup_descriptor(17, Descriptor::new(0x1000, 0x67, 0x89, 0)).is_err());
        assert!(fixup_descriptor(6, Descriptor::new(0xFFC0_1000, 0xFFF, 0x92, 0)).is_err());
        assert!(fixup_descriptor(6, Descriptor::new(0, 0xFFF, 0x96, dflags::DB)).is_err());
    }

    #[test]
    fn the_release_only_moves_ring_0_to_ring_1_and_sets_accessed() {
        let d = fixup_release(13, flat(0x92));
        assert_eq!(d.dpl(), 1);
        assert_eq!(d.limit(), 0xFFFF_FFFF, "limits are not cut");
        assert_eq!(d.access() & access::A, access::A);
        let tls = Descriptor::new(0xFFFF_F000, 0xFFFFF, 0xF2, dflags::G | dflags::DB);
        assert_eq!(fixup_release(6, tls).base(), 0xFFFF_F000);
        let ldt = Descriptor::new(0x1000, 0x67, 0x82, 0);
        assert_eq!(fixup_release(17, ldt).access() & access::A, 0, "system descriptors keep their type");
    }

    #[test]
    fn the_hosts_entries_are_left_alone() {
        let tss = Descriptor::new(0x1000, 0x67, 0x89, 0);
        assert_eq!(fixup_descriptor(16, tss).unwrap(), tss);
    }
}
