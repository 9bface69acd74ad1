//! Integer arithmetic: the eight classic ALU operations, TEST, INC/DEC, NEG/NOT,
//! multiply and divide, sign extension of the accumulator, and BCD adjustment.

use super::{Op, W8, W16, W32, Width, rm_get, rm_update};
use crate::exit::{Res, fault};
use crate::flags::{CcKind, Lazy, szp};
use crate::regs::{eflags::*, vector};
use crate::state::State;

pub(crate) const ADD: u8 = 0;
pub(crate) const OR: u8 = 1;
pub(crate) const ADC: u8 = 2;
pub(crate) const SBB: u8 = 3;
pub(crate) const AND: u8 = 4;
pub(crate) const SUB: u8 = 5;
pub(crate) const XOR: u8 = 6;
pub(crate) const CMP: u8 = 7;
pub(crate) const TEST: u8 = 8;

/// Compute `d OP s` at width `W`, set the lazy flags, return the result.
#[inline(always)]
pub(crate) fn alu<W: Width, const OP: u8>(st: &mut State, d: u32, s: u32) -> u32 {
    let (d, s) = (d & W::MASK, s & W::MASK);
    let size = W::N as u8;
    let set = |st: &mut State, kind, res| st.cc = Lazy::new(kind, size, res, d, s);
    match OP {
        ADD => {
            let r = d.wrapping_add(s) & W::MASK;
            set(st, CcKind::Add, r);
            r
        }
        ADC => {
            let c = st.cc.cf();
            let r = d.wrapping_add(s).wrapping_add(c as u32) & W::MASK;
            set(st, if c { CcKind::AddCarry } else { CcKind::Add }, r);
            r
        }
        SUB | CMP => {
            let r = d.wrapping_sub(s) & W::MASK;
            set(st, CcKind::Sub, r);
            r
        }
        SBB => {
            let c = st.cc.cf();
            let r = d.wrapping_sub(s).wrapping_sub(c as u32) & W::MASK;
            set(st, if c { CcKind::SubBorrow } else { CcKind::Sub }, r);
            r
        }
        OR => {
            let r = d | s;
            set(st, CcKind::Logic, r);
            r
        }
        AND | TEST => {
            let r = d & s;
            set(st, CcKind::Logic, r);
            r
        }
        _ => {
            let r = d ^ s;
            set(st, CcKind::Logic, r);
            r
        }
    }
}

const fn writes_back(op: u8) -> bool {
    op != CMP && op != TEST
}

/// `OP r/m, reg`
pub(crate) fn alu_rm_r<W: Width, const OP: u8, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let s = W::get(st, op.r);
    if !writes_back(OP) {
        let d = rm_get::<W, MEM>(st, op)?;
        alu::<W, OP>(st, d, s);
        return Ok(());
    }
    rm_update::<W, MEM>(st, op, |st, d| Some(alu::<W, OP>(st, d, s)))
}

/// `OP reg, r/m`
pub(crate) fn alu_r_rm<W: Width, const OP: u8, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let s = rm_get::<W, MEM>(st, op)?;
    let d = W::get(st, op.r);
    let r = alu::<W, OP>(st, d, s);
    if writes_back(OP) {
        W::set(st, op.r, r);
    }
    Ok(())
}

/// `OP r/m, imm` (also `OP AL/AX/EAX, imm`, decoded with r/m = the accumulator).
pub(crate) fn alu_rm_imm<W: Width, const OP: u8, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let s = op.imm;
    if !writes_back(OP) {
        let d = rm_get::<W, MEM>(st, op)?;
        alu::<W, OP>(st, d, s);
        return Ok(());
    }
    rm_update::<W, MEM>(st, op, |st, d| Some(alu::<W, OP>(st, d, s)))
}

// The commonest memory forms, by effective-address form `EA`: a fast path (segment
// check, TLB hit, no page crossing) and, for anything else, the general handler, which
// does the same again the slow way and raises whatever fault there is.

