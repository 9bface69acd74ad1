//! String instructions: MOVS, CMPS, STOS, LODS, SCAS (and INS/OUTS, in `system.rs`), with
//! REP/REPE/REPNE.
//!
//! A repeated instruction runs at most [`CHUNK`] iterations per execution and then asks
//! to be run again ([`Stop::RESTART`]): registers are architecturally exact after every
//! iteration, so this is invisible to the Guest, and it keeps one `rep stosb` with a huge
//! ECX from holding the Host's run loop hostage.
//!
//! REP STOS and REP MOVS going forwards with 32-bit addresses (memset and memcpy) move
//! whole runs of elements at once where the fast paths allow it — within one page of
//! each operand, writable without the page walker's or the code cache's attention — and
//! fall back to one element the general way otherwise: the same stores in the same
//! order, so the same faults at the same element.

use super::{Op, Width};
use crate::exit::{Res, Stop};
use crate::regs::SegReg;
use crate::state::State;

/// Iterations per execution of a repeated string instruction.
pub(crate) const CHUNK: u32 = 4096;

/// No repeat prefix.
pub(crate) const REP_NONE: u32 = 0;
/// REP, or REPE for CMPS/SCAS.
pub(crate) const REP_E: u32 = 1;
/// REPNE (REP for MOVS/STOS/LODS too, where F2 acts like F3).
pub(crate) const REP_NE: u32 = 2;

const ES: u8 = SegReg::Es as u8;

#[inline(always)]
fn step<W: Width>(st: &State) -> u32 {
    if st.df() { W::N.wrapping_neg() } else { W::N }
}

/// Advance ESI or EDI (only SI or DI with 16-bit addressing).
#[inline(always)]
fn advance(st: &mut State, reg: usize, by: u32, amask: u32) {
    let v = st.regs[reg];
    st.regs[reg] = (v & !amask) | (v.wrapping_add(by) & amask);
}

#[inline(always)]
fn count(st: &State, amask: u32) -> u32 {
    st.regs[1] & amask
}

#[inline(always)]
fn dec_count(st: &mut State, amask: u32) {
    let v = st.regs[1];
    st.regs[1] = (v & !amask) | (v.wrapping_sub(1) & amask);
}

/// Run `body` once, or under a REP prefix up to CHUNK times. `body` returns whether a
/// REPE/REPNE condition allows continuing (always true for non-comparing instructions).
#[inline(always)]
fn repeat(st: &mut State, op: &Op, compares: bool, mut body: impl FnMut(&mut State) -> Res) -> Res {
    let rep = op.imm2;
    if rep == REP_NONE {
        return body(st);
    }
    let amask = op.amask;
    for _ in 0..CHUNK {
        if count(st, amask) == 0 {
            return Ok(());
        }
        body(st)?;
        dec_count(st, amask);
        if compares {
            let zf = st.cc.zf();
            if (rep == REP_E && !zf) || (rep == REP_NE && zf) {
                return Ok(());
            }
        }
    }
    if count(st, amask) == 0 { Ok(()) } else { Err(Stop::RESTART) }
}

/// Whole elements of `W` from linear address `lin` to the end of its page.
#[inline(always)]
fn room<W: Width>(lin: u32) -> u32 {
    (0x1000 - (lin & 0xFFF)) / W::N
}

/// REP STOS forwards with 32-bit addresses, a page at a time (see the module doc).
fn rep_stos_fast<W: Width>(st: &mut State) -> Res {
    let v = W::get(st, 0);
    let bytes = v.to_le_bytes();
    let mut done = 0;
    while done < CHUNK {
        let c = st.regs[1];
        if c == 0 {
            return Ok(());
        }
        let edi = st.regs[7];
        let lin = st.segs[ES as usize].base.wrapping_add(edi);
        let k = c.min(CHUNK - done).min(room::<W>(lin));
        if k > 0
            && let Some(p) = st.span_write_fast(ES, edi, k * W::N)
        {
            let n = (k * W::N) as usize;
            if let Some(dst) = st.mem.bytes.get_mut(p..p + n) {
                for chunk in dst.chunks_exact_mut(W::N as usize) {
                    chunk.copy_from_slice(&bytes[..W::N as usize]);
                }
            }
            st.regs[7] = edi.wrapping_add(k * W::N);
            st.regs[1] = c - k;
            done += k;
            continue;
        }
        W::write(st, ES, edi, v)?;
        st.regs[7] = edi.wrapping_add(W::N);
        st.regs[1] = c - 1;
        done += 1;
    }
    if st.regs[1] == 0 { Ok(()) } else { Err(Stop::RESTART) }
}

