//! Files and directories, in each directory given (in the Guest: a tmpfs and the
//! initramfs root): `open` flags and modes, `read`/`write`/`lseek` with holes,
//! `pread`/`pwrite`, `O_APPEND`, `O_TRUNC`, `dup`/`dup2`/`fcntl`, `rename`, `link`,
//! `unlink` of an open file, `symlink`/`readlink`, `mkdir`/`rmdir`, `getdents64`,
//! `stat`/`fstat`/`lstat` (the fields every file system agrees on), `ftruncate`,
//! `chmod`, FIFOs, `chdir`/`getcwd`, an offset shared with a child, and `execve` of
//! files that are not programs.
//!
//! Usage: `files DIR...` (it works in `DIR/files-test`, which it makes and removes).
//! Directories are named by their position, not their path.

#![no_std]
#![no_main]

use linux::check::{Octal, Report};
use linux::fs::{
    self, DT_DIR, DT_FIFO, DT_LNK, DT_REG, Dirents, F_DUPFD, F_GETFD, F_GETFL, F_SETFD, F_SETFL, FD_CLOEXEC,
    O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
    S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, SEEK_CUR, SEEK_END, SEEK_SET, close, dup, dup2, fcntl, fstat,
    getdents64, link, lseek, lstat, mkdir, open, pread, pwrite, read, readlink, rename, rmdir, stat, symlink,
    unlink, write,
};
use linux::process::{fork_child, getgid, getuid, wait_for};
use linux::time::gettimeofday;
use linux::{Bytes, CBuf, Errno, arg, argc, cbuf};

linux::entry!(main);

fn main() -> i32 {
    if argc() < 2 {
        linux::eprintln!("usage: files DIR...");
        return 2;
    }
    let mut t = Report::new();
    fs::umask(0o022);
    for i in 1..argc() {
        let Some(dir) = arg(i) else { break };
        let base = cbuf!("{}/files-test", Bytes(dir));
        t.section(format_args!("directory {i}"));
        let _ = remove_tree(&base);
        if !t.ok_result("mkdir the test directory", &mkdir(&base, 0o755)) {
            continue;
        }
        let p = |name: &str| cbuf!("{}/{}", Bytes(base.as_bytes()), name);
        create_and_modes(&mut t, &p);
        offsets(&mut t, &p);
        descriptors(&mut t, &p);
        names(&mut t, &p);
        symlinks(&mut t, &p);
        directories(&mut t, &p, &base);
        metadata(&mut t, &p);
        special(&mut t, &p);
        t.ok_result("remove the test directory and all in it", &remove_tree(&base));
    }
    devices(&mut t);
    t.finish()
}

type PathFn<'a> = dyn Fn(&str) -> CBuf + 'a;

