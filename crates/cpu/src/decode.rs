//! From bytes to [`Op`]s: iced-x86 does the x86 decoding, this module picks the
//! specialised handler for each instruction and resolves its operands once.
//!
//! Everything an instruction needs at run time is resolved here: register numbers, the
//! parts of an effective address (with the effective segment and the address-size mask),
//! immediates, branch targets (absolute), condition codes. Anything this CPU does not
//! implement becomes [`op_ud`], so unknown or invalid bytes raise #UD when executed.

use crate::ops::alu::{self, *};
use crate::ops::bits::{self, BT, BTC, BTR, BTS};
use crate::ops::shift::{self, RCL, RCR, ROL, ROR, SAR, SHL, SHR};
use crate::ops::string::{self, REP_E, REP_NE, REP_NONE};
use crate::ops::{
    EA_BASE, EA_DISP, EA_FULL, Handler, Op, W8, W16, W32, control, data, op_nop, op_ud, system,
};
use crate::state::REG_NONE;
use iced_x86::{Code, ConditionCode, FlowControl, Instruction, MemorySize, Mnemonic, OpKind, Register};

/// Pick the width-specialised instance of a generic handler.
macro_rules! sized {
    ($size:expr, $($f:ident)::+ $(, $g:tt)*) => {
        match $size {
            1 => $($f)::+::<W8 $(, $g)*> as Handler,
            2 => $($f)::+::<W16 $(, $g)*> as Handler,
            _ => $($f)::+::<W32 $(, $g)*> as Handler,
        }
    };
}

/// Pick by width and by "memory or register" (always the handler's last parameter).
macro_rules! sized_rm {
    ($size:expr, $mem:expr, $($f:ident)::+ $(, $g:tt)*) => {
        if $mem { sized!($size, $($f)::+ $(, $g)*, true) } else { sized!($size, $($f)::+ $(, $g)*, false) }
    };
}

/// Pick the instance of a memory handler for the effective-address form `$ea` (its last
/// parameter; see `ops::EA_DISP`).
macro_rules! by_ea {
    ($ea:expr, $($f:ident)::+ $(, $g:tt)*) => {
        match $ea {
            EA_DISP => $($f)::+::<$($g,)* EA_DISP> as Handler,
            EA_BASE => $($f)::+::<$($g,)* EA_BASE> as Handler,
            _ => $($f)::+::<$($g,)* EA_FULL> as Handler,
        }
    };
}

/// Pick by width and effective-address form.
macro_rules! sized_ea {
    ($size:expr, $ea:expr, $($f:ident)::+ $(, $g:tt)*) => {
        match $size {
            1 => by_ea!($ea, $($f)::+, W8 $(, $g)*),
            2 => by_ea!($ea, $($f)::+, W16 $(, $g)*),
            _ => by_ea!($ea, $($f)::+, W32 $(, $g)*),
        }
    };
}

/// Pick by width (16 or 32 only).
macro_rules! sized2 {
    ($size:expr, $($f:ident)::+ $(, $g:tt)*) => {
        if $size == 2 { $($f)::+::<W16 $(, $g)*> as Handler } else { $($f)::+::<W32 $(, $g)*> as Handler }
    };
}

/// Jcc handlers by condition code.
const JCC: [Handler; 16] = [
    control::jcc::<0>,
    control::jcc::<1>,
    control::jcc::<2>,
    control::jcc::<3>,
    control::jcc::<4>,
    control::jcc::<5>,
    control::jcc::<6>,
    control::jcc::<7>,
    control::jcc::<8>,
    control::jcc::<9>,
    control::jcc::<10>,
    control::jcc::<11>,
    control::jcc::<12>,
    control::jcc::<13>,
    control::jcc::<14>,
    control::jcc::<15>,
];

/// One Jcc handler per condition code for a known flag producer of `$bits` bits.
macro_rules! jcc_table {
    ($f:ident, $bits:literal) => {
        [
            control::$f::<0, $bits> as Handler,
            control::$f::<1, $bits>,
            control::$f::<2, $bits>,
            control::$f::<3, $bits>,
            control::$f::<4, $bits>,
            control::$f::<5, $bits>,
            control::$f::<6, $bits>,
            control::$f::<7, $bits>,
            control::$f::<8, $bits>,
            control::$f::<9, $bits>,
            control::$f::<10, $bits>,
            control::$f::<11, $bits>,
            control::$f::<12, $bits>,
            control::$f::<13, $bits>,
            control::$f::<14, $bits>,
            control::$f::<15, $bits>,
        ]
    };
}

/// Jcc handlers after SUB/CMP, by operand size (1, 2, 4 bytes → 0, 1, 2) and condition.
const JCC_SUB: [[Handler; 16]; 3] =
    [jcc_table!(jcc_sub, 8), jcc_table!(jcc_sub, 16), jcc_table!(jcc_sub, 32)];
/// Jcc handlers after AND/OR/XOR/TEST.
const JCC_LOGIC: [[Handler; 16]; 3] =
    [jcc_table!(jcc_logic, 8), jcc_table!(jcc_logic, 16), jcc_table!(jcc_logic, 32)];
/// JE/JNE/JS/JNS/JP/JNP handlers after any other lazily recorded result.
const JCC_RESULT: [[Handler; 16]; 3] =
    [jcc_table!(jcc_result, 8), jcc_table!(jcc_result, 16), jcc_table!(jcc_result, 32)];

