//! collatz: finds the start below a limit with the longest Collatz chain (n → n/2 or
//! 3n+1 until 1), reporting as it goes. Like `primes` it never yields, so the two only
//! take turns because the clock preempts them.
#![no_std]
#![no_main]

use ulib::println;

ulib::entry!(main);

const LIMIT: u32 = 8_000;
const REPORT_EVERY: u32 = 2_000;

fn main() -> u32 {
    println!("collatz: pid {}, looking for the longest chain below {LIMIT}; I never yield", ulib::getpid());
    let (mut best, mut best_len) = (1, 1);
    for start in 1..LIMIT {
        let len = chain_len(start);
        if len > best_len {
            (best, best_len) = (start, len);
        }
        if start % REPORT_EVERY == 0 {
            println!("collatz: below {start} the longest chain starts at {best} ({best_len} steps)");
        }
    }
    println!("collatz: done, {best} has the longest chain below {LIMIT} ({best_len} steps)");
    0
}

/// Steps from `start` to 1 (the values outgrow 32 bits for some starts).
fn chain_len(start: u32) -> u32 {
    let mut n = u64::from(start);
    let mut steps = 1;
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}
