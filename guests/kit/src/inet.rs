//! A minimal IPv4 for Guests, over [`crate::net`]: enough ARP to answer who-has for our
//! address and to find a neighbour's MAC, and enough ICMP to answer pings and to send
//! them. No routing (every address is taken to be on the link), no fragments, no options.
//!
//! A Guest's address comes from its command line: `ip=10.0.0.2` ([`cmdline_ipv4`]); the
//! example Guests also take `peer=10.0.0.1` for the address to ping. Checksums are always
//! computed and checked, whether or not the device says `LGUEST_NET_F_NOCSUM` (a TAP
//! reaches a real IP stack, which checks them).

use crate::net::{BROADCAST, FRAME_MAX, Frame, Mac, Net};
use crate::{boot, clock};

/// EtherType of IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// IP protocol number of ICMP.
pub const IPPROTO_ICMP: u8 = 1;

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;
const ARP_REQUEST: u16 = 1;
const ARP_REPLY: u16 = 2;
/// Bytes of ping payload, as ping(8) sends by default.
pub const PING_DATA: usize = 56;
/// How long to wait for an ARP reply before asking again.
const ARP_RETRY_NS: u64 = 250_000_000;

const ETH_HLEN: usize = 14;
const IP_HLEN: usize = 20;
const ARP_LEN: usize = 28;

/// An IPv4 address, in network order.
pub type Ipv4 = [u8; 4];

/// Write an IPv4 address as `10.0.0.2`.
pub struct IpDisplay(pub Ipv4);

impl core::fmt::Display for IpDisplay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let a = self.0;
        write!(f, "{}.{}.{}.{}", a[0], a[1], a[2], a[3])
    }
}

/// Parse `a.b.c.d`.
pub fn parse_ipv4(s: &str) -> Option<Ipv4> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for b in out.iter_mut() {
        *b = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The value of the first `key=value` word of the command line.
pub fn cmdline_arg(key: &str) -> Option<&'static str> {
    boot::cmdline().split_whitespace().find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// The IPv4 address given as `key=a.b.c.d` on the command line.
pub fn cmdline_ipv4(key: &str) -> Option<Ipv4> {
    parse_ipv4(cmdline_arg(key)?)
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn ip_at(b: &[u8], at: usize) -> Ipv4 {
    [b[at], b[at + 1], b[at + 2], b[at + 3]]
}

fn mac_at(b: &[u8], at: usize) -> Mac {
    [b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5]]
}

/// What [`Inet::handle`] made of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet {
    /// An ARP request for our address, or an echo request to it: answered.
    Answered,
    /// An ARP reply (learnt).
    ArpReply { ip: Ipv4, mac: Mac },
    /// An ICMP echo reply to us.
    EchoReply { from: Ipv4, id: u16, seq: u16, len: usize },
    /// Anything else (not IPv4 or ARP, not for us, malformed).
    Other,
}

const ARP_ENTRIES: usize = 8;

/// An IPv4 endpoint on a network device.
pub struct Inet {
    pub net: Net,
    ip: Ipv4,
    arp: [Option<(Ipv4, Mac)>; ARP_ENTRIES],
    arp_next: usize,
    /// Our ICMP echo identifier, and the IP header id of the next packet.
    ident: u16,
    ip_id: u16,
    answered: u32,
}

impl Inet {
    /// Speak IPv4 as `ip` on `net`.
    pub fn new(net: Net, ip: Ipv4) -> Inet {
        let ident = crate::lguest_data::guestid();
        Inet { net, ip, arp: [None; ARP_ENTRIES], arp_next: 0, ident, ip_id: 1, answered: 0 }
    }

    /// Our address.
    pub fn ip(&self) -> Ipv4 {
        self.ip
    }

    /// Echo requests answered so far.
    pub fn answered(&self) -> u32 {
        self.answered
    }

    /// The MAC we know for `ip`.
    pub fn lookup(&self, ip: Ipv4) -> Option<Mac> {
        self.arp.iter().flatten().find(|(i, _)| *i == ip).map(|&(_, m)| m)
    }

    fn learn(&mut self, ip: Ipv4, mac: Mac) {
        if let Some(e) = self.arp.iter_mut().flatten().find(|(i, _)| *i == ip) {
            e.1 = mac;
            return;
        }
        self.arp[self.arp_next] = Some((ip, mac));
        self.arp_next = (self.arp_next + 1) % ARP_ENTRIES;
    }

    fn send_arp(&mut self, op: u16, dst_mac: Mac, target_mac: Mac, target_ip: Ipv4) {
        let mut f = Frame::zeroed(ETH_HLEN + ARP_LEN);
        let me = self.net.mac();
        f[0..6].copy_from_slice(&dst_mac);
        f[6..12].copy_from_slice(&me);
        f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
        let a = &mut f[ETH_HLEN..];
        a[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
        a[2..4].copy_from_slice(&ETH_P_IP.to_be_bytes());
        a[4] = 6;
        a[5] = 4;
        a[6..8].copy_from_slice(&op.to_be_bytes());
        a[8..14].copy_from_slice(&me);
        a[14..18].copy_from_slice(&self.ip);
        a[18..24].copy_from_slice(&target_mac);
        a[24..28].copy_from_slice(&target_ip);
        self.net.send(&f);
    }

    /// Send an IPv4 packet of protocol `proto` whose payload `fill` writes into the slice
    /// it is given (`len` bytes).
    pub fn send_ipv4(
        &mut self,
        dst_mac: Mac,
        dst: Ipv4,
        proto: u8,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) {
        let total = IP_HLEN + len;
        let mut f = Frame::zeroed(ETH_HLEN + total);
        if ETH_HLEN + total > FRAME_MAX {
            return;
        }
        f[0..6].copy_from_slice(&dst_mac);
        f[6..12].copy_from_slice(&self.net.mac());
        f[12..14].copy_from_slice(&ETH_P_IP.to_be_bytes());
        let ip = &mut f[ETH_HLEN..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&self.ip_id.to_be_bytes());
        ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
        ip[8] = 64;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&self.ip);
        ip[16..20].copy_from_slice(&dst);
        let sum = checksum(&ip[..IP_HLEN]);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        fill(&mut ip[IP_HLEN..total]);
        self.ip_id = self.ip_id.wrapping_add(1);
        self.net.send(&f);
    }

