//! The transcendental instructions (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X,
//! FYL2XP1) and the constants FLDPI, FLDL2E, FLDL2T, FLDLG2, FLDLN2.
//!
//! The constants are the true values rounded as RC says (as the processor has done since
//! the 486), from 128-bit truncations that carry a sticky bit.
//!
//! The functions are evaluated with 128-bit approximate arithmetic (`approx.rs`) and
//! rounded once, as RC says, by the arithmetic core. FSIN, FCOS, FSINCOS and FPTAN reduce
//! their argument modulo π/2 with the x87's own 66-bit π (0xC90FDAA22168C234C × 2^-66),
//! as Intel documents and as measuring this AMD processor shows (near multiples of π/2
//! the results follow that π, not the true one); operands of magnitude 2^63 or more are
//! left alone with C2 set.
//!
//! What the processor computes, measured on this AMD EPYC (family 19h) against MPFR. A
//! case whose true value lies near a rounding boundary tells on which side the processor's
//! internal value lay; many such cases in a narrow window of operands give its error
//! there (its mean, and its spread from one operand to the next). FYL2X and FYL2XP1 show
//! more: their result is y times an internal log2 value rounded once, so a few hundred y
//! for one x pin that value down exactly (every interval of values consistent with one
//! result, intersected, holds exactly one 68-bit number: no measured x disagreed).
//! - FSIN and FCOS (and FSINCOS) evaluate fixed polynomials on the reduced argument r,
//!   |r| <= π/4: sin r = r + r^3 S(r^2), degree 15, and cos r = 1 + r^2 C(r^2), degree
//!   16. Their mean error against the true functions is smooth and equi-oscillating (about
//!   2^-68.7 relative for sine: a minimax polynomial), so the polynomials were recovered
//!   by a least-squares fit to the measured errors of 200 windows over [0, π/4]:
//!   `SIN_POLY`, `COS_POLY` (residual 0.0007 and 0.0004 units in the last place, the
//!   measurement's noise). The spread around that mean grows as r^2 (up to 0.035 units for
//!   cosine near π/4): it is the rounding of the evaluation, and it is reproduced by
//!   rounding r^2, r^3 and every step of Horner's rule to nearest at 68 bits, then adding
//!   the leading term (r, or 1) exactly before the one final rounding (67 or 69 bits, or
//!   truncation, or -1/2 added outside Horner's rule, or r^3 formed differently all do
//!   measurably worse). With that, 0.0-0.015% of operands still differ (the fit's own
//!   error); on the differential test 2-3 of 3000.
//! - FYL2X computes L = log2 x as a 68-bit value and returns y * L rounded once (C1 and #P
//!   as for any inexact result; #P even when y * L is representable). L is not log2 x
//!   rounded to 68 bits (that is L for 64-76% of x): x = m 2^e with m in [1/√2, √2], s = (m-1)/(m+1)
//!   rounded to 68 bits, A = s * (2/ln 2 rounded to 68 bits) rounded, B = s^3 P(s^2), and
//!   L = round68(round68(e + A) + B). The evidence: L(m 2^e) - e is the same for every e of
//!   a binade; for e = 1000 L is off round68(e + log2 m) by a triangular error of up to
//!   one unit (two roundings in the result's binade) and this formula gives all 3000
//!   measured L exactly (without the reduction to [1/√2, √2], or with (m-1) for s: 66-80%);
//!   for e = 2 and 5, 1970/2000 and 1989/2000 with s, A and the constant rounded and the
//!   true tail for B (each left exact does worse; the constant truncated: 1796). P (degree 21 as s^3 P(s^2),
//!   `LOG_POLY`) is a least-squares fit to 100,000 measured L for e = 0, where B matters
//!   most (residual 0.289 units rms: the final rounding's own 1/√12); evaluated with s^2,
//!   s^3 and each Horner step rounded to 68 bits it gives L exactly for 99.65% of those
//!   operands and 99.9-100% at other exponents; results: 0 of 3000 off.
//! - FYL2XP1 does the same with s = x / (2 + x), 2 + x rounded to 68 bits first (without
//!   that rounding 69% of L for |x| near 2^-43 match, with it all), and L = round68(A +
//!   B): L exactly for all 1000-1500 measured x of each binade from 2^-100 to 2^-13 (both
//!   signs) and for 99.3-99.7% in [1/32, 1/4); 0 of 2913 results off. Beyond 1/√2 - 1 <= x <= √2 - 1
//!   (outside the instruction's domain) the processor does something else, for x below
//!   -0.31 and above 0.43 measurably: there FYL2X's way on 1 + x is taken (with it 82-84%
//!   of L in [1/4, 1/2) of either sign match).
//! - FPATAN rounds the quotient of the smaller by the larger magnitude, q, to 68 bits and
//!   for q <= 1/2 evaluates atan q = q + q^3 Q(q^2), degree 35, with the same 68-bit steps
//!   and q added exactly (for q near 2^-100: q minus something tiny, rounded once, 20000
//!   of 20000). Q (`ATAN_POLY`) is fitted to the measured mean errors of about 230 windows over
//!   [0, 1/2] (residual 0.0005 units); it fails beyond 1/2, where the processor changes
//!   method. The quadrant is added with the x87's 66-bit π, once rounded with the rest
//!   (π/2 - atan q: 15 of 20000 off, against 383 correctly rounded). With that, 7-9 of
//!   20000 off for q in [1/100, 2/5] (84-326 correctly rounded), 38 in [3/10, 1/2];
//!   above 1/2 the true arctangent is used here (π/4 + atan((q-1)/(q+1)) with the same
//!   polynomial, with or without rounding its parts: 401-675 of 20000 off, against 211):
//!   5 of 3000 off in all.
//! - FPTAN and F2XM1 are not reproduced (correctly rounded here: 138 and 86 of 3000 off).
//!   Their error does not vanish as the operand shrinks, so each ends with a rounding of
//!   a full-size value, not with a small term added to an exact leading one. FPTAN: for
//!   |x| near 2^-25 the spread is proportional to the significand (±0.055 units near 1,
//!   ±0.11 near 2) and bell-shaped: two relative errors of about 2^-68 each, as from
//!   rounding two factors near 1; for |x| near 2^-100, where every term but x vanishes,
//!   truncation still gives x minus one unit for half the significands, with no
//!   dependence on any 4 bits of them. Ruled out: sin/cos from the polynomials above with
//!   s, c, their quotient or 1/c rounded to 64-72 bits, sine as r (1 + r^2 S) (649-865 of
//!   20000 off near 10^-6, against 520 correctly rounded); x K rounded to 68 bits then
//!   times 1/K for K = π, π/2, π/4, 1/π, 2/π, 4/π, 2/π66 (50-53% of the signs for |x|
//!   near 2^-100). F2XM1: for x near 2^-100 the internal error spans about 0.7 units of
//!   2^-68 of x's binade (0.047 units in the last place where 2^x - 1 is in x's binade,
//!   0.09 where it is one lower), as from rounding a value of x's magnitude and then
//!   multiplying by about ln 2. Ruled out: x C rounded once for C within 3 units of ln 2
//!   at 68 bits (674-782 of 20000 off, against 320); (x K rounded to 68 bits) times C or
//!   divided by log2 e for K = 1 + j 2^-67 (|j| <= 400) and C within 3 units of ln 2 (no
//!   better than correctly rounded); 2 (x P0 rounded) / Q0 with P0 = 1 + j 2^-67 (|j| <=
//!   300); a degree-14 x P(x) in 68-bit steps (the previous round).
use super::approx::R;
use super::arith::{denormal, nan_check};
use super::float::{self, Env, Precision, exc, round};
use super::load_store::push;
use super::value::{BIAS, Class, F80};
use super::{Fpu, Kind, Outcome, sw};
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
    let w = float::Exact { sign: false, exp2: c.exp - 127, sig: c.sig, sticky: true };
    let env = st.fpu.env().with_pc(Precision::P64);
    let r = round(w, env);
    // Loading a constant raises nothing (no #P) and clears C1.
    push(&mut st.fpu, Outcome::exact(r.v));
    Ok(())
}

