//! Data movement: MOV and its extending forms, exchanges (XCHG, XADD, CMPXCHG,
//! CMPXCHG8B), LEA, the stack (PUSH, POP, PUSHA, POPA, PUSHF, POPF, ENTER, LEAVE), XLAT,
//! and the instructions that move single flags.

use super::{Op, W8, W32, Width, rm_get, rm_set, rm_update};
use crate::exit::Res;
use crate::regs::{SegReg, eflags::*};
use crate::state::State;

pub(crate) fn mov_rm_r<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let v = W::get(st, op.r);
    rm_set::<W, MEM>(st, op, v)
}

pub(crate) fn mov_r_rm<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let v = rm_get::<W, MEM>(st, op)?;
    W::set(st, op.r, v);
    Ok(())
}

pub(crate) fn mov_rm_imm<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    rm_set::<W, MEM>(st, op, op.imm)
}

/// `mov reg32, reg32`: the most common instruction there is.
pub(crate) fn mov_rr32(st: &mut State, op: &Op) -> Res {
    st.regs[op.r as usize] = st.regs[op.rm as usize];
    Ok(())
}

// The commonest memory forms, by effective-address form `EA`: a fast path and, for
// anything else, the general handler (see `alu.rs`).

/// `mov reg32, [mem]`.
pub(crate) fn mov_r32_m<const EA: u8>(st: &mut State, op: &Op) -> Res {
    match st.read_fast::<W32>(op.seg, op.ea_of::<EA>(st)) {
        Some(v) => {
            st.regs[op.r as usize] = v;
            Ok(())
        }
        None => mov_r_rm::<W32, true>(st, op),
    }
}

/// `mov [mem], reg32`.
pub(crate) fn mov_m_r32<const EA: u8>(st: &mut State, op: &Op) -> Res {
    let v = st.regs[op.r as usize];
    if st.write_fast::<W32>(op.seg, op.ea_of::<EA>(st), v) {
        return Ok(());
    }
    mov_rm_r::<W32, true>(st, op)
}

/// `mov [mem], imm`.
pub(crate) fn mov_m_imm<W: Width, const EA: u8>(st: &mut State, op: &Op) -> Res {
    if st.write_fast::<W>(op.seg, op.ea_of::<EA>(st), op.imm) {
        return Ok(());
    }
    mov_rm_imm::<W, true>(st, op)
}

/// MOVZX/MOVSX reg, [mem].
pub(crate) fn movx_m<D: Width, S: Width, const SIGNED: bool, const EA: u8>(st: &mut State, op: &Op) -> Res {
    let Some(v) = st.read_fast::<S>(op.seg, op.ea_of::<EA>(st)) else {
        return movx::<D, S, SIGNED, true>(st, op);
    };
    let v = if SIGNED { S::sext(v) } else { v };
    D::set(st, op.r, v & D::MASK);
    Ok(())
}

/// MOVZX (`SIGNED` false) / MOVSX (true): destination width `D`, source width `S`.
pub(crate) fn movx<D: Width, S: Width, const SIGNED: bool, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let v = rm_get::<S, MEM>(st, op)? & S::MASK;
    let v = if SIGNED { S::sext(v) } else { v };
    D::set(st, op.r, v & D::MASK);
    Ok(())
}

pub(crate) fn xchg<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    rm_update::<W, MEM>(st, op, |st, old| {
        let r = W::get(st, op.r);
        W::set(st, op.r, old);
        Some(r)
    })
}

pub(crate) fn xadd<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    rm_update::<W, MEM>(st, op, |st, old| {
        let s = W::get(st, op.r);
        let sum = super::alu::alu::<W, { super::alu::ADD }>(st, old, s);
        W::set(st, op.r, old);
        Some(sum)
    })
}

pub(crate) fn cmpxchg<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    rm_update::<W, MEM>(st, op, |st, old| {
        let acc = W::get(st, 0);
        super::alu::alu::<W, { super::alu::CMP }>(st, acc, old);
        if acc & W::MASK == old & W::MASK {
            Some(W::get(st, op.r))
        } else {
            W::set(st, 0, old);
            // The processor writes the old value back, so a read-only page faults either way.
            Some(old)
        }
    })
}

pub(crate) fn cmpxchg8b(st: &mut State, op: &Op) -> Res {
    let ea = op.ea(st);
    let lo_h = st.rmw::<4>(op.seg, ea)?;
    let hi_h = st.rmw::<4>(op.seg, ea.wrapping_add(4) & op.amask)?;
    let lo = st.rmw_read::<4>(lo_h);
    let hi = st.rmw_read::<4>(hi_h);
    if lo == st.regs[0] && hi == st.regs[2] {
        let (b, c) = (st.regs[3], st.regs[1]);
        st.rmw_write::<4>(lo_h, b);
        st.rmw_write::<4>(hi_h, c);
        st.set_arith_flags(ZF, ZF);
    } else {
        st.rmw_write::<4>(lo_h, lo);
        st.rmw_write::<4>(hi_h, hi);
        st.regs[0] = lo;
        st.regs[2] = hi;
        st.set_arith_flags(ZF, 0);
    }
    Ok(())
}

