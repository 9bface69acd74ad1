//! `net`: the network commands the tests run in a Linux Guest (its klibc tools cannot
//! configure a 2.6.23 interface: see the kit's `net` module).
//!
//! - `net up IFNAME A.B.C.D`: give the interface the address (netmask 255.255.255.0) and
//!   bring it up; prints its MAC.
//! - `net udp-echo PORT COUNT`: answer COUNT UDP datagrams on PORT with the same bytes,
//!   printing each (gives up after 30 s without one).
//! - `net udp-ping A.B.C.D PORT TEXT`: send TEXT to the address and port and print the
//!   answer (up to 5 tries, a second apart).
//! - `net ping A.B.C.D COUNT`: ICMP echo requests, printing each reply.
//!
//! Exit status 0 when everything asked for happened, 1 otherwise.

#![no_std]
#![no_main]

use linux::net::{self, SockaddrIn};
use linux::println;

linux::entry!(main);

fn arg(i: usize) -> &'static str {
    linux::arg(i).and_then(|a| core::str::from_utf8(a).ok()).unwrap_or("")
}

fn ip(i: usize) -> Option<[u8; 4]> {
    net::parse_ipv4(arg(i))
}

struct Ip([u8; 4]);

impl core::fmt::Display for Ip {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

fn main() -> i32 {
    let ok = match (arg(1), ip(3), arg(3).parse::<u32>().ok()) {
        ("up", Some(addr), _) => up(arg(2), addr),
        ("udp-echo", _, Some(count)) => arg(2).parse().is_ok_and(|port| udp_echo(port, count)),
        ("udp-ping", _, _) => match (ip(2), arg(3).parse()) {
            (Some(addr), Ok(port)) => udp_ping(addr, port, arg(4)),
            _ => usage(),
        },
        ("ping", _, Some(count)) => ip(2).is_some_and(|addr| ping(addr, count)),
        _ => usage(),
    };
    if ok { 0 } else { 1 }
}

fn usage() -> bool {
    println!(
        "usage: net up IFNAME A.B.C.D | udp-echo PORT COUNT | udp-ping A.B.C.D PORT TEXT | ping A.B.C.D COUNT"
    );
    false
}

fn up(name: &str, addr: [u8; 4]) -> bool {
    if let Err(e) = net::if_up(name, addr, [255, 255, 255, 0]) {
        println!("net: {name}: {e}");
        return false;
    }
    match net::if_hwaddr(name) {
        Ok([a, b, c, d, e, f]) => {
            println!("net: {name} is up at {} ({a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x})", Ip(addr));
            true
        }
        Err(e) => {
            println!("net: {name}: {e}");
            false
        }
    }
}

fn udp_echo(port: u16, count: u32) -> bool {
    let result = (|| {
        let fd = net::socket(net::AF_INET, net::SOCK_DGRAM, 0)?;
        net::bind(fd, SockaddrIn { addr: [0; 4], port })?;
        net::set_receive_timeout(fd, 30_000)?;
        println!("net: answering {count} datagrams on port {port}");
        let mut buf = [0u8; 1500];
        for _ in 0..count {
            let (n, from) = net::recvfrom(fd, &mut buf)?;
            let text = core::str::from_utf8(&buf[..n]).unwrap_or("(not text)");
            println!("net: {} bytes from {}:{}: {text}", n, Ip(from.addr), from.port);
            net::sendto(fd, &buf[..n], from)?;
        }
        Ok(())
    })();
    result.map_err(|e: linux::Errno| println!("net: udp-echo: {e}")).is_ok()
}

fn udp_ping(addr: [u8; 4], port: u16, text: &str) -> bool {
    let result = (|| {
        let fd = net::socket(net::AF_INET, net::SOCK_DGRAM, 0)?;
        net::set_receive_timeout(fd, 1_000)?;
        let mut buf = [0u8; 1500];
        for _ in 0..5 {
            net::sendto(fd, text.as_bytes(), SockaddrIn { addr, port })?;
            match net::recvfrom(fd, &mut buf) {
                Ok((n, from)) => {
                    let answer = core::str::from_utf8(&buf[..n]).unwrap_or("(not text)");
                    println!("net: answer from {}:{}: {answer}", Ip(from.addr), from.port);
                    return Ok(answer == text);
                }
                Err(linux::Errno::EAGAIN) => continue,
                Err(e) => return Err(e),
            }
        }
        println!("net: no answer from {}:{port}", Ip(addr));
        Ok(false)
    })();
    result.unwrap_or_else(|e| {
        println!("net: udp-ping: {e}");
        false
    })
}

fn ping(addr: [u8; 4], count: u32) -> bool {
    let result = (|| {
        let fd = net::socket(net::AF_INET, net::SOCK_RAW, net::IPPROTO_ICMP)?;
        net::set_receive_timeout(fd, 1_000)?;
        let id = linux::process::getpid() as u16;
        let mut answered = 0;
        for seq in 1..=count as u16 {
            let mut req = [0u8; 16];
            req[0] = 8; // echo request
            req[4..6].copy_from_slice(&id.to_be_bytes());
            req[6..8].copy_from_slice(&seq.to_be_bytes());
            req[8..].copy_from_slice(b"lguest!!");
            let sum = net::checksum(&req);
            req[2..4].copy_from_slice(&sum.to_be_bytes());
            net::sendto(fd, &req, SockaddrIn { addr, port: 0 })?;
            let mut buf = [0u8; 1500];
            // Raw ICMP sockets get every ICMP packet: wait for our reply, a second at most.
            for _ in 0..16 {
                let (n, from) = match net::recvfrom(fd, &mut buf) {
                    Ok(r) => r,
                    Err(linux::Errno::EAGAIN) => break,
                    Err(e) => return Err(e),
                };
                let ihl = ((buf[0] & 0xF) as usize) * 4;
                let icmp = &buf[ihl.min(n)..n];
                let ours = icmp.len() >= 8
                    && icmp[0] == 0
                    && icmp[4..6] == id.to_be_bytes()
                    && icmp[6..8] == seq.to_be_bytes();
                if ours && from.addr == addr {
                    println!("net: echo reply from {} seq {seq}", Ip(addr));
                    answered += 1;
                    break;
                }
            }
        }
        println!("net: {answered} of {count} pings answered");
        Ok(answered == count)
    })();
    result.unwrap_or_else(|e| {
        println!("net: ping: {e}");
        false
    })
}