/// `OP mem, reg`.
pub(crate) fn alu_m_r<W: Width, const OP: u8, const EA: u8>(st: &mut State, op: &Op) -> Res {
    let ea = op.ea_of::<EA>(st);
    if writes_back(OP) {
        if let Some(p) = st.rmw_fast::<W>(op.seg, ea) {
            let d = st.phys_get::<W>(p);
            let r = alu::<W, OP>(st, d, W::get(st, op.r));
            st.phys_set::<W>(p, r);
            return Ok(());
        }
    } else if let Some(d) = st.read_fast::<W>(op.seg, ea) {
        alu::<W, OP>(st, d, W::get(st, op.r));
        return Ok(());
    }
    alu_rm_r::<W, OP, true>(st, op)
}

/// `OP reg, mem`.
pub(crate) fn alu_r_m<W: Width, const OP: u8, const EA: u8>(st: &mut State, op: &Op) -> Res {
    let Some(s) = st.read_fast::<W>(op.seg, op.ea_of::<EA>(st)) else {
        return alu_r_rm::<W, OP, true>(st, op);
    };
    let r = alu::<W, OP>(st, W::get(st, op.r), s);
    if writes_back(OP) {
        W::set(st, op.r, r);
    }
    Ok(())
}

/// `OP mem, imm`.
pub(crate) fn alu_m_imm<W: Width, const OP: u8, const EA: u8>(st: &mut State, op: &Op) -> Res {
    let ea = op.ea_of::<EA>(st);
    if writes_back(OP) {
        if let Some(p) = st.rmw_fast::<W>(op.seg, ea) {
            let d = st.phys_get::<W>(p);
            let r = alu::<W, OP>(st, d, op.imm);
            st.phys_set::<W>(p, r);
            return Ok(());
        }
    } else if let Some(d) = st.read_fast::<W>(op.seg, ea) {
        alu::<W, OP>(st, d, op.imm);
        return Ok(());
    }
    alu_rm_imm::<W, OP, true>(st, op)
}

/// The common `xor reg, reg` / `sub reg, reg` zeroing idiom and friends on 32-bit
/// registers: the fastest form, no r/m indirection.
pub(crate) fn alu_rr32<const OP: u8>(st: &mut State, op: &Op) -> Res {
    let d = st.regs[op.rm as usize];
    let s = st.regs[op.r as usize];
    let r = alu::<W32, OP>(st, d, s);
    if writes_back(OP) {
        st.regs[op.rm as usize] = r;
    }
    Ok(())
}

/// `OP reg32, imm` on a register: the other very common form.
pub(crate) fn alu_ri32<const OP: u8>(st: &mut State, op: &Op) -> Res {
    let d = st.regs[op.rm as usize];
    let r = alu::<W32, OP>(st, d, op.imm);
    if writes_back(OP) {
        st.regs[op.rm as usize] = r;
    }
    Ok(())
}

// ---- without flags ----
//
// The block builder (see `exec.rs`) gives these to register-only instructions whose flags
// a later instruction of the same block overwrites before anything could see them.

/// `d OP s` on 32 bits, flags untouched (ADC/SBB still read the carry).
#[inline(always)]
fn alu_value<const OP: u8>(st: &State, d: u32, s: u32) -> u32 {
    match OP {
        ADD => d.wrapping_add(s),
        ADC => d.wrapping_add(s).wrapping_add(st.cc.cf() as u32),
        SUB | CMP => d.wrapping_sub(s),
        SBB => d.wrapping_sub(s).wrapping_sub(st.cc.cf() as u32),
        OR => d | s,
        AND | TEST => d & s,
        _ => d ^ s,
    }
}

