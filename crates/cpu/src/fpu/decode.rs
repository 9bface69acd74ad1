//! From iced-x86's x87 instructions to the FPU's handlers.
//!
//! `decode.rs` sends every instruction iced-x86 tags as x87 (and WAIT, FXSAVE, FXRSTOR)
//! here; this picks the specialised handler and puts the operand register in `op.r`, the
//! condition (FCMOVcc) in `op.imm`, and the opcode FOP records in `op.imm2`. What the i686
//! does not have (FISTTP is SSE3, FEMMS 3DNow!) raises #UD.

use super::{arith as a, compare as c, control as k, load_store as l, transcendental as t};
use crate::ops::{Handler, Op, op_ud};
use iced_x86::{Instruction, MemorySize, Mnemonic, OpKind, Register};

/// Is this an instruction for the FPU's decoder?
pub(crate) fn is_fpu(ins: &Instruction) -> bool {
    use iced_x86::CpuidFeature as F;
    ins.mnemonic() == Mnemonic::Wait
        || ins.cpuid_features().iter().any(|f| matches!(f, F::FPU | F::FPU287 | F::FPU387 | F::FXSR))
        || is_fcmov_or_fcomi(ins.mnemonic())
}

fn is_fcmov_or_fcomi(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Fcmovb
            | M::Fcmove
            | M::Fcmovbe
            | M::Fcmovu
            | M::Fcmovnb
            | M::Fcmovne
            | M::Fcmovnbe
            | M::Fcmovnu
            | M::Fcomi
            | M::Fcomip
            | M::Fucomi
            | M::Fucomip
    )
}

/// FOP: the low three bits of the escape byte (D8..DF) and the ModR/M byte after it.
fn fop(bytes: &[u8]) -> u32 {
    let mut i = 0;
    while i < bytes.len()
        && matches!(
            bytes[i],
            0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 | 0x66 | 0x67 | 0x9B | 0xF0 | 0xF2 | 0xF3
        )
    {
        i += 1;
    }
    match (bytes.get(i), bytes.get(i + 1)) {
        (Some(&esc), Some(&modrm)) if esc & 0xF8 == 0xD8 => ((esc as u32 & 7) << 8) | modrm as u32,
        _ => 0,
    }
}

/// The ST(i) register among the operands (the one that is not ST(0) when both are).
fn sti(ins: &Instruction) -> u8 {
    let mut r = 0;
    for i in 0..ins.op_count() {
        if ins.op_kind(i) == OpKind::Register {
            let reg = ins.op_register(i);
            if reg.is_st() && reg != Register::ST0 {
                r = (reg.number() & 7) as u8;
            }
        }
    }
    r
}

/// Does the first operand name ST(i), i.e. is ST(i) the destination?
fn sti_first(ins: &Instruction) -> bool {
    ins.op_count() == 2
        && ins.op_kind(0) == OpKind::Register
        && ins.op_register(0).is_st()
        && ins.op_register(0) != Register::ST0
}

fn is_mem(ins: &Instruction) -> bool {
    (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory)
}

