//! The 80-bit register format and the exact conversions into it.
//!
//! An x87 register holds a sign, a 15-bit biased exponent and a 64-bit significand whose
//! top bit (J, the integer bit) is explicit. That freedom allows encodings IEEE formats do
//! not have, and since the 387 the processor treats them as the SDM's tables say:
//! pseudo-denormals (exponent 0, J set) are read as the denormal of the same value, while
//! unnormals (J clear with a non-zero, non-maximal exponent), pseudo-infinities and
//! pseudo-NaNs (maximal exponent, J clear) are *unsupported*: using one as an operand is an
//! invalid operation. [`Class`] names these cases once for every instruction.
//!
//! Everything here is exact (loading a `float` or a `double`, or an integer, never rounds),
//! so it is plain bit manipulation; rounding is `float.rs`'s job.

/// One 80-bit value: `se` is the sign (bit 15) and biased exponent, `sig` the significand
/// with its explicit integer bit (bit 63).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct F80 {
    pub sig: u64,
    pub se: u16,
}

/// The exponent bias of the 80-bit format.
pub(crate) const BIAS: i32 = 16383;
/// The biased exponent of infinities and NaNs.
pub(crate) const EXP_MAX: u16 = 0x7FFF;
const J: u64 = 1 << 63;
const QUIET: u64 = 1 << 62;

/// What an 80-bit value is, as the x87 sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Zero,
    /// A denormal or a pseudo-denormal: an operand that raises #D.
    Denormal,
    Normal,
    Infinity,
    QNaN,
    SNaN,
    /// Unnormal, pseudo-infinity or pseudo-NaN: an invalid operand.
    Unsupported,
}

impl F80 {
    pub const ZERO: F80 = F80 { sig: 0, se: 0 };
    pub const ONE: F80 = F80 { sig: J, se: BIAS as u16 };
    pub const INFINITY: F80 = F80 { sig: J, se: EXP_MAX };
    /// The "real indefinite" QNaN every masked invalid operation returns.
    pub const INDEFINITE: F80 = F80 { sig: J | QUIET, se: 0xFFFF };

    pub const fn new(sign: bool, exp: u16, sig: u64) -> F80 {
        F80 { sig, se: (sign as u16) << 15 | (exp & EXP_MAX) }
    }

    #[inline]
    pub const fn sign(self) -> bool {
        self.se & 0x8000 != 0
    }

    /// The biased exponent.
    #[inline]
    pub const fn exp(self) -> u16 {
        self.se & EXP_MAX
    }

    pub const fn with_sign(self, sign: bool) -> F80 {
        F80 { sig: self.sig, se: (self.se & EXP_MAX) | (sign as u16) << 15 }
    }

    pub const fn neg(self) -> F80 {
        F80 { sig: self.sig, se: self.se ^ 0x8000 }
    }

    pub const fn abs(self) -> F80 {
        F80 { sig: self.sig, se: self.se & EXP_MAX }
    }

    pub const fn zero(sign: bool) -> F80 {
        F80::ZERO.with_sign(sign)
    }

    pub const fn infinity(sign: bool) -> F80 {
        F80::INFINITY.with_sign(sign)
    }

    /// A NaN made quiet (an SNaN operand comes out of an operation this way).
    pub const fn quiet(self) -> F80 {
        F80 { sig: self.sig | QUIET, se: self.se }
    }

    pub fn class(self) -> Class {
        let exp = self.exp();
        let j = self.sig & J != 0;
        if exp == 0 {
            if self.sig == 0 { Class::Zero } else { Class::Denormal }
        } else if exp == EXP_MAX {
            if !j {
                Class::Unsupported
            } else if self.sig == J {
                Class::Infinity
            } else if self.sig & QUIET != 0 {
                Class::QNaN
            } else {
                Class::SNaN
            }
        } else if j {
            Class::Normal
        } else {
            Class::Unsupported
        }
    }

    /// The value with a pseudo-denormal written as the normal number it is (exponent 1),
    /// as the processor writes any result.
    pub const fn canonical(self) -> F80 {
        if self.exp() == 0 && self.sig & J != 0 { F80 { sig: self.sig, se: self.se | 1 } } else { self }
    }

    /// The tag-word value of a non-empty register holding this: 0 valid, 1 zero, 2 special.
    pub fn tag(self) -> u16 {
        match self.class() {
            Class::Normal => 0,
            Class::Zero => 1,
            _ => 2,
        }
    }

    /// The 80 bits as an integer (sign and exponent on top).
    pub const fn bits(self) -> u128 {
        (self.se as u128) << 64 | self.sig as u128
    }

    pub const fn from_bits(b: u128) -> F80 {
        F80 { sig: b as u64, se: (b >> 64) as u16 }
    }

    pub fn to_le_bytes(self) -> [u8; 10] {
        let mut b = [0; 10];
        b[..8].copy_from_slice(&self.sig.to_le_bytes());
        b[8..].copy_from_slice(&self.se.to_le_bytes());
        b
    }

