//! Segment-register loads, privileged and system instructions, CPUID, RDTSC and port I/O.
//!
//! Privilege is checked here exactly as hardware does it: the instructions that need CPL
//! 0 raise #GP(0) anywhere else; CLI/STI and port I/O need CPL <= IOPL. What they do *at*
//! CPL 0 is this CPU's own choice, because its descriptor tables belong to the Host:
//! LGDT, LIDT, LLDT and LTR raise #UD there (nothing to load), MOV to CR0/CR3/CR4,
//! INVLPG and CLTS work, and there are no MSRs (RDMSR/WRMSR raise #GP(0)).

use super::{Op, W16, Width, rm_get, rm_set};
use crate::exit::{Res, Stop, fault, gp0, ud};
use crate::regs::{SegReg, cr, eflags::*, vector};
use crate::state::State;

/// CPUID vendor string (EBX, EDX, ECX order).
pub const CPUID_VENDOR: &[u8; 12] = b"LguestRsVCPU";
/// CPUID.1:EAX: family 6, model 1, stepping 0 (an i686).
pub const CPUID_SIGNATURE: u32 = 0x0000_0610;
/// CPUID.1:EDX: FPU (an x87 on chip), PSE, TSC, CX8, CMOV, FXSR (FXSAVE/FXRSTOR). No MMX
/// and no SSE. This is what a new CPU reports; the Host may report less
/// ([`crate::Cpu::set_cpuid_features_edx`]).
pub const CPUID_FEATURES_EDX: u32 = CPUID_FPU | (1 << 3) | (1 << 4) | (1 << 8) | (1 << 15) | CPUID_FXSR;
/// CPUID.1:EDX.FPU.
pub const CPUID_FPU: u32 = 1;
/// CPUID.1:EDX.FXSR.
pub const CPUID_FXSR: u32 = 1 << 24;

#[inline(always)]
fn need_cpl0(st: &State) -> Res {
    if st.cpl != 0 { Err(gp0()) } else { Ok(()) }
}

/// Port I/O is allowed at CPL <= IOPL (there is no TSS, so no I/O permission bitmap).
pub(crate) fn check_io(st: &State) -> Res {
    if st.cpl > st.iopl() { Err(gp0()) } else { Ok(()) }
}

/// MOV sreg, r/m16 (segment in `op.r`). Loading CS this way is invalid.
pub(crate) fn mov_sreg_rm<const MEM: bool>(st: &mut State, op: &Op) -> Res {
    if op.r == SegReg::Cs as u8 || op.r > 5 {
        return Err(ud());
    }
    let v = rm_get::<W16, MEM>(st, op)?;
    st.load_seg_checked(SegReg::ALL[op.r as usize], v as u16)
}

/// MOV r/m, sreg: a 16-bit store to memory; a register destination gets the selector
/// zero-extended to the operand size.
pub(crate) fn mov_rm_sreg<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    if op.r > 5 {
        return Err(ud());
    }
    let v = st.segs[op.r as usize].selector as u32;
    if MEM { rm_set::<W16, true>(st, op, v) } else { rm_set::<W, false>(st, op, v) }
}

/// LDS/LES/LFS/LGS/LSS reg, m16:16/32 (segment in `op.imm2`).
pub(crate) fn lxs<W: Width>(st: &mut State, op: &Op) -> Res {
    let ea = op.ea(st);
    let off = W::read(st, op.seg, ea)?;
    let sel = st.read::<2>(op.seg, ea.wrapping_add(W::N) & op.amask)?;
    st.load_seg_checked(SegReg::ALL[op.imm2 as usize], sel as u16)?;
    W::set(st, op.r, off);
    Ok(())
}

pub(crate) fn cli(st: &mut State, _: &Op) -> Res {
    check_io(st)?;
    st.flags &= !IF;
    Ok(())
}

pub(crate) fn sti(st: &mut State, _: &Op) -> Res {
    check_io(st)?;
    st.flags |= IF;
    Ok(())
}

/// IN AL/AX/EAX, imm8|DX: no devices, so all ones.
pub(crate) fn in_<W: Width>(st: &mut State, _: &Op) -> Res {
    check_io(st)?;
    W::set(st, 0, W::MASK);
    Ok(())
}

/// OUT imm8|DX, AL/AX/EAX: goes nowhere.
pub(crate) fn out(st: &mut State, _: &Op) -> Res {
    check_io(st)
}

