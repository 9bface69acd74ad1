//! The Guest kit: what a Rust kernel needs to run as an lguest Guest.
//!
//! A Guest kernel is a `no_std`, `no_main` binary that names its main function with
//! [`entry!`]. The kit's `_start` (see [`entry`]) takes over from the Launcher, registers
//! the [`lguest_data`] page with the Host and calls it:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use guest::{BootInfo, println};
//!
//! guest::entry!(kmain);
//!
//! fn kmain(_boot: &'static BootInfo) -> ! {
//!     println!("hello from a Guest with {} bytes of RAM", guest::boot::mem_size());
//!     guest::power_off()
//! }
//! ```
//!
//! From there on a Guest never executes a privileged instruction: it asks the Host with a
//! hypercall ([`hcall`]), queues cheap ones in the async ring ([`async_hcall`]), and flips
//! interrupts by writing `lguest_data` ([`irq`]). Output goes to the console ([`println!`])
//! over `LHCALL_SEND_DMA` ([`dma`]); the Guest ends with [`power_off`] or [`crash`], and a
//! panic CRASHes it with the panic message ([`panic`]).
//!
//! A kernel that does more than print builds on the rest, in about the order it needs
//! them: [`traps`] (handlers for exceptions, IRQs and system calls, through gates loaded
//! with [`idt`]), [`irq`] (enabling, disabling, blocking), [`clock`] (the TSC and the
//! one-shot timer), [`gdt`] (its own GDT and TLS entries), [`paging`] and [`page_alloc`]
//! (its own page tables, announced to the Host), and [`usermode`] (ring 3).
//! Devices on the lguest bus are found, and their status handshake done, with [`bus`];
//! [`console`] also reads console input, [`block`] drives a disk, [`net`] a network
//! device and [`inet`] speaks a little IPv4 over it.
//!
//! Module names follow the ABI (`abi`) and the 2.6.23 Guest code they stand in for.
#![no_std]

#[cfg(not(target_arch = "x86"))]
compile_error!(
    "the Guest kit is for i586-unknown-linux-gnu: run cargo inside guests/, whose \
     .cargo/config.toml sets the target, or pass --target i586-unknown-linux-gnu"
);

pub mod addr;
pub mod block;
pub mod boot;
pub mod bus;
pub mod clock;
pub mod console;
pub mod dma;
pub mod entry;
pub mod gdt;
mod global;
pub mod hcall;
pub mod idt;
pub mod inet;
pub mod irq;
pub mod lguest_data;
pub mod net;
pub mod page_alloc;
pub mod paging;
pub mod panic;
mod string;
pub mod traps;
pub mod usermode;

pub use abi;
pub use abi::boot::BootInfo;
pub use addr::{phys_to_virt, virt_to_phys};
pub use global::Global;
pub use hcall::{async_hcall, flush_async, get_wallclock, halt, hcall, rdtsc};
pub use panic::{crash, crash_fmt, power_off};