    pub fn from_le_bytes(b: [u8; 10]) -> F80 {
        let mut sig = [0; 8];
        sig.copy_from_slice(&b[..8]);
        F80 { sig: u64::from_le_bytes(sig), se: u16::from_le_bytes([b[8], b[9]]) }
    }

    /// A finite non-zero value `mag * 2^exp2` (mag != 0), normalized; `None` if it does
    /// not fit the format's normal range (callers use this only where it cannot happen,
    /// or check).
    pub fn from_parts(sign: bool, exp2: i32, mag: u64) -> Option<F80> {
        if mag == 0 {
            return Some(F80::zero(sign));
        }
        let lz = mag.leading_zeros() as i32;
        let e = exp2 + 63 - lz + BIAS;
        if !(1..EXP_MAX as i32).contains(&e) {
            return None;
        }
        Some(F80::new(sign, e as u16, mag << lz))
    }

    /// The signed integer `v` (exact: 64 bits of significand hold any `i64`).
    pub fn from_i64(v: i64) -> F80 {
        F80::from_parts(v < 0, 0, v.unsigned_abs()).unwrap_or(F80::ZERO)
    }

    /// A `float`'s bits. Returns the value and its class *in the source format*: an SNaN
    /// stays signalling (so NaN rules see it as one), a denormal comes back normalized
    /// (the caller raises #D).
    pub fn from_f32_bits(b: u32) -> (F80, Class) {
        from_ieee(b as u64, 8, 23)
    }

    /// A `double`'s bits, as [`F80::from_f32_bits`].
    pub fn from_f64_bits(b: u64) -> (F80, Class) {
        from_ieee(b, 11, 52)
    }

    /// The unbiased exponent and the significand of a finite non-zero value, with
    /// (pseudo-)denormals read as the numbers they are: value = `sig * 2^(exp - 63)`.
    /// The significand is normalized (J set) when `normalize` is true.
    pub fn unpack(self, normalize: bool) -> (i32, u64) {
        let mut e = if self.exp() == 0 { 1 - BIAS } else { self.exp() as i32 - BIAS };
        let mut sig = self.sig;
        if normalize && sig != 0 {
            let lz = sig.leading_zeros() as i32;
            sig <<= lz;
            e -= lz;
        }
        (e, sig)
    }
}

/// An IEEE binary format's bits (exponent `eb` bits, fraction `fb` bits) into 80 bits.
fn from_ieee(b: u64, eb: u32, fb: u32) -> (F80, Class) {
    let sign = b >> (eb + fb) & 1 != 0;
    let emax = (1u64 << eb) - 1;
    let exp = (b >> fb) & emax;
    let frac = b & ((1u64 << fb) - 1);
    let bias = (1i32 << (eb - 1)) - 1;
    if exp == emax {
        let sig = J | frac << (63 - fb);
        return if frac == 0 {
            (F80::infinity(sign), Class::Infinity)
        } else if sig & QUIET != 0 {
            (F80::new(sign, EXP_MAX, sig), Class::QNaN)
        } else {
            (F80::new(sign, EXP_MAX, sig), Class::SNaN)
        };
    }
    if exp == 0 {
        if frac == 0 {
            return (F80::zero(sign), Class::Zero);
        }
        // frac * 2^(1 - bias - fb)
        let v = F80::from_parts(sign, 1 - bias - fb as i32, frac).unwrap_or(F80::ZERO);
        return (v, Class::Denormal);
    }
    let e = exp as i32 - bias + BIAS;
    (F80::new(sign, e as u16, J | frac << (63 - fb)), Class::Normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_load_exactly() {
        assert_eq!(F80::from_f64_bits(1.0f64.to_bits()).0, F80::ONE);
        assert_eq!(F80::from_f64_bits((-2.5f64).to_bits()).0, F80::new(true, 16384, 0xA000_0000_0000_0000));
        // The smallest double denormal, 2^-1074.
        assert_eq!(F80::from_f64_bits(1).0, F80::new(false, (16383 - 1074) as u16, J));
        assert_eq!(F80::from_f32_bits(0x7F80_0001).1, Class::SNaN);
        assert_eq!(F80::from_f32_bits(0x7F80_0001).0.class(), Class::SNaN);
    }

    #[test]
    fn encodings_are_classified_as_the_387_does() {
        assert_eq!(F80::new(false, 0, J).class(), Class::Denormal); // pseudo-denormal
        assert_eq!(F80::new(false, 1, 1).class(), Class::Unsupported); // unnormal
        assert_eq!(F80::new(false, EXP_MAX, 0).class(), Class::Unsupported); // pseudo-infinity
        assert_eq!(F80::new(false, EXP_MAX, QUIET).class(), Class::Unsupported); // pseudo-NaN
        assert_eq!(F80::INDEFINITE.class(), Class::QNaN);
        assert_eq!(F80::from_i64(i64::MIN), F80::new(true, 16383 + 63, J));
    }
}
