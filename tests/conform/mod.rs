//! Booting the conformance Guests (`guests/conform`) and reading their verdicts: each
//! prints `conform: <variant>: ok ...` and powers off, or crashes saying what differed,
//! or — for the Sudden Death variants — is killed by the Host with a one-line message.

#![allow(dead_code)]

use crate::common::{Run, run_guest};

/// Boot conformance Guest `bin` with `variant` as its command line.
pub fn conform(bin: &str, variant: &str) -> Run {
    run_guest(bin, &["--cmdline", variant])
}

/// Boot it and insist it passed: status 0 and its `ok` line. Returns the `ok` line.
pub fn passes(bin: &str, variant: &str) -> String {
    let r = conform(bin, variant);
    let ok = format!("conform: {variant}: ok ");
    assert_eq!(r.status, 0, "{bin} {variant} failed:\n{}{}", r.stdout, r.stderr);
    let line = r.stdout.lines().find(|l| l.starts_with(&ok));
    line.unwrap_or_else(|| panic!("{bin} {variant}: no ok line:\n{}", r.stdout)).to_string()
}

/// Boot it and insist the Host killed it (status 2) with a death message containing
/// `why`, after the Guest said what it was about to do.
pub fn dies(bin: &str, variant: &str, why: &str) {
    let r = conform(bin, variant);
    assert_eq!(r.status, 2, "{bin} {variant} was not killed:\n{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("conform: {variant}: ")), "{bin} {variant} never ran: {}", r.stdout);
    let last = r.last_err_line();
    assert!(last.starts_with("lguest: killed guest: "), "death message: {last}");
    assert!(last.contains(why), "death message {last:?} does not say {why:?}");
    assert_eq!(r.stderr.lines().count(), 1, "one line on stderr: {}", r.stderr);
}
