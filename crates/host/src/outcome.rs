//! How a Guest's life ends, and every reason the Host kills one.
//!
//! A Guest that breaks the rules dies ("Sudden Death" in lguest's words) with one line
//! naming what it did; [`KillReason`] is that line, as data. The Launcher renders an
//! [`Outcome`] once, at the top, and turns it into an exit status.

use crate::addr::GuestPhys;
use abi::Hcall;
use thiserror::Error;

/// Why the Host killed the Guest.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum KillReason {
    #[error("unknown hypercall {0}")]
    UnknownHypercall(u32),
    #[error("hypercall {0} before LHCALL_LGUEST_INIT")]
    HypercallBeforeInit(u32),
    #[error("second LHCALL_LGUEST_INIT (already have lguest_data)")]
    AlreadyInitialized,
    #[error("hypercall {0} not implemented")]
    NotImplemented(Hcall),
    #[error("bad address {addr} (+{len:#x}) for {what}")]
    BadAddress { what: &'static str, addr: GuestPhys, len: u32 },
    #[error("bad DMA descriptor at {dma}: {problem}")]
    BadDma { dma: GuestPhys, problem: String },
    #[error("privileged instruction `{0}`")]
    PrivilegedInstruction(String),
    #[error("unhandled trap {what}{insn}")]
    UnhandledTrap { what: String, insn: String },
    #[error("hypercall (int $0x1f) from user mode")]
    HypercallFromUser,
    #[error("access to guest-physical {0} outside guest memory")]
    OutsideRam(GuestPhys),
    #[error("halted with nothing that could ever wake it")]
    HaltForever,
    #[error("fault while delivering a fault: {0}")]
    DoubleFault(String),
    #[error("bad GDT: {0}")]
    BadGdt(String),
    #[error("bad IDT entry: {0}")]
    BadIdt(String),
    #[error("bad stack: {0}")]
    BadStack(String),
    #[error("bad page table: {0}")]
    BadPageTable(String),
    #[error("no gate for {0}")]
    NoGate(String),
}

/// The end of a Guest's run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The Guest sent LHCALL_CRASH with "Power down": a clean shutdown.
    PowerOff,
    /// The Guest sent LHCALL_CRASH with some other message.
    Crashed(String),
    /// The Host killed the Guest.
    Killed { reason: KillReason, eip: u32 },
    /// The Launcher was told to stop the Guest (a signal, or three Ctrl-Cs).
    Stopped(String),
}

impl Outcome {
    /// The Launcher's exit status for this outcome: 0 power off, 1 crash, 2 killed, 130
    /// stopped from outside (as a shell reports a command ended by Ctrl-C).
    pub fn exit_status(&self) -> i32 {
        match self {
            Outcome::PowerOff => 0,
            Outcome::Crashed(_) => 1,
            Outcome::Killed { .. } => 2,
            Outcome::Stopped(_) => 130,
        }
    }

    /// The one line the Launcher prints for this outcome (none for a power off).
    pub fn message(&self) -> Option<String> {
        match self {
            Outcome::PowerOff => None,
            Outcome::Crashed(msg) => Some(format!("lguest: guest crashed: {msg}")),
            Outcome::Killed { reason, eip } => {
                Some(format!("lguest: killed guest: {reason} at eip={eip:#x}"))
            }
            Outcome::Stopped(why) => Some(format!("lguest: stopped: {why}")),
        }
    }
}
