//! Guest-physical memory, and the bookkeeping that makes self-modifying code work.
//!
//! The Host owns the RAM (it creates the `PhysMem` and hands it to the CPU); everybody
//! writes through [`PhysMem::write`] or the CPU's own store paths, which is what lets us
//! notice when a page holding decoded instructions changes. Each 4 KiB page has a
//! *version*; a page that some decoded block came from is marked *code*, and the first
//! write to a code page bumps its version (and a global generation counter), which
//! invalidates the blocks decoded from it (see `exec.rs`).

use thiserror::Error;

/// A guest-physical access outside RAM.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[error("guest-physical range {addr:#x}+{len:#x} is outside guest RAM ({size:#x} bytes)")]
pub struct OutOfRam {
    pub addr: u32,
    pub len: u32,
    pub size: u32,
}

pub(crate) const PAGE_SHIFT: u32 = 12;
pub(crate) const PAGE_SIZE: u32 = 1 << PAGE_SHIFT;
pub(crate) const PAGE_MASK: u32 = !(PAGE_SIZE - 1);

/// Guest RAM: `size` bytes starting at guest-physical 0.
#[derive(Clone)]
pub struct PhysMem {
    pub(crate) bytes: Vec<u8>,
    /// Per page: does some cached block hold instructions decoded from it?
    pub(crate) is_code: Vec<bool>,
    /// Per page: bumped whenever a code page is written.
    pub(crate) version: Vec<u32>,
    /// Per page: does the Host want to know when the CPU stores to it?
    pub(crate) watched: Vec<bool>,
    /// Bumped whenever any code page is written; lets block lookup skip version checks.
    pub(crate) code_gen: u64,
    /// Pages written through these methods (and the CPU's own slow store path), when the
    /// `check` engine wants to know what the Host wrote between two runs.
    pub(crate) log: Option<Vec<u32>>,
}

impl PhysMem {
    /// Zeroed RAM of `size` bytes, rounded up to whole pages. At most 4 GiB - 4 KiB.
    pub fn new(size: u32) -> PhysMem {
        let pages = size.div_ceil(PAGE_SIZE) as usize;
        PhysMem {
            bytes: vec![0; pages * PAGE_SIZE as usize],
            is_code: vec![false; pages],
            version: vec![0; pages],
            watched: vec![false; pages],
            code_gen: 0,
            log: None,
        }
    }

    /// Bytes of RAM.
    pub fn size(&self) -> u32 {
        self.bytes.len() as u32
    }

    /// All of RAM, for reading.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    fn check(&self, addr: u32, len: usize) -> Result<std::ops::Range<usize>, OutOfRam> {
        let start = addr as usize;
        match start.checked_add(len) {
            Some(end) if end <= self.bytes.len() => Ok(start..end),
            _ => Err(OutOfRam { addr, len: len as u32, size: self.size() }),
        }
    }

    /// Whether `[addr, addr+len)` lies inside RAM.
    pub fn contains(&self, addr: u32, len: u32) -> bool {
        self.check(addr, len as usize).is_ok()
    }

    /// A view of `[addr, addr+len)`.
    pub fn slice(&self, addr: u32, len: u32) -> Result<&[u8], OutOfRam> {
        let r = self.check(addr, len as usize)?;
        Ok(&self.bytes[r])
    }

    /// Copy out `buf.len()` bytes at `addr`.
    pub fn read(&self, addr: u32, buf: &mut [u8]) -> Result<(), OutOfRam> {
        let r = self.check(addr, buf.len())?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }

    /// Copy `data` into RAM at `addr`, invalidating decoded code it overwrites.
    pub fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), OutOfRam> {
        let r = self.check(addr, data.len())?;
        self.note_write_range(addr, data.len() as u32);
        self.bytes[r].copy_from_slice(data);
        Ok(())
    }

    /// Fill `[addr, addr+len)` with `byte`.
    pub fn fill(&mut self, addr: u32, len: u32, byte: u8) -> Result<(), OutOfRam> {
        let r = self.check(addr, len as usize)?;
        self.note_write_range(addr, len);
        self.bytes[r].fill(byte);
        Ok(())
    }

    pub fn read_u8(&self, addr: u32) -> Result<u8, OutOfRam> {
        let mut b = [0; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }

    pub fn read_u16(&self, addr: u32) -> Result<u16, OutOfRam> {
        let mut b = [0; 2];
        self.read(addr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    pub fn read_u32(&self, addr: u32) -> Result<u32, OutOfRam> {
        let mut b = [0; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    pub fn write_u8(&mut self, addr: u32, v: u8) -> Result<(), OutOfRam> {
        if addr as usize >= self.bytes.len() {
            return Err(OutOfRam { addr, len: 1, size: self.size() });
        }
        self.note_write_page((addr >> PAGE_SHIFT) as usize);
        self.bytes[addr as usize] = v;
        Ok(())
    }

    pub fn write_u16(&mut self, addr: u32, v: u16) -> Result<(), OutOfRam> {
        self.write(addr, &v.to_le_bytes())
    }

    pub fn write_u32(&mut self, addr: u32, v: u32) -> Result<(), OutOfRam> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Record a write to `[addr, addr+len)`: code pages among them get a new version.
    pub(crate) fn note_write_range(&mut self, addr: u32, len: u32) {
        if len == 0 {
            return;
        }
        let first = (addr >> PAGE_SHIFT) as usize;
        let last = ((addr as u64 + len as u64 - 1) >> PAGE_SHIFT) as usize;
        for page in first..=last.min(self.is_code.len().saturating_sub(1)) {
            self.note_write_page(page);
        }
    }

    /// Record a write to one page. Returns whether it held code.
    #[inline]
    pub(crate) fn note_write_page(&mut self, page: usize) -> bool {
        if let Some(log) = &mut self.log {
            log.push(page as u32);
        }
        if let Some(code) = self.is_code.get_mut(page)
            && *code
        {
            *code = false;
            self.version[page] = self.version[page].wrapping_add(1);
            self.code_gen += 1;
            return true;
        }
        false
    }

    /// Whether stores to a page must leave the CPU's fast path (it holds code, or is
    /// watched).
    #[inline]
    pub(crate) fn slow_store(&self, page: usize) -> bool {
        self.is_code.get(page).copied().unwrap_or(true) || self.watched.get(page).copied().unwrap_or(true)
    }

    /// Mark a page as holding decoded code; returns its current version.
    pub(crate) fn mark_code(&mut self, page: usize) -> u32 {
        self.is_code[page] = true;
        self.version[page]
    }
}
