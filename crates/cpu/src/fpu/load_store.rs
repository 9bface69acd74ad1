//! Moving values onto, off and around the register stack, in every memory format: FLD,
//! FILD, FBLD, FST(P), FIST(P), FBSTP, FXCH, FCMOVcc, FFREE(P), FINCSTP, FDECSTP, and
//! FLD1/FLDZ (the other constants are transcendental.rs's).
//!
//! Loads are exact (`value.rs`); stores to `float`, `double` and the integer formats round
//! as RC says (`store_float`, `store_int`), and an unmasked exception there stores
//! nothing and pops nothing. FLD and FSTP of the 80-bit format copy the bits as they are.

use super::float::{self, Env, Pc24S, Pc53S, exc};
use super::value::{Class, F80};
use super::{Fpu, Kind, Outcome};
use crate::exit::Res;
use crate::ops::Op;
use crate::state::State;
use rustc_apfloat::ieee::{DoubleS, IeeeFloat, Semantics, SingleS, X87DoubleExtendedS};
use rustc_apfloat::{Float, FloatConvert, Status, StatusAnd};
use std::cmp::Ordering;

/// `op.imm` of FSTP ST(i)'s D9 D8+i encoding, which does not check for an empty ST(0).
pub(crate) const NO_CHECK_EMPTY: u32 = 1;

/// Memory formats (the handlers' `F` parameter).
pub(crate) const M32: u8 = 0;
pub(crate) const M64: u8 = 1;
pub(crate) const M80: u8 = 2;
pub(crate) const I16: u8 = 3;
pub(crate) const I32: u8 = 4;
pub(crate) const I64: u8 = 5;
pub(crate) const BCD: u8 = 6;

type X87 = IeeeFloat<X87DoubleExtendedS>;

/// Push `o` if ST(7) is free (a stack overflow pushes the indefinite value, if masked).
pub(crate) fn push(fpu: &mut Fpu, o: Outcome) {
    if !fpu.is_empty(7) {
        if fpu.stack_fault(true) {
            fpu.push(F80::INDEFINITE);
        }
        return;
    }
    // A denormal operand raises #D but is loaded all the same, masked or not.
    if fpu.stops(o.exc & !exc::DE) {
        return;
    }
    fpu.signal(o.exc);
    fpu.set_c1(o.c1);
    fpu.push(o.v);
}

/// FLD m32fp/m64fp/m80fp, FILD m16int/m32int/m64int, FBLD m80bcd.
pub(crate) fn fld_m<const F: u8>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, true)?;
    let ea = op.ea(st);
    let o = match F {
        M32 => load_float(F80::from_f32_bits(u32::from_le_bytes(st.read_bytes::<4>(op.seg, ea)?))),
        M64 => load_float(F80::from_f64_bits(u64::from_le_bytes(st.read_bytes::<8>(op.seg, ea)?))),
        M80 => Outcome::exact(F80::from_le_bytes(st.read_bytes::<10>(op.seg, ea)?)),
        I16 => Outcome::exact(F80::from_i64(i16::from_le_bytes(st.read_bytes::<2>(op.seg, ea)?) as i64)),
        I32 => Outcome::exact(F80::from_i64(i32::from_le_bytes(st.read_bytes::<4>(op.seg, ea)?) as i64)),
        I64 => Outcome::exact(F80::from_i64(i64::from_le_bytes(st.read_bytes::<8>(op.seg, ea)?))),
        _ => Outcome::exact(from_bcd(st.read_bytes::<10>(op.seg, ea)?)),
    };
    push(&mut st.fpu, o);
    Ok(())
}

/// A `float` or `double` on its way in: an SNaN is invalid (and made quiet), a denormal
/// raises #D.
fn load_float((v, c): (F80, Class)) -> Outcome {
    match c {
        Class::SNaN => Outcome { v: v.quiet(), exc: exc::IE, c1: false },
        Class::Denormal => Outcome { v, exc: exc::DE, c1: false },
        _ => Outcome::exact(v),
    }
}