fn create_and_modes(t: &mut Report, p: &PathFn) {
    t.section("create");
    let f = p("a");
    let fd = open(&f, O_RDWR | O_CREAT | O_EXCL, 0o666);
    t.ok_result("open O_CREAT|O_EXCL, mode 0666", &fd);
    let Ok(fd) = fd else { return };
    t.eq(
        "its mode, with umask 022",
        fstat(fd).map(|s| (Octal(s.kind()), Octal(s.perm()))),
        Ok((Octal(S_IFREG), Octal(0o644))),
    );
    t.eq("again with O_EXCL", open(&f, O_RDWR | O_CREAT | O_EXCL, 0o666), Err(Errno::EEXIST));
    t.eq("open without O_CREAT, a missing name", open(&p("missing"), O_RDONLY, 0), Err(Errno::ENOENT));
    t.eq("open 'a/x' (a is a file)", open(&p("a/x"), O_RDONLY, 0), Err(Errno::ENOTDIR));
    t.eq("open O_DIRECTORY of a file", open(&f, O_RDONLY | O_DIRECTORY, 0), Err(Errno::ENOTDIR));
    t.eq("open O_CREAT of 'missing/x'", open(&p("missing/x"), O_RDWR | O_CREAT, 0o644), Err(Errno::ENOENT));
    close(fd).expect("close");
    let ro = open(&f, O_RDONLY, 0).expect("open");
    t.eq("write to an O_RDONLY descriptor", write(ro, b"x"), Err(Errno::EBADF));
    close(ro).expect("close");
    let wo = open(&f, O_WRONLY, 0).expect("open");
    t.eq("read from an O_WRONLY descriptor", read(wo, &mut [0u8; 4]), Err(Errno::EBADF));
    close(wo).expect("close");
    let fd = open(&p("b"), O_WRONLY | O_CREAT, 0o600).expect("open");
    t.eq("a file made with mode 0600", fstat(fd).map(|s| Octal(s.perm())), Ok(Octal(0o600)));
    close(fd).expect("close");
    fs::umask(0o077);
    let fd = open(&p("c"), O_WRONLY | O_CREAT, 0o666).expect("open");
    t.eq("mode 0666 with umask 077", fstat(fd).map(|s| Octal(s.perm())), Ok(Octal(0o600)));
    fs::umask(0o022);
    t.ok_result("fchmod 0751", &fs::fchmod(fd, 0o751));
    t.eq("then its mode", fstat(fd).map(|s| Octal(s.perm())), Ok(Octal(0o751)));
    t.ok_result("chmod 04755 (set-user-id)", &fs::chmod(&p("c"), 0o4755));
    t.eq("then its mode", stat(&p("c")).map(|s| Octal(s.perm())), Ok(Octal(0o4755)));
    close(fd).expect("close");
}

fn offsets(t: &mut Report, p: &PathFn) {
    t.section("offsets");
    let fd = open(&p("o"), O_RDWR | O_CREAT | O_TRUNC, 0o644).expect("open");
    t.eq("write 11 bytes", write(fd, b"hello world"), Ok(11));
    t.eq("lseek(0, SEEK_CUR)", lseek(fd, 0, SEEK_CUR), Ok(11));
    t.eq("lseek(0, SEEK_SET)", lseek(fd, 0, SEEK_SET), Ok(0));
    let mut buf = [0u8; 64];
    t.eq("read 64", read(fd, &mut buf).map(|n| Bytes(&buf[..n])), Ok(Bytes(b"hello world")));
    t.eq("read at the end", read(fd, &mut buf), Ok(0));
    t.eq("lseek(-5, SEEK_END)", lseek(fd, -5, SEEK_END), Ok(6));
    t.eq("read 64", read(fd, &mut buf).map(|n| Bytes(&buf[..n])), Ok(Bytes(b"world")));
    t.eq("lseek(-20, SEEK_SET)", lseek(fd, -20, SEEK_SET), Err(Errno::EINVAL));
    t.eq("lseek with whence 7", lseek(fd, 0, 7), Err(Errno::EINVAL));
    t.eq("lseek(100, SEEK_SET) past the end", lseek(fd, 100, SEEK_SET), Ok(100));
    t.eq("write there", write(fd, b"Z"), Ok(1));
    t.eq("the size", fstat(fd).map(|s| s.size()), Ok(101));
    t.eq("pread of the hole", pread(fd, &mut buf[..8], 20).map(|n| Bytes(&buf[..n])), Ok(Bytes(&[0; 8])));
    t.eq("pwrite at 2", pwrite(fd, b"LL", 2), Ok(2));
    t.eq("the offset did not move", lseek(fd, 0, SEEK_CUR), Ok(101));
    t.eq("pread at 0", pread(fd, &mut buf[..11], 0).map(|n| Bytes(&buf[..n])), Ok(Bytes(b"heLLo world")));
    t.eq("pread past the end", pread(fd, &mut buf, 500), Ok(0));
    close(fd).expect("close");

    let fd = open(&p("o"), O_WRONLY | O_APPEND, 0).expect("open");
    t.eq(
        "O_APPEND: lseek(0, SEEK_SET) then write 3",
        (lseek(fd, 0, SEEK_SET), write(fd, b"end")),
        (Ok(0), Ok(3)),
    );
    t.eq("the write went to the end: offset", lseek(fd, 0, SEEK_CUR), Ok(104));
    t.eq("F_GETFL has O_APPEND", fcntl(fd, F_GETFL, 0).map(|f| f & (O_APPEND | 3)), Ok(O_APPEND | O_WRONLY));
    close(fd).expect("close");
    let fd = open(&p("o"), O_RDWR, 0).expect("open");
    t.ok_result("F_SETFL O_APPEND on a plain descriptor", &fcntl(fd, F_SETFL, O_APPEND));
    t.eq(
        "then a write at offset 0 goes to the end",
        (write(fd, b"!"), lseek(fd, 0, SEEK_CUR)),
        (Ok(1), Ok(105)),
    );
    t.eq("the last bytes", pread(fd, &mut buf[..4], 101).map(|n| Bytes(&buf[..n])), Ok(Bytes(b"end!")));
    close(fd).expect("close");
    let fd = open(&p("o"), O_RDWR | O_TRUNC, 0).expect("open");
    t.eq("O_TRUNC: the size", fstat(fd).map(|s| s.size()), Ok(0));
    t.ok_result("ftruncate to 5000", &fs::ftruncate(fd, 5000));
    t.eq("reads as zeros", pread(fd, &mut buf, 4990).map(|n| Bytes(&buf[..n])), Ok(Bytes(&[0; 10])));
    t.ok_result("truncate to 3 by name", &fs::truncate(&p("o"), 3));
    t.eq("the size", fstat(fd).map(|s| s.size()), Ok(3));
    t.ok_result("fsync", &fs::fsync(fd));
    t.ok_result("fdatasync", &fs::fdatasync(fd));

    // A child reading through an inherited descriptor moves the parent's offset.
    write(fd, b"abcdef").expect("write");
    lseek(fd, 0, SEEK_SET).expect("lseek");
    let pid = fork_child(|| if read(fd, &mut [0u8; 4]) == Ok(4) { 0 } else { 1 }).expect("fork");
    t.eq("a child read 4 bytes", wait_for(pid).map(|s| s.exit_code()), Ok(Some(0)));
    t.eq("the parent's offset", lseek(fd, 0, SEEK_CUR), Ok(4));
    close(fd).expect("close");
}

