//! Direct traps: software interrupts the CPU delivers itself, without returning to the
//! Host.
//!
//! The rule of this CPU is that it never delivers through an IDT: `int n` ends `run` with
//! [`Exit::SoftInt`](crate::Exit::SoftInt) and the Host pushes the trap frame. That costs a
//! round trip through the Host for every system call, which is why lguest had *direct
//! traps* (2.6.23's `direct_trap` and `copy_traps`): the Host copied a few of the Guest's
//! trap gates into the real IDT, so that the processor delivered them straight into the
//! Guest. This is the same bargain. The Host hands the CPU a small table of gates
//! ([`DirectGate`], set with [`crate::Vcpu::set_direct_gate`]) and what delivering
//! through them needs ([`DirectTraps`]: the handlers' code segment, the stack for traps
//! from an outer ring, where the paravirtual interrupt flag lives); an `int n` whose gate
//! is there and whose DPL the current privilege satisfies then pushes the frame and jumps,
//! as the Host would have. Anything else exits exactly as before: a gate that is not in
//! the table, a DPL violation (the Host raises #GP), a frame that would touch a page the
//! page tables (the Host's shadow tables, for lguest) do not map writable for the
//! supervisor. Exceptions are never delivered here: the Host sees every fault.
//!
//! The frame is what [`crate::Vcpu`]'s user, the Host, pushes for a trap gate: from the
//! handler's own ring, EFLAGS, CS and EIP on the current stack; from an outer ring, SS and
//! ESP first, on the given stack. The pushed EFLAGS carries IF from the paravirtual flag
//! rather than the CPU's own; TF, NT, RF and VM are cleared on entry; IF is left alone (a
//! trap gate).

use crate::regs::{SegReg, eflags};
use crate::segments::Segment;
use crate::state::State;

/// A gate through which `int n` is delivered without an exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectGate {
    /// The handler's EIP, on [`DirectTraps::cs`].
    pub offset: u32,
    /// The least privileged CPL allowed to reach it with `int n`.
    pub dpl: u8,
}

/// What delivering through a [`DirectGate`] needs besides the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectTraps {
    /// The code segment every handler runs on (its RPL becomes the CPL).
    pub cs: Segment,
    /// The stack an `int` from an outer ring (a CPL other than `cs`'s RPL) switches to:
    /// the stack segment and ESP. `None`: such an `int` exits.
    pub stack: Option<(Segment, u32)>,
    /// Guest-physical address of the 32-bit word whose IF bit (bit 9) the pushed EFLAGS
    /// carries instead of the CPU's own (a paravirtualized interrupt flag, lguest's
    /// `lguest_data.irq_enabled`). `None`: the pushed IF is clear.
    pub virtual_if: Option<u32>,
}

/// Vectors the Host may make direct, as in 2.6.23: the exceptions' vectors below 32 (for
/// `int n` to them) except those the Host must always see or never lets the Guest handle
/// (NMI, #NM, double fault, #GP, #PF, 15, the hypercall vector 0x1F), and the system
/// call vector 0x80.
pub const fn may_be_direct(vector: u8) -> bool {
    match vector {
        2 | 7 | 8 | 13 | 14 | 15 | 0x1F => false,
        0x80 => true,
        v => v < 32,
    }
}

/// Direct gates and their configuration, as the CPU keeps them.
#[derive(Clone)]
pub(crate) struct Direct {
    pub traps: Option<DirectTraps>,
    pub gates: Box<[Option<DirectGate>; 256]>,
}

impl Direct {
    pub fn new() -> Direct {
        Direct { traps: None, gates: Box::new([None; 256]) }
    }
}

impl State {
    /// `int vector` through a direct gate, if it has one that can be used now: push the
    /// frame, switch stack and code segment, and jump. `next` is the EIP after the `int`.
    /// Returns false, having changed nothing, if the Host must deliver it.
    pub(crate) fn deliver_direct(&mut self, vector: u8, next: u32) -> bool {
        let (Some(gate), Some(d)) = (self.direct.gates[vector as usize], self.direct.traps) else {
            return false;
        };
        if self.cpl > gate.dpl {
            return false;
        }
        let outer = self.cpl != d.cs.rpl();
        let old_ss = self.segs[SegReg::Ss as usize];
        let old_esp = self.regs[4];
        let (ss, esp) = match (outer, d.stack) {
            (false, _) => (old_ss, old_esp),
            (true, Some(stack)) => stack,
            (true, None) => return false,
        };
        let virtual_if = match d.virtual_if {
            Some(at) => match self.mem.read_u32(at) {
                Ok(v) => v & eflags::IF,
                Err(_) => return false,
            },
            None => 0,
        };
        let flags = self.eflags();
        // The frame from its lowest address up: EIP, CS, EFLAGS (then ESP, SS).
        let mut frame = [0u8; 20];
        let words = [
            next,
            self.segs[SegReg::Cs as usize].selector as u32,
            (flags & !eflags::IF) | virtual_if,
            old_esp,
            old_ss.selector as u32,
        ];
        let n = if outer { 5 } else { 3 };
        for (bytes, w) in frame.chunks_exact_mut(4).zip(&words[..n]) {
            bytes.copy_from_slice(&w.to_le_bytes());
        }
        let new_esp = esp.wrapping_sub(4 * n as u32);
        // Nothing is written unless every page translates; then the Host delivers it.
        if self.write_lin_supervisor(ss.base.wrapping_add(new_esp), &frame[..4 * n]).is_err() {
            return false;
        }
        if outer {
            self.segs[SegReg::Ss as usize] = ss;
        }
        self.regs[4] = new_esp;
        self.load_cs(d.cs);
        self.set_eflags(flags & !(eflags::TF | eflags::NT | eflags::RF | eflags::VM));
        self.eip = gate.offset;
        true
    }
}
