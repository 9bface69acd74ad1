//! 128-bit approximate arithmetic, for evaluating the transcendental functions.
//!
//! An [`R`] is a sign, an exponent and a 128-bit significand; every operation truncates, so
//! each is off by at most a unit in the 128th bit. The transcendentals chain a few dozen of
//! them, which leaves well over 110 correct bits: their results are then rounded once, by
//! the arithmetic core, to 64 bits (`float::round`), and come out correctly rounded unless
//! the true value lies within about 2^-110 of a rounding boundary.

use super::float::Exact;
use super::value::F80;
use std::cmp::Ordering;

/// `(-1)^neg * m * 2^exp`, with `m` normalized (bit 127 set) unless it is zero.
#[derive(Clone, Copy, Debug)]
pub(crate) struct R {
    pub neg: bool,
    pub exp: i32,
    pub m: u128,
}

/// The high 128 bits of a 128 x 128-bit product.
fn mul_hi(a: u128, b: u128) -> u128 {
    let (a1, a0) = (a >> 64, a & u64::MAX as u128);
    let (b1, b0) = (b >> 64, b & u64::MAX as u128);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & u64::MAX as u128) + (p10 & u64::MAX as u128);
    p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64)
}

impl R {
    pub const ZERO: R = R { neg: false, exp: 0, m: 0 };
    pub const ONE: R = R { neg: false, exp: -127, m: 1 << 127 };

    /// A constant (its significand already normalized).
    pub const fn c(m: u128, exp: i32) -> R {
        R { neg: false, exp, m }
    }

    fn norm(neg: bool, exp: i32, m: u128) -> R {
        if m == 0 {
            return R { neg, exp: 0, m: 0 };
        }
        let lz = m.leading_zeros();
        R { neg, exp: exp - lz as i32, m: m << lz }
    }

    /// A finite 80-bit value, exactly.
    pub fn from_f80(v: F80) -> R {
        if v.sig == 0 {
            return R { neg: v.sign(), ..R::ZERO };
        }
        let (e, sig) = v.unpack(true);
        R::norm(v.sign(), e - 63 - 64, (sig as u128) << 64)
    }

    /// `i * 2^exp`, exactly.
    pub fn from_int(i: i128, exp: i32) -> R {
        R::norm(i < 0, exp, i.unsigned_abs())
    }

    pub fn is_zero(self) -> bool {
        self.m == 0
    }

    pub fn neg(self) -> R {
        R { neg: !self.neg, ..self }
    }

    pub fn abs(self) -> R {
        R { neg: false, ..self }
    }

    /// The exponent of the leading bit (the value is in [2^k, 2^(k+1))).
    pub fn ilogb(self) -> i32 {
        self.exp + 127
    }

    pub fn mul(self, o: R) -> R {
        if self.is_zero() || o.is_zero() {
            return R { neg: self.neg != o.neg, ..R::ZERO };
        }
        R::norm(self.neg != o.neg, self.exp + o.exp + 128, mul_hi(self.m, o.m))
    }

    pub fn div(self, o: R) -> R {
        if self.is_zero() || o.is_zero() {
            return R { neg: self.neg != o.neg, ..R::ZERO };
        }
        // Long division of m (shifted) by o.m, one quotient bit at a time: 128 bits of
        // quotient from 1 <= self.m / o.m * 2^k < 2.
        let (mut rem, d) = (self.m, o.m);
        let mut q: u128 = 0;
        let mut exp = self.exp - o.exp - 127;
        if rem < d {
            // Start one bit lower so the first quotient bit is 1.
            exp -= 1;
            // rem * 2 may not fit: keep the carry in mind.
            let carry = rem >> 127;
            rem <<= 1;
            if carry == 1 || rem >= d {
                rem = rem.wrapping_sub(d);
                q = 1;
            }
        } else {
            rem -= d;
            q = 1;
        }
        for _ in 0..127 {
            let carry = rem >> 127;
            rem <<= 1;
            q <<= 1;
            if carry == 1 || rem >= d {
                rem = rem.wrapping_sub(d);
                q |= 1;
            }
        }
        R::norm(self.neg != o.neg, exp, q)
    }

    /// Division by a positive integer, 64 bits of quotient at a time with the hardware's
    /// 128-by-64-bit division (rather than `div`'s bit by bit).
    pub fn div_int(self, d: u64) -> R {
        if self.is_zero() || d == 0 {
            return R { neg: self.neg, ..R::ZERO };
        }
        let d = d as u128;
        // The 192-bit quotient of m * 2^64 by d, limb by limb.
        let mut r: u128 = 0;
        let mut q = [0u128; 3];
        for (qi, limb) in q.iter_mut().zip([self.m >> 64, self.m & u64::MAX as u128, 0]) {
            let cur = (r << 64) | limb;
            *qi = cur / d;
            r = cur % d;
        }
        let (hi, lo) = (q[0], (q[1] << 64) | q[2]);
        // Its top 128 bits; the value is quotient * 2^(exp - 64).
        let (lz, m) = if hi != 0 {
            let lz = hi.leading_zeros() - 64;
            (lz, if lz == 0 { (hi << 64) | (lo >> 64) } else { (hi << (64 + lz)) | (lo >> (64 - lz)) })
        } else {
            let lz = 64 + lo.leading_zeros();
            (lz, lo << (lz - 64))
        };
        R::norm(self.neg, self.exp - lz as i32, m)
    }

