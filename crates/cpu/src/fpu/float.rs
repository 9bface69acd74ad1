//! Exact results and their one rounding: the arithmetic core every x87 operation shares.
//!
//! An operation first computes its result exactly, as an [`Exact`]: integer arithmetic on
//! the 64-bit significands gives sums (the bits shifted out of the smaller operand jammed
//! into the last bit), products and quotients to 128 bits and square roots to 70, each
//! with a sticky bit for anything dropped, which is all a correct rounding needs. Then
//! [`round`] rounds it exactly *once* to what the control word asks: 24, 53 or 64 bits of
//! significand (precision control, keeping the 80-bit format's exponent range: no double
//! rounding), in the rounding mode RC, setting #P and C1 (rounded away from zero).
//!
//! Results whose exponent keeps them well inside the range are rounded on a fast path
//! here. Everything else — tiny results (denormalized, with #U decided after rounding as
//! the x87 does), overflows (to infinity or the largest number, by RC), the unmasked
//! underflow and overflow results (the exact result scaled by 2^±24576, then rounded),
//! FSCALE, and stores to `float`/`double` outside their normal range — goes to
//! rustc_apfloat: the exact value becomes a [`Wide`] (68 bits rounded to odd, with a
//! 20-bit exponent no x87 result can leave; one more rounding to 66 bits or fewer from it
//! is correct), and its `convert` rounds into semantics with the x87's precisions and
//! exponent range. A unit test checks the fast path against the library on 200,000
//! generated results, and tests/x87.rs checks both against the processor.
//!
//! Why rustc_apfloat: it is LLVM's APFloat, well kept (the Rust compiler folds constants
//! with it), pure Rust (no C toolchain, no CMake), takes the rounding mode per call and
//! returns the exception flags per call (no global state, so Guests on several threads
//! cannot disturb each other), and lets us define the precision-control formats. Berkeley
//! SoftFloat (through softfloat-sys) has x87 precision control built in, but its crate
//! needs CMake to build, keeps the rounding mode and flags in globals, and cannot give the
//! unmasked overflow/underflow results. Neither is fast: the common case does not need
//! them, hence the fast path.

use super::value::{BIAS, F80};
use rustc_apfloat::ieee::{IeeeFloat, Semantics, X87DoubleExtendedS};
use rustc_apfloat::{Float, FloatConvert, Round, Status, StatusAnd};
use std::cmp::Ordering;

/// 68 bits of significand, 20 of exponent: room for any exact x87 result's exponent and
/// two bits more than the widest destination, as rounding to odd needs.
pub(crate) struct WideS;
impl Semantics for WideS {
    const BITS: usize = 88;
    const EXP_BITS: usize = 20;
}
pub(crate) type Wide = IeeeFloat<WideS>;
const WIDE_P: u32 = 68;
/// Wide's exponent bias (its encoding is the IEEE one).
const WIDE_BIAS: i32 = (1 << 19) - 1;

/// Precision control "single": 24 bits with the 80-bit format's exponent range.
pub(crate) struct Pc24S;
impl Semantics for Pc24S {
    const BITS: usize = 24 + 15;
    const EXP_BITS: usize = 15;
}
/// Precision control "double": 53 bits with the 80-bit format's exponent range.
pub(crate) struct Pc53S;
impl Semantics for Pc53S {
    const BITS: usize = 53 + 15;
    const EXP_BITS: usize = 15;
}
type X87 = IeeeFloat<X87DoubleExtendedS>;

/// Exception flags (status-word bits 0..5).
pub(crate) mod exc {
    pub const IE: u16 = 1 << 0;
    pub const DE: u16 = 1 << 1;
    pub const ZE: u16 = 1 << 2;
    pub const OE: u16 = 1 << 3;
    pub const UE: u16 = 1 << 4;
    pub const PE: u16 = 1 << 5;
}

/// The unmasked-overflow and -underflow results are scaled by 2^∓24576 (3 × 2^13).
const WRAP: i32 = 24576;

/// Which precision a result is rounded to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Precision {
    P24,
    P53,
    P64,
}

/// What the control word says about rounding a result.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Env {
    pub pc: Precision,
    pub rc: Round,
    /// Exception masks (control-word bits 0..5): a set bit masks the exception.
    pub masks: u16,
}

