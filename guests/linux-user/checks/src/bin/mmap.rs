//! Memory mapping: anonymous private and shared memory (also across `fork`, where
//! private pages are copied on the first write, in the parent or the child), `mprotect`,
//! `munmap` of part of a mapping, `MAP_FIXED`, `mremap`, `brk`, a file mapped shared and
//! private (in the directory given: a tmpfs in the Guest), `SIGBUS` past the end of a
//! file, the errors of bad requests, and code written at run time and then run.
//!
//! Usage: `mmap DIR` (it makes and removes `DIR/mmap-file`).

#![no_std]
#![no_main]

use linux::check::{Hex, Report};
use linux::fs::{
    O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, close, ftruncate, open, pipe, pread, unlink, write,
};
use linux::io::{recv, send};
use linux::mm::{
    self, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, MREMAP_MAYMOVE, PAGE_SIZE, PROT_EXEC, PROT_NONE,
    PROT_READ, PROT_WRITE, mmap, mmap_anon, mprotect, munmap,
};
use linux::probe::{self, Fault};
use linux::process::{fork_child, wait_for};
use linux::signal::{SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGSEGV};
use linux::{Bytes, CBuf, Errno, arg, cbuf};

linux::entry!(main);

const PAGE: u32 = PAGE_SIZE;

fn main() -> i32 {
    let Some(dir) = arg(1) else {
        linux::eprintln!("usage: mmap DIR");
        return 2;
    };
    let mut t = Report::new();
    anonymous(&mut t);
    protections(&mut t);
    unmapping(&mut t);
    fixed_and_remap(&mut t);
    across_fork(&mut t);
    program_break(&mut t);
    file_backed(&mut t, &cbuf!("{}/mmap-file", Bytes(dir)));
    errors(&mut t);
    runtime_code(&mut t);
    t.finish()
}

fn segv(code: i32, addr: u32) -> Result<u32, Fault> {
    Err(Fault { signal: SIGSEGV, code, addr })
}

/// Fill `pages` pages at `base` with a pattern of `seed`, word by word, the same in
/// every page.
fn fill(base: u32, pages: u32, seed: u32) {
    for i in 0..pages * PAGE / 4 {
        // SAFETY: the caller's mapping, read-write.
        unsafe { mm::poke(base + i * 4, pattern(seed, i)) };
    }
}

/// Whether `pages` pages at `base` hold the pattern of `seed`.
fn holds(base: u32, pages: u32, seed: u32) -> bool {
    // SAFETY: the caller's mapping, readable.
    (0..pages * PAGE / 4).all(|i| unsafe { mm::peek(base + i * 4) } == pattern(seed, i))
}

/// Word `i` of the pattern of `seed`.
fn pattern(seed: u32, i: u32) -> u32 {
    seed ^ (i % (PAGE / 4)).wrapping_mul(0x9e37_79b9)
}

fn is_zero(base: u32, pages: u32) -> bool {
    // SAFETY: the caller's mapping, readable.
    (0..pages * PAGE / 4).all(|i| unsafe { mm::peek(base + i * 4) } == 0)
}

fn anonymous(t: &mut Report) {
    t.section("anonymous memory");
    let a = mmap_anon(3 * PAGE).expect("mmap");
    t.eq("the address is page aligned", a % PAGE, 0);
    t.ok("new memory reads as zero", is_zero(a, 3));
    fill(a, 3, 1);
    t.ok("it keeps what is written", holds(a, 3, 1));
    let b = mmap_anon(PAGE).expect("mmap");
    t.ok("a second mapping does not overlap the first", b + PAGE <= a || b >= a + 3 * PAGE);
    // SAFETY: both are ours, unused after.
    unsafe {
        t.ok_result("munmap", &munmap(a, 3 * PAGE));
        t.ok_result("munmap", &munmap(b, PAGE));
    }
    t.eq("reading it after munmap", probe::read(a), segv(SEGV_MAPERR, a));

    // Touch one word in each page of 4 MiB: a page fault each.
    let big = mmap_anon(1024 * PAGE).expect("mmap");
    for i in 0..1024 {
        // SAFETY: ours, read-write.
        unsafe { mm::poke(big + i * PAGE + (i % 1024) * 4, i) };
    }
    // SAFETY: ours, readable.
    let sum: u32 = (0..1024).map(|i| unsafe { mm::peek(big + i * PAGE + (i % 1024) * 4) }).sum();
    t.eq("4 MiB touched a word a page: the sum read back", sum, 1023 * 1024 / 2);
    // SAFETY: ours, unused after.
    unsafe { munmap(big, 1024 * PAGE) }.expect("munmap");
}