// 128-bit approximations (truncated) of the constants the functions need.
const PI_R: R = R::c(0xc90fdaa22168c234c4c6628b80dc1cd1, -126);
const PI_2_R: R = R::c(0xc90fdaa22168c234c4c6628b80dc1cd1, -127);
const LN2_R: R = R::c(0xb17217f7d1cf79abc9e3b39803f2f6af, -128);
const TWO_OVER_PI_R: R = R::c(0xa2f9836e4e441529fc2757d1f534ddc0, -128);
const SQRT2_R: R = R::c(0xb504f333f9de6484597d89b3754abe9f, -127);
/// atan(j/8) for j = 0..=8.
const ATAN_J_8: [R; 9] = [
    R::ZERO,
    R::c(0xfeadd4d5617b6e32c897989f3e888ef7, -131),
    R::c(0xfadbafc96406eb156dc79ef5f7a217e5, -130),
    R::c(0xb7b0ca0f26f784738aa32122dcfe4483, -129),
    R::c(0xed63382b0dda7b456fe445ecbc3a8d03, -129),
    R::c(0x8f005d5ef7f59f9b5c835e1665c43747, -128),
    R::c(0xa4bc7d1934f7092419a87f2a457dac9e, -128),
    R::c(0xb8053e2bc2319e73cb2da55210a4443d, -128),
    R::c(0xc90fdaa22168c234c4c6628b80dc1cd1, -128),
];
/// The x87's π/2 for argument reduction: 0xC90FDAA22168C234C × 2^-67 (68 bits, of which
/// the last two are zero: the 66-bit π).
const PI66_HALF: u128 = 0xC_90FD_AA22_168C_234C;
const PI66_HALF_EXP: i32 = -67;

