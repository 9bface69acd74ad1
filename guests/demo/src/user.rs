//! The user programs, embedded: `build.rs` compiles `user/*.rs` into ELF executables
//! linked at user addresses, and the kernel loads one into each new task (`elf.rs`).

/// One user program: a name for the console and a static 32-bit x86 ELF executable.
pub struct Program {
    pub name: &'static str,
    pub elf: &'static [u8],
}

macro_rules! program {
    ($name:literal) => {
        Program { name: $name, elf: include_bytes!(concat!(env!("OUT_DIR"), "/", $name)) }
    };
}

/// What the demo runs, in pid order.
pub static PROGRAMS: &[Program] =
    &[program!("primes"), program!("collatz"), program!("faulty"), program!("countdown")];

/// The console shell, started after the others when the command line says `shell`.
pub static SHELL: Program = program!("shell");
