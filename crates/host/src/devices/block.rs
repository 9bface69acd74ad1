//! The block device (`--block FILE`): a disk backed by a file, spoken to through the
//! `struct lguest_block_page` protocol of 2.6.23.
//!
//! The device owns one page above RAM, its [`abi::LguestBlockPage`], whose guest-physical
//! address is also its only DMA key. At boot the Launcher writes the disk's size there
//! (`num_sectors`, whole 512-byte sectors of the file). A request goes like this:
//!
//! 1. once, the Guest binds a reply buffer (`LHCALL_BIND_DMA`) at the key, naming its IRQ;
//! 2. it fills `type` (0 read, 1 write), `sector` and `bytes`, and sets `result` to 0;
//! 3. it sends a DMA to the key (`LHCALL_SEND_DMA`): the data for a write; for a read,
//!    anything (usually an empty one), since the data comes back in the reply buffer;
//! 4. inside that hypercall we do the I/O with `pread`/`pwrite` at `sector * 512`, put
//!    read data into the reply buffer (`send_to_guest`), write `result` — 1 done, 2 error —
//!    and raise the reply binding's IRQ. The Guest may look at `result` as soon as the
//!    hypercall returns, or wait for the IRQ.
//!
//! A write is reported done only after `pwrite` returned, so the data is in the file (in
//! the host's page cache, which survives the Launcher being killed); with `--block-sync`
//! also after `fdatasync`, so it survives the host losing power. Anything wrong with a
//! request — past the end, not whole sectors, a byte count that does not match the data
//! sent, a write to a read-only disk, a read with no reply buffer, an I/O error — is
//! answered with result 2: these are the Guest's mistakes (or the disk's), not reasons to
//! end it. Only a malformed `lguest_dma` is Sudden Death, and `io.rs` sees to that before
//! we are called.
//!
//! The file is locked while the Launcher has it open (`flock`: exclusive for a read-write
//! disk, shared for a read-only one), so a second Launcher cannot write a disk a Guest is
//! using, nor read one that is being written, and says so instead of booting.
//!
//! The device status handshake is read at each request and when the Guest ends: a driver
//! that set `LGUEST_DEVICE_S_FAILED` gets one warning on stderr. Requests are served
//! whatever the status says, as in 2.6.23.

use super::Slot;
use crate::boot::{LoadError, write_device_desc};
use crate::guest::{Guest, Res};
use crate::io::{Delivery, Dma};
use abi::{
    LGUEST_BLOCK_DONE, LGUEST_BLOCK_ERROR, LGUEST_BLOCK_READ, LGUEST_BLOCK_WRITE, LGUEST_DEVICE_F_RANDOMNESS,
    LGUEST_DEVICE_S_FAILED, LGUEST_DEVICE_T_BLOCK, LGUEST_MAX_DEVICES, LGUEST_MAX_DMA_SECTIONS,
    LguestDeviceDesc, OFF_BLK_BYTES, OFF_BLK_NUM_SECTORS, OFF_BLK_RESULT, OFF_BLK_SECTOR, OFF_BLK_TYPE,
    OFF_DESC_STATUS, PAGE_SIZE, SECTOR_SIZE,
};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use thiserror::Error;
use tracing::trace;

/// Pages the block device owns: its `lguest_block_page`.
pub(crate) const PAGES: u32 = 1;

/// The most one request can move: what one `lguest_dma` can describe.
const MAX_REQUEST: u32 = LGUEST_MAX_DMA_SECTIONS as u32 * PAGE_SIZE;

/// What `--block` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockConfig {
    pub path: PathBuf,
    pub read_only: bool,
    /// fdatasync after every write, before the Guest is told it is done.
    pub sync: bool,
}

pub(crate) struct Block {
    pub slot: Slot,
    file: File,
    /// Bytes of the disk: whole sectors of the file as it was at boot.
    len: u64,
    read_only: bool,
    sync: bool,
    /// The status the Guest's driver last showed us (for tracing changes).
    status: u16,
    /// We have warned that the driver failed.
    warned_failed: bool,
}

