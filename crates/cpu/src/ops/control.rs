//! Control transfer: JMP, Jcc, CALL, RET, LOOP*, J(E)CXZ, far JMP/CALL/RET, IRET, INT n,
//! INT3, INTO, HLT.
//!
//! Every one of these ends a block, so a handler that branches simply sets EIP; the run
//! loop has already set EIP to the fall-through address before the block started.
//! Interrupts and HLT end `run` with a value for the Host ([`Stop::trap`]): this CPU has
//! no IDT, delivery is the Host's job.

use super::data::push_w;
use super::{Op, Width, rm_get};
use crate::exit::{Exit, Res, Stop, gp0};
use crate::flags::{logic_cond, result_cond, sub_cond};
use crate::regs::{SegReg, eflags::*, vector};
use crate::segments::Segment;
use crate::state::State;

const CS: usize = SegReg::Cs as usize;

/// Set EIP to `target`, or #GP(0) if it lies beyond the code segment's limit.
#[inline(always)]
fn branch(st: &mut State, target: u32) -> Res {
    if target > st.segs[CS].limit {
        return Err(gp0());
    }
    st.eip = target;
    Ok(())
}

pub(crate) fn jmp_rel(st: &mut State, op: &Op) -> Res {
    branch(st, op.imm)
}

/// Jcc, specialised by condition code `CC`; target in `op.imm`.
pub(crate) fn jcc<const CC: u8>(st: &mut State, op: &Op) -> Res {
    if st.cc.cond(CC) {
        return branch(st, op.imm);
    }
    Ok(())
}

/// Jcc right after a SUB or CMP of `BITS`-bit operands in the same block (the block
/// builder knows; see `decode::known_jcc`).
pub(crate) fn jcc_sub<const CC: u8, const BITS: u32>(st: &mut State, op: &Op) -> Res {
    if sub_cond::<CC, BITS>(&st.cc) {
        return branch(st, op.imm);
    }
    Ok(())
}

/// Jcc right after AND, OR, XOR or TEST in the same block.
pub(crate) fn jcc_logic<const CC: u8, const BITS: u32>(st: &mut State, op: &Op) -> Res {
    if logic_cond::<CC, BITS>(&st.cc) {
        return branch(st, op.imm);
    }
    Ok(())
}

/// JE/JNE/JS/JNS/JP/JNP right after another lazily recorded result (ADD, INC, DEC...).
pub(crate) fn jcc_result<const CC: u8, const BITS: u32>(st: &mut State, op: &Op) -> Res {
    if result_cond::<CC, BITS>(&st.cc) {
        return branch(st, op.imm);
    }
    Ok(())
}

pub(crate) fn jmp_rm<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let t = rm_get::<W, MEM>(st, op)? & W::MASK;
    branch(st, t)
}

pub(crate) fn call_rel<W: Width>(st: &mut State, op: &Op) -> Res {
    if op.imm > st.segs[CS].limit {
        return Err(gp0());
    }
    push_w::<W>(st, op.next())?;
    st.eip = op.imm;
    Ok(())
}

pub(crate) fn call_rm<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let t = rm_get::<W, MEM>(st, op)? & W::MASK;
    if t > st.segs[CS].limit {
        return Err(gp0());
    }
    push_w::<W>(st, op.next())?;
    st.eip = t;
    Ok(())
}

/// RET [imm16]: the extra bytes to release are in `op.imm`.
pub(crate) fn ret<W: Width>(st: &mut State, op: &Op) -> Res {
    let t = if W::N == 2 { st.stack_read::<2>(0)? } else { st.stack_read::<4>(0)? };
    branch(st, t)?;
    st.adjust_sp(W::N.wrapping_add(op.imm));
    Ok(())
}