/// An 18-digit packed BCD integer: digits 0..17 in bytes 0..8, the sign in bit 79. Digits
/// above 9 are taken at face value (the result is undefined for them).
fn from_bcd(b: [u8; 10]) -> F80 {
    let mut v: u64 = 0;
    for i in (0..9).rev() {
        v = v * 100 + (b[i] >> 4) as u64 * 10 + (b[i] & 15) as u64;
    }
    let sign = b[9] & 0x80 != 0;
    F80::from_parts(sign, 0, v).unwrap_or(F80::ZERO)
}

/// FLD ST(i).
pub(crate) fn fld_sti(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    match fpu.get(op.r) {
        Some(v) => push(fpu, Outcome::exact(v)),
        // An empty source is an underflow, whatever ST(7) holds.
        None => {
            if fpu.stack_fault(false) {
                fpu.push(F80::INDEFINITE);
            }
        }
    }
    Ok(())
}

/// FLD1 and FLDZ.
pub(crate) fn fld_const<const ONE: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    push(&mut st.fpu, Outcome::exact(if ONE { F80::ONE } else { F80::ZERO }));
    Ok(())
}

/// ST(0), or the indefinite value after a (masked) stack underflow; `None` if the
/// underflow is unmasked and the instruction must stop.
fn st0_or_underflow(fpu: &mut Fpu) -> Option<F80> {
    match fpu.get(0) {
        Some(v) => Some(v),
        None => fpu.stack_fault(false).then_some(F80::INDEFINITE),
    }
}

/// FST/FSTP m32fp/m64fp/m80fp, FIST/FISTP m16int/m32int/m64int, FBSTP m80bcd.
pub(crate) fn fst_m<const F: u8, const POP: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, true)?;
    let ea = op.ea(st);
    let n = match F {
        M32 | I32 => 4,
        M64 | I64 => 8,
        I16 => 2,
        _ => 10,
    };
    // Nothing changes if the store would fault.
    st.check_writable(op.seg, ea, n)?;
    let fpu = &mut st.fpu;
    let underflow = fpu.is_empty(0);
    let Some(v) = st0_or_underflow(fpu) else { return Ok(()) };
    let env = fpu.env();
    let (bytes, o) = match F {
        M32 => store_float::<SingleS, Pc24S>(v, env, 0xFFC0_0000, -126)
            .map_bytes(|b| (b as u32).to_le_bytes().to_10()),
        M64 => store_float::<DoubleS, Pc53S>(v, env, 0xFFF8_0000_0000_0000, -1022)
            .map_bytes(|b| b.to_le_bytes().to_10()),
        M80 => (v.to_le_bytes(), Outcome::exact(v)),
        I16 => store_int(v, env, 16).map_bytes(|b| (b as u16).to_le_bytes().to_10()),
        I32 => store_int(v, env, 32).map_bytes(|b| (b as u32).to_le_bytes().to_10()),
        I64 => store_int(v, env, 64).map_bytes(|b| b.to_le_bytes().to_10()),
        _ => store_bcd(v, env),
    };
    let o = if underflow { Outcome { exc: 0, c1: false, ..o } } else { o };
    // An unmasked overflow or underflow stores nothing, and reports nothing more.
    let unmasked = o.exc & !fpu.cw & (exc::OE | exc::UE);
    if unmasked != 0 {
        fpu.signal(unmasked);
        fpu.set_c1(false);
        return Ok(());
    }
    if fpu.stops(o.exc) {
        return Ok(());
    }
    fpu.set_c1(o.c1);
    if POP {
        fpu.pop();
    }
    st.write_bytes(op.seg, ea, &bytes[..n as usize])
}

/// Pad a little-endian encoding to the widest store's 10 bytes.
trait To10 {
    fn to_10(&self) -> [u8; 10];
}
impl<const N: usize> To10 for [u8; N] {
    fn to_10(&self) -> [u8; 10] {
        let mut b = [0; 10];
        b[..N].copy_from_slice(self);
        b
    }
}

trait MapBytes<T> {
    fn map_bytes(self, f: impl FnOnce(T) -> [u8; 10]) -> ([u8; 10], Outcome);
}
impl<T> MapBytes<T> for (T, Outcome) {
    fn map_bytes(self, f: impl FnOnce(T) -> [u8; 10]) -> ([u8; 10], Outcome) {
        (f(self.0), self.1)
    }
}

