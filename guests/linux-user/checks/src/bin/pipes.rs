//! Pipes: reads and writes, end of file, `O_NONBLOCK` and `EAGAIN`, capacity (16 pages,
//! on 2.6.23 as today), `SIGPIPE` and `EPIPE`, `poll`, `FIONREAD`, atomic writes of up
//! to `PIPE_BUF` bytes from two writers at once, and a child's standard output turned
//! into a pipe with `dup2`.
//!
//! Only what 2.6.23 and today's kernels agree on is printed: how many bytes a read gets
//! while a writer is still writing differs (2.6.23 waits for a writer that sleeps in
//! the kernel), so the concurrent parts print totals and contents.
//!
//! Run with no arguments.

#![no_std]
#![no_main]

use linux::check::{Octal, Report};
use linux::fs::{
    self, F_GETFL, F_SETFL, O_NONBLOCK, POLLERR, POLLHUP, POLLIN, POLLOUT, PollFd, S_IFIFO, bytes_ready,
    close, dup2, fcntl, fstat, pipe, poll, read, write,
};
use linux::io::{recv, send};
use linux::process::{fork_child, getpid, wait_for};
use linux::signal::{self, Handler, SIGPIPE, SigInfo, UContext};
use linux::{Bytes, Errno, println};

use core::sync::atomic::{AtomicU32, Ordering};

linux::entry!(main);

fn main() -> i32 {
    let mut t = Report::new();
    // Start from the default disposition whatever the parent left us.
    let _ = signal::signal(SIGPIPE, Handler::Default);
    basics(&mut t);
    nonblocking(&mut t);
    capacity(&mut t);
    broken(&mut t);
    polling(&mut t);
    between_processes(&mut t);
    atomic_writes(&mut t);
    t.finish()
}

fn basics(t: &mut Report) {
    t.section("reads and writes");
    let [rd, wr] = pipe().expect("pipe");
    t.ok("the two ends are different descriptors", rd != wr);
    t.eq("fstat of the read end: a FIFO", fstat(rd).map(|s| Octal(s.kind())), Ok(Octal(S_IFIFO)));
    t.eq("write 10 bytes", write(wr, b"0123456789"), Ok(10));
    t.eq("FIONREAD", bytes_ready(rd), Ok(10));
    let mut buf = [0u8; 100];
    t.eq("read 4 of them", read(rd, &mut buf[..4]), Ok(4));
    t.eq("they are", Bytes(&buf[..4]), Bytes(b"0123"));
    t.eq("read with room for 100 gets the other 6", read(rd, &mut buf), Ok(6));
    t.eq("they are", Bytes(&buf[..6]), Bytes(b"456789"));
    t.eq("two writes of 5", (write(wr, b"hello"), write(wr, b"world")), (Ok(5), Ok(5)));
    t.eq("one read gets both", read(rd, &mut buf), Ok(10));
    t.eq("in order", Bytes(&buf[..10]), Bytes(b"helloworld"));
    t.eq("a read of 0 bytes", read(rd, &mut buf[..0]), Ok(0));
    t.eq("a write of 0 bytes", write(wr, b""), Ok(0));
    t.eq("write on the read end", write(rd, b"x"), Err(Errno::EBADF));
    t.eq("read on the write end", read(wr, &mut buf), Err(Errno::EBADF));
    t.eq("write 3 more and close the write end", (write(wr, b"end"), close(wr)), (Ok(3), Ok(())));
    t.eq("read after close gets what was left", read(rd, &mut buf), Ok(3));
    t.eq("then end of file", read(rd, &mut buf), Ok(0));
    t.eq("and again", read(rd, &mut buf), Ok(0));
    close(rd).expect("close");
    t.eq("a closed descriptor", read(rd, &mut buf), Err(Errno::EBADF));
}

fn nonblocking(t: &mut Report) {
    t.section("O_NONBLOCK");
    let [rd, wr] = pipe().expect("pipe");
    let flags = fcntl(rd, F_GETFL, 0).expect("F_GETFL");
    t.eq("F_GETFL of the read end (access mode, O_NONBLOCK)", flags & (3 | O_NONBLOCK), 0);
    t.eq("F_GETFL of the write end (access mode)", fcntl(wr, F_GETFL, 0).map(|f| f & 3), Ok(1));
    t.ok_result("set O_NONBLOCK", &fcntl(rd, F_SETFL, flags | O_NONBLOCK));
    t.eq("F_GETFL has it", fcntl(rd, F_GETFL, 0).map(|f| f & O_NONBLOCK), Ok(O_NONBLOCK));
    let mut buf = [0u8; 16];
    t.eq("read from the empty pipe", read(rd, &mut buf), Err(Errno::EAGAIN));
    t.eq("write 2 bytes", write(wr, b"ab"), Ok(2));
    t.eq("read", read(rd, &mut buf), Ok(2));
    t.eq("read again, empty", read(rd, &mut buf), Err(Errno::EAGAIN));
    close(wr).expect("close");
    t.eq("read with no writer left: end of file, not EAGAIN", read(rd, &mut buf), Ok(0));
    close(rd).expect("close");
}

