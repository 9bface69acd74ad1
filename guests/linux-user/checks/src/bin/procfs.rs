//! /proc: the fields of `/proc/self/stat` and `status` that say what the system calls
//! say (pids, state, threads, the virtual size growing by what `mmap` added), the shape
//! of `/proc/self/maps` (what lines our own mappings make, not addresses), the links
//! under `/proc/self`, other processes' states, and the presence and shape of the
//! system-wide files (`meminfo`, `stat`, `uptime`, `version`, `mounts`, ...), never
//! their numbers. `/proc/cpuinfo` is only looked for.
//!
//! Run with no arguments.

#![no_std]
#![no_main]

use linux::check::Report;
use linux::fs::{self, O_RDONLY, close, open, readlink};
use linux::mm::{self, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE, mmap, mmap_anon, mprotect, munmap};
use linux::process::{self, fork_child, getpgrp, getpid, getppid, getsid, getuid, kill, wait_for, wait4};
use linux::signal::{SIGKILL, SIGSTOP};
use linux::{Bytes, CBuf, cbuf};

linux::entry!(main);

fn main() -> i32 {
    let mut t = Report::new();
    self_stat(&mut t);
    self_status(&mut t);
    self_links(&mut t);
    maps(&mut t);
    others(&mut t);
    system(&mut t);
    t.finish()
}

/// A /proc file's text (up to 16 KiB).
struct Text {
    buf: [u8; 16384],
    len: usize,
}

impl Text {
    fn read(path: &core::ffi::CStr) -> Text {
        let mut text = Text { buf: [0; 16384], len: 0 };
        text.len = fs::read_file(path, &mut text.buf).unwrap_or(0);
        text
    }
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.bytes().split(|&b| b == b'\n').filter(|l| !l.is_empty())
    }
    /// The line that starts with `prefix`.
    fn line(&self, prefix: &[u8]) -> Option<&[u8]> {
        self.lines().find(|l| l.starts_with(prefix))
    }
}

fn num(field: &[u8]) -> Option<i64> {
    let (neg, digits) = match field.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, field),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
    Some(if neg { -v } else { v })
}

/// Field `n` (1-based, as in proc(5)) of a `/proc/PID/stat` line. The command name
/// (field 2) may hold spaces, so fields after it are counted from its closing `)`.
fn stat_field(line: &[u8], n: usize) -> Option<&[u8]> {
    let open = line.iter().position(|&b| b == b'(')?;
    let close = line.iter().rposition(|&b| b == b')')?;
    match n {
        1 => Some(line[..open].trim_ascii()),
        2 => Some(&line[open..=close]),
        _ => line[close + 1..].split(|&b| b == b' ').filter(|f| !f.is_empty()).nth(n - 3),
    }
}

fn stat_num(line: &[u8], n: usize) -> Option<i64> {
    stat_field(line, n).and_then(num)
}

fn self_stat(t: &mut Report) {
    t.section("/proc/self/stat");
    let stat = Text::read(c"/proc/self/stat");
    let line = stat.bytes();
    t.ok("it ends with a newline", line.ends_with(b"\n"));
    t.same("field 1, pid", stat_num(line, 1), Some(i64::from(getpid())));
    t.eq("field 2, comm", stat_field(line, 2).map(Bytes), Some(Bytes(b"(procfs)")));
    t.eq("field 3, state", stat_field(line, 3).map(Bytes), Some(Bytes(b"R")));
    t.same("field 4, ppid", stat_num(line, 4), Some(i64::from(getppid())));
    t.same("field 5, pgrp", stat_num(line, 5), Some(i64::from(getpgrp())));
    t.same("field 6, session", stat_num(line, 6), getsid(0).ok().map(i64::from));
    t.eq("field 20, num_threads", stat_num(line, 20), Some(1));
    t.ok(
        "fields 1 to 41 are there and numbers after comm and state",
        (4..=41).all(|n| stat_num(line, n).is_some()),
    );

    let vsize = || stat_num(Text::read(c"/proc/self/stat").bytes(), 23).unwrap_or(0);
    let before = vsize();
    let m = mmap_anon(256 * PAGE_SIZE).expect("mmap");
    let grown = vsize() - before;
    // SAFETY: ours, unused after.
    unsafe { munmap(m, 256 * PAGE_SIZE) }.expect("munmap");
    let after = vsize() - before;
    t.eq("field 23, vsize: how much a 1 MiB mmap adds, and after munmap", (grown, after), (1 << 20, 0));

    let statm = Text::read(c"/proc/self/statm");
    let fields: usize = statm.bytes().split(|&b| b == b' ').filter(|f| num(f.trim_ascii()).is_some()).count();
    t.eq("/proc/self/statm: numbers", fields, 7);
}