/// Round to `float` (S = Single, P = 24-bit precision with a wide exponent, `emin` -126)
/// or `double`: the bits to store and the outcome (its value unused).
fn store_float<S: Semantics, P: Semantics>(v: F80, env: Env, indefinite: u64, emin: i32) -> (u64, Outcome)
where
    X87: FloatConvert<IeeeFloat<S>> + FloatConvert<IeeeFloat<P>>,
    IeeeFloat<S>: FloatConvert<X87>,
    IeeeFloat<P>: FloatConvert<X87>,
{
    let bits = S::BITS;
    let frac = S::PRECISION - 1;
    let exp_all = ((1u64 << (bits - 1 - frac)) - 1) << frac;
    let sign = (v.sign() as u64) << (bits - 1);
    let nan = |sig: u64| sign | exp_all | (sig << 1 >> (64 - frac));
    match v.class() {
        Class::Unsupported => return (indefinite, Outcome::invalid()),
        Class::SNaN => return (nan(v.quiet().sig), Outcome::invalid()),
        Class::QNaN => return (nan(v.sig), Outcome::exact(v)),
        Class::Infinity => return (sign | exp_all, Outcome::exact(v)),
        Class::Zero => return (sign, Outcome::exact(v)),
        _ => {}
    }
    // The common case, a result in the format's normal range, without the library.
    let p = S::PRECISION as u32;
    let emax = S::MAX_EXP;
    if let Some((bits, inexact, up)) = float::narrow_fast(v, p, 1 - emax, emax, env.rc) {
        return (bits, Outcome { v, exc: if inexact { exc::PE } else { 0 }, c1: up });
    }
    let x = X87::from_bits(v.bits());
    // Tiny after rounding: round to the precision with an unbounded exponent, compare.
    let unbounded: StatusAnd<IeeeFloat<P>> = x.convert_r(env.rc, &mut false);
    let ub: X87 = unbounded.value.convert(&mut false).value;
    let min_normal = X87::from_bits(F80::new(false, (emin + super::value::BIAS) as u16, 1 << 63).bits());
    let tiny = ub.abs().partial_cmp(&min_normal) == Some(Ordering::Less);
    // Overflow likewise (rustc_apfloat does not report an overflow to the largest finite).
    let overflow = ub.ilogb() > S::MAX_EXP;
    let r: StatusAnd<IeeeFloat<S>> = x.convert_r(env.rc, &mut false);
    let inexact = r.status.contains(Status::INEXACT);
    let mut e = if inexact { exc::PE } else { 0 };
    if overflow {
        e |= exc::OE | exc::PE;
    }
    if tiny && (inexact || !env.masked(exc::UE)) {
        e |= exc::UE;
    }
    let back: X87 = r.value.convert(&mut false).value;
    let up =
        inexact && (r.value.is_infinite() || back.abs().partial_cmp(&x.abs()) == Some(Ordering::Greater));
    (r.value.to_bits() as u64, Outcome { v, exc: e, c1: up })
}

/// Round to an integer of `bits` bits: the value to store and the outcome. Out of range,
/// NaN, infinite or unsupported: invalid, and the integer indefinite (the most negative
/// integer).
fn store_int(v: F80, env: Env, bits: u32) -> (i64, Outcome) {
    let indefinite = i64::MIN >> (64 - bits);
    match v.class() {
        Class::Zero => return (0, Outcome::exact(v)),
        Class::Normal | Class::Denormal => {}
        _ => return (indefinite, Outcome::invalid()),
    }
    let (r, inexact, up) = float::round_to_integral(v, env.rc);
    let Some(n) = to_i128(r) else { return (indefinite, Outcome::invalid()) };
    let (lo, hi) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
    if n < lo || n > hi {
        return (indefinite, Outcome::invalid());
    }
    (n as i64, Outcome { v, exc: if inexact { exc::PE } else { 0 }, c1: up })
}

/// An integral value as an integer, if it has fewer than 100 bits.
fn to_i128(v: F80) -> Option<i128> {
    if v.class() == Class::Zero {
        return Some(0);
    }
    let (e, sig) = v.unpack(true);
    if e >= 100 {
        return None;
    }
    let mag = if e >= 63 { (sig as i128) << (e - 63) } else { (sig >> (63 - e)) as i128 };
    Some(if v.sign() { -mag } else { mag })
}