pub(crate) fn lea<W: Width>(st: &mut State, op: &Op) -> Res {
    let ea = op.ea(st);
    W::set(st, op.r, ea);
    Ok(())
}

// ---- the stack ----

pub(crate) fn push_r<W: Width>(st: &mut State, op: &Op) -> Res {
    let v = W::get(st, op.rm);
    push_w::<W>(st, v)
}

pub(crate) fn push_imm<W: Width>(st: &mut State, op: &Op) -> Res {
    push_w::<W>(st, op.imm)
}

pub(crate) fn push_rm<W: Width>(st: &mut State, op: &Op) -> Res {
    let v = W::read(st, op.seg, op.ea(st))?;
    push_w::<W>(st, v)
}

/// PUSH sreg. With a 32-bit operand the selector is zero-extended.
pub(crate) fn push_sreg<W: Width>(st: &mut State, op: &Op) -> Res {
    let v = st.segs[op.r as usize].selector as u32;
    push_w::<W>(st, v)
}

#[inline(always)]
pub(crate) fn push_w<W: Width>(st: &mut State, v: u32) -> Res {
    if W::N == 2 { st.push::<2>(v) } else { st.push::<4>(v) }
}

#[inline(always)]
pub(crate) fn pop_w<W: Width>(st: &mut State) -> Res<u32> {
    if W::N == 2 { st.pop::<2>() } else { st.pop::<4>() }
}

#[inline(always)]
fn peek_w<W: Width>(st: &mut State, off: u32) -> Res<u32> {
    if W::N == 2 { st.stack_read::<2>(off) } else { st.stack_read::<4>(off) }
}

pub(crate) fn pop_r<W: Width>(st: &mut State, op: &Op) -> Res {
    let v = pop_w::<W>(st)?;
    W::set(st, op.rm, v);
    Ok(())
}

/// POP r/m: the address is computed with ESP already incremented, as on hardware.
pub(crate) fn pop_rm<W: Width>(st: &mut State, op: &Op) -> Res {
    let v = peek_w::<W>(st, 0)?;
    let old = st.regs[4];
    st.adjust_sp(W::N);
    let ea = op.ea(st);
    if let Err(e) = W::write(st, op.seg, ea, v) {
        st.regs[4] = old;
        return Err(e);
    }
    Ok(())
}

/// POP DS/ES/FS/GS/SS.
pub(crate) fn pop_sreg<W: Width>(st: &mut State, op: &Op) -> Res {
    let v = peek_w::<W>(st, 0)?;
    let seg = SegReg::ALL[op.r as usize];
    st.load_seg_checked(seg, v as u16)?;
    st.adjust_sp(W::N);
    Ok(())
}

pub(crate) fn pusha<W: Width>(st: &mut State, _: &Op) -> Res {
    // Every trap entry does one: the 32 bytes in one go when they can be.
    if W::N == 4 && st.stack32() && st.regs[4] >= 32 {
        let esp = st.regs[4];
        if let Some(p) = st.span_write_fast(SegReg::Ss as u8, esp - 32, 32) {
            let mut bytes = [0u8; 32];
            for (chunk, r) in bytes.chunks_exact_mut(4).zip(st.regs[..8].iter().rev()) {
                chunk.copy_from_slice(&r.to_le_bytes());
            }
            st.phys_write(p, &bytes);
            st.regs[4] = esp - 32;
            return Ok(());
        }
    }
    let mut regs = [0u32; 8];
    regs.copy_from_slice(&st.regs[..8]);
    let n = W::N;
    let esp = st.regs[4];
    let big = st.stack32();
    let at = |i: u32| {
        let a = esp.wrapping_sub(n * (i + 1));
        if big { a } else { a & 0xFFFF }
    };
    for i in 0..8u32 {
        let v = regs[i as usize];
        if n == 2 {
            st.write::<2>(SegReg::Ss as u8, at(i), v)?;
        } else {
            st.write::<4>(SegReg::Ss as u8, at(i), v)?;
        }
    }
    st.adjust_sp((8 * n).wrapping_neg());
    Ok(())
}

pub(crate) fn popa<W: Width>(st: &mut State, _: &Op) -> Res {
    // Every trap exit does one: the 32 bytes in one go when they can be.
    if W::N == 4 && st.stack32() && st.regs[4] <= u32::MAX - 32 {
        let esp = st.regs[4];
        if let Some(bytes) = st.span_read_fast::<32>(SegReg::Ss as u8, esp) {
            for (i, chunk) in bytes.chunks_exact(4).enumerate() {
                // EDI first, EAX last; the saved ESP is skipped.
                let r = 7 - i;
                if r != 4 {
                    st.regs[r] = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                }
            }
            st.regs[4] = esp + 32;
            return Ok(());
        }
    }
    let mut vals = [0u32; 8];
    for (i, v) in vals.iter_mut().enumerate() {
        *v = peek_w::<W>(st, (7 - i as u32) * W::N)?;
    }
    for (i, v) in vals.iter().enumerate() {
        if i != 4 {
            W::set(st, i as u8, *v);
        }
    }
    st.adjust_sp(8 * W::N);
    Ok(())
}

