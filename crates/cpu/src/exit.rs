//! What `run` hands back to the Host: the first event the Host must see.

use crate::regs::vector;
use std::fmt;
use std::num::NonZeroU64;

/// A CPU exception, as the Host must deliver (or refuse to deliver) it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exception {
    pub vector: u8,
    /// The error code the hardware would push, for the vectors that have one.
    pub error_code: Option<u32>,
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", vector::name(self.vector))?;
        if vector::name(self.vector) == "exception" {
            write!(f, " {}", self.vector)?;
        }
        if let Some(code) = self.error_code {
            write!(f, "({code:#x})")?;
        }
        Ok(())
    }
}

/// Why [`crate::Cpu::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `int n`, `int3` or `into` (with OF set). EIP is already past the instruction, as a
    /// trap frame needs it; `len` is the instruction's length, so a Host that decides the
    /// gate's DPL forbids it can point a #GP at the instruction itself.
    SoftInt { vector: u8, len: u8 },
    /// A fault. EIP is at the faulting instruction (so it restarts after handling); for
    /// #PF, CR2 holds the faulting linear address.
    Exception(Exception),
    /// `hlt` at CPL 0. EIP is past it.
    Halt,
    /// The instruction budget ran out. EIP is at the next instruction.
    BudgetExhausted,
    /// An access (data, instruction fetch or page-table walk) reached a guest-physical
    /// address outside RAM. EIP is at the instruction; nothing was changed by it.
    BadPhysical { addr: u32 },
    /// An instruction stored to a page the Host is watching
    /// ([`crate::Vcpu::watch_stores`]). It completed; EIP is at the next instruction.
    WatchedStore,
}

impl Exit {
    pub(crate) const fn fault(vector: u8) -> Exit {
        Exit::Exception(Exception { vector, error_code: None })
    }

    pub(crate) const fn fault_code(vector: u8, code: u32) -> Exit {
        Exit::Exception(Exception { vector, error_code: Some(code) })
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::SoftInt { vector, .. } => write!(f, "int {vector:#x}"),
            Exit::Exception(e) => write!(f, "{e}"),
            Exit::Halt => f.write_str("hlt"),
            Exit::BudgetExhausted => f.write_str("budget exhausted"),
            Exit::BadPhysical { addr } => write!(f, "access to guest-physical {addr:#x} outside RAM"),
            Exit::WatchedStore => f.write_str("store to a watched page"),
        }
    }
}

/// How an instruction handler stops the straight-line execution of a block.
///
/// Every handler returns `Result<(), Stop>` and the run loop tests it after every
/// instruction, so `Stop` is packed into one non-zero machine word: the result then comes
/// back in a register instead of through memory. [`Stop::kind`] unpacks it (the paths that
/// act on a stop are cold).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stop(NonZeroU64);

/// The unpacked [`Stop`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopKind {
    /// A fault: EIP goes back to the instruction.
    Fault(Exit),
    /// A trap (`int`, `hlt`): EIP goes past the instruction.
    Trap(Exit),
    /// Run this instruction again (a long `rep` string operation yields here).
    Restart,
    /// The instruction completed but the rest of the block may no longer apply
    /// (it changed CS, CPL, paging or the code it was decoded from). EIP is set.
    EndBlock,
}

// Layout of the packed word: bits 0..4 the kind, 4..8 the exit's variant, 8..16 a vector,
// bit 16 "has an error code", 32..64 the error code or address.
const K_FAULT: u64 = 1;
const K_TRAP: u64 = 2;
const K_RESTART: u64 = 3;
const K_END_BLOCK: u64 = 4;
const X_SOFT_INT: u64 = 0;
const X_EXCEPTION: u64 = 1;
const X_HALT: u64 = 2;
const X_BUDGET: u64 = 3;
const X_BAD_PHYSICAL: u64 = 4;
const HAS_CODE: u64 = 1 << 16;

impl Stop {
    pub const RESTART: Stop = Stop::pack(K_RESTART);
    pub const END_BLOCK: Stop = Stop::pack(K_END_BLOCK);

    const fn pack(v: u64) -> Stop {
        // The kind is never 0, so neither is the word.
        match NonZeroU64::new(v) {
            Some(n) => Stop(n),
            None => Stop(NonZeroU64::MIN),
        }
    }

