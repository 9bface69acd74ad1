//! The Guest: built once from a kernel image and a [`Config`], then run.
//!
//! Construction (lay out memory, load the ELF, write boot data, set up the CPU) happens in
//! [`Guest::new`]; running is `run_loop.rs`. Between them sits the state the Host keeps
//! about a Guest, which the other modules (hypercalls, io, ...) add behaviour to.

use crate::addr::GuestPhys;
use crate::boot::{self, BootRequest, KernelKind, Layout, LoadError};
use crate::devices::console::{Console, ConsoleInput};
use crate::devices::{DeviceConfig, Devices, Events, Slot};
use crate::interrupts_and_traps::{Gate, KernelStack};
use crate::io::{Binding, NO_BINDINGS};
use crate::outcome::{KillReason, Outcome};
use crate::page_tables::Shadow;
use abi::{LGUEST_MAX_DMA, LguestDataLayout, PAGE_SIZE, Revision};
use cpu::{Cpu, Engine, PhysMem, Vcpu};
use std::io::Write;
use std::time::Instant;

/// What the Launcher asks for.
pub struct Config {
    /// Bytes of guest RAM.
    pub mem_size: u64,
    /// The Guest's command line.
    pub cmdline: String,
    /// This Guest's id (the network driver derives its MAC from it).
    pub guestid: u16,
    /// Where console output goes.
    pub console_out: Box<dyn Write + Send>,
    /// Where console input comes from.
    pub console_in: ConsoleInput,
    /// Devices besides the console, in the order they appear in the device page.
    pub devices: Vec<DeviceConfig>,
    /// An initial RAM disk for a Linux Guest, put at the top of RAM.
    pub initrd: Option<Vec<u8>>,
    /// Which `struct lguest_data` the Guest speaks; `None` picks it from the kernel image
    /// (the 2.6.23 release for Linux, the seed for the kit's Guests).
    pub revision: Option<Revision>,
    /// Give a Linux Guest no x87: it boots with `no387` and emulates one in its kernel
    /// (`CONFIG_MATH_EMULATION`), as it had to before this CPU had an FPU. The kit's Guests
    /// never use the FPU, and always run with CR0.EM set.
    pub math_emulation: bool,
    /// The CPU engine that runs the Guest (see [`cpu::Engine`]).
    pub engine: Engine,
}

