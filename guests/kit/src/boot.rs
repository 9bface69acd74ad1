//! The boot information the Launcher passed (`abi::boot`): RAM size, command line,
//! device page, boot page directory.
//!
//! The Launcher's copy lives in pages above `usable_end` that a kernel may want back once
//! it runs on its own page tables, so at boot the kit copies the [`BootInfo`] and the
//! command line into its own statics, and everything here reads those copies.

use crate::{Global, crash, phys_to_virt};
use abi::boot::{BOOT_CMDLINE_MAX, BOOT_MAGIC, BOOT_VERSION, BootInfo};

const CMDLINE_MAX: usize = BOOT_CMDLINE_MAX as usize;

/// The copies. Written once by [`init`] before `kmain` runs, read-only afterwards.
static BOOT_INFO: Global<BootInfo> = Global::new(BootInfo {
    magic: 0,
    version: 0,
    mem_size: 0,
    usable_end: 0,
    cmdline: 0,
    cmdline_len: 0,
    device_page: 0,
    boot_pgdir: 0,
});
static CMDLINE: Global<[u8; CMDLINE_MAX]> = Global::new([0; CMDLINE_MAX]);

/// Copy the Launcher's BootInfo at guest-physical `boot_phys`, and its command line.
pub(crate) fn init(boot_phys: u32) -> &'static BootInfo {
    // SAFETY: abi::boot promises a BootInfo at %esi, in RAM and so in the linear map.
    let launcher = unsafe { phys_to_virt(boot_phys).cast::<BootInfo>().read_unaligned() };
    if launcher.magic != BOOT_MAGIC || launcher.version != BOOT_VERSION {
        crash("boot: %esi does not point to a version 1 BootInfo");
    }
    let len = launcher.cmdline_len.min(BOOT_CMDLINE_MAX);
    if launcher.cmdline.checked_add(len).is_none_or(|end| end > launcher.mem_size) {
        crash("boot: the command line is not in RAM");
    }
    let info = BOOT_INFO.get();
    // SAFETY: we run before kmain and nothing else reads these copies yet; the command
    // line's len bytes are in RAM (checked above), so in the linear map, and fit CMDLINE.
    unsafe {
        info.write(BootInfo { cmdline_len: len, ..launcher });
        core::ptr::copy_nonoverlapping(phys_to_virt(launcher.cmdline), CMDLINE.get().cast(), len as usize);
        &*info
    }
}

/// The boot information (the kit's copy; its `cmdline` field still names the Launcher's).
pub fn info() -> &'static BootInfo {
    // SAFETY: written once by `init` before kmain, never again.
    unsafe { &*BOOT_INFO.get() }
}

/// Bytes of guest RAM, from guest-physical 0.
pub fn mem_size() -> u32 {
    info().mem_size
}

/// The command line the Launcher was given (`--cmdline`), or its longest valid UTF-8
/// prefix.
pub fn cmdline() -> &'static str {
    // SAFETY: written once by `init` before kmain, never again.
    let bytes = unsafe { &(&*CMDLINE.get())[..info().cmdline_len as usize] };
    match core::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}
