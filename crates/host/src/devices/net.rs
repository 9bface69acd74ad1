//! The network device: `--net NAME` (Launchers on one host joined on a named network) and
//! `--net tap:IFNAME` (a TAP interface to the host). It owns the Guest-visible protocol,
//! the switching between Launchers, and both ways out.
//!
//! # What the Guest sees
//!
//! The 2.6.23 protocol, with the Launcher as the only other peer. The device descriptor
//! has type `LGUEST_DEVICE_T_NET`, one page of `struct lguest_net` slots (6-byte MACs) at
//! `pfn`, and in `features` the Guest's slot number ([`abi::LGUEST_NET_GUEST_SLOT`], 1,
//! under [`abi::LGUEST_NET_SLOT_MASK`]) plus `LGUEST_NET_F_NOCSUM` on a named network
//! (frames never leave the host; a TAP can reach the world, so checksums are needed there).
//!
//! - Slot 0 is the Launcher's port: a MAC with the promiscuous bit (0x01 of byte 0) set,
//!   so a driver that sends each frame to every peer wanting it (as 2.6.23's did) sends
//!   every frame there. Named networks use `03:ff:ff:ff:ff:ff`; a TAP, its host-side MAC.
//! - Slot 1 is the Guest's. It publishes its MAC there (derived from `lguest_data.guestid`
//!   with [`abi::lguest_net_mac`]: `02:00:lo:hi:00:00`, as Linux's driver does), and sets the promiscuous bit in
//!   it to receive every frame on the network, not only its own, broadcast and multicast.
//! - Receive buffers (each up to [`abi::ETH_FRAME_LEN`] bytes, in one `lguest_dma`) are
//!   bound with BIND_DMA at key `page + 4 * 1`; the Launcher fills them with one frame
//!   each and raises the IRQ they were bound with.
//! - Frames (14 to 1514 bytes, no FCS) are sent with SEND_DMA to key `page + 4 * 0`;
//!   `used_len` comes back as the frame's length when the Launcher took it (a frame the
//!   network then loses is not reported, as on a wire), or 0 for a malformed one.
//!   A send of zero bytes is no frame: it tells the Launcher that slot 1 changed.
//! - The Launcher reads slot 1 when buffers are bound there, at every send, and now and
//!   then (at least every few milliseconds of Guest time), so a promiscuous bit set by a
//!   plain memory write takes effect soon; the zero-byte send makes it take effect at once.
//!
//! The Launcher filters what it receives against slot 1: frames for the published MAC,
//! group (multicast and broadcast) frames, and everything if the promiscuous bit is set.
//! Frames the Guest has no free buffer for wait in a short backlog ([`BACKLOG`]); beyond
//! it, or while no buffers are bound, they are dropped and counted.
//!
//! # A named network
//!
//! There is no daemon: a network is a directory, `$LGUEST_NET_DIR/NAME`, by default
//! `$XDG_RUNTIME_DIR/lguest-net/NAME` or `/tmp/lguest-net-<uid>/NAME` (made 0700 and
//! checked to be ours). Each Launcher binds a Unix datagram socket there named after its
//! Guest's MAC (`02:00:07:00:00:00`, with `.promisc` appended while the Guest is
//! promiscuous), and sends each frame as one datagram straight to the sockets that want
//! it: unicast to the socket of the destination MAC, group frames to every socket, and
//! every frame to every promiscuous socket. Joining and leaving are creating and removing
//! a socket file; each Launcher learns of them through inotify on the directory, so
//! sending a frame costs no directory scan. Sends never block: a receiver whose queue is
//! full (a slow or stopped Launcher) costs the frame, counted; a socket file nobody is
//! bound to (a Launcher that was killed) is removed by the first sender to find it. Our
//! own file is removed when the device is dropped, which happens on every way out of the
//! Launcher but SIGKILL.
//!
//! # Threads
//!
//! One receiver thread per device waits (poll) on its socket or TAP and passes frames to
//! the Guest as [`Event::NetFrame`], so a halted Guest wakes for a frame. Frame buffers
//! come from a small pool ([`POOL_FRAMES`]) the Guest's thread hands back, so the frame
//! path allocates nothing once warm; with the pool empty the thread stops reading and the
//! kernel queue (and then the senders) take the loss.
//!
//! Counters are traced with `--trace net` and reported at exit when frames were dropped.

