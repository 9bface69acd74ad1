//! net_guest: one Guest for every network test and the network benchmark. The command
//! line picks what it does (`mode=...`) and how (`key=value` words):
//!
//! | mode | words | what |
//! |---|---|---|
//! | `pinger` | `ip= peer= count=N [serve=M]` | ping `peer` until N replies and answer M pings (default 0), power off |
//! | `responder` | `ip= [serve=M]` | answer ARP and pings until M answered (or the timeout), power off |
//! | `listen` | `[promisc=1] until=TEXT` | print every test frame (EtherType 0x88b5) until one says TEXT |
//! | `send` | `send=DEST:TEXT,...` | send test frames, DEST `bcast`, `idN` (guest N's MAC) or a MAC with dashes |
//! | `flood` | `to=DEST count=N [len=L]` | send N frames of L bytes (default 1514) as fast as it can, then "end" |
//! | `sink` | `[count=N]` | count test frames until "end" (or N); report `bench net_rx FRAMES NS BYTES` |
//! | `bad_send` | | SEND_DMA a descriptor whose section crosses a page (Sudden Death) |
//! | `bad_bind` | | bind a receive buffer outside memory, wait for a frame (Sudden Death) |
//!
//! Every mode prints `net_guest: up mac MAC` once its device is ready (tests wait for it),
//! and gives up after `timeout=S` seconds (default 30): a crash, except for `responder`
//! with no `serve`, which then powers off.
#![no_std]
#![no_main]

use guest::abi::{
    LGUEST_DEVICE_T_NET, LGUEST_NET_GUEST_SLOT, LGUEST_NET_LAUNCHER_SLOT, LguestDma, lguest_net_key,
};
use guest::inet::{self, Inet, IpDisplay, cmdline_arg};
use guest::net::{BROADCAST, FRAME_MAX, Frame, Mac, MacDisplay, Net};
use guest::{BootInfo, clock, crash_fmt, println};

guest::entry!(kmain);

/// The EtherType of test frames (IEEE 802 local experimental).
const ETH_P_TEST: u16 = 0x88b5;

fn kmain(_boot: &'static BootInfo) -> ! {
    let mode = cmdline_arg("mode").unwrap_or("responder");
    match mode {
        "pinger" => ping(num("count", 3), Some(num("serve", 0))),
        "responder" => ping(0, cmdline_arg("serve").map(|_| num("serve", 0))),
        "listen" => listen(),
        "send" => send(),
        "flood" => flood(),
        "sink" => sink(),
        "bad_send" => bad_send(),
        "bad_bind" => bad_bind(),
        other => crash_fmt(format_args!("net_guest: unknown mode '{other}'")),
    }
    println!("net_guest: done");
    guest::power_off()
}

fn num(key: &str, default: u32) -> u32 {
    cmdline_arg(key).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn deadline() -> u64 {
    clock::now_ns() + u64::from(num("timeout", 30)) * 1_000_000_000
}

fn ip_arg(key: &str) -> inet::Ipv4 {
    inet::cmdline_ipv4(key).unwrap_or_else(|| crash_fmt(format_args!("net_guest: give {key}=a.b.c.d")))
}

fn open() -> Net {
    let mut net = Net::open().unwrap_or_else(|e| crash_fmt(format_args!("net_guest: no network: {e:?}")));
    if num("promisc", 0) != 0 {
        net.set_promisc(true);
    }
    println!("net_guest: up mac {}", MacDisplay(net.mac()));
    net
}

/// `idN`, `bcast` or `02-00-00-00-00-07`.
fn parse_dest(s: &str) -> Mac {
    if s == "bcast" {
        return BROADCAST;
    }
    if let Some(id) = s.strip_prefix("id").and_then(|n| n.parse().ok()) {
        return guest::abi::lguest_net_mac(id);
    }
    let mut mac = [0u8; 6];
    let mut parts = s.split('-');
    for b in mac.iter_mut() {
        *b = parts.next().and_then(|p| u8::from_str_radix(p, 16).ok()).unwrap_or_else(|| {
            crash_fmt(format_args!("net_guest: '{s}' is not bcast, idN or a MAC like 02-00-00-00-00-07"))
        });
    }
    mac
}

fn test_frame(net: &Net, dst: Mac, text: &[u8], len: usize) -> Frame {
    let mut f = Frame::zeroed(len.max(14 + text.len()));
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&net.mac());
    f[12..14].copy_from_slice(&ETH_P_TEST.to_be_bytes());
    f[14..14 + text.len()].copy_from_slice(text);
    f
}

