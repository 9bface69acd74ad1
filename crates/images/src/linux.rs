//! The bundled Linux 2.6.23.17 lguest Guest (`linux/` at the top of the repository, with
//! its config, build recipe and a note on its source in `linux/README.md`): the kernel as
//! an ELF `vmlinux` and the initramfs with `/init` and a klibc shell, embedded so that
//! `lguest linux` boots them from any directory, and their files' paths for tests and
//! benchmarks (which also use the `bzImage` there).

use std::path::{Path, PathBuf};

/// The kernel, `linux/vmlinux`.
pub const VMLINUX: &[u8] = include_bytes!("../../../linux/vmlinux");

/// The initramfs, `linux/initramfs.cpio.gz`: `/init` (`linux/recipe/initramfs/init.c`) and
/// the klibc tools. `/init` mounts /proc and /sys, prints `init: userspace is up` and
/// powers off, or with `shell` on the command line runs `/bin/sh` first.
pub const INITRAMFS: &[u8] = include_bytes!("../../../linux/initramfs.cpio.gz");

/// What `uname -r` says in the bundled kernel.
pub const RELEASE: &str = "2.6.23.17";

/// The `linux/` directory of the source tree this crate was built from.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../linux")
}

/// `linux/vmlinux`.
pub fn vmlinux_path() -> PathBuf {
    dir().join("vmlinux")
}

/// `linux/bzImage`: the same kernel as a compressed boot image.
pub fn bzimage_path() -> PathBuf {
    dir().join("bzImage")
}

/// `linux/initramfs.cpio.gz`.
pub fn initramfs_path() -> PathBuf {
    dir().join("initramfs.cpio.gz")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_files_are_those_in_the_tree() {
        assert_eq!(std::fs::read(vmlinux_path()).unwrap(), VMLINUX);
        assert_eq!(std::fs::read(initramfs_path()).unwrap(), INITRAMFS);
        assert!(bzimage_path().exists());
    }
}
