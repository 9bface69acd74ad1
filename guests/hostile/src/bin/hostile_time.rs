//! hostile_time: ways to starve the Host of time — timer storms, spinning with interrupts
//! off, HALT with nothing that could wake it. The Launcher must stay responsive (a signal
//! still stops it at once), use no more than the one core it runs on, and keep the Guest
//! running; a HALT that could never end is Sudden Death instead of a hang.
//!
//! Variants (the first three never end; they print progress until the Launcher is
//! stopped):
//! - `timer_zero_loop`: SET_CLOCKEVENT(0) (cancel) in a tight loop;
//! - `timer_min_loop`: SET_CLOCKEVENT(100 ns) in a tight loop, and again from the clock
//!   handler on every tick: an interrupt storm the Guest must survive and count;
//! - `spin_irqs_off`: interrupts off, a clock interrupt pending, and a spin loop;
//! - `halt_irqs_off`: interrupts off, no timer, HALT (Sudden Death: nothing can wake it);
//! - `halt_clock_blocked`: the clock IRQ blocked, a timer armed, HALT: the timer fires but
//!   can never be delivered (Sudden Death once it has).
#![no_std]
#![no_main]

use conform::say;
use core::sync::atomic::{AtomicU32, Ordering};
use guest::clock::{self, CLOCK_IRQ, CLOCK_VECTOR};
use guest::idt::Gate;
use guest::{BootInfo, irq, traps};

guest::entry!(kmain);

fn kmain(_boot: &'static BootInfo) -> ! {
    conform::run(
        "hostile_time",
        "timer_zero_loop",
        &[
            ("timer_zero_loop", timer_zero_loop),
            ("timer_min_loop", timer_min_loop),
            ("spin_irqs_off", spin_irqs_off),
            ("halt_irqs_off", halt_irqs_off),
            ("halt_clock_blocked", halt_clock_blocked),
        ],
    )
}

fn timer_zero_loop() {
    say!("SET_CLOCKEVENT(0) in a loop");
    let mut calls: u32 = 0;
    loop {
        clock::set_clockevent(0);
        calls = calls.wrapping_add(1);
        if calls.is_multiple_of(100_000) {
            say!("{calls} calls");
        }
    }
}

static TICKS: AtomicU32 = AtomicU32::new(0);

fn timer_min_loop() {
    traps::set_handler(CLOCK_VECTOR, Gate::INTERRUPT, |_| {
        TICKS.fetch_add(1, Ordering::Relaxed);
        clock::set_clockevent(100);
    });
    irq::enable();
    say!("SET_CLOCKEVENT(100) in a loop and from every tick");
    let mut calls: u32 = 0;
    loop {
        clock::set_clockevent(100);
        calls = calls.wrapping_add(1);
        if calls.is_multiple_of(20_000) {
            say!("{calls} calls, {} ticks", TICKS.load(Ordering::Relaxed));
        }
    }
}

fn spin_irqs_off() {
    irq::disable();
    clock::set_clockevent(1_000_000);
    say!("spinning with interrupts off and the clock due in 1 ms");
    loop {
        core::hint::spin_loop();
    }
}

fn halt_irqs_off() {
    irq::disable();
    say!("HALT with interrupts off and no timer");
    guest::halt();
    conform::fail(format_args!("HALT returned with nothing to wake it"));
}

fn halt_clock_blocked() {
    irq::block(CLOCK_IRQ);
    traps::set_handler(CLOCK_VECTOR, Gate::INTERRUPT, |_| {
        conform::fail(format_args!("a blocked clock interrupt was delivered"));
    });
    irq::enable();
    clock::set_clockevent(1_000_000);
    say!("HALT with the clock IRQ blocked and a timer due in 1 ms");
    guest::halt();
    conform::fail(format_args!("HALT returned though its only interrupt is blocked"));
}