/// FBSTP's conversion: the 18-digit packed BCD of the value rounded to an integer.
fn store_bcd(v: F80, env: Env) -> ([u8; 10], Outcome) {
    const INDEFINITE: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF];
    let sign_byte = if v.sign() { 0x80 } else { 0 };
    let (mag, o) = match v.class() {
        Class::Zero => (0u128, Outcome::exact(v)),
        Class::Normal | Class::Denormal => {
            let (r, inexact, up) = float::round_to_integral(v, env.rc);
            match to_i128(r) {
                Some(n) if n.unsigned_abs() < 1_000_000_000_000_000_000 => {
                    (n.unsigned_abs(), Outcome { v, exc: if inexact { exc::PE } else { 0 }, c1: up })
                }
                _ => return (INDEFINITE, Outcome::invalid()),
            }
        }
        _ => return (INDEFINITE, Outcome::invalid()),
    };
    let mut b = [0u8; 10];
    let mut m = mag;
    for byte in b.iter_mut().take(9) {
        let lo = (m % 10) as u8;
        m /= 10;
        let hi = (m % 10) as u8;
        m /= 10;
        *byte = hi << 4 | lo;
    }
    b[9] = sign_byte;
    (b, o)
}

/// FST/FSTP ST(i) (and the FSTP aliases): copy ST(0), bits as they are.
pub(crate) fn fst_sti<const POP: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    if op.imm == NO_CHECK_EMPTY && fpu.is_empty(0) {
        // D9 D8+i pops an empty ST(0) without a stack fault and stores nothing.
        fpu.set_c1(false);
        fpu.pop();
        return Ok(());
    }
    let Some(v) = st0_or_underflow(fpu) else { return Ok(()) };
    fpu.set_c1(false);
    fpu.set(op.r, v);
    if POP {
        fpu.pop();
    }
    Ok(())
}

/// FXCH ST(i) (and its aliases).
pub(crate) fn fxch(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    let (a, b) = (fpu.get(0), fpu.get(op.r));
    if a.is_none() || b.is_none() {
        if !fpu.stack_fault(false) {
            return Ok(());
        }
    } else {
        fpu.set_c1(false);
    }
    let (a, b) = (a.unwrap_or(F80::INDEFINITE), b.unwrap_or(F80::INDEFINITE));
    fpu.set(0, b);
    fpu.set(op.r, a);
    Ok(())
}

/// FCMOVcc ST(0), ST(i): `op.imm` is the condition, numbered as Jcc's.
pub(crate) fn fcmov(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let cond = st.cc.cond(op.imm as u8);
    let fpu = &mut st.fpu;
    let (a, b) = (fpu.get(0), fpu.get(op.r));
    if a.is_none() || b.is_none() {
        if fpu.stack_fault(false) {
            fpu.set(0, F80::INDEFINITE);
        }
        return Ok(());
    }
    if let (true, Some(b)) = (cond, b) {
        fpu.set(0, b);
    }
    Ok(())
}

/// FFREE ST(i) (`POP` false) and FFREEP ST(i) (true).
pub(crate) fn ffree<const POP: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    st.fpu.free(op.r);
    st.fpu.set_c1(false);
    if POP {
        st.fpu.pop();
    }
    Ok(())
}

/// FINCSTP (`UP` true) and FDECSTP.
pub(crate) fn fstp_move<const UP: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    fpu.top = if UP { fpu.top + 1 } else { fpu.top.wrapping_sub(1) } & 7;
    fpu.set_c1(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcd_round_trips() {
        let v = from_bcd([0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0x80]);
        assert_eq!(v, F80::from_i64(-123456789));
        let env = Env::from_cw(super::super::CW_INIT);
        let (b, o) = store_bcd(v, env);
        assert_eq!(b, [0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0x80]);
        assert_eq!(o.exc, 0);
    }

    #[test]
    fn integer_stores_round_and_saturate_to_indefinite() {
        let env = Env::from_cw(super::super::CW_INIT);
        let half = F80::from_f64_bits(2.5f64.to_bits()).0;
        assert_eq!(store_int(half, env, 16).0, 2);
        let big = F80::from_i64(40000);
        assert_eq!(store_int(big, env, 16).0 as u16, 0x8000);
        assert_eq!(store_int(big, env, 16).1.exc, exc::IE);
    }
}