/// LOOP / LOOPE / LOOPNE (`K` = 0, 1, 2). The counter is CX or ECX by address size.
pub(crate) fn loop_<const K: u8>(st: &mut State, op: &Op) -> Res {
    let amask = op.amask;
    let c = st.regs[1].wrapping_sub(1) & amask;
    let take = c != 0
        && match K {
            1 => st.cc.zf(),
            2 => !st.cc.zf(),
            _ => true,
        };
    if take {
        branch(st, op.imm)?;
    }
    st.regs[1] = (st.regs[1] & !amask) | c;
    Ok(())
}

/// JCXZ / JECXZ (by address size).
pub(crate) fn jecxz(st: &mut State, op: &Op) -> Res {
    if st.regs[1] & op.amask == 0 {
        return branch(st, op.imm);
    }
    Ok(())
}

/// INT n (and INT3, decoded with n = 3): through a direct gate if the Host gave one for
/// it (`direct.rs`), else the Host decides what it means.
pub(crate) fn int_n(st: &mut State, op: &Op) -> Res {
    soft_int(st, op, op.imm as u8)
}

pub(crate) fn into(st: &mut State, op: &Op) -> Res {
    if st.cc.of() {
        return soft_int(st, op, vector::OF);
    }
    Ok(())
}

#[inline(always)]
fn soft_int(st: &mut State, op: &Op, vector: u8) -> Res {
    if st.deliver_direct(vector, op.next()) {
        return Ok(());
    }
    Err(Stop::trap(Exit::SoftInt { vector, len: op.len }))
}

/// INT1 (ICEBP): a debug trap.
pub(crate) fn int1(_: &mut State, _: &Op) -> Res {
    Err(Stop::trap(Exit::fault(vector::DB)))
}

pub(crate) fn hlt(st: &mut State, _: &Op) -> Res {
    if st.cpl != 0 {
        return Err(gp0());
    }
    Err(Stop::trap(Exit::Halt))
}

// ---- far transfers ----

/// Load CS and EIP after all checks passed.
fn far_commit(st: &mut State, cs: Segment, eip: u32) -> Res {
    if eip > cs.limit {
        return Err(gp0());
    }
    st.load_cs(cs);
    st.eip = eip;
    Ok(())
}

/// JMP ptr16:16/32 (selector in `op.imm2`, offset in `op.imm`).
pub(crate) fn jmp_far(st: &mut State, op: &Op) -> Res {
    let cs = st.check_far_code(op.imm2 as u16)?;
    far_commit(st, cs, op.imm)
}

/// Read a far pointer (offset of width `W`, then a selector) from memory.
fn read_far_ptr<W: Width>(st: &mut State, op: &Op) -> Res<(u32, u16)> {
    let ea = op.ea(st);
    let off = W::read(st, op.seg, ea)?;
    let sel = st.read::<2>(op.seg, ea.wrapping_add(W::N) & op.amask)?;
    Ok((off, sel as u16))
}

/// JMP m16:16/32.
pub(crate) fn jmp_far_m<W: Width>(st: &mut State, op: &Op) -> Res {
    let (off, sel) = read_far_ptr::<W>(st, op)?;
    let cs = st.check_far_code(sel)?;
    far_commit(st, cs, off)
}

fn call_far_to<W: Width>(st: &mut State, op: &Op, sel: u16, off: u32) -> Res {
    let cs = st.check_far_code(sel)?;
    if off > cs.limit {
        return Err(gp0());
    }
    let old_esp = st.regs[4];
    let old_cs = st.segs[CS].selector as u32;
    let pushed = push_w::<W>(st, old_cs).and_then(|_| push_w::<W>(st, op.next()));
    if let Err(e) = pushed {
        st.regs[4] = old_esp;
        return Err(e);
    }
    far_commit(st, cs, off)
}

/// CALL ptr16:16/32.
pub(crate) fn call_far<W: Width>(st: &mut State, op: &Op) -> Res {
    call_far_to::<W>(st, op, op.imm2 as u16, op.imm)
}

/// CALL m16:16/32.
pub(crate) fn call_far_m<W: Width>(st: &mut State, op: &Op) -> Res {
    let (off, sel) = read_far_ptr::<W>(st, op)?;
    call_far_to::<W>(st, op, sel, off)
}

