//! Guest addresses, typed so that a missing translation is a compile error.
//!
//! Memory the Host is asked to read (lguest_data, messages, DMA descriptors and buffers,
//! page directories) is named by [`GuestPhys`]; stack pointers, gate offsets and
//! SET_PTE's address are [`GuestVirt`].

use std::fmt;

/// A guest-physical address: an offset into guest memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GuestPhys(pub u32);

/// A guest-virtual (linear) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GuestVirt(pub u32);

impl GuestPhys {
    pub fn offset(self, by: u32) -> GuestPhys {
        GuestPhys(self.0.wrapping_add(by))
    }
}

impl fmt::Display for GuestPhys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for GuestVirt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