/// What last set the flags, when an instruction of the current block did it in a way a
/// Jcc can test directly (see `flags::sub_cond`).
#[derive(Clone, Copy)]
pub(crate) enum Producer {
    /// SUB or CMP, of 1, 2 or 4 bytes.
    Sub(u32),
    /// AND, OR, XOR, TEST.
    Logic(u32),
    /// Another instruction that records its result lazily (ADD, ADC, SBB, INC, DEC, NEG).
    Result(u32),
}

/// The [`Producer`] `ins` is, if any.
pub(crate) fn flag_producer(ins: &Instruction) -> Option<Producer> {
    use Mnemonic as M;
    if ins.is_invalid() || is_string_form(ins) {
        return None;
    }
    let size = opsize(ins, 0);
    if !matches!(size, 1 | 2 | 4) {
        return None;
    }
    match ins.mnemonic() {
        M::Sub | M::Cmp => Some(Producer::Sub(size)),
        M::And | M::Or | M::Xor | M::Test => Some(Producer::Logic(size)),
        M::Add | M::Adc | M::Sbb | M::Inc | M::Dec | M::Neg => Some(Producer::Result(size)),
        _ => None,
    }
}

/// A Jcc handler that tests the flags `producer` left without asking what produced them,
/// if `ins` is a Jcc and there is one for that condition.
pub(crate) fn known_jcc(ins: &Instruction, producer: Producer) -> Option<Handler> {
    if !is_jcc(ins.mnemonic()) {
        return None;
    }
    let cc = cc(ins) as usize & 15;
    let by_size = |size: u32| (size / 2) as usize;
    match producer {
        Producer::Sub(size) => Some(JCC_SUB[by_size(size)][cc]),
        Producer::Logic(size) => Some(JCC_LOGIC[by_size(size)][cc]),
        Producer::Result(size) if matches!(cc >> 1, 2 | 4 | 5) => Some(JCC_RESULT[by_size(size)][cc]),
        Producer::Result(_) => None,
    }
}

/// Whether `m` is one of the sixteen conditional jumps (not LOOP or JECXZ).
pub(crate) fn is_jcc(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Jo
            | M::Jno
            | M::Jb
            | M::Jae
            | M::Je
            | M::Jne
            | M::Jbe
            | M::Ja
            | M::Js
            | M::Jns
            | M::Jp
            | M::Jnp
            | M::Jl
            | M::Jge
            | M::Jle
            | M::Jg
    )
}

/// Whether the block must end after this instruction.
pub(crate) fn ends_block(ins: &Instruction) -> bool {
    !matches!(ins.flow_control(), FlowControl::Next)
}

fn reg_num(r: Register) -> u8 {
    r.number() as u8
}

/// Size in bytes of operand `i` (register or memory), 0 for other kinds.
fn opsize(ins: &Instruction, i: u32) -> u32 {
    match ins.op_kind(i) {
        OpKind::Register => ins.op_register(i).size() as u32,
        OpKind::Memory => ins.memory_size().size() as u32,
        _ => 0,
    }
}

fn is_mem(ins: &Instruction, i: u32) -> bool {
    ins.op_kind(i) == OpKind::Memory
}

fn is_gpr(r: Register) -> bool {
    r.is_gpr8() || r.is_gpr16() || r.is_gpr32()
}

fn imm(ins: &Instruction, i: u32) -> u32 {
    ins.immediate(i) as u32
}

/// Fill the effective-address fields of `op` from the instruction's memory operand.
fn fill_mem(ins: &Instruction, op: &mut Op) {
    let base = ins.memory_base();
    let index = ins.memory_index();
    op.base = if base == Register::None { REG_NONE } else { reg_num(base) };
    op.index = if index == Register::None { REG_NONE } else { reg_num(index) };
    op.scale = ins.memory_index_scale().trailing_zeros() as u8;
    op.disp = ins.memory_displacement32();
    op.seg = reg_num(ins.memory_segment());
    let a16 = base.is_gpr16()
        || index.is_gpr16()
        || (base == Register::None && index == Register::None && ins.memory_displ_size() == 2);
    op.amask = if a16 { 0xFFFF } else { u32::MAX };
}

/// The effective-address form of `op`'s memory operand (after [`fill_mem`]).
fn ea_form(op: &Op) -> u8 {
    if op.amask != u32::MAX || op.index != REG_NONE {
        EA_FULL
    } else if op.base == REG_NONE {
        EA_DISP
    } else {
        EA_BASE
    }
}

/// Address-size mask of a string instruction, from its operand kinds.
fn string_amask(ins: &Instruction) -> u32 {
    for i in 0..ins.op_count() {
        match ins.op_kind(i) {
            OpKind::MemorySegSI | OpKind::MemorySegDI | OpKind::MemoryESDI => return 0xFFFF,
            OpKind::MemorySegESI | OpKind::MemorySegEDI | OpKind::MemoryESEDI => return u32::MAX,
            _ => {}
        }
    }
    u32::MAX
}

fn is_string_form(ins: &Instruction) -> bool {
    (0..ins.op_count()).any(|i| {
        matches!(
            ins.op_kind(i),
            OpKind::MemorySegSI
                | OpKind::MemorySegESI
                | OpKind::MemorySegDI
                | OpKind::MemorySegEDI
                | OpKind::MemoryESDI
                | OpKind::MemoryESEDI
        )
    })
}

/// The condition code (0..16, encoding order) of a Jcc/SETcc/CMOVcc.
fn cc(ins: &Instruction) -> u8 {
    (ins.condition_code() as u8).wrapping_sub(ConditionCode::o as u8)
}