impl Env {
    pub fn from_cw(cw: u16) -> Env {
        let pc = match (cw >> 8) & 3 {
            0 => Precision::P24,
            2 => Precision::P53,
            // 1 is reserved; the processor rounds to 64 bits then, as for 3.
            _ => Precision::P64,
        };
        Env { pc, rc: rounding(cw), masks: cw & 0x3F }
    }

    pub fn with_pc(self, pc: Precision) -> Env {
        Env { pc, ..self }
    }

    pub fn masked(&self, e: u16) -> bool {
        self.masks & e == e
    }
}

/// The rounding mode of control word `cw`.
pub(crate) fn rounding(cw: u16) -> Round {
    match (cw >> 10) & 3 {
        0 => Round::NearestTiesToEven,
        1 => Round::TowardNegative,
        2 => Round::TowardPositive,
        _ => Round::TowardZero,
    }
}

/// A rounded result: the value, the exceptions it raised (#P, #U, #O) and C1 (the
/// significand was rounded away from zero).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rounded {
    pub v: F80,
    pub exc: u16,
    pub c1: bool,
}

/// An exact result, or one that lost only bits that `sticky` (or a set last bit of
/// `sig`, for a sum) stands for: `(-1)^sign * sig * 2^exp2`, plus something below `sig`'s
/// last bit when `sticky` is set.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exact {
    pub sign: bool,
    pub exp2: i32,
    pub sig: u128,
    pub sticky: bool,
}

impl Exact {
    pub fn to_wide(self) -> Wide {
        from_parts(self.sign, self.exp2, self.sig, self.sticky)
    }

    /// The exponent of the leading bit, and the significand normalized to bit 127
    /// (`sig` not zero).
    fn normalized(self) -> (i32, u128) {
        let lz = self.sig.leading_zeros();
        (self.exp2 + 127 - lz as i32, self.sig << lz)
    }
}

/// Round the normalized significand `sig` (bit 127 set, `sticky` below it) to `p` bits as
/// `rc` says: the rounded `p`-bit significand (which may have carried to 2^p), whether it
/// was inexact, and whether it was rounded away from zero.
#[inline]
fn round_sig(sig: u128, sticky: bool, negative: bool, p: u32, rc: Round) -> (u128, bool, bool) {
    let q = sig >> (128 - p);
    let rest = sig << p;
    let inexact = rest != 0 || sticky;
    let half = 1u128 << 127;
    let up = match rc {
        Round::NearestTiesToEven => rest > half || (rest == half && (sticky || q & 1 == 1)),
        Round::TowardPositive => inexact && !negative,
        Round::TowardNegative => inexact && negative,
        _ => false,
    };
    (q + up as u128, inexact, up)
}

/// The fast path of [`round`]: a result whose exponent keeps it away from both ends of the
/// range, so it can be neither tiny nor overflow, is rounded here directly. (`round` takes
/// rustc_apfloat's path for everything else; `tests::the_fast_path_agrees_with_the_library`
/// checks the two against each other.)
#[inline]
fn round_fast(e: Exact, env: Env) -> Option<Rounded> {
    if e.sig == 0 {
        return None;
    }
    let (exp, sig) = e.normalized();
    if !(1 - BIAS..BIAS).contains(&exp) {
        return None;
    }
    let p = match env.pc {
        Precision::P24 => 24,
        Precision::P53 => 53,
        Precision::P64 => 64,
    };
    let (q, inexact, up) = round_sig(sig, e.sticky, e.sign, p, env.rc);
    let (q, exp) = if q >> p != 0 { (q >> 1, exp + 1) } else { (q, exp) };
    let v = F80::new(e.sign, (exp + BIAS) as u16, (q << (64 - p)) as u64);
    Some(Rounded { v, exc: if inexact { exc::PE } else { 0 }, c1: up })
}

