//! What `run` hands back to the Host: the first event the Host must see.

use crate::regs::vector;
use std::fmt;

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
    /// trap frame needs it. Whether the gate's DPL allows this is the Host's business.
    SoftInt { vector: u8 },
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
            Exit::SoftInt { vector } => write!(f, "int {vector:#x}"),
            Exit::Exception(e) => write!(f, "{e}"),
            Exit::Halt => f.write_str("hlt"),
            Exit::BudgetExhausted => f.write_str("budget exhausted"),
            Exit::BadPhysical { addr } => write!(f, "access to guest-physical {addr:#x} outside RAM"),
        }
    }
}

/// How an instruction handler stops the straight-line execution of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
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

pub(crate) type Res<T = ()> = Result<T, Stop>;

#[inline]
pub(crate) const fn gp(code: u32) -> Stop {
    Stop::Fault(Exit::fault_code(vector::GP, code))
}

#[inline]
pub(crate) const fn gp0() -> Stop {
    gp(0)
}

#[inline]
pub(crate) const fn ud() -> Stop {
    Stop::Fault(Exit::fault(vector::UD))
}

#[inline]
pub(crate) const fn fault(v: u8) -> Stop {
    Stop::Fault(Exit::fault(v))
}

#[inline]
pub(crate) const fn fault_code(v: u8, code: u32) -> Stop {
    Stop::Fault(Exit::fault_code(v, code))
}