use super::{Event, EventSender, Slot};
use crate::boot::{LoadError, write_device_desc};
use crate::guest::{Guest, Res};
use crate::io::{Delivery, Dma};
use abi::{
    ETH_ALEN, ETH_FRAME_LEN, ETH_HLEN, LGUEST_DEVICE_S_FAILED, LGUEST_DEVICE_T_NET, LGUEST_NET_F_NOCSUM,
    LGUEST_NET_GUEST_SLOT, LGUEST_NET_LAUNCHER_SLOT, LGUEST_NET_PROMISC, LGUEST_NET_SLOT_SIZE,
    LguestDeviceDesc, OFF_DESC_STATUS, is_multicast_ether_addr, lguest_net_key, lguest_net_mac,
};
use rustix::event::{EventfdFlags, PollFd, PollFlags};
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use rustix::fs::inotify;
use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketAddrUnix, SocketFlags, SocketType};
use std::collections::VecDeque;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use tracing::{debug, trace};

/// Pages the network device owns: its page of `struct lguest_net` peer slots.
pub(crate) const PAGES: u32 = 1;

/// Frames held for a Guest whose receive buffers are all full, before new ones are dropped.
pub const BACKLOG: usize = 64;

/// Frame buffers in flight between a receiver thread and the Guest (queued as events or
/// held in the backlog).
pub const POOL_FRAMES: usize = BACKLOG + 64;

/// The MAC of a named network's port in slot 0 (with the promiscuous bit).
const SWITCH_MAC: [u8; ETH_ALEN] = [0x03, 0xff, 0xff, 0xff, 0xff, 0xff];

/// Longest network name.
const MAX_NAME: usize = 32;

/// What `--net` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetConfig {
    /// A named network shared by Launchers on this host.
    Named(String),
    /// A TAP interface to the host.
    Tap(String),
}

impl NetConfig {
    /// `tap:IFNAME` or a network name.
    pub fn parse(s: &str) -> Result<NetConfig, String> {
        if let Some(ifname) = s.strip_prefix("tap:") {
            let ok = !ifname.is_empty()
                && ifname.len() < 16
                && ifname.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b':');
            if !ok {
                return Err(format!(
                    "'{ifname}' is not an interface name (1 to 15 characters, no '/' or ':')"
                ));
            }
            return Ok(NetConfig::Tap(ifname.to_string()));
        }
        let ok = !s.is_empty()
            && s.len() <= MAX_NAME
            && !s.starts_with('.')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !ok {
            return Err(format!(
                "'{s}' is not a network name (1 to {MAX_NAME} of A-Z a-z 0-9 . _ -, not starting with '.'), \
                 nor tap:IFNAME"
            ));
        }
        Ok(NetConfig::Named(s.to_string()))
    }
}

/// What a network device counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Frames the Guest sent, and their bytes.
    pub tx_frames: u64,
    pub tx_bytes: u64,
    /// Sends that were no frame (shorter than a header or longer than 1514 bytes).
    pub tx_malformed: u64,
    /// Copies of frames lost because a receiver's queue was full (or the TAP refused).
    pub tx_dropped: u64,
    /// Copies lost because the receiver was gone (its stale socket is removed).
    pub tx_dead: u64,
    /// Frames put into the Guest's buffers, and their bytes.
    pub rx_frames: u64,
    pub rx_bytes: u64,
    /// Frames that arrived for another MAC (and the Guest is not promiscuous).
    pub rx_filtered: u64,
    /// Frames dropped because the Guest had no buffer for them.
    pub rx_no_buffer: u64,
}

impl NetStats {
    fn dropped(&self) -> bool {
        self.tx_malformed + self.tx_dropped + self.tx_dead + self.rx_no_buffer != 0
    }
}

impl std::fmt::Display for NetStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent {} frames ({} bytes), received {} ({} bytes); dropped: {} not taken (receiver busy \
             or down), {} to a dead receiver, {} with no Guest buffer, {} malformed; {} for other MACs \
             filtered",
            self.tx_frames,
            self.tx_bytes,
            self.rx_frames,
            self.rx_bytes,
            self.tx_dropped,
            self.tx_dead,
            self.rx_no_buffer,
            self.tx_malformed,
            self.rx_filtered
        )
    }
}

/// Frame buffers shared between a receiver thread and the Guest's thread.
struct Pool {
    free: Mutex<Vec<Vec<u8>>>,
    returned: Condvar,
    closed: AtomicBool,
}

impl Pool {
    fn new() -> Arc<Pool> {
        Arc::new(Pool {
            free: Mutex::new(Vec::with_capacity(POOL_FRAMES)),
            returned: Condvar::new(),
            closed: AtomicBool::new(false),
        })
    }

    /// Hand a buffer back to the receiver thread.
    fn put(&self, mut frame: Vec<u8>) {
        frame.clear();
        if let Ok(mut free) = self.free.lock() {
            free.push(frame);
        }
        self.returned.notify_one();
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // Taking the lock orders the store before a waiter's check.
        drop(self.free.lock());
        self.returned.notify_all();
    }
}