/// Round a finite value to a narrower IEEE format (24 bits with exponents `emin..=emax`
/// for `float`, 53 for `double`) when it lands in that format's normal range: the
/// format's bits and (inexact, rounded away from zero). `None` for everything else (a
/// tiny, overflowing or special value), which the caller gives rustc_apfloat.
pub(crate) fn narrow_fast(v: F80, p: u32, emin: i32, emax: i32, rc: Round) -> Option<(u64, bool, bool)> {
    if v.sig == 0 || v.exp() == 0x7FFF {
        return None;
    }
    let (exp, sig) = v.unpack(true);
    if !(emin..emax).contains(&exp) {
        return None;
    }
    let (q, inexact, up) = round_sig((sig as u128) << 64, false, v.sign(), p, rc);
    let (q, exp) = if q >> p != 0 { (q >> 1, exp + 1) } else { (q, exp) };
    // The biased exponent (the format's bias is emax) above the fraction bits.
    let frac = q as u64 & ((1u64 << (p - 1)) - 1);
    let width = p + exp_width(p);
    let word = (v.sign() as u64) << (width - 1) | ((exp + emax) as u64) << (p - 1) | frac;
    Some((word, inexact, up))
}

/// The exponent field's width of the IEEE format with `p` bits of precision (float or
/// double).
const fn exp_width(p: u32) -> u32 {
    if p == 24 { 8 } else { 11 }
}

/// A finite value of the 80-bit format (or a pseudo-denormal) as a [`Wide`] (exactly).
pub(crate) fn wide(v: F80) -> Wide {
    match v.exp() {
        0x7FFF => Wide::INFINITY.copy_sign_of(v.sign()),
        _ if v.sig == 0 => Wide::ZERO.copy_sign_of(v.sign()),
        _ => {
            let (e, sig) = v.unpack(true);
            from_parts(v.sign(), e - 63, sig as u128, false)
        }
    }
}

trait SignOf {
    fn copy_sign_of(self, negative: bool) -> Self;
}
impl<S: Semantics> SignOf for IeeeFloat<S> {
    fn copy_sign_of(self, negative: bool) -> Self {
        if self.is_negative() != negative { -self } else { self }
    }
}

/// `(-1)^sign * (sig + sticky) * 2^exp2`, rounded to odd at Wide's precision (exact if it
/// fits): `sticky` says that something non-zero below `sig`'s last bit was dropped.
pub(crate) fn from_parts(sign: bool, mut exp2: i32, mut sig: u128, mut sticky: bool) -> Wide {
    if sig == 0 {
        return Wide::ZERO.copy_sign_of(sign);
    }
    let width = 128 - sig.leading_zeros();
    if width > WIDE_P {
        let sh = width - WIDE_P;
        sticky |= sig & ((1u128 << sh) - 1) != 0;
        sig >>= sh;
        exp2 += sh as i32;
    } else {
        let sh = WIDE_P - width;
        sig <<= sh;
        exp2 -= sh as i32;
    }
    if sticky {
        sig |= 1;
    }
    // The value is sig * 2^exp2 with sig's top bit at 2^67: the unbiased exponent is
    // exp2 + 67.
    let e = exp2 + (WIDE_P as i32 - 1);
    let biased = (e + WIDE_BIAS) as u128;
    let frac = sig & ((1u128 << (WIDE_P - 1)) - 1);
    Wide::from_bits((sign as u128) << 87 | biased << (WIDE_P - 1) | frac)
}

/// The sign and the significand and exponent of a finite non-zero value in integers:
/// value = sig * 2^exp2 with sig normalized to 64 bits.
fn parts(v: F80) -> (bool, i32, u64) {
    let (e, sig) = v.unpack(true);
    (v.sign(), e - 63, sig)
}

/// a + b for finite values: exact but for the bits shifted out of the smaller operand,
/// which are jammed into the sum's last bit (a zero sum is +0; callers fix its sign).
pub(crate) fn add(a: F80, b: F80) -> Exact {
    if a.sig == 0 || b.sig == 0 {
        let v = if a.sig == 0 { b } else { a };
        if v.sig == 0 {
            return Exact { sign: false, exp2: 0, sig: 0, sticky: false };
        }
        let (s, e, m) = parts(v);
        return Exact { sign: s, exp2: e, sig: m as u128, sticky: false };
    }
    let (sa, ea, ma) = parts(a);
    let (sb, eb, mb) = parts(b);
    // x is the operand of larger magnitude.
    let ((sx, ex, mx), (sy, ey, my)) =
        if (ea, ma) >= (eb, mb) { ((sa, ea, ma), (sb, eb, mb)) } else { ((sb, eb, mb), (sa, ea, ma)) };
    // 62 bits of room below the significands; what the smaller one loses beyond them is
    // jammed into its last bit, which is all rounding needs to know of it.
    let x = (mx as u128) << 62;
    let y = (my as u128) << 62;
    let d = (ex - ey) as u32;
    let y = if d == 0 {
        y
    } else if d >= 127 {
        1
    } else {
        (y >> d) | ((y << (128 - d)) != 0) as u128
    };
    let sig = if sx == sy { x + y } else { x - y };
    Exact { sign: sx, exp2: ex - 62, sig, sticky: false }
}

