//! EFLAGS, with the six arithmetic flags computed lazily.
//!
//! Most instructions set flags that nothing reads. So instead of computing CF, PF, AF, ZF,
//! SF and OF after every `add`, we remember what the last flag-setting operation was
//! (its kind, operand size, operands and result) and derive a flag only when something
//! asks for it: a `jcc`, a `pushf`, or the Host reading EFLAGS. Instructions whose flags
//! are awkward to describe this way (shifts, multiplies, BCD) compute all six eagerly and
//! store them with kind [`CcKind::Eflags`].
//!
//! This is the one place flags are computed; everything else goes through it.

use crate::regs::eflags::*;

/// What produced the current arithmetic flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum CcKind {
    /// The flags are stored directly in `Lazy::src` as EFLAGS bits.
    Eflags,
    /// `res = dst + src` (ADD, or ADC with carry-in 0).
    Add,
    /// `res = dst + src + 1` (ADC with carry-in 1).
    AddCarry,
    /// `res = dst - src` (SUB, CMP, NEG as 0 - x, SBB with borrow-in 0).
    Sub,
    /// `res = dst - src - 1` (SBB with borrow-in 1).
    SubBorrow,
    /// AND, OR, XOR, TEST: CF = OF = 0.
    Logic,
    /// INC: like ADD of 1, CF kept (in `src`).
    Inc,
    /// DEC: like SUB of 1, CF kept (in `src`).
    Dec,
}

/// The lazily evaluated arithmetic flags.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lazy {
    pub kind: CcKind,
    /// Operand size in bytes: 1, 2 or 4.
    pub size: u8,
    pub res: u32,
    pub dst: u32,
    pub src: u32,
}

impl Lazy {
    pub const fn from_eflags(bits: u32) -> Lazy {
        Lazy { kind: CcKind::Eflags, size: 4, res: 0, dst: 0, src: bits & ARITH }
    }

    #[inline(always)]
    fn sign_shift(&self) -> u32 {
        (self.size as u32) * 8 - 1
    }

    #[inline(always)]
    fn mask(&self) -> u32 {
        u32::MAX >> (32 - (self.size as u32) * 8)
    }

    #[inline]
    pub fn cf(&self) -> bool {
        let m = self.mask();
        match self.kind {
            CcKind::Eflags => self.src & CF != 0,
            CcKind::Add => (self.res & m) < (self.dst & m),
            CcKind::AddCarry => (self.res & m) <= (self.dst & m),
            CcKind::Sub => (self.dst & m) < (self.src & m),
            CcKind::SubBorrow => (self.dst & m) <= (self.src & m),
            CcKind::Logic => false,
            CcKind::Inc | CcKind::Dec => self.src != 0,
        }
    }

    #[inline]
    pub fn zf(&self) -> bool {
        match self.kind {
            CcKind::Eflags => self.src & ZF != 0,
            _ => self.res & self.mask() == 0,
        }
    }

    #[inline]
    pub fn sf(&self) -> bool {
        match self.kind {
            CcKind::Eflags => self.src & SF != 0,
            _ => (self.res >> self.sign_shift()) & 1 != 0,
        }
    }

    #[inline]
    pub fn pf(&self) -> bool {
        match self.kind {
            CcKind::Eflags => self.src & PF != 0,
            _ => (self.res as u8).count_ones().is_multiple_of(2),
        }
    }

    #[inline]
    pub fn af(&self) -> bool {
        match self.kind {
            CcKind::Eflags => self.src & AF != 0,
            CcKind::Logic => false,
            CcKind::Inc | CcKind::Dec => (self.dst ^ self.res ^ 1) & 0x10 != 0,
            _ => (self.dst ^ self.src ^ self.res) & 0x10 != 0,
        }
    }

