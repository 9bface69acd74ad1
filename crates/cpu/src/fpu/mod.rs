//! The x87 floating-point unit: its state, and the rules every x87 instruction shares.
//!
//! The instructions live by family, as the integer ones do in `ops/`: `load_store.rs`
//! (moves and format conversions, the stack), `arith.rs` (the basic arithmetic, FPREM,
//! FRNDINT, FSCALE, FXTRACT), `compare.rs` (FCOM and friends, FTST, FXAM), `control.rs`
//! (control and status words, FINIT/FCLEX, the environment and the whole state: FSTENV,
//! FSAVE, FXSAVE and their loads), `transcendental.rs` (FSIN to FYL2XP1, and the
//! constants). `value.rs` is the 80-bit format, `float.rs` the arithmetic core (exact
//! results and their one rounding, on rustc_apfloat), `decode.rs` maps iced-x86's x87
//! instructions onto the handlers. Every handler is an ordinary [`crate::ops::Handler`].
//!
//! What every x87 instruction does first ([`State::fpu_begin`]): with CR0.EM or CR0.TS set
//! it raises #NM (the Host's lazy FPU switching rests on this); then, unless it is one of
//! the non-waiting control instructions (FNINIT, FNCLEX, FNSTCW, FNSTSW, FNSTENV, FNSAVE,
//! and FXSAVE/FXRSTOR), it raises #MF if an unmasked exception is pending — the exception
//! an earlier instruction signalled is reported at the next waiting one, as with CR0.NE
//! set (this CPU has no FERR# line and behaves so whatever CR0.NE says). Then the
//! non-control instructions record their address, opcode and memory operand (FIP, FCS,
//! FOP, FDP, FDS) for the environment image.
//!
//! The state is kept the way the images need it: eight physical registers with TOP, the
//! control word, the status word's flags and condition codes, and one "empty" bit per
//! register (the full tag word is computed from the registers when it is stored, as the
//! processor since the Pentium Pro does). ES and B are not stored either: they are set
//! exactly when an exception flag is set whose mask is clear, so FLDCW, FLDENV and FNSTENV
//! (which masks everything) move them, as on the processor.
//!
//! ## What is exact
//!
//! Everything but the transcendentals gives the bits the processor gives: every result of
//! the basic arithmetic (FADD, FSUB(R), FMUL, FDIV(R), FSQRT, FPREM(1), FRNDINT, FSCALE,
//! FXTRACT) is rounded once from the exact value, to the precision and in the rounding
//! mode the control word says (`float.rs`); loads, stores and conversions of every format
//! (`float`, `double`, 80-bit, 16/32/64-bit integers, packed BCD) likewise; and the
//! exception flags, C0-C3, TOP, tags, and the 80-bit register images come out as the
//! processor's, for every kind of operand: denormals, pseudo-denormals, unnormals,
//! pseudo-NaNs and pseudo-infinities, NaN payloads, stack underflow and overflow, masked
//! and unmasked exceptions. Where the SDM leaves a choice, this CPU does what the host
//! (an AMD EPYC) does; `tests/x87.rs` checks all this on 124,500 generated cases over all
//! 140 x87 encodings of the i686 but the transcendentals, with no mismatch.
//!
//! The transcendentals (`transcendental.rs`) are not all exact. The processor is not
//! correctly rounded: it evaluates fixed polynomials in a 68-bit internal arithmetic, so
//! its results are off by up to about 2^-68 (relative), and a result whose true value lies
//! that close to a rounding boundary may come out either way. FSIN, FCOS, FSINCOS, FYL2X,
//! FYL2XP1 and FPATAN (for quotients up to 1/2) are computed as the processor computes
//! them (its formulas and polynomials, recovered from its measured internal values and
//! errors, evaluated in the same 68-bit arithmetic) and match it on all but 0-0.1% of
//! ordinary operands; FPTAN and F2XM1 (and FPATAN above 1/2) are correctly rounded, and
//! 3-5% of their results differ from the processor's by one unit in the last place (and
//! C1 with them). `tests/x87.rs` measures, over 23,913 generated cases, 0.99% of results
//! one unit off: FPTAN 4.6%, F2XM1 2.9%, FPATAN 0.17%, FSIN 0.1%, FCOS 0.07%, FSINCOS
//! 0.07%, FYL2X and FYL2XP1 none (when all were correctly rounded: 2.27%). Of a list of 72
//! well-known computations (sin, cos, tan and sincos of 0.1 to 10^6, atan and its
//! quadrants, 2^x - 1, log2, ln and log10 of small numbers) all but three are exact: tan
//! ±1 and 2^1 - 1 (C1 only). Their special cases and flags match. The FLDxx constants are
//! exact (rounded as RC says).
//!
//! What differs because this CPU is an i686 and the host is not: FISTTP (SSE3) raises
//! #UD; FXSAVE/FXRSTOR handle the x87 part of the image only (no MXCSR, no XMM
//! registers); the last instruction's pointers and opcode are kept as an i686 keeps them
//! (AMD's FXSAVE stores them only while an exception is pending). Out of their domains,
//! where the result is undefined, F2XM1 (|x| > 1) matches the host, FYL2XP1 (x <= -1) may
//! not.