/// A peer on a named network, as its socket file says.
struct Peer {
    mac: [u8; ETH_ALEN],
    promisc: bool,
    path: PathBuf,
    addr: SocketAddrUnix,
}

/// Our port on a named network.
struct Switch {
    network: String,
    dir: PathBuf,
    sock: Arc<OwnedFd>,
    /// Our socket file, named after what the Guest published.
    path: PathBuf,
    mac: [u8; ETH_ALEN],
    promisc: bool,
    peers: Vec<Peer>,
    /// Bumped by the receiver thread whenever the directory changes.
    generation: Arc<AtomicU64>,
    /// The generation `peers` was read at (`u64::MAX`: read it again).
    seen: u64,
}

/// A TAP interface.
struct Tap {
    ifname: String,
    fd: Arc<OwnedFd>,
}

enum Backend {
    Named(Switch),
    Tap(Tap),
}

pub(crate) struct Net {
    pub slot: Slot,
    backend: Backend,
    /// Frames accepted for the Guest that wait for a free buffer.
    backlog: VecDeque<Vec<u8>>,
    pool: Arc<Pool>,
    /// Slot 1 as last read: the Guest's MAC (promiscuous bit included).
    published: [u8; ETH_ALEN],
    stats: NetStats,
    /// Written to stop the receiver thread.
    stop: Arc<OwnedFd>,
}

impl Net {
    /// How the device is named in messages: "network NAME" or "tap IFNAME".
    fn what(&self) -> String {
        match &self.backend {
            Backend::Named(s) => format!("network {}", s.network),
            Backend::Tap(t) => format!("tap {}", t.ifname),
        }
    }

    fn guest_key(&self) -> u32 {
        lguest_net_key(self.slot.phys().0, LGUEST_NET_GUEST_SLOT)
    }

    fn network_key(&self) -> u32 {
        lguest_net_key(self.slot.phys().0, LGUEST_NET_LAUNCHER_SLOT)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.pool.close();
        let _ = rustix::io::write(&*self.stop, &1u64.to_ne_bytes());
        if let Backend::Named(s) = &self.backend {
            let _ = std::fs::remove_file(&s.path);
        }
    }
}