/// [`alu_rr32`] with dead flags (not used for CMP and TEST, which would do nothing).
pub(crate) fn alu_rr32_nf<const OP: u8>(st: &mut State, op: &Op) -> Res {
    let r = alu_value::<OP>(st, st.regs[op.rm as usize], st.regs[op.r as usize]);
    st.regs[op.rm as usize] = r;
    Ok(())
}

/// [`alu_ri32`] with dead flags.
pub(crate) fn alu_ri32_nf<const OP: u8>(st: &mut State, op: &Op) -> Res {
    let r = alu_value::<OP>(st, st.regs[op.rm as usize], op.imm);
    st.regs[op.rm as usize] = r;
    Ok(())
}

/// INC r32 with dead flags.
pub(crate) fn inc32_nf(st: &mut State, op: &Op) -> Res {
    let r = &mut st.regs[op.rm as usize];
    *r = r.wrapping_add(1);
    Ok(())
}

/// DEC r32 with dead flags.
pub(crate) fn dec32_nf(st: &mut State, op: &Op) -> Res {
    let r = &mut st.regs[op.rm as usize];
    *r = r.wrapping_sub(1);
    Ok(())
}

/// NEG r32 with dead flags.
pub(crate) fn neg32_nf(st: &mut State, op: &Op) -> Res {
    let r = &mut st.regs[op.rm as usize];
    *r = r.wrapping_neg();
    Ok(())
}

pub(crate) fn inc<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    rm_update::<W, MEM>(st, op, |st, d| {
        let d = d & W::MASK;
        let r = d.wrapping_add(1) & W::MASK;
        let cf = st.cc.cf() as u32;
        st.cc = Lazy::new(CcKind::Inc, W::N as u8, r, d, cf);
        Some(r)
    })
}

pub(crate) fn dec<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    rm_update::<W, MEM>(st, op, |st, d| {
        let d = d & W::MASK;
        let r = d.wrapping_sub(1) & W::MASK;
        let cf = st.cc.cf() as u32;
        st.cc = Lazy::new(CcKind::Dec, W::N as u8, r, d, cf);
        Some(r)
    })
}

pub(crate) fn neg<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    rm_update::<W, MEM>(st, op, |st, d| Some(alu::<W, SUB>(st, 0, d)))
}

pub(crate) fn not<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    rm_update::<W, MEM>(st, op, |_, d| Some(!d & W::MASK))
}

/// Set the flags a multiply leaves: CF = OF = `overflow`; SF, ZF, PF from the low half
/// (architecturally undefined; this matches what current processors do for SF/ZF/PF
/// closely enough that nobody can rely on the difference).
fn mul_flags<W: Width>(st: &mut State, low: u32, overflow: bool) {
    let f = szp(low, W::N) | if overflow { CF | OF } else { 0 };
    st.cc = Lazy::from_eflags(f);
}

/// `MUL r/m`: unsigned AL/AX/EAX * operand.
pub(crate) fn mul<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let s = rm_get::<W, MEM>(st, op)? as u64;
    let a = (st.regs[0] & W::MASK) as u64;
    let p = a * s;
    let (lo, hi) = ((p as u32) & W::MASK, (p >> W::BITS) as u32 & W::MASK);
    store_wide::<W>(st, lo, hi);
    mul_flags::<W>(st, lo, hi != 0);
    Ok(())
}

/// `IMUL r/m`: signed AL/AX/EAX * operand into AX, DX:AX or EDX:EAX.
pub(crate) fn imul1<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let s = W::sext(rm_get::<W, MEM>(st, op)?) as i32 as i64;
    let a = W::sext(st.regs[0]) as i32 as i64;
    let p = a * s;
    let (lo, hi) = ((p as u32) & W::MASK, (p >> W::BITS) as u32 & W::MASK);
    store_wide::<W>(st, lo, hi);
    mul_flags::<W>(st, lo, (W::sext(lo) as i32 as i64) != p);
    Ok(())
}