pub(crate) mod approx;
pub(crate) mod arith;
pub(crate) mod compare;
pub(crate) mod control;
pub(crate) mod decode;
pub(crate) mod float;
pub(crate) mod load_store;
pub(crate) mod transcendental;
pub(crate) mod value;

use crate::exit::{Res, fault};
use crate::ops::Op;
use crate::regs::{SegReg, cr, vector};
use crate::state::State;
use float::{Env, exc};
use value::F80;

/// Status-word bits beyond the exception flags.
pub(crate) mod sw {
    /// Stack fault: the invalid operation was a stack overflow or underflow.
    pub const SF: u16 = 1 << 6;
    /// Exception summary: an unmasked exception is pending.
    pub const ES: u16 = 1 << 7;
    pub const C0: u16 = 1 << 8;
    pub const C1: u16 = 1 << 9;
    pub const C2: u16 = 1 << 10;
    pub const TOP_SHIFT: u16 = 11;
    pub const TOP: u16 = 7 << TOP_SHIFT;
    pub const C3: u16 = 1 << 14;
    /// Busy: mirrors ES since the 387.
    pub const B: u16 = 1 << 15;
    /// The condition codes.
    pub const CC: u16 = C0 | C1 | C2 | C3;
    /// What is kept in `Fpu::sw` (the rest is derived).
    pub const STORED: u16 = 0x3F | SF | CC;
}

/// The control word after FNINIT: every exception masked, 64-bit precision, round to
/// nearest.
pub(crate) const CW_INIT: u16 = 0x037F;

/// The x87's architectural state.
#[derive(Clone, Debug)]
pub(crate) struct Fpu {
    /// The physical registers R0..R7; ST(i) is R((TOP + i) mod 8).
    pub regs: [F80; 8],
    pub top: u8,
    /// Bit n: Rn is empty.
    pub empty: u8,
    pub cw: u16,
    /// The status word's exception flags, SF and condition codes ([`sw::STORED`]).
    pub sw: u16,
    /// The last non-control instruction: its offset, code segment, and opcode (the low 3
    /// bits of its escape byte and its ModR/M byte)...
    pub fip: u32,
    pub fcs: u16,
    pub fop: u16,
    /// ... and its memory operand's offset and segment, if it had one.
    pub fdp: u32,
    pub fds: u16,
}

impl Fpu {
    /// The state at power-up, which FNINIT gives too except for the control word.
    pub fn new() -> Fpu {
        let mut f = Fpu {
            regs: [F80::ZERO; 8],
            top: 0,
            empty: 0xFF,
            cw: 0,
            sw: 0,
            fip: 0,
            fcs: 0,
            fop: 0,
            fdp: 0,
            fds: 0,
        };
        f.init();
        f
    }

    /// FNINIT: the registers keep their contents but are all empty.
    pub fn init(&mut self) {
        self.cw = CW_INIT;
        self.sw = 0;
        self.top = 0;
        self.empty = 0xFF;
        self.fip = 0;
        self.fcs = 0;
        self.fop = 0;
        self.fdp = 0;
        self.fds = 0;
    }

    /// Is an unmasked exception flagged (ES)?
    #[inline(always)]
    pub fn pending(&self) -> bool {
        self.sw & !self.cw & 0x3F != 0
    }