/// Why a request is answered with result 2.
#[derive(Debug, Error)]
enum Refusal {
    #[error("unknown request type {0}")]
    BadType(i32),
    #[error("a request of 0 bytes")]
    Empty,
    #[error("{0} bytes is not a whole number of sectors")]
    NotWholeSectors(u32),
    #[error("{0} bytes is more than one lguest_dma can carry ({MAX_REQUEST})")]
    TooBig(u32),
    #[error("bytes {start:#x}..{end:#x} reach past the end of the disk ({len:#x} bytes)")]
    PastEnd { start: u64, end: u64, len: u64 },
    #[error("the request says {bytes} bytes but the DMA carries {sent}")]
    WrongLength { bytes: u32, sent: u32 },
    #[error("the disk is read-only")]
    ReadOnly,
    #[error("no reply buffer is bound at the key")]
    NoReplyBuffer,
    #[error("the reply buffer is still in use (used_len is not 0)")]
    ReplyBufferBusy,
    #[error("the reply buffer took {took} of {bytes} bytes")]
    ReplyTooSmall { took: u32, bytes: u32 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A request as the Guest wrote it in the block page.
#[derive(Clone, Copy, Debug)]
struct Request {
    kind: i32,
    sector: u32,
    bytes: u32,
}

impl Request {
    /// The byte range of the disk it touches, if that is a sane request.
    fn range(&self, disk_len: u64) -> Result<(u64, usize), Refusal> {
        if self.bytes == 0 {
            return Err(Refusal::Empty);
        }
        if !self.bytes.is_multiple_of(SECTOR_SIZE) {
            return Err(Refusal::NotWholeSectors(self.bytes));
        }
        if self.bytes > MAX_REQUEST {
            return Err(Refusal::TooBig(self.bytes));
        }
        // Both fit easily in a u64: no overflow whatever the Guest wrote.
        let start = u64::from(self.sector) * u64::from(SECTOR_SIZE);
        let end = start + u64::from(self.bytes);
        if end > disk_len {
            return Err(Refusal::PastEnd { start, end, len: disk_len });
        }
        Ok((start, self.bytes as usize))
    }
}

/// Open the file behind a disk and measure it.
fn open_disk(config: &BlockConfig) -> Result<(File, u64), String> {
    let path = config.path.display();
    let mut file =
        OpenOptions::new().read(true).write(!config.read_only).open(&config.path).map_err(|e| {
            let hint = if !config.read_only && e.kind() == std::io::ErrorKind::PermissionDenied {
                " (--block-ro gives the Guest a read-only disk)"
            } else {
                ""
            };
            format!("cannot open block device file {path}: {e}{hint}")
        })?;
    let meta = file.metadata().map_err(|e| format!("cannot look at block device file {path}: {e}"))?;
    if meta.is_dir() {
        return Err(format!("block device file {path} is a directory"));
    }
    // Two Guests writing one disk would corrupt it: a read-write disk takes an exclusive
    // lock, a read-only one a shared lock (many Guests may share a base image read-only).
    // The lock lasts as long as the file is open, and dies with the process.
    let locked = if config.read_only { file.try_lock_shared() } else { file.try_lock() };
    match locked {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) if config.read_only => {
            return Err(format!(
                "block device file {path} is open for writing (by another Guest, or by a --block of this one)"
            ));
        }
        Err(TryLockError::WouldBlock) => {
            return Err(format!(
                "block device file {path} is in use by another Guest (or named twice); \
                 a disk one Guest writes cannot be shared"
            ));
        }
        // A file system without locks should not cost the user the disk: go on, and say so.
        Err(TryLockError::Error(e)) => {
            eprintln!("lguest: cannot lock block device file {path} ({e}); using it unlocked")
        }
    }
    // Seeking to the end measures block devices too, whose metadata says 0 bytes.
    let len = file.seek(SeekFrom::End(0)).map_err(|e| format!("cannot find the size of {path}: {e}"))?;
    let sectors = len / u64::from(SECTOR_SIZE);
    if sectors > u64::from(u32::MAX) {
        return Err(format!("block device file {path} is too large: at most {} sectors", u32::MAX));
    }
    Ok((file, sectors * u64::from(SECTOR_SIZE)))
}

impl Guest {
    /// Open the disk and describe it in the device page.
    pub(crate) fn add_block(&mut self, slot: Slot, config: BlockConfig) -> Result<(), LoadError> {
        if slot.index as usize >= LGUEST_MAX_DEVICES {
            return Err(LoadError::Device(format!("too many devices: at most {LGUEST_MAX_DEVICES}")));
        }
        let (file, len) = open_disk(&config).map_err(LoadError::Device)?;
        let desc = LguestDeviceDesc {
            r#type: LGUEST_DEVICE_T_BLOCK,
            features: LGUEST_DEVICE_F_RANDOMNESS,
            status: 0,
            num_pages: slot.pages as u16,
            pfn: slot.pfn,
        };
        let layout = self.layout;
        use cpu::Vcpu;
        let mem = self.cpu.mem_mut();
        write_device_desc(mem, &layout, slot.index, &desc);
        let num_sectors = (len / u64::from(SECTOR_SIZE)) as u32;
        mem.write_u32(slot.phys().0 + OFF_BLK_NUM_SECTORS, num_sectors)
            .map_err(|e| LoadError::Device(format!("block device page: {e}")))?;
        trace!(
            target: "lguest::block",
            "block {}: {} ({num_sectors} sectors{}{}) at key {}",
            slot.index,
            config.path.display(),
            if config.read_only { ", read-only" } else { "" },
            if config.sync { ", fdatasync" } else { "" },
            slot.phys()
        );
        self.devices.blocks.push(Block {
            slot,
            file,
            len,
            read_only: config.read_only,
            sync: config.sync,
            status: 0,
            warned_failed: false,
        });
        Ok(())
    }