/// Store a double-width product: AX for bytes, DX:AX for words, EDX:EAX for dwords.
fn store_wide<W: Width>(st: &mut State, lo: u32, hi: u32) {
    if W::N == 1 {
        W16::set(st, 0, lo | hi << 8);
    } else {
        W::set(st, 0, lo);
        W::set(st, 2, hi);
    }
}

/// `IMUL reg, r/m` and `IMUL reg, r/m, imm` (imm in `op.imm`; the two-operand form is
/// decoded with `op.imm2 == 1` meaning "multiply by the register itself").
pub(crate) fn imul_r<W: Width, const MEM: bool, const THREE: bool>(st: &mut State, op: &Op) -> Res {
    let s = W::sext(rm_get::<W, MEM>(st, op)?) as i32 as i64;
    let m = if THREE { W::sext(op.imm) as i32 as i64 } else { W::sext(W::get(st, op.r)) as i32 as i64 };
    let p = s * m;
    let lo = (p as u32) & W::MASK;
    W::set(st, op.r, lo);
    mul_flags::<W>(st, lo, (W::sext(lo) as i32 as i64) != p);
    Ok(())
}

/// `DIV r/m`: unsigned divide of AX, DX:AX or EDX:EAX. Flags are left unchanged
/// (architecturally undefined).
pub(crate) fn div<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let s = rm_get::<W, MEM>(st, op)? as u64;
    if s == 0 {
        return Err(fault(vector::DE));
    }
    let n = dividend::<W>(st);
    let q = n / s;
    if q > W::MASK as u64 {
        return Err(fault(vector::DE));
    }
    store_quot_rem::<W>(st, q as u32, (n % s) as u32);
    Ok(())
}

/// `IDIV r/m`: signed divide; the quotient truncates toward zero.
pub(crate) fn idiv<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let s = W::sext(rm_get::<W, MEM>(st, op)?) as i32 as i64;
    if s == 0 {
        return Err(fault(vector::DE));
    }
    let raw = dividend::<W>(st);
    let n = match W::N {
        1 => raw as u16 as i16 as i64,
        2 => raw as u32 as i32 as i64,
        _ => raw as i64,
    };
    let q = n.wrapping_div(s);
    let lo = -(1i64 << (W::BITS - 1));
    let hi = (1i64 << (W::BITS - 1)) - 1;
    if q < lo || q > hi {
        return Err(fault(vector::DE));
    }
    store_quot_rem::<W>(st, q as u32 & W::MASK, n.wrapping_rem(s) as u32 & W::MASK);
    Ok(())
}

fn dividend<W: Width>(st: &State) -> u64 {
    match W::N {
        1 => (st.regs[0] & 0xFFFF) as u64,
        2 => ((st.regs[2] & 0xFFFF) << 16 | (st.regs[0] & 0xFFFF)) as u64,
        _ => (st.regs[2] as u64) << 32 | st.regs[0] as u64,
    }
}

fn store_quot_rem<W: Width>(st: &mut State, q: u32, r: u32) {
    if W::N == 1 {
        W16::set(st, 0, q | r << 8);
    } else {
        W::set(st, 0, q);
        W::set(st, 2, r);
    }
}

/// CBW (16-bit operand) / CWDE (32-bit).
pub(crate) fn cbw<W: Width>(st: &mut State, _: &Op) -> Res {
    if W::N == 2 {
        W16::set(st, 0, W8::sext(st.regs[0]));
    } else {
        st.regs[0] = W16::sext(st.regs[0]);
    }
    Ok(())
}

/// CWD (16-bit operand) / CDQ (32-bit).
pub(crate) fn cwd<W: Width>(st: &mut State, _: &Op) -> Res {
    let sign = st.regs[0] & W::SIGN != 0;
    W::set(st, 2, if sign { W::MASK } else { 0 });
    Ok(())
}

fn flags_bits(st: &State) -> u32 {
    st.cc.bits()
}