/// Render a MAC as `02:00:07:00:00:00`.
pub(crate) fn mac_str(mac: &[u8; ETH_ALEN]) -> String {
    let m = mac;
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

/// Parse a socket file name: a MAC, optionally with `.promisc`.
fn parse_peer_name(name: &str) -> Option<([u8; ETH_ALEN], bool)> {
    let (mac, promisc) = match name.strip_suffix(".promisc") {
        Some(m) => (m, true),
        None => (name, false),
    };
    let mut out = [0u8; ETH_ALEN];
    let mut parts = mac.split(':');
    for b in out.iter_mut() {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some((out, promisc))
}

fn socket_file_name(mac: &[u8; ETH_ALEN], promisc: bool) -> String {
    let mut name = mac_str(mac);
    if promisc {
        name.push_str(".promisc");
    }
    name
}

/// The directory all named networks of this user live in.
fn networks_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("LGUEST_NET_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR")
        && Path::new(&run).is_dir()
    {
        return Ok(Path::new(&run).join("lguest-net"));
    }
    Ok(PathBuf::from(format!("/tmp/lguest-net-{}", rustix::process::geteuid().as_raw())))
}

/// Make `dir` (mode 0700) if it is missing, and check it is a directory of ours that
/// nobody else can write to.
fn private_dir(dir: &Path) -> Result<(), String> {
    match std::fs::create_dir(dir) {
        Ok(()) => {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    let meta =
        std::fs::symlink_metadata(dir).map_err(|e| format!("cannot look at {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() || meta.mode() & 0o022 != 0 {
        return Err(format!("{} belongs to someone else or others can write to it", dir.display()));
    }
    Ok(())
}

/// Whether a Launcher is bound to the socket file at `addr` (a zero-byte datagram, which
/// receivers ignore; only "connection refused" means nobody is).
fn socket_is_live(sock: &OwnedFd, addr: &SocketAddrUnix) -> bool {
    !matches!(
        rustix::net::sendto(sock, &[], SendFlags::DONTWAIT, addr),
        Err(Errno::CONNREFUSED | Errno::NOENT)
    )
}

impl Switch {
    /// Join network `name` as the Guest with MAC `mac`.
    fn join(name: &str, mac: [u8; ETH_ALEN]) -> Result<Switch, String> {
        let base = networks_dir()?;
        if std::env::var_os("LGUEST_NET_DIR").is_none() {
            if let Some(parent) = base.parent()
                && parent != Path::new("/tmp")
            {
                let _ = std::fs::create_dir_all(parent);
            }
            private_dir(&base)?;
        } else {
            std::fs::create_dir_all(&base).map_err(|e| format!("cannot create {}: {e}", base.display()))?;
        }
        let dir = base.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
        let sock = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .map_err(|e| format!("cannot make a socket: {e}"))?;
        let path = dir.join(socket_file_name(&mac, false));
        let addr = SocketAddrUnix::new(&path)
            .map_err(|_| format!("{} is too long for a socket address", path.display()))?;
        if path.as_os_str().len() >= 108 {
            return Err(format!("{} is too long for a socket address (set LGUEST_NET_DIR)", path.display()));
        }
        match rustix::net::bind(&sock, &addr) {
            Ok(()) => {}
            Err(Errno::ADDRINUSE) => {
                // A Guest with our MAC is on the network, or one was killed and left its
                // socket file behind.
                if socket_is_live(&sock, &addr) {
                    return Err(format!(
                        "a Guest with MAC {} is already on network {name}: give this one another --guestid",
                        mac_str(&mac)
                    ));
                }
                let _ = std::fs::remove_file(&path);
                rustix::net::bind(&sock, &addr)
                    .map_err(|e| format!("cannot bind {}: {e}", path.display()))?;
            }
            Err(e) => return Err(format!("cannot bind {}: {e}", path.display())),
        }
        // Our MAC may also be there as a promiscuous socket.
        let promisc = dir.join(socket_file_name(&mac, true));
        if let Ok(a) = SocketAddrUnix::new(&promisc)
            && promisc.exists()
        {
            if socket_is_live(&sock, &a) {
                let _ = std::fs::remove_file(&path);
                return Err(format!(
                    "a Guest with MAC {} is already on network {name}: give this one another --guestid",
                    mac_str(&mac)
                ));
            }
            let _ = std::fs::remove_file(&promisc);
        }
        Ok(Switch {
            network: name.to_string(),
            dir,
            sock: Arc::new(sock),
            path,
            mac,
            promisc: false,
            peers: Vec::new(),
            generation: Arc::new(AtomicU64::new(0)),
            seen: u64::MAX,
        })
    }

    /// Read the directory again if it changed since we last did.
    fn refresh_peers(&mut self) {
        let generation = self.generation.load(Ordering::Acquire);
        if generation == self.seen {
            return;
        }
        self.seen = generation;
        self.peers.clear();
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some((mac, promisc)) = name.to_str().and_then(parse_peer_name) else { continue };
            if mac == self.mac {
                continue;
            }
            let path = e.path();
            let Ok(addr) = SocketAddrUnix::new(&path) else { continue };
            self.peers.push(Peer { mac, promisc, path, addr });
        }
        debug!(target: "lguest::net", "network {}: {} peers", self.network, self.peers.len());
    }

    /// Send `frame` to every peer that wants it.
    fn transmit(&mut self, frame: &[u8], stats: &mut NetStats) {
        self.refresh_peers();
        let Some(dst) = frame.first_chunk::<ETH_ALEN>() else { return };
        let group = is_multicast_ether_addr(dst);
        let mut stale = false;
        for p in &self.peers {
            if !(group || p.promisc || p.mac == *dst) {
                continue;
            }
            match rustix::net::sendto(&*self.sock, frame, SendFlags::DONTWAIT, &p.addr) {
                Ok(_) => trace!(target: "lguest::net", "  to {}", mac_str(&p.mac)),
                Err(Errno::CONNREFUSED) => {
                    // Nobody is bound there: a Launcher was killed.
                    stats.tx_dead += 1;
                    let _ = std::fs::remove_file(&p.path);
                    stale = true;
                    debug!(target: "lguest::net", "  {} is gone: removed {}", mac_str(&p.mac), p.path.display());
                }
                Err(Errno::NOENT) => {
                    stats.tx_dead += 1;
                    stale = true;
                }
                Err(e) => {
                    stats.tx_dropped += 1;
                    trace!(target: "lguest::net", "  to {}: dropped ({e})", mac_str(&p.mac));
                }
            }
        }
        if stale {
            self.seen = u64::MAX;
        }
    }

    /// Rename our socket file after what the Guest published in slot 1.
    fn publish(&mut self, mac: [u8; ETH_ALEN], promisc: bool) {
        if mac == self.mac && promisc == self.promisc {
            return;
        }
        let path = self.dir.join(socket_file_name(&mac, promisc));
        if mac != self.mac {
            // Someone else's name? Only take it over if it is stale.
            if let Ok(addr) = SocketAddrUnix::new(&path)
                && path.exists()
            {
                if socket_is_live(&self.sock, &addr) {
                    tracing::warn!(
                        "lguest: the Guest published MAC {}, which another Guest on network {} has; keeping {}",
                        mac_str(&mac),
                        self.network,
                        mac_str(&self.mac)
                    );
                    return;
                }
                let _ = std::fs::remove_file(&path);
            }
        }
        // link + unlink rather than rename: rename would silently replace a live peer's file.
        match std::fs::hard_link(&self.path, &path) {
            Ok(()) => {
                let _ = std::fs::remove_file(&self.path);
                debug!(target: "lguest::net", "network {}: now {}", self.network, path.display());
                self.path = path;
                self.mac = mac;
                self.promisc = promisc;
                self.seen = u64::MAX;
            }
            Err(e) => {
                debug!(target: "lguest::net", "network {}: cannot rename to {}: {e}", self.network, path.display())
            }
        }
    }
}

/// Open /dev/net/tun and attach it to TAP interface `ifname` (which the kernel creates,
/// for as long as we hold it, if it does not exist and we may); and the interface's MAC.
fn open_tap(ifname: &str) -> Result<(OwnedFd, [u8; ETH_ALEN]), String> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open("/dev/net/tun", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).map_err(
        |e| match e {
            Errno::NOENT => "there is no /dev/net/tun: this machine has no TAP support".to_string(),
            e => format!("cannot open /dev/net/tun: {e}"),
        },
    )?;
    // SAFETY: ifreq is plain data (a name and a union of integers and sockaddrs), for which
    // all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(ifname.bytes()) {
        *d = s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads (and writes back the name of) the ifreq we pass, which lives
    // for the call; the fd is an open /dev/net/tun.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!(
            "cannot attach to TAP interface {ifname}: {e} (it needs CAP_NET_ADMIN, or a persistent TAP \
             owned by this user: ip tuntap add dev {ifname} mode tap user $USER)"
        ));
    }
    // SAFETY: as above; SIOCGIFHWADDR on a tun fd fills ifru_hwaddr of the ifreq we pass.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR as _, &mut ifr) };
    let mut mac = [0x02, 0, 0, 0, 0, 1];
    if r == 0 {
        // SAFETY: the ioctl succeeded, so the union holds the hardware address.
        let data = unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_data };
        for (m, d) in mac.iter_mut().zip(data) {
            *m = d as u8;
        }
    }
    Ok((fd, mac))
}

