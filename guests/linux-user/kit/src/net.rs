//! IPv4 sockets and interface configuration: `socket`, `bind`, `sendto`, `recvfrom`,
//! `setsockopt`, and the `ioctl`s that give an interface an address and bring it up.
//!
//! i386 Linux 2.6.23 has no separate system calls for sockets: every socket call goes
//! through `socketcall(2)` (number 102) with the call's number and a pointer to its
//! arguments in memory. (Today's kernels also have direct calls, which 2.6.23 refuses with
//! ENOSYS; that is why Debian's klibc `ipconfig` cannot configure a 2.6.23 interface.)
//!
//! Addresses are [`SockaddrIn`] with the IPv4 address as four bytes and the port in host
//! order; the conversion to network order happens here.

use crate::Result;
use crate::syscall::{check, nr, syscall2, syscall3};

/// `socketcall` call numbers.
mod call {
    pub const SOCKET: u32 = 1;
    pub const BIND: u32 = 2;
    pub const SENDTO: u32 = 11;
    pub const RECVFROM: u32 = 12;
    pub const SETSOCKOPT: u32 = 14;
}

pub const AF_INET: u32 = 2;
pub const SOCK_STREAM: u32 = 1;
pub const SOCK_DGRAM: u32 = 2;
pub const SOCK_RAW: u32 = 3;
pub const IPPROTO_ICMP: u32 = 1;
pub const SOL_SOCKET: u32 = 1;
pub const SO_RCVTIMEO: u32 = 20;

/// Interface `ioctl`s (`include/linux/sockios.h`).
pub const SIOCGIFFLAGS: u32 = 0x8913;
pub const SIOCSIFFLAGS: u32 = 0x8914;
pub const SIOCSIFADDR: u32 = 0x8916;
pub const SIOCSIFNETMASK: u32 = 0x891C;
pub const SIOCGIFHWADDR: u32 = 0x8927;
pub const IFF_UP: u16 = 0x1;
pub const IFF_RUNNING: u16 = 0x40;

/// `struct sockaddr_in`, 16 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockaddrIn {
    pub addr: [u8; 4],
    pub port: u16,
}

impl SockaddrIn {
    fn to_raw(self) -> [u8; 16] {
        let mut raw = [0u8; 16];
        raw[..2].copy_from_slice(&(AF_INET as u16).to_le_bytes());
        raw[2..4].copy_from_slice(&self.port.to_be_bytes());
        raw[4..8].copy_from_slice(&self.addr);
        raw
    }

    fn from_raw(raw: &[u8; 16]) -> SockaddrIn {
        SockaddrIn { addr: [raw[4], raw[5], raw[6], raw[7]], port: u16::from_be_bytes([raw[2], raw[3]]) }
    }
}

/// `a.b.c.d` as four bytes.
pub fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for b in &mut out {
        *b = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// `socketcall(call, args)`.
fn socketcall(call: u32, args: &[u32]) -> Result<u32> {
    // SAFETY: `args` is the call's argument block; each pointer in it is to memory that
    // the caller keeps valid for the call, sized as the call expects.
    check(unsafe { syscall2(nr::SOCKETCALL, call, args.as_ptr() as u32) })
}

pub fn socket(domain: u32, kind: u32, protocol: u32) -> Result<i32> {
    socketcall(call::SOCKET, &[domain, kind, protocol]).map(|fd| fd as i32)
}

pub fn bind(fd: i32, addr: SockaddrIn) -> Result<()> {
    let raw = addr.to_raw();
    socketcall(call::BIND, &[fd as u32, raw.as_ptr() as u32, 16]).map(drop)
}

pub fn sendto(fd: i32, buf: &[u8], to: SockaddrIn) -> Result<usize> {
    let raw = to.to_raw();
    socketcall(call::SENDTO, &[fd as u32, buf.as_ptr() as u32, buf.len() as u32, 0, raw.as_ptr() as u32, 16])
        .map(|n| n as usize)
}

/// Receive one datagram: its length and where it came from.
pub fn recvfrom(fd: i32, buf: &mut [u8]) -> Result<(usize, SockaddrIn)> {
    let mut raw = [0u8; 16];
    let mut len: u32 = 16;
    let args = [
        fd as u32,
        buf.as_mut_ptr() as u32,
        buf.len() as u32,
        0,
        raw.as_mut_ptr() as u32,
        &raw mut len as u32,
    ];
    socketcall(call::RECVFROM, &args).map(|n| (n as usize, SockaddrIn::from_raw(&raw)))
}

/// Give up a blocking receive after `ms` milliseconds (EAGAIN).
pub fn set_receive_timeout(fd: i32, ms: u32) -> Result<()> {
    let tv = [ms / 1000, (ms % 1000) * 1000];
    socketcall(call::SETSOCKOPT, &[fd as u32, SOL_SOCKET, SO_RCVTIMEO, tv.as_ptr() as u32, 8]).map(drop)
}

/// `struct ifreq`: the interface's name and 16 bytes of request.
#[repr(C)]
struct Ifreq {
    name: [u8; 16],
    data: [u8; 16],
}

fn ifreq(name: &str) -> Ifreq {
    let mut r = Ifreq { name: [0; 16], data: [0; 16] };
    let n = name.len().min(15);
    r.name[..n].copy_from_slice(&name.as_bytes()[..n]);
    r
}

fn ioctl(fd: i32, request: u32, r: &mut Ifreq) -> Result<()> {
    // SAFETY: the interface ioctls read and write one struct ifreq.
    check(unsafe { syscall3(nr::IOCTL, fd as u32, request, r as *mut Ifreq as u32) }).map(drop)
}

/// Give interface `name` the address `addr` with netmask `mask` and bring it up.
pub fn if_up(name: &str, addr: [u8; 4], mask: [u8; 4]) -> Result<()> {
    let fd = socket(AF_INET, SOCK_DGRAM, 0)?;
    let result = (|| {
        let mut r = ifreq(name);
        r.data = SockaddrIn { addr, port: 0 }.to_raw();
        ioctl(fd, SIOCSIFADDR, &mut r)?;
        r.data = SockaddrIn { addr: mask, port: 0 }.to_raw();
        ioctl(fd, SIOCSIFNETMASK, &mut r)?;
        ioctl(fd, SIOCGIFFLAGS, &mut r)?;
        let flags = u16::from_le_bytes([r.data[0], r.data[1]]) | IFF_UP | IFF_RUNNING;
        r.data[..2].copy_from_slice(&flags.to_le_bytes());
        ioctl(fd, SIOCSIFFLAGS, &mut r)
    })();
    let _ = crate::fs::close(fd);
    result
}

/// Interface `name`'s hardware (MAC) address.
pub fn if_hwaddr(name: &str) -> Result<[u8; 6]> {
    let fd = socket(AF_INET, SOCK_DGRAM, 0)?;
    let mut r = ifreq(name);
    let result = ioctl(fd, SIOCGIFHWADDR, &mut r);
    let _ = crate::fs::close(fd);
    result.map(|()| {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&r.data[2..8]);
        mac
    })
}

/// The Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += word as u32;
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}