fn protections(t: &mut Report) {
    t.section("mprotect");
    let a = mmap_anon(2 * PAGE).expect("mmap");
    fill(a, 2, 2);
    // SAFETY: ours; the faults are caught.
    unsafe {
        t.ok_result("mprotect the first page PROT_READ", &mprotect(a, PAGE, PROT_READ));
        t.eq("reading it", probe::read(a + 4).map(Hex), Ok(Hex(pattern(2, 1))));
        t.eq("writing it", probe::write(a + 8, 0).map(|()| 0), segv(SEGV_ACCERR, a + 8));
        t.eq("the fault's address", probe::write(a + 12, 0).map_err(|f| f.addr == a + 12), Err(true));
        t.eq("writing the second page (still read-write)", probe::write(a + PAGE, 7), Ok(()));
        t.ok_result("mprotect it PROT_NONE", &mprotect(a, PAGE, PROT_NONE));
        t.eq("reading it", probe::read(a).map(|_| 0), segv(SEGV_ACCERR, a));
        t.ok_result("mprotect it read-write again", &mprotect(a, PAGE, PROT_READ | PROT_WRITE));
        t.ok("its contents survived", holds(a, 1, 2));
        t.eq("mprotect of an unaligned address", mprotect(a + 1, PAGE, PROT_READ), Err(Errno::EINVAL));
        t.eq("mprotect with an unknown bit", mprotect(a, PAGE, 0x100), Err(Errno::EINVAL));
        munmap(a, 2 * PAGE).expect("munmap");
        t.eq("mprotect of unmapped memory", mprotect(a, PAGE, PROT_READ), Err(Errno::ENOMEM));
    }
}

fn unmapping(t: &mut Report) {
    t.section("munmap of part of a mapping");
    let a = mmap_anon(3 * PAGE).expect("mmap");
    fill(a, 3, 3);
    // SAFETY: ours; the faults are caught.
    unsafe {
        t.ok_result("munmap the middle page", &munmap(a + PAGE, PAGE));
        t.eq("reading it", probe::read(a + PAGE + 16).map(|_| 0), segv(SEGV_MAPERR, a + PAGE + 16));
        t.ok("the first page is intact", holds(a, 1, 3));
        t.eq("the third page's first word", probe::read(a + 2 * PAGE).map(Hex), Ok(Hex(pattern(3, 0))));
        t.ok_result("munmap a range with a hole in it", &munmap(a, 3 * PAGE));
        t.eq("munmap it again (nothing there is no error)", munmap(a, 3 * PAGE), Ok(()));
        t.eq("munmap of an unaligned address", munmap(a + 4, PAGE), Err(Errno::EINVAL));
        t.eq("munmap of length 0", munmap(a, 0), Err(Errno::EINVAL));
    }
}

