//! String instructions: MOVS, CMPS, STOS, LODS, SCAS (and INS/OUTS, in `system.rs`), with
//! REP/REPE/REPNE.
//!
//! A repeated instruction runs at most [`CHUNK`] iterations per execution and then asks
//! to be run again ([`Stop::RESTART`]): registers are architecturally exact after every
//! iteration, so this is invisible to the Guest, and it keeps one `rep stosb` with a huge
//! ECX from holding the Host's run loop hostage.

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

pub(crate) fn movs<W: Width>(st: &mut State, op: &Op) -> Res {
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
