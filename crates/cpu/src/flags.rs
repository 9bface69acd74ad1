//! EFLAGS, with the six arithmetic flags computed lazily.
//!
//! Most instructions set flags that nothing reads. So instead of computing CF, PF, AF, ZF,
//! SF and OF after every `add`, we remember what the last flag-setting operation was
//! (its kind, operand size, operands and result) and derive a flag only when something
//! asks for it: a `jcc`, a `pushf`, or the Host reading EFLAGS. Instructions whose flags
//! are awkward to describe this way (shifts, multiplies, BCD) compute all six eagerly and
//! store them with kind [`CcKind::Eflags`].
//!
//! Instructions that change only CF and/or OF (rotates, BT*, CLC/STC/CMC) would otherwise
//! have to evaluate all six flags to keep the other four; instead they leave the lazy
//! state alone and record the new CF/OF as an *override* (`Lazy::ovr`).
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
    /// SHL/SAL by `src` (1..=31): CF is the last bit shifted out, OF = CF xor the
    /// result's sign, AF clear.
    Shl,
    /// SHR by `src`: CF the last bit shifted out, OF the operand's sign, AF clear.
    Shr,
    /// SAR by `src`: CF the last bit shifted out, OF and AF clear.
    Sar,
}

/// The lazily evaluated arithmetic flags. (`repr(C)`: translated code stores kind, size
/// and overrides as one word.)
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct Lazy {
    pub kind: CcKind,
    /// Operand size in bytes: 1, 2 or 4.
    pub size: u8,
    /// CF and OF set after the operation described here: [`CF_SET`] and [`OF_SET`] say
    /// which, [`CF_ONE`] and [`OF_ONE`] their values. Zero almost always.
    pub ovr: u8,
    pub res: u32,
    pub dst: u32,
    pub src: u32,
}

pub(crate) const CF_SET: u8 = 1;
pub(crate) const CF_ONE: u8 = 2;
pub(crate) const OF_SET: u8 = 4;
pub(crate) const OF_ONE: u8 = 8;

impl Lazy {
    /// Flags set by an operation of `kind` on `size`-byte operands.
    #[inline(always)]
    pub const fn new(kind: CcKind, size: u8, res: u32, dst: u32, src: u32) -> Lazy {
        Lazy { kind, size, ovr: 0, res, dst, src }
    }

    pub const fn from_eflags(bits: u32) -> Lazy {
        Lazy::new(CcKind::Eflags, 4, 0, 0, bits & ARITH)
    }

    /// Set CF and/or OF (`mask` within CF | OF) without evaluating the other flags.
    #[inline(always)]
    pub fn override_cf_of(&mut self, mask: u32, value: u32) {
        if mask & CF != 0 {
            self.ovr = (self.ovr & !(CF_SET | CF_ONE)) | CF_SET | if value & CF != 0 { CF_ONE } else { 0 };
        }
        if mask & OF != 0 {
            self.ovr = (self.ovr & !(OF_SET | OF_ONE)) | OF_SET | if value & OF != 0 { OF_ONE } else { 0 };
        }
    }

    #[inline(always)]
    fn sign_shift(&self) -> u32 {
        (self.size as u32) * 8 - 1
    }

    #[inline(always)]
    fn mask(&self) -> u32 {
        u32::MAX >> (32 - (self.size as u32) * 8)
    }

    #[inline(always)]
    pub fn cf(&self) -> bool {
        if self.ovr & CF_SET != 0 {
            return self.ovr & CF_ONE != 0;
        }
        let m = self.mask();
        match self.kind {
            CcKind::Eflags => self.src & CF != 0,
            CcKind::Add => (self.res & m) < (self.dst & m),
            CcKind::AddCarry => (self.res & m) <= (self.dst & m),
            CcKind::Sub => (self.dst & m) < (self.src & m),
            CcKind::SubBorrow => (self.dst & m) <= (self.src & m),
            CcKind::Logic => false,
            CcKind::Inc | CcKind::Dec => self.src != 0,
            CcKind::Shl | CcKind::Shr | CcKind::Sar => self.shifted_out(),
        }
    }