pub(crate) fn cpuid(st: &mut State, _: &Op) -> Res {
    let (a, b, c, d) = match st.regs[0] {
        0 => {
            let v = CPUID_VENDOR;
            let w = |i: usize| u32::from_le_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
            (1, w(0), w(8), w(4))
        }
        1 => (CPUID_SIGNATURE, 0, 0, st.cpuid_edx),
        0x8000_0000 => (0x8000_0000, 0, 0, 0),
        _ => (0, 0, 0, 0),
    };
    st.regs[0] = a;
    st.regs[3] = b;
    st.regs[1] = c;
    st.regs[2] = d;
    Ok(())
}

/// RDTSC. `op.imm` is this instruction's index in its block, so that in instruction-count
/// mode the value is exact without counting every instruction as it retires.
pub(crate) fn rdtsc(st: &mut State, op: &Op) -> Res {
    if st.cr4 & cr::CR4_TSD != 0 && st.cpl != 0 {
        return Err(gp0());
    }
    let t = st.tsc(st.retired + op.imm as u64);
    st.regs[0] = t as u32;
    st.regs[2] = (t >> 32) as u32;
    Ok(())
}

/// Instructions that need CPL 0 and have nothing to act on at CPL 0 on this CPU
/// (LGDT, LIDT, LLDT, LTR, RDMSR, WRMSR, RDPMC...).
pub(crate) fn privileged_unsupported(st: &mut State, _: &Op) -> Res {
    need_cpl0(st)?;
    Err(ud())
}

/// RDMSR/WRMSR: #GP(0) everywhere (no MSRs exist).
pub(crate) fn msr(_: &mut State, _: &Op) -> Res {
    Err(gp0())
}

/// WBINVD, INVD: privileged no-ops.
pub(crate) fn privileged_nop(st: &mut State, _: &Op) -> Res {
    need_cpl0(st)
}

pub(crate) fn clts(st: &mut State, _: &Op) -> Res {
    need_cpl0(st)?;
    st.cr0 &= !cr::CR0_TS;
    Ok(())
}

pub(crate) fn invlpg(st: &mut State, op: &Op) -> Res {
    need_cpl0(st)?;
    let lin = st.segs[op.seg as usize].base.wrapping_add(op.ea(st));
    st.tlb.flush_page(lin);
    Err(Stop::END_BLOCK)
}

/// MOV r32, CRn (n in `op.r`).
pub(crate) fn mov_r_cr(st: &mut State, op: &Op) -> Res {
    need_cpl0(st)?;
    st.regs[op.rm as usize] = match op.r {
        0 => st.cr0,
        2 => st.cr2,
        3 => st.cr3,
        4 => st.cr4,
        _ => return Err(ud()),
    };
    Ok(())
}

/// MOV CRn, r32.
pub(crate) fn mov_cr_r(st: &mut State, op: &Op) -> Res {
    need_cpl0(st)?;
    let v = st.regs[op.rm as usize];
    match op.r {
        0 => st.set_cr0(v)?,
        2 => st.cr2 = v,
        3 => st.set_cr3(v),
        4 => st.set_cr4(v)?,
        _ => return Err(ud()),
    }
    Err(Stop::END_BLOCK)
}

/// MOV r32, DRn / MOV DRn, r32: the registers exist but breakpoints are not implemented.
pub(crate) fn mov_dr<const TO_DR: bool>(st: &mut State, op: &Op) -> Res {
    need_cpl0(st)?;
    let n = op.r as usize & 7;
    if TO_DR {
        st.dr[n] = st.regs[op.rm as usize];
    } else {
        st.regs[op.rm as usize] = st.dr[n];
    }
    Ok(())
}

/// LMSW r/m16: may set PE, and set or clear MP, EM and TS.
pub(crate) fn lmsw<const MEM: bool>(st: &mut State, op: &Op) -> Res {
    need_cpl0(st)?;
    let v = rm_get::<W16, MEM>(st, op)?;
    let keep = st.cr0 & !(cr::CR0_MP | cr::CR0_EM | cr::CR0_TS);
    st.cr0 = keep | (v & (cr::CR0_MP | cr::CR0_EM | cr::CR0_TS)) | cr::CR0_PE;
    Ok(())
}

/// SMSW r/m: not privileged. Memory gets 16 bits, a register the whole CR0.
pub(crate) fn smsw<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let v = st.cr0;
    if MEM { rm_set::<W16, true>(st, op, v) } else { rm_set::<W, false>(st, op, v) }
}

