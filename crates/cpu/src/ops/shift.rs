//! Shifts and rotates: ROL, ROR, RCL, RCR, SHL/SAL, SHR, SAR, SHLD, SHRD.
//!
//! The count is masked to 5 bits; a masked count of zero changes nothing, not even flags.
//! SHL, SHR and SAR record their flags lazily; the others compute them here. (OF is only
//! defined for a count of 1; we produce the same formula for larger counts, which the
//! differential tests mask as undefined.)

use super::{Op, Width, rm_update};
use crate::exit::Res;
use crate::flags::{CcKind, Lazy, szp};
use crate::regs::eflags::*;
use crate::state::State;

pub(crate) const ROL: u8 = 0;
pub(crate) const ROR: u8 = 1;
pub(crate) const RCL: u8 = 2;
pub(crate) const RCR: u8 = 3;
pub(crate) const SHL: u8 = 4;
pub(crate) const SHR: u8 = 5;
pub(crate) const SAR: u8 = 7;

/// The shift count, masked: CL or the immediate (see `decode::set_count`).
#[inline(always)]
fn count(st: &State, op: &Op) -> u32 {
    (st.regs[(op.imm2 & 0xFF) as usize] | op.imm) & 0x1F
}

#[inline(always)]
fn bit(v: u32, n: u32) -> u32 {
    (v >> n) & 1
}

/// Group-2 shift or rotate of kind `K` on r/m.
pub(crate) fn shift<W: Width, const K: u8, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let c = count(st, op);
    if c == 0 {
        // Still a memory access (and may fault) on hardware; a read suffices here.
        if MEM {
            W::read(st, op.seg, op.ea(st))?;
        }
        return Ok(());
    }
    rm_update::<W, MEM>(st, op, |st, d| Some(shift_value::<W, K>(st, d & W::MASK, c)))
}

/// Shift `d` by the (non-zero, masked) count `c`, updating flags; returns the result.
#[inline(always)]
pub(crate) fn shift_value<W: Width, const K: u8>(st: &mut State, d: u32, c: u32) -> u32 {
    let bits = W::BITS;
    let msb = bits - 1;
    match K {
        // Flags lazily (see `flags.rs`): most are never read.
        SHL => {
            let r = ((d as u64) << c) as u32 & W::MASK;
            st.cc = Lazy::new(CcKind::Shl, W::N as u8, r, d, c);
            r
        }
        SHR => {
            let r = ((d as u64) >> c) as u32;
            st.cc = Lazy::new(CcKind::Shr, W::N as u8, r, d, c);
            r
        }
        SAR => {
            let s = W::sext(d) as i32 as i64;
            let r = (s >> c) as u32 & W::MASK;
            st.cc = Lazy::new(CcKind::Sar, W::N as u8, r, d, c);
            r
        }
        ROL => {
            let n = c % bits;
            let r = if n == 0 { d } else { ((d << n) | (d >> (bits - n))) & W::MASK };
            let cf = r & 1 != 0;
            let of = (bit(r, msb) != 0) != cf;
            st.set_arith_flags(CF | OF, flag(cf, CF) | flag(of, OF));
            r
        }
        ROR => {
            let n = c % bits;
            let r = if n == 0 { d } else { ((d >> n) | (d << (bits - n))) & W::MASK };
            let cf = bit(r, msb) != 0;
            let of = bit(r, msb) != bit(r, msb - 1);
            st.set_arith_flags(CF | OF, flag(cf, CF) | flag(of, OF));
            r
        }
        RCL => {
            let n = c % (bits + 1);
            let mut cf = st.cc.cf() as u32;
            let mut r = d;
            for _ in 0..n {
                let out = bit(r, msb);
                r = ((r << 1) | cf) & W::MASK;
                cf = out;
            }
            let of = bit(r, msb) != cf;
            st.set_arith_flags(CF | OF, flag(cf != 0, CF) | flag(of, OF));
            r
        }
        _ => {
            // RCR
            let n = c % (bits + 1);
            let mut cf = st.cc.cf() as u32;
            let of = bit(d, msb) != cf;
            let mut r = d;
            for _ in 0..n {
                let out = r & 1;
                r = (r >> 1) | (cf << msb);
                cf = out;
            }
            st.set_arith_flags(CF | OF, flag(cf != 0, CF) | flag(of, OF));
            r
        }
    }
}

/// SHL/SHR/SAR/ROL/ROR r32, imm8 with dead flags (the block builder's choice, see
/// `exec.rs`); the count is in `op.imm`.
pub(crate) fn shift32_nf<const K: u8>(st: &mut State, op: &Op) -> Res {
    let c = op.imm & 0x1F;
    let r = &mut st.regs[op.rm as usize];
    *r = match K {
        SHL => *r << c,
        SHR => *r >> c,
        SAR => ((*r as i32) >> c) as u32,
        ROL => r.rotate_left(c),
        _ => r.rotate_right(c),
    };
    Ok(())
}

#[inline(always)]
fn flag(b: bool, f: u32) -> u32 {
    if b { f } else { 0 }
}

/// SHLD / SHRD r/m, reg, imm8|CL (`LEFT` selects SHLD).
pub(crate) fn shld<W: Width, const LEFT: bool, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let c = count(st, op);
    if c == 0 {
        if MEM {
            W::read(st, op.seg, op.ea(st))?;
        }
        return Ok(());
    }
    let src = W::get(st, op.r) as u64;
    let bits = W::BITS;
    rm_update::<W, MEM>(st, op, |st, d| {
        let d = (d & W::MASK) as u64;
        // Work on a concatenation wide enough for any count: dst:src for 32-bit operands,
        // dst:src:dst for 16-bit ones (what current processors do for counts above 16).
        let (r, cf) = if bits == 32 {
            if LEFT {
                let cat = (d << 32) | src;
                (((cat << c) >> 32) as u32, (cat >> (64 - c)) & 1 != 0)
            } else {
                let cat = (src << 32) | d;
                ((cat >> c) as u32, (cat >> (c - 1)) & 1 != 0)
            }
        } else {
            let cat = (d << 32) | (src << 16) | d;
            if LEFT {
                (((cat << c) >> 32) as u32 & 0xFFFF, (cat >> (48 - c)) & 1 != 0)
            } else {
                ((cat >> c) as u32 & 0xFFFF, (cat >> (c - 1)) & 1 != 0)
            }
        };
        let of = ((r ^ d as u32) >> (bits - 1)) & 1 != 0;
        st.cc = Lazy::from_eflags(szp(r, W::N) | flag(cf, CF) | flag(of, OF));
        Some(r)
    })
}