fn fixed_and_remap(t: &mut Report) {
    t.section("MAP_FIXED and mremap");
    let a = mmap_anon(4 * PAGE).expect("mmap");
    fill(a, 4, 4);
    let fresh = mmap(a + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    t.eq("MAP_FIXED over the second page: the address", fresh.map(|p| p == a + PAGE), Ok(true));
    t.ok("it is a new, zero page", is_zero(a + PAGE, 1));
    t.ok("the pages around it are untouched", holds(a, 1, 4) && probe::read(a + 2 * PAGE).is_ok());
    let odd = mmap(a + 100, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    t.eq("MAP_FIXED at an unaligned address", odd, Err(Errno::EINVAL));
    // SAFETY: ours, unused after.
    unsafe { munmap(a, 4 * PAGE) }.expect("munmap");
    let again = mmap(a, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    t.eq("MAP_FIXED where a mapping was: the address", again.map(|p| p == a), Ok(true));
    fill(a, 2, 5);
    // SAFETY: ours; the old range is not used after a move.
    let (grown, shrunk) = unsafe {
        let grown = mm::mremap(a, 2 * PAGE, 8 * PAGE, MREMAP_MAYMOVE).expect("mremap");
        let ok = holds(grown, 2, 5) && is_zero(grown + 2 * PAGE, 6);
        let shrunk = mm::mremap(grown, 8 * PAGE, PAGE, 0).map(|p| p == grown);
        (ok, (shrunk, probe::read(grown + PAGE).map(|_| 0).map_err(|f| (f.signal, f.code))))
    };
    t.ok("mremap to 8 pages: contents kept, the rest zero", grown);
    t.eq("mremap down to 1 page: in place, the rest gone", shrunk, (Ok(true), Err((SIGSEGV, SEGV_MAPERR))));
}

fn across_fork(t: &mut Report) {
    t.section("across fork");
    let shared = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0).expect("mmap");
    let private = mmap_anon(16 * PAGE).expect("mmap");
    fill(private, 16, 6);
    // SAFETY: ours.
    unsafe { mm::poke(shared, 1) };
    let [to_child_rd, to_child_wr] = pipe().expect("pipe");
    let [to_parent_rd, to_parent_wr] = pipe().expect("pipe");
    let pid = fork_child(|| {
        let mut r = [0u32; 4];
        // What the child sees first: the parent's data.
        r[0] = u32::from(holds(private, 16, 6));
        // It writes the shared page and every other private page.
        // SAFETY: our (copied) mappings.
        unsafe { mm::poke(shared, 2) };
        for p in (0..16).step_by(2) {
            fill(private + p * PAGE, 1, 7);
        }
        let _ = send(to_parent_wr, &[1]);
        // Then waits for the parent to write its own copy.
        let mut go = [0u32];
        let _ = recv(to_child_rd, &mut go);
        r[1] = u32::from((0..16).all(|p| holds(private + p * PAGE, 1, if p % 2 == 0 { 7 } else { 6 })));
        // SAFETY: the shared page.
        r[2] = unsafe { mm::peek(shared) };
        let _ = send(to_parent_wr, &r[..3]);
        0
    })
    .expect("fork");
    let mut ready = [0u32];
    t.eq("the child wrote", recv(to_parent_rd, &mut ready), Ok(1));
    // SAFETY: ours.
    t.eq("the shared page, as the parent sees it", unsafe { mm::peek(shared) }, 2);
    t.ok("the private pages, as the parent sees them: unchanged", holds(private, 16, 6));
    // SAFETY: ours.
    unsafe { mm::poke(shared, 3) };
    fill(private + PAGE, 1, 8);
    send(to_child_wr, &[1]).expect("send");
    let mut r = [0u32; 3];
    t.eq("words from the child", recv(to_parent_rd, &mut r), Ok(3));
    t.eq("the child saw the parent's data at first", r[0], 1);
    t.eq("the child's private pages: its writes only, not the parent's later one", r[1], 1);
    t.eq("the shared page, as the child sees it after the parent wrote", r[2], 3);
    t.eq("the child", wait_for(pid).map(|s| s.exit_code()), Ok(Some(0)));

    // Statics and the stack are private too.
    static mut COUNTER: u32 = 10;
    let mut on_stack = 20u32;
    let pid = fork_child(|| {
        // SAFETY: this process is single-threaded; the child's own copy.
        unsafe { COUNTER += 1 };
        on_stack += 1;
        // SAFETY: as above.
        (unsafe { COUNTER } + on_stack) as i32
    })
    .expect("fork");
    t.eq(
        "a child adding 1 to a static and a local: their sum there",
        wait_for(pid).map(|s| s.exit_code()),
        Ok(Some(32)),
    );
    // SAFETY: single-threaded.
    t.eq("here, unchanged", (unsafe { COUNTER }, on_stack), (10, 20));
    for fd in [to_child_rd, to_child_wr, to_parent_rd, to_parent_wr] {
        close(fd).expect("close");
    }
    // SAFETY: ours, unused after.
    unsafe {
        munmap(shared, PAGE).expect("munmap");
        munmap(private, 16 * PAGE).expect("munmap");
    }
}

fn program_break(t: &mut Report) {
    t.section("brk");
    // SAFETY: brk(0) asks; the growing and shrinking below touch only the new space.
    unsafe {
        let start = mm::brk(0);
        t.eq("brk(0) is page aligned", start % PAGE, 0);
        t.eq("brk(0) again", mm::brk(0) == start, true);
        let end = mm::brk(start + 3 * PAGE);
        t.eq("brk(start + 3 pages)", end.wrapping_sub(start), 3 * PAGE);
        t.ok("the new memory reads as zero", is_zero(start, 3));
        fill(start, 3, 9);
        t.ok("and keeps what is written", holds(start, 3, 9));
        t.eq("brk(start + 100): the break is where asked", mm::brk(start + 100).wrapping_sub(start), 100);
        t.eq("the rest of that page is still there", probe::read(start + PAGE - 4).is_ok(), true);
        t.eq(
            "the pages past it are gone",
            probe::read(start + PAGE).map(|_| 0),
            segv(SEGV_MAPERR, start + PAGE),
        );
        t.eq(
            "brk(start + 2 pages) again: zero-filled",
            (mm::brk(start + 2 * PAGE).wrapping_sub(start), is_zero(start + PAGE, 1)),
            (2 * PAGE, true),
        );
        t.eq(
            "brk below where it started: refused, the break stays",
            mm::brk(start - 64 * PAGE).wrapping_sub(start),
            2 * PAGE,
        );
        t.eq("brk back to the start", mm::brk(start).wrapping_sub(start), 0);
    }
}

/// A file of 2 pages and 100 bytes of a pattern.
fn make_file(path: &CBuf) -> i32 {
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644).expect("open the test file");
    let mut page = [0u8; 4096];
    for p in 0..3u32 {
        for (i, b) in page.iter_mut().enumerate() {
            *b = (p * 7 + i as u32 * 13) as u8;
        }
        let len = if p == 2 { 100 } else { 4096 };
        write(fd, &page[..len]).expect("write the test file");
    }
    fd
}

fn file_byte(p: u32, i: u32) -> u8 {
    (p * 7 + i * 13) as u8
}

fn file_backed(t: &mut Report, path: &CBuf) {
    t.section("a file, mapped");
    let fd = make_file(path);
    let shared = mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0).expect("mmap the file");
    let byte = |addr: u32| probe::read(addr & !3).map(|w| (w >> ((addr & 3) * 8)) as u8);
    t.eq("byte 5 of page 0", byte(shared + 5), Ok(file_byte(0, 5)));
    t.eq("byte 99 of page 2 (the last)", byte(shared + 2 * PAGE + 99), Ok(file_byte(2, 99)));
    t.eq("byte 100 of page 2 (past the end, in its page)", byte(shared + 2 * PAGE + 100), Ok(0));
    t.eq(
        "page 3 (wholly past the end)",
        probe::read(shared + 3 * PAGE).map_err(|f| (f.signal, f.code, f.addr == shared + 3 * PAGE)),
        Err((SIGBUS, linux::signal::BUS_ADRERR, true)),
    );
    // SAFETY: the shared mapping's page 1 is ours to write.
    unsafe { probe::write(shared + PAGE + 8, u32::from_le_bytes(*b"MMAP")) }
        .expect("write through the mapping");
    let mut buf = [0u8; 4];
    t.eq(
        "pread sees a write through the shared mapping",
        pread(fd, &mut buf, u64::from(PAGE + 8)).map(|_| Bytes(&buf)),
        Ok(Bytes(b"MMAP")),
    );
    t.ok_result("msync", &mm::msync(shared, 4 * PAGE, mm::MS_SYNC));

    let private = mmap(0, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0).expect("mmap private");
    t.eq(
        "a private mapping shows the shared write",
        probe::read(private + PAGE + 8).map(|w| Bytes(&w.to_le_bytes()) == Bytes(b"MMAP")),
        Ok(true),
    );
    // SAFETY: the private mapping's page 0 is ours.
    unsafe { probe::write(private, u32::from_le_bytes(*b"PRIV")) }.expect("write private");
    t.eq(
        "a private write is not in the file",
        pread(fd, &mut buf, 0).map(|_| buf[0] == file_byte(0, 0)),
        Ok(true),
    );
    t.eq("nor in the shared mapping", byte(shared), Ok(file_byte(0, 0)));
    write_at(fd, 2 * PAGE, b"late");
    t.eq(
        "a later write() shows in the private mapping's untouched page",
        probe::read(private + 2 * PAGE).map(|w| w.to_le_bytes()),
        Ok(*b"late"),
    );
    t.eq("and in the shared one", probe::read(shared + 2 * PAGE).map(|w| w.to_le_bytes()), Ok(*b"late"));

    let offset = mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, PAGE).expect("mmap at an offset");
    t.eq("a mapping from offset 1 page: its byte 5", byte(offset + 5), Ok(file_byte(1, 5)));

    ftruncate(fd, u64::from(PAGE)).expect("ftruncate");
    t.eq("after ftruncate to 1 page: page 0", byte(shared + 5), Ok(file_byte(0, 5)));
    t.eq("page 1", probe::read(shared + PAGE).map_err(|f| f.signal), Err(SIGBUS));
    t.eq("the private mapping's copied page 0", probe::read(private).map(|w| w.to_le_bytes()), Ok(*b"PRIV"));
    // SAFETY: unused after.
    unsafe {
        for (a, len) in [(shared, 4), (private, 3), (offset, 1)] {
            munmap(a, len * PAGE).expect("munmap");
        }
    }
    close(fd).expect("close");

    let ro = open(path, O_RDONLY, 0).expect("open");
    t.eq(
        "MAP_SHARED|PROT_WRITE of a read-only descriptor",
        mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0).map(drop),
        Err(Errno::EACCES),
    );
    let p = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
    t.ok_result("MAP_PRIVATE|PROT_WRITE of it", &p);
    // SAFETY: unused after.
    if let Ok(p) = p {
        unsafe { munmap(p, PAGE) }.expect("munmap");
    }
    close(ro).expect("close");
    let wo = open(path, O_WRONLY, 0).expect("open");
    t.eq(
        "mmap of a write-only descriptor",
        mmap(0, PAGE, PROT_WRITE, MAP_SHARED, wo, 0).map(drop),
        Err(Errno::EACCES),
    );
    close(wo).expect("close");
    unlink(path).expect("unlink");
}

