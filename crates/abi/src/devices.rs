//! The lguest bus: device descriptors, DMA buffers and the per-device shared pages.
//!
//! The Launcher puts an array of [`LguestDeviceDesc`] in the page just above the top of
//! guest RAM. All I/O is `LHCALL_BIND_DMA` (offer buffers that receive what is sent to a
//! key) and `LHCALL_SEND_DMA` (send buffers to a key), each buffer list an [`LguestDma`].

use core::mem::offset_of;

/// At most this many `BIND_DMA` bindings per Guest (`LGUEST_MAX_DMA`).
pub const LGUEST_MAX_DMA: usize = 32;
/// At most this many sections in one [`LguestDma`] (`LGUEST_MAX_DMA_SECTIONS`).
pub const LGUEST_MAX_DMA_SECTIONS: usize = 16;
/// At most this many devices on the bus (`LGUEST_MAX_DEVICES`).
pub const LGUEST_MAX_DEVICES: usize = LGUEST_MAX_DMA / 2;
/// The key console output is sent to and console input is bound at.
pub const LGUEST_CONSOLE_DMA_KEY: u32 = 0;

/// `LGUEST_DEVICE_T_CONSOLE`.
pub const LGUEST_DEVICE_T_CONSOLE: u16 = 1;
/// `LGUEST_DEVICE_T_NET`.
pub const LGUEST_DEVICE_T_NET: u16 = 2;
/// `LGUEST_DEVICE_T_BLOCK`.
pub const LGUEST_DEVICE_T_BLOCK: u16 = 3;

/// `LGUEST_NET_F_NOCSUM`: the network does not need checksums.
pub const LGUEST_NET_F_NOCSUM: u16 = 0x4000;
/// `LGUEST_DEVICE_F_RANDOMNESS`: the device's interrupts are a source of entropy.
pub const LGUEST_DEVICE_F_RANDOMNESS: u16 = 0x8000;

/// `LGUEST_DEVICE_S_ACKNOWLEDGE`: the Guest has seen the device.
pub const LGUEST_DEVICE_S_ACKNOWLEDGE: u16 = 1;
/// `LGUEST_DEVICE_S_DRIVER`: the Guest has a driver for it.
pub const LGUEST_DEVICE_S_DRIVER: u16 = 2;
/// `LGUEST_DEVICE_S_DRIVER_OK`: the driver is ready.
pub const LGUEST_DEVICE_S_DRIVER_OK: u16 = 4;
/// `LGUEST_DEVICE_S_REMOVED`: the device is gone.
pub const LGUEST_DEVICE_S_REMOVED: u16 = 8;
/// `LGUEST_DEVICE_S_REMOVED_ACK`: the Guest has seen it go.
pub const LGUEST_DEVICE_S_REMOVED_ACK: u16 = 16;
/// `LGUEST_DEVICE_S_FAILED`: the driver gave up on the device.
pub const LGUEST_DEVICE_S_FAILED: u16 = 128;

/// Console status bit set by the Launcher when its input has ended (end of file on a
/// pipe, or the terminal went away); the console IRQ is raised when it is set. Status
/// bits from 256 up are device specific in the 2.6.23 header; this one is this project's.
pub const LGUEST_CONSOLE_S_EOF: u16 = 0x100;

/// `struct lguest_device_desc`: one entry of the device page.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LguestDeviceDesc {
    /// `LGUEST_DEVICE_T_*`; 0 ends the list.
    pub r#type: u16,
    /// `LGUEST_*_F_*` feature bits.
    pub features: u16,
    /// `LGUEST_DEVICE_S_*` bits, written by the Guest.
    pub status: u16,
    /// Number of pages the device owns at `pfn`.
    pub num_pages: u16,
    /// Guest page frame number of the device's shared memory.
    pub pfn: u32,
}

pub const OFF_DESC_TYPE: u32 = offset_of!(LguestDeviceDesc, r#type) as u32;
pub const OFF_DESC_FEATURES: u32 = offset_of!(LguestDeviceDesc, features) as u32;
pub const OFF_DESC_STATUS: u32 = offset_of!(LguestDeviceDesc, status) as u32;
pub const OFF_DESC_NUM_PAGES: u32 = offset_of!(LguestDeviceDesc, num_pages) as u32;
pub const OFF_DESC_PFN: u32 = offset_of!(LguestDeviceDesc, pfn) as u32;
pub const DEVICE_DESC_SIZE: u32 = core::mem::size_of::<LguestDeviceDesc>() as u32;

/// `struct lguest_dma`: a list of up to 16 buffer sections, each within one page.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LguestDma {
    /// 0 while the buffer is free; the Host writes the number of bytes transferred.
    pub used_len: u32,
    /// Guest-physical address of each section.
    pub addr: [u32; LGUEST_MAX_DMA_SECTIONS],
    /// Length of each section; a zero length ends the list.
    pub len: [u16; LGUEST_MAX_DMA_SECTIONS],
}

pub const OFF_DMA_USED_LEN: u32 = offset_of!(LguestDma, used_len) as u32;
pub const OFF_DMA_ADDR: u32 = offset_of!(LguestDma, addr) as u32;
pub const OFF_DMA_LEN: u32 = offset_of!(LguestDma, len) as u32;
pub const LGUEST_DMA_SIZE: u32 = core::mem::size_of::<LguestDma>() as u32;

