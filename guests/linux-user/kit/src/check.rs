//! How the test programs report: one line per thing checked, with the value seen, so
//! that two runs (on the real processor and in a Guest) can be compared as text, and an
//! exit status that says whether everything was as expected.
//!
//! ```ignore
//! let mut t = Report::new();
//! t.eq("getppid in the child is the parent's pid", child_ppid == parent_pid, true);
//! t.eq("read from an empty pipe with O_NONBLOCK", read(fd, &mut buf), Err(Errno::EAGAIN));
//! t.note(format_args!("pipe capacity: {} bytes", n));
//! t.finish()
//! ```
//!
//! prints `getppid in the child is the parent's pid: true`, then
//! `read from an empty pipe with O_NONBLOCK: Err(EAGAIN)`, and if a value is not the
//! one expected, ` FAILED, expected ...` after it. [`Report::finish`] prints a summary
//! and returns the exit status: 0 only if every check passed.

use core::fmt::{self, Debug, Display};

/// The checks made so far.
pub struct Report {
    checks: u32,
    failed: u32,
}

impl Report {
    pub fn new() -> Report {
        Report { checks: 0, failed: 0 }
    }

    /// Start a group of checks: a heading line.
    pub fn section(&mut self, name: impl Display) {
        crate::println!("== {name}");
    }

    /// Check that `got` is `want`; print `what: got`.
    pub fn eq<T: PartialEq + Debug>(&mut self, what: impl Display, got: T, want: T) -> bool {
        self.checks += 1;
        if got == want {
            crate::println!("{what}: {got:?}");
            true
        } else {
            self.failed += 1;
            crate::println!("{what}: {got:?} FAILED, expected {want:?}");
            false
        }
    }

    /// Check that `got` is `want` without printing either (for values that differ from
    /// run to run, like pids): print `what: same`.
    pub fn same<T: PartialEq + Debug>(&mut self, what: impl Display, got: T, want: T) -> bool {
        self.checks += 1;
        if got == want {
            crate::println!("{what}: same");
            true
        } else {
            self.failed += 1;
            crate::println!("{what}: {got:?} is not {want:?} FAILED");
            false
        }
    }

    /// Check that `cond` holds; print `what: yes` (or `no FAILED`).
    pub fn ok(&mut self, what: impl Display, cond: bool) -> bool {
        self.checks += 1;
        if cond {
            crate::println!("{what}: yes");
        } else {
            self.failed += 1;
            crate::println!("{what}: no FAILED");
        }
        cond
    }

    /// Check that `result` is `Ok`; print `what: ok` or the error.
    pub fn ok_result<T, E: Debug>(&mut self, what: impl Display, result: &Result<T, E>) -> bool {
        self.checks += 1;
        match result {
            Ok(_) => {
                crate::println!("{what}: ok");
                true
            }
            Err(e) => {
                self.failed += 1;
                crate::println!("{what}: {e:?} FAILED, expected success");
                false
            }
        }
    }

    /// Print a line that is part of the output but not a check.
    pub fn note(&mut self, args: fmt::Arguments) {
        crate::println!("{args}");
    }

    /// Record a failure found some other way, with its explanation.
    pub fn fail(&mut self, args: fmt::Arguments) {
        self.checks += 1;
        self.failed += 1;
        crate::println!("{args} FAILED");
    }

    /// How many checks failed so far.
    pub fn failures(&self) -> u32 {
        self.failed
    }

    /// Print the summary; the exit status (0 if all passed, 1 if not).
    pub fn finish(self) -> i32 {
        if self.failed == 0 {
            crate::println!("all {} checks passed", self.checks);
            0
        } else {
            crate::println!("{} of {} checks FAILED", self.failed, self.checks);
            1
        }
    }
}

impl Default for Report {
    fn default() -> Report {
        Report::new()
    }
}

/// A number shown in octal (`0o644`), for modes and flags.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Octal(pub u32);

impl Debug for Octal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#o}", self.0)
    }
}

/// A number shown in hexadecimal (`0x1f`), for addresses' offsets and bit masks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex(pub u32);

impl Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