/// a * b for finite non-zero values.
pub(crate) fn mul(a: F80, b: F80) -> Exact {
    let (sa, ea, ma) = parts(a);
    let (sb, eb, mb) = parts(b);
    Exact { sign: sa != sb, exp2: ea + eb, sig: ma as u128 * mb as u128, sticky: false }
}

/// a / b for finite non-zero values.
pub(crate) fn div(a: F80, b: F80) -> Exact {
    let (sa, ea, ma) = parts(a);
    let (sb, eb, mb) = parts(b);
    // 2^63 <= ma, mb < 2^64: the quotient of ma * 2^127 by mb has 127 or 128 bits, far more
    // than any rounding needs, and the remainder says whether it is exact.
    let n = (ma as u128) << 63;
    let (q, r) = (n / mb as u128, n % mb as u128);
    let n2 = r << 64;
    let (q2, r2) = (n2 / mb as u128, n2 % mb as u128);
    // q * 2^64 + q2 = floor(ma * 2^127 / mb), below 2^128 since q < 2^64.
    let quotient = (q << 64) | q2;
    Exact { sign: sa != sb, exp2: ea - eb - 127, sig: quotient, sticky: r2 != 0 }
}

/// The square root of a finite positive value.
pub(crate) fn sqrt(a: F80) -> Exact {
    let (_, mut e, m) = parts(a);
    // value = m * 2^e; make e even so the root is sqrt(m') * 2^(e/2).
    let mut n = m as u128;
    if e & 1 != 0 {
        n <<= 1;
        e -= 1;
    }
    // n < 2^66; with 38 pairs of zero bits below it the radicand has about 141 bits, so
    // the root has at least 70, two more than any rounding needs.
    let (root, rem_nonzero) = isqrt_shifted(n, 38);
    // value = n * 4^38 * 2^(e - 76), and e - 76 is even.
    Exact { sign: false, exp2: (e - 76) / 2, sig: root, sticky: rem_nonzero }
}

/// The integer square root of `n * 4^k` (n < 2^66) and whether it is inexact, digit by
/// digit (two bits of radicand per bit of root), never holding the whole radicand.
fn isqrt_shifted(n: u128, k: u32) -> (u128, bool) {
    // Radicand bits, most significant pair first: n occupies pairs above the k zero pairs.
    let pairs_n = (128 - n.leading_zeros()).div_ceil(2);
    let total = pairs_n + k;
    let mut root: u128 = 0;
    let mut rem: u128 = 0;
    for i in (0..total).rev() {
        let pair = if i >= k { (n >> (2 * (i - k))) & 3 } else { 0 };
        rem = (rem << 2) | pair;
        let trial = (root << 2) | 1;
        root <<= 1;
        if rem >= trial {
            rem -= trial;
            root |= 1;
        }
    }
    (root, rem != 0)
}

/// Round a result once, as the control word says, into the 80-bit format.
#[inline]
pub(crate) fn round(e: Exact, env: Env) -> Rounded {
    match round_fast(e, env) {
        Some(r) => r,
        None => round_wide(e.to_wide(), env),
    }
}

/// Round a wide result (exact or rounded to odd) once, as the control word says, into the
/// 80-bit format, with rustc_apfloat.
pub(crate) fn round_wide(w: Wide, env: Env) -> Rounded {
    match env.pc {
        Precision::P24 => round_to::<Pc24S>(w, env),
        Precision::P53 => round_to::<Pc53S>(w, env),
        Precision::P64 => round_to::<X87DoubleExtendedS>(w, env),
    }
}