fn descriptors(t: &mut Report, p: &PathFn) {
    t.section("descriptors");
    let fd = open(&p("d"), O_RDWR | O_CREAT | O_TRUNC, 0o644).expect("open");
    write(fd, b"0123456789").expect("write");
    let d = dup(fd).expect("dup");
    t.ok("dup gives another number", d != fd);
    t.eq(
        "they share the offset: lseek one, read the other",
        (lseek(fd, 3, SEEK_SET), read(d, &mut [0u8; 2])),
        (Ok(3), Ok(2)),
    );
    t.eq("the first's offset", lseek(fd, 0, SEEK_CUR), Ok(5));
    t.ok_result("FD_CLOEXEC on the first", &fcntl(fd, F_SETFD, FD_CLOEXEC));
    t.eq("F_GETFD: (first, dup)", (fcntl(fd, F_GETFD, 0), fcntl(d, F_GETFD, 0)), (Ok(FD_CLOEXEC), Ok(0)));
    t.eq("dup2 onto 17", dup2(fd, 17), Ok(17));
    t.eq("the copy's close-on-exec flag is clear", fcntl(17, F_GETFD, 0), Ok(0));
    t.eq("dup2 onto itself", dup2(fd, fd), Ok(fd));
    t.eq("dup2 of a closed descriptor", dup2(99, 18), Err(Errno::EBADF));
    t.eq("dup2 onto 17 again (closes the old 17 first)", dup2(d, 17), Ok(17));
    t.eq("F_DUPFD from 20", fcntl(fd, F_DUPFD, 20), Ok(20));
    t.eq("F_DUPFD from 20 again", fcntl(fd, F_DUPFD, 20), Ok(21));
    for x in [fd, d, 17, 20, 21] {
        close(x).expect("close");
    }
    t.eq("close of a closed descriptor", close(fd), Err(Errno::EBADF));
    let [rd, wr] = fs::pipe().expect("pipe");
    t.eq("lseek on a pipe", lseek(rd, 0, SEEK_SET), Err(Errno::ESPIPE));
    close(rd).expect("close");
    close(wr).expect("close");
}

