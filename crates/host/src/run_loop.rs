//! The run loop: run the Guest on the CPU until something needs the Host, handle it,
//! repeat, until the Guest powers off, crashes or is killed.
//!
//! The CPU returns an [`Exit`] for every event: `int $0x1F` from the Guest kernel is a
//! hypercall (`hypercalls.rs`); any other software interrupt or exception is a trap
//! (`traps.rs`); an access outside guest memory is Sudden Death. The CPU runs in slices
//! of [`SLICE`] instructions so the Host gets control regularly even from a Guest that
//! never traps.

use crate::addr::GuestPhys;
use crate::guest::Guest;
use crate::outcome::{KillReason, Outcome};
use abi::LGUEST_TRAP_ENTRY;
use cpu::{Exit, Vcpu};

/// Instructions per slice: about a third of a millisecond of Guest time.
pub const SLICE: u64 = 100_000;

impl Guest {
    /// Run the Guest to the end.
    pub fn run(&mut self) -> Outcome {
        let (end, eip) = loop {
            let exit = self.cpu.run(SLICE);
            let mut eip = self.cpu.eip();
            let r = match exit {
                Exit::SoftInt { vector } if vector == LGUEST_TRAP_ENTRY && self.cpu.cpl() == 1 => {
                    // A death during a hypercall happened *at* the `int $0x1f`, which is
                    // two bytes (CD 1F) before where EIP now points.
                    eip = eip.wrapping_sub(2);
                    self.do_hypercalls()
                }
                Exit::SoftInt { vector } => self.soft_interrupt(vector),
                Exit::Exception(e) => self.exception(e),
                Exit::BudgetExhausted => Ok(()),
                Exit::BadPhysical { addr } => Err(KillReason::OutsideRam(GuestPhys(addr)).into()),
                // The Guest never runs at CPL 0, so it cannot execute HLT without a #GP.
                Exit::Halt => Err(KillReason::PrivilegedInstruction("hlt".into()).into()),
            };
            if let Err(end) = r {
                break (end, eip);
            }
        };
        self.console.flush();
        self.outcome(end, eip)
    }
}