    /// The Guest sent a request to block device `i`. Returns used_len for the sender:
    /// the bytes written for a write that succeeded, 0 otherwise.
    pub(crate) fn block_send(&mut self, i: usize, key: u32, dma: &Dma) -> Res<u32> {
        let page = self.devices.blocks[i].slot.phys();
        if key != page.0 {
            // Other addresses in the page are not keys the device listens on.
            return Ok(0);
        }
        self.check_block_status(i)?;
        let req = Request {
            kind: self.read_u32("lguest_block_page type", page.offset(OFF_BLK_TYPE))? as i32,
            sector: self.read_u32("lguest_block_page sector", page.offset(OFF_BLK_SECTOR))?,
            bytes: self.read_u32("lguest_block_page bytes", page.offset(OFF_BLK_BYTES))?,
        };
        let outcome = self.block_request(i, key, req, dma)?;
        let index = self.devices.blocks[i].slot.index;
        let what = match req.kind {
            LGUEST_BLOCK_READ => "read",
            LGUEST_BLOCK_WRITE => "write",
            _ => "request",
        };
        let (result, used) = match outcome {
            Ok(used) => {
                trace!(target: "lguest::block", "block {index}: {what} sector {} +{}: done", req.sector, req.bytes);
                (LGUEST_BLOCK_DONE, used)
            }
            Err(why) => {
                trace!(target: "lguest::block", "block {index}: {what} sector {} +{}: error: {why}", req.sector, req.bytes);
                (LGUEST_BLOCK_ERROR, 0)
            }
        };
        self.write_u32("lguest_block_page result", page.offset(OFF_BLK_RESULT), result as u32)?;
        // Whatever happened, a Guest waiting for its IRQ must wake up and look.
        if let Some(b) = self.bindings.iter().flatten().find(|b| b.key == key) {
            let irq = b.irq;
            self.trigger_irq(irq);
        }
        Ok(used)
    }

    /// Do one request: `Ok(Err(_))` is an error the Guest hears about (result 2); only a
    /// malformed reply `lguest_dma` ends it (`Err`).
    fn block_request(&mut self, i: usize, key: u32, req: Request, dma: &Dma) -> Res<Result<u32, Refusal>> {
        let disk = &self.devices.blocks[i];
        let (offset, len) = match req.range(disk.len) {
            Ok(r) => r,
            Err(why) => return Ok(Err(why)),
        };
        Ok(match req.kind {
            LGUEST_BLOCK_READ => {
                let mut buf = std::mem::take(&mut self.scratch);
                buf.resize(len, 0);
                let delivered = match disk.file.read_exact_at(&mut buf, offset) {
                    Ok(()) => Ok(self.send_to_guest(key, &[&buf])),
                    Err(e) => Err(e),
                };
                self.scratch = buf;
                match delivered {
                    Err(e) => Err(Refusal::Io(e)),
                    // A reply lguest_dma that is malformed is Sudden Death (io.rs).
                    Ok(delivery) => match delivery? {
                        Delivery::Delivered(took) if took == req.bytes => Ok(0),
                        Delivery::Delivered(took) => Err(Refusal::ReplyTooSmall { took, bytes: req.bytes }),
                        Delivery::NoBuffer => Err(Refusal::ReplyBufferBusy),
                        Delivery::NotBound => Err(Refusal::NoReplyBuffer),
                    },
                }
            }
            LGUEST_BLOCK_WRITE => {
                if disk.read_only {
                    return Ok(Err(Refusal::ReadOnly));
                }
                if dma.total != req.bytes {
                    return Ok(Err(Refusal::WrongLength { bytes: req.bytes, sent: dma.total }));
                }
                let mut buf = std::mem::take(&mut self.scratch);
                self.gather(dma, &mut buf);
                let disk = &self.devices.blocks[i];
                let mut written = disk.file.write_all_at(&buf, offset);
                self.scratch = buf;
                if written.is_ok() && disk.sync {
                    written = disk.file.sync_data();
                }
                written.map(|()| req.bytes).map_err(Refusal::Io)
            }
            other => Err(Refusal::BadType(other)),
        })
    }

    /// Look at block device `i`'s status in the device page; warn once if its driver
    /// gave up.
    fn check_block_status(&mut self, i: usize) -> Res {
        let index = self.devices.blocks[i].slot.index;
        let at = self.layout.device_page.offset(index * abi::DEVICE_DESC_SIZE + OFF_DESC_STATUS);
        let status = self.read_u16("block device descriptor", at)?;
        let disk = &mut self.devices.blocks[i];
        if status != disk.status {
            trace!(target: "lguest::block", "block {index}: driver status {:#x} -> {status:#x}", disk.status);
            disk.status = status;
        }
        if status & LGUEST_DEVICE_S_FAILED != 0 && !disk.warned_failed {
            disk.warned_failed = true;
            eprintln!("lguest: block device {index}: the Guest's driver failed");
        }
        Ok(())
    }

    /// The Guest has ended: a driver that failed without sending another request still
    /// gets its warning.
    pub(crate) fn block_at_end(&mut self) {
        for i in 0..self.devices.blocks.len() {
            let _ = self.check_block_status(i);
        }
    }
}