fn ino(path: &CBuf) -> Option<u64> {
    lstat(path).ok().map(|s| s.ino())
}

fn names(t: &mut Report, p: &PathFn) {
    t.section("names");
    let fd = open(&p("n1"), O_RDWR | O_CREAT | O_TRUNC, 0o644).expect("open");
    write(fd, b"first").expect("write");
    close(fd).expect("close");
    let first = ino(&p("n1"));
    t.ok_result("rename n1 to n2", &rename(&p("n1"), &p("n2")));
    t.eq("n1 is gone", stat(&p("n1")).map(drop), Err(Errno::ENOENT));
    t.eq("n2 is the same file (inode)", ino(&p("n2")) == first, true);
    let fd = open(&p("n3"), O_RDWR | O_CREAT | O_TRUNC, 0o644).expect("open");
    close(fd).expect("close");
    t.ok("a new file has another inode", ino(&p("n3")) != first);
    t.ok_result("rename n2 over n3", &rename(&p("n2"), &p("n3")));
    t.eq("n3 is now n2's file", ino(&p("n3")) == first, true);
    t.eq("rename of a missing name", rename(&p("n2"), &p("n4")), Err(Errno::ENOENT));
    t.ok_result("link n3 to n4", &link(&p("n3"), &p("n4")));
    t.eq(
        "n4: same inode, and the links",
        (ino(&p("n4")) == first, stat(&p("n3")).map(|s| s.nlink())),
        (true, Ok(2)),
    );
    t.eq("link to an existing name", link(&p("n3"), &p("n4")), Err(Errno::EEXIST));
    mkdir(&p("ndir"), 0o755).expect("mkdir");
    t.eq("link to a directory", link(&p("ndir"), &p("n5")), Err(Errno::EPERM));
    t.eq("rename a file over a directory", rename(&p("n3"), &p("ndir")), Err(Errno::EISDIR));
    t.eq("rename a directory over a file", rename(&p("ndir"), &p("n3")), Err(Errno::ENOTDIR));
    t.eq("rename a directory into itself", rename(&p("ndir"), &p("ndir/sub")), Err(Errno::EINVAL));

    let fd = open(&p("n4"), O_RDONLY, 0).expect("open");
    t.ok_result("unlink n3", &unlink(&p("n3")));
    t.eq("n4's links", fstat(fd).map(|s| s.nlink()), Ok(1));
    t.ok_result("unlink n4 while open", &unlink(&p("n4")));
    t.eq("the open file's links", fstat(fd).map(|s| s.nlink()), Ok(0));
    let mut buf = [0u8; 8];
    t.eq("and it still reads", read(fd, &mut buf).map(|n| Bytes(&buf[..n])), Ok(Bytes(b"first")));
    close(fd).expect("close");
    t.eq("unlink of a missing name", unlink(&p("n4")), Err(Errno::ENOENT));
    t.eq("unlink of a directory", unlink(&p("ndir")), Err(Errno::EISDIR));
    rmdir(&p("ndir")).expect("rmdir");
}