/// 2^-16382, the smallest normal.
fn min_normal() -> Wide {
    from_parts(false, 1 - BIAS, 1, false)
}

/// Is the result tiny? The x87 decides after rounding (as if the exponent were unbounded):
/// a result that rounds up to the smallest normal is not tiny.
fn is_tiny<P: Semantics>(w: Wide, rc: Round) -> bool {
    if w.is_zero() || w.ilogb() >= 1 - BIAS {
        return false;
    }
    // Round to P's precision with no exponent limit: scale into P's normal range first.
    let scaled = w.scalbn(WRAP);
    let r: StatusAnd<IeeeFloat<P>> = scaled.convert_r(rc, &mut false);
    let back: Wide = r.value.convert(&mut false).value;
    back.abs().partial_cmp(&min_normal().scalbn(WRAP)) == Some(Ordering::Less)
}

/// Does the result overflow: rounded to P's precision with an unbounded exponent, is it
/// 2^16384 or more? (rustc_apfloat's own overflow status misses the overflows that round
/// to the largest finite number.)
fn overflows<P: Semantics>(w: Wide, rc: Round) -> bool
where
    Wide: FloatConvert<IeeeFloat<P>>,
    IeeeFloat<P>: FloatConvert<Wide>,
{
    if w.is_zero() || w.ilogb() < BIAS {
        return false;
    }
    if w.ilogb() > BIAS {
        return true;
    }
    let r: StatusAnd<IeeeFloat<P>> = w.scalbn(-WRAP).convert_r(rc, &mut false);
    let back: Wide = r.value.convert(&mut false).value;
    back.ilogb() + WRAP > BIAS
}

fn round_to<P: Semantics>(w: Wide, env: Env) -> Rounded
where
    Wide: FloatConvert<IeeeFloat<P>>,
    IeeeFloat<P>: FloatConvert<Wide> + FloatConvert<X87>,
{
    if !w.is_finite_non_zero() {
        // Zeros and infinities are exact in every format.
        let v = if w.is_zero() { F80::zero(w.is_negative()) } else { F80::infinity(w.is_negative()) };
        return Rounded { v, exc: 0, c1: false };
    }
    let tiny = is_tiny::<P>(w, env.rc);
    if tiny && !env.masked(exc::UE) {
        // Unmasked underflow: the exact result scaled up, signalled even when exact.
        let scaled = w.scalbn(WRAP);
        if scaled.ilogb() < 1 - BIAS {
            // Still too small after scaling: zero.
            return Rounded { v: F80::zero(w.is_negative()), exc: exc::UE | exc::PE, c1: false };
        }
        let (v, inexact, c1) = convert_checked::<P>(scaled, env.rc);
        return Rounded { v, exc: exc::UE | if inexact { exc::PE } else { 0 }, c1 };
    }
    let r: StatusAnd<IeeeFloat<P>> = w.convert_r(env.rc, &mut false);
    if overflows::<P>(w, env.rc) {
        if !env.masked(exc::OE) {
            let scaled = w.scalbn(-WRAP);
            if overflows::<P>(scaled, env.rc) {
                // Still too large after scaling: infinity.
                return Rounded { v: F80::infinity(w.is_negative()), exc: exc::OE | exc::PE, c1: true };
            }
            let (v, inexact, c1) = convert_checked::<P>(scaled, env.rc);
            return Rounded { v, exc: exc::OE | if inexact { exc::PE } else { 0 }, c1 };
        }
        let v = to_f80(r.value);
        // Overflow to infinity rounds away from zero; to the largest finite, toward it.
        return Rounded { v, exc: exc::OE | exc::PE, c1: r.value.is_infinite() };
    }
    let inexact = r.status.contains(Status::INEXACT);
    let mut e = 0;
    if inexact {
        e |= exc::PE;
        if tiny {
            e |= exc::UE;
        }
    }
    Rounded { v: to_f80(r.value), exc: e, c1: inexact && rounded_up(r.value, w) }
}