/// Round an approximation to the 80-bit format as RC says (precision control does not
/// apply to the transcendentals).
fn finish(r: R, env: Env) -> Outcome {
    if r.is_zero() {
        return Outcome::exact(F80::zero(r.neg));
    }
    Outcome::rounded(round(r.to_exact(), env.with_pc(Precision::P64)), 0)
}

/// `sum_{n>=0} c_n t^n` by Horner's rule, where `term(n)` gives c_n, for `n` terms.
fn horner(t: R, n: u32, term: impl Fn(u32) -> R) -> R {
    let mut acc = term(n - 1);
    for i in (0..n - 1).rev() {
        acc = term(i).add(acc.mul(t));
    }
    acc
}

/// The processor's polynomial for sine on the reduced argument: sin r ≈ r + r^3 * S(r^2),
/// S's coefficients here (r^3 to r^15), fitted to its measured errors (see the module docs).
const SIN_POLY: [R; 7] = [
    R { neg: true, exp: -130, m: 0xaaaaaaaaaaaaaa972a5b80f15ee9fac6 }, // -0.166666666666666666402376016602
    R { neg: false, exp: -134, m: 0x8888888888885699ac70c1eb56040d11 }, // 0.00833333333333332250582997529434
    R { neg: true, exp: -140, m: 0xd00d00d00c5369738ac44057aefed2f5 }, // -0.000198412698412548011497257245416
    R { neg: false, exp: -146, m: 0xb8ef1d299846a4a5c9e8711a9b2c2165 }, // 0.00000275573192140650385173189160889
    R { neg: true, exp: -153, m: 0xd7322946b5f6b6c27cef0ee18f3467d4 }, // -0.000000025052104881620433678417856058
    R { neg: false, exp: -160, m: 0xb0904616c62535014b00b66ca0fa3895 }, // 1.60583630961510486593210051203e-10
    R { neg: true, exp: -168, m: 0xd551197628fc743d8e77fc1eaa34d227 }, // -7.57853494671030167410742540605e-13
];
/// Its polynomial for cosine: cos r ≈ 1 - r^2/2 + r^4 * C(r^2), C's coefficients (r^4 to
/// r^16).
const COS_POLY: [R; 7] = [
    R { neg: false, exp: -132, m: 0xaaaaaaaaaaaaaaa4369219f0fbe72bc8 }, // 0.0416666666666666666448013587177
    R { neg: true, exp: -137, m: 0xb60b60b60b609b2576a2dceea8bd23f7 },  // -0.00138888888888888815981434753722
    R { neg: false, exp: -143, m: 0xd00d00d00cab7eeb37b1a84f9d09b2d5 }, // 0.0000248015873015780515081074769951
    R { neg: true, exp: -149, m: 0x93f27dbb3eb0b91b994716444daf3428 }, // -0.000000275573192181620028069501512011
    R { neg: false, exp: -156, m: 0x8f76c698b15deee5fa492e9c5daa50b4 }, // 0.00000000208767549835373700670333045439
    R { neg: true, exp: -164, m: 0xc9c9eaff94f3f62d465562422477cb9d },  // -1.147036198520401397864765876e-11
    R { neg: false, exp: -172, m: 0xd585adf235a525a5a1295e09d9438d92 }, // 4.74114493126003450369402447167e-14
];

/// The precision of the processor's internal arithmetic: 68 significant bits, rounded to
/// nearest after every operation (see the module docs).
const INTERNAL_BITS: u32 = 68;

/// `a * b` and `a + b` as the processor's internal arithmetic does them.
fn mul68(a: R, b: R) -> R {
    a.mul(b).round_to(INTERNAL_BITS)
}

fn add68(a: R, b: R) -> R {
    a.add(b).round_to(INTERNAL_BITS)
}

/// `sum c[i] t^i` by Horner's rule in the internal arithmetic.
fn horner68(t: R, c: &[R]) -> R {
    let mut acc = c[c.len() - 1];
    for &ci in c[..c.len() - 1].iter().rev() {
        acc = add68(mul68(acc, t), ci);
    }
    acc
}

/// -1/2, cosine's second coefficient.
const MINUS_HALF: R = R { neg: true, exp: -128, m: 1 << 127 };

/// sin(r) and cos(r) for |r| <= π/4 (a little more), as the processor evaluates its
/// polynomials: r^2, r^3 and every step of Horner's rule rounded to 68 bits, and the
/// leading term (r, or 1) added exactly, so that the one rounding left is the result's.
fn sin_cos_small(r: R) -> (R, R) {
    let r2 = mul68(r, r);
    let r3 = mul68(r2, r);
    let s = r.add(mul68(horner68(r2, &SIN_POLY), r3));
    let mut c = COS_POLY[COS_POLY.len() - 1];
    for &ci in COS_POLY[..COS_POLY.len() - 1].iter().rev().chain([MINUS_HALF].iter()) {
        c = add68(mul68(c, r2), ci);
    }
    let c = R::ONE.add(mul68(c, r2));
    (s, c)
}