/// What a receiver thread reads frames from.
struct Source {
    fd: Arc<OwnedFd>,
    /// The network directory's inotify, and the generation to bump when it fires.
    watch: Option<(OwnedFd, Arc<AtomicU64>)>,
    tap: bool,
}

/// Start the thread that passes frames arriving at `source` to device `dev` as events.
fn spawn_receiver(
    what: String,
    dev: usize,
    source: Source,
    stop: Arc<OwnedFd>,
    pool: Arc<Pool>,
    events: EventSender,
) -> Result<(), String> {
    std::thread::Builder::new()
        .name(format!("net{dev}-rx"))
        .spawn(move || receive_loop(dev, source, stop, pool, events))
        .map(drop)
        .map_err(|e| format!("cannot start the receiver thread for {what}: {e}"))
}

fn receive_loop(dev: usize, source: Source, stop: Arc<OwnedFd>, pool: Arc<Pool>, events: EventSender) {
    // Room for any datagram a peer may send (they send at most 1514 bytes; a longer one
    // is cut short here and dropped by the Guest side as malformed).
    const BUF: usize = ETH_FRAME_LEN as usize + 1;
    let mut allocated = 0;
    let mut inotify_buf = [std::mem::MaybeUninit::<u8>::uninit(); 1024];
    loop {
        // A buffer first: with none free we stop reading, and the kernel queue fills.
        let mut frame = {
            let Ok(mut free) = pool.free.lock() else { return };
            loop {
                if pool.closed.load(Ordering::Acquire) {
                    return;
                }
                if let Some(f) = free.pop() {
                    break f;
                }
                if allocated < POOL_FRAMES {
                    allocated += 1;
                    break Vec::with_capacity(BUF);
                }
                free = match pool.returned.wait(free) {
                    Ok(f) => f,
                    Err(_) => return,
                };
            }
        };
        // Then a frame.
        loop {
            let mut fds = [
                PollFd::new(&*source.fd, PollFlags::IN),
                PollFd::new(&*stop, PollFlags::IN),
                match &source.watch {
                    Some((w, _)) => PollFd::new(w, PollFlags::IN),
                    None => PollFd::from_borrowed_fd(stop.as_fd(), PollFlags::empty()),
                },
            ];
            match rustix::event::poll(&mut fds, None) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(_) => return,
            }
            let (data, stopped, watched) =
                (fds[0].revents(), !fds[1].revents().is_empty(), !fds[2].revents().is_empty());
            if stopped {
                return;
            }
            if watched && let Some((w, generation)) = &source.watch {
                let mut reader = inotify::Reader::new(w, &mut inotify_buf);
                while reader.next().is_ok() {}
                generation.fetch_add(1, Ordering::Release);
            }
            if data.is_empty() {
                continue;
            }
            if data.intersects(PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL)
                && !data.contains(PollFlags::IN)
            {
                return;
            }
            frame.clear();
            let got = if source.tap {
                rustix::io::read(&*source.fd, rustix::buffer::spare_capacity(&mut frame))
            } else {
                rustix::net::recv(
                    &*source.fd,
                    rustix::buffer::spare_capacity(&mut frame),
                    RecvFlags::DONTWAIT,
                )
                .map(|(n, _)| n)
            };
            match got {
                // A zero-byte datagram is a liveness probe, not a frame.
                Ok(0) => continue,
                Ok(_) => break,
                Err(Errno::AGAIN | Errno::INTR) => continue,
                Err(_) if source.tap => return,
                Err(_) => continue,
            }
        }
        if !events.send(Event::NetFrame { dev, frame }) {
            return;
        }
    }
}

