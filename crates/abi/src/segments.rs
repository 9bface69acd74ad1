//! Segment selectors of the Guest's GDT.
//!
//! The GDT itself belongs to the Host. Its layout follows Linux i386 of 2.6.23, which is
//! what a 2.6.23 lguest Guest loaded with `LHCALL_LOAD_GDT`: the Guest kernel's segments are
//! entries 12 and 13, used with RPL 1 because the Guest kernel runs in ring 1; user
//! segments are 14 and 15; the three TLS entries are 6 to 8. Entries the Host keeps for
//! itself cannot be overwritten by the Guest.

/// Number of GDT entries (`GDT_ENTRIES`).
pub const GDT_ENTRIES: usize = 32;

/// First of the three TLS entries (`GDT_ENTRY_TLS_MIN`).
pub const GDT_ENTRY_TLS_MIN: usize = 6;
/// Number of TLS entries (`GDT_ENTRY_TLS_ENTRIES`).
pub const GDT_ENTRY_TLS_ENTRIES: usize = 3;
/// The Host's own code segment (`GDT_ENTRY_LGUEST_CS`): never installable by the Guest.
pub const GDT_ENTRY_LGUEST_CS: usize = 10;
/// The Host's own data segment (`GDT_ENTRY_LGUEST_DS`): never installable by the Guest.
pub const GDT_ENTRY_LGUEST_DS: usize = 11;
/// The Guest kernel's code segment (`GDT_ENTRY_KERNEL_CS`).
pub const GDT_ENTRY_KERNEL_CS: usize = 12;
/// The Guest kernel's data segment (`GDT_ENTRY_KERNEL_DS`).
pub const GDT_ENTRY_KERNEL_DS: usize = 13;
/// User code (`GDT_ENTRY_DEFAULT_USER_CS`).
pub const GDT_ENTRY_USER_CS: usize = 14;
/// User data (`GDT_ENTRY_DEFAULT_USER_DS`).
pub const GDT_ENTRY_USER_DS: usize = 15;
/// The task state segment (`GDT_ENTRY_TSS`): the Host's, never installable by the Guest.
pub const GDT_ENTRY_TSS: usize = 16;
/// The double-fault TSS (`GDT_ENTRY_DOUBLEFAULT_TSS`): the Host's.
pub const GDT_ENTRY_DOUBLEFAULT_TSS: usize = 31;

/// The Guest kernel's code selector: entry 12, RPL 1.
pub const LGUEST_KERNEL_CS: u16 = ((GDT_ENTRY_KERNEL_CS as u16) * 8) | 1;
/// The Guest kernel's data selector: entry 13, RPL 1.
pub const LGUEST_KERNEL_DS: u16 = ((GDT_ENTRY_KERNEL_DS as u16) * 8) | 1;
/// User code selector: entry 14, RPL 3.
pub const USER_CS: u16 = ((GDT_ENTRY_USER_CS as u16) * 8) | 3;
/// User data selector: entry 15, RPL 3.
pub const USER_DS: u16 = ((GDT_ENTRY_USER_DS as u16) * 8) | 3;

/// Whether the Guest may install a descriptor in GDT entry `n`.
pub const fn guest_may_load_gdt_entry(n: usize) -> bool {
    n < GDT_ENTRIES
        && n != GDT_ENTRY_LGUEST_CS
        && n != GDT_ENTRY_LGUEST_DS
        && n != GDT_ENTRY_TSS
        && n != GDT_ENTRY_DOUBLEFAULT_TSS
}