/// sin(x) and cos(x) as the x87 computes them: x reduced modulo its 66-bit π/2
/// (|x| < 2^63).
fn sin_cos(x: F80) -> (R, R) {
    let neg = x.sign();
    let ax = x.abs();
    let (e, m) = ax.unpack(true);
    let (k, r) = if e < -1 {
        (0, R::from_f80(ax))
    } else {
        let k = R::from_f80(ax).mul(TWO_OVER_PI_R).round_int();
        // x - k * π66/2 in units of 2^-67, exactly: the result is small, so wrapping
        // arithmetic modulo 2^128 loses nothing.
        let xs = if e + 4 >= 0 { (m as u128).wrapping_shl((e + 4) as u32) } else { (m as u128) >> -(e + 4) };
        let rr = xs.wrapping_sub((k as u128).wrapping_mul(PI66_HALF)) as i128;
        (k, R::from_int(rr, PI66_HALF_EXP))
    };
    let (s, c) = sin_cos_small(r);
    let (s, c) = match k & 3 {
        0 => (s, c),
        1 => (c, s.neg()),
        2 => (s.neg(), c.neg()),
        _ => (c.neg(), s),
    };
    (if neg { s.neg() } else { s }, c)
}

/// Which of the four: FSIN, FCOS, FPTAN, FSINCOS (the handler's `F` parameter).
pub(crate) const SIN: u8 = 0;
pub(crate) const COS: u8 = 1;
pub(crate) const PTAN: u8 = 2;
pub(crate) const SINCOS: u8 = 3;

/// FSIN, FCOS, FPTAN, FSINCOS.
pub(crate) fn trig<const F: u8>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    let pushes = F == PTAN || F == SINCOS;
    let Some(x) = fpu.get(0) else {
        fpu.sw &= !sw::C2;
        if fpu.stack_fault(false) {
            fpu.set(0, F80::INDEFINITE);
            if pushes {
                fpu.push(F80::INDEFINITE);
            }
        }
        return Ok(());
    };
    if pushes && !fpu.is_empty(7) {
        fpu.sw &= !sw::C2;
        if fpu.stack_fault(true) {
            fpu.set(0, F80::INDEFINITE);
            fpu.push(F80::INDEFINITE);
        }
        return Ok(());
    }
    let env = fpu.env();
    let one = Outcome::exact(F80::ONE);
    // (the value for ST(0), the value pushed if any)
    let (a, b) = match x.class() {
        Class::Unsupported | Class::QNaN | Class::SNaN | Class::Infinity => {
            let o = nan_check(x, x).unwrap_or(Outcome::invalid());
            (o, o)
        }
        Class::Zero => match F {
            SIN => (Outcome::exact(x), one),
            COS => (one, one),
            PTAN => (Outcome::exact(x), one),
            _ => (Outcome::exact(x), one),
        },
        _ if x.exp() as i32 >= BIAS + 63 => {
            // Out of range: the operand stays, C2 is set and C1 cleared (as the processor
            // does).
            fpu.sw = (fpu.sw | sw::C2) & !sw::C1;
            return Ok(());
        }
        c => {
            let d = if c == Class::Denormal { exc::DE } else { 0 };
            if d != 0 && !env.masked(exc::DE) {
                fpu.sw &= !sw::C2;
                fpu.stops(d);
                return Ok(());
            }
            let (s, co) = sin_cos(x);
            let with_d = |o: Outcome| Outcome { exc: o.exc | d, ..o };
            match F {
                SIN => (with_d(finish(s, env)), one),
                COS => (with_d(finish(co, env)), one),
                PTAN => (with_d(finish(s.div(co), env)), one),
                _ => (with_d(finish(s, env)), with_d(finish(co, env))),
            }
        }
    };
    fpu.sw &= !sw::C2;
    if pushes {
        deliver_two(fpu, a, b);
    } else {
        fpu.deliver(0, a, false);
    }
    Ok(())
}

/// Replace ST(0) by `a`, then push `b` (FPTAN, FSINCOS).
fn deliver_two(fpu: &mut Fpu, a: Outcome, b: Outcome) {
    if fpu.stops(a.exc | b.exc) {
        return;
    }
    fpu.set_c1(a.c1);
    fpu.set(0, a.v);
    fpu.push(b.v);
}

/// 2^x - 1.
fn exp2m1(x: R) -> R {
    // Split off an integer part when |x| >= 1 (outside the instruction's domain, where
    // the result is undefined, but something sensible comes out).
    let n = if x.ilogb() >= 0 { x.round_int().clamp(-(1 << 20), 1 << 20) } else { 0 };
    let f = x.sub(R::from_int(n, 0));
    // expm1(z) = z * sum z^k / (k+1)!, |z| < 0.7: 34 terms reach 2^-128. (Each step
    // multiplies by a 128-bit reciprocal rather than dividing: the difference is in the
    // last bits of 128, far below the 64 the result is rounded to.)
    let z = f.mul(LN2_R);
    let inv = reciprocals();
    let mut acc = R::ONE;
    for k in (1..=34usize).rev() {
        acc = R::ONE.add(acc.mul(z).mul(inv[k]));
    }
    let e = z.mul(acc);
    if n == 0 {
        return e;
    }
    let p = e.add(R::ONE);
    R { exp: p.exp + n as i32, ..p }.sub(R::ONE)
}

