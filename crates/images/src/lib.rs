//! The example Guest kernels of `guests/`, built for i586 by this crate's build script and
//! embedded in the binary, so `lguest` can boot one without a file and tests can boot
//! all of them.
//!
//! Each kernel is a [`Guest`] static named after its binary (`HELLO`, `BAD_HYPERCALL`,
//! ...), also listed in [`ALL`] and found by [`by_name`]. [`DEFAULT`] is the one
//! `cargo run --release` boots.
//!
//! [`linux`] has the other kind of Guest: the bundled Linux 2.6.23 kernel (which `lguest
//! linux` boots), the Linux programs of `guests/linux-user` and the test initramfs that
//! runs them.

use std::path::Path;

pub mod linux;

/// One Guest kernel: a 32-bit x86 ELF executable built with the Guest kit.
#[derive(Debug)]
pub struct Guest {
    name: &'static str,
    path: &'static str,
    elf: &'static [u8],
}

impl Guest {
    /// The binary's name in `guests/`, e.g. `"hello"`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The ELF file, as built (in this crate's build directory).
    pub fn path(&self) -> &'static Path {
        Path::new(self.path)
    }

    /// The ELF file's bytes, embedded at build time.
    pub fn elf(&self) -> &'static [u8] {
        self.elf
    }
}

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The kernel `lguest` boots when given none: the demo Guest OS.
pub const DEFAULT: &Guest = &DEMO;

/// The kernel built from binary `name`.
pub fn by_name(name: &str) -> Option<&'static Guest> {
    ALL.iter().copied().find(|g| g.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ELF_MAGIC: &[u8] = b"\x7fELF";
    const ELFCLASS32: u8 = 1;
    const EM_386: u16 = 3;

    fn u16_at(elf: &[u8], off: usize) -> u16 {
        u16::from_le_bytes([elf[off], elf[off + 1]])
    }

    fn u32_at(elf: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(elf[off..off + 4].try_into().unwrap())
    }

    #[test]
    fn every_guest_is_a_32_bit_x86_elf_entered_at_page_offset_plus_1_mib() {
        for guest in ALL {
            let elf = guest.elf();
            assert_eq!(&elf[..4], ELF_MAGIC, "{}", guest.name());
            assert_eq!(elf[4], ELFCLASS32, "{}", guest.name());
            assert_eq!(u16_at(elf, 18), EM_386, "{}", guest.name());
            assert_eq!(u32_at(elf, 24), 0xC010_0000, "{}", guest.name());
        }
    }

    #[test]
    fn every_loadable_segment_is_linked_at_page_offset_and_loaded_at_its_physical_address() {
        for guest in ALL {
            let elf = guest.elf();
            let (phoff, phnum) = (u32_at(elf, 28) as usize, u16_at(elf, 44) as usize);
            for ph in (0..phnum).map(|i| &elf[phoff + i * 32..]) {
                if u32_at(ph, 0) == 1 {
                    let (vaddr, paddr) = (u32_at(ph, 8), u32_at(ph, 12));
                    assert_eq!(vaddr - paddr, 0xC000_0000, "{}", guest.name());
                    assert!(paddr >= 0x10_0000, "{}", guest.name());
                }
            }
        }
    }

    #[test]
    fn the_default_guest_is_the_demo_os() {
        assert_eq!(DEFAULT.name(), "demo");
    }

    #[test]
    fn guests_are_found_by_name_and_their_files_match_the_embedded_bytes() {
        for name in ["hello", "bad_hypercall", "flood_async"] {
            let guest = by_name(name).unwrap();
            assert_eq!(std::fs::read(guest.path()).unwrap(), guest.elf());
        }
        assert!(by_name("no_such_guest").is_none());
    }
}
