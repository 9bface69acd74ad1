#![no_std]
#![no_main]
linux::entry!(main);
fn main() -> i32 { 0 }
