//! demofs: the shell's on-disk format, small enough to check with a hex dump — a
//! superblock, one sector of directory, and each file in one run of consecutive sectors.
//!
//! ```text
//! sector 0   superblock    0  magic "DEMOFS01" (8 bytes)
//!                          8  u32: sectors the file system spans (the disk's, at format)
//!                         12  u32: entries in the directory (16)
//!                             the rest zero
//! sector 1   directory    16 entries of 32 bytes:
//!                          0  name: 1 to 20 bytes, NUL-padded; all zero = a free entry
//!                         20  u32: the file's first sector (0 for an empty file)
//!                         24  u32: its length in bytes
//!                         28  u32: zero (reserved)
//! sector 2…  data         each file in ceil(length / 512) sectors from its first, the
//!                         last one padded with zeros
//! ```
//!
//! Numbers are little-endian. A new file goes in the first gap big enough for it (first
//! fit). Replacing a file writes the new data before the directory, so a file is either
//! the old one or the new one if the Guest dies between the two writes.

use ulib::{DISK_MAX_SECTORS, SECTOR};

/// The superblock's first bytes.
pub const MAGIC: &[u8; 8] = b"DEMOFS01";
/// Where the directory is.
pub const DIR_SECTOR: u32 = 1;
/// The first sector a file's data may use.
pub const DATA_START: u32 = 2;
/// Entries in the directory.
pub const MAX_FILES: usize = 16;
/// Longest file name, in bytes.
pub const NAME_MAX: usize = 20;
/// Bytes of a directory entry.
const ENTRY_SIZE: usize = 32;

const SECTOR_BYTES: usize = SECTOR as usize;

/// Why a file-system operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The disk said no (the errno of the system call).
    Disk(u32),
    /// Sector 0 has no demofs superblock.
    NotFormatted,
    /// The disk is too small for a superblock and a directory.
    DiskTooSmall,
    NotFound,
    /// A name must be 1 to 20 bytes.
    BadName,
    /// All 16 directory entries are in use.
    DirectoryFull,
    /// No run of free sectors is long enough.
    NoSpace,
}

impl Error {
    pub fn message(self) -> &'static str {
        match self {
            Error::Disk(e) => ulib::strerror(e),
            Error::NotFormatted => "no file system on the disk (format makes one)",
            Error::DiskTooSmall => "the disk is too small for a file system",
            Error::NotFound => "no such file",
            Error::BadName => "a file name is 1 to 20 bytes",
            Error::DirectoryFull => "the directory is full (16 files)",
            Error::NoSpace => "no room on the disk",
        }
    }
}

/// One directory entry.
#[derive(Clone, Copy, Default)]
pub struct Entry {
    name: [u8; NAME_MAX],
    pub start: u32,
    pub len: u32,
}

impl Entry {
    pub fn name(&self) -> &str {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(NAME_MAX);
        core::str::from_utf8(&self.name[..end]).unwrap_or("?")
    }

    fn is_free(&self) -> bool {
        self.name[0] == 0
    }

