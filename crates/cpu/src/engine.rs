//! Which engine runs the Guest's instructions, and the translator's face on hosts that
//! have none.

use std::fmt;
use std::str::FromStr;

/// An engine for [`crate::Cpu`]: all three give the same architectural results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    /// The decoded-block interpreter: the reference.
    Interp,
    /// Hot blocks translated to x86-64 machine code (`jit/`), the rest interpreted.
    /// On hosts the translator does not support (not x86-64 Linux, or no executable
    /// memory allowed), the interpreter runs instead.
    Jit,
    /// Both, in lockstep on copies of the one Guest, compared at every exit (and every
    /// few thousand instructions in between): the CPU panics at the first difference,
    /// printing both states. For finding translator bugs; several times slower than
    /// the interpreter.
    Check,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::Interp, Engine::Jit, Engine::Check];

    pub const fn name(self) -> &'static str {
        match self {
            Engine::Interp => "interp",
            Engine::Jit => "jit",
            Engine::Check => "check",
        }
    }

    /// Whether this host can translate (the `jit` engine is not just the interpreter).
    pub fn translator_available() -> bool {
        Translator::new().is_some()
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An engine name that is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown CPU engine {0:?} (expected interp, jit or check)")]
pub struct UnknownEngine(pub String);

impl FromStr for Engine {
    type Err = UnknownEngine;

    fn from_str(s: &str) -> Result<Engine, UnknownEngine> {
        Engine::ALL.into_iter().find(|e| e.name() == s).ok_or_else(|| UnknownEngine(s.to_string()))
    }
}

/// What the translator has done, for benchmarks and the curious.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitStats {
    /// Blocks translated.
    pub blocks: u64,
    /// Guest instructions in them, and how many of those became native code (the rest
    /// call their interpreter handlers).
    pub insns: u64,
    pub native_insns: u64,
    /// Bytes of machine code generated (since the start, flushes included).
    pub code_bytes: u64,
    /// Time spent translating, in nanoseconds.
    pub compile_ns: u64,
    /// Times the code arena was flushed (full, or the block cache was dropped).
    pub flushes: u64,
    /// Bytes of the arena in use now, and its size.
    pub arena_used: u64,
    pub arena_size: u64,
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub(crate) use crate::jit::Jit as Translator;

/// The translator where there is none: never constructed.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
pub(crate) enum Translator {}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
impl Translator {
    pub(crate) fn new() -> Option<Translator> {
        None
    }

    pub(crate) fn set_threshold(&mut self, _: u32) {
        match *self {}
    }

    pub(crate) fn stats(&self) -> JitStats {
        match *self {}
    }

    pub(crate) fn flush(&mut self, _: &mut crate::exec::CodeCache) {
        match *self {}
    }

    pub(crate) fn run(
        &mut self,
        _: &mut crate::state::State,
        _: &mut crate::exec::CodeCache,
        _: u64,
    ) -> crate::Exit {
        match *self {}
    }
}