    /// The last bit a shift moved out (its CF), from the operand and the count.
    #[inline(never)]
    fn shifted_out(&self) -> bool {
        let bits = self.size as u32 * 8;
        let c = self.src;
        match self.kind {
            CcKind::Shl => c <= bits && (self.dst >> (bits - c)) & 1 != 0,
            CcKind::Shr => (self.dst >> (c - 1)) & 1 != 0,
            _ => {
                let signed = ((self.dst << (32 - bits)) as i32) >> (32 - bits);
                (signed >> (c - 1)) & 1 != 0
            }
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
            _ => PARITY[(self.res & 0xFF) as usize] != 0,
        }
    }

    /// AF alone (nothing reads only AF on the hot paths; `bits` computes it with the rest).
    #[cfg(test)]
    #[inline]
    pub fn af(&self) -> bool {
        match self.kind {
            CcKind::Eflags => self.src & AF != 0,
            CcKind::Logic | CcKind::Shl | CcKind::Shr | CcKind::Sar => false,
            CcKind::Inc | CcKind::Dec => (self.dst ^ self.res ^ 1) & 0x10 != 0,
            _ => (self.dst ^ self.src ^ self.res) & 0x10 != 0,
        }
    }

    #[inline]
    pub fn of(&self) -> bool {
        if self.ovr & OF_SET != 0 {
            return self.ovr & OF_ONE != 0;
        }
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
            CcKind::Shl => ((self.res >> s) & 1 != 0) != self.shifted_out(),
            CcKind::Shr => (self.dst >> s) & 1 != 0,
            CcKind::Sar => false,
        }
    }

    /// The six arithmetic flags as EFLAGS bits, all at once (PUSHF, LAHF, and every
    /// instruction that changes only some of them go through here, so it is one match
    /// and straight-line arithmetic).
    pub fn bits(&self) -> u32 {
        let b = self.bits_of_operation();
        if self.ovr == 0 {
            return b;
        }
        let cf = if self.ovr & CF_SET != 0 { bit(self.ovr & CF_ONE != 0, CF) } else { b & CF };
        let of = if self.ovr & OF_SET != 0 { bit(self.ovr & OF_ONE != 0, OF) } else { b & OF };
        (b & !(CF | OF)) | cf | of
    }

    /// The flags of the operation itself, without overrides.
    #[inline(always)]
    fn bits_of_operation(&self) -> u32 {
        let m = self.mask();
        let s = self.sign_shift();
        let (d, src, r) = (self.dst & m, self.src & m, self.res & m);
        // ZF, SF and PF depend only on the result; AF on the carry into bit 4.
        let szp = bit(r == 0, ZF) | (((r >> s) & 1) << 7) | PARITY[(r & 0xFF) as usize] as u32;
        match self.kind {
            CcKind::Eflags => self.src & ARITH,
            CcKind::Add | CcKind::AddCarry => {
                let cf = if self.kind == CcKind::Add { r < d } else { r <= d };
                szp | ((d ^ src ^ r) & AF) | bit(cf, CF) | ((((d ^ r) & (src ^ r)) >> s) & 1) << 11
            }
            CcKind::Sub | CcKind::SubBorrow => {
                let cf = if self.kind == CcKind::Sub { d < src } else { d <= src };
                szp | ((d ^ src ^ r) & AF) | bit(cf, CF) | ((((d ^ src) & (d ^ r)) >> s) & 1) << 11
            }
            CcKind::Logic => szp,
            CcKind::Inc => szp | ((d ^ r ^ 1) & AF) | bit(self.src != 0, CF) | bit(r == 1 << s, OF),
            CcKind::Dec => szp | ((d ^ r ^ 1) & AF) | bit(self.src != 0, CF) | bit(r == (1 << s) - 1, OF),
            CcKind::Shl | CcKind::Shr | CcKind::Sar => szp | bit(self.shifted_out(), CF) | bit(self.of(), OF),
        }
    }

    /// Evaluate condition code `cc` (0..16, the low nibble of `Jcc`/`SETcc`/`CMOVcc`).
    /// Inlined with a constant `cc` (Jcc is specialised per condition), this is one
    /// match on what produced the flags and a compare: the conditions are evaluated from
    /// the operands directly rather than flag by flag.
    #[inline(always)]
    pub fn cond(&self, cc: u8) -> bool {
        let r = match cc >> 1 {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.below_or_equal(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.less(),
            _ => self.less_or_equal(),
        };
        r ^ (cc & 1 != 0)
    }

    /// CF or ZF (the BE condition).
    #[inline(always)]
    fn below_or_equal(&self) -> bool {
        if self.ovr != 0 {
            return self.cf() || self.zf();
        }
        let m = self.mask();
        match self.kind {
            CcKind::Sub => (self.dst & m) <= (self.src & m),
            CcKind::Eflags => self.src & (CF | ZF) != 0,
            CcKind::Logic => self.res & m == 0,
            _ => self.cf() || self.zf(),
        }
    }

    /// SF != OF (the L condition).
    #[inline(always)]
    fn less(&self) -> bool {
        // Comparing the operands shifted to the top of the word compares them as signed
        // values of the operand size.
        if self.ovr != 0 {
            return self.sf() != self.of();
        }
        let sh = 32 - self.size as u32 * 8;
        match self.kind {
            CcKind::Sub => ((self.dst << sh) as i32) < ((self.src << sh) as i32),
            CcKind::Eflags => ((self.src >> 7) ^ (self.src >> 11)) & 1 != 0,
            CcKind::Logic => self.sf(),
            _ => self.sf() != self.of(),
        }
    }

    /// ZF or SF != OF (the LE condition).
    #[inline(always)]
    fn less_or_equal(&self) -> bool {
        if self.ovr != 0 {
            return self.zf() || self.sf() != self.of();
        }
        let sh = 32 - self.size as u32 * 8;
        match self.kind {
            CcKind::Sub => ((self.dst << sh) as i32) <= ((self.src << sh) as i32),
            CcKind::Eflags => self.src & ZF != 0 || ((self.src >> 7) ^ (self.src >> 11)) & 1 != 0,
            CcKind::Logic => self.res << sh == 0 || self.sf(),
            _ => self.zf() || self.sf() != self.of(),
        }
    }

    #[cfg(test)]
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

/// Condition `cc` right after a SUB or CMP of `BITS`-bit operands (kind [`CcKind::Sub`],
/// no overrides, operands and result stored masked to the width, as `alu` leaves them):
/// straight from the operands, with no look at what produced the flags. The block builder
/// picks this for a Jcc whose flags it knows come from such an instruction.
#[inline(always)]
pub(crate) fn sub_cond<const CC: u8, const BITS: u32>(l: &Lazy) -> bool {
    let sign = 1u32 << (BITS - 1);
    let sh = 32 - BITS;
    let (d, s, r) = (l.dst, l.src, l.res);
    let c = match CC >> 1 {
        0 => (d ^ s) & (d ^ r) & sign != 0,
        1 => d < s,
        2 => r == 0,
        3 => d <= s,
        4 => r & sign != 0,
        5 => PARITY[(r & 0xFF) as usize] != 0,
        6 => ((d << sh) as i32) < ((s << sh) as i32),
        _ => ((d << sh) as i32) <= ((s << sh) as i32),
    };
    c ^ (CC & 1 != 0)
}

/// Condition `cc` right after AND, OR, XOR or TEST (kind [`CcKind::Logic`]: CF = OF = 0).
#[inline(always)]
pub(crate) fn logic_cond<const CC: u8, const BITS: u32>(l: &Lazy) -> bool {
    let sign = 1u32 << (BITS - 1);
    let r = l.res;
    let c = match CC >> 1 {
        0 | 1 => false,
        2 | 3 => r == 0,
        4 | 6 => r & sign != 0,
        5 => PARITY[(r & 0xFF) as usize] != 0,
        _ => r == 0 || r & sign != 0,
    };
    c ^ (CC & 1 != 0)
}

/// Condition `cc`, one of E, NE, S, NS, P, NP (which depend on the result alone), right
/// after any instruction that records its result lazily (not [`CcKind::Eflags`]).
#[inline(always)]
pub(crate) fn result_cond<const CC: u8, const BITS: u32>(l: &Lazy) -> bool {
    let sign = 1u32 << (BITS - 1);
    let r = l.res;
    let c = match CC >> 1 {
        2 => r == 0,
        4 => r & sign != 0,
        _ => PARITY[(r & 0xFF) as usize] != 0,
    };
    c ^ (CC & 1 != 0)
}

/// PF for each value of a result's low byte: set when it has an even number of ones.
/// A table, because without POPCNT in the baseline x86-64 target counting bits is slow.
pub(crate) const PARITY: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        if (i as u8).count_ones().is_multiple_of(2) {
            t[i] = PF as u8;
        }
        i += 1;
    }
    t
};