    /// Sectors its data takes.
    pub fn sectors(&self) -> u32 {
        self.len.div_ceil(SECTOR)
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn read_sector(sector: u32, buf: &mut [u8; SECTOR_BYTES]) -> Result<(), Error> {
    ulib::disk_read(sector, buf).map_err(Error::Disk)
}

fn write_sector(sector: u32, buf: &[u8; SECTOR_BYTES]) -> Result<(), Error> {
    ulib::disk_write(sector, buf).map_err(Error::Disk)
}

/// A mounted file system: its size and its directory, as on the disk.
pub struct Fs {
    pub sectors: u32,
    dir: [Entry; MAX_FILES],
}

impl Fs {
    /// Make an empty file system on the whole disk; its size in sectors.
    pub fn format() -> Result<u32, Error> {
        let sectors = ulib::disk_size().map_err(Error::Disk)?;
        if sectors <= DATA_START {
            return Err(Error::DiskTooSmall);
        }
        // The directory first: a superblock never names a stale directory.
        write_sector(DIR_SECTOR, &[0; SECTOR_BYTES])?;
        let mut sb = [0u8; SECTOR_BYTES];
        sb[..8].copy_from_slice(MAGIC);
        put_u32(&mut sb, 8, sectors);
        put_u32(&mut sb, 12, MAX_FILES as u32);
        write_sector(0, &sb)?;
        Ok(sectors)
    }

    /// Read the superblock and the directory.
    pub fn mount() -> Result<Fs, Error> {
        let mut sb = [0u8; SECTOR_BYTES];
        read_sector(0, &mut sb)?;
        if &sb[..8] != MAGIC || u32_at(&sb, 12) != MAX_FILES as u32 {
            return Err(Error::NotFormatted);
        }
        let mut raw = [0u8; SECTOR_BYTES];
        read_sector(DIR_SECTOR, &mut raw)?;
        let mut dir = [Entry::default(); MAX_FILES];
        for (e, bytes) in dir.iter_mut().zip(raw.chunks_exact(ENTRY_SIZE)) {
            e.name.copy_from_slice(&bytes[..NAME_MAX]);
            e.start = u32_at(bytes, 20);
            e.len = u32_at(bytes, 24);
        }
        Ok(Fs { sectors: u32_at(&sb, 8), dir })
    }

    /// The files, in directory order.
    pub fn files(&self) -> impl Iterator<Item = &Entry> {
        self.dir.iter().filter(|e| !e.is_free())
    }

    /// Sectors in use: the superblock, the directory and every file's data.
    pub fn used(&self) -> u32 {
        DATA_START + self.files().map(Entry::sectors).sum::<u32>()
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.dir.iter().position(|e| !e.is_free() && e.name() == name)
    }

    /// Give `f` the file's bytes, a piece at a time.
    pub fn read(&self, name: &str, mut f: impl FnMut(&[u8])) -> Result<u32, Error> {
        let e = self.dir[self.find(name).ok_or(Error::NotFound)?];
        let mut buf = [0u8; SECTOR_BYTES * DISK_MAX_SECTORS as usize];
        let mut left = e.len as usize;
        let mut sector = e.start;
        while left > 0 {
            let n = left.div_ceil(SECTOR_BYTES).min(DISK_MAX_SECTORS as usize);
            ulib::disk_read(sector, &mut buf[..n * SECTOR_BYTES]).map_err(Error::Disk)?;
            let take = left.min(n * SECTOR_BYTES);
            f(&buf[..take]);
            left -= take;
            sector += n as u32;
        }
        Ok(e.len)
    }

    /// Make `name` hold `data`, replacing the file of that name if there is one.
    pub fn put(&mut self, name: &str, data: &[u8]) -> Result<Entry, Error> {
        if name.is_empty() || name.len() > NAME_MAX || name.as_bytes().contains(&0) {
            return Err(Error::BadName);
        }
        let old = self.find(name);
        let slot = old.or_else(|| self.dir.iter().position(Entry::is_free)).ok_or(Error::DirectoryFull)?;
        let mut e = Entry { name: [0; NAME_MAX], start: 0, len: data.len() as u32 };
        e.name[..name.len()].copy_from_slice(name.as_bytes());
        if e.sectors() > 0 {
            e.start = self.find_gap(e.sectors()).ok_or(Error::NoSpace)?;
        }
        for (i, chunk) in data.chunks(SECTOR_BYTES).enumerate() {
            let mut sector = [0u8; SECTOR_BYTES];
            sector[..chunk.len()].copy_from_slice(chunk);
            write_sector(e.start + i as u32, &sector)?;
        }
        self.dir[slot] = e;
        self.write_dir()?;
        Ok(e)
    }

    /// Remove `name`.
    pub fn rm(&mut self, name: &str) -> Result<(), Error> {
        let slot = self.find(name).ok_or(Error::NotFound)?;
        self.dir[slot] = Entry::default();
        self.write_dir()
    }

    /// The first sector of the first run of `need` free sectors. A file being replaced
    /// still counts as using its sectors: its new data goes elsewhere.
    fn find_gap(&self, need: u32) -> Option<u32> {
        let mut start = DATA_START;
        loop {
            let end = start.checked_add(need)?;
            if end > self.sectors {
                return None;
            }
            // The file in the way that ends last, if any: the next try starts after it.
            let in_way = self
                .files()
                .filter(|e| e.sectors() > 0 && e.start < end && start < e.start + e.sectors())
                .map(|e| e.start + e.sectors())
                .max();
            match in_way {
                None => return Some(start),
                Some(after) => start = after,
            }
        }
    }

    fn write_dir(&self) -> Result<(), Error> {
        let mut raw = [0u8; SECTOR_BYTES];
        for (e, bytes) in self.dir.iter().zip(raw.chunks_exact_mut(ENTRY_SIZE)) {
            bytes[..NAME_MAX].copy_from_slice(&e.name);
            put_u32(bytes, 20, e.start);
            put_u32(bytes, 24, e.len);
        }
        write_sector(DIR_SECTOR, &raw)
    }
}
