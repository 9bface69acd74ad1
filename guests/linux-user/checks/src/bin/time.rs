//! Time: `clock_gettime` (monotonic, real-time, process CPU time), `gettimeofday`,
//! `time`, `clock_getres`, `nanosleep` and `clock_nanosleep` (relative and absolute),
//! `times` and the ticks it counts for us and our children, and `ITIMER_VIRTUAL`.
//!
//! Only relations are printed, never a time: clocks never go back, they agree with each
//! other, sleeps last at least as long as asked, CPU time grows while we compute.
//!
//! Run with no arguments.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
use linux::check::Report;
use linux::process::{fork_child, wait_for};
use linux::signal::{self, Handler, ITIMER_VIRTUAL, SIGVTALRM};
use linux::time::{
    CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME, TIMER_ABSTIME, Timespec, clock_getres,
    clock_gettime, clock_nanosleep, gettimeofday, nanosleep, nanosleep_raw, now_ns, times,
};
use linux::{Errno, println};

linux::entry!(main);

const MS: u64 = 1_000_000;

fn main() -> i32 {
    let mut t = Report::new();
    clocks(&mut t);
    sleeps(&mut t);
    cpu_time(&mut t);
    t.finish()
}

/// Spin until `ns` of monotonic time have passed; a value the compiler cannot drop.
fn spin(ns: u64) -> u32 {
    let end = now_ns() + ns;
    let mut x = 1u32;
    while now_ns() < end {
        for i in 0..1000u32 {
            x = x.wrapping_mul(1_664_525).wrapping_add(i);
        }
    }
    x
}

fn clocks(t: &mut Report) {
    t.section("clocks");
    let mut last = clock_gettime(CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC");
    let mut back = 0;
    for _ in 0..1000 {
        let now = clock_gettime(CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC");
        back += u32::from(now < last);
        last = now;
    }
    t.eq("CLOCK_MONOTONIC read 1000 times: times it went back", back, 0);
    t.ok("its nanoseconds are below a second", last.nsec >= 0 && last.nsec < 1_000_000_000);

    let mut disagree = 0;
    for _ in 0..100 {
        let before = clock_gettime(CLOCK_REALTIME).expect("CLOCK_REALTIME");
        let (sec, usec) = gettimeofday().expect("gettimeofday");
        let after = clock_gettime(CLOCK_REALTIME).expect("CLOCK_REALTIME");
        let tod = sec as u64 * 1_000_000 + usec as u64;
        let us = |ts: Timespec| ts.as_ns() / 1000;
        disagree += u32::from(!(us(before)..=us(after)).contains(&tod) || !(0..1_000_000).contains(&usec));
    }
    t.eq("gettimeofday between two CLOCK_REALTIME reads, 100 times: times it was not", disagree, 0);
    let (sec, _) = gettimeofday().expect("gettimeofday");
    t.ok("the real time is after 2008", sec > 1_199_145_600);
    let secs = linux::time::time();
    // Today's kernels answer time() from the coarse clock, which may still be in the
    // second before gettimeofday's.
    t.ok("time() is gettimeofday's seconds (or one either side)", secs.abs_diff(sec) <= 1);
    for (name, clock) in [("CLOCK_REALTIME", CLOCK_REALTIME), ("CLOCK_MONOTONIC", CLOCK_MONOTONIC)] {
        let res = clock_getres(clock);
        t.eq(
            format_args!("clock_getres({name}) is between 1 ns and 10 ms"),
            res.map(|r| r.sec == 0 && r.nsec > 0 && r.nsec as u64 <= 10 * MS),
            Ok(true),
        );
    }
    t.eq("clock_gettime of clock 1000", clock_gettime(1000).map(drop), Err(Errno::EINVAL));
}

fn sleeps(t: &mut Report) {
    t.section("sleeps");
    for ms in [1, 20, 50] {
        let start = now_ns();
        let r = nanosleep(ms * MS);
        let took = now_ns() - start;
        t.eq(
            format_args!("nanosleep({ms} ms): result, and it took at least that"),
            (r.map_err(|(e, _)| e), took >= ms * MS),
            (Ok(()), true),
        );
    }
    t.eq("nanosleep(0)", nanosleep(0).map_err(|(e, _)| e), Ok(()));
    t.eq(
        "nanosleep with 1e9 nanoseconds",
        nanosleep_raw(Timespec { sec: 0, nsec: 1_000_000_000 }),
        Err(Errno::EINVAL),
    );
    t.eq("nanosleep with -1 seconds", nanosleep_raw(Timespec { sec: -1, nsec: 0 }), Err(Errno::EINVAL));
    let start = now_ns();
    let r = clock_nanosleep(CLOCK_MONOTONIC, 0, 20 * MS);
    t.eq(
        "clock_nanosleep(MONOTONIC, 20 ms): result, and it took at least that",
        (r, now_ns() - start >= 20 * MS),
        (Ok(()), true),
    );
    let target = now_ns() + 30 * MS;
    let r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, target);
    t.eq(
        "clock_nanosleep(MONOTONIC, TIMER_ABSTIME, now + 30 ms): result, and the clock is past it",
        (r, now_ns() >= target),
        (Ok(()), true),
    );
    let r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, target - 20 * MS);
    t.eq("the same with a time already past: returns at once", r, Ok(()));

    let (s1, u1) = gettimeofday().expect("gettimeofday");
    let ticks1 = times().expect("times").elapsed;
    let _ = nanosleep(100 * MS);
    let (s2, u2) = gettimeofday().expect("gettimeofday");
    let ticks2 = times().expect("times").elapsed;
    let tod_us = (s2 - s1) as i64 * 1_000_000 + (u2 - u1) as i64;
    t.ok("gettimeofday across a 100 ms sleep: at least 100 ms later", tod_us >= 100_000);
    t.ok("times()'s tick count across it: at least 9 more (100 a second)", ticks2.wrapping_sub(ticks1) >= 9);
}