/// How an instruction touches the six arithmetic flags, for the block builder's dead-flags
/// pass (see `exec.rs`). Only register-only instructions that can neither fault nor stop a
/// block are anything but [`FlagEffect::Use`], because at a fault (or any other stop)
/// EFLAGS must be exact.
#[derive(Clone, Copy)]
pub(crate) enum FlagEffect {
    /// Neither reads nor writes them.
    None,
    /// Writes all six without reading any. `Some(nf)`: a handler doing the same
    /// without computing the flags.
    Kill(Option<Handler>),
    /// Reads some and writes some (INC keeps CF; ADC reads it). `nf` as for `Kill`.
    Update(Handler),
    /// Reads them, or may fault or stop.
    Use,
}

/// The [`FlagEffect`] of `ins`, whose handler `translate` chose.
pub(crate) fn flag_effect(ins: &Instruction) -> FlagEffect {
    use FlagEffect as F;
    use Mnemonic as M;
    let reg = |i: u32| ins.op_kind(i) == OpKind::Register && is_gpr(ins.op_register(i));
    let is_imm = |i: u32| {
        matches!(
            ins.op_kind(i),
            OpKind::Immediate8
                | OpKind::Immediate16
                | OpKind::Immediate32
                | OpKind::Immediate8to16
                | OpKind::Immediate8to32
        )
    };
    if ins.is_invalid()
        || ins.has_lock_prefix()
        || ins.op_count() == 0 && !matches!(ins.mnemonic(), M::Nop | M::Cbw | M::Cwde | M::Cwd | M::Cdq)
    {
        return F::Use;
    }
    let m = ins.mnemonic();
    // Register destination, register or immediate source.
    let two = ins.op_count() == 2 && reg(0) && (reg(1) || is_imm(1));
    let r32 = reg(0) && ins.op_register(0).is_gpr32();
    let alu_nf = |op: u8| -> Handler {
        let rr = ins.op_kind(1) == OpKind::Register;
        match (op, rr) {
            (ADD, true) => alu::alu_rr32_nf::<ADD>,
            (ADD, false) => alu::alu_ri32_nf::<ADD>,
            (OR, true) => alu::alu_rr32_nf::<OR>,
            (OR, false) => alu::alu_ri32_nf::<OR>,
            (ADC, true) => alu::alu_rr32_nf::<ADC>,
            (ADC, false) => alu::alu_ri32_nf::<ADC>,
            (SBB, true) => alu::alu_rr32_nf::<SBB>,
            (SBB, false) => alu::alu_ri32_nf::<SBB>,
            (AND, true) => alu::alu_rr32_nf::<AND>,
            (AND, false) => alu::alu_ri32_nf::<AND>,
            (SUB, true) => alu::alu_rr32_nf::<SUB>,
            (SUB, false) => alu::alu_ri32_nf::<SUB>,
            (XOR, true) => alu::alu_rr32_nf::<XOR>,
            (XOR, false) => alu::alu_ri32_nf::<XOR>,
            // CMP and TEST: only flags.
            _ => op_nop,
        }
    };
    let alu_op = match m {
        M::Add => Some(ADD),
        M::Or => Some(OR),
        M::Adc => Some(ADC),
        M::Sbb => Some(SBB),
        M::And => Some(AND),
        M::Sub => Some(SUB),
        M::Xor => Some(XOR),
        M::Cmp => Some(CMP),
        M::Test => Some(TEST),
        _ => None,
    };
    if let Some(op) = alu_op {
        if !two {
            return F::Use;
        }
        let nf = if r32 { Some(alu_nf(op)) } else { None };
        return match (op, nf) {
            (ADC | SBB, Some(nf)) => F::Update(nf),
            (ADC | SBB, None) => F::Use,
            (_, nf) => F::Kill(nf),
        };
    }
    let count_imm = ins.op_count() == 2 && is_imm(1);
    let shift = |k: u8| -> Handler {
        match k {
            SHL => shift::shift32_nf::<SHL>,
            SHR => shift::shift32_nf::<SHR>,
            SAR => shift::shift32_nf::<SAR>,
            ROL => shift::shift32_nf::<ROL>,
            _ => shift::shift32_nf::<ROR>,
        }
    };
    match m {
        M::Mov => {
            if two {
                F::None
            } else {
                F::Use
            }
        }
        M::Movzx | M::Movsx | M::Xchg if reg(0) && reg(1) => F::None,
        M::Lea | M::Nop | M::Cbw | M::Cwde | M::Cwd | M::Cdq => F::None,
        M::Not | M::Bswap if reg(0) => F::None,
        M::Neg if reg(0) => F::Kill(if r32 { Some(alu::neg32_nf as Handler) } else { None }),
        M::Inc if r32 => F::Update(alu::inc32_nf),
        M::Dec if r32 => F::Update(alu::dec32_nf),
        M::Shl | M::Sal | M::Shr | M::Sar if reg(0) && count_imm && ins.immediate(1) & 0x1F != 0 => {
            let k = match m {
                M::Shr => SHR,
                M::Sar => SAR,
                _ => SHL,
            };
            F::Kill(if r32 { Some(shift(k)) } else { None })
        }
        M::Rol | M::Ror if r32 && count_imm => F::Update(shift(if m == M::Rol { ROL } else { ROR })),
        M::Imul if ins.op_count() >= 2 && reg(0) && reg(1) => F::Kill(None),
        M::Mul if reg(0) => F::Kill(None),
        _ => F::Use,
    }
}