fn self_status(t: &mut Report) {
    t.section("/proc/self/status");
    let status = Text::read(c"/proc/self/status");
    t.eq("Name", status.line(b"Name:").map(Bytes), Some(Bytes(b"Name:\tprocfs")));
    t.eq("State", status.line(b"State:").map(Bytes), Some(Bytes(b"State:\tR (running)")));
    let value = |key: &[u8]| status.line(key).map(|l| l[key.len()..].trim_ascii()).and_then(num);
    t.same("Pid", value(b"Pid:"), Some(i64::from(getpid())));
    t.same("Tgid", value(b"Tgid:"), Some(i64::from(getpid())));
    t.same("PPid", value(b"PPid:"), Some(i64::from(getppid())));
    t.eq("Threads", value(b"Threads:"), Some(1));
    let uid = status
        .line(b"Uid:")
        .map(|l| l[4..].split(|&b| b == b'\t').filter_map(num).filter(|&u| u == i64::from(getuid())).count());
    t.eq("Uid: real, effective, saved and fs uid are getuid", uid, Some(4));
}

fn link(path: &core::ffi::CStr) -> Option<CBuf> {
    let mut buf = [0u8; 256];
    readlink(path, &mut buf).ok().map(|n| CBuf::from_bytes(&buf[..n]))
}

fn self_links(t: &mut Report) {
    t.section("/proc/self links");
    let exe = link(c"/proc/self/exe");
    t.eq("exe ends with /procfs", exe.map(|e| e.as_bytes().ends_with(b"/procfs")), Some(true));
    let mut cwd = [0u8; 256];
    let here = fs::getcwd(&mut cwd).map(|n| CBuf::from_bytes(&cwd[..n])).ok();
    t.eq("cwd is getcwd", link(c"/proc/self/cwd") == here, true);
    let fd = open(c"/dev/null", O_RDONLY, 0).expect("open");
    t.eq("fd/N of /dev/null", link(&cbuf!("/proc/self/fd/{fd}")), Some(cbuf!("/dev/null")));
    close(fd).expect("close");
    t.eq("fd/N after close", link(&cbuf!("/proc/self/fd/{fd}")), None);
    let [rd, wr] = fs::pipe().expect("pipe");
    let pipe = link(&cbuf!("/proc/self/fd/{rd}"));
    t.eq("fd/N of a pipe starts with pipe:[", pipe.map(|p| p.as_bytes().starts_with(b"pipe:[")), Some(true));
    close(rd).expect("close");
    close(wr).expect("close");
    let cmdline = Text::read(c"/proc/self/cmdline");
    let args = cmdline.bytes().split(|&b| b == 0).filter(|a| !a.is_empty()).count();
    t.eq("cmdline: NUL-separated arguments", args, linux::argc());
    t.eq(
        "/proc/self is a link to our pid",
        link(c"/proc/self").map(|l| l == cbuf!("{}", getpid())),
        Some(true),
    );
}

/// The lines of /proc/self/maps that cover `[base, base + len)`, clipped to it, as
/// `+OFFSET-+END PERMS` (offsets from `base`, in pages), then the count.
fn maps_of(base: u32, len: u32) -> CBuf {
    let maps = Text::read(c"/proc/self/maps");
    let mut out = CBuf::new();
    for line in maps.lines() {
        let mut fields = line.split(|&b| b == b' ');
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else { continue };
        let mut ends = range.split(|&b| b == b'-').map(hex);
        let (Some(Some(start)), Some(Some(end))) = (ends.next(), ends.next()) else { continue };
        if end <= base || start >= base + len {
            continue;
        }
        let (s, e) = (start.max(base) - base, end.min(base + len) - base);
        let _ = core::fmt::Write::write_fmt(
            &mut out,
            format_args!("+{}-+{} {} ", s / PAGE_SIZE, e / PAGE_SIZE, Bytes(perms)),
        );
    }
    out.finish()
}