    const fn with_exit(kind: u64, e: Exit) -> Stop {
        let bits = match e {
            // The length is filled in by the run loop, which knows the instruction.
            Exit::SoftInt { vector, .. } => X_SOFT_INT << 4 | (vector as u64) << 8,
            Exit::Exception(Exception { vector, error_code }) => {
                let code = match error_code {
                    Some(c) => HAS_CODE | (c as u64) << 32,
                    None => 0,
                };
                X_EXCEPTION << 4 | (vector as u64) << 8 | code
            }
            Exit::Halt => X_HALT << 4,
            Exit::BudgetExhausted | Exit::WatchedStore => X_BUDGET << 4,
            Exit::BadPhysical { addr } => X_BAD_PHYSICAL << 4 | (addr as u64) << 32,
        };
        Stop::pack(kind | bits)
    }

    /// A fault: the instruction did not happen and will be restarted.
    pub const fn fault(e: Exit) -> Stop {
        Stop::with_exit(K_FAULT, e)
    }

    /// A trap: the instruction completed.
    pub const fn trap(e: Exit) -> Stop {
        Stop::with_exit(K_TRAP, e)
    }

    pub const fn kind(self) -> StopKind {
        let v = self.0.get();
        let vector = (v >> 8) as u8;
        let payload = (v >> 32) as u32;
        let exit = match (v >> 4) & 0xF {
            X_SOFT_INT => Exit::SoftInt { vector, len: 0 },
            X_EXCEPTION => Exit::Exception(Exception {
                vector,
                error_code: if v & HAS_CODE != 0 { Some(payload) } else { None },
            }),
            X_HALT => Exit::Halt,
            X_BUDGET => Exit::BudgetExhausted,
            _ => Exit::BadPhysical { addr: payload },
        };
        match v & 0xF {
            K_FAULT => StopKind::Fault(exit),
            K_TRAP => StopKind::Trap(exit),
            K_RESTART => StopKind::Restart,
            _ => StopKind::EndBlock,
        }
    }

    /// The packed word, for translated code to carry (never 0).
    pub const fn bits(self) -> u64 {
        self.0.get()
    }

    /// The stop packed in `bits`, if not 0.
    pub const fn from_bits(bits: u64) -> Option<Stop> {
        match NonZeroU64::new(bits) {
            Some(n) => Some(Stop(n)),
            None => None,
        }
    }

    /// The exit a fault or trap carries.
    pub const fn exit(self) -> Option<Exit> {
        match self.kind() {
            StopKind::Fault(e) | StopKind::Trap(e) => Some(e),
            StopKind::Restart | StopKind::EndBlock => None,
        }
    }
}

impl fmt::Debug for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind().fmt(f)
    }
}

pub(crate) type Res<T = ()> = Result<T, Stop>;

#[inline]
pub(crate) const fn gp(code: u32) -> Stop {
    Stop::fault(Exit::fault_code(vector::GP, code))
}

#[inline]
pub(crate) const fn gp0() -> Stop {
    gp(0)
}

#[inline]
pub(crate) const fn ud() -> Stop {
    Stop::fault(Exit::fault(vector::UD))
}

#[inline]
pub(crate) const fn fault(v: u8) -> Stop {
    Stop::fault(Exit::fault(v))
}

#[inline]
pub(crate) const fn fault_code(v: u8, code: u32) -> Stop {
    Stop::fault(Exit::fault_code(v, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_unpacks_to_what_was_packed() {
        // (A SoftInt's length is not packed: the run loop fills it in from the op.)
        let exits = [
            Exit::SoftInt { vector: 0x80, len: 0 },
            Exit::fault(vector::UD),
            Exit::fault_code(vector::PF, 0xFFFF_FFFF),
            Exit::fault_code(vector::GP, 0),
            Exit::Halt,
            Exit::BudgetExhausted,
            Exit::BadPhysical { addr: 0xDEAD_BEEF },
        ];
        for e in exits {
            assert_eq!(Stop::fault(e).kind(), StopKind::Fault(e));
            assert_eq!(Stop::trap(e).kind(), StopKind::Trap(e));
        }
        assert_eq!(Stop::RESTART.kind(), StopKind::Restart);
        assert_eq!(Stop::END_BLOCK.kind(), StopKind::EndBlock);
        assert_eq!(std::mem::size_of::<Res>(), 8);
    }
}
