//! Memory: `mmap2`, `munmap`, `mprotect`, `mremap`, `msync` and `brk`.
//!
//! Mappings are raw addresses (`u32`): what is in them, and whether touching them
//! faults, is the program's business. [`mmap`] takes a byte offset and passes the
//! kernel `mmap2`'s page offset.

use crate::syscall::{check, nr, syscall1, syscall2, syscall3, syscall6};
use crate::{Errno, Result};

pub const PAGE_SIZE: u32 = 4096;

pub const PROT_NONE: u32 = 0;
pub const PROT_READ: u32 = 1;
pub const PROT_WRITE: u32 = 2;
pub const PROT_EXEC: u32 = 4;

pub const MAP_SHARED: u32 = 0x01;
pub const MAP_PRIVATE: u32 = 0x02;
pub const MAP_FIXED: u32 = 0x10;
pub const MAP_ANONYMOUS: u32 = 0x20;

pub const MREMAP_MAYMOVE: u32 = 1;

pub const MS_ASYNC: u32 = 1;
pub const MS_INVALIDATE: u32 = 2;
pub const MS_SYNC: u32 = 4;

/// Map `len` bytes: the mapping's address. `offset` (a multiple of the page size) is
/// where in file `fd` it starts; pass fd -1 and offset 0 for anonymous memory.
pub fn mmap(addr: u32, len: u32, prot: u32, flags: u32, fd: i32, offset: u32) -> Result<u32> {
    if !offset.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: a new mapping changes no memory the program already uses, unless it asks
    // for MAP_FIXED over its own, which is its promise to keep.
    check(unsafe { syscall6(nr::MMAP2, addr, len, prot, flags, fd as u32, offset / PAGE_SIZE) })
}

/// Anonymous private read-write memory: the common case of [`mmap`].
pub fn mmap_anon(len: u32) -> Result<u32> {
    mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
}

/// # Safety
/// Nothing the program still uses lives in `[addr, addr + len)`.
pub unsafe fn munmap(addr: u32, len: u32) -> Result<()> {
    // SAFETY: the caller's promise.
    check(unsafe { syscall2(nr::MUNMAP, addr, len) }).map(drop)
}

/// # Safety
/// Nothing the program still uses in `[addr, addr + len)` needs an access `prot` takes
/// away (or the program handles the fault).
pub unsafe fn mprotect(addr: u32, len: u32, prot: u32) -> Result<()> {
    // SAFETY: the caller's promise.
    check(unsafe { syscall3(nr::MPROTECT, addr, len, prot) }).map(drop)
}

/// Grow or shrink a mapping: its (possibly new) address.
///
/// # Safety
/// As for [`munmap`], for whatever the call unmaps or moves.
pub unsafe fn mremap(addr: u32, old_len: u32, new_len: u32, flags: u32) -> Result<u32> {
    // SAFETY: the caller's promise.
    check(unsafe { syscall6(nr::MREMAP, addr, old_len, new_len, flags, 0, 0) })
}

pub fn msync(addr: u32, len: u32, flags: u32) -> Result<()> {
    // SAFETY: msync writes back; it changes no memory.
    check(unsafe { syscall3(nr::MSYNC, addr, len, flags) }).map(drop)
}

/// Ask for the program break at `addr` (0 to ask where it is): where it is now. The
/// kernel's `brk` does not fail, it leaves the break where it was.
///
/// # Safety
/// Nothing the program still uses lies between the new break and the old one, if lower.
pub unsafe fn brk(addr: u32) -> u32 {
    // SAFETY: the caller's promise.
    unsafe { syscall1(nr::BRK, addr) }
}

/// Read the 32-bit word at `addr` (which may fault: that is what the caller tests).
///
/// # Safety
/// `addr` is mapped readable, or the program handles the fault.
pub unsafe fn peek(addr: u32) -> u32 {
    // SAFETY: the caller's promise.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

/// Write the 32-bit word at `addr` (which may fault).
///
/// # Safety
/// `addr` is mapped writable and used for nothing else, or the program handles the fault.
pub unsafe fn poke(addr: u32, value: u32) {
    // SAFETY: the caller's promise.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}
