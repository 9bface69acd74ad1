//! primes: counts the primes below a limit by trial division, reporting as it goes. It
//! never yields: only the clock takes the CPU away from it. Its table of primes lives on
//! the stack, which the kernel maps page by page as it is first touched.
#![no_std]
#![no_main]

use ulib::println;

ulib::entry!(main);

const LIMIT: u32 = 60_000;
const REPORT_EVERY: u32 = 12_000;

fn main() -> u32 {
    println!("primes: pid {}, counting the primes below {LIMIT}; I never yield", ulib::getpid());
    // 8 KiB of stack: the kernel maps its pages when they are first touched.
    let mut primes = [0u32; 2048];
    let mut count = 0;
    for n in 2..LIMIT {
        if is_prime(n, &primes[..count.min(primes.len())]) {
            if count < primes.len() {
                primes[count] = n;
            }
            count += 1;
        }
        if n % REPORT_EVERY == 0 {
            println!("primes: {count} primes below {n}");
        }
    }
    println!("primes: done, {count} primes below {LIMIT}");
    0
}

/// Whether `n` is prime, given all the primes below it up to its square root.
fn is_prime(n: u32, primes: &[u32]) -> bool {
    for &p in primes {
        if p * p > n {
            break;
        }
        if n % p == 0 {
            return false;
        }
    }
    true
}