/// Convert a value known to be in range: (result, inexact, rounded away from zero).
fn convert_checked<P: Semantics>(w: Wide, rc: Round) -> (F80, bool, bool)
where
    Wide: FloatConvert<IeeeFloat<P>>,
    IeeeFloat<P>: FloatConvert<Wide> + FloatConvert<X87>,
{
    let r: StatusAnd<IeeeFloat<P>> = w.convert_r(rc, &mut false);
    let inexact = r.status.contains(Status::INEXACT);
    (to_f80(r.value), inexact, inexact && rounded_up(r.value, w))
}

fn rounded_up<P: Semantics>(r: IeeeFloat<P>, w: Wide) -> bool
where
    IeeeFloat<P>: FloatConvert<Wide>,
{
    if r.is_infinite() {
        return true;
    }
    let back: Wide = r.convert(&mut false).value;
    back.abs().partial_cmp(&w.abs()) == Some(Ordering::Greater)
}

/// A value of a precision-control format into the 80-bit format (exact).
fn to_f80<P: Semantics>(r: IeeeFloat<P>) -> F80
where
    IeeeFloat<P>: FloatConvert<X87>,
{
    let x: X87 = r.convert(&mut false).value;
    F80::from_bits(x.to_bits())
}

/// Round a finite value to an integral value in the rounding mode RC (FRNDINT, FIST):
/// (result, inexact, rounded away from zero). A zero result keeps the operand's sign.
pub(crate) fn round_to_integral(v: F80, rc: Round) -> (F80, bool, bool) {
    if v.sig == 0 {
        return (F80::zero(v.sign()), false, false);
    }
    let (e, sig) = v.unpack(true);
    if e >= 63 {
        return (v.canonical(), false, false);
    }
    // The integer part and the fraction (top-aligned) of sig * 2^(e - 63).
    let (int, frac) = if e < 0 {
        (0u64, if e == -1 { sig } else { (sig >> (-e - 1).min(63)) | 1 })
    } else {
        (sig >> (63 - e), sig << (e + 1))
    };
    let inexact = frac != 0;
    let half = 1u64 << 63;
    let up = match rc {
        Round::NearestTiesToEven => frac > half || (frac == half && int & 1 == 1),
        Round::TowardPositive => inexact && !v.sign(),
        Round::TowardNegative => inexact && v.sign(),
        _ => false,
    };
    let n = int + up as u64;
    let out = F80::from_parts(v.sign(), 0, n).unwrap_or(F80::ZERO);
    (if n == 0 { F80::zero(v.sign()) } else { out }, inexact, up)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pc: Precision, rc: Round) -> Env {
        Env { pc, rc, masks: 0x3F }
    }

    fn f(x: f64) -> F80 {
        F80::from_f64_bits(x.to_bits()).0
    }

    /// SplitMix64, for the generated cases below.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }

    const MODES: [Round; 4] =
        [Round::NearestTiesToEven, Round::TowardNegative, Round::TowardPositive, Round::TowardZero];

    #[test]
    fn the_fast_path_agrees_with_the_library() {
        let mut rng = Rng(1);
        for i in 0..200_000 {
            // Significands with runs of zeros and ones at the rounding positions.
            let raw = (rng.next() as u128) << 64 | rng.next() as u128;
            let sig = match i % 4 {
                0 => raw,
                1 => raw & !((1u128 << (rng.next() % 100)) - 1),
                2 => raw | ((1u128 << (rng.next() % 100)) - 1),
                _ => raw >> (rng.next() % 120),
            };
            if sig == 0 {
                continue;
            }
            let e = Exact {
                sign: rng.next() & 1 == 1,
                exp2: (rng.next() % 40000) as i32 - 20000,
                sig,
                sticky: rng.next().is_multiple_of(3),
            };
            let pc = [Precision::P24, Precision::P53, Precision::P64][(rng.next() % 3) as usize];
            let env = Env { pc, rc: MODES[(rng.next() % 4) as usize], masks: 0x3F };
            if let Some(fast) = round_fast(e, env) {
                let slow = round_wide(e.to_wide(), env);
                assert_eq!((fast.v, fast.exc, fast.c1), (slow.v, slow.exc, slow.c1), "{e:?} {env:?}");
            }
        }
    }

    #[test]
    fn fast_stores_and_integer_rounding_agree_with_the_library() {
        use rustc_apfloat::ieee::{Double, Single};
        let mut rng = Rng(2);
        for _ in 0..200_000 {
            let v = F80::new(
                rng.next() & 1 == 1,
                (BIAS as u64 - 1100 + rng.next() % 2200) as u16,
                rng.next() | 1 << 63,
            );
            let rc = MODES[(rng.next() % 4) as usize];
            let x = X87::from_bits(v.bits());
            if let Some((bits, inexact, _)) = narrow_fast(v, 53, -1022, 1023, rc) {
                let r: StatusAnd<Double> = x.convert_r(rc, &mut false);
                assert_eq!(
                    (bits, inexact),
                    (r.value.to_bits() as u64, r.status.contains(Status::INEXACT)),
                    "{v:?}"
                );
            }
            if let Some((bits, inexact, _)) = narrow_fast(v, 24, -126, 127, rc) {
                let r: StatusAnd<Single> = x.convert_r(rc, &mut false);
                assert_eq!(
                    (bits, inexact),
                    (r.value.to_bits() as u64, r.status.contains(Status::INEXACT)),
                    "{v:?}"
                );
            }
            let small = F80::new(v.sign(), (BIAS as u64 - 3 + rng.next() % 70) as u16, v.sig);
            let (n, inexact, _) = round_to_integral(small, rc);
            let r = X87::from_bits(small.bits()).round_to_integral(rc);
            let want = F80::from_bits(r.value.to_bits());
            let want = if want.sig == 0 { F80::zero(small.sign()) } else { want };
            assert_eq!((n, inexact), (want, r.status.contains(Status::INEXACT)), "{small:?} {rc:?}");
        }
    }

    #[test]
    fn one_third_rounds_by_precision_control() {
        let third = div(f(1.0), f(3.0));
        let r = round(third, env(Precision::P64, Round::NearestTiesToEven));
        assert_eq!(r.v, F80::new(false, 16381, 0xAAAA_AAAA_AAAA_AAAB));
        assert!(r.c1);
        assert_eq!(r.exc, exc::PE);
        let r = round(third, env(Precision::P53, Round::NearestTiesToEven));
        assert_eq!(r.v, f(1.0 / 3.0));
        let r = round(third, env(Precision::P24, Round::TowardZero));
        assert_eq!(r.v, F80::new(false, 16381, 0xAAAA_AA00_0000_0000));
        assert!(!r.c1);
    }

    #[test]
    fn square_roots_are_exact_or_sticky() {
        let r = round(sqrt(f(2.0)), env(Precision::P53, Round::NearestTiesToEven));
        assert_eq!(r.v, f(std::f64::consts::SQRT_2));
        let r = round(sqrt(f(9.0)), env(Precision::P64, Round::NearestTiesToEven));
        assert_eq!((r.v, r.exc), (f(3.0), 0));
        let r = round(sqrt(f(0.5)), env(Precision::P53, Round::NearestTiesToEven));
        assert_eq!(r.v, f(0.5f64.sqrt()));
    }

    #[test]
    fn overflow_masked_and_unmasked() {
        let big = F80::new(false, 0x7FFE, 1 << 63);
        let r = round(mul(big, big), env(Precision::P64, Round::NearestTiesToEven));
        assert_eq!((r.v, r.exc), (F80::INFINITY, exc::OE | exc::PE));
        let unmasked = Env { masks: 0x3F & !exc::OE, ..env(Precision::P64, Round::NearestTiesToEven) };
        let r = round(mul(big, big), unmasked);
        // 2^32766 * 2^-24576 = 2^8190.
        assert_eq!((r.v, r.exc), (F80::new(false, (BIAS + 8190) as u16, 1 << 63), exc::OE));
    }

    #[test]
    fn tiny_results_denormalize() {
        let small = F80::new(false, 1, 1 << 63); // 2^-16382
        let half = f(0.5);
        let r = round(mul(small, half), env(Precision::P64, Round::NearestTiesToEven));
        assert_eq!((r.v, r.exc), (F80::new(false, 0, 1 << 62), 0));
        let third = round(div(small, f(3.0)), env(Precision::P64, Round::NearestTiesToEven));
        assert_eq!(third.exc, exc::UE | exc::PE);
    }
}