/// `f` if `b`, else 0 (branch-free).
#[inline(always)]
fn bit(b: bool, f: u32) -> u32 {
    (b as u32) * f
}

/// The ZF, SF and PF bits of a result of `size` bytes.
#[inline(always)]
pub(crate) fn szp(res: u32, size: u32) -> u32 {
    let mask = u32::MAX >> (32 - size * 8);
    bit(res & mask == 0, ZF)
        | bit((res >> (size * 8 - 1)) & 1 != 0, SF)
        | PARITY[(res & 0xFF) as usize] as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(d: u32, s: u32, size: u8) -> Lazy {
        let m = u32::MAX >> (32 - size as u32 * 8);
        Lazy::new(CcKind::Sub, size, d.wrapping_sub(s) & m, d, s)
    }

    #[test]
    fn conditions_agree_with_the_flag_formulas() {
        let vals =
            [0u32, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 1234567];
        for size in [1u8, 2, 4] {
            let m = u32::MAX >> (32 - size as u32 * 8);
            for &d in &vals {
                for &s in &vals {
                    let (d, s) = (d & m, s & m);
                    let cases = [
                        sub(d, s, size),
                        Lazy::new(CcKind::Sub, size, d.wrapping_sub(s) & m, d, s),
                        Lazy::new(CcKind::Logic, size, d & s, d, s),
                        Lazy::new(CcKind::Add, size, d.wrapping_add(s) & m, d, s),
                        Lazy::from_eflags(d ^ s.rotate_left(5)),
                    ];
                    // Each also with CF and/or OF overridden.
                    let mut all = Vec::new();
                    for l in cases {
                        for (mask, value) in
                            [(0, 0), (CF, CF), (CF, 0), (OF, OF), (CF | OF, OF), (CF | OF, CF)]
                        {
                            let mut l = l;
                            l.override_cf_of(mask, value);
                            all.push(l);
                        }
                    }
                    for l in all {
                        let b = l.bits();
                        assert_eq!(bit(l.cf(), CF) | bit(l.of(), OF), b & (CF | OF), "{l:?}");
                        for cc in 0..16 {
                            assert_eq!(l.cond(cc), l.cond_slow(cc), "{l:?} cc {cc}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bits_agrees_with_the_single_flag_formulas() {
        let vals = [
            0u32,
            1,
            0x7F,
            0x80,
            0xFF,
            0x7FFF,
            0x8000,
            0xFFFF,
            0x7FFF_FFFF,
            0x8000_0000,
            0xFFFF_FFFF,
            0x1234_5678,
        ];
        let kinds = [
            CcKind::Add,
            CcKind::AddCarry,
            CcKind::Sub,
            CcKind::SubBorrow,
            CcKind::Logic,
            CcKind::Inc,
            CcKind::Dec,
        ];
        for kind in kinds {
            for size in [1u8, 2, 4] {
                for &d in &vals {
                    for &s in &vals {
                        let res = match kind {
                            CcKind::Add => d.wrapping_add(s),
                            CcKind::AddCarry => d.wrapping_add(s).wrapping_add(1),
                            CcKind::Sub => d.wrapping_sub(s),
                            CcKind::SubBorrow => d.wrapping_sub(s).wrapping_sub(1),
                            CcKind::Logic => d & s,
                            CcKind::Inc => d.wrapping_add(1),
                            _ => d.wrapping_sub(1),
                        };
                        let m = u32::MAX >> (32 - size as u32 * 8);
                        let src = if matches!(kind, CcKind::Inc | CcKind::Dec) { s & 1 } else { s & m };
                        let l = Lazy::new(kind, size, res & m, d & m, src);
                        let each = bit(l.cf(), CF)
                            | bit(l.pf(), PF)
                            | bit(l.af(), AF)
                            | bit(l.zf(), ZF)
                            | bit(l.sf(), SF)
                            | bit(l.of(), OF);
                        assert_eq!(l.bits(), each, "{kind:?} size {size} d {d:#x} s {s:#x}");
                    }
                }
            }
        }
    }

    /// Every [`sub_cond`], [`logic_cond`] and [`result_cond`] instance against [`Lazy::cond`].
    #[test]
    fn conditions_for_a_known_producer_agree_with_the_general_ones() {
        fn check<const CC: u8>(l: &Lazy, size: u8) {
            let want = l.cond(CC);
            let (sub, logic, result) = match size {
                1 => (sub_cond::<CC, 8>(l), logic_cond::<CC, 8>(l), result_cond::<CC, 8>(l)),
                2 => (sub_cond::<CC, 16>(l), logic_cond::<CC, 16>(l), result_cond::<CC, 16>(l)),
                _ => (sub_cond::<CC, 32>(l), logic_cond::<CC, 32>(l), result_cond::<CC, 32>(l)),
            };
            match l.kind {
                CcKind::Sub => assert_eq!(sub, want, "{l:?} cc {CC}"),
                CcKind::Logic => assert_eq!(logic, want, "{l:?} cc {CC}"),
                _ => {}
            }
            if matches!(CC >> 1, 2 | 4 | 5) {
                assert_eq!(result, want, "{l:?} cc {CC}");
            }
        }
        fn all(l: &Lazy, size: u8) {
            check::<0>(l, size);
            check::<1>(l, size);
            check::<2>(l, size);
            check::<3>(l, size);
            check::<4>(l, size);
            check::<5>(l, size);
            check::<6>(l, size);
            check::<7>(l, size);
            check::<8>(l, size);
            check::<9>(l, size);
            check::<10>(l, size);
            check::<11>(l, size);
            check::<12>(l, size);
            check::<13>(l, size);
            check::<14>(l, size);
            check::<15>(l, size);
        }
        let vals = [
            0u32,
            1,
            2,
            0x7F,
            0x80,
            0xFF,
            0x7FFF,
            0x8000,
            0xFFFF,
            0x7FFF_FFFF,
            0x8000_0000,
            0xFFFF_FFFF,
            0x1234_5678,
        ];
        for size in [1u8, 2, 4] {
            let m = u32::MAX >> (32 - size as u32 * 8);
            for &d in &vals {
                for &s in &vals {
                    let (d, s) = (d & m, s & m);
                    let cases = [
                        Lazy::new(CcKind::Sub, size, d.wrapping_sub(s) & m, d, s),
                        Lazy::new(CcKind::Logic, size, d & s, d, s),
                        Lazy::new(CcKind::Logic, size, d ^ s, d, s),
                        Lazy::new(CcKind::Add, size, d.wrapping_add(s) & m, d, s),
                        Lazy::new(CcKind::Inc, size, d.wrapping_add(1) & m, d, s & 1),
                        Lazy::new(CcKind::Dec, size, d.wrapping_sub(1) & m, d, s & 1),
                    ];
                    for l in &cases {
                        all(l, size);
                    }
                }
            }
        }
    }

    #[test]
    fn inc_and_dec_overflow_only_at_the_signed_boundary() {
        let inc = |d: u32, size| Lazy::new(CcKind::Inc, size, d.wrapping_add(1), d, 0);
        assert!(inc(0x7f, 1).of());
        assert!(!inc(0x7e, 1).of());
        assert!(inc(0x7fff_ffff, 4).of());
        let dec = |d: u32, size| Lazy::new(CcKind::Dec, size, d.wrapping_sub(1), d, 0);
        assert!(dec(0x8000, 2).of());
        assert!(!dec(0x8001, 2).of());
    }
}
