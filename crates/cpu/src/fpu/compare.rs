//! Comparisons: FCOM, FCOMP, FCOMPP, FUCOM(P)(P), FICOM(P), FTST and FXAM set the
//! condition codes; FCOMI(P) and FUCOMI(P) set ZF, PF and CF instead.
//!
//! Both kinds report "greater", "less", "equal" or "unordered" the same way (C3/ZF for
//! equal, C0/CF for less, all three for unordered). The ordered ones (FCOM, FCOMI, FTST,
//! FICOM) raise #I for any NaN, the unordered ones (FUCOM, FUCOMI) only for an SNaN;
//! unsupported encodings are always invalid.

use super::arith::denormal;
use super::float::{exc, wide};
use super::value::{Class, F80};
use super::{Kind, sw};
use crate::exit::Res;
use crate::ops::Op;
use crate::regs::eflags;
use crate::state::State;
use std::cmp::Ordering;

/// Where the second operand comes from (the handlers' `SRC` parameter).
pub(crate) const STI: u8 = 0;
pub(crate) const M32: u8 = 1;
pub(crate) const M64: u8 = 2;
pub(crate) const I16: u8 = 3;
pub(crate) const I32: u8 = 4;
/// FTST: +0.0.
pub(crate) const ZERO: u8 = 5;

/// Compare `a` with `b`: the order (`None` = unordered) and the exceptions raised.
fn compare(a: F80, b: F80, quiet: bool) -> (Option<Ordering>, u16) {
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Unsupported || cb == Class::Unsupported {
        return (None, exc::IE);
    }
    let snan = ca == Class::SNaN || cb == Class::SNaN;
    let nan = snan || ca == Class::QNaN || cb == Class::QNaN;
    if nan {
        return (None, if snan || !quiet { exc::IE } else { 0 });
    }
    (wide(a).partial_cmp(&wide(b)), denormal(a, b))
}

/// The condition codes for an order (C1 cleared).
fn codes(o: Option<Ordering>) -> u16 {
    match o {
        Some(Ordering::Greater) => 0,
        Some(Ordering::Less) => sw::C0,
        Some(Ordering::Equal) => sw::C3,
        None => sw::C0 | sw::C2 | sw::C3,
    }
}

/// FCOM/FCOMP/FCOMPP (`QUIET` false), FUCOM/FUCOMP/FUCOMPP (true), FICOM/FICOMP, FTST;
/// `POPS` is how many times the stack is popped after.
pub(crate) fn fcom<const SRC: u8, const POPS: u8, const QUIET: bool>(st: &mut State, op: &Op) -> Res {
    let mem = matches!(SRC, M32 | M64 | I16 | I32);
    st.fpu_begin(op, Kind::Arith, mem)?;
    let (m, pre) = if mem {
        let ea = op.ea(st);
        match SRC {
            M32 => {
                let (v, c) = F80::from_f32_bits(u32::from_le_bytes(st.read_bytes::<4>(op.seg, ea)?));
                (v, if c == Class::Denormal { exc::DE } else { 0 })
            }
            M64 => {
                let (v, c) = F80::from_f64_bits(u64::from_le_bytes(st.read_bytes::<8>(op.seg, ea)?));
                (v, if c == Class::Denormal { exc::DE } else { 0 })
            }
            I16 => (F80::from_i64(i16::from_le_bytes(st.read_bytes::<2>(op.seg, ea)?) as i64), 0),
            _ => (F80::from_i64(i32::from_le_bytes(st.read_bytes::<4>(op.seg, ea)?) as i64), 0),
        }
    } else {
        (F80::ZERO, 0)
    };
    let fpu = &mut st.fpu;
    let b = match SRC {
        STI => fpu.get(op.r),
        ZERO => Some(F80::ZERO),
        _ => Some(m),
    };
    // The condition codes are set whatever happens (unordered after an invalid
    // operation); an unmasked exception only keeps the stack from being popped.
    let (order, stop) = match (fpu.get(0), b) {
        (Some(a), Some(b)) => {
            let (o, e) = compare(a, b, QUIET);
            let e = if e & exc::IE != 0 { e } else { e | pre };
            (o, fpu.stops(e))
        }
        _ => (None, !fpu.stack_fault(false)),
    };
    fpu.set_cc(codes(order));
    if !stop {
        for _ in 0..POPS {
            fpu.pop();
        }
    }
    Ok(())
}

/// FCOMI/FCOMIP (`QUIET` false) and FUCOMI/FUCOMIP (true) ST(0), ST(i).
pub(crate) fn fcomi<const POP: bool, const QUIET: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    // As for FCOM, EFLAGS are set whatever happens; C1 is left alone.
    let (order, stop) = match (fpu.get(0), fpu.get(op.r)) {
        (Some(a), Some(b)) => {
            let (o, e) = compare(a, b, QUIET);
            let c1 = fpu.sw & sw::C1;
            let stop = fpu.stops(e);
            fpu.sw |= c1;
            (o, stop)
        }
        _ => (None, !fpu.stack_fault(false)),
    };
    if POP && !stop {
        fpu.pop();
    }
    let f = match order {
        Some(Ordering::Greater) => 0,
        Some(Ordering::Less) => eflags::CF,
        Some(Ordering::Equal) => eflags::ZF,
        None => eflags::ZF | eflags::PF | eflags::CF,
    };
    st.set_arith_flags(eflags::ARITH, f);
    Ok(())
}

/// FXAM: classify ST(0) into C3, C2, C0, its sign into C1 (an empty register's stale
/// sign too).
pub(crate) fn fxam(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    let v = fpu.raw(0);
    let class = if fpu.is_empty(0) {
        sw::C3 | sw::C0
    } else {
        match v.class() {
            Class::Unsupported => 0,
            Class::QNaN | Class::SNaN => sw::C0,
            Class::Normal => sw::C2,
            Class::Infinity => sw::C2 | sw::C0,
            Class::Zero => sw::C3,
            Class::Denormal => sw::C3 | sw::C2,
        }
    };
    fpu.set_cc(class | if v.sign() { sw::C1 } else { 0 });
    Ok(())
}