    #[inline]
    pub fn of(&self) -> bool {
        let s = self.sign_shift();
        match self.kind {
            CcKind::Eflags => self.src & OF != 0,
            CcKind::Add | CcKind::AddCarry => ((self.dst ^ self.res) & (self.src ^ self.res)) >> s & 1 != 0,
            CcKind::Sub | CcKind::SubBorrow => ((self.dst ^ self.src) & (self.dst ^ self.res)) >> s & 1 != 0,
            CcKind::Logic => false,
            // INC overflows only from the largest positive value, DEC from the smallest
            // negative one.
            CcKind::Inc => self.res & self.mask() == 1 << s,
            CcKind::Dec => self.res & self.mask() == (1 << s) - 1,
        }
    }

    /// The six arithmetic flags as EFLAGS bits.
    pub fn bits(&self) -> u32 {
        if self.kind == CcKind::Eflags {
            return self.src & ARITH;
        }
        ((self.cf() as u32) * CF)
            | ((self.pf() as u32) * PF)
            | ((self.af() as u32) * AF)
            | ((self.zf() as u32) * ZF)
            | ((self.sf() as u32) * SF)
            | ((self.of() as u32) * OF)
    }

    /// Evaluate condition code `cc` (0..16, the low nibble of `Jcc`/`SETcc`/`CMOVcc`).
    #[inline]
    pub fn cond(&self, cc: u8) -> bool {
        // Fast paths for a compare or subtraction followed by a branch, the common case.
        if self.kind == CcKind::Sub && self.size == 4 {
            let (d, s) = (self.dst, self.src);
            let r = match cc >> 1 {
                1 => d < s,                    // B / AE
                2 => d == s,                   // E / NE
                3 => d <= s,                   // BE / A
                6 => (d as i32) < (s as i32),  // L / GE
                7 => (d as i32) <= (s as i32), // LE / G
                _ => return self.cond_slow(cc),
            };
            return r ^ (cc & 1 != 0);
        }
        self.cond_slow(cc)
    }

    fn cond_slow(&self, cc: u8) -> bool {
        let r = match cc >> 1 {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.cf() || self.zf(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.sf() != self.of(),
            _ => self.zf() || (self.sf() != self.of()),
        };
        r ^ (cc & 1 != 0)
    }
}

/// Parity flag of a result: set when the low byte has an even number of ones.
#[inline]
pub(crate) fn parity(v: u32) -> bool {
    (v as u8).count_ones().is_multiple_of(2)
}

/// The ZF, SF and PF bits of a result of `size` bytes.
#[inline]
pub(crate) fn szp(res: u32, size: u32) -> u32 {
    let mask = u32::MAX >> (32 - size * 8);
    let mut f = 0;
    if res & mask == 0 {
        f |= ZF;
    }
    if (res >> (size * 8 - 1)) & 1 != 0 {
        f |= SF;
    }
    if parity(res) {
        f |= PF;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(d: u32, s: u32, size: u8) -> Lazy {
        Lazy { kind: CcKind::Sub, size, dst: d, src: s, res: d.wrapping_sub(s) }
    }

    #[test]
    fn compare_fast_path_agrees_with_the_flag_formulas() {
        let vals = [0u32, 1, 2, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 1234567];
        for &d in &vals {
            for &s in &vals {
                let l = sub(d, s, 4);
                for cc in 0..16 {
                    assert_eq!(l.cond(cc), l.cond_slow(cc), "cc {cc} d {d:#x} s {s:#x}");
                }
            }
        }
    }

    #[test]
    fn inc_and_dec_overflow_only_at_the_signed_boundary() {
        let inc = |d: u32, size| Lazy { kind: CcKind::Inc, size, dst: d, src: 0, res: d.wrapping_add(1) };
        assert!(inc(0x7f, 1).of());
        assert!(!inc(0x7e, 1).of());
        assert!(inc(0x7fff_ffff, 4).of());
        let dec = |d: u32, size| Lazy { kind: CcKind::Dec, size, dst: d, src: 0, res: d.wrapping_sub(1) };
        assert!(dec(0x8000, 2).of());
        assert!(!dec(0x8001, 2).of());
    }
}