/// Build the [`Op`] for one decoded instruction. `index` is its position in the block,
/// `bytes` its encoding (the x87 records part of it).
pub(crate) fn translate(ins: &Instruction, index: u32, bytes: &[u8]) -> Op {
    let mut op = Op {
        f: op_ud,
        eip: ins.ip32(),
        len: ins.len() as u8,
        r: 0,
        rm: 0,
        base: REG_NONE,
        index: REG_NONE,
        scale: 0,
        seg: 3,
        amask: u32::MAX,
        disp: 0,
        imm: 0,
        imm2: 0,
    };
    if ins.is_invalid() {
        return op;
    }
    if (0..ins.op_count()).any(|i| is_mem(ins, i)) {
        fill_mem(ins, &mut op);
    }
    op.f = if crate::fpu::decode::is_fpu(ins) {
        crate::fpu::decode::handler(ins, &mut op, bytes)
    } else {
        handler(ins, &mut op, index)
    };
    op
}

fn alu_handler<const OP: u8>(ins: &Instruction, op: &mut Op) -> Handler {
    let size = opsize(ins, 0);
    match (ins.op_kind(0), ins.op_kind(1)) {
        (OpKind::Register, OpKind::Register) => {
            op.rm = reg_num(ins.op_register(0));
            op.r = reg_num(ins.op_register(1));
            if size == 4 { alu::alu_rr32::<OP> } else { sized!(size, alu::alu_rm_r, OP, false) }
        }
        (OpKind::Register, OpKind::Memory) => {
            op.r = reg_num(ins.op_register(0));
            sized_ea!(size, ea_form(op), alu::alu_r_m, OP)
        }
        (OpKind::Memory, OpKind::Register) => {
            op.r = reg_num(ins.op_register(1));
            sized_ea!(size, ea_form(op), alu::alu_m_r, OP)
        }
        (OpKind::Register, _) => {
            op.rm = reg_num(ins.op_register(0));
            op.imm = imm(ins, 1);
            if size == 4 { alu::alu_ri32::<OP> } else { sized!(size, alu::alu_rm_imm, OP, false) }
        }
        (OpKind::Memory, _) => {
            op.imm = imm(ins, 1);
            sized_ea!(size, ea_form(op), alu::alu_m_imm, OP)
        }
        _ => op_ud,
    }
}

/// A one-operand r/m instruction (INC, NEG, MUL...): set `op.rm` when it is a register.
fn unary(ins: &Instruction, op: &mut Op) -> (u32, bool) {
    let mem = is_mem(ins, 0);
    if !mem {
        op.rm = reg_num(ins.op_register(0));
    }
    (opsize(ins, 0), mem)
}

/// A shift count, in CL or immediate: the handler reads `regs[op.imm2] | op.imm`, so the
/// count is `regs[1] | 0` or `regs[REG_NONE] | imm` (REG_NONE reads as zero), without a
/// branch.
fn set_count(ins: &Instruction, op: &mut Op, i: u32) {
    if ins.op_kind(i) == OpKind::Register {
        op.imm2 = 1;
        op.imm = 0;
    } else {
        op.imm2 = REG_NONE as u32;
        op.imm = imm(ins, i);
    }
}

fn shift_handler<const K: u8>(ins: &Instruction, op: &mut Op) -> Handler {
    let (size, mem) = unary(ins, op);
    set_count(ins, op, 1);
    sized_rm!(size, mem, shift::shift, K)
}

fn bt_handler<const K: u8>(ins: &Instruction, op: &mut Op) -> Handler {
    let (size, mem) = unary(ins, op);
    if ins.op_kind(1) == OpKind::Register {
        op.r = reg_num(ins.op_register(1));
        if mem { sized2!(size, bits::bt, K, true, false) } else { sized2!(size, bits::bt, K, false, false) }
    } else {
        op.imm = imm(ins, 1);
        if mem { sized2!(size, bits::bt, K, true, true) } else { sized2!(size, bits::bt, K, false, true) }
    }
}

/// Set `op.rm` from operand `i` when it is a register; returns whether it is memory.
fn rm_operand(ins: &Instruction, op: &mut Op, i: u32) -> bool {
    let mem = is_mem(ins, i);
    if !mem {
        op.rm = reg_num(ins.op_register(i));
    }
    mem
}

fn string_handler(ins: &Instruction, op: &mut Op, size: u32, compares: bool) -> Option<Handler> {
    if !is_string_form(ins) {
        return None;
    }
    op.amask = string_amask(ins);
    op.seg = reg_num(ins.memory_segment());
    op.imm2 = if compares {
        if ins.has_repe_prefix() {
            REP_E
        } else if ins.has_repne_prefix() {
            REP_NE
        } else {
            REP_NONE
        }
    } else if ins.has_rep_prefix() || ins.has_repne_prefix() {
        REP_E
    } else {
        REP_NONE
    };
    let h = match ins.mnemonic() {
        Mnemonic::Movsb | Mnemonic::Movsw | Mnemonic::Movsd => sized!(size, string::movs),
        Mnemonic::Stosb | Mnemonic::Stosw | Mnemonic::Stosd => sized!(size, string::stos),
        Mnemonic::Lodsb | Mnemonic::Lodsw | Mnemonic::Lodsd => sized!(size, string::lods),
        Mnemonic::Cmpsb | Mnemonic::Cmpsw | Mnemonic::Cmpsd => sized!(size, string::cmps),
        Mnemonic::Scasb | Mnemonic::Scasw | Mnemonic::Scasd => sized!(size, string::scas),
        Mnemonic::Insb | Mnemonic::Insw | Mnemonic::Insd => sized!(size, string::ins),
        _ => sized!(size, string::outs),
    };
    Some(h)
}

