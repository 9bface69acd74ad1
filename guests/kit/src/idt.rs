//! The Guest's interrupt descriptor table, which lives in the Host: one
//! `LHCALL_LOAD_IDT_ENTRY` per vector.
//!
//! A Guest cannot `lidt`; it hands the Host the two words of each gate instead, and the
//! Host reflects traps and interrupts to the gate's offset. Only interrupt gates (type
//! 0xE, which turn interrupts off on entry) and trap gates (0xF, which leave them) are
//! accepted; anything else is Sudden Death. The Host ignores the gate's selector — the
//! handler always runs on the kernel code segment — and ignores entries for vectors 2, 8,
//! 15 and 0x1F (NMI, double fault, spurious, and its own hypercall vector). The gate's DPL
//! decides who may reach it with an `int` instruction: DPL 3 lets user mode make system
//! calls; exceptions and interrupts ignore it.
//!
//! Most kernels want [`crate::traps::set_handler`], which points gates at the kit's entry
//! stubs; this module is the raw interface underneath.

use crate::hcall::hcall;
use abi::Hcall;
use abi::segments::LGUEST_KERNEL_CS;

/// What a gate does to interrupts on entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum GateType {
    /// Type 0xE: `lguest_data.irq_enabled` is cleared on entry (for IRQs, and for
    /// handlers that must not be interrupted).
    Interrupt = 0xE,
    /// Type 0xF: interrupts stay as they were (for exceptions and system calls).
    Trap = 0xF,
}

/// A gate's type and privilege.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    pub kind: GateType,
    /// The least privileged ring that may `int` to it: 1 for the kernel, 3 for user mode.
    pub dpl: u8,
}

impl Gate {
    /// An interrupt gate the kernel (ring 1) may also reach with `int`.
    pub const INTERRUPT: Gate = Gate { kind: GateType::Interrupt, dpl: 1 };
    /// A trap gate the kernel (ring 1) may also reach with `int`.
    pub const TRAP: Gate = Gate { kind: GateType::Trap, dpl: 1 };
    /// A system-call gate: a trap gate user mode (ring 3) may `int` to, as Linux's
    /// `int $0x80` was.
    pub const SYSCALL: Gate = Gate { kind: GateType::Trap, dpl: 3 };
}

/// The vector Linux used for system calls.
pub const SYSCALL_VECTOR: u8 = 0x80;

/// The low and high words of a present gate to `offset`, as the CPU lays them out.
pub const fn gate_words(offset: u32, gate: Gate) -> (u32, u32) {
    let lo = ((LGUEST_KERNEL_CS as u32) << 16) | (offset & 0xFFFF);
    let hi = (offset & 0xFFFF_0000) | 0x8000 | ((gate.dpl as u32 & 3) << 13) | ((gate.kind as u32) << 8);
    (lo, hi)
}

/// `LHCALL_LOAD_IDT_ENTRY` with the raw words of a gate (a not-present one, `hi` bit 15
/// clear, removes the vector's gate).
///
/// # Safety
/// From now on a trap or interrupt at `vector` runs the code the gate names, which must
/// be an entry point that can take a trap frame (such as the kit's stubs).
pub unsafe fn load_idt_entry(vector: u8, lo: u32, hi: u32) {
    // SAFETY: the Host copies the gate; what it points to is the caller's promise.
    unsafe { hcall(Hcall::LoadIdtEntry, u32::from(vector), lo, hi) };
}

/// Point `vector` at `offset` through a gate of the given kind.
///
/// # Safety
/// As for [`load_idt_entry`].
pub unsafe fn set_gate(vector: u8, offset: u32, gate: Gate) {
    let (lo, hi) = gate_words(offset, gate);
    // SAFETY: the caller's promise.
    unsafe { load_idt_entry(vector, lo, hi) };
}

/// Remove the gate for `vector`: a trap there is then Sudden Death, an `int` to it #NP.
pub fn clear_gate(vector: u8) {
    // SAFETY: a not-present gate makes nothing run.
    unsafe { load_idt_entry(vector, 0, 0) };
}
