//! The basic arithmetic: FADD, FSUB(R), FMUL, FDIV(R) in all their forms, FSQRT, FABS,
//! FCHS, FRNDINT, FSCALE, FXTRACT, FPREM and FPREM1.
//!
//! Each operation is a pure function of its operands and the control word returning an
//! [`Outcome`] (`binary`, `sqrt`, ...), and a handler that fetches the operands (registers,
//! or a memory operand converted exactly), checks the stack, and delivers the outcome. The
//! special cases follow the SDM's tables (and, where they are silent, what the processor
//! does): NaN operands propagate (`propagate`), unsupported encodings and SNaNs are invalid,
//! denormal operands raise #D, and only a finite, non-zero result goes to the rounding core.

use super::float::{self, Env, Precision, exc, round};
use super::value::{BIAS, Class, F80};
use super::{Kind, Outcome, sw};
use crate::exit::Res;
use crate::ops::Op;
use crate::state::State;
use rustc_apfloat::{Float, Round};

/// The binary operations, as the handlers' `K` parameter.
pub(crate) const ADD: u8 = 0;
pub(crate) const MUL: u8 = 1;
pub(crate) const SUB: u8 = 2;
pub(crate) const SUBR: u8 = 3;
pub(crate) const DIV: u8 = 4;
pub(crate) const DIVR: u8 = 5;

/// Where a binary operation's operands come from (the handlers' `SRC` parameter):
/// ST(0) op= ST(i)...
pub(crate) const ST0_STI: u8 = 0;
/// ... ST(i) op= ST(0) ...
pub(crate) const STI_ST0: u8 = 1;
/// ... the same, then pop ...
pub(crate) const STI_ST0_POP: u8 = 2;
/// ... ST(0) op= a memory operand: float, double, 16- or 32-bit integer.
pub(crate) const M32: u8 = 3;
pub(crate) const M64: u8 = 4;
pub(crate) const I16: u8 = 5;
pub(crate) const I32: u8 = 6;

/// The x87's choice of NaN when an operation has NaN operands: an SNaN is made quiet; of
/// an SNaN and a QNaN, the QNaN; of two NaNs of the same kind, the one with the larger
/// significand (the positive one if they tie).
pub(crate) fn propagate(a: F80, b: F80) -> F80 {
    let (ca, cb) = (a.class(), b.class());
    let (an, bn) = (matches!(ca, Class::QNaN | Class::SNaN), matches!(cb, Class::QNaN | Class::SNaN));
    match (an, bn) {
        (true, false) => a.quiet(),
        (false, true) => b.quiet(),
        _ => {
            if ca == Class::SNaN && cb == Class::QNaN {
                return b;
            }
            if cb == Class::SNaN && ca == Class::QNaN {
                return a;
            }
            let larger = match a.sig.cmp(&b.sig) {
                std::cmp::Ordering::Greater => a,
                std::cmp::Ordering::Less => b,
                std::cmp::Ordering::Equal => {
                    if a.sign() {
                        b
                    } else {
                        a
                    }
                }
            };
            larger.quiet()
        }
    }
}

/// The checks every arithmetic operation makes on its operands first: an unsupported
/// operand or an SNaN is invalid, a NaN propagates. `Some` is the outcome then.
pub(crate) fn nan_check(a: F80, b: F80) -> Option<Outcome> {
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Unsupported || cb == Class::Unsupported {
        return Some(Outcome::invalid());
    }
    let nan = |c| matches!(c, Class::QNaN | Class::SNaN);
    if nan(ca) || nan(cb) {
        let e = if ca == Class::SNaN || cb == Class::SNaN { exc::IE } else { 0 };
        return Some(Outcome { v: propagate(a, b), exc: e, c1: false });
    }
    None
}

/// Is `v` a normal number (the fast case of every operation)?
#[inline(always)]
fn is_normal(v: F80) -> bool {
    v.sig & (1 << 63) != 0 && v.exp().wrapping_sub(1) < 0x7FFE
}

/// #D if either operand is a denormal.
pub(crate) fn denormal(a: F80, b: F80) -> u16 {
    if a.class() == Class::Denormal || b.class() == Class::Denormal { exc::DE } else { 0 }
}