fn handler(ins: &Instruction, op: &mut Op, index: u32) -> Handler {
    use Mnemonic as M;
    let m = ins.mnemonic();
    match m {
        M::Add => alu_handler::<ADD>(ins, op),
        M::Or => alu_handler::<OR>(ins, op),
        M::Adc => alu_handler::<ADC>(ins, op),
        M::Sbb => alu_handler::<SBB>(ins, op),
        M::And => alu_handler::<AND>(ins, op),
        M::Sub => alu_handler::<SUB>(ins, op),
        M::Xor => alu_handler::<XOR>(ins, op),
        M::Cmp => alu_handler::<CMP>(ins, op),
        M::Test => {
            let (size, mem) = unary(ins, op);
            if ins.op_kind(1) == OpKind::Register {
                op.r = reg_num(ins.op_register(1));
                sized_rm!(size, mem, alu::alu_rm_r, TEST)
            } else {
                op.imm = imm(ins, 1);
                sized_rm!(size, mem, alu::alu_rm_imm, TEST)
            }
        }
        M::Inc => {
            let (size, mem) = unary(ins, op);
            sized_rm!(size, mem, alu::inc)
        }
        M::Dec => {
            let (size, mem) = unary(ins, op);
            sized_rm!(size, mem, alu::dec)
        }
        M::Neg => {
            let (size, mem) = unary(ins, op);
            sized_rm!(size, mem, alu::neg)
        }
        M::Not => {
            let (size, mem) = unary(ins, op);
            sized_rm!(size, mem, alu::not)
        }
        M::Mul => {
            let (size, mem) = unary(ins, op);
            sized_rm!(size, mem, alu::mul)
        }
        M::Div => {
            let (size, mem) = unary(ins, op);
            sized_rm!(size, mem, alu::div)
        }
        M::Idiv => {
            let (size, mem) = unary(ins, op);
            sized_rm!(size, mem, alu::idiv)
        }
        M::Imul => match ins.op_count() {
            1 => {
                let (size, mem) = unary(ins, op);
                sized_rm!(size, mem, alu::imul1)
            }
            n => {
                let size = opsize(ins, 0);
                op.r = reg_num(ins.op_register(0));
                let mem = rm_operand(ins, op, 1);
                if n == 3 {
                    op.imm = imm(ins, 2);
                    if mem {
                        sized2!(size, alu::imul_r, true, true)
                    } else {
                        sized2!(size, alu::imul_r, false, true)
                    }
                } else if mem {
                    sized2!(size, alu::imul_r, true, false)
                } else {
                    sized2!(size, alu::imul_r, false, false)
                }
            }
        },
        M::Cbw | M::Cwde => sized2!(if m == M::Cbw { 2 } else { 4 }, alu::cbw),
        M::Cwd | M::Cdq => sized2!(if m == M::Cwd { 2 } else { 4 }, alu::cwd),
        M::Daa => alu::daa,
        M::Das => alu::das,
        M::Aaa => alu::aaa_aas::<false>,
        M::Aas => alu::aaa_aas::<true>,
        M::Aam => {
            op.imm = imm(ins, 0);
            alu::aam
        }
        M::Aad => {
            op.imm = imm(ins, 0);
            alu::aad
        }
        M::Salc => salc,

        M::Rol => shift_handler::<ROL>(ins, op),
        M::Ror => shift_handler::<ROR>(ins, op),
        M::Rcl => shift_handler::<RCL>(ins, op),
        M::Rcr => shift_handler::<RCR>(ins, op),
        M::Shl | M::Sal => shift_handler::<SHL>(ins, op),
        M::Shr => shift_handler::<SHR>(ins, op),
        M::Sar => shift_handler::<SAR>(ins, op),
        M::Shld | M::Shrd => {
            let (size, mem) = unary(ins, op);
            op.r = reg_num(ins.op_register(1));
            set_count(ins, op, 2);
            match (m == M::Shld, mem) {
                (true, true) => sized2!(size, shift::shld, true, true),
                (true, false) => sized2!(size, shift::shld, true, false),
                (false, true) => sized2!(size, shift::shld, false, true),
                (false, false) => sized2!(size, shift::shld, false, false),
            }
        }

        M::Bt => bt_handler::<BT>(ins, op),
        M::Bts => bt_handler::<BTS>(ins, op),
        M::Btr => bt_handler::<BTR>(ins, op),
        M::Btc => bt_handler::<BTC>(ins, op),
        M::Bsf | M::Bsr => {
            let size = opsize(ins, 0);
            op.r = reg_num(ins.op_register(0));
            let mem = rm_operand(ins, op, 1);
            match (m == M::Bsr, mem) {
                (true, true) => sized2!(size, bits::bsf, true, true),
                (true, false) => sized2!(size, bits::bsf, true, false),
                (false, true) => sized2!(size, bits::bsf, false, true),
                (false, false) => sized2!(size, bits::bsf, false, false),
            }
        }
        M::Bswap => {
            op.rm = reg_num(ins.op_register(0));
            if opsize(ins, 0) == 4 { bits::bswap } else { bits::bswap16 }
        }
        M::Seto
        | M::Setno
        | M::Setb
        | M::Setae
        | M::Sete
        | M::Setne
        | M::Setbe
        | M::Seta
        | M::Sets
        | M::Setns
        | M::Setp
        | M::Setnp
        | M::Setl
        | M::Setge
        | M::Setle
        | M::Setg => {
            op.r = cc(ins);
            if rm_operand(ins, op, 0) { bits::setcc::<true> } else { bits::setcc::<false> }
        }
        M::Cmovo
        | M::Cmovno
        | M::Cmovb
        | M::Cmovae
        | M::Cmove
        | M::Cmovne
        | M::Cmovbe
        | M::Cmova
        | M::Cmovs
        | M::Cmovns
        | M::Cmovp
        | M::Cmovnp
        | M::Cmovl
        | M::Cmovge
        | M::Cmovle
        | M::Cmovg => {
            let size = opsize(ins, 0);
            op.r = reg_num(ins.op_register(0));
            op.imm2 = cc(ins) as u32;
            if rm_operand(ins, op, 1) {
                sized2!(size, bits::cmov, true)
            } else {
                sized2!(size, bits::cmov, false)
            }
        }

        M::Mov => mov_handler(ins, op),
        M::Movzx | M::Movsx => {
            let dsize = opsize(ins, 0);
            let ssize = opsize(ins, 1);
            op.r = reg_num(ins.op_register(0));
            let mem = rm_operand(ins, op, 1);
            let signed = m == M::Movsx;
            let ea = ea_form(op);
            match (dsize, ssize, signed, mem) {
                (2, 1, false, false) => data::movx::<W16, W8, false, false>,
                (2, 1, false, true) => data::movx::<W16, W8, false, true>,
                (2, 1, true, false) => data::movx::<W16, W8, true, false>,
                (2, 1, true, true) => data::movx::<W16, W8, true, true>,
                (4, 1, false, false) => data::movx::<W32, W8, false, false>,
                (4, 1, false, true) => by_ea!(ea, data::movx_m, W32, W8, false),
                (4, 1, true, false) => data::movx::<W32, W8, true, false>,
                (4, 1, true, true) => by_ea!(ea, data::movx_m, W32, W8, true),
                (4, 2, false, false) => data::movx::<W32, W16, false, false>,
                (4, 2, false, true) => by_ea!(ea, data::movx_m, W32, W16, false),
                (4, 2, true, false) => data::movx::<W32, W16, true, false>,
                (4, 2, true, true) => by_ea!(ea, data::movx_m, W32, W16, true),
                (2, 2, false, false) => data::movx::<W16, W16, false, false>,
                (2, 2, false, true) => data::movx::<W16, W16, false, true>,
                (2, 2, true, false) => data::movx::<W16, W16, true, false>,
                (2, 2, true, true) => data::movx::<W16, W16, true, true>,
                _ => op_ud,
            }
        }
        M::Xchg | M::Xadd | M::Cmpxchg => {
            let size = opsize(ins, 0);
            let mem = rm_operand(ins, op, 0);
            op.r = reg_num(ins.op_register(1));
            match m {
                M::Xchg => sized_rm!(size, mem, data::xchg),
                M::Xadd => sized_rm!(size, mem, data::xadd),
                _ => sized_rm!(size, mem, data::cmpxchg),
            }
        }
        M::Cmpxchg8b => {
            if is_mem(ins, 0) {
                data::cmpxchg8b
            } else {
                op_ud
            }
        }
        M::Lea => {
            op.r = reg_num(ins.op_register(0));
            sized2!(opsize(ins, 0), data::lea)
        }
        M::Push => {
            let size = (-ins.stack_pointer_increment()) as u32;
            match ins.op_kind(0) {
                OpKind::Register => {
                    let r = ins.op_register(0);
                    if r.is_segment_register() {
                        op.r = reg_num(r);
                        sized2!(size, data::push_sreg)
                    } else {
                        op.rm = reg_num(r);
                        sized2!(size, data::push_r)
                    }
                }
                OpKind::Memory => sized2!(size, data::push_rm),
                _ => {
                    op.imm = imm(ins, 0);
                    sized2!(size, data::push_imm)
                }
            }
        }
        M::Pop => {
            let size = ins.stack_pointer_increment() as u32;
            match ins.op_kind(0) {
                OpKind::Register => {
                    let r = ins.op_register(0);
                    if r.is_segment_register() {
                        op.r = reg_num(r);
                        sized2!(size, data::pop_sreg)
                    } else {
                        op.rm = reg_num(r);
                        sized2!(size, data::pop_r)
                    }
                }
                _ => sized2!(size, data::pop_rm),
            }
        }
        M::Pusha | M::Pushad => sized2!(if m == M::Pusha { 2 } else { 4 }, data::pusha),
        M::Popa | M::Popad => sized2!(if m == M::Popa { 2 } else { 4 }, data::popa),
        M::Pushf | M::Pushfd => sized2!(if m == M::Pushf { 2 } else { 4 }, data::pushf),
        M::Popf | M::Popfd => sized2!(if m == M::Popf { 2 } else { 4 }, data::popf),
        M::Enter => {
            op.imm = imm(ins, 0);
            op.imm2 = imm(ins, 1);
            sized2!(if ins.code() == Code::Enterw_imm16_imm8 { 2 } else { 4 }, data::enter)
        }
        M::Leave => sized2!(if ins.code() == Code::Leavew { 2 } else { 4 }, data::leave),
        M::Xlatb => {
            op.seg = reg_num(ins.memory_segment());
            op.amask = if ins.memory_base().is_gpr16() { 0xFFFF } else { u32::MAX };
            data::xlat
        }
        M::Lahf => data::lahf,
        M::Sahf => data::sahf,
        M::Clc => data::clc,
        M::Stc => data::stc,
        M::Cmc => data::cmc,
        M::Cld => data::cld,
        M::Std => data::std_,
        M::Cli => system::cli,
        M::Sti => system::sti,
        M::Nop | M::Pause => op_nop,

        M::Jmp => branch_handler(ins, op, false),
        M::Call => branch_handler(ins, op, true),
        M::Jo
        | M::Jno
        | M::Jb
        | M::Jae
        | M::Je
        | M::Jne
        | M::Jbe
        | M::Ja
        | M::Js
        | M::Jns
        | M::Jp
        | M::Jnp
        | M::Jl
        | M::Jge
        | M::Jle
        | M::Jg => {
            op.r = cc(ins);
            op.imm = ins.near_branch_target() as u32;
            JCC[op.r as usize & 15]
        }
        M::Loop | M::Loope | M::Loopne | M::Jcxz | M::Jecxz => {
            op.imm = ins.near_branch_target() as u32;
            op.amask = if ins.op_code().address_size() == 16 { 0xFFFF } else { u32::MAX };
            match m {
                M::Loop => control::loop_::<0>,
                M::Loope => control::loop_::<1>,
                M::Loopne => control::loop_::<2>,
                _ => control::jecxz,
            }
        }
        M::Ret => {
            op.imm = if ins.op_count() == 1 { imm(ins, 0) & 0xFFFF } else { 0 };
            let w16 = matches!(ins.code(), Code::Retnw | Code::Retnw_imm16);
            if w16 { control::ret::<W16> } else { control::ret::<W32> }
        }
        M::Retf => {
            op.imm = if ins.op_count() == 1 { imm(ins, 0) & 0xFFFF } else { 0 };
            let w16 = matches!(ins.code(), Code::Retfw | Code::Retfw_imm16);
            if w16 { control::retf::<W16> } else { control::retf::<W32> }
        }
        M::Iret => control::iret::<W16>,
        M::Iretd => control::iret::<W32>,
        M::Int => {
            op.imm = imm(ins, 0) & 0xFF;
            control::int_n
        }
        M::Int3 => {
            op.imm = 3;
            control::int_n
        }
        M::Into => control::into,
        M::Int1 => control::int1,
        M::Hlt => control::hlt,

        M::Movsb | M::Movsw | M::Movsd => string_handler(ins, op, str_size(m), false).unwrap_or(op_ud),
        M::Stosb | M::Stosw | M::Stosd => string_handler(ins, op, str_size(m), false).unwrap_or(op_ud),
        M::Lodsb | M::Lodsw | M::Lodsd => string_handler(ins, op, str_size(m), false).unwrap_or(op_ud),
        M::Insb | M::Insw | M::Insd => string_handler(ins, op, str_size(m), false).unwrap_or(op_ud),
        M::Outsb | M::Outsw | M::Outsd => string_handler(ins, op, str_size(m), false).unwrap_or(op_ud),
        M::Cmpsb | M::Cmpsw | M::Cmpsd => string_handler(ins, op, str_size(m), true).unwrap_or(op_ud),
        M::Scasb | M::Scasw | M::Scasd => string_handler(ins, op, str_size(m), true).unwrap_or(op_ud),

        M::In => sized!(opsize(ins, 0), system::in_),
        M::Out => system::out,
        M::Cpuid => system::cpuid,
        M::Rdtsc => {
            op.imm = index;
            system::rdtsc
        }
        M::Lds | M::Les | M::Lfs | M::Lgs | M::Lss => {
            op.r = reg_num(ins.op_register(0));
            op.imm2 = match m {
                M::Les => 0,
                M::Lss => 2,
                M::Lds => 3,
                M::Lfs => 4,
                _ => 5,
            };
            if is_mem(ins, 1) { sized2!(opsize(ins, 0), system::lxs) } else { op_ud }
        }
        M::Lgdt | M::Lidt | M::Lldt | M::Ltr | M::Rdpmc => system::privileged_unsupported,
        M::Rdmsr | M::Wrmsr => system::msr,
        M::Wbinvd | M::Invd => system::privileged_nop,
        M::Clts => system::clts,
        M::Invlpg => system::invlpg,
        M::Sgdt => system::sgdt::<false>,
        M::Sidt => system::sgdt::<true>,
        M::Sldt | M::Str => {
            let mem = rm_operand(ins, op, 0);
            sized_rm!(opsize(ins, 0).max(2), mem, system::sldt_str)
        }
        M::Smsw => {
            let mem = rm_operand(ins, op, 0);
            sized_rm!(opsize(ins, 0).max(2), mem, system::smsw)
        }
        M::Lmsw => {
            if rm_operand(ins, op, 0) {
                system::lmsw::<true>
            } else {
                system::lmsw::<false>
            }
        }
        M::Lar | M::Lsl => {
            let size = opsize(ins, 0);
            op.r = reg_num(ins.op_register(0));
            let mem = rm_operand(ins, op, 1);
            match (m == M::Lsl, mem) {
                (true, true) => sized2!(size, system::lar_lsl, true, true),
                (true, false) => sized2!(size, system::lar_lsl, true, false),
                (false, true) => sized2!(size, system::lar_lsl, false, true),
                (false, false) => sized2!(size, system::lar_lsl, false, false),
            }
        }
        M::Verr | M::Verw => {
            let mem = rm_operand(ins, op, 0);
            match (m == M::Verw, mem) {
                (true, true) => system::verr_verw::<true, true>,
                (true, false) => system::verr_verw::<true, false>,
                (false, true) => system::verr_verw::<false, true>,
                (false, false) => system::verr_verw::<false, false>,
            }
        }
        M::Arpl => {
            op.r = reg_num(ins.op_register(1));
            if rm_operand(ins, op, 0) { system::arpl::<true> } else { system::arpl::<false> }
        }
        M::Bound => {
            op.r = reg_num(ins.op_register(0));
            if is_mem(ins, 1) { sized2!(opsize(ins, 0), system::bound) } else { op_ud }
        }
        _ => op_ud,
    }
}