/// REP MOVS forwards with 32-bit addresses, a page at a time (see the module doc).
fn rep_movs_fast<W: Width>(st: &mut State, seg: u8) -> Res {
    let n = W::N;
    let mut done = 0;
    while done < CHUNK {
        let c = st.regs[1];
        if c == 0 {
            return Ok(());
        }
        let (esi, edi) = (st.regs[6], st.regs[7]);
        let src_lin = st.segs[(seg & 7) as usize].base.wrapping_add(esi);
        let dst_lin = st.segs[ES as usize].base.wrapping_add(edi);
        let k = c.min(CHUNK - done).min(room::<W>(src_lin)).min(room::<W>(dst_lin));
        if k > 0
            && let Some(ps) = st.span_read_at(seg, esi, k * n)
            && let Some(pd) = st.span_write_fast(ES, edi, k * n)
        {
            let len = (k * n) as usize;
            if pd >= ps + len || ps >= pd + len {
                st.mem.bytes.copy_within(ps..ps + len, pd);
            } else {
                // Overlapping: element by element, as the instruction does it.
                for i in 0..k as usize {
                    let at = i * n as usize;
                    st.mem.bytes.copy_within(ps + at..ps + at + n as usize, pd + at);
                }
            }
            st.regs[6] = esi.wrapping_add(k * n);
            st.regs[7] = edi.wrapping_add(k * n);
            st.regs[1] = c - k;
            done += k;
            continue;
        }
        let v = W::read(st, seg, esi)?;
        W::write(st, ES, edi, v)?;
        st.regs[6] = esi.wrapping_add(n);
        st.regs[7] = edi.wrapping_add(n);
        st.regs[1] = c - 1;
        done += 1;
    }
    if st.regs[1] == 0 { Ok(()) } else { Err(Stop::RESTART) }
}

pub(crate) fn movs<W: Width>(st: &mut State, op: &Op) -> Res {
    if op.imm2 != REP_NONE && op.amask == u32::MAX && !st.df() {
        return rep_movs_fast::<W>(st, op.seg);
    }
    let amask = op.amask;
    repeat(st, op, false, |st| {
        let v = W::read(st, op.seg, st.regs[6] & amask)?;
        W::write(st, ES, st.regs[7] & amask, v)?;
        let d = step::<W>(st);
        advance(st, 6, d, amask);
        advance(st, 7, d, amask);
        Ok(())
    })
}

pub(crate) fn stos<W: Width>(st: &mut State, op: &Op) -> Res {
    if op.imm2 != REP_NONE && op.amask == u32::MAX && !st.df() {
        return rep_stos_fast::<W>(st);
    }
    let amask = op.amask;
    repeat(st, op, false, |st| {
        let v = W::get(st, 0);
        W::write(st, ES, st.regs[7] & amask, v)?;
        let d = step::<W>(st);
        advance(st, 7, d, amask);
        Ok(())
    })
}

pub(crate) fn lods<W: Width>(st: &mut State, op: &Op) -> Res {
    let amask = op.amask;
    repeat(st, op, false, |st| {
        let v = W::read(st, op.seg, st.regs[6] & amask)?;
        W::set(st, 0, v);
        let d = step::<W>(st);
        advance(st, 6, d, amask);
        Ok(())
    })
}

pub(crate) fn cmps<W: Width>(st: &mut State, op: &Op) -> Res {
    let amask = op.amask;
    repeat(st, op, true, |st| {
        let a = W::read(st, op.seg, st.regs[6] & amask)?;
        let b = W::read(st, ES, st.regs[7] & amask)?;
        super::alu::alu::<W, { super::alu::CMP }>(st, a, b);
        let d = step::<W>(st);
        advance(st, 6, d, amask);
        advance(st, 7, d, amask);
        Ok(())
    })
}

pub(crate) fn scas<W: Width>(st: &mut State, op: &Op) -> Res {
    let amask = op.amask;
    repeat(st, op, true, |st| {
        let b = W::read(st, ES, st.regs[7] & amask)?;
        let a = W::get(st, 0);
        super::alu::alu::<W, { super::alu::CMP }>(st, a, b);
        let d = step::<W>(st);
        advance(st, 7, d, amask);
        Ok(())
    })
}

/// INS: port input to ES:[E]DI. There are no ports on this CPU: a read returns all ones.
pub(crate) fn ins<W: Width>(st: &mut State, op: &Op) -> Res {
    super::system::check_io(st)?;
    let amask = op.amask;
    repeat(st, op, false, |st| {
        W::write(st, ES, st.regs[7] & amask, W::MASK)?;
        let d = step::<W>(st);
        advance(st, 7, d, amask);
        Ok(())
    })
}

/// OUTS: port output from [E]SI. The bytes are read (and may fault) and go nowhere.
pub(crate) fn outs<W: Width>(st: &mut State, op: &Op) -> Res {
    super::system::check_io(st)?;
    let amask = op.amask;
    repeat(st, op, false, |st| {
        W::read(st, op.seg, st.regs[6] & amask)?;
        let d = step::<W>(st);
        advance(st, 6, d, amask);
        Ok(())
    })
}
