//! The run loop: run the Guest on the CPU until something needs the Host, handle it,
//! repeat, until the Guest powers off, crashes or is killed.
//!
//! Before each entry we look at the clock and deliver a virtual interrupt if one is due
//! (`interrupts_and_traps.rs`). The CPU returns an [`Exit`] for every event: `int $0x1F`
//! from the Guest kernel is a hypercall (`hypercalls.rs`); any other software interrupt
//! or exception is a trap, reflected into the Guest's handler; an access outside guest
//! memory is Sudden Death. The CPU runs in slices of [`SLICE`] instructions so the Host
//! gets control regularly even from a Guest that never traps.

use crate::addr::GuestPhys;
use crate::guest::{Guest, Res};
use crate::outcome::{KillReason, Outcome};
use abi::LGUEST_TRAP_ENTRY;
use cpu::{Exit, Vcpu};

/// Instructions per slice: a fraction of a millisecond of Guest time.
pub const SLICE: u64 = 100_000;

/// Instructions per run while an interrupt waits for the Guest to leave its no-interrupt
/// window (its iret path is a handful of instructions).
const NOIRQ_STEP: u64 = 8;

impl Guest {
    /// Run the Guest to the end.
    ///
    /// The calling thread's timer slack is set to 1 ns: a halted Guest sleeps on a timed
    /// wait for its clock event, and Linux's default slack (50 µs) would otherwise be
    /// added to every timer interrupt the Guest waits for.
    pub fn run(&mut self) -> Outcome {
        // Failure only costs timer precision, so it is not an error.
        let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
        let (end, eip) = loop {
            if let Err(end) = self.before_entry() {
                break (end, self.cpu.eip());
            }
            let budget = if self.short_slice { NOIRQ_STEP } else { self.clock_budget().min(SLICE) };
            let exit = self.cpu.run(budget);
            self.exits += 1;
            let mut eip = self.cpu.eip();
            if let Exit::SoftInt { vector: LGUEST_TRAP_ENTRY, len } = exit {
                // A death during a hypercall happened *at* the `int $0x1f`.
                eip = eip.wrapping_sub(len as u32);
            }
            if let Err(end) = self.handle_exit(exit) {
                break (end, eip);
            }
        };
        self.devices_at_end();
        self.console.flush();
        self.outcome(end, eip)
    }

    /// What happens between two runs of the CPU: calls queued in the async ring are done,
    /// time passes, interrupts arrive.
    ///
    /// The ring is drained before every entry, as the 2.6.23 Host did (`do_hypercalls` at
    /// the top of its run loop), not only before a synchronous hypercall: a Guest that
    /// queued page-table changes and then took a trap finds them done when its handler
    /// runs. With nothing queued this is one byte read.
    pub(crate) fn before_entry(&mut self) -> Res {
        self.do_async_hcalls()?;
        if self.halted {
            self.wait_for_interrupt()?;
        }
        if self.events.any_queued() {
            self.poll_devices(None)?;
        }
        if self.check_clock(false) {
            // A periodic moment: devices holding input retry the Guest's buffers.
            self.retry_pending_input()?;
        }
        self.maybe_do_interrupt()
    }

    pub(crate) fn handle_exit(&mut self, exit: Exit) -> Res {
        match exit {
            Exit::SoftInt { vector, .. } if vector == LGUEST_TRAP_ENTRY && self.cpu.cpl() == 1 => {
                self.do_hypercalls()
            }
            Exit::SoftInt { vector, len } => self.deliver_soft_interrupt(vector, len),
            // The Guest wrote to lguest_data while an interrupt waited: look again.
            Exit::WatchedStore => Ok(()),
            Exit::Exception(e) => self.trap(e),
            Exit::BudgetExhausted => {
                self.check_clock(true);
                self.retry_pending_input()
            }
            Exit::BadPhysical { addr } => Err(KillReason::OutsideRam(GuestPhys(addr)).into()),
            // The Guest never runs at CPL 0, so it cannot execute HLT without a #GP.
            Exit::Halt => Err(KillReason::PrivilegedInstruction("hlt".into()).into()),
        }
    }
}