fn str_size(m: Mnemonic) -> u32 {
    use Mnemonic as M;
    match m {
        M::Movsb | M::Stosb | M::Lodsb | M::Insb | M::Outsb | M::Cmpsb | M::Scasb => 1,
        M::Movsw | M::Stosw | M::Lodsw | M::Insw | M::Outsw | M::Cmpsw | M::Scasw => 2,
        _ => 4,
    }
}

fn mov_handler(ins: &Instruction, op: &mut Op) -> Handler {
    let k0 = ins.op_kind(0);
    let k1 = ins.op_kind(1);
    if k0 == OpKind::Register && k1 == OpKind::Register {
        let (r0, r1) = (ins.op_register(0), ins.op_register(1));
        if r0.is_cr() {
            op.r = reg_num(r0);
            op.rm = reg_num(r1);
            return system::mov_cr_r;
        }
        if r1.is_cr() {
            op.r = reg_num(r1);
            op.rm = reg_num(r0);
            return system::mov_r_cr;
        }
        if r0.is_dr() {
            op.r = reg_num(r0);
            op.rm = reg_num(r1);
            return system::mov_dr::<true>;
        }
        if r1.is_dr() {
            op.r = reg_num(r1);
            op.rm = reg_num(r0);
            return system::mov_dr::<false>;
        }
        if r0.is_segment_register() {
            op.r = reg_num(r0);
            op.rm = reg_num(r1);
            return system::mov_sreg_rm::<false>;
        }
        if r1.is_segment_register() {
            op.r = reg_num(r1);
            op.rm = reg_num(r0);
            return sized2!(r0.size() as u32, system::mov_rm_sreg, false);
        }
        if !(is_gpr(r0) && is_gpr(r1)) {
            return op_ud;
        }
        op.rm = reg_num(r1);
        op.r = reg_num(r0);
        let size = r0.size() as u32;
        // Encoded as r = destination, rm = source.
        return if size == 4 { data::mov_rr32 } else { sized!(size, data::mov_r_rm, false) };
    }
    match (k0, k1) {
        (OpKind::Register, OpKind::Memory) => {
            let r = ins.op_register(0);
            if r.is_segment_register() {
                op.r = reg_num(r);
                return system::mov_sreg_rm::<true>;
            }
            op.r = reg_num(r);
            let size = r.size() as u32;
            if size == 4 { by_ea!(ea_form(op), data::mov_r32_m) } else { sized!(size, data::mov_r_rm, true) }
        }
        (OpKind::Memory, OpKind::Register) => {
            let r = ins.op_register(1);
            if r.is_segment_register() {
                op.r = reg_num(r);
                return system::mov_rm_sreg::<W16, true>;
            }
            op.r = reg_num(r);
            let size = r.size() as u32;
            if size == 4 { by_ea!(ea_form(op), data::mov_m_r32) } else { sized!(size, data::mov_rm_r, true) }
        }
        (OpKind::Register, _) => {
            op.rm = reg_num(ins.op_register(0));
            op.imm = imm(ins, 1);
            sized!(opsize(ins, 0), data::mov_rm_imm, false)
        }
        (OpKind::Memory, _) => {
            op.imm = imm(ins, 1);
            sized_ea!(opsize(ins, 0), ea_form(op), data::mov_m_imm)
        }
        _ => op_ud,
    }
}