fn hex(s: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in s {
        v = v.checked_mul(16)? + (c as char).to_digit(16)?;
    }
    Some(v)
}

fn maps(t: &mut Report) {
    t.section("/proc/self/maps");
    let m = mmap_anon(3 * PAGE_SIZE).expect("mmap");
    t.eq("a 3-page read-write mapping", maps_of(m, 3 * PAGE_SIZE), cbuf!("+0-+3 rw-p "));
    // SAFETY: ours; nothing is written to the middle page after.
    unsafe { mprotect(m + PAGE_SIZE, PAGE_SIZE, PROT_READ) }.expect("mprotect");
    t.eq(
        "its middle page made read-only",
        maps_of(m, 3 * PAGE_SIZE),
        cbuf!("+0-+1 rw-p +1-+2 r--p +2-+3 rw-p "),
    );
    // SAFETY: ours, unused after.
    unsafe { munmap(m + 2 * PAGE_SIZE, PAGE_SIZE) }.expect("munmap");
    t.eq("its last page unmapped", maps_of(m, 3 * PAGE_SIZE), cbuf!("+0-+1 rw-p +1-+2 r--p "));
    // SAFETY: ours, unused after.
    unsafe { munmap(m, 2 * PAGE_SIZE) }.expect("munmap");
    t.eq("all of it unmapped", maps_of(m, 3 * PAGE_SIZE), cbuf!(""));
    let shared =
        mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, mm::MAP_SHARED | mm::MAP_ANONYMOUS, -1, 0).expect("mmap");
    t.eq("a shared mapping", maps_of(shared, PAGE_SIZE), cbuf!("+0-+1 rw-s "));
    // SAFETY: ours, unused after.
    unsafe { munmap(shared, PAGE_SIZE) }.expect("munmap");

    let exe = open(c"/proc/self/exe", O_RDONLY, 0).expect("open our own program");
    let file = mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE, exe, 0).expect("mmap");
    let maps = Text::read(c"/proc/self/maps");
    let line = maps.lines().find(|l| l.starts_with(&hex8(file)));
    let shape = line.map(|l| {
        let f: [&[u8]; 6] = {
            let mut it = l.split(|&b| b == b' ').filter(|f| !f.is_empty());
            core::array::from_fn(|_| it.next().unwrap_or(b""))
        };
        (Bytes(f[1]), Bytes(f[2]), f[5].ends_with(b"/procfs"))
    });
    t.eq(
        "our program mapped read-only: (perms, offset, path ends with /procfs)",
        shape,
        Some((Bytes(b"r--p"), Bytes(b"00000000"), true)),
    );
    // SAFETY: ours, unused after.
    unsafe { munmap(file, PAGE_SIZE) }.expect("munmap");
    close(exe).expect("close");

    let text =
        maps.lines().any(|l| l.split(|&b| b == b' ').nth(1) == Some(b"r-xp") && l.ends_with(b"/procfs"));
    t.ok("a r-xp line for our program's code", text);
    let stack =
        maps.lines().any(|l| l.ends_with(b"[stack]") && l.split(|&b| b == b' ').nth(1) == Some(b"rw-p"));
    t.ok("a rw-p [stack] line", stack);
    // SAFETY: growing the break adds memory no one uses yet; it is given back after.
    let heap = unsafe {
        let start = mm::brk(0);
        mm::brk(start + 2 * PAGE_SIZE);
        let maps = Text::read(c"/proc/self/maps");
        let heap =
            maps.lines().any(|l| l.ends_with(b"[heap]") && l.split(|&b| b == b' ').nth(1) == Some(b"rw-p"));
        mm::brk(start);
        heap
    };
    t.ok("a rw-p [heap] line once brk grew", heap);
}

/// `addr` as /proc/self/maps starts a line with it: 8 lowercase hex digits.
fn hex8(addr: u32) -> [u8; 8] {
    core::array::from_fn(|i| b"0123456789abcdef"[(addr >> (28 - 4 * i) & 0xf) as usize])
}

fn state_of(pid: i32) -> Option<u8> {
    let text = Text::read(&cbuf!("/proc/{pid}/stat"));
    stat_field(text.bytes(), 3).and_then(|f| f.first().copied())
}