fn symlinks(t: &mut Report, p: &PathFn) {
    t.section("symbolic links");
    let fd = open(&p("target"), O_RDWR | O_CREAT | O_TRUNC, 0o644).expect("open");
    write(fd, b"via the link").expect("write");
    close(fd).expect("close");
    t.ok_result("symlink 'target' at s1", &symlink(c"target", &p("s1")));
    let mut buf = [0u8; 64];
    t.eq("readlink", readlink(&p("s1"), &mut buf).map(|n| Bytes(&buf[..n])), Ok(Bytes(b"target")));
    t.eq(
        "readlink into 3 bytes",
        readlink(&p("s1"), &mut buf[..3]).map(|n| Bytes(&buf[..n])),
        Ok(Bytes(b"tar")),
    );
    t.eq(
        "lstat: kind, mode and size",
        lstat(&p("s1")).map(|s| (Octal(s.kind()), Octal(s.perm()), s.size())),
        Ok((Octal(S_IFLNK), Octal(0o777), 6)),
    );
    t.eq(
        "stat follows it: kind and size",
        stat(&p("s1")).map(|s| (Octal(s.kind()), s.size())),
        Ok((Octal(S_IFREG), 12)),
    );
    let fd = open(&p("s1"), O_RDONLY, 0).expect("open through the link");
    t.eq("reading through it", read(fd, &mut buf).map(|n| Bytes(&buf[..n])), Ok(Bytes(b"via the link")));
    close(fd).expect("close");
    t.eq("open O_NOFOLLOW of it", open(&p("s1"), O_RDONLY | O_NOFOLLOW, 0), Err(Errno::ELOOP));
    t.eq("readlink of a file", readlink(&p("target"), &mut buf), Err(Errno::EINVAL));
    t.ok_result("a dangling link", &symlink(c"nowhere", &p("s2")));
    t.eq("stat of it", stat(&p("s2")).map(drop), Err(Errno::ENOENT));
    t.eq("lstat of it", lstat(&p("s2")).map(|s| Octal(s.kind())), Ok(Octal(S_IFLNK)));
    t.ok_result("links in a loop: l1 -> l2", &symlink(c"l2", &p("l1")));
    t.ok_result("l2 -> l1", &symlink(c"l1", &p("l2")));
    t.eq("stat of l1", stat(&p("l1")).map(drop), Err(Errno::ELOOP));
    t.eq("symlink over an existing name", symlink(c"x", &p("s1")), Err(Errno::EEXIST));
    t.ok_result("unlink removes the link, not its target", &unlink(&p("s1")));
    t.eq("the target", stat(&p("target")).map(|s| s.size()), Ok(12));
}

/// The names in directory `path`, with their types, sorted (the order `getdents64`
/// returns them in depends on the file system).
fn listing(path: &CBuf) -> Result<CBuf, Errno> {
    let fd = open(path, O_RDONLY | O_DIRECTORY, 0)?;
    let mut names = [[0u8; 16]; 24];
    let mut n = 0;
    let mut buf = [0u8; 1024];
    loop {
        let len = getdents64(fd, &mut buf)?;
        if len == 0 {
            break;
        }
        for (_, kind, name) in Dirents::new(&buf[..len]) {
            if n < names.len() && name.len() < 14 {
                let tag = match kind {
                    DT_DIR => b'/',
                    DT_REG => b' ',
                    DT_LNK => b'@',
                    DT_FIFO => b'|',
                    _ => b'?',
                };
                names[n][..name.len()].copy_from_slice(name);
                names[n][15] = tag;
                n += 1;
            }
        }
    }
    close(fd)?;
    names[..n].sort_unstable_by(|a, b| a[..15].cmp(&b[..15]));
    let mut out = CBuf::new();
    for entry in &names[..n] {
        let len = entry[..15].iter().position(|&b| b == 0).unwrap_or(15);
        out.push(&entry[..len]);
        if entry[15] != b' ' {
            out.push(&entry[15..]);
        }
        out.push(b" ");
    }
    Ok(out.finish())
}