    /// The whole status word.
    pub fn status(&self) -> u16 {
        let es = if self.pending() { sw::ES | sw::B } else { 0 };
        (self.sw & sw::STORED) | (self.top as u16) << sw::TOP_SHIFT | es
    }

    /// Load the status word (FLDENV, FRSTOR): TOP with it; ES and B follow from the flags
    /// and the control word.
    pub fn set_status(&mut self, v: u16) {
        self.sw = v & sw::STORED;
        self.top = ((v & sw::TOP) >> sw::TOP_SHIFT) as u8;
    }

    /// The full tag word, computed from the registers.
    pub fn tag_word(&self) -> u16 {
        let mut tw = 0;
        for r in 0..8 {
            let t = if self.empty & (1 << r) != 0 { 3 } else { self.regs[r].tag() };
            tw |= t << (2 * r);
        }
        tw
    }

    /// Load a full tag word: only "empty" (11) or not is kept.
    pub fn set_tag_word(&mut self, tw: u16) {
        self.empty = 0;
        for r in 0..8 {
            if (tw >> (2 * r)) & 3 == 3 {
                self.empty |= 1 << r;
            }
        }
    }

    /// The abridged tag word of FXSAVE: bit n set when Rn is not empty.
    pub fn abridged_tags(&self) -> u8 {
        !self.empty
    }

    #[inline(always)]
    pub fn phys(&self, i: u8) -> usize {
        ((self.top + i) & 7) as usize
    }

    #[inline(always)]
    pub fn is_empty(&self, i: u8) -> bool {
        self.empty & (1 << self.phys(i)) != 0
    }

    /// ST(i), or `None` when it is empty.
    #[inline(always)]
    pub fn get(&self, i: u8) -> Option<F80> {
        if self.is_empty(i) { None } else { Some(self.regs[self.phys(i)]) }
    }

    /// ST(i) whether or not it is empty (FXAM and the images see stale contents).
    #[inline(always)]
    pub fn raw(&self, i: u8) -> F80 {
        self.regs[self.phys(i)]
    }

    /// Write ST(i) and mark it in use.
    #[inline(always)]
    pub fn set(&mut self, i: u8, v: F80) {
        let p = self.phys(i);
        self.regs[p] = v;
        self.empty &= !(1 << p);
    }

    #[inline(always)]
    pub fn free(&mut self, i: u8) {
        let p = self.phys(i);
        self.empty |= 1 << p;
    }

    /// Decrement TOP and write the new ST(0). (Callers check for overflow first.)
    #[inline(always)]
    pub fn push(&mut self, v: F80) {
        self.top = self.top.wrapping_sub(1) & 7;
        self.set(0, v);
    }

    /// Mark ST(0) empty and increment TOP.
    #[inline(always)]
    pub fn pop(&mut self) {
        self.free(0);
        self.top = (self.top + 1) & 7;
    }

    pub fn env(&self) -> Env {
        Env::from_cw(self.cw)
    }

    /// Is every exception in `e` masked?
    #[inline(always)]
    pub fn masked(&self, e: u16) -> bool {
        self.cw & e == e
    }

    #[inline(always)]
    pub fn set_c1(&mut self, c1: bool) {
        self.sw = (self.sw & !sw::C1) | if c1 { sw::C1 } else { 0 };
    }

    /// Set C3, C2, C1 and C0 at once (a bit for each, in the status word's positions).
    #[inline(always)]
    pub fn set_cc(&mut self, cc: u16) {
        self.sw = (self.sw & !sw::CC) | (cc & sw::CC);
    }

    /// Flag the exceptions `e`. Returns true when one of them is unmasked.
    #[inline(always)]
    pub fn signal(&mut self, e: u16) -> bool {
        self.sw |= e;
        e & !self.cw & 0x3F != 0
    }

    /// A stack underflow (an empty register read) or overflow (a push onto a full
    /// register): #IS, C1 telling which. Returns true when the invalid-operation exception
    /// is masked, i.e. the instruction goes on with the indefinite value.
    pub fn stack_fault(&mut self, overflow: bool) -> bool {
        self.sw |= exc::IE | sw::SF;
        self.set_c1(overflow);
        self.masked(exc::IE)
    }