/// The handler for an x87 instruction (`is_fpu` said yes), filling `op`'s x87 fields.
/// `bytes` are the instruction's bytes.
pub(crate) fn handler(ins: &Instruction, op: &mut Op, bytes: &[u8]) -> Handler {
    use Mnemonic as M;
    op.r = sti(ins);
    op.imm2 = fop(bytes);
    let m = ins.mnemonic();
    let mem = is_mem(ins);
    let ms = ins.memory_size();
    macro_rules! arith {
        ($k:expr) => {{
            const K: u8 = $k;
            if mem {
                match ms {
                    MemorySize::Float32 => a::binop::<K, { a::M32 }>,
                    MemorySize::Float64 => a::binop::<K, { a::M64 }>,
                    MemorySize::Int16 => a::binop::<K, { a::I16 }>,
                    _ => a::binop::<K, { a::I32 }>,
                }
            } else if ins.op_count() == 0 {
                // FADDP etc. with no operands mean ST(1), ST(0) with a pop.
                op.r = 1;
                a::binop::<K, { a::STI_ST0_POP }>
            } else if matches!(m, M::Faddp | M::Fmulp | M::Fsubp | M::Fsubrp | M::Fdivp | M::Fdivrp) {
                a::binop::<K, { a::STI_ST0_POP }>
            } else if sti_first(ins) {
                a::binop::<K, { a::STI_ST0 }>
            } else {
                a::binop::<K, { a::ST0_STI }>
            }
        }};
    }
    macro_rules! fcom {
        ($pops:expr, $quiet:expr) => {{
            const P: u8 = $pops;
            const Q: bool = $quiet;
            if mem {
                match ms {
                    MemorySize::Float32 => c::fcom::<{ c::M32 }, P, Q>,
                    MemorySize::Float64 => c::fcom::<{ c::M64 }, P, Q>,
                    MemorySize::Int16 => c::fcom::<{ c::I16 }, P, Q>,
                    _ => c::fcom::<{ c::I32 }, P, Q>,
                }
            } else {
                if ins.op_count() == 0 {
                    op.r = 1;
                }
                c::fcom::<{ c::STI }, P, Q>
            }
        }};
    }
    let o32 = !matches!(ms, MemorySize::FpuEnv14 | MemorySize::FpuState94);
    match m {
        M::Wait => k::fwait,
        M::Fadd | M::Faddp | M::Fiadd => arith!(a::ADD),
        M::Fmul | M::Fmulp | M::Fimul => arith!(a::MUL),
        M::Fsub | M::Fsubp | M::Fisub => arith!(a::SUB),
        M::Fsubr | M::Fsubrp | M::Fisubr => arith!(a::SUBR),
        M::Fdiv | M::Fdivp | M::Fidiv => arith!(a::DIV),
        M::Fdivr | M::Fdivrp | M::Fidivr => arith!(a::DIVR),
        M::Fsqrt => a::fsqrt,
        M::Fabs => a::fabs,
        M::Fchs => a::fchs,
        M::Frndint => a::frndint,
        M::Fscale => a::fscale,
        M::Fxtract => a::fxtract,
        M::Fprem => a::fprem::<false>,
        M::Fprem1 => a::fprem::<true>,

        M::Fld if mem => match ms {
            MemorySize::Float32 => l::fld_m::<{ l::M32 }>,
            MemorySize::Float64 => l::fld_m::<{ l::M64 }>,
            _ => l::fld_m::<{ l::M80 }>,
        },
        M::Fld => l::fld_sti,
        M::Fild => match ms {
            MemorySize::Int16 => l::fld_m::<{ l::I16 }>,
            MemorySize::Int32 => l::fld_m::<{ l::I32 }>,
            _ => l::fld_m::<{ l::I64 }>,
        },
        M::Fbld => l::fld_m::<{ l::BCD }>,
        M::Fst | M::Fstp if mem => {
            let pop = m == M::Fstp;
            match (ms, pop) {
                (MemorySize::Float32, false) => l::fst_m::<{ l::M32 }, false>,
                (MemorySize::Float64, false) => l::fst_m::<{ l::M64 }, false>,
                (MemorySize::Float32, true) => l::fst_m::<{ l::M32 }, true>,
                (MemorySize::Float64, true) => l::fst_m::<{ l::M64 }, true>,
                _ => l::fst_m::<{ l::M80 }, true>,
            }
        }
        M::Fst => l::fst_sti::<false>,
        M::Fstp => l::fst_sti::<true>,
        M::Fstpnce => {
            op.imm = l::NO_CHECK_EMPTY;
            l::fst_sti::<true>
        }
        M::Fist => match ms {
            MemorySize::Int16 => l::fst_m::<{ l::I16 }, false>,
            _ => l::fst_m::<{ l::I32 }, false>,
        },
        M::Fistp => match ms {
            MemorySize::Int16 => l::fst_m::<{ l::I16 }, true>,
            MemorySize::Int32 => l::fst_m::<{ l::I32 }, true>,
            _ => l::fst_m::<{ l::I64 }, true>,
        },
        M::Fbstp => l::fst_m::<{ l::BCD }, true>,
        M::Fxch => {
            if ins.op_count() == 0 {
                op.r = 1;
            }
            l::fxch
        }
        M::Fcmovb
        | M::Fcmove
        | M::Fcmovbe
        | M::Fcmovu
        | M::Fcmovnb
        | M::Fcmovne
        | M::Fcmovnbe
        | M::Fcmovnu => {
            // The conditions numbered as Jcc's: B 2, E 4, BE 6, P 10 and their negations.
            op.imm = match m {
                M::Fcmovb => 2,
                M::Fcmovnb => 3,
                M::Fcmove => 4,
                M::Fcmovne => 5,
                M::Fcmovbe => 6,
                M::Fcmovnbe => 7,
                M::Fcmovu => 10,
                _ => 11,
            };
            l::fcmov
        }
        M::Ffree => l::ffree::<false>,
        M::Ffreep => l::ffree::<true>,
        M::Fincstp => l::fstp_move::<true>,
        M::Fdecstp => l::fstp_move::<false>,
        M::Fld1 => l::fld_const::<true>,
        M::Fldz => l::fld_const::<false>,
        M::Fldpi => t::fld_constant::<0>,
        M::Fldl2e => t::fld_constant::<1>,
        M::Fldl2t => t::fld_constant::<2>,
        M::Fldlg2 => t::fld_constant::<3>,
        M::Fldln2 => t::fld_constant::<4>,

        M::Fcom => fcom!(0, false),
        M::Fcomp => fcom!(1, false),
        M::Fcompp => fcom!(2, false),
        M::Fucom => fcom!(0, true),
        M::Fucomp => fcom!(1, true),
        M::Fucompp => fcom!(2, true),
        M::Ficom => fcom!(0, false),
        M::Ficomp => fcom!(1, false),
        M::Ftst => c::fcom::<{ c::ZERO }, 0, false>,
        M::Fxam => c::fxam,
        M::Fcomi => c::fcomi::<false, false>,
        M::Fcomip => c::fcomi::<true, false>,
        M::Fucomi => c::fcomi::<false, true>,
        M::Fucomip => c::fcomi::<true, true>,

        M::Fninit => k::fninit,
        M::Fnclex => k::fnclex,
        M::Fldcw => k::fldcw,
        M::Fnstcw => k::fnstcw,
        M::Fnstsw if mem => k::fnstsw::<false>,
        M::Fnstsw => k::fnstsw::<true>,
        M::Fnstenv if o32 => k::fnstenv::<true>,
        M::Fnstenv => k::fnstenv::<false>,
        M::Fldenv if o32 => k::fldenv::<true>,
        M::Fldenv => k::fldenv::<false>,
        M::Fnsave if o32 => k::fnsave::<true>,
        M::Fnsave => k::fnsave::<false>,
        M::Frstor if o32 => k::frstor::<true>,
        M::Frstor => k::frstor::<false>,
        M::Fxsave if mem => k::fxsave,
        M::Fxrstor if mem => k::fxrstor,
        M::Fnop => k::fnop::<true>,
        M::Fneni | M::Fndisi | M::Fnsetpm => k::fnop::<false>,

        M::Fsin => t::trig::<{ t::SIN }>,
        M::Fcos => t::trig::<{ t::COS }>,
        M::Fsincos => t::trig::<{ t::SINCOS }>,
        M::Fptan => t::trig::<{ t::PTAN }>,
        M::Fpatan => t::fpatan,
        M::F2xm1 => t::f2xm1,
        M::Fyl2x => t::fyl2x::<false>,
        M::Fyl2xp1 => t::fyl2x::<true>,
        _ => op_ud,
    }
}