static VTALRMS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_vtalrm(_: i32) {
    VTALRMS.fetch_add(1, Relaxed);
}

fn cpu_time(t: &mut Report) {
    t.section("CPU time");
    let cpu0 = clock_gettime(CLOCK_PROCESS_CPUTIME_ID).map(Timespec::as_ns);
    let tms0 = times().expect("times");
    let x = spin(200 * MS);
    let cpu1 = clock_gettime(CLOCK_PROCESS_CPUTIME_ID).map(Timespec::as_ns);
    let tms1 = times().expect("times");
    let used = (tms1.utime + tms1.stime) - (tms0.utime + tms0.stime);
    t.ok("after computing for 200 ms: our utime + stime grew by at least 1 tick", used >= 1);
    t.eq("CLOCK_PROCESS_CPUTIME_ID grew", cpu0.and_then(|a| cpu1.map(|b| b > a)), Ok(true));
    t.eq("no children's time yet", (tms1.cutime, tms1.cstime), (0, 0));
    let pid = fork_child(|| {
        let x = spin(200 * MS);
        (x & 1) as i32
    })
    .expect("fork");
    let status = wait_for(pid);
    t.ok("a child that computed 200 ms", status.is_ok());
    let tms2 = times().expect("times");
    t.ok("after waiting for it: children's utime + stime is at least 1 tick", tms2.cutime + tms2.cstime >= 1);

    signal::signal(SIGVTALRM, Handler::Plain(on_vtalrm)).expect("sigaction");
    signal::setitimer(ITIMER_VIRTUAL, 0, 50_000).expect("setitimer");
    let start = now_ns();
    let mut y = x;
    while VTALRMS.load(Relaxed) == 0 && now_ns() - start < 10_000 * MS {
        y ^= spin(MS);
    }
    t.eq("ITIMER_VIRTUAL of 50 ms while computing: SIGVTALRMs", VTALRMS.load(Relaxed), 1);
    t.ok("and it took at least 50 ms", now_ns() - start >= 50 * MS);
    if y == 0x1234_5678 {
        println!("(unlikely value)");
    }
}