pub(crate) fn f2xm1(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    let Some(x) = fpu.get(0) else {
        if fpu.stack_fault(false) {
            fpu.set(0, F80::INDEFINITE);
        }
        return Ok(());
    };
    let env = fpu.env();
    let o = match x.class() {
        Class::Unsupported | Class::QNaN | Class::SNaN => nan_check(x, x).unwrap_or(Outcome::invalid()),
        Class::Zero => Outcome::exact(x),
        Class::Infinity => Outcome::exact(if x.sign() { F80::ONE.neg() } else { x }),
        // Outside the domain (|x| > 1) the processor leaves the operand alone but for #P.
        _ if x.exp() as i32 > BIAS || (x.exp() as i32 == BIAS && x.sig != 1 << 63) => {
            Outcome { v: x, exc: exc::PE, c1: false }
        }
        c => {
            let d = if c == Class::Denormal { exc::DE } else { 0 };
            if d != 0 && !env.masked(exc::DE) {
                Outcome { v: x, exc: d, c1: false }
            } else {
                let o = finish(exp2m1(R::from_f80(x)), env);
                Outcome { exc: o.exc | d, ..o }
            }
        }
    };
    fpu.deliver(0, o, false);
    Ok(())
}

/// 2/ln 2 rounded to 68 bits: the leading coefficient of the processor's logarithm.
const TWO_LOG2E_68: R = R::c(0xb8aa3b295c17f0bbc000000000000000, -126);
/// The rest of its polynomial for 2 log2(e) atanh(s) = log2((1+s)/(1-s)):
/// `s * TWO_LOG2E_68 + s^3 * P(s^2)`, P's coefficients (s^3 to s^21), fitted to the
/// processor's internal values measured on 100000 operands (see the module docs).
const LOG_POLY: [R; 10] = [
    R { neg: false, exp: -128, m: 0xf6384ee1d01feb58d3a259425c9c5361 }, // 0.961796693925975600777668
    R { neg: false, exp: -128, m: 0x93bb62877ce0847ce2d98ae1427dcba0 }, // 0.577078016355587371075626
    R { neg: false, exp: -129, m: 0xd30bb153d64180f8cf2a8cde2efcd9c1 }, // 0.412198583110810374912574
    R { neg: false, exp: -129, m: 0xa42589ec1279a801e39b5763eba83796 }, // 0.320598897998240872693332
    R { neg: false, exp: -129, m: 0x864d4246a34ba6a45c17166906a0e7a9 }, // 0.262308188555514567044878
    R { neg: false, exp: -130, m: 0xe347ab40144338375c08f4b1bc72c31e }, // 0.221953082834320997913408
    R { neg: false, exp: -130, m: 0xc4f9fbb6a719db3c9da220de4dfd0f80 }, // 0.192359860442388935902678
    R { neg: false, exp: -130, m: 0xadcc48c95915ffcb9cbc3b1e810c7717 }, // 0.169724595345789096967893
    R { neg: false, exp: -130, m: 0x9b09a29a58aa5c84d65793363d91e3d1 }, // 0.151403942747644003754047
    R { neg: false, exp: -130, m: 0x9b2be8f070b18da76c98609ec9fde680 }, // 0.151534690547281017579398
];

/// log2((1+s)/(1-s)) in the processor's two parts, each rounded to 68 bits: the leading
/// term `s * 2/ln 2` and the rest `s^3 * P(s^2)` (|s| <= 3 - 2√2, a little more).
fn log_parts(s: R) -> (R, R) {
    let a = mul68(s, TWO_LOG2E_68);
    let s2 = mul68(s, s);
    let s3 = mul68(s2, s);
    (a, mul68(s3, horner68(s2, &LOG_POLY)))
}

/// log2(v) for v > 0 as the processor computes it, a 68-bit value: v = m 2^e with m in
/// [1/√2, √2], s = (m-1)/(m+1) rounded to 68 bits, then (e + leading term) + rest, each
/// sum rounded to 68 bits.
fn log2_68(v: R) -> R {
    let mut e = v.ilogb();
    let mut m = R { exp: -127, ..v };
    if m.cmp_abs(SQRT2_R) == std::cmp::Ordering::Greater {
        m.exp -= 1;
        e += 1;
    }
    let s = m.sub(R::ONE).div(m.add(R::ONE)).round_to(INTERNAL_BITS);
    let (a, b) = log_parts(s);
    add68(add68(R::from_int(e as i128, 0), a), b)
}

/// √2 - 1 and 1 - √2/2: FYL2XP1's own formula serves 1 + x in [√2/2, √2].
const SQRT2_M1: R = R::c(0xd413cccfe779921165f626cdd52afa7c, -129);
const ONE_M_SQRT2_2: R = R::c(0x95f619980c4336f74d04ec99156a82c1, -129);

