//! conform_clock: LHCALL_SET_CLOCKEVENT is a one-shot timer raising IRQ 0, and HALT
//! sleeps until it fires. The Guest times it with the TSC (tsc_khz from lguest_data): the
//! interrupt must never come before the asked delay, and must come soon after it: within
//! 200 ms, a bound that only a clock that does not work at all breaks, since a shared
//! machine may deschedule the Launcher for several milliseconds (each lateness is printed;
//! on an idle machine it is tens of microseconds, and `scripts/bench.sh` measures it). Arming again replaces the deadline, 0
//! cancels it, and deltas under 100 ns are raised to 100 ns.
//!
//! Variants: `timer` (busy-waiting), `timer_halt` (HALTing), `cancel`, `rearm`,
//! `min_delta`, `halt` (sleeps 5 x 100 ms: the test measures the Launcher's CPU time).
#![no_std]
#![no_main]

use conform::{check, ok};
use guest::abi::LG_CLOCK_MIN_DELTA;
use guest::clock::{self, CLOCK_VECTOR, now_ns};
use guest::idt::Gate;
use guest::traps::{self, TrapFrame};
use guest::{BootInfo, Global, flush_async, halt, irq, println};

guest::entry!(kmain);

/// Latest acceptable lateness: far beyond any real latency, within any scheduling hiccup.
const MAX_LATE_NS: u64 = 200_000_000;
/// Give up waiting for an interrupt after this long.
const TIMEOUT_NS: u64 = 1_000_000_000;

/// When the clock interrupt last came (TSC ns), and how many have come.
static FIRED: Global<(u64, u32)> = Global::new((0, 0));

fn on_clock(_frame: &mut TrapFrame) {
    let now = now_ns();
    // SAFETY: only this handler writes, with interrupts off (interrupt gate); the main
    // code reads with interrupts off.
    unsafe {
        let f = &mut *FIRED.get();
        *f = (now, f.1 + 1);
    }
}

fn fired() -> (u64, u32) {
    // SAFETY: see on_clock.
    irq::without_interrupts(|| unsafe { *FIRED.get() })
}

fn kmain(_boot: &'static BootInfo) -> ! {
    traps::set_handler(CLOCK_VECTOR, Gate::INTERRUPT, on_clock);
    irq::enable();
    conform::run(
        "conform_clock",
        "timer",
        &[
            ("timer", timer),
            ("timer_halt", timer_halt),
            ("cancel", cancel),
            ("rearm", rearm),
            ("min_delta", min_delta),
            ("halt", halt_sleeps),
        ],
    )
}

/// Wait for the interrupt count to pass `count`, halting or spinning.
fn wait_for(count: u32, halting: bool) -> u64 {
    let give_up = now_ns() + TIMEOUT_NS;
    loop {
        let (at, n) = fired();
        if n > count {
            return at;
        }
        check!(now_ns() < give_up, "no clock interrupt within {} ms", TIMEOUT_NS / 1_000_000);
        if halting {
            halt();
        } else {
            core::hint::spin_loop();
        }
    }
}

/// Arm the clock for `delta` ns and return how late (ns) the interrupt came.
fn lateness(delta: u32, halting: bool) -> u64 {
    let count = fired().1;
    let start = now_ns();
    clock::set_clockevent(delta);
    let at = wait_for(count, halting);
    let elapsed = at - start;
    check!(
        elapsed >= u64::from(delta),
        "the clock fired after {elapsed} ns, before the {delta} ns asked (early by {} ns)",
        u64::from(delta) - elapsed
    );
    elapsed - u64::from(delta)
}

fn delays(halting: bool) {
    let mut worst = 0;
    for delta in [100_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000, 20_000_000] {
        let late = lateness(delta, halting);
        println!("conform: {}: {delta} ns asked, {late} ns late", conform::name());
        check!(late < MAX_LATE_NS, "the clock fired {late} ns after the {delta} ns asked");
        worst = worst.max(late);
    }
    ok!("never early, at worst {worst} ns late");
}

fn timer() {
    delays(false);
}

fn timer_halt() {
    delays(true);
}

fn cancel() {
    let count = fired().1;
    clock::set_clockevent(1_000_000);
    clock::cancel_clockevent();
    let end = now_ns() + 5_000_000;
    while now_ns() < end {
        flush_async();
    }
    check!(fired().1 == count, "the clock fired after SET_CLOCKEVENT 0");
    let late = lateness(1_000_000, false);
    ok!("SET_CLOCKEVENT 0 cancelled a 1 ms event (nothing in 5 ms); arming again works ({late} ns late)");
}

fn rearm() {
    let count = fired().1;
    let start = now_ns();
    clock::set_clockevent(50_000_000);
    clock::set_clockevent(1_000_000);
    let at = wait_for(count, false);
    check!(at - start < 50_000_000, "the first deadline was kept ({} ns)", at - start);
    let end = start + 70_000_000;
    while now_ns() < end {
        flush_async();
    }
    check!(fired().1 == count + 1, "the replaced 50 ms deadline fired as well");
    ok!("arming again replaces the deadline: one interrupt, after {} ns", at - start);
}

fn min_delta() {
    let start = now_ns();
    let count = fired().1;
    clock::set_clockevent(1);
    let at = wait_for(count, false);
    check!(
        at - start >= u64::from(LG_CLOCK_MIN_DELTA),
        "a 1 ns event fired after {} ns, before the 100 ns minimum",
        at - start
    );
    ok!("a 1 ns event fires, after {} ns", at - start);
}

fn halt_sleeps() {
    let start = now_ns();
    for _ in 0..5 {
        lateness(100_000_000, true);
    }
    ok!("slept 5 x 100 ms in HALT, {} ms in all", (now_ns() - start) / 1_000_000);
}