fn capacity(t: &mut Report) {
    t.section("capacity");
    let [rd, wr] = pipe().expect("pipe");
    fcntl(wr, F_SETFL, O_NONBLOCK).expect("F_SETFL");
    let page = [0x5au8; 4096];
    let mut written = 0u32;
    let last = loop {
        match write(wr, &page) {
            Ok(n) => written += n as u32,
            Err(e) => break e,
        }
        if written > 1 << 20 {
            break Errno(0);
        }
    };
    t.eq("bytes written in pages until it would block", written, 65536);
    t.eq("the write that would block", last, Errno::EAGAIN);
    t.eq("a 1-byte write too", write(wr, b"x"), Err(Errno::EAGAIN));
    t.eq("FIONREAD", bytes_ready(rd), Ok(65536));
    let mut buf = [0u8; 4096];
    t.eq("read one page", read(rd, &mut buf), Ok(4096));
    t.ok("it holds what was written", buf.iter().all(|&b| b == 0x5a));
    t.eq("a page fits again", write(wr, &page), Ok(4096));
    t.eq("then it is full", write(wr, &page), Err(Errno::EAGAIN));
    let mut total = 0;
    fcntl(rd, F_SETFL, O_NONBLOCK).expect("F_SETFL");
    while let Ok(n @ 1..) = read(rd, &mut buf) {
        total += n;
    }
    t.eq("reading it all back", total, 65536);
    close(rd).expect("close");
    close(wr).expect("close");
}

static SIGPIPES: AtomicU32 = AtomicU32::new(0);
static SIGPIPE_CODE: AtomicU32 = AtomicU32::new(99);
static SIGPIPE_FROM_SELF: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_sigpipe(sig: i32, info: *mut SigInfo, _: *mut UContext) {
    // SAFETY: the kernel passes a valid siginfo to a SA_SIGINFO handler.
    let info = unsafe { &*info };
    SIGPIPES.fetch_add(u32::from(sig as u32 == SIGPIPE), Ordering::Relaxed);
    SIGPIPE_CODE.store(info.code() as u32, Ordering::Relaxed);
    SIGPIPE_FROM_SELF.store(u32::from(info.pid() == getpid()), Ordering::Relaxed);
}

fn broken(t: &mut Report) {
    t.section("no reader");
    let [rd, wr] = pipe().expect("pipe");
    close(rd).expect("close");
    let pid = fork_child(|| {
        let _ = write(wr, b"nobody reads this");
        0
    })
    .expect("fork");
    t.eq(
        "a child writing with the default SIGPIPE action",
        wait_for(pid).map(|s| linux::cbuf!("{s}")),
        Ok(linux::cbuf!("killed by SIGPIPE")),
    );
    signal::signal(SIGPIPE, Handler::Ignore).expect("ignore SIGPIPE");
    t.eq("with SIGPIPE ignored, write", write(wr, b"x"), Err(Errno::EPIPE));
    signal::signal(SIGPIPE, Handler::Info(on_sigpipe)).expect("catch SIGPIPE");
    t.eq("with a handler, write", write(wr, b"x"), Err(Errno::EPIPE));
    t.eq("SIGPIPEs the handler saw", SIGPIPES.load(Ordering::Relaxed), 1);
    t.eq("its si_code (SI_USER)", SIGPIPE_CODE.load(Ordering::Relaxed) as i32, signal::SI_USER);
    t.eq("its si_pid is our own", SIGPIPE_FROM_SELF.load(Ordering::Relaxed), 1);
    signal::signal(SIGPIPE, Handler::Default).expect("default SIGPIPE");
    close(wr).expect("close");
}

