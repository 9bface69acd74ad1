//! shell: the demo's console shell, started when the kernel's command line says `shell`.
//!
//! It reads the console a line at a time through `read`, which puts it to sleep until
//! input arrives, and runs one command per line (`help` lists them): the clock and the
//! task table, raw sectors of the disk, files on it in the demofs format (`demofs.rs`),
//! and `ping` over the network. It exits — and the demo powers off — on `exit` or
//! `poweroff`, on Ctrl-D at the start of a line, and when its input ends.
//!
//! The line editor is for a raw terminal, which is what the Launcher makes of one: every
//! byte read is echoed (Enter as a new line), Backspace (DEL or ^H) rubs out the last
//! character, and Ctrl-C abandons the line. Input from a pipe is echoed just the same,
//! so a piped session's output reads like a typed one: `demo$ ls` and then its answer.
#![no_std]
#![no_main]

mod demofs;

use demofs::Fs;
use ulib::{DISK_MAX_SECTORS, SECTOR, TaskInfo, print, println};

ulib::entry!(main);

const PROMPT: &str = "demo$ ";
/// Longest command line, in bytes.
const LINE_MAX: usize = 200;
/// Pings a `ping` sends.
const PING_COUNT: u16 = 3;

const HELP: &str = "\
commands:
  help                 this list
  uptime               time since the kernel started
  ps                   the kernel's tasks
  disk                 the size of the disk (lguest --block FILE)
  read SECTOR          show a sector of the disk, as text
  write SECTOR TEXT    write TEXT to a sector (zero-padded)
  format               make an empty demofs file system on the disk
  ls                   list its files
  cat NAME             show a file
  put NAME TEXT        make a file holding TEXT (replacing one of that name)
  rm NAME              remove a file
  ping IP              send three pings (lguest --net NAME and ip= on the command line)
  exit, poweroff       leave the shell; the demo powers off";

fn main() -> u32 {
    grow_stack();
    println!("shell: pid {}, type help for the commands", ulib::getpid());
    let mut input = Input { buf: [0; 64], at: 0, len: 0 };
    let mut line = [0u8; LINE_MAX];
    loop {
        print!("{PROMPT}");
        let Some(len) = input.read_line(&mut line) else {
            println!("shell: end of input");
            return 0;
        };
        // Only printable ASCII gets into a line, so it is UTF-8.
        let text = core::str::from_utf8(&line[..len]).unwrap_or("");
        if !run(text.trim()) {
            return 0;
        }
    }
}

/// Touch the stack the commands will need, so that the kernel's "its stack is now N KiB"
/// lines come now rather than in the middle of an answer.
#[inline(never)]
fn grow_stack() {
    let probe = [0u8; 12 * 1024];
    core::hint::black_box(&probe);
}

/// Console input, read in pieces and handed out a byte at a time.
struct Input {
    buf: [u8; 64],
    at: usize,
    len: usize,
}

impl Input {
    /// The next byte typed; None once input has ended.
    fn byte(&mut self) -> Option<u8> {
        if self.at == self.len {
            self.len = ulib::read(&mut self.buf).unwrap_or(0);
            self.at = 0;
            if self.len == 0 {
                return None;
            }
        }
        self.at += 1;
        Some(self.buf[self.at - 1])
    }

    /// Edit a line into `line`, echoing it; its length, or None at the end of input.
    fn read_line(&mut self, line: &mut [u8]) -> Option<usize> {
        let mut len = 0;
        loop {
            match self.byte() {
                None => {
                    println!();
                    return None;
                }
                Some(b'\r' | b'\n') => {
                    println!();
                    return Some(len);
                }
                // Backspace: DEL from most terminals, ^H from some.
                Some(0x7f | 0x08) => {
                    if len > 0 {
                        len -= 1;
                        print!("\x08 \x08");
                    }
                }
                // Ctrl-C: abandon the line.
                Some(0x03) => {
                    println!("^C");
                    return Some(0);
                }
                // Ctrl-D on an empty line: the end of input, as a terminal makes it.
                Some(0x04) if len == 0 => {
                    println!();
                    return None;
                }
                Some(b @ b' '..=b'~') if len < line.len() => {
                    line[len] = b;
                    len += 1;
                    ulib::write(&[b]);
                }
                // Anything else (control keys, a full line) is ignored.
                Some(_) => {}
            }
        }
    }
}