fn others(t: &mut Report) {
    t.section("other processes");
    let [rd, wr] = fs::pipe().expect("pipe");
    let pid = fork_child(|| {
        let _ = fs::read(rd, &mut [0u8; 1]);
        0
    })
    .expect("fork");
    // Wait (yielding) until the child is asleep in its read.
    let mut state = state_of(pid);
    for _ in 0..100_000 {
        if state == Some(b'S') {
            break;
        }
        process::sched_yield();
        state = state_of(pid);
    }
    t.eq("a child blocked in read", state.map(|s| s as char), Some('S'));
    let stat = Text::read(&cbuf!("/proc/{pid}/stat"));
    t.same("its ppid field is us", stat_num(stat.bytes(), 4), Some(i64::from(getpid())));
    t.eq(
        "its comm (a forked child keeps ours)",
        stat_field(stat.bytes(), 2).map(Bytes),
        Some(Bytes(b"(procfs)")),
    );
    kill(pid, SIGSTOP).expect("kill");
    wait4(pid, process::WUNTRACED).expect("wait4");
    t.eq("stopped", state_of(pid).map(|s| s as char), Some('T'));
    kill(pid, SIGKILL).expect("kill");
    t.eq("killed", wait_for(pid).map(|s| s.term_signal()), Ok(Some(SIGKILL)));
    t.eq("reaped: no /proc/PID/stat", state_of(pid), None);
    close(rd).expect("close");
    close(wr).expect("close");
    let init = Text::read(c"/proc/1/stat");
    t.eq("/proc/1/stat: pid field", stat_num(init.bytes(), 1), Some(1));
}

fn system(t: &mut Report) {
    t.section("system files");
    let meminfo = Text::read(c"/proc/meminfo");
    for key in [&b"MemTotal:"[..], b"MemFree:", b"Buffers:", b"Cached:", b"SwapTotal:"] {
        let line = meminfo.line(key);
        let ok = line
            .is_some_and(|l| l.ends_with(b" kB") && num(l[key.len()..l.len() - 3].trim_ascii()).is_some());
        t.ok(format_args!("meminfo has '{} N kB'", Bytes(key)), ok);
    }
    let stat = Text::read(c"/proc/stat");
    t.eq("/proc/stat starts with 'cpu '", stat.bytes().starts_with(b"cpu "), true);
    for key in [&b"ctxt "[..], b"btime ", b"processes ", b"procs_running "] {
        t.ok(format_args!("/proc/stat has a '{}' line", Bytes(key)), stat.line(key).is_some());
    }
    let uptime = Text::read(c"/proc/uptime");
    let shape = uptime.bytes().trim_ascii().split(|&b| b == b' ').all(|f| {
        let mut parts = f.split(|&b| b == b'.');
        matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if num(a).is_some() && b.len() == 2 && num(b).is_some())
    });
    t.ok(
        "/proc/uptime is two numbers with 2 decimals",
        shape && uptime.bytes().split(|&b| b == b' ').count() == 2,
    );
    let loadavg = Text::read(c"/proc/loadavg");
    t.eq("/proc/loadavg: fields", loadavg.bytes().trim_ascii().split(|&b| b == b' ').count(), 5);
    t.ok(
        "/proc/version starts with 'Linux version '",
        Text::read(c"/proc/version").bytes().starts_with(b"Linux version "),
    );
    t.eq("/proc/sys/kernel/ostype", Bytes(Text::read(c"/proc/sys/kernel/ostype").bytes()), Bytes(b"Linux\n"));
    let mounts = Text::read(c"/proc/mounts");
    t.ok("/proc/mounts has 'proc /proc proc '", mounts.lines().any(|l| l.starts_with(b"proc /proc proc ")));
    let filesystems = Text::read(c"/proc/filesystems");
    for fs in [&b"nodev\tproc"[..], b"nodev\ttmpfs"] {
        t.ok(format_args!("/proc/filesystems has '{}'", Bytes(fs)), filesystems.line(fs).is_some());
    }
    t.ok("/proc/cpuinfo has a 'processor' line", Text::read(c"/proc/cpuinfo").line(b"processor").is_some());
    let uname = process::uname().expect("uname");
    t.eq("uname: sysname", Bytes(uname.sysname()), Bytes(b"Linux"));
    let version = Text::read(c"/proc/sys/kernel/osrelease");
    t.same(
        "uname: release is /proc/sys/kernel/osrelease",
        Bytes(uname.release()),
        Bytes(version.bytes().trim_ascii()),
    );
}
