//! Time: `clock_gettime`, `clock_getres`, `gettimeofday`, `nanosleep`, `times`.
//!
//! [`Timespec`] does its arithmetic in whole nanoseconds (`u64`), never in floating
//! point; [`now_ns`] is what a program times itself with.

use crate::syscall::{check, nr, syscall1, syscall2, syscall6};
use crate::{Errno, Result};

pub const CLOCK_REALTIME: u32 = 0;
pub const CLOCK_MONOTONIC: u32 = 1;
pub const CLOCK_PROCESS_CPUTIME_ID: u32 = 2;

/// `struct timespec` (i386: two longs).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[repr(C)]
pub struct Timespec {
    pub sec: i32,
    pub nsec: i32,
}

impl Timespec {
    pub fn from_ns(ns: u64) -> Timespec {
        Timespec { sec: (ns / 1_000_000_000) as i32, nsec: (ns % 1_000_000_000) as i32 }
    }
    /// The time in nanoseconds (for times after 1970).
    pub fn as_ns(self) -> u64 {
        self.sec as u64 * 1_000_000_000 + self.nsec as u64
    }
}

pub fn clock_gettime(clock: u32) -> Result<Timespec> {
    let mut ts = Timespec::default();
    // SAFETY: the kernel writes one struct timespec into ts.
    check(unsafe { syscall2(nr::CLOCK_GETTIME, clock, &raw mut ts as u32) }).map(|_| ts)
}

pub fn clock_getres(clock: u32) -> Result<Timespec> {
    let mut ts = Timespec::default();
    // SAFETY: the kernel writes one struct timespec into ts.
    check(unsafe { syscall2(nr::CLOCK_GETRES, clock, &raw mut ts as u32) }).map(|_| ts)
}

/// `CLOCK_MONOTONIC` in nanoseconds.
pub fn now_ns() -> u64 {
    clock_gettime(CLOCK_MONOTONIC).map(Timespec::as_ns).unwrap_or(0)
}

/// `gettimeofday`: (seconds, microseconds) since 1970.
pub fn gettimeofday() -> Result<(i32, i32)> {
    let mut tv = [0i32; 2];
    // SAFETY: the kernel writes one struct timeval into tv; no timezone.
    check(unsafe { syscall2(nr::GETTIMEOFDAY, tv.as_mut_ptr() as u32, 0) }).map(|_| (tv[0], tv[1]))
}

/// Sleep for `ns` nanoseconds: `Ok` when slept, `Err((EINTR, time left))` if a signal
/// handler cut it short.
pub fn nanosleep(ns: u64) -> core::result::Result<(), (Errno, Timespec)> {
    let req = Timespec::from_ns(ns);
    let mut rem = Timespec::default();
    // SAFETY: the kernel reads req and may write rem, each a struct timespec.
    check(unsafe { syscall2(nr::NANOSLEEP, &raw const req as u32, &raw mut rem as u32) })
        .map(drop)
        .map_err(|e| (e, rem))
}

pub const TIMER_ABSTIME: u32 = 1;

/// `clock_nanosleep(clock, flags, ns)`: with `TIMER_ABSTIME`, sleep until `clock`
/// reads `ns`; without, for `ns`.
pub fn clock_nanosleep(clock: u32, flags: u32, ns: u64) -> Result<()> {
    let req = Timespec::from_ns(ns);
    // SAFETY: the kernel reads req; no remainder asked for.
    check(unsafe { syscall6(nr::CLOCK_NANOSLEEP, clock, flags, &raw const req as u32, 0, 0, 0) }).map(drop)
}

/// `time`: seconds since 1970.
pub fn time() -> i32 {
    // SAFETY: with a NULL pointer the kernel writes nothing.
    unsafe { syscall1(nr::TIME, 0) as i32 }
}

/// Sleep for a `Timespec` as given, unnormalised (for testing what the kernel refuses).
pub fn nanosleep_raw(req: Timespec) -> Result<()> {
    // SAFETY: the kernel reads req; no remainder asked for.
    check(unsafe { syscall2(nr::NANOSLEEP, &raw const req as u32, 0) }).map(drop)
}

/// What `times` reports: this process's and its waited-for children's CPU time, in
/// clock ticks (`USER_HZ`, 100 a second on i386), and the ticks since an arbitrary
/// moment.
#[derive(Clone, Copy, Default, Debug)]
pub struct Tms {
    pub utime: u32,
    pub stime: u32,
    pub cutime: u32,
    pub cstime: u32,
    pub elapsed: u32,
}

pub fn times() -> Result<Tms> {
    let mut t = [0u32; 4];
    // SAFETY: the kernel writes one struct tms (4 longs) into t. Its result is a tick
    // count that may look like an error near wraparound; 2.6.23 returns it as is.
    let ret = unsafe { syscall1(nr::TIMES, t.as_mut_ptr() as u32) };
    if ret == Errno::EFAULT.0.wrapping_neg() {
        return Err(Errno::EFAULT);
    }
    Ok(Tms { utime: t[0], stime: t[1], cutime: t[2], cstime: t[3], elapsed: ret })
}
