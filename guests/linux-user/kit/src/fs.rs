//! Files, directories, pipes and mounts: `open`, `read`, `write`, `lseek`, `pread64`,
//! `dup2`, `fcntl64`, `stat64`, `getdents64`, `rename`, `link`, `symlink`, `mkdir`,
//! `pipe`, `mount`, ...
//!
//! File descriptors are `i32`, paths `&CStr` (a `c"..."` literal or a
//! [`CBuf`](crate::CBuf)). 64-bit sizes and offsets use the i386 calls that take them in
//! two registers (`pread64`, `ftruncate64`); `stat64` fills the i386 `struct stat64`.

use crate::Result;
use crate::syscall::{check, nr, syscall1, syscall2, syscall3, syscall6};
use core::ffi::CStr;

pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_ACCMODE: u32 = 3;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_NOCTTY: u32 = 0o400;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_DIRECTORY: u32 = 0o200000;
pub const O_NOFOLLOW: u32 = 0o400000;
/// Close on exec, set at open (new in 2.6.23).
pub const O_CLOEXEC: u32 = 0o2000000;

pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;

pub const F_DUPFD: u32 = 0;
pub const F_GETFD: u32 = 1;
pub const F_SETFD: u32 = 2;
pub const F_GETFL: u32 = 3;
pub const F_SETFL: u32 = 4;
pub const FD_CLOEXEC: u32 = 1;

pub const S_IFMT: u32 = 0o170000;
pub const S_IFIFO: u32 = 0o010000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;

/// `access` modes.
pub const F_OK: u32 = 0;
pub const X_OK: u32 = 1;
pub const W_OK: u32 = 2;
pub const R_OK: u32 = 4;

/// `getdents64` entry types.
pub const DT_FIFO: u8 = 1;
pub const DT_CHR: u8 = 2;
pub const DT_DIR: u8 = 4;
pub const DT_REG: u8 = 8;
pub const DT_LNK: u8 = 10;

fn ptr(path: &CStr) -> u32 {
    path.as_ptr() as u32
}

pub fn open(path: &CStr, flags: u32, mode: u32) -> Result<i32> {
    // SAFETY: the path is a NUL-terminated string the kernel only reads.
    check(unsafe { syscall3(nr::OPEN, ptr(path), flags, mode) }).map(|fd| fd as i32)
}

pub fn close(fd: i32) -> Result<()> {
    // SAFETY: closing a descriptor touches no memory of ours.
    check(unsafe { syscall1(nr::CLOSE, fd as u32) }).map(drop)
}

pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    check(unsafe { syscall3(nr::READ, fd as u32, buf.as_mut_ptr() as u32, buf.len() as u32) })
        .map(|n| n as usize)
}

pub fn write(fd: i32, buf: &[u8]) -> Result<usize> {
    // SAFETY: the kernel reads buf.len() bytes from buf.
    check(unsafe { syscall3(nr::WRITE, fd as u32, buf.as_ptr() as u32, buf.len() as u32) })
        .map(|n| n as usize)
}

/// `lseek` (32-bit offsets): the new offset.
pub fn lseek(fd: i32, offset: i32, whence: u32) -> Result<u32> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall3(nr::LSEEK, fd as u32, offset as u32, whence) })
}

/// `pread64`: read at `offset` without moving the file offset.
pub fn pread(fd: i32, buf: &mut [u8], offset: u64) -> Result<usize> {
    let (lo, hi) = (offset as u32, (offset >> 32) as u32);
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    check(unsafe { syscall6(nr::PREAD64, fd as u32, buf.as_mut_ptr() as u32, buf.len() as u32, lo, hi, 0) })
        .map(|n| n as usize)
}

/// `pwrite64`: write at `offset` without moving the file offset.
pub fn pwrite(fd: i32, buf: &[u8], offset: u64) -> Result<usize> {
    let (lo, hi) = (offset as u32, (offset >> 32) as u32);
    // SAFETY: the kernel reads buf.len() bytes from buf.
    check(unsafe { syscall6(nr::PWRITE64, fd as u32, buf.as_ptr() as u32, buf.len() as u32, lo, hi, 0) })
        .map(|n| n as usize)
}