/// SGDT / SIDT m: not privileged. The tables are not in guest memory: SGDT reports the
/// Host GDT's limit and base 0; SIDT reports an empty table.
pub(crate) fn sgdt<const IDT: bool>(st: &mut State, op: &Op) -> Res {
    let ea = op.ea(st);
    let limit = if IDT { 0 } else { (st.gdt.len() as u32 * 8).saturating_sub(1) };
    st.lin_write(op.seg, ea, 6)?;
    st.write::<2>(op.seg, ea, limit)?;
    st.write::<4>(op.seg, ea.wrapping_add(2) & op.amask, 0)
}

/// SLDT / STR: no LDT and no task register on this CPU, so the null selector.
pub(crate) fn sldt_str<W: Width, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    if MEM { rm_set::<W16, true>(st, op, 0) } else { rm_set::<W, false>(st, op, 0) }
}

/// LAR (`LSL` false) / LSL (true) reg, r/m16: ZF=1 and the access rights or limit when the
/// selector names a descriptor visible at this privilege.
pub(crate) fn lar_lsl<W: Width, const LSL: bool, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let sel = rm_get::<W16, MEM>(st, op)? as u16;
    let visible = selector_visible(st, sel);
    match visible {
        Some(d) if !LSL || d.is_code_or_data() => {
            let v = if LSL { d.limit() } else { d.hi() & 0x00F0_FF00 };
            W::set(st, op.r, v);
            st.set_arith_flags(ZF, ZF);
        }
        _ => st.set_arith_flags(ZF, 0),
    }
    Ok(())
}

/// VERR (`W_` false) / VERW (true) r/m16.
pub(crate) fn verr_verw<const W_: bool, const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let sel = rm_get::<W16, MEM>(st, op)? as u16;
    let ok = match selector_visible(st, sel) {
        Some(d) => {
            if W_ {
                d.writable()
            } else {
                d.readable()
            }
        }
        None => false,
    };
    st.set_arith_flags(ZF, if ok { ZF } else { 0 });
    Ok(())
}

/// The descriptor for `sel` if LAR/LSL/VERR/VERW may see it at the current privilege.
fn selector_visible(st: &State, sel: u16) -> Option<crate::segments::Descriptor> {
    if sel & 0xFFFC == 0 {
        return None;
    }
    let d = st.gdt_descriptor(sel).ok()?;
    if !d.is_code_or_data() {
        // LDTs, TSSs and gates are never installed in this CPU's GDT.
        return None;
    }
    let rpl = (sel & 3) as u8;
    if !d.conforming() && (d.dpl() < st.cpl || d.dpl() < rpl) {
        return None;
    }
    Some(d)
}

/// ARPL r/m16, r16.
pub(crate) fn arpl<const MEM: bool>(st: &mut State, op: &Op) -> Res {
    let src_rpl = W16::get(st, op.r) & 3;
    let mut adjusted = false;
    super::rm_update::<W16, MEM>(st, op, |_, d| {
        if d & 3 < src_rpl {
            adjusted = true;
            Some((d & !3) | src_rpl)
        } else {
            None
        }
    })?;
    st.set_arith_flags(ZF, if adjusted { ZF } else { 0 });
    Ok(())
}

/// BOUND reg, m: #BR unless lower <= reg <= upper (signed).
pub(crate) fn bound<W: Width>(st: &mut State, op: &Op) -> Res {
    let ea = op.ea(st);
    let lo = W::sext(W::read(st, op.seg, ea)?) as i32;
    let hi = W::sext(W::read(st, op.seg, ea.wrapping_add(W::N) & op.amask)?) as i32;
    let v = W::sext(W::get(st, op.r)) as i32;
    if v < lo || v > hi {
        return Err(fault(vector::BR));
    }
    Ok(())
}

impl State {
    pub(crate) fn set_cr0(&mut self, v: u32) -> Res {
        if v & cr::CR0_PE == 0 {
            // No real mode on this CPU.
            return Err(gp0());
        }
        if v & cr::CR0_PG != 0 && v & cr::CR0_PE == 0 {
            return Err(gp0());
        }
        let changed = self.cr0 ^ v;
        self.cr0 = v | cr::CR0_ET;
        if changed & (cr::CR0_PG | cr::CR0_WP) != 0 {
            self.tlb.flush_all();
        }
        Ok(())
    }

    pub(crate) fn set_cr3(&mut self, v: u32) {
        self.cr3 = v;
        self.tlb.flush_all();
    }

    pub(crate) fn set_cr4(&mut self, v: u32) -> Res {
        const SUPPORTED: u32 = cr::CR4_TSD | cr::CR4_PSE;
        if v & !SUPPORTED != 0 {
            return Err(gp0());
        }
        if (self.cr4 ^ v) & cr::CR4_PSE != 0 {
            self.tlb.flush_all();
        }
        self.cr4 = v;
        Ok(())
    }
}