/// log2(1 + x) for x > -1 as the processor computes it (68 bits): s = x / (2 + x), with
/// 2 + x rounded to 68 bits first (measured: small operands show it), then the leading
/// term + the rest. Outside [1 - √2/2, √2 - 1] (beyond the instruction's domain) it takes
/// FYL2X's way with 1 + x.
fn log2p1_68(x: R) -> R {
    let over = if x.neg { x.cmp_abs(ONE_M_SQRT2_2) } else { x.cmp_abs(SQRT2_M1) };
    if over == std::cmp::Ordering::Greater {
        return log2_68(R::ONE.add(x));
    }
    let d = R::from_int(2, 0).add(x).round_to(INTERNAL_BITS);
    let s = x.div(d).round_to(INTERNAL_BITS);
    let (a, b) = log_parts(s);
    add68(a, b)
}

/// `y * l` for a 68-bit `l`, rounded once as RC says, always inexact (#P: the processor
/// reports it even when the product happens to be representable).
fn finish_product(l: R, y: F80, env: Env) -> Outcome {
    let yr = R::from_f80(y);
    if l.is_zero() || yr.is_zero() {
        return Outcome { v: F80::zero(l.neg != yr.neg), exc: exc::PE, c1: false };
    }
    // The exact 132-bit product of the 68 and 64 significant bits, kept as its top 128
    // bits and whether the 4 below are zero.
    let (l68, y64) = (l.m >> 60, yr.m >> 64);
    let low = (l68 & 15) * y64;
    let sig = (l68 >> 4) * y64 + (low >> 4);
    let e = float::Exact { sign: l.neg != yr.neg, exp2: l.exp + yr.exp + 128, sig, sticky: low & 15 != 0 };
    Outcome::rounded(round(e, env.with_pc(Precision::P64)), exc::PE)
}

/// FYL2X (`P1` false): ST(1) * log2(ST(0)); FYL2XP1 (true): ST(1) * log2(ST(0) + 1). Pops.
pub(crate) fn fyl2x<const P1: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    let (Some(x), Some(y)) = (fpu.get(0), fpu.get(1)) else {
        if fpu.stack_fault(false) {
            fpu.set(1, F80::INDEFINITE);
            fpu.pop();
        }
        return Ok(());
    };
    let o = ylog(x, y, P1, fpu.env());
    fpu.deliver(1, o, true);
    Ok(())
}

fn ylog(x: F80, y: F80, p1: bool, env: Env) -> Outcome {
    if let Some(o) = nan_check(x, y) {
        return o;
    }
    let (cx, cy) = (x.class(), y.class());
    let invalid = Outcome::invalid();
    // The logarithm's special values: log2 of a negative number is invalid, log2(0) is
    // -∞ (#Z if the other factor is finite and not zero), log2(+∞) = +∞, log2(1) = +0;
    // then the product follows the rules of multiplication.
    if p1 && x.sign() && cx != Class::Infinity && cx != Class::Zero && R::from_f80(x).cmp_abs(R::ONE).is_ge()
    {
        // 1 + x <= 0, far outside the domain (the result is undefined): x, inexact.
        return Outcome { v: x, exc: exc::PE, c1: false };
    }
    if x.sign() && (cx == Class::Infinity || (!p1 && cx != Class::Zero)) {
        return invalid;
    }
    let (zy, iy) = (cy == Class::Zero, cy == Class::Infinity);
    // A denormal operand raises #D, unless the result is invalid or a division by zero.
    let d = denormal(x, y);
    let exact = |v: F80, e: u16| {
        if e & (exc::IE | exc::ZE) == 0 && d != 0 && !env.masked(exc::DE) {
            return Outcome { v: y, exc: d, c1: false };
        }
        Outcome { v, exc: if e & (exc::IE | exc::ZE) == 0 { e | d } else { e }, c1: false }
    };
    // log2 of x (or 1 + x) as a special value, if it is one: (negative, zero, infinite).
    let special = match cx {
        Class::Infinity => Some((false, false, true)),
        Class::Zero if p1 => Some((x.sign(), true, false)),
        Class::Zero => Some((true, false, true)),
        _ if !p1 && x.exp() as i32 == BIAS && x.sig == 1 << 63 => Some((false, true, false)),
        _ => None,
    };
    match special {
        Some((lneg, lzero, linf)) => {
            let sign = lneg != y.sign();
            if (lzero && iy) || (linf && zy) {
                exact(invalid.v, exc::IE)
            } else if linf {
                // -∞ from log2(0) times a finite non-zero y is a division by zero.
                let e = if !p1 && cx == Class::Zero && !iy { exc::ZE } else { 0 };
                exact(F80::infinity(sign), e)
            } else {
                exact(F80::zero(sign), 0)
            }
        }
        None => {
            if d != 0 && !env.masked(exc::DE) {
                return Outcome { v: y, exc: d, c1: false };
            }
            let xr = R::from_f80(x);
            let l = if p1 { log2p1_68(xr) } else { log2_68(xr) };
            if iy {
                // ∞ times log2(x): its sign is log2(x)'s (x != 1 here).
                return exact(F80::infinity(l.neg != y.sign()), 0);
            }
            if zy {
                return exact(F80::zero(l.neg != y.sign()), 0);
            }
            let o = finish_product(l, y, env);
            Outcome { exc: o.exc | d, ..o }
        }
    }
}