pub fn dup(fd: i32) -> Result<i32> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall1(nr::DUP, fd as u32) }).map(|fd| fd as i32)
}

pub fn dup2(old: i32, new: i32) -> Result<i32> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall2(nr::DUP2, old as u32, new as u32) }).map(|fd| fd as i32)
}

/// `fcntl64` with an integer argument (`F_GETFD`, `F_SETFL`, `F_DUPFD`, ...).
pub fn fcntl(fd: i32, cmd: u32, arg: u32) -> Result<u32> {
    // SAFETY: the commands the kit names take no pointer.
    check(unsafe { syscall3(nr::FCNTL64, fd as u32, cmd, arg) })
}

/// A pipe: `[read end, write end]`.
pub fn pipe() -> Result<[i32; 2]> {
    let mut fds = [0i32; 2];
    // SAFETY: the kernel writes two ints into fds.
    check(unsafe { syscall1(nr::PIPE, fds.as_mut_ptr() as u32) }).map(|_| fds)
}

/// The i386 `struct stat64`, read through accessors (its 64-bit fields are only 4-byte
/// aligned, and it has padding from another era).
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Stat {
    words: [u32; 24],
}

impl Stat {
    fn u64_at(&self, word: usize) -> u64 {
        u64::from(self.words[word]) | (u64::from(self.words[word + 1]) << 32)
    }
    pub fn dev(&self) -> u64 {
        self.u64_at(0)
    }
    pub fn mode(&self) -> u32 {
        self.words[4]
    }
    /// The file type bits of the mode (`S_IFREG`, ...).
    pub fn kind(&self) -> u32 {
        self.mode() & S_IFMT
    }
    /// The permission bits of the mode (with set-id and sticky bits).
    pub fn perm(&self) -> u32 {
        self.mode() & 0o7777
    }
    pub fn nlink(&self) -> u32 {
        self.words[5]
    }
    pub fn uid(&self) -> u32 {
        self.words[6]
    }
    pub fn gid(&self) -> u32 {
        self.words[7]
    }
    pub fn rdev(&self) -> u64 {
        self.u64_at(8)
    }
    pub fn size(&self) -> u64 {
        self.u64_at(11)
    }
    pub fn blksize(&self) -> u32 {
        self.words[13]
    }
    pub fn blocks(&self) -> u64 {
        self.u64_at(14)
    }
    pub fn atime(&self) -> u32 {
        self.words[16]
    }
    pub fn mtime(&self) -> u32 {
        self.words[18]
    }
    pub fn ctime(&self) -> u32 {
        self.words[20]
    }
    pub fn ino(&self) -> u64 {
        self.u64_at(22)
    }
}

fn stat_call(nr: u32, arg: u32) -> Result<Stat> {
    let mut st = Stat { words: [0; 24] };
    // SAFETY: the kernel writes one struct stat64 (96 bytes) into st; arg is a path the
    // kernel reads, or a descriptor.
    check(unsafe { syscall2(nr, arg, &raw mut st as u32) }).map(|_| st)
}

pub fn stat(path: &CStr) -> Result<Stat> {
    stat_call(nr::STAT64, ptr(path))
}

pub fn lstat(path: &CStr) -> Result<Stat> {
    stat_call(nr::LSTAT64, ptr(path))
}

pub fn fstat(fd: i32) -> Result<Stat> {
    stat_call(nr::FSTAT64, fd as u32)
}

fn path_call(nr: u32, path: &CStr, arg: u32) -> Result<u32> {
    // SAFETY: the kernel only reads the path.
    check(unsafe { syscall2(nr, ptr(path), arg) })
}