impl Config {
    /// 64 MiB, empty command line, console output on standard output and no input, the
    /// `jit` engine.
    pub fn new() -> Config {
        Config {
            mem_size: 64 << 20,
            cmdline: String::new(),
            guestid: std::process::id() as u16,
            console_out: Box::new(std::io::stdout()),
            console_in: ConsoleInput::None,
            devices: Vec::new(),
            initrd: None,
            revision: None,
            math_emulation: false,
            engine: Engine::Jit,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// The TSC frequency the Guest is told about, and that its RDTSC agrees with.
pub const TSC_KHZ: u32 = 1_000_000;

/// How a hypercall or trap handler ends the Guest.
#[derive(Debug)]
pub(crate) enum End {
    Kill(KillReason),
    PowerOff,
    Crash(String),
    /// The Launcher was told to stop (a signal, or three Ctrl-Cs).
    Stopped(String),
}

impl From<KillReason> for End {
    fn from(r: KillReason) -> End {
        End::Kill(r)
    }
}

pub(crate) type Res<T = ()> = Result<T, End>;

pub struct Guest {
    pub(crate) cpu: Cpu,
    pub(crate) layout: Layout,
    /// What kind of kernel this is (how it was booted).
    pub(crate) kind: KernelKind,
    /// The `struct lguest_data` revision the Guest speaks, and its offsets.
    pub(crate) revision: Revision,
    pub(crate) ld: &'static LguestDataLayout,
    /// Where the Guest's `lguest_data` is, once LHCALL_LGUEST_INIT told us.
    pub(crate) lguest_data: Option<GuestPhys>,
    /// The async ring slot to look at next.
    pub(crate) next_hcall: usize,
    pub(crate) guestid: u16,
    pub(crate) console: Console,
    /// Reused buffer for gathering DMA data, so the I/O path allocates nothing.
    pub(crate) scratch: Vec<u8>,
    /// The Guest's IDT (LHCALL_LOAD_IDT_ENTRY), one optional gate per vector.
    pub(crate) idt: Box<[Option<Gate>; 256]>,
    /// Where traps from user mode are delivered (LHCALL_SET_STACK).
    pub(crate) kernel_stack: KernelStack,
    /// Virtual IRQs raised and not yet delivered, one bit each.
    pub(crate) irqs_pending: u32,
    /// The Guest made LHCALL_HALT and waits for an interrupt.
    pub(crate) halted: bool,
    /// When the one-shot clock fires (LHCALL_SET_CLOCKEVENT).
    pub(crate) clockevent: Option<Instant>,
    /// Progress (instructions + exits) at which to look at the clock next.
    pub(crate) next_clock_check: u64,
    /// Exits from the CPU so far.
    pub(crate) exits: u64,
    /// The shadow page tables (their memory is the CPU's page-table memory).
    pub(crate) shadow: Shadow,
    /// The Launcher's devices besides the console.
    pub(crate) devices: Devices,
    /// Receive buffers the Guest bound with LHCALL_BIND_DMA.
    pub(crate) bindings: [Option<Binding>; LGUEST_MAX_DMA],
    /// Input from outside (console, network, signals).
    pub(crate) events: Events,
    /// The Guest bound console buffers since we last tried to deliver input.
    pub(crate) console_input_ready: bool,
    /// The CPU stops after stores to lguest_data (an interrupt waits for the Guest to
    /// unmask it).
    pub(crate) watching_lguest_data: bool,
    /// An interrupt waits for the Guest to leave its no-interrupt window: run in short steps.
    pub(crate) short_slice: bool,
    /// A HALT with nothing armed to wake the Guest ends it instead of sleeping for a
    /// signal (set by the fuzzing hook, which must never block).
    pub(crate) never_sleep: bool,
}

impl Guest {
    /// Build a Guest from a kernel ELF image.
    pub fn new(kernel: &[u8], config: Config) -> Result<Guest, LoadError> {
        let device_pages: u32 = config.devices.iter().map(DeviceConfig::pages).sum::<u32>();
        let request = BootRequest {
            mem_size: config.mem_size,
            device_pages,
            cmdline: &config.cmdline,
            initrd: config.initrd.as_deref(),
            math_emulation: config.math_emulation,
        };
        let boot::Booted { mut cpu, layout, kind } = boot::load(kernel, &request)?;
        cpu.set_engine(config.engine);
        let revision = config.revision.unwrap_or(kind.revision());
        let events = Events::new();
        let console = Console::new(config.console_out, config.console_in, events.sender());
        let mut guest = Guest {
            cpu,
            layout,
            kind,
            revision,
            ld: revision.layout(),
            lguest_data: None,
            next_hcall: 0,
            guestid: config.guestid,
            console,
            scratch: Vec::with_capacity(4096),
            idt: Box::new([None; 256]),
            kernel_stack: KernelStack::default(),
            irqs_pending: 0,
            halted: false,
            clockevent: None,
            next_clock_check: 0,
            exits: 0,
            shadow: Shadow::new(),
            bindings: NO_BINDINGS,
            events,
            console_input_ready: false,
            watching_lguest_data: false,
            short_slice: false,
            never_sleep: false,
            devices: Devices::default(),
        };
        guest.init_shadow(layout.pgdir);
        let mut pfn = layout.device_page.0 / PAGE_SIZE + 1;
        for (n, dev) in config.devices.into_iter().enumerate() {
            let slot = Slot { index: n as u32 + 1, pfn, pages: dev.pages() };
            pfn += slot.pages;
            guest.add_device(slot, dev)?;
        }
        Ok(guest)
    }

    /// Where things are in guest memory.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// What kind of kernel the Guest runs.
    pub fn kind(&self) -> KernelKind {
        self.kind
    }

    /// The `struct lguest_data` revision the Guest speaks.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// The virtual CPU (for inspection by tests and tools).
    pub fn cpu(&self) -> &Cpu {
        &self.cpu
    }

    pub fn cpu_mut(&mut self) -> &mut Cpu {
        &mut self.cpu
    }

    pub(crate) fn mem(&self) -> &PhysMem {
        self.cpu.mem()
    }

    /// Turn how the Guest ended into an [`Outcome`]; `eip` is where it did so.
    pub(crate) fn outcome(&self, end: End, eip: u32) -> Outcome {
        match end {
            End::PowerOff => Outcome::PowerOff,
            End::Crash(msg) => Outcome::Crashed(msg),
            End::Kill(reason) => Outcome::Killed { reason, eip },
            End::Stopped(why) => Outcome::Stopped(why),
        }
    }

    // ---- guest-physical access on the Guest's behalf ----
    //
    // Every address here came from the Guest, so every failure is the Guest's fault and
    // kills it with the name of what it asked for.

    /// Check that `[addr, addr+len)` is inside guest memory.
    pub(crate) fn check_range(&self, what: &'static str, addr: GuestPhys, len: u32) -> Res {
        if self.mem().contains(addr.0, len) {
            Ok(())
        } else {
            Err(KillReason::BadAddress { what, addr, len }.into())
        }
    }

    pub(crate) fn read_u32(&self, what: &'static str, addr: GuestPhys) -> Res<u32> {
        self.mem().read_u32(addr.0).map_err(|_| KillReason::BadAddress { what, addr, len: 4 }.into())
    }

    pub(crate) fn read_u16(&self, what: &'static str, addr: GuestPhys) -> Res<u16> {
        self.mem().read_u16(addr.0).map_err(|_| KillReason::BadAddress { what, addr, len: 2 }.into())
    }

    pub(crate) fn read_u8(&self, what: &'static str, addr: GuestPhys) -> Res<u8> {
        self.mem().read_u8(addr.0).map_err(|_| KillReason::BadAddress { what, addr, len: 1 }.into())
    }

    pub(crate) fn write_u32(&mut self, what: &'static str, addr: GuestPhys, v: u32) -> Res {
        self.cpu
            .mem_mut()
            .write_u32(addr.0, v)
            .map_err(|_| KillReason::BadAddress { what, addr, len: 4 }.into())
    }

    pub(crate) fn write_u16(&mut self, what: &'static str, addr: GuestPhys, v: u16) -> Res {
        self.cpu
            .mem_mut()
            .write_u16(addr.0, v)
            .map_err(|_| KillReason::BadAddress { what, addr, len: 2 }.into())
    }

    pub(crate) fn write_u8(&mut self, what: &'static str, addr: GuestPhys, v: u8) -> Res {
        self.cpu
            .mem_mut()
            .write_u8(addr.0, v)
            .map_err(|_| KillReason::BadAddress { what, addr, len: 1 }.into())
    }
}
