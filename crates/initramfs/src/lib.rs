//! Initramfs images for the Linux Guest: the archives a 2.6.23 kernel unpacks into its
//! root file system at boot.
//!
//! An initramfs is one or more gzip'd "newc" cpio archives one after the other; the
//! kernel (`init/initramfs.c`, `unpack_to_rootfs`) unpacks each in turn into the same
//! root, a later file replacing an earlier one of the same name (it opens regular files
//! with `O_TRUNC`). So an image is extended by appending an archive, without unpacking
//! the one it had: that is how the test initramfs is the bundled `linux/initramfs.cpio.gz`
//! (the klibc shell and tools) plus an archive with the test `/init` and programs.
//!
//! [`Archive`] writes one newc archive (regular files, directories, symbolic links,
//! device nodes; owner root, time 0, so the same input always gives the same bytes);
//! [`Initramfs`] is an image being assembled: a base image's bytes, then archives
//! appended gzip'd.
//!
//! ```
//! use initramfs::{Archive, Initramfs};
//! let mut extra = Archive::new();
//! extra.dir("etc", 0o755)?.file("etc/motd", 0o644, b"hello\n")?;
//! let mut image = Initramfs::new(); // or Initramfs::from_image(bytes of a .cpio.gz)
//! image.append(extra);
//! assert_eq!(&image.bytes()[..2], &[0x1f, 0x8b]); // gzip
//! # Ok::<(), initramfs::Error>(())
//! ```

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;

/// A name or entry the kernel would refuse, or that does not fit the format.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("archive entry name {0:?} is empty, absolute, or has an empty, '.' or '..' part")]
    BadName(String),
    #[error("archive entry {name:?} is {len} bytes, more than the newc format's 4 GiB")]
    TooLarge { name: String, len: usize },
    #[error("mode {mode:#o} of {name:?} has bits other than permissions (at most 0o7777)")]
    BadMode { name: String, mode: u32 },
}

/// File type bits of a newc mode.
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;
const S_IFBLK: u32 = 0o060000;

/// One newc ("070701") cpio archive being written.
#[derive(Debug, Clone, Default)]
pub struct Archive {
    bytes: Vec<u8>,
    /// The next inode number: each entry its own, so the kernel never takes two of them
    /// for hard links to one file.
    ino: u32,
}

impl Archive {
    pub fn new() -> Archive {
        Archive { bytes: Vec::new(), ino: 1 }
    }

    /// A regular file `name` (relative, `/`-separated: `bin/sh`) with permissions `mode`.
    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> Result<&mut Archive, Error> {
        self.entry(name, S_IFREG, mode, data, (0, 0))
    }

    /// A directory. The kernel makes only the directory named; its parents come first.
    pub fn dir(&mut self, name: &str, mode: u32) -> Result<&mut Archive, Error> {
        self.entry(name, S_IFDIR, mode, b"", (0, 0))
    }

    /// A symbolic link `name` to `target`.
    pub fn symlink(&mut self, name: &str, target: &str) -> Result<&mut Archive, Error> {
        self.entry(name, S_IFLNK, 0o777, target.as_bytes(), (0, 0))
    }

    /// A character device node (`/dev/console` is 5,1; `/dev/null` 1,3).
    pub fn char_dev(&mut self, name: &str, mode: u32, major: u32, minor: u32) -> Result<&mut Archive, Error> {
        self.entry(name, S_IFCHR, mode, b"", (major, minor))
    }

    /// A block device node.
    pub fn block_dev(
        &mut self,
        name: &str,
        mode: u32,
        major: u32,
        minor: u32,
    ) -> Result<&mut Archive, Error> {
        self.entry(name, S_IFBLK, mode, b"", (major, minor))
    }

    fn entry(
        &mut self,
        name: &str,
        kind: u32,
        mode: u32,
        data: &[u8],
        rdev: (u32, u32),
    ) -> Result<&mut Archive, Error> {
        let bad_part = |p: &str| p.is_empty() || p == "." || p == "..";
        if name.is_empty() || name.starts_with('/') || name.split('/').any(bad_part) || name.contains('\0') {
            return Err(Error::BadName(name.to_string()));
        }
        if mode & !0o7777 != 0 {
            return Err(Error::BadMode { name: name.to_string(), mode });
        }
        let len = u32::try_from(data.len())
            .map_err(|_| Error::TooLarge { name: name.to_string(), len: data.len() })?;
        let nlink = if kind == S_IFDIR { 2 } else { 1 };
        let ino = self.ino;
        self.ino += 1;
        self.header(ino, kind | mode, nlink, len, rdev, name);
        self.bytes.extend_from_slice(data);
        self.pad();
        Ok(self)
    }

    /// A newc header: magic, 13 fields of 8 hex digits, the name with its NUL, padding to
    /// 4 bytes.
    fn header(&mut self, ino: u32, mode: u32, nlink: u32, filesize: u32, rdev: (u32, u32), name: &str) {
        let namesize = name.len() as u32 + 1;
        // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
        // rdevminor, namesize, check
        let fields = [ino, mode, 0, 0, nlink, 0, filesize, 0, 0, rdev.0, rdev.1, namesize, 0];
        self.bytes.extend_from_slice(b"070701");
        for f in fields {
            self.bytes.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        pad4(&mut self.bytes);
    }

    /// The archive's bytes, with its `TRAILER!!!` entry (uncompressed).
    pub fn finish(mut self) -> Vec<u8> {
        self.header(0, 0, 1, 0, (0, 0), "TRAILER!!!");
        self.bytes
    }
}

/// Zeros up to the next multiple of 4 bytes.
fn pad4(bytes: &mut Vec<u8>) {
    bytes.resize(bytes.len().next_multiple_of(4), 0);
}

/// `data` compressed as one gzip member (no name, time 0: the same bytes each time).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::with_capacity(data.len() / 2), Compression::best());
    gz.write_all(data).expect("writing to a Vec does not fail");
    gz.finish().expect("writing to a Vec does not fail")
}