/// `a op b` (for SUBR and DIVR the handler has already swapped them). `pre`: exceptions the
/// operands raised on their way in (a denormal `float` or `double`).
pub(crate) fn binary(k: u8, a: F80, b: F80, env: Env, pre: u16) -> Outcome {
    if pre == 0 && is_normal(a) && is_normal(b) {
        // The common case, two normal numbers: straight to the arithmetic.
        let e = match k {
            ADD => float::add(a, b),
            SUB => float::add(a, b.neg()),
            MUL => float::mul(a, b),
            _ => float::div(a, b),
        };
        if e.sig == 0 {
            // x + (-x): +0, or -0 when rounding down.
            return Outcome::exact(F80::zero(env.rc == Round::TowardNegative));
        }
        return Outcome::rounded(round(e, env), 0);
    }
    if let Some(o) = nan_check(a, b) {
        // A NaN operand takes precedence over a denormal one: no #D.
        return o;
    }
    let (ca, cb) = (a.class(), b.class());
    if k == DIV && cb == Class::Zero && ca != Class::Infinity {
        // Division by zero comes before a denormal operand: #Z (or #I for 0/0), no #D.
        return if ca == Class::Zero {
            Outcome::invalid()
        } else {
            Outcome { v: F80::infinity(a.sign() != b.sign()), exc: exc::ZE, c1: false }
        };
    }
    let d = pre | denormal(a, b);
    if d != 0 && !env.masked(exc::DE) {
        return Outcome { v: a, exc: d, c1: false };
    }
    let (ia, ib) = (ca == Class::Infinity, cb == Class::Infinity);
    let (za, zb) = (ca == Class::Zero, cb == Class::Zero);
    let invalid = Outcome { exc: exc::IE | d, ..Outcome::invalid() };
    let exact = |v: F80| Outcome { v, exc: d, c1: false };
    match k {
        ADD | SUB => {
            let b = if k == SUB { b.neg() } else { b };
            if ia || ib {
                if ia && ib && a.sign() != b.sign() {
                    return invalid;
                }
                return exact(if ia { a } else { b });
            }
            if za && zb {
                let sign = if a.sign() == b.sign() { a.sign() } else { env.rc == Round::TowardNegative };
                return exact(F80::zero(sign));
            }
            let w = float::add(a, b);
            if w.sig == 0 {
                // x + (-x): +0, or -0 when rounding down.
                return exact(F80::zero(env.rc == Round::TowardNegative));
            }
            Outcome::rounded(round(w, env), d)
        }
        MUL => {
            let sign = a.sign() != b.sign();
            if (ia && zb) || (za && ib) {
                return invalid;
            }
            if ia || ib {
                return exact(F80::infinity(sign));
            }
            if za || zb {
                return exact(F80::zero(sign));
            }
            Outcome::rounded(round(float::mul(a, b), env), d)
        }
        _ => {
            let sign = a.sign() != b.sign();
            if (ia && ib) || (za && zb) {
                return invalid;
            }
            if ia {
                return exact(F80::infinity(sign));
            }
            if ib || za {
                return exact(F80::zero(sign));
            }
            if zb {
                return Outcome { v: F80::infinity(sign), exc: exc::ZE | d, c1: false };
            }
            Outcome::rounded(round(float::div(a, b), env), d)
        }
    }
}

/// A memory operand of a binary operation, converted exactly, and the exceptions its
/// format raises on the way (#D for a denormal `float` or `double`).
fn mem_operand<const SRC: u8>(st: &mut State, op: &Op) -> Res<(F80, u16)> {
    let ea = op.ea(st);
    Ok(match SRC {
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
    })
}

/// FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR, every form (`K` the operation, `SRC` the operands; the
/// register operand is ST(`op.r`)).
pub(crate) fn binop<const K: u8, const SRC: u8>(st: &mut State, op: &Op) -> Res {
    let mem = SRC >= M32;
    st.fpu_begin(op, Kind::Arith, mem)?;
    let (dst, pop) = match SRC {
        STI_ST0 => (op.r, false),
        STI_ST0_POP => (op.r, true),
        _ => (0, false),
    };
    let (m, pre) = if mem { mem_operand::<SRC>(st, op)? } else { (F80::ZERO, 0) };
    let f = &mut st.fpu;
    let (a, b) = match SRC {
        ST0_STI => (f.get(0), f.get(op.r)),
        STI_ST0 | STI_ST0_POP => (f.get(op.r), f.get(0)),
        _ => (f.get(0), Some(m)),
    };
    let (Some(a), Some(b)) = (a, b) else {
        if f.stack_fault(false) {
            f.set(dst, F80::INDEFINITE);
            if pop {
                f.pop();
            }
        }
        return Ok(());
    };
    let (a, b) = if K == SUBR || K == DIVR { (b, a) } else { (a, b) };
    let k = match K {
        SUBR => SUB,
        DIVR => DIV,
        k => k,
    };
    let o = binary(k, a, b, f.env(), pre);
    f.deliver(dst, o, pop);
    Ok(())
}