fn branch_handler(ins: &Instruction, op: &mut Op, call: bool) -> Handler {
    match ins.op_kind(0) {
        OpKind::NearBranch16 | OpKind::NearBranch32 => {
            op.imm = ins.near_branch_target() as u32;
            let w16 = ins.op_kind(0) == OpKind::NearBranch16;
            match (call, w16) {
                (true, true) => control::call_rel::<W16>,
                (true, false) => control::call_rel::<W32>,
                _ => control::jmp_rel,
            }
        }
        OpKind::FarBranch16 | OpKind::FarBranch32 => {
            let w16 = ins.op_kind(0) == OpKind::FarBranch16;
            op.imm = if w16 { ins.far_branch16() as u32 } else { ins.far_branch32() };
            op.imm2 = ins.far_branch_selector() as u32;
            match (call, w16) {
                (true, true) => control::call_far::<W16>,
                (true, false) => control::call_far::<W32>,
                (false, _) => control::jmp_far,
            }
        }
        OpKind::Memory if matches!(ins.memory_size(), MemorySize::SegPtr16 | MemorySize::SegPtr32) => {
            let w16 = ins.memory_size() == MemorySize::SegPtr16;
            match (call, w16) {
                (true, true) => control::call_far_m::<W16>,
                (true, false) => control::call_far_m::<W32>,
                (false, true) => control::jmp_far_m::<W16>,
                (false, false) => control::jmp_far_m::<W32>,
            }
        }
        OpKind::Register | OpKind::Memory => {
            let size = opsize(ins, 0);
            let mem = rm_operand(ins, op, 0);
            match (call, mem) {
                (true, true) => sized2!(size, control::call_rm, true),
                (true, false) => sized2!(size, control::call_rm, false),
                (false, true) => sized2!(size, control::jmp_rm, true),
                (false, false) => sized2!(size, control::jmp_rm, false),
            }
        }
        _ => op_ud,
    }
}

/// SALC (undocumented, but every i686 has it): AL = CF ? 0xFF : 0.
fn salc(st: &mut crate::state::State, _: &Op) -> crate::exit::Res {
    let v = if st.cc.cf() { 0xFF } else { 0 };
    st.set_reg8(0, v);
    Ok(())
}