/// The text of a test frame: its payload up to the first NUL.
fn text(f: &Frame) -> &str {
    let p = f.payload();
    let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
    core::str::from_utf8(&p[..end]).unwrap_or("?")
}

fn ping(count: u32, serve: Option<u32>) {
    let ip = ip_arg("ip");
    let mut inet = Inet::new(open(), ip);
    println!("net_guest: ip {}", IpDisplay(ip));
    let end = deadline();
    if count > 0 {
        let peer = ip_arg("peer");
        let (mut replies, mut seq) = (0, 0u16);
        while replies < count {
            seq = seq.wrapping_add(1);
            if clock::now_ns() >= end {
                crash_fmt(format_args!(
                    "net_guest: timed out with {replies} of {count} replies from {}",
                    IpDisplay(peer)
                ));
            }
            let try_until = end.min(clock::now_ns() + 1_000_000_000);
            match inet.ping(peer, seq, try_until) {
                Some(rtt) => {
                    replies += 1;
                    println!("net_guest: reply from {} seq={seq} time={} us", IpDisplay(peer), rtt / 1000);
                }
                None => println!("net_guest: no reply from {} seq={seq}", IpDisplay(peer)),
            }
        }
    }
    loop {
        if serve.is_some_and(|s| inet.answered() >= s) {
            break;
        }
        if inet.poll_until(end).is_none() && clock::now_ns() >= end {
            if serve.is_none() {
                break;
            }
            crash_fmt(format_args!("net_guest: timed out having answered {} pings", inet.answered()));
        }
    }
    println!("net_guest: answered {} pings", inet.answered());
}

fn listen() {
    let mut net = open();
    let until = cmdline_arg("until").unwrap_or("end");
    let end = deadline();
    loop {
        let Some(f) = net.recv_until(end) else {
            crash_fmt(format_args!("net_guest: timed out waiting for '{until}'"));
        };
        if f.ethertype() != ETH_P_TEST {
            continue;
        }
        println!("net_guest: got '{}' from {} to {}", text(&f), MacDisplay(f.src()), MacDisplay(f.dst()));
        if text(&f) == until {
            return;
        }
    }
}

fn send() {
    let mut net = open();
    let list = cmdline_arg("send").unwrap_or("");
    for item in list.split(',').filter(|s| !s.is_empty()) {
        let Some((dest, msg)) = item.split_once(':') else {
            crash_fmt(format_args!("net_guest: '{item}' is not DEST:TEXT"));
        };
        let f = test_frame(&net, parse_dest(dest), msg.as_bytes(), 60);
        let ok = net.send(&f);
        println!("net_guest: sent '{msg}' to {dest}{}", if ok { "" } else { " (not taken)" });
    }
}

fn flood() {
    let mut net = open();
    let dst = parse_dest(cmdline_arg("to").unwrap_or("bcast"));
    let count = num("count", 1000);
    let len = (num("len", FRAME_MAX as u32) as usize).clamp(60, FRAME_MAX);
    let mut f = test_frame(&net, dst, b"data", len);
    let start = clock::now_ns();
    for i in 0..count {
        f[20..24].copy_from_slice(&i.to_be_bytes());
        net.send(&f);
    }
    let ns = clock::now_ns() - start;
    // The end marker, a few times in case a receiver's queue was full.
    let end = test_frame(&net, dst, b"end", 60);
    for _ in 0..5 {
        net.send(&end);
        clock::spin_until(clock::now_ns() + 2_000_000);
    }
    println!("net_guest: sent {count} frames of {len} bytes in {} us", ns / 1000);
    println!("bench net_tx {count} {ns} {}", u64::from(count) * len as u64);
}