/// A one-operand instruction on ST(0): fetch it (stack underflow gives the indefinite
/// value, if masked), compute, deliver.
fn unary(st: &mut State, op: &Op, f: impl FnOnce(F80, Env) -> Outcome) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    let Some(a) = fpu.get(0) else {
        if fpu.stack_fault(false) {
            fpu.set(0, F80::INDEFINITE);
        }
        return Ok(());
    };
    let o = f(a, fpu.env());
    fpu.deliver(0, o, false);
    Ok(())
}

pub(crate) fn fchs(st: &mut State, op: &Op) -> Res {
    unary(st, op, |a, _| Outcome::exact(a.neg()))
}

pub(crate) fn fabs(st: &mut State, op: &Op) -> Res {
    unary(st, op, |a, _| Outcome::exact(a.abs()))
}

pub(crate) fn fsqrt(st: &mut State, op: &Op) -> Res {
    unary(st, op, sqrt)
}

pub(crate) fn sqrt(a: F80, env: Env) -> Outcome {
    if let Some(o) = nan_check(a, a) {
        return o;
    }
    if a.sign() && a.class() != Class::Zero {
        // A negative operand is invalid, denormal or not.
        return Outcome::invalid();
    }
    let d = denormal(a, a);
    if d != 0 && !env.masked(exc::DE) {
        return Outcome { v: a, exc: d, c1: false };
    }
    match a.class() {
        Class::Zero | Class::Infinity => Outcome::exact(a),
        _ => Outcome::rounded(round(float::sqrt(a), env), d),
    }
}

pub(crate) fn frndint(st: &mut State, op: &Op) -> Res {
    unary(st, op, rndint)
}

fn rndint(a: F80, env: Env) -> Outcome {
    if let Some(o) = nan_check(a, a) {
        return o;
    }
    let d = denormal(a, a);
    if d != 0 && !env.masked(exc::DE) {
        return Outcome { v: a, exc: d, c1: false };
    }
    match a.class() {
        Class::Zero | Class::Infinity => Outcome::exact(a),
        _ => {
            let (v, inexact, up) = float::round_to_integral(a, env.rc);
            Outcome { v, exc: d | if inexact { exc::PE } else { 0 }, c1: up }
        }
    }
}

/// FSCALE: ST(0) * 2^trunc(ST(1)).
pub(crate) fn fscale(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    let (Some(a), Some(b)) = (fpu.get(0), fpu.get(1)) else {
        if fpu.stack_fault(false) {
            fpu.set(0, F80::INDEFINITE);
        }
        return Ok(());
    };
    let o = scale(a, b, fpu.env());
    fpu.deliver(0, o, false);
    Ok(())
}

fn scale(a: F80, b: F80, env: Env) -> Outcome {
    if let Some(o) = nan_check(a, b) {
        return o;
    }
    let d = denormal(a, b);
    if d != 0 && !env.masked(exc::DE) {
        return Outcome { v: a, exc: d, c1: false };
    }
    let exact = |v: F80| Outcome { v, exc: d, c1: false };
    let invalid = Outcome { exc: exc::IE | d, ..Outcome::invalid() };
    match (a.class(), b.class()) {
        (Class::Zero, Class::Infinity) if !b.sign() => invalid,
        (Class::Infinity, Class::Infinity) if b.sign() => invalid,
        (Class::Zero | Class::Infinity, _) => exact(a),
        (_, Class::Infinity) => exact(if b.sign() { F80::zero(a.sign()) } else { F80::infinity(a.sign()) }),
        _ => {
            // trunc(ST(1)), clamped far beyond any exponent that can still matter.
            let n = trunc_to_i32(b, 1 << 17);
            let w = float::wide(a).scalbn(n);
            Outcome::rounded(float::round_wide(w, env.with_pc(Precision::P64)), d)
        }
    }
}

/// trunc(v) as an integer, clamped to ±`limit` (v finite).
fn trunc_to_i32(v: F80, limit: i32) -> i32 {
    let (e, sig) = v.unpack(false);
    if sig == 0 || e < 0 {
        return 0;
    }
    let mag = if e >= 31 { limit as i64 } else { (sig >> (63 - e)) as i64 };
    let mag = mag.min(limit as i64) as i32;
    if v.sign() { -mag } else { mag }
}

