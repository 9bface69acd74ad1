//! Time: the time-stamp counter as a monotonic clock, and the Host's one-shot timer.
//!
//! The TSC ticks at `lguest_data.tsc_khz` kHz (set by the Host at LGUEST_INIT), so it is
//! the Guest's clocksource. `LHCALL_SET_CLOCKEVENT` is its clockevent device: one timer,
//! one-shot, raising IRQ 0 ([`CLOCK_IRQ`]) after the given number of nanoseconds (at
//! least [`abi::LG_CLOCK_MIN_DELTA`]); arming it again replaces the old deadline, and 0
//! cancels it. The interrupt goes to vector 32 like any IRQ: register a handler for it
//! with [`crate::traps::set_handler`].

use crate::hcall::{hcall, rdtsc};
use crate::lguest_data;
use abi::{FIRST_EXTERNAL_VECTOR, Hcall};

/// The clock's IRQ line.
pub const CLOCK_IRQ: u32 = 0;

/// The vector the clock interrupt arrives at.
pub const CLOCK_VECTOR: u8 = FIRST_EXTERNAL_VECTOR;

/// Nanoseconds since some fixed point in the past (the TSC, scaled by tsc_khz).
pub fn now_ns() -> u64 {
    tsc_to_ns(rdtsc())
}

/// Convert TSC ticks to nanoseconds, without overflowing for any u64 tick count that
/// fits in a u64 of nanoseconds.
pub fn tsc_to_ns(ticks: u64) -> u64 {
    let khz = u64::from(lguest_data::tsc_khz().max(1));
    // ticks / khz milliseconds, and the remainder in ns.
    (ticks / khz) * 1_000_000 + (ticks % khz) * 1_000_000 / khz
}

/// `LHCALL_SET_CLOCKEVENT`: raise IRQ 0 in `delta_ns` nanoseconds (0 cancels).
pub fn set_clockevent(delta_ns: u32) {
    // SAFETY: the call only arms the Host's timer.
    unsafe { hcall(Hcall::SetClockevent, delta_ns, 0, 0) };
}

/// Cancel the clock event, if one is armed.
pub fn cancel_clockevent() {
    set_clockevent(0);
}

/// Busy-wait until [`now_ns`] reaches `deadline`.
pub fn spin_until(deadline: u64) {
    while now_ns() < deadline {
        core::hint::spin_loop();
    }
}
