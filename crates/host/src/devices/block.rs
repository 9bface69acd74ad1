//! The block device (`--block FILE`): a disk backed by a file, spoken to through the
//! `struct lguest_block_page` protocol of 2.6.23.

use super::Slot;
use crate::boot::LoadError;
use crate::guest::{Guest, Res};
use crate::io::Dma;
use std::path::PathBuf;

/// Pages the block device owns: its `lguest_block_page`.
pub(crate) const PAGES: u32 = 1;

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
}

impl Guest {
    /// Open the disk and describe it in the device page.
    pub(crate) fn add_block(&mut self, slot: Slot, _config: BlockConfig) -> Result<(), LoadError> {
        self.devices.blocks.push(Block { slot });
        Ok(())
    }

    /// The Guest sent a request to block device `i`.
    pub(crate) fn block_send(&mut self, _i: usize, _key: u32, _dma: &Dma) -> Res<u32> {
        Ok(0)
    }
}
