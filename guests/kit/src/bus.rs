//! The lguest bus: finding devices in the device page and the status handshake.
//!
//! The Launcher puts an array of [`LguestDeviceDesc`] in the page just above RAM
//! (`BootInfo::device_page`), console first, a zero type ending the list. Each device
//! owns `num_pages` pages at `pfn`, whose guest-physical addresses are its DMA keys, and
//! raises IRQ `index + 1` (the 2.6.23 bus's `lgdev_irq`; IRQ 0 is the clock). A driver
//! tells the Launcher how far it got by setting status bits in its descriptor:
//! ACKNOWLEDGE (seen), DRIVER (have a driver), DRIVER_OK (ready), or FAILED.
//!
//! Device pages lie above RAM, so they are reachable through the Launcher's boot page
//! tables (which map all of guest memory at PAGE_OFFSET + physical) but not through
//! `paging::init`'s, which map RAM only.

use crate::{boot, phys_to_virt};
use abi::{DEVICE_DESC_SIZE, LGUEST_MAX_DEVICES, LguestDeviceDesc, PAGE_SIZE};

/// One device on the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    /// Its place in the device page (the console is 0).
    pub index: u32,
}

impl Device {
    fn desc(&self) -> *mut LguestDeviceDesc {
        let page = boot::info().device_page;
        phys_to_virt(page + self.index * DEVICE_DESC_SIZE).cast()
    }

    /// Its descriptor, as the Launcher wrote it.
    pub fn descriptor(&self) -> LguestDeviceDesc {
        // SAFETY: `index` came from `find`, so the descriptor is in the device page,
        // which the boot page tables map; volatile because the Launcher shares it.
        unsafe { self.desc().read_volatile() }
    }

    /// The IRQ the device raises.
    pub fn irq(&self) -> u32 {
        self.index + 1
    }

    /// Guest-physical address of the device's first page (its first DMA key).
    pub fn phys(&self) -> u32 {
        self.descriptor().pfn * PAGE_SIZE
    }

    /// Where the device's first page is mapped.
    pub fn page(&self) -> *mut u8 {
        phys_to_virt(self.phys())
    }

    /// The status bits (`LGUEST_DEVICE_S_*`).
    pub fn status(&self) -> u16 {
        // SAFETY: as in `descriptor`.
        unsafe { (&raw const (*self.desc()).status).read_volatile() }
    }

    /// Add status bits.
    pub fn set_status(&self, bits: u16) {
        let status = self.status() | bits;
        // SAFETY: as in `descriptor`; the status field is the Guest's to write.
        unsafe { (&raw mut (*self.desc()).status).write_volatile(status) };
    }
}

/// The `nth` device (counting from 0) of type `kind` (`LGUEST_DEVICE_T_*`).
pub fn find(kind: u16, nth: usize) -> Option<Device> {
    (0..LGUEST_MAX_DEVICES as u32)
        .map(|index| Device { index })
        .take_while(|d| d.descriptor().r#type != 0)
        .filter(|d| d.descriptor().r#type == kind)
        .nth(nth)
}
