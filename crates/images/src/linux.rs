//! The Linux 2.6.23 Guest: the bundled kernel and initramfs (`linux/` at the top of the
//! repository, with its config, build recipe and a note on its source in
//! `linux/README.md`), the Linux programs of `guests/linux-user` built by this crate's
//! build script, and the test initramfs made from them.
//!
//! The kernel (ELF `vmlinux`) and the initramfs with `/init` and a klibc shell are
//! embedded, so that `lguest linux` boots them from any directory; their files' paths are
//! here for tests and benchmarks (which also use the `bzImage` there).
//!
//! The test initramfs is the bundled `linux/initramfs.cpio.gz` (klibc's shell and tools)
//! with an archive appended that holds `/init`, the test runner of
//! `guests/linux-user/init` (see its module doc), and every other program as
//! `/bin/NAME`. Boot it with `run=NAME[,ARG...]` on the kernel command line to run
//! programs between `[lguest-init] begin NAME` and `[lguest-init] end NAME: STATUS`
//! markers, or without `run=` to run [`default_runs`]. To add files, extend it with the
//! `lguest-initramfs` crate: `Initramfs::from_image(&std::fs::read(test_initramfs())?)`.

use std::path::{Path, PathBuf};

/// The kernel, `linux/vmlinux`.
pub const VMLINUX: &[u8] = include_bytes!("../../../linux/vmlinux");

/// The initramfs, `linux/initramfs.cpio.gz`: `/init` (`linux/recipe/initramfs/init.c`) and
/// the klibc tools. `/init` mounts /proc and /sys, prints `init: userspace is up` and
/// powers off, or with `shell` on the command line runs `/bin/sh` first.
pub const INITRAMFS: &[u8] = include_bytes!("../../../linux/initramfs.cpio.gz");

/// What `lguest linux` boots: [`INITRAMFS`] with `/bin/net` added (`guests/linux-user/
/// tools`: `net up eth0 10.0.0.1`, `net ping 10.0.0.2 3`, ...), because klibc's own
/// `ipconfig` uses socket system calls 2.6.23 does not have.
pub const SHELL_INITRAMFS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/linux-shell.cpio.gz"));

/// What `uname -r` says in the bundled kernel.
pub const RELEASE: &str = "2.6.23.17";

/// The `linux/` directory of the source tree this crate was built from.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../linux")
}

/// `linux/vmlinux`: the kernel as an ELF file (what the Launcher loads fastest).
pub fn vmlinux_path() -> PathBuf {
    dir().join("vmlinux")
}

/// `linux/bzImage`: the same kernel as a compressed boot image (what a PC boot loader, or
/// QEMU, loads; the Launcher boots it too).
pub fn bzimage_path() -> PathBuf {
    dir().join("bzImage")
}

/// `linux/initramfs.cpio.gz`.
pub fn initramfs_path() -> PathBuf {
    dir().join("initramfs.cpio.gz")
}

/// One Linux program: a static i386 executable with no C library.
#[derive(Debug)]
pub struct Program {
    name: &'static str,
    path: &'static str,
}

impl Program {
    /// The program's name in `guests/linux-user` (its file in the initramfs is
    /// `/bin/NAME`, except `init`, which is `/init`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The executable, as built (in this crate's build directory). It runs on the
    /// machine's own Linux too.
    pub fn path(&self) -> &'static Path {
        Path::new(self.path)
    }
}

include!(concat!(env!("OUT_DIR"), "/linux.rs"));

/// The Linux program built from binary `name`.
pub fn by_name(name: &str) -> Option<&'static Program> {
    PROGRAMS.iter().copied().find(|p| p.name == name)
}

/// The test initramfs, as built.
pub fn test_initramfs() -> &'static Path {
    Path::new(TEST_INITRAMFS)
}

/// `guests/linux-user/checks/programs.txt`: the programs the test `/init` runs when the
/// command line names none.
const DEFAULT_RUNS: &str = include_str!("../../../guests/linux-user/checks/programs.txt");

/// What the test `/init` runs without `run=`: each program's name and the arguments it
/// is given in the Guest.
pub fn default_runs() -> impl Iterator<Item = (&'static str, Vec<&'static str>)> {
    DEFAULT_RUNS.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).filter_map(|line| {
        let mut words = line.split_whitespace();
        words.next().map(|name| (name, words.collect()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_run_is_a_program_that_was_built() {
        let runs: Vec<_> = default_runs().collect();
        assert!(!runs.is_empty());
        for (name, _) in runs {
            assert!(by_name(name).is_some(), "programs.txt names {name}, which was not built");
        }
    }

    #[test]
    fn the_programs_are_static_i386_executables_at_the_classic_address() {
        for p in PROGRAMS {
            let elf = std::fs::read(p.path()).unwrap();
            assert_eq!(&elf[..4], b"\x7fELF", "{}", p.name());
            assert_eq!(elf[4], 1, "{}: 32-bit", p.name());
            assert_eq!(u16::from_le_bytes([elf[16], elf[17]]), 2, "{}: ET_EXEC, not PIE", p.name());
            assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), 3, "{}: EM_386", p.name());
            let entry = u32::from_le_bytes(elf[24..28].try_into().unwrap());
            assert!((0x0804_8000..0x0810_0000).contains(&entry), "{}: entry {entry:#x}", p.name());
            let (phoff, phnum) =
                (u32::from_le_bytes(elf[28..32].try_into().unwrap()) as usize, elf[44] as usize);
            let interp =
                (0..phnum).any(|i| u32::from_le_bytes(elf[phoff + 32 * i..][..4].try_into().unwrap()) == 3);
            assert!(!interp, "{}: has a PT_INTERP, so it is not static", p.name());
        }
    }

    #[test]
    fn the_test_initramfs_starts_with_the_bundled_one() {
        let bundled = std::fs::read(initramfs_path()).unwrap();
        let test = std::fs::read(test_initramfs()).unwrap();
        assert!(test.len() > bundled.len());
        assert!(test.starts_with(&bundled));
        let rest = &test[bundled.len().next_multiple_of(4)..];
        assert_eq!(&rest[..2], &[0x1f, 0x8b], "a gzip member follows");
    }

    #[test]
    fn the_embedded_files_are_those_in_the_tree() {
        assert_eq!(std::fs::read(vmlinux_path()).unwrap(), VMLINUX);
        assert_eq!(std::fs::read(initramfs_path()).unwrap(), INITRAMFS);
        assert!(bzimage_path().is_file());
    }
}
