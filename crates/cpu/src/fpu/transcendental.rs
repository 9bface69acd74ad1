//! The transcendental instructions (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X,
//! FYL2XP1) and the constants FLDPI, FLDL2E, FLDL2T, FLDLG2, FLDLN2.
//!
//! The constants are the true values rounded as RC says (as the processor has done since
//! the 486), from 128-bit truncations that carry a sticky bit.

use super::float::{self, Precision, round};
use super::load_store::push;
use super::{Kind, Outcome};
use crate::exit::Res;
use crate::ops::Op;
use crate::state::State;

/// A constant: its exponent (of the leading bit) and its first 128 significand bits; the
/// rest are not all zero.
#[derive(Clone, Copy)]
pub(crate) struct Constant {
    pub exp: i32,
    pub sig: u128,
}

pub(crate) const PI: Constant = Constant { exp: 1, sig: 0xc90fdaa22168c234c4c6628b80dc1cd1 };
pub(crate) const L2E: Constant = Constant { exp: 0, sig: 0xb8aa3b295c17f0bbbe87fed0691d3e88 };
pub(crate) const L2T: Constant = Constant { exp: 1, sig: 0xd49a784bcd1b8afe492bf6ff4dafdb4c };
pub(crate) const LG2: Constant = Constant { exp: -2, sig: 0x9a209a84fbcff7988f8959ac0b7c9178 };
pub(crate) const LN2: Constant = Constant { exp: -1, sig: 0xb17217f7d1cf79abc9e3b39803f2f6af };
/// The constants by FLDxx's index in the handler's parameter.
const CONSTANTS: [Constant; 5] = [PI, L2E, L2T, LG2, LN2];

/// FLDPI (0), FLDL2E (1), FLDL2T (2), FLDLG2 (3), FLDLN2 (4).
pub(crate) fn fld_constant<const C: usize>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let c = CONSTANTS[C];
    let w = float::from_parts(false, c.exp - 127, c.sig, true);
    let env = st.fpu.env().with_pc(Precision::P64);
    let r = round(w, env);
    // Loading a constant raises nothing (no #P) and clears C1.
    push(&mut st.fpu, Outcome::exact(r.v));
    Ok(())
}

pub(crate) fn fsin(_: &mut State, _: &Op) -> Res {
    Err(crate::exit::ud())
}
pub(crate) fn fcos(_: &mut State, _: &Op) -> Res {
    Err(crate::exit::ud())
}
pub(crate) fn fsincos(_: &mut State, _: &Op) -> Res {
    Err(crate::exit::ud())
}
pub(crate) fn fptan(_: &mut State, _: &Op) -> Res {
    Err(crate::exit::ud())
}
pub(crate) fn fpatan(_: &mut State, _: &Op) -> Res {
    Err(crate::exit::ud())
}
pub(crate) fn f2xm1(_: &mut State, _: &Op) -> Res {
    Err(crate::exit::ud())
}
pub(crate) fn fyl2x(_: &mut State, _: &Op) -> Res {
    Err(crate::exit::ud())
}
pub(crate) fn fyl2xp1(_: &mut State, _: &Op) -> Res {
    Err(crate::exit::ud())
}