/// The processor's polynomial for the arctangent: atan t = t + t^3 Q(t^2) for
/// 0 <= t <= 1/2, Q's coefficients (t^3 to t^35), fitted to its measured errors (see the
/// module docs).
const ATAN_POLY: [R; 17] = [
    R { neg: true, exp: -129, m: 0xaaaaaaaaaaaaaaa1599eb298fbb4d372 }, // -0.333333333333333333080807
    R { neg: false, exp: -130, m: 0xccccccccccccc29a0105e29c532f4c2b }, // 0.199999999999999964617116
    R { neg: true, exp: -130, m: 0x924924924922e54677e25bed9a54a9c1 }, // -0.142857142857141368713868
    R { neg: false, exp: -131, m: 0xe38e38e38e227c03fbcecf39a8655a21 }, // 0.111111111111101161535235
    R { neg: true, exp: -131, m: 0xba2e8ba2f3cfcd6bd71ec37050d9cbc7 }, // -0.090909090910351065784828
    R { neg: false, exp: -131, m: 0x9d89d89f75be8ecd827eea5321a61185 }, // 0.0769230769789992753541563
    R { neg: true, exp: -131, m: 0x888888b3afd9de8f6b602fdf124538a5 }, // -0.0666666679226012834362378
    R { neg: false, exp: -132, m: 0xf0f0f5bc8f17fee0fc68ac72bf58c5cc }, // 0.0588235472759546230970858
    R { neg: true, exp: -132, m: 0xd794622ce8f6e2dcf3ebea7db12db9ee }, // -0.0526317439058041372366087
    R { neg: false, exp: -132, m: 0xc30d1c56b4b469aab9291f885099b178 }, // 0.0476199252109782228983904
    R { neg: true, exp: -132, m: 0xb216ca5333fbf930c35ff5898e47f224 }, // -0.0434787658043651544571156
    R { neg: false, exp: -132, m: 0xa3b28dae99b6acb1128190e2b8158860 }, // 0.0399652037100232503556782
    R { neg: true, exp: -132, m: 0x96593380f7adaa1fab20bc30148f35e1 }, // -0.0367061626306894127726382
    R { neg: false, exp: -132, m: 0x861ff50bf5e99ef5bdd218eb40829940 }, // 0.0327453205239812963205853
    R { neg: true, exp: -133, m: 0xd6ff1d6654f7fce9f04ffcc19bfffb41 }, // -0.0262446951116137570042121
    R { neg: false, exp: -133, m: 0x83924036f4814654ef84c8a01f7220c1 }, // 0.0160609487717381676767386
    R { neg: true, exp: -135, m: 0xae00d18eed88b47c9c4edf580bcbdf80 }, // -0.0053101561769433232314654
];

/// atan(t) for a 68-bit t in [0, 1/2] as the processor evaluates it: t^2, t^3 and every
/// step of Horner's rule rounded to 68 bits, and t added exactly (one rounding is left,
/// the result's).
fn atan_small(t: R) -> R {
    let t2 = mul68(t, t);
    let t3 = mul68(t2, t);
    t.add(mul68(horner68(t2, &ATAN_POLY), t3))
}

/// 1/(2n+1) for n < 20 (the arctangent series' coefficients), made once: they are the
/// same every time, and dividing costs far more than the rest of the series.
fn odd_reciprocals() -> &'static [R; 20] {
    static INV: std::sync::OnceLock<[R; 20]> = std::sync::OnceLock::new();
    INV.get_or_init(|| std::array::from_fn(|n| R::ONE.div_int(2 * n as u64 + 1)))
}

/// 1/(k+1) for k < 35 (the exponential series' factors), made once.
fn reciprocals() -> &'static [R; 35] {
    static INV: std::sync::OnceLock<[R; 35]> = std::sync::OnceLock::new();
    INV.get_or_init(|| std::array::from_fn(|k| R::ONE.div_int(k as u64 + 1)))
}

/// atan(t) for t in [0, 1].
fn atan01(t: R) -> R {
    let j = t.mul(R::from_int(8, 0)).round_int().clamp(0, 8) as usize;
    let c = R::from_int(j as i128, -3);
    // atan t = atan c + atan((t - c) / (1 + t c)), the second argument below 1/16.
    let u = t.sub(c).div(R::ONE.add(t.mul(c)));
    let u2 = u.mul(u).neg();
    let inv = odd_reciprocals();
    let s = horner(u2, 20, |n| inv[n as usize]);
    ATAN_J_8[j].add(u.mul(s))
}