/// DAA: decimal adjust AL after addition.
pub(crate) fn daa(st: &mut State, _: &Op) -> Res {
    let f = flags_bits(st);
    let old_al = st.regs[0] & 0xFF;
    let old_cf = f & CF != 0;
    let mut al = old_al;
    let mut cf = false;
    let mut af = false;
    if al & 0xF > 9 || f & AF != 0 {
        al = (al + 6) & 0xFF;
        cf = old_cf || old_al > 0xF9;
        af = true;
    }
    if old_al > 0x99 || old_cf {
        al = (al + 0x60) & 0xFF;
        cf = true;
    }
    W8::set(st, 0, al);
    // OF is undefined; processors compute it like an 8-bit add of the adjustment.
    let of = (old_al & 0x80 == 0) && (al & 0x80 != 0);
    st.cc = Lazy::from_eflags(
        szp(al, 1) | if cf { CF } else { 0 } | if af { AF } else { 0 } | if of { OF } else { 0 },
    );
    Ok(())
}

/// DAS: decimal adjust AL after subtraction.
pub(crate) fn das(st: &mut State, _: &Op) -> Res {
    let f = flags_bits(st);
    let old_al = st.regs[0] & 0xFF;
    let old_cf = f & CF != 0;
    let mut al = old_al;
    let mut cf = false;
    let mut af = false;
    if al & 0xF > 9 || f & AF != 0 {
        al = al.wrapping_sub(6) & 0xFF;
        cf = old_cf || old_al < 6;
        af = true;
    }
    if old_al > 0x99 || old_cf {
        al = al.wrapping_sub(0x60) & 0xFF;
        cf = true;
    }
    W8::set(st, 0, al);
    let of = (old_al & 0x80 != 0) && (al & 0x80 == 0);
    st.cc = Lazy::from_eflags(
        szp(al, 1) | if cf { CF } else { 0 } | if af { AF } else { 0 } | if of { OF } else { 0 },
    );
    Ok(())
}

/// AAA / AAS: ASCII adjust after addition / subtraction.
pub(crate) fn aaa_aas<const SUB_: bool>(st: &mut State, _: &Op) -> Res {
    let f = flags_bits(st);
    let ax = st.regs[0] & 0xFFFF;
    let adjust = ax & 0xF > 9 || f & AF != 0;
    // Since the 286 the adjustment is done on all of AX (then AH is stepped), so a
    // borrow or carry out of AL reaches AH too: AAS of AX=0x0002 gives 0xFE0C, not 0xFF0C.
    let new_ax = if adjust {
        if SUB_ { ax.wrapping_sub(6).wrapping_sub(0x100) } else { ax.wrapping_add(0x106) }
    } else {
        ax
    };
    W16::set(st, 0, new_ax & 0xFF0F);
    let bits = if adjust { CF | AF } else { 0 };
    st.cc = Lazy::from_eflags(szp(new_ax & 0x0F, 1) | bits);
    Ok(())
}

/// AAM imm8: AH = AL / imm, AL = AL % imm.
pub(crate) fn aam(st: &mut State, op: &Op) -> Res {
    let base = op.imm & 0xFF;
    if base == 0 {
        return Err(fault(vector::DE));
    }
    let al = st.regs[0] & 0xFF;
    let r = (al / base) << 8 | (al % base);
    W16::set(st, 0, r);
    st.cc = Lazy::from_eflags(szp(r & 0xFF, 1));
    Ok(())
}

/// AAD imm8: AL = AH * imm + AL, AH = 0.
pub(crate) fn aad(st: &mut State, op: &Op) -> Res {
    let base = op.imm & 0xFF;
    let al = st.regs[0] & 0xFF;
    let ah = (st.regs[0] >> 8) & 0xFF;
    let prod = (ah * base) & 0xFF;
    // Flags as an 8-bit ADD of AL and AH*imm, which is what processors report.
    let r = alu::<W8, ADD>(st, al, prod);
    W16::set(st, 0, r);
    Ok(())
}