impl Guest {
    /// Join the network and describe the device in the device page.
    pub(crate) fn add_net(&mut self, slot: Slot, config: NetConfig) -> Result<(), LoadError> {
        let dev = self.devices.nets.len();
        let guest_mac = lguest_net_mac(self.guestid);
        let (backend, source, port_mac, features) = match &config {
            NetConfig::Named(name) => {
                let sw = Switch::join(name, guest_mac)
                    .map_err(|e| LoadError::Device(format!("--net {name}: {e}")))?;
                let watch = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
                    .and_then(|w| {
                        use inotify::WatchFlags as W;
                        inotify::add_watch(&w, &sw.dir, W::CREATE | W::DELETE | W::MOVED_FROM | W::MOVED_TO)?;
                        Ok(w)
                    })
                    .map_err(|e| {
                        LoadError::Device(format!("--net {name}: cannot watch {}: {e}", sw.dir.display()))
                    })?;
                let source =
                    Source { fd: sw.sock.clone(), watch: Some((watch, sw.generation.clone())), tap: false };
                (Backend::Named(sw), source, SWITCH_MAC, LGUEST_NET_F_NOCSUM)
            }
            NetConfig::Tap(ifname) => {
                let (fd, mac) =
                    open_tap(ifname).map_err(|e| LoadError::Device(format!("--net tap:{ifname}: {e}")))?;
                let fd = Arc::new(fd);
                let source = Source { fd: fd.clone(), watch: None, tap: true };
                (Backend::Tap(Tap { ifname: ifname.clone(), fd }), source, mac, 0)
            }
        };
        let stop = rustix::event::eventfd(0, EventfdFlags::CLOEXEC)
            .map_err(|e| LoadError::Device(format!("cannot make an eventfd: {e}")))?;
        let net = Net {
            slot,
            backend,
            backlog: VecDeque::with_capacity(BACKLOG),
            pool: Pool::new(),
            published: [0; ETH_ALEN],
            stats: NetStats::default(),
            stop: Arc::new(stop),
        };
        let what = net.what();
        spawn_receiver(what.clone(), dev, source, net.stop.clone(), net.pool.clone(), self.events.sender())
            .map_err(LoadError::Device)?;
        let desc = LguestDeviceDesc {
            r#type: LGUEST_DEVICE_T_NET,
            features: LGUEST_NET_GUEST_SLOT as u16 | features,
            status: 0,
            num_pages: PAGES as u16,
            pfn: slot.pfn,
        };
        let layout = self.layout;
        use cpu::Vcpu;
        let mem = self.cpu.mem_mut();
        write_device_desc(mem, &layout, slot.index, &desc);
        let mut port = port_mac;
        port[0] |= LGUEST_NET_PROMISC;
        let at = slot.phys().0 + LGUEST_NET_LAUNCHER_SLOT * LGUEST_NET_SLOT_SIZE;
        let _ = mem.write(at, &port);
        debug!(target: "lguest::net", "net{dev}: {what}, Guest MAC {}, device page {}", mac_str(&guest_mac), slot.phys());
        self.devices.nets.push(net);
        Ok(())
    }

