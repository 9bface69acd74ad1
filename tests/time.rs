//! The clock (LHCALL_SET_CLOCKEVENT) and HALT, as `conform_clock` measures them with the
//! TSC from inside the Guest, and the Launcher's CPU time while the Guest sleeps.

mod common;
mod conform;
use common::guest_path;
use conform::passes;
use std::io::Read;
use std::process::Stdio;
use std::time::Instant;

fn clock(variant: &str) -> String {
    passes("conform_clock", variant)
}

#[test]
fn the_timer_never_fires_early_and_fires_soon_after_while_the_guest_spins() {
    println!("{}", clock("timer"));
}

#[test]
fn the_timer_never_fires_early_and_fires_soon_after_while_the_guest_halts() {
    println!("{}", clock("timer_halt"));
}

#[test]
fn set_clockevent_0_cancels_the_pending_event() {
    clock("cancel");
}

#[test]
fn arming_the_clock_again_replaces_the_deadline() {
    clock("rearm");
}

#[test]
fn a_delta_under_the_minimum_still_fires() {
    clock("min_delta");
}

/// User and system CPU time of a child that has exited, reaping it.
fn reap_cpu_seconds(pid: u32) -> (i32, f64) {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet reaped; both pointers are to our locals.
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(r, pid as libc::pid_t, "wait4: {}", std::io::Error::last_os_error());
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (libc::WEXITSTATUS(status), secs(usage.ru_utime) + secs(usage.ru_stime))
}

#[test]
#[expect(clippy::zombie_processes, reason = "reaped by wait4, which also reports its CPU time")]
fn halt_sleeps_until_the_timer_fires_without_burning_cpu() {
    let start = Instant::now();
    let mut child = common::lguest()
        .arg("run")
        .arg(guest_path("conform_clock"))
        .args(["--cmdline", "halt"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn lguest");
    let mut out = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut out).expect("read stdout");
    let (status, cpu) = reap_cpu_seconds(child.id());
    let wall = start.elapsed().as_secs_f64();
    println!("halting guest: {wall:.3} s wall, {cpu:.3} s CPU");
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("conform: halt: ok slept 5 x 100 ms in HALT"), "{out}");
    assert!(wall >= 0.5, "5 x 100 ms of sleep took only {wall:.3} s");
    assert!(cpu < wall / 4.0, "the Launcher used {cpu:.3} s of CPU in {wall:.3} s while the Guest halted");
}