fn two_paths(nr: u32, a: &CStr, b: &CStr) -> Result<()> {
    // SAFETY: the kernel only reads the paths.
    check(unsafe { syscall2(nr, ptr(a), ptr(b)) }).map(drop)
}

pub fn unlink(path: &CStr) -> Result<()> {
    path_call(nr::UNLINK, path, 0).map(drop)
}

pub fn rmdir(path: &CStr) -> Result<()> {
    path_call(nr::RMDIR, path, 0).map(drop)
}

pub fn mkdir(path: &CStr, mode: u32) -> Result<()> {
    path_call(nr::MKDIR, path, mode).map(drop)
}

pub fn chdir(path: &CStr) -> Result<()> {
    path_call(nr::CHDIR, path, 0).map(drop)
}

pub fn chmod(path: &CStr, mode: u32) -> Result<()> {
    path_call(nr::CHMOD, path, mode).map(drop)
}

pub fn access(path: &CStr, mode: u32) -> Result<()> {
    path_call(nr::ACCESS, path, mode).map(drop)
}

/// `truncate` (32-bit length).
pub fn truncate(path: &CStr, len: u32) -> Result<()> {
    path_call(nr::TRUNCATE, path, len).map(drop)
}

pub fn rename(from: &CStr, to: &CStr) -> Result<()> {
    two_paths(nr::RENAME, from, to)
}

/// A hard link `new` to the file `old`.
pub fn link(old: &CStr, new: &CStr) -> Result<()> {
    two_paths(nr::LINK, old, new)
}

/// A symbolic link at `path` holding `target`.
pub fn symlink(target: &CStr, path: &CStr) -> Result<()> {
    two_paths(nr::SYMLINK, target, path)
}

/// The target of symbolic link `path`, in `buf` (not NUL-terminated): its length.
pub fn readlink(path: &CStr, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the kernel reads the path and writes at most buf.len() bytes into buf.
    check(unsafe { syscall3(nr::READLINK, ptr(path), buf.as_mut_ptr() as u32, buf.len() as u32) })
        .map(|n| n as usize)
}

pub fn fchdir(fd: i32) -> Result<()> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall1(nr::FCHDIR, fd as u32) }).map(drop)
}

pub fn fchmod(fd: i32, mode: u32) -> Result<()> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall2(nr::FCHMOD, fd as u32, mode) }).map(drop)
}

/// `ftruncate64`.
pub fn ftruncate(fd: i32, len: u64) -> Result<()> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall3(nr::FTRUNCATE64, fd as u32, len as u32, (len >> 32) as u32) }).map(drop)
}

/// Write a file's data and metadata to its disk.
pub fn fsync(fd: i32) -> Result<()> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall1(nr::FSYNC, fd as u32) }).map(drop)
}

/// Write a file's data to its disk.
pub fn fdatasync(fd: i32) -> Result<()> {
    // SAFETY: touches no memory of ours.
    check(unsafe { syscall1(nr::FDATASYNC, fd as u32) }).map(drop)
}

/// Set the file mode creation mask; the old one.
pub fn umask(mask: u32) -> u32 {
    // SAFETY: touches no memory of ours; umask cannot fail.
    unsafe { syscall1(nr::UMASK, mask) }
}

/// The working directory, in `buf` (NUL-terminated): its length without the NUL.
pub fn getcwd(buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the kernel writes at most buf.len() bytes into buf. It returns the length
    // with the NUL.
    check(unsafe { syscall2(nr::GETCWD, buf.as_mut_ptr() as u32, buf.len() as u32) })
        .map(|n| (n as usize).saturating_sub(1))
}

/// `getdents64`: directory entries of `fd` into `buf`, how many bytes; see [`Dirents`].
pub fn getdents64(fd: i32, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    check(unsafe { syscall3(nr::GETDENTS64, fd as u32, buf.as_mut_ptr() as u32, buf.len() as u32) })
        .map(|n| n as usize)
}

/// The `struct linux_dirent64` records in a buffer `getdents64` filled: (inode, type,
/// name) for each.
pub struct Dirents<'a> {
    buf: &'a [u8],
}