fn write_at(fd: i32, offset: u32, bytes: &[u8]) {
    linux::fs::pwrite(fd, bytes, u64::from(offset)).expect("pwrite");
}

fn errors(t: &mut Report) {
    t.section("bad requests");
    let rw = PROT_READ | PROT_WRITE;
    t.eq("mmap of length 0", mmap(0, 0, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), Err(Errno::EINVAL));
    t.eq("neither MAP_SHARED nor MAP_PRIVATE", mmap(0, PAGE, rw, MAP_ANONYMOUS, -1, 0), Err(Errno::EINVAL));
    t.eq("a file mapping of a closed descriptor", mmap(0, PAGE, rw, MAP_PRIVATE, 1000, 0), Err(Errno::EBADF));
    let [rd, wr] = pipe().expect("pipe");
    t.eq("a mapping of a pipe", mmap(0, PAGE, PROT_READ, MAP_PRIVATE, rd, 0), Err(Errno::ENODEV));
    close(rd).expect("close");
    close(wr).expect("close");
}

/// `mov $imm32, %eax; ret`.
fn emit(at: u32, value: u32) {
    let mut code = [0xb8u8, 0, 0, 0, 0, 0xc3, 0, 0];
    code[1..5].copy_from_slice(&value.to_le_bytes());
    // SAFETY: the caller's writable code page.
    unsafe {
        mm::poke(at, u32::from_le_bytes([code[0], code[1], code[2], code[3]]));
        mm::poke(at + 4, u32::from_le_bytes([code[4], code[5], code[6], code[7]]));
    }
}