fn directories(t: &mut Report, p: &PathFn, base: &CBuf) {
    t.section("directories");
    t.ok_result("mkdir sub, mode 0750", &mkdir(&p("sub"), 0o750));
    t.eq(
        "its mode",
        stat(&p("sub")).map(|s| (Octal(s.kind()), Octal(s.perm()))),
        Ok((Octal(S_IFDIR), Octal(0o750))),
    );
    t.eq("mkdir it again", mkdir(&p("sub"), 0o755), Err(Errno::EEXIST));
    t.eq("mkdir in a missing directory", mkdir(&p("nope/sub"), 0o755), Err(Errno::ENOENT));
    let fd = open(&p("sub/f"), O_WRONLY | O_CREAT, 0o644).expect("open");
    close(fd).expect("close");
    mkdir(&p("sub/inner"), 0o755).expect("mkdir");
    t.eq("rmdir of a directory with files", rmdir(&p("sub")), Err(Errno::ENOTEMPTY));
    t.eq("rmdir of a file", rmdir(&p("sub/f")), Err(Errno::ENOTDIR));
    mkdir(&p("other"), 0o755).expect("mkdir");
    let fd = open(&p("other/x"), O_WRONLY | O_CREAT, 0o644).expect("open");
    close(fd).expect("close");
    t.eq(
        "rename a directory over a non-empty one",
        rename(&p("sub/inner"), &p("other")),
        Err(Errno::ENOTEMPTY),
    );
    t.ok_result("rename a directory over an empty one", &rename(&p("other"), &p("sub/inner")));
    t.eq("the listing of sub", listing(&p("sub")), Ok(cbuf!("./ ../ f inner/ ")));
    mkdir(&p("sub/x"), 0o700).expect("mkdir");
    symlink(c"f", &p("sub/ln")).expect("symlink");
    fs::mknod(&p("sub/fifo"), S_IFIFO | 0o644, 0).expect("mknod");
    t.eq(
        "after a directory, a link and a FIFO more",
        listing(&p("sub")),
        Ok(cbuf!("./ ../ f fifo| inner/ ln@ x/ ")),
    );
    t.eq(
        "getdents64 of a file",
        open(&p("sub/f"), O_RDONLY, 0).and_then(|fd| {
            let r = getdents64(fd, &mut [0u8; 256]);
            let _ = close(fd);
            r
        }),
        Err(Errno::ENOTDIR),
    );

    let mut cwd = [0u8; 256];
    let old = fs::getcwd(&mut cwd).map(|n| CBuf::from_bytes(&cwd[..n]));
    t.ok_result("getcwd", &old);
    t.ok_result("chdir into the test directory", &fs::chdir(base));
    let here = fs::getcwd(&mut cwd).map(|n| cwd[..n].ends_with(b"/files-test"));
    t.eq("getcwd ends with /files-test", here, Ok(true));
    t.eq("relative names work there: stat sub/f", stat(c"sub/f").map(|s| s.size()), Ok(0));
    let dirfd = open(c"sub", O_RDONLY | O_DIRECTORY, 0).expect("open sub");
    t.ok_result("fchdir into sub", &fs::fchdir(dirfd));
    t.eq(
        "getcwd ends with /files-test/sub",
        fs::getcwd(&mut cwd).map(|n| cwd[..n].ends_with(b"/files-test/sub")),
        Ok(true),
    );
    close(dirfd).expect("close");
    t.ok_result("chdir ..", &fs::chdir(c".."));
    t.eq(
        "the working directory removed from under us",
        {
            mkdir(c"gone", 0o755).expect("mkdir");
            fs::chdir(c"gone").expect("chdir");
            rmdir(c"../gone").expect("rmdir");
            (stat(c".").map(|s| s.nlink()), open(c"new", O_WRONLY | O_CREAT, 0o644))
        },
        (Ok(0), Err(Errno::ENOENT)),
    );
    if let Ok(old) = old {
        t.ok_result("chdir back", &fs::chdir(&old));
    }
}

fn metadata(t: &mut Report, p: &PathFn) {
    t.section("stat");
    let before = gettimeofday().map(|(s, _)| s).unwrap_or(0);
    let fd = open(&p("m"), O_RDWR | O_CREAT | O_TRUNC, 0o640).expect("open");
    write(fd, &[7u8; 3000]).expect("write");
    let st = fstat(fd).expect("fstat");
    t.eq(
        "size, kind, mode, links",
        (st.size(), Octal(st.kind()), Octal(st.perm()), st.nlink()),
        (3000, Octal(S_IFREG), Octal(0o640), 1),
    );
    t.same("uid is ours", st.uid(), getuid());
    t.same("gid is ours", st.gid(), getgid());
    // File times come from a coarser clock than gettimeofday's: allow it to lag a second.
    t.ok(
        "mtime and ctime are not before the file was made",
        st.mtime() as i32 >= before - 1 && st.ctime() as i32 >= before - 1,
    );
    t.eq("rdev of a file", st.rdev(), 0);
    let by_name = stat(&p("m")).expect("stat");
    t.eq(
        "stat by name: same dev, inode, size",
        (by_name.dev() == st.dev(), by_name.ino() == st.ino(), by_name.size()),
        (true, true, 3000),
    );
    let other = stat(&p("sub")).expect("stat");
    t.eq(
        "a file beside it: same dev, other inode",
        (other.dev() == st.dev(), other.ino() != st.ino()),
        (true, true),
    );
    close(fd).expect("close");
    t.eq("access F_OK", fs::access(&p("m"), fs::F_OK), Ok(()));
    t.eq("access F_OK of a missing name", fs::access(&p("nothing"), fs::F_OK), Err(Errno::ENOENT));
}