    fn send_icmp_echo(&mut self, dst_mac: Mac, dst: Ipv4, kind: u8, id: u16, seq: u16, data: &[u8]) {
        self.send_ipv4(dst_mac, dst, IPPROTO_ICMP, 8 + data.len(), |icmp| {
            icmp[0] = kind;
            icmp[4..6].copy_from_slice(&id.to_be_bytes());
            icmp[6..8].copy_from_slice(&seq.to_be_bytes());
            icmp[8..].copy_from_slice(data);
            let sum = checksum(icmp);
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        });
    }

    /// Look at a received frame: answer ARP requests for our address and echo requests to
    /// it, learn from ARP, and say what it was.
    pub fn handle(&mut self, f: &Frame) -> Packet {
        match f.ethertype() {
            ETH_P_ARP => self.handle_arp(f.payload()),
            ETH_P_IP => self.handle_ipv4(f.src(), f.payload()),
            _ => Packet::Other,
        }
    }

    fn handle_arp(&mut self, a: &[u8]) -> Packet {
        if a.len() < ARP_LEN || be16(a, 0) != 1 || be16(a, 2) != ETH_P_IP || a[4] != 6 || a[5] != 4 {
            return Packet::Other;
        }
        let (sender_mac, sender_ip, target_ip) = (mac_at(a, 8), ip_at(a, 14), ip_at(a, 24));
        match be16(a, 6) {
            ARP_REQUEST if target_ip == self.ip => {
                self.learn(sender_ip, sender_mac);
                self.send_arp(ARP_REPLY, sender_mac, sender_mac, sender_ip);
                Packet::Answered
            }
            ARP_REPLY if target_ip == self.ip => {
                self.learn(sender_ip, sender_mac);
                Packet::ArpReply { ip: sender_ip, mac: sender_mac }
            }
            _ => Packet::Other,
        }
    }

    fn handle_ipv4(&mut self, src_mac: Mac, p: &[u8]) -> Packet {
        if p.len() < IP_HLEN || p[0] >> 4 != 4 {
            return Packet::Other;
        }
        let hlen = usize::from(p[0] & 0xF) * 4;
        let total = usize::from(be16(p, 2));
        if hlen < IP_HLEN || total < hlen || total > p.len() || checksum(&p[..hlen]) != 0 {
            return Packet::Other;
        }
        let (src, dst) = (ip_at(p, 12), ip_at(p, 16));
        if dst != self.ip || p[9] != IPPROTO_ICMP {
            return Packet::Other;
        }
        let icmp = &p[hlen..total];
        if icmp.len() < 8 || checksum(icmp) != 0 {
            return Packet::Other;
        }
        let (id, seq) = (be16(icmp, 4), be16(icmp, 6));
        match icmp[0] {
            ICMP_ECHO_REQUEST => {
                self.learn(src, src_mac);
                self.send_icmp_echo(src_mac, src, ICMP_ECHO_REPLY, id, seq, &icmp[8..]);
                self.answered += 1;
                Packet::Answered
            }
            ICMP_ECHO_REPLY => Packet::EchoReply { from: src, id, seq, len: icmp.len() - 8 },
            _ => Packet::Other,
        }
    }

    /// Receive and handle one frame, waiting until `deadline` at most.
    pub fn poll_until(&mut self, deadline: u64) -> Option<Packet> {
        let f = self.net.recv_until(deadline)?;
        Some(self.handle(&f))
    }

    /// Find `ip`'s MAC, asking with ARP (again every 250 ms) until `deadline`.
    pub fn resolve(&mut self, ip: Ipv4, deadline: u64) -> Option<Mac> {
        loop {
            if let Some(mac) = self.lookup(ip) {
                return Some(mac);
            }
            let now = clock::now_ns();
            if now >= deadline {
                return None;
            }
            self.send_arp(ARP_REQUEST, BROADCAST, [0; 6], ip);
            let retry = deadline.min(now + ARP_RETRY_NS);
            while self.lookup(ip).is_none() && self.poll_until(retry).is_some() {}
        }
    }

    /// Ping `ip` once with sequence number `seq`, answering whatever else arrives, until
    /// `deadline`. Returns the round trip in nanoseconds.
    pub fn ping(&mut self, ip: Ipv4, seq: u16, deadline: u64) -> Option<u64> {
        let mac = self.resolve(ip, deadline)?;
        let mut data = [0u8; PING_DATA];
        for (i, b) in data.iter_mut().enumerate() {
            *b = i as u8;
        }
        let sent = clock::now_ns();
        let id = self.ident;
        self.send_icmp_echo(mac, ip, ICMP_ECHO_REQUEST, id, seq, &data);
        loop {
            match self.poll_until(deadline)? {
                Packet::EchoReply { from, id: i, seq: s, .. } if from == ip && i == id && s == seq => {
                    return Some(clock::now_ns() - sent);
                }
                _ => {}
            }
        }
    }
}