    /// Flag `e`; if one of the exceptions that stop an instruction (#I, #D, #Z) is
    /// unmasked, clear C1 and return true: the instruction must store nothing.
    pub fn stops(&mut self, e: u16) -> bool {
        if self.signal(e) && e & !self.cw & (exc::IE | exc::DE | exc::ZE) != 0 {
            self.set_c1(false);
            return true;
        }
        false
    }

    /// Store an operation's result in ST(i) (and pop if asked), unless one of its
    /// exceptions stops it: an unmasked #I, #D or #Z leaves the destination alone.
    pub fn deliver(&mut self, i: u8, o: Outcome, pop: bool) {
        if self.stops(o.exc) {
            return;
        }
        self.set_c1(o.c1);
        self.set(i, o.v);
        if pop {
            self.pop();
        }
    }
}

/// An operation's result before it is written: the value, the exceptions (all of them:
/// [`Fpu::deliver`] decides whether an unmasked one stops the write) and C1.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    pub v: F80,
    pub exc: u16,
    pub c1: bool,
}

impl Outcome {
    pub const fn exact(v: F80) -> Outcome {
        Outcome { v, exc: 0, c1: false }
    }

    pub const fn invalid() -> Outcome {
        Outcome { v: F80::INDEFINITE, exc: exc::IE, c1: false }
    }

    pub fn rounded(r: float::Rounded, extra: u16) -> Outcome {
        Outcome { v: r.v, exc: r.exc | extra, c1: r.c1 }
    }
}

/// How an instruction takes part in exception reporting.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A waiting non-control instruction: #MF if an exception is pending; records FIP.
    Arith,
    /// A waiting control instruction (FLDCW, FLDENV, FRSTOR, FNOP...): #MF, no FIP.
    Control,
    /// FNINIT, FNCLEX, FNSTCW, FNSTSW, FNSTENV, FNSAVE, FXSAVE, FXRSTOR: neither.
    NoWait,
}

impl State {
    /// What every x87 instruction does first (see the module docs). `mem`: it has a memory
    /// operand, whose address FDP/FDS record.
    #[inline(always)]
    pub(crate) fn fpu_begin(&mut self, op: &Op, kind: Kind, mem: bool) -> Res {
        if self.cr0 & (cr::CR0_EM | cr::CR0_TS) != 0 {
            return Err(fault(vector::NM));
        }
        if kind == Kind::NoWait {
            return Ok(());
        }
        if self.fpu.pending() {
            return Err(fault(vector::MF));
        }
        if kind == Kind::Arith {
            self.fpu.fip = op.eip;
            self.fpu.fcs = self.segs[SegReg::Cs as usize].selector;
            self.fpu.fop = op.imm2 as u16 & 0x7FF;
            if mem {
                self.fpu.fdp = op.ea(self);
                self.fpu.fds = self.segs[(op.seg & 7) as usize].selector;
            }
        }
        Ok(())
    }

    /// Read `N` bytes of memory operand at `[seg:ea]`.
    #[inline(always)]
    pub(crate) fn read_bytes<const N: usize>(&mut self, seg: u8, ea: u32) -> Res<[u8; N]> {
        if let Some(b) = self.span_read_fast::<N>(seg, ea) {
            return Ok(b);
        }
        let lin = self.lin_read(seg, ea, N as u32)?;
        let mut buf = [0; N];
        self.read_lin_bytes(lin, &mut buf)?;
        Ok(buf)
    }

    /// Write a memory operand at `[seg:ea]` (at most a page): checked whole before any
    /// byte is stored, so a faulting store changes nothing.
    #[inline(always)]
    pub(crate) fn write_bytes(&mut self, seg: u8, ea: u32, bytes: &[u8]) -> Res {
        if let Some(p) = self.span_write_fast(seg, ea, bytes.len() as u32) {
            self.phys_write(p, bytes);
            return Ok(());
        }
        let lin = self.lin_write(seg, ea, bytes.len() as u32)?;
        self.write_lin_slow(lin, bytes)
    }

    /// Check that `[seg:ea]` can take `n` bytes, before an instruction changes any state
    /// it must not change if the store faults.
    pub(crate) fn check_writable(&mut self, seg: u8, ea: u32, n: u32) -> Res {
        let lin = self.lin_write(seg, ea, n)?;
        self.translate_write(lin, n).map(|_| ())
    }
}