impl<'a> Dirents<'a> {
    pub fn new(buf: &'a [u8]) -> Dirents<'a> {
        Dirents { buf }
    }
}

impl<'a> Iterator for Dirents<'a> {
    type Item = (u64, u8, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        // d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1), d_name (NUL-terminated).
        let rec = self.buf.get(..19)?;
        let ino = u64::from_le_bytes(rec[..8].try_into().ok()?);
        let reclen = usize::from(u16::from_le_bytes([rec[16], rec[17]]));
        let kind = rec[18];
        let name = self.buf.get(19..reclen)?;
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        self.buf = &self.buf[reclen..];
        Some((ino, kind, name))
    }
}

/// Read all of file `path` (up to `buf.len()` bytes) into `buf`: how many bytes.
pub fn read_file(path: &CStr, buf: &mut [u8]) -> Result<usize> {
    let fd = open(path, O_RDONLY, 0)?;
    let mut len = 0;
    let result = loop {
        match read(fd, &mut buf[len..]) {
            Ok(0) => break Ok(len),
            Ok(n) => len += n,
            Err(e) => break Err(e),
        }
        if len == buf.len() {
            break Ok(len);
        }
    };
    let _ = close(fd);
    result
}

/// Mount `source` of type `fstype` at `target`.
pub fn mount(source: &CStr, target: &CStr, fstype: &CStr, flags: u32) -> Result<()> {
    // SAFETY: the kernel reads the three strings; no data argument.
    check(unsafe { syscall6(nr::MOUNT, ptr(source), ptr(target), ptr(fstype), flags, 0, 0) }).map(drop)
}

/// Unmount what is mounted at `target`.
pub fn umount(target: &CStr) -> Result<()> {
    path_call(nr::UMOUNT2, target, 0).map(drop)
}

/// Write every dirty buffer out.
pub fn sync() {
    // SAFETY: touches no memory of ours.
    unsafe { syscall1(nr::SYNC, 0) };
}

/// `struct pollfd`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct PollFd {
    pub fd: i32,
    pub events: i16,
    pub revents: i16,
}

pub const POLLIN: i16 = 0x001;
pub const POLLPRI: i16 = 0x002;
pub const POLLOUT: i16 = 0x004;
pub const POLLERR: i16 = 0x008;
pub const POLLHUP: i16 = 0x010;
pub const POLLNVAL: i16 = 0x020;
pub const POLLRDNORM: i16 = 0x040;
pub const POLLWRNORM: i16 = 0x100;

/// Wait up to `timeout_ms` (-1: for ever) for one of `fds` to be ready: how many are;
/// each one's `revents` says what it is ready for.
pub fn poll(fds: &mut [PollFd], timeout_ms: i32) -> Result<usize> {
    // SAFETY: the kernel reads and writes fds.len() struct pollfd in fds.
    check(unsafe { syscall3(nr::POLL, fds.as_mut_ptr() as u32, fds.len() as u32, timeout_ms as u32) })
        .map(|n| n as usize)
}

/// `FIONREAD`: bytes ready to read.
pub const FIONREAD: u32 = 0x541b;

/// `ioctl(fd, FIONREAD)`: how many bytes a read would get now.
pub fn bytes_ready(fd: i32) -> Result<u32> {
    let mut n = 0u32;
    // SAFETY: FIONREAD writes one int into n.
    check(unsafe { syscall3(nr::IOCTL, fd as u32, FIONREAD, &raw mut n as u32) }).map(|_| n)
}

/// `mknod`: a special file (`S_IFIFO`, `S_IFCHR`, ... in `mode`) at `path`.
pub fn mknod(path: &CStr, mode: u32, dev: u32) -> Result<()> {
    // SAFETY: the kernel only reads the path.
    check(unsafe { syscall3(nr::MKNOD, ptr(path), mode, dev) }).map(drop)
}
