//! A test hook for fuzzing the Host, compiled only with the `fuzzing` feature.
//!
//! [`Guest::run`] runs a Guest to its end, which a fuzzer cannot wait for. The fuzz
//! targets (`crates/fuzzing`, run by `fuzz/`) instead drive a [`Guest`] a step at a time:
//! they put chosen values in its registers and memory (through [`Guest::cpu_mut`]), then
//! hand the Host an [`Exit`] as if the CPU had just returned it — a hypercall, a trap, a
//! page fault — or let the CPU run a few instructions. Each step is the run loop's own
//! code (`run_loop.rs`), with one difference: a HALT never sleeps, because an armed clock
//! event is made due at once, and a HALT with nothing armed ends the Guest (as `Stopped`)
//! where a Linux Guest would sleep until a signal.
//!
//! `Err` is how the Guest ended; after that the Guest must not be stepped again.

use crate::guest::Guest;
use crate::outcome::Outcome;
use cpu::{Exit, Vcpu};
use std::time::Instant;

impl Guest {
    /// Handle `exit` as the run loop does when the CPU returns it.
    pub fn fuzz_exit(&mut self, exit: Exit) -> Result<(), Outcome> {
        self.never_sleep = true;
        let eip = self.cpu.eip();
        self.handle_exit(exit).map_err(|end| self.outcome(end, eip))
    }

    /// What the run loop does before entering the Guest (devices, the clock, interrupt
    /// delivery), except that a halted Guest's clock event is due now rather than later.
    pub fn fuzz_before_entry(&mut self) -> Result<(), Outcome> {
        self.never_sleep = true;
        if self.halted && self.clockevent.is_some() {
            self.clockevent = Some(Instant::now());
        }
        let eip = self.cpu.eip();
        self.before_entry().map_err(|end| self.outcome(end, eip))
    }

    /// Run the CPU for at most `budget` instructions and handle what it returns.
    pub fn fuzz_run(&mut self, budget: u64) -> Result<(), Outcome> {
        let exit = self.cpu.run(budget);
        self.fuzz_exit(exit)
    }
}