fn peek<W: Width>(st: &mut State, off: u32) -> Res<u32> {
    if W::N == 2 { st.stack_read::<2>(off) } else { st.stack_read::<4>(off) }
}

/// RETF [imm16], to the same or an outer privilege level.
pub(crate) fn retf<W: Width>(st: &mut State, op: &Op) -> Res {
    let n = W::N;
    let eip = peek::<W>(st, 0)?;
    let sel = peek::<W>(st, n)? as u16;
    let (cs, rpl) = st.check_return_code(sel)?;
    if eip > cs.limit {
        return Err(gp0());
    }
    if rpl == st.cpl {
        st.load_cs(cs);
        st.eip = eip;
        st.adjust_sp((2 * n).wrapping_add(op.imm));
        return Ok(());
    }
    let esp = peek::<W>(st, 2 * n + op.imm)?;
    let ss_sel = peek::<W>(st, 3 * n + op.imm)? as u16;
    let ss = st.check_return_stack(ss_sel, rpl)?;
    st.load_cs(cs);
    st.eip = eip;
    st.segs[SegReg::Ss as usize] = ss;
    st.regs[4] = if ss.big() { esp } else { (st.regs[4] & !0xFFFF) | (esp & 0xFFFF) };
    st.adjust_sp(op.imm);
    st.null_inaccessible_data_segments();
    Ok(())
}

/// IRET / IRETD in protected mode: to the same privilege level, or to an outer one
/// (popping SS:ESP too). Task returns (NT set) and returns to virtual-8086 mode are not
/// supported on this CPU and raise #GP(0).
pub(crate) fn iret<W: Width>(st: &mut State, _: &Op) -> Res {
    if st.flags & NT != 0 {
        return Err(gp0());
    }
    let n = W::N;
    // Every return from a trap ends here: the five words it may pop in one read when
    // they are in one page (the slow way reads only those it needs, and faults on them).
    let words = if W::N == 4 && st.stack32() && st.regs[4] <= u32::MAX - 20 {
        st.span_read_fast::<20>(SegReg::Ss as u8, st.regs[4]).map(|b| {
            let w = |i: usize| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
            [w(0), w(1), w(2), w(3), w(4)]
        })
    } else {
        None
    };
    let (eip, sel, fl) = match words {
        Some(w) => (w[0], w[1] as u16, w[2]),
        None => (peek::<W>(st, 0)?, peek::<W>(st, n)? as u16, peek::<W>(st, 2 * n)?),
    };
    if W::N == 4 && fl & VM != 0 && st.cpl == 0 {
        return Err(gp0());
    }
    let (cs, rpl) = st.check_return_code(sel)?;
    if eip > cs.limit {
        return Err(gp0());
    }
    let outer = if rpl > st.cpl {
        let (esp, ss_sel) = match words {
            Some(w) => (w[3], w[4] as u16),
            None => (peek::<W>(st, 3 * n)?, peek::<W>(st, 4 * n)? as u16),
        };
        Some((st.check_return_stack(ss_sel, rpl)?, esp))
    } else {
        None
    };
    // EFLAGS: what may change depends on the privilege we return *from*.
    let mut mask = CF | PF | AF | ZF | SF | TF | DF | OF | NT | RF | AC | ID;
    if st.cpl == 0 {
        mask |= IOPL | IF | VIF | VIP;
    } else if st.cpl <= st.iopl() {
        mask |= IF;
    }
    if W::N == 2 {
        mask &= 0xFFFF;
    }
    let new_flags = (st.eflags() & !mask) | (fl & mask);
    st.set_eflags(new_flags);
    st.load_cs(cs);
    st.eip = eip;
    match outer {
        Some((ss, esp)) => {
            st.segs[SegReg::Ss as usize] = ss;
            st.regs[4] = if ss.big() { esp } else { (st.regs[4] & !0xFFFF) | (esp & 0xFFFF) };
            st.null_inaccessible_data_segments();
        }
        None => st.adjust_sp(3 * n),
    }
    Ok(())
}