fn special(t: &mut Report, p: &PathFn) {
    t.section("FIFOs and programs that are not");
    let fifo = p("sub/fifo");
    t.eq("stat of the FIFO", stat(&fifo).map(|s| (Octal(s.kind()), s.size())), Ok((Octal(S_IFIFO), 0)));
    t.eq(
        "open it O_WRONLY|O_NONBLOCK with no reader",
        open(&fifo, O_WRONLY | O_NONBLOCK, 0),
        Err(Errno::ENXIO),
    );
    let rd = open(&fifo, O_RDONLY | O_NONBLOCK, 0);
    t.ok_result("open it O_RDONLY|O_NONBLOCK", &rd);
    let wr = open(&fifo, O_WRONLY | O_NONBLOCK, 0);
    t.ok_result("then O_WRONLY|O_NONBLOCK", &wr);
    if let (Ok(rd), Ok(wr)) = (rd, wr) {
        let mut buf = [0u8; 8];
        t.eq(
            "write and read through it",
            (write(wr, b"fifo"), read(rd, &mut buf).map(|n| Bytes(&buf[..n]))),
            (Ok(4), Ok(Bytes(b"fifo"))),
        );
        close(rd).expect("close");
        close(wr).expect("close");
    }

    let text = p("script");
    let fd = open(&text, O_WRONLY | O_CREAT | O_TRUNC, 0o755).expect("open");
    write(fd, b"this is not a program\n").expect("write");
    close(fd).expect("close");
    let nul = [core::ptr::null()];
    t.eq("execve of an executable text file", linux::process::execve(&text, &nul, &nul), Errno::ENOEXEC);
    fs::chmod(&text, 0o644).expect("chmod");
    t.eq(
        "execve of a file without execute permission",
        linux::process::execve(&text, &nul, &nul),
        Errno::EACCES,
    );
    t.eq("open of a directory for writing", open(&p("sub"), O_WRONLY, 0), Err(Errno::EISDIR));
}

fn devices(t: &mut Report) {
    t.section("/dev/null");
    let fd = open(c"/dev/null", O_RDWR, 0).expect("open /dev/null");
    t.eq("kind", fstat(fd).map(|s| Octal(s.kind())), Ok(Octal(fs::S_IFCHR)));
    t.eq("its device number (major 1, minor 3)", fstat(fd).map(|s| s.rdev()), Ok(0x103));
    t.eq("write", write(fd, b"into nothing"), Ok(12));
    t.eq("read", read(fd, &mut [0u8; 8]), Ok(0));
    close(fd).expect("close");
}

/// Remove `path` and everything under it.
fn remove_tree(path: &CBuf) -> Result<(), Errno> {
    match lstat(path) {
        Err(e) => return Err(e),
        Ok(st) if st.kind() != S_IFDIR => return unlink(path),
        Ok(_) => {}
    }
    loop {
        // Remove entries a buffer at a time, reading the directory again after each
        // batch (removing while reading would skip entries on some file systems).
        let fd = open(path, O_RDONLY | O_DIRECTORY, 0)?;
        let mut buf = [0u8; 1024];
        let len = getdents64(fd, &mut buf);
        close(fd)?;
        let len = len?;
        let mut removed = 0;
        for (_, _, name) in Dirents::new(&buf[..len]) {
            if name == b"." || name == b".." {
                continue;
            }
            remove_tree(&cbuf!("{}/{}", Bytes(path.as_bytes()), Bytes(name)))?;
            removed += 1;
        }
        if removed == 0 {
            return rmdir(path);
        }
    }
}
