//! The lguest Host: everything between a kernel image and a running Guest.
//!
//! Read it in the order data flows (see also docs/tour.md):
//! - `boot.rs`: lay out guest memory, load the ELF, build boot page tables and the GDT;
//! - `guest.rs`: the [`Guest`] built from them, and checked access to guest memory;
//! - `run_loop.rs`: run the CPU and dispatch what comes back;
//! - `hypercalls.rs`: LHCALL_* and the async ring;
//! - `interrupts_and_traps.rs`: the Guest's IDT, trap reflection and virtual interrupts;
//! - `page_tables.rs`: the Guest's page tables and the Host's shadow copies of them;
//! - `segments.rs`: the Host-owned GDT the Guest loads entries into;
//! - `timer.rs`: the one-shot clock and HALT;
//! - `io.rs`: the DMA core (BIND_DMA, SEND_DMA);
//! - `devices/`: the Launcher's devices (console, ...) and the events that feed them;
//! - `outcome.rs`: how a Guest ends, and why the Host kills one.
//! - `fuzzing.rs` (only with the `fuzzing` feature): a hook that lets the fuzz targets in
//!   `crates/fuzzing` step a Guest one exit at a time.
//!
//! The Host knows nothing of x86 instruction encoding (that is `cpu`'s business) and the
//! ABI lives in `abi`; names here follow the 2.6.23 sources (`do_async_hcalls`,
//! `lguest_data`, `send_dma`) so a reader of the original can find their way.

pub mod addr;
pub mod boot;
mod devices;
#[cfg(feature = "fuzzing")]
mod fuzzing;
mod guest;
mod hypercalls;
mod interrupts_and_traps;
mod io;
pub mod outcome;
mod page_tables;
mod run_loop;
mod segments;
mod timer;

pub use abi::Revision;
pub use addr::{GuestPhys, GuestVirt};
pub use boot::{KernelKind, Layout, LoadError};
pub use cpu::Engine;
pub use devices::block::BlockConfig;
pub use devices::console::ConsoleInput;
pub use devices::net::{NetConfig, NetStats};
pub use devices::{DeviceConfig, Event, EventSender};
pub use guest::{Config, Guest, TSC_KHZ};
pub use hypercalls::{CRASH_MSG_MAX, POWER_DOWN};
pub use outcome::{KillReason, Outcome};
pub use run_loop::SLICE;
