//! Control instructions: FNINIT, FNCLEX, FLDCW, FNSTCW, FNSTSW, FNSTENV/FLDENV,
//! FNSAVE/FRSTOR, FXSAVE/FXRSTOR, FNOP, WAIT, and the 287's FNENI/FNDISI/FNSETPM (no-ops
//! since the 387).
//!
//! The memory images are the protected-mode ones: the environment in its 32-bit (28-byte)
//! and 16-bit operand-size (14-byte) layouts, FSAVE's environment followed by the eight
//! registers in stack order, and FXSAVE's 512 bytes of which this CPU (an x87 with FXSR
//! but no SSE) writes the x87 part: bytes 0..24 and the registers at 32..160; the MXCSR,
//! XMM and reserved areas are left as they were. A store is checked whole before anything
//! is written or any state changes, so a fault leaves both alone.

use super::value::F80;
use super::{Fpu, Kind, sw};
use crate::exit::{Res, fault, gp0};
use crate::ops::{Op, W16, Width};
use crate::regs::{cr, vector};
use crate::state::State;

/// The control-word bits that exist: the masks, bit 6 (which reads as 1), precision and
/// rounding control, and the 287's infinity control (kept, without effect).
const CW_BITS: u16 = 0x1F7F;

/// FNINIT.
pub(crate) fn fninit(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::NoWait, false)?;
    st.fpu.init();
    Ok(())
}

/// FNCLEX: clear the exception flags, SF, ES and B.
pub(crate) fn fnclex(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::NoWait, false)?;
    st.fpu.sw &= sw::CC;
    Ok(())
}

/// FNOP, and FNENI, FNDISI, FNSETPM (287 instructions the 387 ignores).
pub(crate) fn fnop<const WAITING: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, if WAITING { Kind::Arith } else { Kind::NoWait }, false)
}

/// WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set, #MF when an unmasked exception is
/// pending.
pub(crate) fn fwait(st: &mut State, _: &Op) -> Res {
    if st.cr0 & (cr::CR0_MP | cr::CR0_TS) == (cr::CR0_MP | cr::CR0_TS) {
        return Err(fault(vector::NM));
    }
    if st.fpu.pending() {
        return Err(fault(vector::MF));
    }
    Ok(())
}

fn set_cw(fpu: &mut Fpu, v: u16) {
    fpu.cw = (v & CW_BITS) | 0x40;
}

/// FLDCW m16.
pub(crate) fn fldcw(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Control, true)?;
    let ea = op.ea(st);
    let v = W16::read(st, op.seg, ea)?;
    set_cw(&mut st.fpu, v as u16);
    Ok(())
}

/// FNSTCW m16.
pub(crate) fn fnstcw(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::NoWait, true)?;
    let ea = op.ea(st);
    let v = st.fpu.cw as u32;
    W16::write(st, op.seg, ea, v)
}

/// FNSTSW m16 (`AX` false) or FNSTSW AX.
pub(crate) fn fnstsw<const AX: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::NoWait, AX)?;
    let v = st.fpu.status() as u32;
    if AX {
        st.set_reg16(0, v);
        Ok(())
    } else {
        let ea = op.ea(st);
        W16::write(st, op.seg, ea, v)
    }
}

/// The environment image, 28 bytes (`O32`) or 14.
fn env_image(fpu: &Fpu, o32: bool) -> [u8; 28] {
    let mut b = [0u8; 28];
    if o32 {
        let words: [u32; 7] = [
            0xFFFF_0000 | fpu.cw as u32,
            0xFFFF_0000 | fpu.status() as u32,
            0xFFFF_0000 | fpu.tag_word() as u32,
            fpu.fip,
            fpu.fcs as u32 | (fpu.fop as u32) << 16,
            fpu.fdp,
            0xFFFF_0000 | fpu.fds as u32,
        ];
        for (i, w) in words.iter().enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
    } else {
        let words: [u16; 7] =
            [fpu.cw, fpu.status(), fpu.tag_word(), fpu.fip as u16, fpu.fcs, fpu.fdp as u16, fpu.fds];
        for (i, w) in words.iter().enumerate() {
            b[2 * i..2 * i + 2].copy_from_slice(&w.to_le_bytes());
        }
    }
    b
}

/// Load an environment image.
fn load_env(fpu: &mut Fpu, b: &[u8], o32: bool) {
    let w16 = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let w32 = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    if o32 {
        set_cw(fpu, w16(0));
        fpu.set_status(w16(4));
        fpu.set_tag_word(w16(8));
        fpu.fip = w32(12);
        fpu.fcs = w16(16);
        fpu.fop = w16(18) & 0x7FF;
        fpu.fdp = w32(20);
        fpu.fds = w16(24);
    } else {
        set_cw(fpu, w16(0));
        fpu.set_status(w16(2));
        fpu.set_tag_word(w16(4));
        fpu.fip = w16(6) as u32;
        fpu.fcs = w16(8);
        // The 16-bit layout has no room for the opcode.
        fpu.fop = 0;
        fpu.fdp = w16(10) as u32;
        fpu.fds = w16(12);
    }
}

