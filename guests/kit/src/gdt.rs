//! Segments: the Guest's GDT, which the Host keeps (`LHCALL_LOAD_GDT`, `LHCALL_LOAD_TLS`).
//!
//! A Guest cannot `lgdt`. It builds a table in its own memory and asks the Host to copy
//! it, which fixes it up the way lguest did: a descriptor asking for ring 0 gets ring 1
//! (the Guest kernel's ring), the accessed bit is set, limits that reach the reserved top
//! of memory ([`abi::RESERVED_START`]) are cut back, and the Host's own entries (10, 11,
//! 16, 31) are left alone. System descriptors (TSS, LDT, gates) and bases in the reserved
//! region are Sudden Death. The entry numbers are Linux i386's ([`abi::segments`]), and
//! the Host starts the Guest with [`default_gdt`] already loaded.
//!
//! The three thread-local-storage entries (6-8) change on every task switch in Linux, so
//! they have their own, cheaper call: [`load_tls`].

use crate::hcall::hcall;
use crate::virt_to_phys;
use abi::Hcall;
use abi::segments::{
    GDT_ENTRIES, GDT_ENTRY_KERNEL_CS, GDT_ENTRY_KERNEL_DS, GDT_ENTRY_TLS_ENTRIES, GDT_ENTRY_USER_CS,
    GDT_ENTRY_USER_DS,
};

/// One 8-byte segment descriptor, as the CPU reads it.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Descriptor(pub u64);

/// Access-byte values for the usual descriptors.
pub mod access {
    /// Present.
    pub const P: u8 = 0x80;
    /// Code or data (not a system descriptor).
    pub const S: u8 = 0x10;
    /// Code (executable); clear for data.
    pub const CODE: u8 = 0x08;
    /// Readable (code) / writable (data).
    pub const RW: u8 = 0x02;
    /// Where the DPL sits.
    pub const DPL_SHIFT: u8 = 5;
    /// A present, readable ring-0 code segment (the Host makes it ring 1).
    pub const KERNEL_CODE: u8 = P | S | CODE | RW;
    /// A present, writable ring-0 data segment (the Host makes it ring 1).
    pub const KERNEL_DATA: u8 = P | S | RW;
    /// A present, readable ring-3 code segment.
    pub const USER_CODE: u8 = KERNEL_CODE | (3 << DPL_SHIFT);
    /// A present, writable ring-3 data segment.
    pub const USER_DATA: u8 = KERNEL_DATA | (3 << DPL_SHIFT);
}

/// Descriptor flag nibble values.
pub mod flags {
    /// Limit counted in 4 KiB pages.
    pub const G: u8 = 0x8;
    /// 32-bit segment.
    pub const DB: u8 = 0x4;
}

impl Descriptor {
    /// The not-present descriptor.
    pub const NULL: Descriptor = Descriptor(0);

    /// A descriptor from its parts: `limit` is 20 bits (in pages if `flags` has G).
    pub const fn new(base: u32, limit: u32, access: u8, flags: u8) -> Descriptor {
        let lo = ((base & 0xFFFF) << 16) | (limit & 0xFFFF);
        let hi = (base & 0xFF00_0000)
            | ((flags as u32 & 0xF) << 20)
            | (limit & 0xF_0000)
            | ((access as u32) << 8)
            | ((base >> 16) & 0xFF);
        Descriptor(((hi as u64) << 32) | lo as u64)
    }

    /// A 32-bit segment over all 4 GiB (the Host cuts it back below the reserved top).
    pub const fn flat(access: u8) -> Descriptor {
        Descriptor::new(0, 0xF_FFFF, access, flags::G | flags::DB)
    }

    /// The segment's base address.
    pub const fn base(self) -> u32 {
        let (lo, hi) = (self.0 as u32, (self.0 >> 32) as u32);
        (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF00_0000)
    }
}

/// The GDT a kernel would load: Linux's layout, flat kernel (ring 0, made ring 1 by the
/// Host) and user (ring 3) code and data segments, everything else empty.
pub fn default_gdt() -> [Descriptor; GDT_ENTRIES] {
    let mut gdt = [Descriptor::NULL; GDT_ENTRIES];
    gdt[GDT_ENTRY_KERNEL_CS] = Descriptor::flat(access::KERNEL_CODE);
    gdt[GDT_ENTRY_KERNEL_DS] = Descriptor::flat(access::KERNEL_DATA);
    gdt[GDT_ENTRY_USER_CS] = Descriptor::flat(access::USER_CODE);
    gdt[GDT_ENTRY_USER_DS] = Descriptor::flat(access::USER_DATA);
    gdt
}

/// `LHCALL_LOAD_GDT`: replace the GDT with `entries` (at most [`GDT_ENTRIES`]). The Host
/// copies the table, so it may live on the stack. Segment registers are reloaded from the
/// new table: the selectors in use must still name usable segments.
pub fn load_gdt(entries: &[Descriptor]) {
    // SAFETY: the Host only reads the table; it is in the kernel's linear map, as statics
    // and the kit's stack are.
    unsafe { hcall(Hcall::LoadGdt, virt_to_phys(entries.as_ptr()), entries.len() as u32, 0) };
}

/// `LHCALL_LOAD_TLS`: replace GDT entries 6, 7 and 8.
pub fn load_tls(entries: &[Descriptor; GDT_ENTRY_TLS_ENTRIES]) {
    // SAFETY: as in load_gdt.
    unsafe { hcall(Hcall::LoadTls, virt_to_phys(entries.as_ptr()), 0, 0) };
}

/// Run `lar` or `lsl` (the instruction named by `$insn`) on `$sel`: the value if ZF says
/// the segment is visible at this privilege.
macro_rules! segment_query {
    ($insn:literal, $sel:expr) => {{
        let (v, ok): (u32, u8);
        // SAFETY: lar and lsl only read the GDT the CPU holds.
        unsafe {
            core::arch::asm!(
                "xorl {v:e}, {v:e}",
                concat!($insn, " {s:x}, {v:e}"),
                "setz {ok}",
                s = in(reg) $sel,
                v = out(reg) v,
                ok = out(reg_byte) ok,
                options(att_syntax, nomem, nostack),
            )
        };
        (ok != 0).then_some(v)
    }};
}

/// `lar`: the access rights of the segment `sel` names (descriptor bits 8-23, so the DPL
/// is bits 13-14), or `None` if it is not visible at this privilege. `lar` and [`lsl`]
/// work at any ring, which makes them the way to read back what the Host installed.
pub fn lar(sel: u32) -> Option<u32> {
    segment_query!("lar", sel)
}

/// `lsl`: the byte limit of the segment `sel` names, or `None` if it is not visible.
pub fn lsl(sel: u32) -> Option<u32> {
    segment_query!("lsl", sel)
}