/// An initramfs image being assembled.
#[derive(Debug, Clone, Default)]
pub struct Initramfs {
    bytes: Vec<u8>,
}

impl Initramfs {
    /// An empty image.
    pub fn new() -> Initramfs {
        Initramfs::default()
    }

    /// An image that starts with `image`, an existing initramfs (gzip'd or not) as the
    /// kernel would be given it.
    pub fn from_image(image: &[u8]) -> Initramfs {
        let mut bytes = image.to_vec();
        // The kernel skips zero bytes between archives, but only at a 4-byte boundary
        // is an uncompressed archive recognised: keep what follows aligned.
        pad4(&mut bytes);
        Initramfs { bytes }
    }

    /// Append `archive`, gzip'd.
    pub fn append(&mut self, archive: Archive) -> &mut Initramfs {
        self.bytes.extend_from_slice(&gzip(&archive.finish()));
        pad4(&mut self.bytes);
        self
    }

    /// The image.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The image, consumed.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    /// (name, mode, data, rdevmajor, rdevminor) of each entry, as the kernel's unpacker
    /// reads them.
    fn parse(mut a: &[u8]) -> Vec<(String, u32, Vec<u8>, u32, u32)> {
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            while a.first() == Some(&0) {
                a = &a[1..];
                pos += 1;
            }
            assert_eq!(&a[..6], b"070701", "magic at byte {pos}");
            let field = |i: usize| {
                u32::from_str_radix(std::str::from_utf8(&a[6 + 8 * i..14 + 8 * i]).unwrap(), 16).unwrap()
            };
            let (mode, size, rmaj, rmin, namesize) =
                (field(1), field(6) as usize, field(9), field(10), field(11) as usize);
            let name = String::from_utf8(a[110..110 + namesize - 1].to_vec()).unwrap();
            let data_at = (110 + namesize).next_multiple_of(4);
            if name == "TRAILER!!!" {
                return out;
            }
            out.push((name, mode, a[data_at..data_at + size].to_vec(), rmaj, rmin));
            let next = (data_at + size).next_multiple_of(4);
            a = &a[next..];
            pos += next;
        }
    }

    #[test]
    fn an_archive_lists_its_entries_in_order_with_their_modes_and_contents() {
        let mut a = Archive::new();
        a.dir("bin", 0o755).unwrap().file("bin/prog", 0o755, b"\x7fELF...").unwrap();
        a.symlink("bin/link", "prog").unwrap().char_dev("console", 0o600, 5, 1).unwrap();
        a.file("empty", 0o644, b"").unwrap();
        let entries = parse(&a.finish());
        let names: Vec<_> = entries.iter().map(|e| (e.0.as_str(), e.1)).collect();
        assert_eq!(
            names,
            [
                ("bin", 0o40755),
                ("bin/prog", 0o100755),
                ("bin/link", 0o120777),
                ("console", 0o20600),
                ("empty", 0o100644)
            ]
        );
        assert_eq!(entries[1].2, b"\x7fELF...");
        assert_eq!(entries[2].2, b"prog");
        assert_eq!((entries[3].3, entries[3].4), (5, 1));
    }

    #[test]
    fn the_same_entries_give_the_same_bytes() {
        let make = || {
            let mut a = Archive::new();
            a.file("x", 0o644, b"abc").unwrap();
            Initramfs::new().append(a).clone().into_bytes()
        };
        assert_eq!(make(), make());
    }

    #[test]
    fn names_the_kernel_would_misplace_are_refused() {
        for bad in ["", "/abs", "a//b", "a/../b", "./a", "a/", "nul\0"] {
            assert_eq!(
                Archive::new().file(bad, 0o644, b"").err(),
                Some(Error::BadName(bad.to_string())),
                "{bad:?}"
            );
        }
        assert!(matches!(Archive::new().file("x", 0o100644, b""), Err(Error::BadMode { .. })));
    }

    #[test]
    fn an_image_is_its_base_then_each_archive_gzipped_and_all_unpack_in_order() {
        let mut first = Archive::new();
        first.file("init", 0o755, b"old init").unwrap();
        let base = Initramfs::new().append(first).clone().into_bytes();
        let mut second = Archive::new();
        second.file("init", 0o755, b"new").unwrap().file("bin/tool", 0o755, b"tool").unwrap();
        let image = Initramfs::from_image(&base).append(second).clone().into_bytes();
        assert!(image.starts_with(&base));
        assert_eq!(image.len() % 4, 0);
        // gzip members one after the other, with zero padding between them, which the
        // kernel skips: decode each member on its own.
        let second_at = base.len();
        assert_eq!(&image[second_at..second_at + 2], &[0x1f, 0x8b]);
        let mut cpio = Vec::new();
        GzDecoder::new(&image[..second_at]).read_to_end(&mut cpio).unwrap();
        assert_eq!(parse(&cpio)[0].2, b"old init");
        let mut cpio = Vec::new();
        GzDecoder::new(&image[second_at..]).read_to_end(&mut cpio).unwrap();
        let entries = parse(&cpio);
        assert_eq!((entries[0].0.as_str(), entries[0].2.as_slice()), ("init", &b"new"[..]));
        assert_eq!(entries[1].0, "bin/tool");
    }
}
