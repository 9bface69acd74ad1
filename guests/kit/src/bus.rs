//! The lguest bus: finding devices in the device page and the status handshake.
//!
//! The Launcher puts an array of [`LguestDeviceDesc`] in the page just above RAM
//! (`BootInfo::device_page`), console first, a zero type ending the list. Each device
//! owns `num_pages` pages at `pfn`, whose guest-physical addresses are its DMA keys, and
//! raises IRQ `index + 1` (the 2.6.23 bus's `lgdev_irq`; IRQ 0 is the clock). A driver
//! tells the Launcher how far it got by setting status bits in its descriptor:
//! ACKNOWLEDGE (seen), DRIVER (have a driver), DRIVER_OK (ready), or FAILED.
//!
//! Device pages lie above RAM, from the device page up to the end of the last device's
//! pages ([`pages_end`]). The Launcher's boot page tables map them at PAGE_OFFSET +
//! physical, and so do `paging::init`'s, so drivers reach them the same way before and
//! after a kernel switches to its own page tables.

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
        // which the kernel's page tables map (see the module comment); volatile because
        // the Launcher shares it.
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

/// The end (guest-physical, exclusive) of the device page and of every device's pages:
/// what a kernel's page tables must map above RAM for the drivers to keep working.
pub fn pages_end() -> u32 {
    let page = boot::info().device_page;
    (0..LGUEST_MAX_DEVICES as u32)
        .map(|index| Device { index }.descriptor())
        .take_while(|d| d.r#type != 0)
        .filter(|d| d.num_pages != 0)
        .map(|d| (d.pfn + u32::from(d.num_pages)) * PAGE_SIZE)
        .fold(page + PAGE_SIZE, u32::max)
}
