//! Panics: the kit's panic handler CRASHes with the message and where it came from.
#![no_std]
#![no_main]

use guest::{BootInfo, println};

guest::entry!(kmain);

fn kmain(_boot: &'static BootInfo) -> ! {
    println!("panic: about to panic");
    let answer = 41;
    panic!("the answer was {answer}, not 42");
}
