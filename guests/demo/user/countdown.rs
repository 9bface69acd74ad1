//! countdown: counts down with a sleep between lines, so it is off the CPU most of the
//! time and the kernel wakes it with the clock.
#![no_std]
#![no_main]

use ulib::println;

ulib::entry!(main);

const FROM: u32 = 5;
const PAUSE_MS: u32 = 30;

fn main() -> u32 {
    println!("countdown: pid {}, counting down from {FROM}, sleeping {PAUSE_MS} ms a step", ulib::getpid());
    for i in (1..=FROM).rev() {
        println!("countdown: {i}");
        ulib::sleep(PAUSE_MS);
    }
    println!("countdown: liftoff");
    0
}