const fn env_len(o32: bool) -> usize {
    if o32 { 28 } else { 14 }
}

/// FNSTENV m14/m28: store the environment, then mask every exception.
pub(crate) fn fnstenv<const O32: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::NoWait, true)?;
    let ea = op.ea(st);
    let img = env_image(&st.fpu, O32);
    st.write_bytes(op.seg, ea, &img[..env_len(O32)])?;
    st.fpu.cw |= 0x3F;
    Ok(())
}

/// FLDENV m14/m28.
pub(crate) fn fldenv<const O32: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Control, true)?;
    let ea = op.ea(st);
    let mut b = [0u8; 28];
    let lin = st.lin_read(op.seg, ea, env_len(O32) as u32)?;
    st.read_lin_bytes(lin, &mut b[..env_len(O32)])?;
    load_env(&mut st.fpu, &b, O32);
    Ok(())
}

/// FNSAVE m94/m108: the environment and the registers, then FNINIT.
pub(crate) fn fnsave<const O32: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::NoWait, true)?;
    let ea = op.ea(st);
    let n = env_len(O32);
    let mut img = [0u8; 108];
    img[..n].copy_from_slice(&env_image(&st.fpu, O32)[..n]);
    for i in 0..8 {
        img[n + 10 * i..n + 10 * i + 10].copy_from_slice(&st.fpu.raw(i as u8).to_le_bytes());
    }
    st.write_bytes(op.seg, ea, &img[..n + 80])?;
    st.fpu.init();
    Ok(())
}

/// FRSTOR m94/m108.
pub(crate) fn frstor<const O32: bool>(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::Control, true)?;
    let ea = op.ea(st);
    let n = env_len(O32);
    let mut img = [0u8; 108];
    let lin = st.lin_read(op.seg, ea, (n + 80) as u32)?;
    st.read_lin_bytes(lin, &mut img[..n + 80])?;
    let fpu = &mut st.fpu;
    load_env(fpu, &img, O32);
    for i in 0..8 {
        let mut r = [0u8; 10];
        r.copy_from_slice(&img[n + 10 * i..n + 10 * i + 10]);
        let p = fpu.phys(i as u8);
        fpu.regs[p] = F80::from_le_bytes(r);
    }
    Ok(())
}

/// The 16-byte-aligned linear address of FXSAVE's and FXRSTOR's operand, or #GP(0).
fn fx_address(st: &State, op: &Op) -> Res<u32> {
    let ea = op.ea(st);
    let lin = st.segs[(op.seg & 7) as usize].base.wrapping_add(ea);
    if lin & 15 != 0 {
        return Err(gp0());
    }
    Ok(ea)
}

/// FXSAVE m512: the x87 part of the image.
pub(crate) fn fxsave(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::NoWait, false)?;
    let ea = fx_address(st, op)?;
    st.check_writable(op.seg, ea, 512)?;
    let f = &st.fpu;
    let mut head = [0u8; 24];
    head[0..2].copy_from_slice(&f.cw.to_le_bytes());
    head[2..4].copy_from_slice(&f.status().to_le_bytes());
    head[4] = f.abridged_tags();
    head[6..8].copy_from_slice(&f.fop.to_le_bytes());
    head[8..12].copy_from_slice(&f.fip.to_le_bytes());
    head[12..14].copy_from_slice(&f.fcs.to_le_bytes());
    head[16..20].copy_from_slice(&f.fdp.to_le_bytes());
    head[20..22].copy_from_slice(&f.fds.to_le_bytes());
    let mut regs = [0u8; 128];
    for i in 0..8 {
        regs[16 * i..16 * i + 10].copy_from_slice(&f.raw(i as u8).to_le_bytes());
    }
    st.write_bytes(op.seg, ea, &head)?;
    st.write_bytes(op.seg, ea.wrapping_add(32), &regs)
}

/// FXRSTOR m512: the x87 part of the image.
pub(crate) fn fxrstor(st: &mut State, op: &Op) -> Res {
    st.fpu_begin(op, Kind::NoWait, false)?;
    let ea = fx_address(st, op)?;
    let head = st.read_bytes::<24>(op.seg, ea)?;
    let lin = st.lin_read(op.seg, ea.wrapping_add(32), 128)?;
    let mut regs = [0u8; 128];
    st.read_lin_bytes(lin, &mut regs)?;
    let w16 = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]);
    let w32 = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let f = &mut st.fpu;
    set_cw(f, w16(0));
    f.set_status(w16(2));
    f.empty = !head[4];
    f.fop = w16(6) & 0x7FF;
    f.fip = w32(8);
    f.fcs = w16(12);
    f.fdp = w32(16);
    f.fds = w16(20);
    for i in 0..8 {
        let mut r = [0u8; 10];
        r.copy_from_slice(&regs[16 * i..16 * i + 10]);
        let p = f.phys(i as u8);
        f.regs[p] = F80::from_le_bytes(r);
    }
    Ok(())
}