    /// The Guest sent to a key of network device `i`. Returns used_len.
    pub(crate) fn net_send(&mut self, i: usize, key: u32, dma: &Dma) -> Res<u32> {
        let Some(net) = self.devices.nets.get(i) else { return Ok(0) };
        if key != net.network_key() {
            // Slot 1 is the Guest itself, and no other slot has anyone behind it.
            return Ok(0);
        }
        self.net_read_slot(i)?;
        let len = dma.total;
        if len == 0 {
            return Ok(0);
        }
        let mut frame = std::mem::take(&mut self.scratch);
        self.gather(dma, &mut frame);
        let net = &mut self.devices.nets[i];
        if !(ETH_HLEN..=ETH_FRAME_LEN).contains(&len) {
            net.stats.tx_malformed += 1;
            trace!(target: "lguest::net", "net{i}: tx malformed frame of {len} bytes");
            self.scratch = frame;
            return Ok(0);
        }
        net.stats.tx_frames += 1;
        net.stats.tx_bytes += u64::from(len);
        if tracing::enabled!(target: "lguest::net", tracing::Level::TRACE) {
            trace!(target: "lguest::net", "net{i}: tx {}", describe(&frame));
        }
        match &mut net.backend {
            Backend::Named(sw) => sw.transmit(&frame, &mut net.stats),
            Backend::Tap(tap) => {
                if let Err(e) = rustix::io::write(&*tap.fd, &frame) {
                    net.stats.tx_dropped += 1;
                    trace!(target: "lguest::net", "  tap {}: dropped ({e})", tap.ifname);
                }
            }
        }
        self.scratch = frame;
        // The Guest is running: it may have freed buffers for waiting frames.
        self.net_deliver(i)?;
        Ok(len)
    }

    /// Read the Guest's slot; on a named network, rename our socket if it changed.
    fn net_read_slot(&mut self, i: usize) -> Res {
        let at = self.devices.nets[i].slot.phys().offset(LGUEST_NET_GUEST_SLOT * LGUEST_NET_SLOT_SIZE);
        let mut mac = [0u8; ETH_ALEN];
        for (n, b) in mac.iter_mut().enumerate() {
            *b = self.read_u8("lguest_net slot", at.offset(n as u32))?;
        }
        let net = &mut self.devices.nets[i];
        if mac == net.published {
            return Ok(());
        }
        net.published = mac;
        let promisc = mac[0] & LGUEST_NET_PROMISC != 0;
        let mut bare = mac;
        bare[0] &= !LGUEST_NET_PROMISC;
        debug!(target: "lguest::net", "net{i}: the Guest published {}{}", mac_str(&bare), if promisc { " (promiscuous)" } else { "" });
        if let Backend::Named(sw) = &mut net.backend
            && bare[0] != 0
        {
            sw.publish(bare, promisc);
        }
        Ok(())
    }

    /// A frame arrived for network device `dev`.
    pub(crate) fn net_receive(&mut self, dev: usize, frame: Vec<u8>) -> Res {
        if dev >= self.devices.nets.len() {
            return Ok(());
        }
        self.net_read_slot(dev)?;
        let status = self.read_u16(
            "device descriptor",
            self.layout
                .device_page
                .offset(self.devices.nets[dev].slot.index * abi::DEVICE_DESC_SIZE + OFF_DESC_STATUS),
        )?;
        let net = &mut self.devices.nets[dev];
        let published = net.published;
        let promisc = published[0] & LGUEST_NET_PROMISC != 0;
        let accept = match frame.first_chunk::<ETH_ALEN>() {
            _ if !(ETH_HLEN as usize..=ETH_FRAME_LEN as usize).contains(&frame.len()) => false,
            Some(dst) => {
                let mut mine = published;
                mine[0] &= !LGUEST_NET_PROMISC;
                is_multicast_ether_addr(dst) || promisc || (mine[0] != 0 && *dst == mine)
            }
            None => false,
        };
        if !accept {
            net.stats.rx_filtered += 1;
            if tracing::enabled!(target: "lguest::net", tracing::Level::TRACE) {
                trace!(target: "lguest::net", "net{dev}: rx filtered {}", describe(&frame));
            }
            net.pool.put(frame);
            return Ok(());
        }
        if net.backlog.len() >= BACKLOG || status & LGUEST_DEVICE_S_FAILED != 0 {
            net.stats.rx_no_buffer += 1;
            trace!(target: "lguest::net", "net{dev}: rx dropped, backlog full");
            net.pool.put(frame);
            return Ok(());
        }
        net.backlog.push_back(frame);
        self.net_deliver(dev)
    }