/// `struct lguest_block_page`: the block device's shared page. The Guest fills
/// `type`, `sector` and `bytes`, sends a DMA, and the Launcher answers in `result`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LguestBlockPage {
    /// 0 is a read, 1 is a write.
    pub r#type: i32,
    /// Offset in the device = sector * 512.
    pub sector: u32,
    /// Length expected to be read or written, in bytes.
    pub bytes: u32,
    /// 0 = pending, 1 = done, 2 = done with an error.
    pub result: i32,
    /// Disk length = num_sectors * 512 (written by the Launcher).
    pub num_sectors: u32,
}

pub const OFF_BLK_TYPE: u32 = offset_of!(LguestBlockPage, r#type) as u32;
pub const OFF_BLK_SECTOR: u32 = offset_of!(LguestBlockPage, sector) as u32;
pub const OFF_BLK_BYTES: u32 = offset_of!(LguestBlockPage, bytes) as u32;
pub const OFF_BLK_RESULT: u32 = offset_of!(LguestBlockPage, result) as u32;
pub const OFF_BLK_NUM_SECTORS: u32 = offset_of!(LguestBlockPage, num_sectors) as u32;

/// Block request types.
pub const LGUEST_BLOCK_READ: i32 = 0;
pub const LGUEST_BLOCK_WRITE: i32 = 1;
/// Block results.
pub const LGUEST_BLOCK_PENDING: i32 = 0;
pub const LGUEST_BLOCK_DONE: i32 = 1;
pub const LGUEST_BLOCK_ERROR: i32 = 2;
/// Bytes in a sector.
pub const SECTOR_SIZE: u32 = 512;

/// `struct lguest_net`: one slot of a network device's shared page, holding the MAC
/// address of one peer (the multicast bit of the first byte means "promiscuous").
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LguestNet {
    pub mac: [u8; 6],
}

/// The multicast bit of `mac[0]`; in a peer slot it marks the peer as promiscuous.
pub const LGUEST_NET_PROMISC: u8 = 0x01;

// ---- The network protocol of this project's Launchers ----
//
// As in 2.6.23, a network device owns one page of `struct lguest_net` slots, peer `n`
// binds its receive buffers at key `page + 4 * n` and a frame is sent to a peer with
// SEND_DMA to that peer's key. Our Launchers run in separate processes, so a Guest never
// sees the other Guests of its network: the page always holds exactly two peers, the
// Launcher's port on the network in slot 0 (its MAC with the promiscuous bit set, so a
// 2.6.23-style driver sends it every frame) and the Guest in slot 1, whose number is in
// the low bits of the descriptor's `features` ([`LGUEST_NET_SLOT_MASK`]), as 2.6.23's
// tun device had it. The Launcher does the switching: it forwards what the Guest sends
// by destination MAC and filters what it receives against the Guest's published slot.

/// Bytes in an Ethernet address (`ETH_ALEN`).
pub const ETH_ALEN: usize = 6;
/// Bytes in an Ethernet header: destination, source, type (`ETH_HLEN`).
pub const ETH_HLEN: u32 = 14;
/// Largest Ethernet payload (`ETH_DATA_LEN`), the network's MTU.
pub const ETH_DATA_LEN: u32 = 1500;
/// Largest frame a Guest may send or will receive: header and payload, no FCS.
pub const ETH_FRAME_LEN: u32 = ETH_HLEN + ETH_DATA_LEN;

/// Bytes of one `struct lguest_net` slot.
pub const LGUEST_NET_SLOT_SIZE: u32 = core::mem::size_of::<LguestNet>() as u32;
/// Slots in a one-page network device.
pub const LGUEST_NET_SLOTS: u32 = crate::PAGE_SIZE / LGUEST_NET_SLOT_SIZE;
/// Mask of a network descriptor's `features` holding the Guest's own slot number
/// (2.6.23: `features & (mapsize - 1)`).
pub const LGUEST_NET_SLOT_MASK: u16 = (crate::PAGE_SIZE - 1) as u16;
/// The Launcher's slot: the Guest sends every frame to its key.
pub const LGUEST_NET_LAUNCHER_SLOT: u32 = 0;
/// The Guest's slot (2.6.23's `NET_PEERNUM`): it publishes its MAC here and binds its
/// receive buffers at its key.
pub const LGUEST_NET_GUEST_SLOT: u32 = 1;

/// The DMA key of peer `slot` of the network device whose page is at guest-physical
/// `page` (2.6.23's `peer_key`).
pub const fn lguest_net_key(page: u32, slot: u32) -> u32 {
    page + 4 * slot
}

/// The MAC address of the Guest with id `guestid`, as 2.6.23's `lguest_net` makes it:
/// locally administered (`02:`), unicast, the id's two bytes in memory order (little
/// endian) after `02:00:`, then two zero bytes: `02:00:lo:hi:00:00`.
pub const fn lguest_net_mac(guestid: u16) -> [u8; ETH_ALEN] {
    let id = guestid.to_le_bytes();
    [0x02, 0, id[0], id[1], 0, 0]
}

/// The address a frame is for is a group (multicast or broadcast) address.
pub const fn is_multicast_ether_addr(mac: &[u8; ETH_ALEN]) -> bool {
    mac[0] & 0x01 != 0
}