    pub fn add(self, o: R) -> R {
        if o.is_zero() {
            return self;
        }
        if self.is_zero() {
            return o;
        }
        let (big, small) = if self.cmp_abs(o) == Ordering::Less { (o, self) } else { (self, o) };
        let sh = (big.exp - small.exp) as u32;
        let sm = if sh >= 128 { 0 } else { small.m >> sh };
        let lost = sh > 0 && (sh >= 128 || small.m & ((1 << sh) - 1) != 0);
        if big.neg == small.neg {
            let (s, carry) = big.m.overflowing_add(sm);
            if carry {
                R { neg: big.neg, exp: big.exp + 1, m: (s >> 1) | 1 << 127 }
            } else {
                R::norm(big.neg, big.exp, s)
            }
        } else {
            // Truncate the difference too (toward zero), so that 1 - tiny stays below 1:
            // results that are nearly a representable number must err on the right side.
            R::norm(big.neg, big.exp, big.m - sm - lost as u128)
        }
    }

    pub fn sub(self, o: R) -> R {
        self.add(o.neg())
    }

    pub fn cmp_abs(self, o: R) -> Ordering {
        match (self.is_zero(), o.is_zero()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => self.exp.cmp(&o.exp).then(self.m.cmp(&o.m)),
        }
    }

    /// The nearest integer (ties away from zero), for |self| < 2^100.
    pub fn round_int(self) -> i128 {
        if self.is_zero() || self.ilogb() < -1 {
            return 0;
        }
        // value = m / 2^sh with 0 < sh <= 128 here.
        let sh = (-self.exp).clamp(1, 128) as u32;
        let mag = (((self.m >> (sh - 1)) + 1) >> 1) as i128;
        if self.neg { -mag } else { mag }
    }

    /// Rounded to nearest (ties to even) to `bits` significant bits, as the processor's
    /// internal format rounds (68 bits: see `transcendental.rs`).
    pub fn round_to(self, bits: u32) -> R {
        if self.is_zero() {
            return self;
        }
        let drop = 128 - bits;
        let half = 1u128 << (drop - 1);
        let rest = self.m & ((1u128 << drop) - 1);
        let kept = self.m >> drop;
        let up = rest > half || (rest == half && kept & 1 == 1);
        let kept = kept + up as u128;
        if kept >> bits != 0 {
            // Carried into a new leading bit.
            R { neg: self.neg, exp: self.exp + 1, m: (kept >> 1) << drop }
        } else {
            R { neg: self.neg, exp: self.exp, m: kept << drop }
        }
    }

    /// The approximation for the final rounding, marked inexact (the transcendental
    /// values it stands for are irrational).
    pub fn to_exact(self) -> Exact {
        Exact { sign: self.neg, exp2: self.exp, sig: self.m, sticky: !self.is_zero() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> R {
        R::from_f80(F80::from_f64_bits(x.to_bits()).0)
    }

    fn approx(r: R) -> f64 {
        let v = (r.m >> 64) as f64 * 2f64.powi(r.exp + 64);
        if r.neg { -v } else { v }
    }

    #[test]
    fn arithmetic_is_close() {
        assert_eq!(approx(f(1.5).mul(f(-2.0))), -3.0);
        assert_eq!(approx(f(1.0).div(f(4.0))), 0.25);
        assert!((approx(f(1.0).div(f(3.0))) - 1.0 / 3.0).abs() < 1e-16);
        assert_eq!(approx(f(1.0).sub(f(0.25))), 0.75);
        assert_eq!(approx(f(-1.0).add(f(0.25))), -0.75);
        assert_eq!(approx(f(3.0).div_int(4)), 0.75);
        assert!((approx(f(1.0).div_int(3)) - 1.0 / 3.0).abs() < 1e-16);
        for d in [1u64, 3, 7, 10, 1000, 1 << 40, (1 << 62) + 3] {
            for x in [1.0, 1.5, 0.1, 12345.678] {
                let (a, b) = (f(x).div_int(d), f(x).div(R::from_int(d as i128, 0)));
                assert_eq!((a.exp, a.m >> 2), (b.exp, b.m >> 2), "{x} / {d}");
            }
        }
        assert_eq!(f(2.5).round_int(), 3);
        assert_eq!(f(-2.4).round_int(), -2);
        assert_eq!(f(7.0).round_int(), 7);
    }
}
