//! Instruction semantics, one file per family (as Bochs lays them out): `alu.rs`,
//! `shift.rs`, `bits.rs`, `data.rs`, `string.rs`, `control.rs`, `system.rs`.
//!
//! Each instruction is decoded once (see `decode.rs`) into an [`Op`]: a handler function
//! plus the operands it needs, already resolved (register numbers, the parts of an
//! effective address, immediates). Handlers are generic over operand width ([`Width`])
//! and, where it matters for speed, over "register or memory" (`const MEM: bool`), so the
//! decoder picks a specialised function and the handler itself does no decoding.
//!
//! Rules every handler follows, because the CPU's exceptions are precise:
//! - do every access that can fault before changing any register or flag;
//! - never touch EIP except to branch (faults and traps are positioned by the run loop);
//! - return `Err(Stop::END_BLOCK)` after changing something later instructions of the same
//!   block depend on (CPL, paging, CS).

pub(crate) mod alu;
pub(crate) mod bits;
pub(crate) mod control;
pub(crate) mod data;
pub(crate) mod shift;
pub(crate) mod string;
pub(crate) mod system;

use crate::exit::Res;
use crate::state::State;

pub(crate) type Handler = fn(&mut State, &Op) -> Res;

/// One decoded instruction.
#[derive(Clone, Copy)]
pub(crate) struct Op {
    pub f: Handler,
    /// EIP of this instruction.
    pub eip: u32,
    /// Length in bytes.
    pub len: u8,
    /// The `reg` operand (register number; for 8-bit registers 0..8 = AL..BH), a segment
    /// register, or a condition code, depending on the instruction.
    pub r: u8,
    /// The r/m operand when it is a register.
    pub rm: u8,
    /// Effective address: `(disp + regs[base] + (regs[index] << scale)) & amask`, in
    /// segment `seg`. `base`/`index` are `REG_NONE` when absent.
    pub base: u8,
    pub index: u8,
    pub scale: u8,
    pub seg: u8,
    pub amask: u32,
    pub disp: u32,
    pub imm: u32,
    pub imm2: u32,
}

impl Op {
    /// EIP of the next instruction.
    #[inline(always)]
    pub fn next(&self) -> u32 {
        self.eip.wrapping_add(self.len as u32)
    }

    /// The effective address of the memory operand.
    #[inline(always)]
    pub fn ea(&self, st: &State) -> u32 {
        self.disp
            .wrapping_add(st.regs[self.base as usize])
            .wrapping_add(st.regs[self.index as usize] << self.scale)
            & self.amask
    }

    /// The effective address, computed for the form `EA` the decoder found it to have.
    #[inline(always)]
    pub fn ea_of<const EA: u8>(&self, st: &State) -> u32 {
        match EA {
            EA_DISP => self.disp,
            EA_BASE => self.disp.wrapping_add(st.regs[self.base as usize]),
            _ => self.ea(st),
        }
    }
}

/// Forms of effective address, for the handlers of the commonest memory instructions,
/// which the decoder specialises by form (an `[esp+8]` needs one register read and an add;
/// the general form two reads, a shift and a mask): `[disp32]`...
pub(crate) const EA_DISP: u8 = 0;
/// ... `[reg32 + disp]`...
pub(crate) const EA_BASE: u8 = 1;
/// ... and everything else (an index register, or 16-bit addressing).
pub(crate) const EA_FULL: u8 = 2;

/// Operand width: how to read and write registers and memory of 1, 2 or 4 bytes.
pub(crate) trait Width {
    const N: u32;
    const BITS: u32 = Self::N * 8;
    const MASK: u32;
    const SIGN: u32 = 1 << (Self::N * 8 - 1);
    fn get(st: &State, r: u8) -> u32;
    fn set(st: &mut State, r: u8, v: u32);
    fn read(st: &mut State, seg: u8, ea: u32) -> Res<u32>;
    fn write(st: &mut State, seg: u8, ea: u32, v: u32) -> Res;
    fn rmw_read(st: &State, r: crate::state::Rmw) -> u32;
    fn rmw_write(st: &mut State, r: crate::state::Rmw, v: u32);
    fn rmw(st: &mut State, seg: u8, ea: u32) -> Res<crate::state::Rmw>;
    /// Sign-extend a value of this width to 32 bits.
    #[inline(always)]
    fn sext(v: u32) -> u32 {
        (((v << (32 - Self::BITS)) as i32) >> (32 - Self::BITS)) as u32
    }
}