fn runtime_code(t: &mut Report) {
    t.section("code written at run time");
    let page =
        mmap(0, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).expect("mmap");
    emit(page, 42);
    // SAFETY: the page holds `mov $42, %eax; ret`.
    t.eq("call the code just written", unsafe { probe::call(page) }, Ok(42));
    emit(page, 43);
    // SAFETY: rewritten in place: `mov $43, %eax; ret`.
    t.eq("rewrite its immediate and call it again", unsafe { probe::call(page) }, Ok(43));
    for i in 0..64 {
        emit(page + 64, 1000 + i);
        // SAFETY: as above.
        if unsafe { probe::call(page + 64) } != Ok(1000 + i) {
            t.fail(format_args!("rewritten code, round {i}: stale result"));
            break;
        }
    }
    t.ok("64 rounds of rewrite-then-call at another address", true);
    // SAFETY: the page holds code; taking away the write is what we test.
    unsafe { mprotect(page, PAGE, PROT_READ | PROT_EXEC) }.expect("mprotect");
    // SAFETY: still the same code.
    t.eq("read+exec after mprotect: call", unsafe { probe::call(page) }, Ok(43));
    // SAFETY: the write faults; it is caught.
    t.eq("and writing it", unsafe { probe::write(page, 0) }.map(|()| 0), segv(SEGV_ACCERR, page));
    // SAFETY: unused after.
    unsafe { munmap(page, PAGE) }.expect("munmap");
}