/// FPATAN: atan(ST(1) / ST(0)) in the quadrant of (ST(0), ST(1)); pops.
pub(crate) fn fpatan(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Arith, false)?;
    let fpu = &mut st.fpu;
    let (Some(x), Some(y)) = (fpu.get(0), fpu.get(1)) else {
        if fpu.stack_fault(false) {
            fpu.set(1, F80::INDEFINITE);
            fpu.pop();
        }
        return Ok(());
    };
    let o = atan2(y, x, fpu.env());
    fpu.deliver(1, o, true);
    Ok(())
}

fn atan2(y: F80, x: F80, env: Env) -> Outcome {
    if let Some(o) = nan_check(y, x) {
        return o;
    }
    let d = denormal(x, y);
    if d != 0 && !env.masked(exc::DE) {
        return Outcome { v: y, exc: d, c1: false };
    }
    let (cx, cy) = (x.class(), y.class());
    let with_sign = |r: R| if y.sign() { r.neg() } else { r };
    let angle = |r: R| {
        let o = finish(with_sign(r), env);
        Outcome { exc: o.exc | d, ..o }
    };
    let pi_4 = R { exp: PI_R.exp - 2, ..PI_R };
    let three_pi_4 = PI_R.sub(pi_4);
    match (cx, cy) {
        (_, Class::Zero) => {
            if x.sign() {
                angle(PI_R)
            } else {
                Outcome { v: y, exc: d, c1: false }
            }
        }
        (Class::Infinity, Class::Infinity) => angle(if x.sign() { three_pi_4 } else { pi_4 }),
        (_, Class::Infinity) | (Class::Zero, _) => angle(PI_2_R),
        (Class::Infinity, _) => {
            if x.sign() {
                angle(PI_R)
            } else {
                Outcome { v: F80::zero(y.sign()), exc: d, c1: false }
            }
        }
        _ => {
            let (ay, ax) = (R::from_f80(y).abs(), R::from_f80(x).abs());
            let swap = ay.cmp_abs(ax) == std::cmp::Ordering::Greater;
            let t = if swap { ax.div(ay) } else { ay.div(ax) };
            // The processor rounds the quotient to 68 bits; up to 1/2 its polynomial
            // follows (measured); above, the true arctangent (not reproduced).
            let t68 = t.round_to(INTERNAL_BITS);
            let a = if t68.ilogb() < -1 { atan_small(t68) } else { atan01(t) };
            // The quadrant is added with the x87's π too (measured: that is what this
            // processor does).
            let p66 = R::from_int(PI66_HALF as i128, PI66_HALF_EXP);
            let a = if swap { p66.sub(a) } else { a };
            let a = if x.sign() { R { exp: p66.exp + 1, ..p66 }.sub(a) } else { a };
            angle(a)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 68-bit value `m68 * 2^(e - 68)`.
    fn v68(neg: bool, m68: u128, e: i32) -> (bool, i32, u128) {
        (neg, e - 128, m68 << 60)
    }

    fn parts(r: R) -> (bool, i32, u128) {
        (r.neg, r.exp, r.m)
    }

    /// The processor's internal log2 values, measured on this AMD EPYC: FYL2X(x, y) for
    /// thousands of y are all y times one 68-bit value, rounded once; that value is
    /// log2(x) rounded to 68 bits only some of the time (log2 3 is rounded up here, from
    /// 0.0013 units above the lower neighbour).
    #[test]
    fn log2_is_the_processors_68_bit_value() {
        let f = |se: u16, sig: u64| R::from_f80(F80::new(se & 0x8000 != 0, se & 0x7FFF, sig));
        let cases = [
            (f(0x4000, 0xc000000000000000), v68(false, 0xcae00d1cfdeb43cfe, 1)), // 3
            (f(0x4002, 0xa000000000000000), v68(false, 0xd49a784bcd1b8afe5, 2)), // 10
            (f(0x3ffb, 0xcccccccccccccccd), v68(true, 0xd49a784bcd1b8afe3, 2)),  // 0.1
            (f(0x4062, 0xc9f2c9cd04674edf), v68(false, 0xc750d0c71049d24e7, 7)), // 1e30
        ];
        for (x, want) in cases {
            assert_eq!(parts(log2_68(x)), want, "log2 of {x:?}");
        }
        let p1 = [
            (f(0x3ff5, 0x83126e978d4fdf3b), v68(false, 0xbd009fd65363545ca, -9)), // 1e-3
            (f(0xbff5, 0x83126e978d4fdf3b), v68(true, 0xbd31087fdb8a5996d, -9)),  // -1e-3
            (f(0x3fdd, 0xdbe6fecebdedd5bf), v68(false, 0x9ea0415b6f908c1ec, -32)), // 1e-10
        ];
        for (x, want) in p1 {
            assert_eq!(parts(log2p1_68(x)), want, "log2(1 + {x:?})");
        }
    }
}
