//! Time: the Guest's one-shot clock (LHCALL_SET_CLOCKEVENT, raising IRQ 0) and HALT.
//!
//! The Guest asks for an interrupt some nanoseconds from now; deltas under
//! LG_CLOCK_MIN_DELTA are raised to it and 0 cancels. We check the clock between runs of
//! the CPU, and at least every [`TIME_CHECK_INSNS`] instructions, so an expired event is
//! noticed within a fraction of a millisecond without reading the clock on every
//! hypercall. LHCALL_HALT sleeps the Launcher thread until the next event (no core
//! spinning). With no event armed and nothing else that could raise an interrupt, the
//! Guest could never wake: a Guest of the seed revision (this project's own) is told so
//! and killed, rather than hanging; a Linux Guest sleeps on, as under the 2.6.23 Host,
//! until a signal stops the Launcher (a halted Linux with nothing left to wake it is a
//! system the user powered down without `poweroff`, and may still be of use to look at).

use crate::guest::{End, Guest, Res};
use crate::outcome::KillReason;
use abi::{LG_CLOCK_MIN_DELTA, Revision};
use std::time::{Duration, Instant};
use tracing::trace;

/// The clock's IRQ.
pub const CLOCK_IRQ: u32 = 0;

/// Look at the clock at least this often, in Guest instructions (plus one per exit).
pub const TIME_CHECK_INSNS: u64 = 50_000;

/// A low estimate of how many Guest instructions run per nanosecond, used to stop the CPU
/// about when the clock event is due rather than up to a slice later.
const INSNS_PER_NS: f64 = 0.2;

impl Guest {
    /// LHCALL_SET_CLOCKEVENT.
    pub(crate) fn set_clockevent(&mut self, delta_ns: u32) {
        self.clockevent = match delta_ns {
            0 => None,
            d => Some(Instant::now() + Duration::from_nanos(d.max(LG_CLOCK_MIN_DELTA) as u64)),
        };
        // Work out afresh when to look next.
        self.next_clock_check = 0;
        trace!(target: "lguest::irq", "  clock event in {delta_ns} ns");
    }

    /// Raise the clock IRQ if its time has come (reading the clock only while an event is
    /// armed). Returns whether this is also a periodic moment (every [`TIME_CHECK_INSNS`] of
    /// progress, or when `force`d) for other slow work.
    pub(crate) fn check_clock(&mut self, force: bool) -> bool {
        let progress = self.insns_and_exits();
        let periodic = force || progress >= self.next_clock_check;
        let mut next = TIME_CHECK_INSNS;
        if let Some(deadline) = self.clockevent {
            // An armed clock is looked at on every entry, not just periodically: a Guest
            // waiting for it with interrupts masked must find it pending as soon as it is
            // due, even if the Launcher was descheduled in between.
            let now = Instant::now();
            if now >= deadline {
                self.clockevent = None;
                self.trigger_irq(CLOCK_IRQ);
            } else {
                // Run the CPU no longer than until about when it is due.
                let ns = (deadline - now).as_nanos() as f64;
                next = next.min((ns * INSNS_PER_NS) as u64 + 1);
                self.next_clock_check = self.next_clock_check.min(progress + next);
            }
        }
        if periodic {
            self.next_clock_check = progress + next;
        }
        periodic
    }

    /// How many instructions the CPU may run before the Host should look at the clock.
    pub(crate) fn clock_budget(&self) -> u64 {
        self.next_clock_check.saturating_sub(self.insns_and_exits()).max(1)
    }

    /// A measure of Guest progress for pacing clock checks: instructions retired plus
    /// exits (a Guest making hypercalls in a loop retires few instructions per exit).
    fn insns_and_exits(&self) -> u64 {
        use cpu::Vcpu;
        self.cpu.retired() + self.exits
    }

    /// The Guest is halted: sleep until an interrupt it has not blocked is pending, woken
    /// by the clock or by device input (or a signal) on the event channel.
    pub(crate) fn wait_for_interrupt(&mut self) -> Res {
        loop {
            self.poll_devices(None)?;
            if self.unblocked_pending() != 0 {
                return Ok(());
            }
            match self.clockevent {
                Some(deadline) => {
                    self.poll_devices(Some(Some(deadline)))?;
                    self.check_clock(true);
                }
                None if self.never_sleep => {
                    return Err(End::Stopped(
                        "halted with nothing armed to wake it (no sleeping here)".into(),
                    ));
                }
                None if self.device_could_wake() || self.revision == Revision::Release => {
                    self.poll_devices(Some(None))?
                }
                None => return Err(KillReason::HaltForever.into()),
            }
        }
    }
}