/// Split off the first word; the rest has its leading blanks removed.
fn word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(' ') {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// Run one command line; false to leave the shell.
fn run(line: &str) -> bool {
    let (cmd, args) = word(line);
    match cmd {
        "" => {}
        "help" => println!("{HELP}"),
        "uptime" => {
            let ms = ulib::uptime_ms();
            println!("up {}.{:03} s", ms / 1000, ms % 1000);
        }
        "ps" => ps(),
        "disk" => match ulib::disk_size() {
            Ok(n) => println!("disk: {n} sectors of {SECTOR} bytes ({} KiB)", n / 2),
            Err(e) => println!("disk: {}", ulib::strerror(e)),
        },
        "read" => match args.parse() {
            Ok(sector) => read_sector(sector),
            Err(_) => println!("usage: read SECTOR"),
        },
        "write" => match word(args) {
            (n, text) if !text.is_empty() && n.parse::<u32>().is_ok() => {
                write_sector(n.parse().unwrap_or(0), text)
            }
            _ => println!("usage: write SECTOR TEXT"),
        },
        "format" => match Fs::format() {
            Ok(n) => println!("format: a demofs of {n} sectors, room for {} files", demofs::MAX_FILES),
            Err(e) => println!("format: {}", e.message()),
        },
        "ls" => ls(),
        "cat" if !args.is_empty() => cat(args),
        "put" => match word(args) {
            (name, text) if !name.is_empty() => put(name, text),
            _ => println!("usage: put NAME TEXT"),
        },
        "rm" if !args.is_empty() => match Fs::mount().and_then(|mut fs| fs.rm(args)) {
            Ok(()) => println!("rm: removed {args}"),
            Err(e) => println!("rm: {}", e.message()),
        },
        "ping" => match parse_ipv4(args) {
            Some(ip) => ping(ip, args),
            None => println!("usage: ping A.B.C.D"),
        },
        "exit" | "poweroff" => {
            println!("shell: bye");
            return false;
        }
        _ => println!("{cmd}: unknown command (help lists them)"),
    }
    true
}

fn ps() {
    println!("  pid  task        state");
    for slot in 0.. {
        let info: TaskInfo = match ulib::taskinfo(slot) {
            Ok(Some(info)) => info,
            Ok(None) => continue,
            Err(_) => break,
        };
        let end = info.name.iter().position(|&b| b == 0).unwrap_or(info.name.len());
        let name = core::str::from_utf8(&info.name[..end]).unwrap_or("?");
        let (pid, status) = (info.pid, info.status);
        match info.state {
            ulib::TASK_RUNNABLE => println!("  {pid:>3}  {name:<10}  running"),
            ulib::TASK_SLEEPING => println!("  {pid:>3}  {name:<10}  sleeping"),
            ulib::TASK_READING => println!("  {pid:>3}  {name:<10}  reading the console"),
            ulib::TASK_EXITED => println!("  {pid:>3}  {name:<10}  exited with status {status}"),
            _ => println!("  {pid:>3}  {name:<10}  killed by exception {status}"),
        }
    }
}

/// `read SECTOR`: the sector's bytes up to its last non-zero one, as text (other bytes
/// as `\xNN`).
fn read_sector(sector: u32) {
    let mut buf = [0u8; SECTOR as usize];
    if let Err(e) = ulib::disk_read(sector, &mut buf) {
        println!("read: sector {sector}: {}", ulib::strerror(e));
        return;
    }
    let end = buf.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    print!("sector {sector}: \"");
    for chunk in buf[..end].chunk_by(|a, b| a.is_ascii_graphic() == b.is_ascii_graphic()) {
        match chunk {
            [c, ..] if c.is_ascii_graphic() => {
                ulib::write(chunk);
            }
            _ => chunk.iter().for_each(|&b| if b == b' ' { print!(" ") } else { print!("\\x{b:02x}") }),
        }
    }
    println!("\"");
}

/// `write SECTOR TEXT`.
fn write_sector(sector: u32, text: &str) {
    let mut buf = [0u8; SECTOR as usize];
    let n = text.len().min(buf.len());
    buf[..n].copy_from_slice(&text.as_bytes()[..n]);
    match ulib::disk_write(sector, &buf) {
        Ok(()) => println!("write: {n} bytes to sector {sector}"),
        Err(e) => println!("write: sector {sector}: {}", ulib::strerror(e)),
    }
}

fn ls() {
    match Fs::mount() {
        Ok(fs) => {
            for e in fs.files() {
                println!("  {:<20}  {:>6} bytes  at sector {}", e.name(), e.len, e.start);
            }
            let n = fs.files().count();
            let s = if n == 1 { "" } else { "s" };
            println!("{n} file{s}, {} of {} sectors used", fs.used(), fs.sectors);
        }
        Err(e) => println!("ls: {}", e.message()),
    }
}

fn cat(name: &str) {
    let done = Fs::mount().and_then(|fs| {
        fs.read(name, |bytes| {
            ulib::write(bytes);
        })
    });
    match done {
        Ok(len) if len > 0 => println!(),
        Ok(_) => {}
        Err(e) => println!("cat: {}", e.message()),
    }
}

fn put(name: &str, text: &str) {
    match Fs::mount().and_then(|mut fs| fs.put(name, text.as_bytes())) {
        Ok(e) => println!("put: {} ({} bytes at sector {})", e.name(), e.len, e.start),
        Err(e) => println!("put: {}", e.message()),
    }
}

fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    let mut ip = [0u8; 4];
    let mut parts = s.split('.');
    for b in ip.iter_mut() {
        *b = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(ip)
}

fn ping(ip: [u8; 4], name: &str) {
    let mut received = 0;
    for seq in 1..=PING_COUNT {
        match ulib::ping(ip, seq) {
            Ok(us) => {
                received += 1;
                println!("reply from {name}: seq={seq} time={}.{:03} ms", us / 1000, us % 1000);
            }
            Err(e) => println!("ping {name}: seq={seq}: {}", ulib::strerror(e)),
        }
    }
    println!("ping {name}: {PING_COUNT} sent, {received} received");
}

// The disk calls move at most this many sectors; demofs relies on it being at least one.
const _: () = assert!(DISK_MAX_SECTORS >= 1);
