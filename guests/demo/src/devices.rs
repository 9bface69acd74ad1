//! The demo's devices: the console's input, the first disk and the first network device,
//! opened once at boot with the kit's drivers and used by the system calls of
//! `syscall.rs` (read, disk_*, ping) and by the scheduler loop, which answers the network
//! (ARP, ping) whenever it comes round ([`poll_net`]).
//!
//! The console's input buffers are bound only when a task first reads (`console::read`
//! binds them), so input typed before then waits in the Launcher.
//!
//! Who touches the devices: system calls (interrupts off) and the scheduler loop between
//! runs of user code (interrupts off) — never both, as for the task table.

use crate::uapi::{DISK_MAX_SECTORS, EADDRNOTAVAIL, EINVAL, EIO, ENODEV, ETIMEDOUT, PING_TIMEOUT_MS};
use guest::abi::SECTOR_SIZE;
use guest::block::Disk;
use guest::inet::{self, Inet, IpDisplay};
use guest::net::{MacDisplay, Net, OpenError};
use guest::{Global, clock, println};

struct Devices {
    disk: Option<Disk>,
    /// The network device, and our address on it if the command line gave one.
    net: Option<Net>,
    inet: Option<Inet>,
}

static DEVICES: Global<Devices> = Global::new(Devices { disk: None, net: None, inet: None });

/// A buffer for disk transfers, in the linear map as DMA buffers must be.
static SECTORS: Global<[u8; (DISK_MAX_SECTORS * SECTOR_SIZE) as usize]> =
    Global::new([0; (DISK_MAX_SECTORS * SECTOR_SIZE) as usize]);

fn with<R>(f: impl FnOnce(&mut Devices) -> R) -> R {
    // SAFETY: one CPU; system calls and the scheduler loop take turns with interrupts
    // off (module comment), and `f` does not call back in here.
    f(unsafe { &mut *DEVICES.get() })
}

/// Open the first disk and the first network device, if the Launcher gave any, and say
/// what they are. After `paging::init` (the device pages must stay mapped) and after the
/// clock handler is in place (the network driver only adds one if there is none).
pub fn init() {
    with(|d| {
        d.disk = Disk::open(0);
        if let Some(disk) = &d.disk {
            println!("demo: disk: {} sectors", disk.num_sectors());
        }
        match Net::open() {
            Ok(net) => {
                let mac = MacDisplay(net.mac());
                match inet::cmdline_ipv4("ip") {
                    Some(ip) => {
                        println!("demo: network: {mac} as {}", IpDisplay(ip));
                        d.inet = Some(Inet::new(net, ip));
                    }
                    None => {
                        println!("demo: network: {mac}, no address (ip= on the command line)");
                        d.net = Some(net);
                    }
                }
            }
            Err(OpenError::NoDevice) => {}
            Err(e) => println!("demo: network device unusable: {e:?}"),
        }
    });
}

/// Sectors on the disk.
pub fn disk_size() -> Result<u32, u32> {
    with(|d| d.disk.as_ref().map(Disk::num_sectors).ok_or(ENODEV))
}

/// Move `count` sectors at `sector` between the disk and the bytes `user` gives or takes
/// (`count` * 512 of them, in the kernel's sector buffer).
pub fn disk_io(write: bool, sector: u32, count: u32, user: impl FnOnce(&mut [u8])) -> Result<u32, u32> {
    if count == 0 || count > DISK_MAX_SECTORS {
        return Err(EINVAL);
    }
    with(|d| {
        let disk = d.disk.as_mut().ok_or(ENODEV)?;
        // SAFETY: only used here, one call at a time (module comment).
        let buf = &mut unsafe { &mut *SECTORS.get() }[..(count * SECTOR_SIZE) as usize];
        let done = if write {
            user(buf);
            disk.write_sectors(sector, buf)
        } else {
            disk.read_sectors(sector, buf).inspect(|_| user(buf))
        };
        done.map(|_| count).map_err(|_| EIO)
    })
}

/// Answer what has arrived on the network: ARP requests and pings for our address.
pub fn poll_net() {
    with(|d| {
        if let Some(inet) = &mut d.inet {
            while let Some(frame) = inet.net.recv() {
                inet.handle(&frame);
            }
        } else if let Some(net) = &mut d.net {
            // No address: nothing is for us, but the buffers must go back.
            while net.recv().is_some() {}
        }
    });
}

/// Ping `ip` once: the round trip in nanoseconds. Waiting HALTs, with the clock armed for
/// the deadline; the caller re-arms its own tick afterwards.
pub fn ping(ip: [u8; 4], seq: u16) -> Result<u64, u32> {
    with(|d| {
        let Some(inet) = &mut d.inet else {
            return Err(if d.net.is_some() { EADDRNOTAVAIL } else { ENODEV });
        };
        let deadline = clock::now_ns() + u64::from(PING_TIMEOUT_MS) * 1_000_000;
        inet.ping(ip, seq, deadline).ok_or(ETIMEDOUT)
    })
}