    /// Put waiting frames into the Guest's free buffers.
    fn net_deliver(&mut self, i: usize) -> Res {
        let key = self.devices.nets[i].guest_key();
        while let Some(frame) = self.devices.nets[i].backlog.pop_front() {
            let result = self.send_to_guest(key, &[&frame]);
            let net = &mut self.devices.nets[i];
            match result {
                Ok(Delivery::Delivered(n)) => {
                    net.stats.rx_frames += 1;
                    net.stats.rx_bytes += u64::from(n);
                    if tracing::enabled!(target: "lguest::net", tracing::Level::TRACE) {
                        trace!(target: "lguest::net", "net{i}: rx {}", describe(&frame));
                    }
                    net.pool.put(frame);
                }
                Ok(Delivery::NoBuffer) => {
                    net.backlog.push_front(frame);
                    return Ok(());
                }
                Ok(Delivery::NotBound) => {
                    net.stats.rx_no_buffer += 1 + net.backlog.len() as u64;
                    trace!(target: "lguest::net", "net{i}: rx dropped, no buffers bound");
                    net.pool.put(frame);
                    while let Some(f) = net.backlog.pop_front() {
                        net.pool.put(f);
                    }
                    return Ok(());
                }
                Err(end) => {
                    net.pool.put(frame);
                    return Err(end);
                }
            }
        }
        Ok(())
    }

    /// Now and then: notice slot changes, and retry frames waiting for buffers.
    pub(crate) fn net_retry(&mut self) -> Res {
        for i in 0..self.devices.nets.len() {
            self.net_read_slot(i)?;
            if !self.devices.nets[i].backlog.is_empty() {
                self.net_deliver(i)?;
            }
        }
        Ok(())
    }

    /// The Guest bound buffers at `key`: if they are a network device's, deliver to them.
    pub(crate) fn net_bound(&mut self, key: u32) -> Res {
        if let Some(i) = self.devices.nets.iter().position(|n| n.guest_key() == key) {
            self.net_read_slot(i)?;
            self.net_deliver(i)?;
        }
        Ok(())
    }

    /// One line per network device that lost frames, for the Launcher to print at exit;
    /// every device's counters are traced (`--trace net`).
    pub fn net_report(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (i, n) in self.devices.nets.iter().enumerate() {
            debug!(target: "lguest::net", "net{i} ({}): {}", n.what(), n.stats);
            if n.stats.dropped() {
                lines.push(format!("lguest: net{i} ({}): {}", n.what(), n.stats));
            }
        }
        lines
    }

    /// The counters of network device `i`.
    pub fn net_stats(&self, i: usize) -> Option<NetStats> {
        self.devices.nets.get(i).map(|n| n.stats)
    }
}

/// A frame in a trace line: `02:00:01:00:00:00 > ff:ff:ff:ff:ff:ff type 0806, 42 bytes`.
fn describe(frame: &[u8]) -> String {
    if frame.len() < ETH_HLEN as usize {
        return format!("{} bytes", frame.len());
    }
    let dst: [u8; 6] = frame[0..6].try_into().unwrap_or_default();
    let src: [u8; 6] = frame[6..12].try_into().unwrap_or_default();
    format!(
        "{} > {} type {:02x}{:02x}, {} bytes",
        mac_str(&src),
        mac_str(&dst),
        frame[12],
        frame[13],
        frame.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_names_round_trip() {
        let mac = lguest_net_mac(0x0102);
        assert_eq!(socket_file_name(&mac, false), "02:00:02:01:00:00");
        assert_eq!(parse_peer_name("02:00:02:01:00:00"), Some((mac, false)));
        assert_eq!(parse_peer_name("02:00:02:01:00:00.promisc"), Some((mac, true)));
        assert_eq!(parse_peer_name("02:00:00:00:01"), None);
        assert_eq!(parse_peer_name("02:00:00:00:01:02:03"), None);
        assert_eq!(parse_peer_name("zz:00:00:00:01:02"), None);
    }

    #[test]
    fn net_arguments_parse() {
        assert_eq!(NetConfig::parse("lab"), Ok(NetConfig::Named("lab".into())));
        assert_eq!(NetConfig::parse("tap:tap0"), Ok(NetConfig::Tap("tap0".into())));
        assert!(NetConfig::parse("").is_err());
        assert!(NetConfig::parse("../x").is_err());
        assert!(NetConfig::parse(".hidden").is_err());
        assert!(NetConfig::parse("tap:").is_err());
        assert!(NetConfig::parse("tap:a/b").is_err());
        assert!(NetConfig::parse("tap:0123456789abcdef").is_err());
    }
}