fn polling(t: &mut Report) {
    t.section("poll");
    let [rd, wr] = pipe().expect("pipe");
    let ask = |fd, events| PollFd { fd, events, revents: 0 };
    let mut fds = [ask(rd, POLLIN), ask(wr, POLLOUT)];
    t.eq("poll an empty pipe: how many ready", poll(&mut fds, 0), Ok(1));
    t.eq("revents (read end, write end)", (fds[0].revents, fds[1].revents), (0, POLLOUT));
    write(wr, b"data").expect("write");
    let mut fds = [ask(rd, POLLIN), ask(wr, POLLOUT)];
    t.eq("after a write: how many ready", poll(&mut fds, 0), Ok(2));
    t.eq("revents (read end, write end)", (fds[0].revents, fds[1].revents), (POLLIN, POLLOUT));
    close(wr).expect("close");
    let mut fds = [ask(rd, POLLIN)];
    t.eq("after the writer closed, with data left", poll(&mut fds, 0), Ok(1));
    t.eq("revents has POLLIN and POLLHUP", fds[0].revents & (POLLIN | POLLHUP), POLLIN | POLLHUP);
    let mut buf = [0u8; 8];
    read(rd, &mut buf).expect("read");
    let mut fds = [ask(rd, POLLIN)];
    t.eq("drained and closed: ready", poll(&mut fds, 0), Ok(1));
    t.eq("revents: POLLHUP, no POLLIN", fds[0].revents & (POLLIN | POLLHUP), POLLHUP);
    close(rd).expect("close");

    let [rd, wr] = pipe().expect("pipe");
    close(rd).expect("close");
    let mut fds = [ask(wr, POLLOUT)];
    t.eq("the write end with no reader: ready", poll(&mut fds, 0), Ok(1));
    t.eq("revents has POLLERR", fds[0].revents & POLLERR, POLLERR);
    close(wr).expect("close");
    let mut fds = [ask(wr, POLLIN)];
    t.eq("a closed descriptor: ready", poll(&mut fds, 0), Ok(1));
    t.eq("revents: POLLNVAL", fds[0].revents, fs::POLLNVAL);
}

fn between_processes(t: &mut Report) {
    t.section("between processes");
    // A child writes in pieces, with pauses from yielding; the parent reads until EOF.
    let [rd, wr] = pipe().expect("pipe");
    let pid = fork_child(|| {
        let _ = close(rd);
        for i in 0..50u32 {
            let _ = send(wr, &[i, i * i]);
            linux::process::sched_yield();
        }
        0
    })
    .expect("fork");
    close(wr).expect("close");
    let (mut words, mut sum) = (0, 0u32);
    let mut w = [0u32; 16];
    while let Ok(n @ 1..) = recv(rd, &mut w) {
        words += n;
        sum = w[..n].iter().fold(sum, |acc, &x| acc.wrapping_mul(31).wrapping_add(x));
    }
    t.eq("words the parent read before end of file", words, 100);
    t.eq("their checksum", sum, expected_sum());
    t.eq("the writer", wait_for(pid).map(|s| linux::cbuf!("{s}")), Ok(linux::cbuf!("exited 0")));
    close(rd).expect("close");

    // A child's standard output, made the pipe's write end.
    let [rd, wr] = pipe().expect("pipe");
    let pid = fork_child(|| {
        let _ = close(rd);
        if dup2(wr, 1).is_err() {
            return 1;
        }
        let _ = close(wr);
        println!("a line through the child's stdout");
        println!("and another");
        0
    })
    .expect("fork");
    close(wr).expect("close");
    let mut buf = [0u8; 256];
    let mut len = 0;
    while let Ok(n @ 1..) = read(rd, &mut buf[len..]) {
        len += n;
    }
    t.eq(
        "what the parent read from it",
        Bytes(&buf[..len]),
        Bytes(b"a line through the child's stdout\nand another\n"),
    );
    t.eq("the child", wait_for(pid).map(|s| linux::cbuf!("{s}")), Ok(linux::cbuf!("exited 0")));
    close(rd).expect("close");
}

fn expected_sum() -> u32 {
    (0..50u32).flat_map(|i| [i, i * i]).fold(0u32, |acc, x| acc.wrapping_mul(31).wrapping_add(x))
}

/// Records of `PIPE_BUF` bytes or less are written whole, whoever else writes.
const RECORD: usize = 512;
const RECORDS: usize = 200;

fn atomic_writes(t: &mut Report) {
    t.section("atomic writes");
    let [rd, wr] = pipe().expect("pipe");
    let writer = |fill: u8| {
        move || {
            let _ = close(rd);
            let record = [fill; RECORD];
            for _ in 0..RECORDS {
                if write(wr, &record) != Ok(RECORD) {
                    return 1;
                }
            }
            0
        }
    };
    let a = fork_child(writer(b'A')).expect("fork");
    let b = fork_child(writer(b'B')).expect("fork");
    close(wr).expect("close");
    let (mut count_a, mut count_b, mut mixed) = (0, 0, 0);
    let mut record = [0u8; RECORD];
    'records: loop {
        let mut got = 0;
        while got < RECORD {
            match read(rd, &mut record[got..]) {
                Ok(0) => break 'records,
                Ok(n) => got += n,
                Err(_) => break 'records,
            }
        }
        match record {
            r if r.iter().all(|&x| x == b'A') => count_a += 1,
            r if r.iter().all(|&x| x == b'B') => count_b += 1,
            _ => mixed += 1,
        }
    }
    t.eq("records of A, of B, mixed", (count_a, count_b, mixed), (RECORDS, RECORDS, 0));
    t.eq("writer A", wait_for(a).map(|s| linux::cbuf!("{s}")), Ok(linux::cbuf!("exited 0")));
    t.eq("writer B", wait_for(b).map(|s| linux::cbuf!("{s}")), Ok(linux::cbuf!("exited 0")));
    close(rd).expect("close");
}
