//! The network device (`--net NAME` or `--net tap:IFNAME`).

use super::Slot;
use crate::boot::LoadError;
use crate::guest::{Guest, Res};
use crate::io::Dma;

/// Pages the network device owns: its page of `struct lguest_net` peer slots.
pub(crate) const PAGES: u32 = 1;

/// What `--net` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetConfig {
    /// A named network shared by Launchers on this host.
    Named(String),
    /// A TAP interface to the host.
    Tap(String),
}

pub(crate) struct Net {
    pub slot: Slot,
}

impl Guest {
    /// Join the network and describe the device in the device page.
    pub(crate) fn add_net(&mut self, slot: Slot, _config: NetConfig) -> Result<(), LoadError> {
        self.devices.nets.push(Net { slot });
        Ok(())
    }

    /// The Guest sent a frame to network device `i`.
    pub(crate) fn net_send(&mut self, _i: usize, _key: u32, _dma: &Dma) -> Res<u32> {
        Ok(0)
    }
}