macro_rules! width {
    ($name:ident, $n:literal, $mask:literal, $get:expr, $set:expr) => {
        pub(crate) struct $name;
        impl Width for $name {
            const N: u32 = $n;
            const MASK: u32 = $mask;
            #[inline(always)]
            fn get(st: &State, r: u8) -> u32 {
                $get(st, r)
            }
            #[inline(always)]
            fn set(st: &mut State, r: u8, v: u32) {
                $set(st, r, v)
            }
            #[inline(always)]
            fn read(st: &mut State, seg: u8, ea: u32) -> Res<u32> {
                st.read::<$n>(seg, ea)
            }
            #[inline(always)]
            fn write(st: &mut State, seg: u8, ea: u32, v: u32) -> Res {
                st.write::<$n>(seg, ea, v)
            }
            #[inline(always)]
            fn rmw_read(st: &State, r: crate::state::Rmw) -> u32 {
                st.rmw_read::<$n>(r)
            }
            #[inline(always)]
            fn rmw_write(st: &mut State, r: crate::state::Rmw, v: u32) {
                st.rmw_write::<$n>(r, v)
            }
            #[inline(always)]
            fn rmw(st: &mut State, seg: u8, ea: u32) -> Res<crate::state::Rmw> {
                st.rmw::<$n>(seg, ea)
            }
        }
    };
}

width!(W8, 1, 0xFF, |st: &State, r| st.reg8(r), |st: &mut State, r, v| st.set_reg8(r, v));
width!(W16, 2, 0xFFFF, |st: &State, r: u8| st.regs[r as usize] & 0xFFFF, |st: &mut State, r, v| st
    .set_reg16(r, v));
width!(W32, 4, 0xFFFF_FFFF, |st: &State, r: u8| st.regs[r as usize], |st: &mut State, r: u8, v| st.regs
    [r as usize] =
    v);

/// Read the r/m operand.
#[inline(always)]
pub(crate) fn rm_get<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res<u32> {
    if MEM { W::read(st, op.seg, op.ea(st)) } else { Ok(W::get(st, op.rm)) }
}

/// Write the r/m operand.
#[inline(always)]
pub(crate) fn rm_set<W: Width, const MEM: bool>(st: &mut State, op: &Op, v: u32) -> Res {
    if MEM {
        W::write(st, op.seg, op.ea(st), v)
    } else {
        W::set(st, op.rm, v);
        Ok(())
    }
}

/// Read-modify-write the r/m operand with `f`, which returns the new value (or `None` to
/// leave it unchanged). Memory is checked for writing before `f` runs.
#[inline(always)]
pub(crate) fn rm_update<W: Width, const MEM: bool>(
    st: &mut State,
    op: &Op,
    f: impl FnOnce(&mut State, u32) -> Option<u32>,
) -> Res {
    if MEM {
        let ea = op.ea(st);
        let h = W::rmw(st, op.seg, ea)?;
        let old = W::rmw_read(st, h);
        if let Some(v) = f(st, old) {
            W::rmw_write(st, h, v);
        }
    } else {
        let old = W::get(st, op.rm);
        if let Some(v) = f(st, old) {
            W::set(st, op.rm, v);
        }
    }
    Ok(())
}

/// The handler for an instruction this CPU does not implement or that is invalid: #UD.
pub(crate) fn op_ud(_: &mut State, _: &Op) -> Res {
    Err(crate::exit::ud())
}

/// No operation.
pub(crate) fn op_nop(_: &mut State, _: &Op) -> Res {
    Ok(())
}