fn sink() {
    let mut net = open();
    let count = num("count", u32::MAX);
    let end = deadline();
    let (mut frames, mut bytes, mut first, mut last) = (0u32, 0u64, 0u64, 0u64);
    let mut done = false;
    // Frames are looked at where they arrived: copying each would cost more than the rest.
    while !done && frames < count && net.wait_until(end) {
        while let Some(seen) = net.recv_with(|f| {
            let test = f.len() >= 17 && f[12..14] == ETH_P_TEST.to_be_bytes();
            match test {
                true if &f[14..17] == b"end" => Seen::End,
                true => Seen::Data(f.len()),
                false => Seen::Other,
            }
        }) {
            match seen {
                Seen::End => {
                    done = true;
                    break;
                }
                Seen::Data(len) => {
                    last = clock::now_ns();
                    if frames == 0 {
                        first = last;
                    }
                    frames += 1;
                    bytes += len as u64;
                    if frames >= count {
                        break;
                    }
                }
                Seen::Other => {}
            }
        }
    }
    println!("net_guest: received {frames} frames, {bytes} bytes");
    // From the first frame to the last, so the wait for the sender to start is not counted
    // (one frame's time is missing; with thousands of frames it does not matter).
    println!("bench net_rx {frames} {} {bytes}", last - first);
}

/// What the sink made of a frame.
enum Seen {
    End,
    Data(usize),
    Other,
}

/// The network device's page, found by hand (these modes misuse it).
fn device_page() -> u32 {
    guest::bus::find(LGUEST_DEVICE_T_NET, 0)
        .unwrap_or_else(|| crash_fmt(format_args!("net_guest: no network device")))
        .phys()
}

fn bad_send() {
    let page = device_page();
    println!("net_guest: up (hostile)");
    let mut dma = LguestDma::default();
    // A section from 16 bytes before a page boundary, 64 bytes long.
    dma.addr[0] = 0x20_0000 - 16;
    dma.len[0] = 64;
    guest::dma::send_dma(lguest_net_key(page, LGUEST_NET_LAUNCHER_SLOT), &mut dma);
    crash_fmt(format_args!("net_guest: the Host took a DMA section that crosses a page"));
}

static BAD_RX: guest::Global<LguestDma> =
    guest::Global::new(LguestDma { used_len: 0, addr: [0; 16], len: [0; 16] });

fn bad_bind() {
    let dev = guest::bus::find(LGUEST_DEVICE_T_NET, 0)
        .unwrap_or_else(|| crash_fmt(format_args!("net_guest: no network device")));
    let page = dev.phys();
    // SAFETY: BAD_RX is ours alone; its one section points far outside guest memory.
    unsafe {
        (*BAD_RX.get()).addr[0] = 0xF000_0000;
        (*BAD_RX.get()).len[0] = FRAME_MAX as u16;
    }
    // Publish a MAC so the Launcher passes frames on.
    let mac = guest::abi::lguest_net_mac(guest::lguest_data::guestid());
    // SAFETY: slot 1 of the device's page, mapped by the boot page tables.
    unsafe { dev.page().add(6 * LGUEST_NET_GUEST_SLOT as usize).cast::<Mac>().write_volatile(mac) };
    guest::traps::set_handler(
        guest::abi::FIRST_EXTERNAL_VECTOR + dev.irq() as u8,
        guest::idt::Gate::INTERRUPT,
        |_| {},
    );
    guest::traps::set_handler(clock::CLOCK_VECTOR, guest::idt::Gate::INTERRUPT, |_| {});
    // SAFETY: the descriptor is a static; the Host is expected to refuse its section.
    let bound = unsafe {
        guest::dma::bind_dma(lguest_net_key(page, LGUEST_NET_GUEST_SLOT), BAD_RX.get(), 1, dev.irq())
    };
    println!("net_guest: up mac {} (hostile, bound={bound})", MacDisplay(mac));
    let end = deadline();
    while clock::now_ns() < end {
        clock::set_clockevent(100_000_000);
        guest::halt();
    }
    crash_fmt(format_args!("net_guest: no frame came to the bad buffer"));
}