/// FXTRACT: replace ST(0) by its exponent, then push its significand.
pub(crate) fn fxtract(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    let Some(a) = fpu.get(0) else {
        if fpu.stack_fault(false) {
            fpu.set(0, F80::INDEFINITE);
            fpu.push(F80::INDEFINITE);
        }
        return Ok(());
    };
    if !fpu.is_empty(7) {
        if fpu.stack_fault(true) {
            fpu.set(0, F80::INDEFINITE);
            fpu.push(F80::INDEFINITE);
        }
        return Ok(());
    }
    let (expo, sig, e) = match a.class() {
        Class::Unsupported | Class::QNaN | Class::SNaN => {
            let o = nan_check(a, a).unwrap_or(Outcome::invalid());
            (o.v, o.v, o.exc)
        }
        Class::Zero => (F80::infinity(true), a, exc::ZE),
        Class::Infinity => (F80::INFINITY, a, 0),
        c => {
            let (ex, s) = a.unpack(true);
            let sig = F80::new(a.sign(), BIAS as u16, s);
            let expo = F80::from_i64(ex as i64);
            (expo, sig, if c == Class::Denormal { exc::DE } else { 0 })
        }
    };
    if fpu.stops(e) {
        return Ok(());
    }
    fpu.set_c1(false);
    fpu.set(0, expo);
    fpu.push(sig);
    Ok(())
}

/// FPREM (`IEEE` false: the quotient truncated) and FPREM1 (true: rounded to nearest).
pub(crate) fn fprem<const IEEE: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    let (Some(a), Some(b)) = (fpu.get(0), fpu.get(1)) else {
        fpu.sw &= !sw::C2;
        if fpu.stack_fault(false) {
            fpu.set(0, F80::INDEFINITE);
        }
        return Ok(());
    };
    let (o, cc) = remainder(a, b, IEEE, fpu.env());
    // C2 (and C1) clear whatever happens; C0 and C3 change only with a quotient.
    fpu.sw &= !(sw::C1 | sw::C2);
    if fpu.stops(o.exc) {
        return Ok(());
    }
    if let Some(cc) = cc {
        fpu.set_cc(cc);
    }
    fpu.set(0, o.v);
    Ok(())
}

/// The partial remainder and the condition codes it sets: C2 when incomplete, else the
/// quotient's low three bits in C0, C3, C1.
fn remainder(a: F80, b: F80, ieee: bool, env: Env) -> (Outcome, Option<u16>) {
    if let Some(o) = nan_check(a, b) {
        return (o, None);
    }
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Infinity || cb == Class::Zero {
        // Invalid whatever the other operand is: no #D.
        return (Outcome::invalid(), None);
    }
    let d = denormal(a, b);
    if d != 0 && !env.masked(exc::DE) {
        return (Outcome { v: a, exc: d, c1: false }, None);
    }
    let exact = |sign: bool, exp2: i32, mag: u128| {
        round(float::Exact { sign, exp2, sig: mag, sticky: false }, env.with_pc(Precision::P64))
    };
    // The dividend itself is the remainder: as is, but a denormal one is a tiny result.
    let unchanged = || {
        if ca == Class::Denormal {
            let (e, m) = a.unpack(true);
            Outcome::rounded(exact(a.sign(), e - 63, m as u128), d)
        } else {
            Outcome { v: a.canonical(), exc: d, c1: false }
        }
    };
    if ca == Class::Zero || cb == Class::Infinity {
        return (unchanged(), Some(0));
    }
    let (ea, ma) = a.unpack(true);
    let (eb, mb) = b.unpack(true);
    let diff = ea - eb;
    let (ma, mb) = (ma as u128, mb as u128);
    if diff >= 64 {
        // Partial: reduce the exponent difference by N = 32 + diff mod 32 bits (the
        // quotient truncated, for FPREM1 too), and say so with C2.
        let n = 32 + diff % 32;
        let r = (ma << n) % mb;
        let rr = exact(a.sign(), ea - 63 - n, r);
        return (Outcome::rounded(rr, d), Some(sw::C2));
    }
    let (q, r, sign) = if diff < 0 {
        // |a| < |b|: the quotient is 0, unless FPREM1 rounds |a| > |b|/2 up to 1.
        if ieee && diff == -1 && ma > mb {
            // a - b = -(2mb - ma) * 2^(ea - 63).
            (1u128, 2 * mb - ma, !a.sign())
        } else {
            return (unchanged(), Some(0));
        }
    } else {
        let n = ma << diff;
        let (mut q, mut r) = (n / mb, n % mb);
        let mut sign = a.sign();
        if ieee && (2 * r > mb || (2 * r == mb && q & 1 == 1)) {
            q += 1;
            r = mb - r;
            sign = !sign;
        }
        (q, r, sign)
    };
    let exp2 = if diff < 0 { ea - 63 } else { eb - 63 };
    let rr = if r == 0 {
        float::Rounded { v: F80::zero(a.sign()), exc: 0, c1: false }
    } else {
        exact(sign, exp2, r)
    };
    let cc = if q & 4 != 0 { sw::C0 } else { 0 }
        | if q & 2 != 0 { sw::C3 } else { 0 }
        | if q & 1 != 0 { sw::C1 } else { 0 };
    (Outcome { v: rr.v, exc: rr.exc | d, c1: false }, Some(cc))
}