pub(crate) fn pushf<W: Width>(st: &mut State, _: &Op) -> Res {
    let v = st.eflags() & !(RF | VM);
    push_w::<W>(st, v)
}

pub(crate) fn popf<W: Width>(st: &mut State, _: &Op) -> Res {
    let v = peek_w::<W>(st, 0)?;
    st.adjust_sp(W::N);
    let old = st.eflags();
    let mut mask = WRITABLE & !(RF | VM | VIF | VIP);
    if st.cpl > 0 {
        mask &= !IOPL;
        if st.cpl > st.iopl() {
            mask &= !IF;
        }
    }
    if W::N == 2 {
        mask &= 0xFFFF;
    }
    st.set_eflags((old & !mask) | (v & mask));
    Ok(())
}

/// ENTER imm16, imm8.
pub(crate) fn enter<W: Width>(st: &mut State, op: &Op) -> Res {
    let size = op.imm & 0xFFFF;
    let level = op.imm2 & 31;
    let n = W::N;
    let big = st.stack32();
    let wrap = |a: u32| if big { a } else { a & 0xFFFF };
    let ss = SegReg::Ss as u8;
    let mut esp = st.regs[4];
    let mut ebp = st.regs[5];
    let write = |st: &mut State, addr: u32, v: u32| {
        if n == 2 { st.write::<2>(ss, addr, v) } else { st.write::<4>(ss, addr, v) }
    };
    esp = esp.wrapping_sub(n);
    write(st, wrap(esp), ebp)?;
    let frame = esp;
    if level > 0 {
        for _ in 1..level {
            ebp = ebp.wrapping_sub(n);
            let v = if n == 2 { st.read::<2>(ss, wrap(ebp))? } else { st.read::<4>(ss, wrap(ebp))? };
            esp = esp.wrapping_sub(n);
            write(st, wrap(esp), v)?;
        }
        esp = esp.wrapping_sub(n);
        write(st, wrap(esp), frame)?;
    }
    let new_esp = esp.wrapping_sub(size);
    // The final stack pointer must be usable: touch the lowest byte of the new frame.
    if size != 0 {
        st.lin_write(ss, wrap(new_esp), 1)?;
    }
    if big {
        st.regs[4] = new_esp;
    } else {
        st.set_reg16(4, new_esp);
    }
    W::set(st, 5, frame);
    Ok(())
}

pub(crate) fn leave<W: Width>(st: &mut State, _: &Op) -> Res {
    let ebp = st.regs[5];
    let sp = if st.stack32() { ebp } else { ebp & 0xFFFF };
    let v = if W::N == 2 { st.read::<2>(SegReg::Ss as u8, sp)? } else { st.read::<4>(SegReg::Ss as u8, sp)? };
    if st.stack32() {
        st.regs[4] = ebp.wrapping_add(W::N);
    } else {
        st.set_reg16(4, ebp.wrapping_add(W::N));
    }
    W::set(st, 5, v);
    Ok(())
}

// ---- odds and ends ----

pub(crate) fn xlat(st: &mut State, op: &Op) -> Res {
    let ea = st.regs[3].wrapping_add(st.regs[0] & 0xFF) & op.amask;
    let v = st.read::<1>(op.seg, ea)?;
    W8::set(st, 0, v);
    Ok(())
}

pub(crate) fn lahf(st: &mut State, _: &Op) -> Res {
    let f = st.eflags() & (SF | ZF | AF | PF | CF) | FIXED;
    W8::set(st, 4, f);
    Ok(())
}

pub(crate) fn sahf(st: &mut State, _: &Op) -> Res {
    let ah = (st.regs[0] >> 8) & 0xFF;
    let mask = SF | ZF | AF | PF | CF;
    st.set_arith_flags(mask, ah);
    Ok(())
}

pub(crate) fn clc(st: &mut State, _: &Op) -> Res {
    st.set_arith_flags(CF, 0);
    Ok(())
}

pub(crate) fn stc(st: &mut State, _: &Op) -> Res {
    st.set_arith_flags(CF, CF);
    Ok(())
}

pub(crate) fn cmc(st: &mut State, _: &Op) -> Res {
    let cf = st.cc.cf();
    st.set_arith_flags(CF, if cf { 0 } else { CF });
    Ok(())
}

pub(crate) fn cld(st: &mut State, _: &Op) -> Res {
    st.flags &= !DF;
    Ok(())
}

pub(crate) fn std_(st: &mut State, _: &Op) -> Res {
    st.flags |= DF;
    Ok(())
}
