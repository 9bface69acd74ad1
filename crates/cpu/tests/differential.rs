//! Differential tests: the interpreter against the processor this test runs on.
//!
//! One static 32-bit ELF holds thousands of generated cases. Each case loads registers and
//! EFLAGS from its own record (`popad; popfd`), sets ESP, runs the instruction under test,
//! stores ESP, registers and EFLAGS back into the record (`pushfd; pushad`) and hands the
//! record to `write(1, ...)` through `int $0x80`. The file runs natively as a Linux process
//! and, byte for byte the same, in the interpreter set up like a Linux user process (the
//! test plays the kernel's part for `write` and `exit`) three times: paging off, paging on,
//! and one instruction per `run` call (so every instruction ends a run mid-block and
//! starts a new block); then every record is compared:
//! registers, ESP, EFLAGS and the case's scratch memory and stack. The only things masked
//! are the flags (and, for a few instructions, the results) the architecture leaves
//! undefined for that instruction with those operands.
//!
//! Cases are generated from iced-x86's opcode tables: every encoding (`Code`) of every
//! instruction this CPU claims in the i686 integer set, with operands of every kind the
//! encoding allows (registers of each size, memory through every addressing form with
//! segment overrides and LOCK, immediates), random values biased towards the edges, and
//! short random sequences of register instructions to exercise the lazy flags. The seed is
//! fixed, so a failure reproduces.
//!
//! Where the architecture leaves a result open, this CPU does what the host (an AMD EPYC)
//! does, so those cases are compared like any other: PUSH of a segment register and
//! far CALL write a zero-extended dword, `mov r32, sreg` zero-extends, BSF/BSR with a zero
//! source leave the destination alone, and BSWAP of a 16-bit register clears it (Intel
//! processors agree on all four).
//!
//! Design choices this CPU makes that differ from the host processor, and are therefore
//! not compared: CPUID (its identity is our own), x87 (`tests/x87.rs` compares it), RDTSC
//! (instruction counting), privileged and I/O instructions (ring-3 Linux cannot run them:
//! `tests/protected.rs` covers them), INT/INT3/INTO (they end `run`), LAR/LSL/VERR/VERW
//! (our GDT is not Linux's), and SGDT/SIDT/SMSW/SLDT/STR (UMIP on the host).

mod support;

use cpu::{Exit, PhysMem, Reg, Vcpu};
use iced_x86::{
    Code, Encoder, EncodingKind, Instruction, MemorySize, Mnemonic, OpCodeOperandKind as K, OpKind, Register,
};
use std::collections::{BTreeMap, BTreeSet};
use support::{Rng, Segment, USER_CS, USER_DS};

/// Where the code is loaded.
const CODE: u32 = 0x0010_0000;
/// Where the per-case records start. Half a record past a page boundary, so that in every
/// fourth record a page boundary falls in the middle of the memory-operand range and
/// accesses straddle two pages.
const DATA: u32 = 0x0100_0200;
/// Bytes per record.
const REC: u32 = 0x400;

// Record layout.
/// `popad; popfd` image: EDI ESI EBP (ESP) EBX EDX ECX EAX, EFLAGS.
const IN: u32 = 0x00;
/// `pushad; pushfd` image after the case.
const OUT: u32 = 0x40;
/// ESP after the case.
const OUT_ESP: u32 = 0x70;
/// Which path a branch took: 1 fall-through, 2 taken.
const MARK: u32 = 0x74;
/// Random bytes the case may read and write (memory operands, strings, its stack).
const SCRATCH: u32 = 0x80;
/// Memory operands start in `MEM_LO..MEM_HI` (room for 8 bytes).
const MEM_LO: u32 = 0x180;
const MEM_HI: u32 = 0x278;
/// String sources and destinations start around here.
const STR_SRC: u32 = 0x1C0;
const STR_DST: u32 = 0x240;
/// Initial ESP for instructions that use the stack.
const STACK: u32 = 0x380;

const SEED: u64 = 0x6C67_7565_7374_2D72;
/// Cases per encoding, and random register-only sequences.
const PER_CODE: usize = 24;
const SEQUENCES: usize = 4000;
/// Cases per memory-accessing encoding with 16-bit addressing.
const A16_PER_CODE: usize = 3;

const EFL_CF: u32 = 1;
const EFL_PF: u32 = 1 << 2;
const EFL_AF: u32 = 1 << 4;
const EFL_ZF: u32 = 1 << 6;
const EFL_SF: u32 = 1 << 7;
const EFL_TF: u32 = 1 << 8;
const EFL_IF: u32 = 1 << 9;
const EFL_DF: u32 = 1 << 10;
const EFL_OF: u32 = 1 << 11;
const EFL_NT: u32 = 1 << 14;
const EFL_RF: u32 = 1 << 16;
const EFL_VM: u32 = 1 << 17;
const EFL_AC: u32 = 1 << 18;
const ARITH: u32 = EFL_CF | EFL_PF | EFL_AF | EFL_ZF | EFL_SF | EFL_OF;

const R32: [Register; 8] = [
    Register::EAX,
    Register::ECX,
    Register::EDX,
    Register::EBX,
    Register::ESP,
    Register::EBP,
    Register::ESI,
    Register::EDI,
];
const R16: [Register; 8] = [
    Register::AX,
    Register::CX,
    Register::DX,
    Register::BX,
    Register::SP,
    Register::BP,
    Register::SI,
    Register::DI,
];
const R8: [Register; 8] = [
    Register::AL,
    Register::CL,
    Register::DL,
    Register::BL,
    Register::AH,
    Register::CH,
    Register::DH,
    Register::BH,
];

/// The instructions compared here (by iced-x86 mnemonic).
fn in_scope(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Aaa
            | M::Aad
            | M::Aam
            | M::Aas
            | M::Adc
            | M::Add
            | M::And
            | M::Arpl
            | M::Bound
            | M::Bsf
            | M::Bsr
            | M::Bswap
            | M::Bt
            | M::Btc
            | M::Btr
            | M::Bts
            | M::Call
            | M::Cbw
            | M::Cdq
            | M::Clc
            | M::Cld
            | M::Cmc
            | M::Cmp
            | M::Cmpsb
            | M::Cmpsw
            | M::Cmpsd
            | M::Cmpxchg
            | M::Cmpxchg8b
            | M::Cwd
            | M::Cwde
            | M::Daa
            | M::Das
            | M::Dec
            | M::Div
            | M::Enter
            | M::Idiv
            | M::Imul
            | M::Inc
            | M::Iretd
            | M::Jcxz
            | M::Jecxz
            | M::Jmp
            | M::Lahf
            | M::Lds
            | M::Lea
            | M::Leave
            | M::Les
            | M::Lfs
            | M::Lgs
            | M::Lodsb
            | M::Lodsw
            | M::Lodsd
            | M::Loop
            | M::Loope
            | M::Loopne
            | M::Lss
            | M::Mov
            | M::Movsb
            | M::Movsw
            | M::Movsd
            | M::Movsx
            | M::Movzx
            | M::Mul
            | M::Neg
            | M::Nop
            | M::Not
            | M::Or
            | M::Pop
            | M::Popa
            | M::Popad
            | M::Popf
            | M::Popfd
            | M::Push
            | M::Pusha
            | M::Pushad
            | M::Pushf
            | M::Pushfd
            | M::Rcl
            | M::Rcr
            | M::Ret
            | M::Retf
            | M::Rol
            | M::Ror
            | M::Sahf
            | M::Sal
            | M::Salc
            | M::Sar
            | M::Sbb
            | M::Scasb
            | M::Scasw
            | M::Scasd
            | M::Shl
            | M::Shld
            | M::Shr
            | M::Shrd
            | M::Stc
            | M::Std
            | M::Stosb
            | M::Stosw
            | M::Stosd
            | M::Sub
            | M::Test
            | M::Xadd
            | M::Xchg
            | M::Xlatb
            | M::Xor
    ) || is_jcc(m)
        || is_setcc(m)
        || is_cmovcc(m)
}

fn is_jcc(m: Mnemonic) -> bool {
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

fn is_setcc(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
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
            | M::Setg
    )
}

fn is_cmovcc(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
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
            | M::Cmovg
    )
}

fn is_string(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Movsb
            | M::Movsw
            | M::Movsd
            | M::Cmpsb
            | M::Cmpsw
            | M::Cmpsd
            | M::Stosb
            | M::Stosw
            | M::Stosd
            | M::Lodsb
            | M::Lodsw
            | M::Lodsd
            | M::Scasb
            | M::Scasw
            | M::Scasd
    )
}

/// Encodings that would branch to a 16-bit address (they truncate EIP), which a Linux
/// process cannot map. The interpreter still runs them in `tests/protected.rs`-style
/// tests; here they are left out.
fn branches_to_16_bit_address(code: Code) -> bool {
    matches!(
        code,
        Code::Call_rm16
            | Code::Jmp_rm16
            | Code::Retnw
            | Code::Retnw_imm16
            | Code::Retfw
            | Code::Retfw_imm16
            | Code::Call_m1616
            | Code::Jmp_m1616
            | Code::Iretw
    ) || code == Code::Popw_CS // 8086 only: 0F is the two-byte escape since the 286
}

fn operand_kind_supported(k: K) -> bool {
    matches!(
        k,
        K::r8_or_mem
            | K::r16_or_mem
            | K::r32_or_mem
            | K::r16_reg_mem
            | K::r32_reg_mem
            | K::mem
            | K::mem_offs
            | K::r8_reg
            | K::r8_opcode
            | K::r16_reg
            | K::r16_rm
            | K::r16_opcode
            | K::r32_reg
            | K::r32_rm
            | K::r32_opcode
            | K::seg_reg
            | K::es
            | K::cs
            | K::ss
            | K::ds
            | K::fs
            | K::gs
            | K::al
            | K::cl
            | K::ax
            | K::dx
            | K::eax
            | K::imm8
            | K::imm8_const_1
            | K::imm8sex16
            | K::imm8sex32
            | K::imm16
            | K::imm32
            | K::seg_rSI
            | K::es_rDI
            | K::seg_rBX_al
            | K::br32_1
            | K::br32_4
            | K::farbr4_2
    )
}

/// Every encoding compared here.
fn codes_in_scope() -> Vec<Code> {
    Code::values()
        .filter(|&c| {
            let oc = c.op_code();
            oc.is_instruction()
                && oc.encoding() == EncodingKind::Legacy
                && oc.mode32()
                // Encodings only decoded on request (486 A-step CMPXCHG, ...).
                && oc.decoder_option() == 0
                && in_scope(oc.mnemonic())
                && !branches_to_16_bit_address(c)
                && oc.op_kinds().iter().all(|&k| operand_kind_supported(k))
                // 16-bit operand size near Jcc/JMP/CALL use br16 kinds and are excluded
                // above; DX here is only IN/OUT, which are out of scope anyway.
                && !oc.op_kinds().contains(&K::dx)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Generating one case.

/// A memory operand before its registers get values: the address it must reach.
#[derive(Clone, Copy, Debug)]
struct Shape {
    base: Register,
    index: Register,
    scale: u32,
    displ: u32,
    displ_size: u32,
    seg: Register,
    /// Absolute address the operand must reach (unused for LEA/NOP, which do not access).
    target: u32,
    access: bool,
}

#[derive(Clone, Copy, Debug)]
enum Opnd {
    Reg(Register),
    Mem(Shape),
    Imm(OpKind, u32),
    /// A near branch to the case's "taken" path.
    Near,
    /// A far branch (ptr16:32) to the taken path with this selector.
    Far(u16),
    /// A string operand (`[esi]`/`es:[edi]`) with an optional segment override.
    Str(OpKind, Register),
    /// XLAT's `[ebx+al]` (`[bx+al]` with 16-bit addressing).
    Xlat(Register, bool),
}

struct Gen<'r> {
    rng: &'r mut Rng,
    /// Address of this case's record.
    rec: u32,
    /// Address of the case's taken-branch path.
    taken: u32,
    regs: [u32; 8],
    /// Registers whose value a constraint fixed (bit per register).
    fixed: u8,
    flags: u32,
    /// Record bytes from SCRATCH to the end.
    scratch: Vec<u8>,
    /// Memory operands use 16-bit addressing (the record lies below 64 KiB).
    a16: bool,
}

impl Gen<'_> {
    fn get(&self, r: Register) -> u32 {
        let n = r.number();
        if r.is_gpr8() {
            if n < 4 { self.regs[n] & 0xFF } else { (self.regs[n - 4] >> 8) & 0xFF }
        } else if r.is_gpr16() {
            self.regs[n] & 0xFFFF
        } else {
            self.regs[n]
        }
    }

    fn set(&mut self, r: Register, v: u32) {
        let n = r.number();
        let (i, mask, shift) = if r.is_gpr8() {
            if n < 4 { (n, 0xFF, 0) } else { (n - 4, 0xFF, 8) }
        } else if r.is_gpr16() {
            (n, 0xFFFF, 0)
        } else {
            (n, u32::MAX, 0)
        };
        self.regs[i] = (self.regs[i] & !(mask << shift)) | ((v & mask) << shift);
        self.fixed |= 1 << i;
    }

    fn is_fixed(&self, r: Register) -> bool {
        let n = if r.is_gpr8() && r.number() >= 4 { r.number() - 4 } else { r.number() };
        self.fixed & (1 << n) != 0
    }

    fn mem_get(&self, addr: u32, n: u32) -> u32 {
        let off = (addr - self.rec - SCRATCH) as usize;
        let mut v = 0;
        for i in 0..n as usize {
            v |= (self.scratch[off + i] as u32) << (8 * i);
        }
        v
    }

    fn mem_set(&mut self, addr: u32, n: u32, v: u32) {
        let off = (addr - self.rec - SCRATCH) as usize;
        for i in 0..n as usize {
            self.scratch[off + i] = (v >> (8 * i)) as u8;
        }
    }

    fn value_of(&self, op: &Opnd, size: u32) -> u32 {
        match *op {
            Opnd::Reg(r) => self.get(r),
            Opnd::Mem(s) => self.mem_get(s.target, size),
            Opnd::Imm(_, v) => v,
            _ => 0,
        }
    }

    fn set_value(&mut self, op: &Opnd, size: u32, v: u32) {
        match *op {
            Opnd::Reg(r) => self.set(r, v),
            Opnd::Mem(s) => self.mem_set(s.target, size, v),
            _ => {}
        }
    }

    fn into_parts(self) -> ([u32; 8], u32, Vec<u8>) {
        (self.regs, self.flags, self.scratch)
    }

    /// A data-segment selector a ring-3 Linux process may load (Linux's user data
    /// segment with any RPL: DPL 3 allows them all).
    fn data_selector(&mut self) -> u16 {
        0x28 | self.rng.below(4) as u16
    }

    /// A "safe" EFLAGS image to pop: random, but without TF, AC, NT, RF or VM, which
    /// would trap, fault or change modes natively.
    fn popped_flags(&mut self) -> u32 {
        self.rng.u32() & !(EFL_TF | EFL_AC | EFL_NT | EFL_RF | EFL_VM)
    }

    /// A memory operand reaching a random address in the case's scratch area. `may_cs`:
    /// the operand is only read, so a CS override is allowed (code is readable but not
    /// writable, on Linux and here alike).
    fn shape(&mut self, access: bool, may_cs: bool) -> Shape {
        let target = self.rec + MEM_LO + self.rng.below(MEM_HI - MEM_LO);
        let seg = if self.rng.chance(25) {
            let mut segs = vec![Register::DS, Register::ES, Register::SS, Register::FS, Register::GS];
            if may_cs {
                segs.push(Register::CS);
            }
            self.rng.pick(&segs)
        } else {
            Register::None
        };
        let lea16 = !access && self.rng.chance(35);
        if lea16 || self.a16 {
            // 16-bit addressing: accesses land in the first 64 KiB, which the low
            // programs map (see `low_memory_available`).
            let forms: [(Register, Register); 9] = [
                (Register::BX, Register::SI),
                (Register::BX, Register::DI),
                (Register::BP, Register::SI),
                (Register::BP, Register::DI),
                (Register::SI, Register::None),
                (Register::DI, Register::None),
                (Register::BP, Register::None),
                (Register::BX, Register::None),
                (Register::None, Register::None),
            ];
            let (base, index) = self.rng.pick(&forms);
            let displ_size = if base == Register::None { 2 } else { self.rng.pick(&[0, 1, 2]) };
            let displ = match displ_size {
                0 => 0,
                1 => self.rng.below(256) as i8 as i16 as u16 as u32,
                _ => self.rng.below(0x10000),
            };
            let displ =
                if displ_size == 0 && base == Register::BP && index == Register::None { 0 } else { displ };
            return Shape { base, index, scale: 1, displ, displ_size, seg, target, access };
        }
        let base = if self.rng.chance(12) { Register::None } else { self.rng.pick(&R32) };
        let index = if self.rng.chance(45) {
            let r = self.rng.pick(&R32);
            if r == Register::ESP { Register::None } else { r }
        } else {
            Register::None
        };
        let scale = if index == Register::None { 1 } else { self.rng.pick(&[1, 2, 4, 8]) };
        let displ_size = if base == Register::None { 4 } else { self.rng.pick(&[0, 1, 1, 4]) };
        Shape { base, index, scale, displ: 0, displ_size, seg, target, access }
    }

    /// Give the registers of a memory operand values (or pick its displacement) so that
    /// it reaches its target. Registers already fixed keep their values.
    fn resolve(&mut self, s: &mut Shape) {
        if !s.access {
            if s.displ_size == 4 || (s.displ_size == 1 && s.base.is_gpr32()) {
                s.displ =
                    if s.displ_size == 1 { self.rng.below(256) as i8 as i32 as u32 } else { self.rng.edgy() };
            }
            return;
        }
        if s.base.is_gpr16() || (s.base == Register::None && s.displ_size == 2) {
            let idx = if s.index == Register::None { 0 } else { self.get(s.index) };
            if s.base != Register::None && !self.is_fixed(s.base) && s.displ_size != 2 {
                if s.base == Register::BP && s.index == Register::None && s.displ_size == 0 {
                    s.displ_size = 1;
                }
                s.displ = if s.displ_size == 1 { self.rng.below(256) as i8 as i16 as u16 as u32 } else { 0 };
                let b = s.target.wrapping_sub(s.displ).wrapping_sub(idx) & 0xFFFF;
                self.set(s.base, b);
            } else {
                let b = if s.base == Register::None { 0 } else { self.get(s.base) };
                s.displ = s.target.wrapping_sub(b).wrapping_sub(idx) & 0xFFFF;
                s.displ_size = 2;
            }
            for r in [s.base, s.index] {
                if r != Register::None {
                    let v = self.get(r);
                    self.set(r, v);
                }
            }
            return;
        }
        let idx = if s.index == Register::None { 0 } else { self.get(s.index).wrapping_mul(s.scale) };
        let base_free = s.base != Register::None
            && s.base != Register::ESP
            && s.base != s.index
            && !self.is_fixed(s.base)
            && s.displ_size != 4;
        if base_free {
            let displ = match s.displ_size {
                0 if s.base == Register::EBP => {
                    s.displ_size = 1;
                    0
                }
                0 => 0,
                _ => self.rng.below(256) as i8 as i32 as u32,
            };
            s.displ = displ;
            let b = s.target.wrapping_sub(displ).wrapping_sub(idx);
            self.set(s.base, b);
        } else {
            let b = if s.base == Register::None { 0 } else { self.get(s.base) };
            s.displ = s.target.wrapping_sub(b).wrapping_sub(idx);
            s.displ_size = 4;
        }
        if s.base != Register::None {
            self.fixed |= 1 << s.base.number();
        }
        if s.index != Register::None {
            self.fixed |= 1 << s.index.number();
        }
    }
}

/// An operand size in bytes for a register operand kind.
fn size_of_kind(k: K) -> u32 {
    match k {
        K::r8_or_mem | K::r8_reg | K::r8_opcode | K::al | K::cl => 1,
        K::r16_or_mem | K::r16_reg | K::r16_rm | K::r16_opcode | K::ax | K::r16_reg_mem => 2,
        _ => 4,
    }
}

fn reg_of_size(size: u32, n: usize) -> Register {
    match size {
        1 => R8[n],
        2 => R16[n],
        _ => R32[n],
    }
}

/// Shift/rotate counts worth trying: around 0, 1, the operand sizes and the 5-bit mask.
const COUNTS: [u32; 16] = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 0xFF, 0x41];

fn is_shift(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(m, M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shl | M::Sal | M::Shr | M::Sar | M::Shld | M::Shrd)
}

/// Options for generating one instruction.
#[derive(Clone, Copy)]
struct Opts {
    /// Registers only (for sequences): no memory, no counts in CL.
    reg_only: bool,
}

/// Choose the operands of `code`, constrain register and memory values so the
/// instruction is valid natively, and build it. `None` if this code cannot be generated
/// with these options.
fn gen_instruction(g: &mut Gen, code: Code, opts: Opts) -> Option<Instruction> {
    let oc = code.op_code();
    let m = oc.mnemonic();
    let kinds = oc.op_kinds().to_vec();
    let accesses = !matches!(m, Mnemonic::Lea | Mnemonic::Nop);
    let string_seg = if g.rng.chance(30) {
        g.rng.pick(&[Register::DS, Register::ES, Register::SS, Register::CS, Register::FS, Register::GS])
    } else {
        Register::None
    };
    // Memory operands other than the first are only read; so is the first of these.
    let reads_only_op0 = matches!(
        m,
        Mnemonic::Cmp
            | Mnemonic::Test
            | Mnemonic::Bt
            | Mnemonic::Mul
            | Mnemonic::Imul
            | Mnemonic::Div
            | Mnemonic::Idiv
            | Mnemonic::Push
            | Mnemonic::Call
            | Mnemonic::Jmp
            | Mnemonic::Nop
    );
    let mut ops = Vec::new();
    let mut imm_count = 0;
    for (i, &k) in kinds.iter().enumerate() {
        let may_cs = i > 0 || reads_only_op0;
        let op = match k {
            K::r8_or_mem | K::r16_or_mem | K::r32_or_mem | K::r16_reg_mem | K::r32_reg_mem => {
                if !opts.reg_only && g.rng.chance(50) {
                    Opnd::Mem(g.shape(accesses, may_cs))
                } else {
                    let n = g.rng.below(8) as usize;
                    Opnd::Reg(reg_of_size(size_of_kind(k), n))
                }
            }
            K::mem | K::mem_offs => {
                if opts.reg_only {
                    return None;
                }
                let mut s = g.shape(accesses, may_cs);
                if k == K::mem_offs {
                    s.base = Register::None;
                    s.index = Register::None;
                    s.scale = 1;
                    s.displ_size = 4;
                }
                Opnd::Mem(s)
            }
            K::r8_reg | K::r8_opcode => Opnd::Reg(R8[g.rng.below(8) as usize]),
            K::r16_reg | K::r16_rm | K::r16_opcode => Opnd::Reg(R16[g.rng.below(8) as usize]),
            K::r32_reg | K::r32_rm | K::r32_opcode => Opnd::Reg(R32[g.rng.below(8) as usize]),
            K::seg_reg => {
                let dest = i == 0;
                let segs: &[Register] = if dest {
                    &[Register::ES, Register::SS, Register::DS, Register::FS, Register::GS]
                } else {
                    &[Register::ES, Register::CS, Register::SS, Register::DS, Register::FS, Register::GS]
                };
                Opnd::Reg(g.rng.pick(segs))
            }
            K::es => Opnd::Reg(Register::ES),
            K::cs => Opnd::Reg(Register::CS),
            K::ss => Opnd::Reg(Register::SS),
            K::ds => Opnd::Reg(Register::DS),
            K::fs => Opnd::Reg(Register::FS),
            K::gs => Opnd::Reg(Register::GS),
            K::al => Opnd::Reg(Register::AL),
            K::ax => Opnd::Reg(Register::AX),
            K::eax => Opnd::Reg(Register::EAX),
            K::cl => {
                if opts.reg_only {
                    return None;
                }
                Opnd::Reg(Register::CL)
            }
            K::imm8 | K::imm8_const_1 | K::imm8sex16 | K::imm8sex32 | K::imm16 | K::imm32 => {
                imm_count += 1;
                let kind = match k {
                    K::imm8 if imm_count == 2 => OpKind::Immediate8_2nd,
                    K::imm8 | K::imm8_const_1 => OpKind::Immediate8,
                    K::imm8sex16 => OpKind::Immediate8to16,
                    K::imm8sex32 => OpKind::Immediate8to32,
                    K::imm16 => OpKind::Immediate16,
                    _ => OpKind::Immediate32,
                };
                let v = match k {
                    K::imm8_const_1 => 1,
                    K::imm8 if is_shift(m) => g.rng.pick(&COUNTS),
                    K::imm8 | K::imm8sex16 | K::imm8sex32 => g.rng.edgy() & 0xFF,
                    K::imm16 => g.rng.edgy() & 0xFFFF,
                    _ => g.rng.edgy(),
                };
                Opnd::Imm(kind, v)
            }
            K::seg_rSI if g.a16 => Opnd::Str(OpKind::MemorySegSI, string_seg),
            K::es_rDI if g.a16 => Opnd::Str(OpKind::MemoryESDI, Register::None),
            K::seg_rSI => Opnd::Str(OpKind::MemorySegESI, string_seg),
            K::es_rDI => Opnd::Str(OpKind::MemoryESEDI, Register::None),
            K::seg_rBX_al => Opnd::Xlat(string_seg, g.a16),
            K::br32_1 | K::br32_4 => Opnd::Near,
            K::farbr4_2 => Opnd::Far(0x20 | g.rng.below(4) as u16),
            _ => return None,
        };
        ops.push(op);
    }

    // The operand size of the instruction's main operand.
    let msize = {
        let ms = oc.memory_size();
        let reg_size = kinds.first().map(|&k| size_of_kind(k)).unwrap_or(4);
        if ms != MemorySize::Unknown && matches!(ops.first(), Some(Opnd::Mem(_))) {
            ms.size() as u32
        } else {
            reg_size
        }
    };

    // The stack: a valid ESP for instructions that use it; a random one otherwise.
    let uses_stack = oc.is_stack_instruction()
        || matches!(m, Mnemonic::Enter | Mnemonic::Leave)
        || ops.iter().any(|o| matches!(o, Opnd::Mem(s) if s.access && s.base == Register::ESP));
    if uses_stack || g.rng.chance(50) {
        let esp = g.rec + STACK - 4 * g.rng.below(4);
        g.set(Register::ESP, esp);
    }

    if !constrain(g, code, &mut ops, msize) {
        return None;
    }

    for op in ops.iter_mut() {
        if let Opnd::Mem(s) = op {
            g.resolve(s);
        }
    }
    // Everything a constraint did not fix is random.
    Some(build(code, &ops, g.taken))
}

/// The per-instruction constraints that keep a case valid (no #DE, no #GP natively) and
/// make it interesting (equal compares, zero sources...).
fn constrain(g: &mut Gen, code: Code, ops: &mut [Opnd], size: u32) -> bool {
    use Mnemonic as M;
    let m = code.op_code().mnemonic();
    let rec = g.rec;
    match m {
        M::Div | M::Idiv if !constrain_divide(g, m == M::Idiv, &ops[0], size) => return false,
        M::Aam => {
            if let Some(Opnd::Imm(_, v)) = ops.first_mut()
                && *v == 0
            {
                *v = 10;
            }
        }
        M::Bt | M::Bts | M::Btr | M::Btc => {
            if let (Opnd::Mem(_), Opnd::Reg(r)) = (ops[0], ops[1]) {
                // A register bit offset reaches beyond the operand: keep it in the scratch.
                let off = g.rng.below(3000) as i32 - 1500;
                g.set(r, off as u32);
            }
        }
        M::Bsf | M::Bsr if g.rng.chance(20) => g.set_value(&ops[1], size, 0),
        M::Cmpxchg if g.rng.chance(50) => {
            let v = g.value_of(&ops[0], size);
            g.set(reg_of_size(size, 0), v);
        }
        M::Cmpxchg8b => {
            if let Opnd::Mem(s) = ops[0]
                && g.rng.chance(50)
            {
                let (lo, hi) = (g.mem_get(s.target, 4), g.mem_get(s.target + 4, 4));
                g.set(Register::EAX, lo);
                g.set(Register::EDX, hi);
            }
        }
        M::Xlatb => {
            let ebx = rec + SCRATCH + g.rng.below(0x100);
            g.set(if g.a16 { Register::BX } else { Register::EBX }, ebx);
        }
        M::Loop | M::Loope | M::Loopne | M::Jcxz | M::Jecxz => {
            let v = g.rng.pick(&[0, 1, 2, 0x1_0000, 0x1_0001, 0xFFFF, 0xFFFF_FFFF]);
            let v = if g.rng.chance(30) { g.rng.u32() } else { v };
            g.set(Register::ECX, v);
        }
        M::Enter => {
            let ebp = rec + 0x300 + 4 * g.rng.below(8);
            g.set(Register::EBP, ebp);
            if let Opnd::Imm(_, level) = &mut ops[1] {
                *level = if g.rng.chance(80) { g.rng.below(8) } else { g.rng.below(256) };
            }
        }
        M::Leave => {
            let ebp = rec + 0x380 + g.rng.below(0x40);
            g.set(Register::EBP, ebp);
        }
        M::Pop if matches!(ops[0], Opnd::Reg(r) if r.is_segment_register()) => {
            let Opnd::Reg(sreg) = ops[0] else { return true };
            let sel = if sreg == Register::SS { USER_DS as u32 } else { g.data_selector() as u32 };
            let esp = g.regs[4];
            let v = sel | (g.rng.u32() & 0xFFFF_0000);
            g.mem_set(esp, 4, v);
        }
        M::Popf | M::Popfd => {
            let esp = g.regs[4];
            let v = g.popped_flags();
            g.mem_set(esp, 4, v);
        }
        M::Ret => {
            let esp = g.regs[4];
            g.mem_set(esp, 4, g.taken);
        }
        M::Retf => {
            let esp = g.regs[4];
            g.mem_set(esp, 4, g.taken);
            let cs = USER_CS as u32 | (g.rng.u32() & 0xFFFF_0000);
            g.mem_set(esp + 4, 4, cs);
        }
        M::Iretd => {
            let esp = g.regs[4];
            g.mem_set(esp, 4, g.taken);
            let cs = USER_CS as u32 | (g.rng.u32() & 0xFFFF_0000);
            g.mem_set(esp + 4, 4, cs);
            let fl = g.popped_flags();
            g.mem_set(esp + 8, 4, fl);
        }
        M::Mov if matches!(ops[0], Opnd::Reg(r) if r.is_segment_register()) => {
            let Opnd::Reg(sreg) = ops[0] else { return true };
            let sel = if sreg == Register::SS { USER_DS as u32 } else { g.data_selector() as u32 };
            g.set_value(&ops[1], 2, sel);
        }
        M::Lds | M::Les | M::Lfs | M::Lgs | M::Lss => {
            if let Opnd::Mem(s) = ops[1] {
                let off = g.rng.edgy();
                g.mem_set(s.target, size, off);
                let sel = if m == M::Lss { USER_DS } else { g.data_selector() };
                g.mem_set(s.target + size, 2, sel as u32);
            }
        }
        M::Call | M::Jmp => match ops[0] {
            Opnd::Reg(r) if r.is_gpr32() => {
                let r = if r == Register::ESP { Register::EAX } else { r };
                ops[0] = Opnd::Reg(r);
                g.set(r, g.taken);
            }
            Opnd::Mem(s) => {
                g.mem_set(s.target, 4, g.taken);
                if matches!(code, Code::Call_m1632 | Code::Jmp_m1632) {
                    let sel = 0x20 | g.rng.below(4);
                    g.mem_set(s.target + 4, 2, sel);
                }
            }
            _ => {}
        },
        M::Bound => {
            if let (Opnd::Reg(r), Opnd::Mem(s)) = (ops[0], ops[1]) {
                let half = size;
                // The register may also address the bounds: fix its value first.
                let rv = g.get(r);
                g.set(r, rv);
                let v = if half == 2 { g.get(r) as u16 as i16 as i64 } else { g.get(r) as i32 as i64 };
                let (min, max) = if half == 2 {
                    (i16::MIN as i64, i16::MAX as i64)
                } else {
                    (i32::MIN as i64, i32::MAX as i64)
                };
                let lo = (v - g.rng.below(100) as i64).max(min);
                let hi = (v + g.rng.below(100) as i64).min(max);
                g.mem_set(s.target, half, lo as u32);
                g.mem_set(s.target + half, half, hi as u32);
            }
        }
        M::Shld | M::Shrd if size == 2 => {
            // A count above 16 leaves a 16-bit result undefined: keep to defined ones.
            match &mut ops[2] {
                Opnd::Imm(_, v) => *v = g.rng.below(17),
                _ => {
                    let c = g.rng.below(17) | (g.rng.below(8) << 5);
                    g.set(Register::CL, c);
                }
            }
        }
        _ if is_shift(m) => {
            if matches!(ops.last(), Some(Opnd::Reg(Register::CL))) {
                let c = g.rng.pick(&COUNTS);
                g.set(Register::CL, c);
            }
        }
        _ if is_string(m) => {
            let esi = rec + STR_SRC + g.rng.below(16);
            let edi = rec + STR_DST + g.rng.below(16);
            // With 16-bit addressing only SI and DI count: the upper halves stay random.
            let (si, di) = if g.a16 { (Register::SI, Register::DI) } else { (Register::ESI, Register::EDI) };
            g.set(si, esi);
            g.set(di, edi);
            if matches!(m, M::Cmpsb | M::Cmpsw | M::Cmpsd) {
                // Equal runs, so REPE has something to repeat over.
                for i in 0..72 {
                    let (s, d) = if g.flags & EFL_DF != 0 { (esi - i, edi - i) } else { (esi + i, edi + i) };
                    let b = g.mem_get(s, 1);
                    g.mem_set(d, 1, b);
                }
                let at = g.rng.below(72);
                let d = if g.flags & EFL_DF != 0 { edi - at } else { edi + at };
                let b = g.rng.u32();
                g.mem_set(d, 1, b);
            }
            if matches!(m, M::Scasb | M::Scasw | M::Scasd) && g.rng.chance(70) {
                // Fill with one value, so REPE runs long and REPNE finds it (or not).
                let fill = g.rng.u32() & 0xFF;
                for i in 0..72 {
                    let d = if g.flags & EFL_DF != 0 { edi - i } else { edi + i };
                    g.mem_set(d, 1, fill);
                }
                let at = g.rng.below(72);
                let d = if g.flags & EFL_DF != 0 { edi - at } else { edi + at };
                let b = g.rng.u32() & 0xFF;
                g.mem_set(d, 1, b);
                let acc = fill * 0x0101_0101;
                let acc = if g.rng.chance(50) { acc } else { b * 0x0101_0101 };
                g.set(Register::EAX, acc);
            }
        }
        _ => {}
    }
    true
}

/// Make a DIV/IDIV valid: a non-zero divisor and a dividend whose quotient fits.
fn constrain_divide(g: &mut Gen, signed: bool, divisor: &Opnd, size: u32) -> bool {
    let bits = size * 8;
    let mask = if size == 4 { u32::MAX } else { (1 << bits) - 1 };
    for _ in 0..50 {
        if g.value_of(divisor, size) & mask == 0 {
            let v = g.rng.edgy() | 1;
            g.set_value(divisor, size, v);
        }
        let d = g.value_of(divisor, size) & mask;
        // Choose the quotient and remainder, then the dividend from them. Where the
        // divisor is itself part of the dividend, just try random dividends instead.
        let (lo_reg, hi_reg) = match size {
            1 => (Register::AL, Register::AH),
            2 => (Register::AX, Register::DX),
            _ => (Register::EAX, Register::EDX),
        };
        let overlaps = matches!(divisor, Opnd::Reg(r) if {
            let n = |x: Register| if x.is_gpr8() && x.number() >= 4 { x.number() - 4 } else { x.number() };
            n(*r) == n(lo_reg) || n(*r) == n(hi_reg)
        });
        let (lo, hi) = if overlaps {
            let lo = if g.rng.chance(50) { g.get(lo_reg) } else { g.rng.edgy() };
            let hi = if signed { if lo & (1 << (bits - 1)) != 0 { mask } else { 0 } } else { 0 };
            (lo & mask, hi)
        } else if signed {
            let sd = sext(d, bits);
            let half = 1i64 << (bits - 1);
            let q = match g.rng.below(4) {
                0 => half - 1,
                1 => -half,
                _ => sext(g.rng.edgy() & mask, bits),
            };
            let r_mag = (g.rng.u64() % sd.unsigned_abs()) as i64;
            let prod = q * sd;
            let r = if prod < 0 || (prod == 0 && g.rng.chance(50)) { -r_mag } else { r_mag };
            let n = prod + r;
            ((n as u64 as u32) & mask, ((n >> bits) as u64 as u32) & mask)
        } else {
            let q = if g.rng.chance(30) { mask } else { g.rng.edgy() & mask } as u64;
            let r = g.rng.u64() % d as u64;
            let n = q * d as u64 + r;
            (n as u32 & mask, (n >> bits) as u32 & mask)
        };
        g.set(lo_reg, lo);
        g.set(hi_reg, hi);
        let d = g.value_of(divisor, size) & mask;
        let (lo, hi) = (g.get(lo_reg), g.get(hi_reg));
        if d != 0 && !divide_faults(signed, bits, (hi as u64) << bits | lo as u64, d) {
            return true;
        }
    }
    false
}

fn sext(v: u32, bits: u32) -> i64 {
    ((v as u64) << (64 - bits)) as i64 >> (64 - bits)
}

/// Would DIV/IDIV of `n` (2*bits wide) by `d` raise #DE?
fn divide_faults(signed: bool, bits: u32, n: u64, d: u32) -> bool {
    if d == 0 {
        return true;
    }
    if signed {
        let n = ((n as u128) << (128 - 2 * bits)) as i128 >> (128 - 2 * bits);
        let d = sext(d, bits) as i128;
        let q = n / d;
        q < -(1i128 << (bits - 1)) || q >= 1i128 << (bits - 1)
    } else {
        n / d as u64 >= 1u64 << bits
    }
}

/// Build the iced instruction from resolved operands.
fn build(code: Code, ops: &[Opnd], taken: u32) -> Instruction {
    let mut ins = Instruction::default();
    ins.set_code(code);
    for (i, op) in ops.iter().enumerate() {
        let i = i as u32;
        match *op {
            Opnd::Reg(r) => {
                ins.set_op_kind(i, OpKind::Register);
                ins.set_op_register(i, r);
            }
            Opnd::Mem(s) => {
                ins.set_op_kind(i, OpKind::Memory);
                ins.set_memory_base(s.base);
                ins.set_memory_index(s.index);
                ins.set_memory_index_scale(s.scale);
                ins.set_memory_displacement32(s.displ);
                ins.set_memory_displ_size(s.displ_size);
                ins.set_segment_prefix(s.seg);
            }
            Opnd::Imm(kind, v) => {
                ins.set_op_kind(i, kind);
                match kind {
                    OpKind::Immediate8 => ins.set_immediate8(v as u8),
                    OpKind::Immediate8_2nd => ins.set_immediate8_2nd(v as u8),
                    OpKind::Immediate8to16 => ins.set_immediate8to16(v as u8 as i8 as i16),
                    OpKind::Immediate8to32 => ins.set_immediate8to32(v as u8 as i8 as i32),
                    OpKind::Immediate16 => ins.set_immediate16(v as u16),
                    _ => ins.set_immediate32(v),
                }
            }
            Opnd::Near => {
                ins.set_op_kind(i, OpKind::NearBranch32);
                ins.set_near_branch32(taken);
            }
            Opnd::Far(sel) => {
                ins.set_op_kind(i, OpKind::FarBranch32);
                ins.set_far_branch32(taken);
                ins.set_far_branch_selector(sel);
            }
            Opnd::Str(kind, seg) => {
                ins.set_op_kind(i, kind);
                if matches!(kind, OpKind::MemorySegESI | OpKind::MemorySegSI) {
                    ins.set_segment_prefix(seg);
                }
            }
            Opnd::Xlat(seg, a16) => {
                ins.set_op_kind(i, OpKind::Memory);
                ins.set_memory_base(if a16 { Register::BX } else { Register::EBX });
                ins.set_memory_index(Register::AL);
                ins.set_segment_prefix(seg);
            }
        }
    }
    ins
}

/// Flags (as EFLAGS bits) from iced's RflagsBits.
fn eflags_of(iced: u32) -> u32 {
    use iced_x86::RflagsBits as F;
    let map = [
        (F::OF, EFL_OF),
        (F::SF, EFL_SF),
        (F::ZF, EFL_ZF),
        (F::AF, EFL_AF),
        (F::CF, EFL_CF),
        (F::PF, EFL_PF),
        (F::DF, EFL_DF),
        (F::IF, EFL_IF),
        (F::AC, EFL_AC),
    ];
    map.iter().filter(|(i, _)| iced & i != 0).map(|(_, e)| e).fold(0, |a, b| a | b)
}

/// The count a shift or rotate uses, from its last operand.
fn shift_count(ins: &Instruction, regs: &[u32; 8]) -> u32 {
    let last = ins.op_count() - 1;
    match ins.op_kind(last) {
        OpKind::Register => regs[1] & 0xFF,
        _ => ins.immediate(last) as u32,
    }
}

fn main_operand_size(ins: &Instruction) -> u32 {
    match ins.op_kind(0) {
        OpKind::Register => ins.op_register(0).size() as u32,
        _ => ins.memory_size().size() as u32,
    }
}

/// Flags the architecture leaves undefined after `ins` with these input registers, as
/// EFLAGS bits; and whether its destination is undefined. iced-x86 knows the table; the
/// count-dependent rules for shifts are spelled out here because with a count in CL they
/// depend on a register value.
fn undefined_after(ins: &Instruction, regs: &[u32; 8]) -> u32 {
    use Mnemonic as M;
    let m = ins.mnemonic();
    if !is_shift(m) {
        return eflags_of(ins.rflags_undefined());
    }
    let bits = main_operand_size(ins) * 8;
    let c = shift_count(ins, regs) & 0x1F;
    if c == 0 {
        return 0; // nothing changes, not even flags
    }
    match m {
        M::Rol | M::Ror | M::Rcl | M::Rcr => {
            if c == 1 {
                0
            } else {
                EFL_OF
            }
        }
        M::Shl | M::Sal | M::Shr | M::Sar => {
            // CF is the last bit shifted out, undefined for SHL/SHR when the count
            // reaches the operand size.
            let cf = if m != M::Sar && c >= bits { EFL_CF } else { 0 };
            let of = if c == 1 { 0 } else { EFL_OF };
            EFL_AF | cf | of
        }
        _ => {
            if c > bits {
                ARITH
            } else if c == 1 {
                EFL_AF
            } else {
                EFL_AF | EFL_OF
            }
        }
    }
}

/// Flags that, modified by `ins`, no longer carry an earlier undefined value.
fn modified_by(ins: &Instruction) -> u32 {
    eflags_of(ins.rflags_modified())
}

// ---------------------------------------------------------------------------------------
// Laying out the program.

struct Case {
    class: String,
    /// The instructions under test, as encoded (for messages).
    body: Vec<Instruction>,
    body_bytes: Vec<u8>,
    regs: [u32; 8],
    flags: u32,
    undef_flags: u32,
    /// Address of the case's first instruction.
    ip: u32,
}

struct Program {
    code: Vec<u8>,
    data: Vec<u8>,
    data_base: u32,
    cases: Vec<Case>,
}

fn put32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

/// `mov esp, imm32`.
fn mov_esp(buf: &mut Vec<u8>, v: u32) {
    buf.push(0xBC);
    put32(buf, v);
}

/// `mov byte [abs], v`.
fn mov_byte_abs(buf: &mut Vec<u8>, addr: u32, v: u8) {
    buf.extend_from_slice(&[0xC6, 0x05]);
    put32(buf, addr);
    buf.push(v);
}

/// Bytes of a case's prologue before the body (and before the taken path for branches).
const PROLOGUE: u32 = 12;

fn encode(ins: &Instruction, ip: u32) -> Vec<u8> {
    let mut enc = Encoder::new(32);
    match enc.encode(ins, ip as u64) {
        Ok(_) => enc.take_buffer(),
        Err(e) => panic!("cannot encode {ins:?} ({:?}): {e}", ins.code()),
    }
}

/// Generate one case for `code` (or a sequence when `code` is None) at `ip`, record `rec`.
fn make_case(
    rng: &mut Rng,
    code: Option<Code>,
    seq_pool: &[Code],
    ip: u32,
    rec: u32,
    a16: bool,
) -> (Case, Vec<u8>) {
    let branch = code.is_some_and(|c| {
        let oc = c.op_code();
        matches!(
            oc.mnemonic(),
            Mnemonic::Call | Mnemonic::Jmp | Mnemonic::Ret | Mnemonic::Retf | Mnemonic::Iretd
        ) || matches!(
            oc.mnemonic(),
            Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne | Mnemonic::Jcxz | Mnemonic::Jecxz
        ) || is_jcc(oc.mnemonic())
    });
    let taken = ip + PROLOGUE + 5;
    // Some random choices cannot be made valid (`div edx` always overflows, say): those
    // are drawn again.
    let mut attempt = 0;
    let (g, body, class, undef) = loop {
        attempt += 1;
        assert!(attempt < 1000, "cannot generate a case for {code:?}");
        let mut scratch = vec![0u8; (REC - SCRATCH) as usize];
        for b in scratch.iter_mut() {
            *b = if rng.chance(20) { rng.pick(&support::BYTE_EDGES) } else { rng.u32() as u8 };
        }
        let mut regs = [0u32; 8];
        for r in regs.iter_mut() {
            *r = rng.edgy();
        }
        let flags = (rng.u32() & (ARITH | EFL_DF)) | EFL_IF | 2;
        let mut g = Gen { rng: &mut *rng, rec, taken, regs, fixed: 0, flags, scratch, a16 };
        match code {
            Some(c) => {
                let Some(mut ins) = gen_instruction(&mut g, c, Opts { reg_only: false }) else { continue };
                let oc = c.op_code();
                if matches!(ins.op_kind(0), OpKind::Memory) && oc.can_use_lock_prefix() && g.rng.chance(30) {
                    ins.set_has_lock_prefix(true);
                }
                if is_string(oc.mnemonic()) {
                    match g.rng.below(3) {
                        0 => {}
                        1 => ins.set_has_repe_prefix(true),
                        _ => ins.set_has_repne_prefix(true),
                    }
                    if ins.has_repe_prefix() || ins.has_repne_prefix() {
                        let n = g.rng.below(18);
                        g.set(if g.a16 { Register::CX } else { Register::ECX }, n);
                    }
                }
                let undef = undefined_after(&ins, &g.regs);
                let class = format!("{:?}", oc.mnemonic()).to_lowercase();
                break (g.into_parts(), vec![ins], class, undef);
            }
            None => {
                let n = 2 + g.rng.below(3);
                let mut body = Vec::new();
                let mut undef = 0;
                while body.len() < n as usize {
                    let c = g.rng.pick(seq_pool);
                    let Some(ins) = gen_instruction(&mut g, c, Opts { reg_only: true }) else { continue };
                    // An instruction that reads a flag the previous ones left undefined
                    // would compare noise.
                    if eflags_of(ins.rflags_read()) & undef != 0 {
                        continue;
                    }
                    // Register operands and immediate counts only: the undefined rules
                    // depend on no register value.
                    undef = (undef & !modified_by(&ins)) | undefined_after(&ins, &[0; 8]);
                    body.push(ins);
                }
                break (g.into_parts(), body, "sequence".to_string(), undef);
            }
        }
    };
    let (regs, flags, scratch) = g;

    // Code.
    let mut buf = Vec::new();
    mov_esp(&mut buf, rec + IN);
    buf.push(0x61); // popad
    buf.push(0x9D); // popfd
    mov_esp(&mut buf, regs[4]);
    let mut patch_end = None;
    if branch {
        buf.push(0xE9);
        put32(&mut buf, 12); // over the taken path
        mov_byte_abs(&mut buf, rec + MARK, 2);
        buf.push(0xE9);
        patch_end = Some(buf.len());
        put32(&mut buf, 0);
    }
    let mut body_bytes = Vec::new();
    let mut encoded = Vec::new();
    for ins in &body {
        let at = ip + buf.len() as u32;
        let bytes = encode(ins, at);
        // Decode back so messages show exactly what ran.
        let mut dec = iced_x86::Decoder::with_ip(32, &bytes, at as u64, iced_x86::DecoderOptions::NONE);
        encoded.push(dec.decode());
        body_bytes.extend_from_slice(&bytes);
        buf.extend_from_slice(&bytes);
    }
    if branch {
        mov_byte_abs(&mut buf, rec + MARK, 1);
        let end = buf.len() as u32;
        if let Some(p) = patch_end {
            let rel = end - (p as u32 + 4);
            buf[p..p + 4].copy_from_slice(&rel.to_le_bytes());
        }
    }
    buf.extend_from_slice(&[0x89, 0x25]); // mov [abs], esp
    put32(&mut buf, rec + OUT_ESP);
    mov_esp(&mut buf, rec + OUT + 36);
    buf.push(0x9C); // pushfd
    buf.push(0x60); // pushad
    // write(1, rec, REC)
    buf.push(0xB8);
    put32(&mut buf, 4);
    buf.push(0xBB);
    put32(&mut buf, 1);
    buf.push(0xB9);
    put32(&mut buf, rec);
    buf.push(0xBA);
    put32(&mut buf, REC);
    buf.extend_from_slice(&[0xCD, 0x80]);

    // Data: the record.
    let mut data = vec![0u8; REC as usize];
    let popad_order = [7usize, 6, 5, 4, 3, 2, 1, 0];
    for (p, &r) in popad_order.iter().enumerate() {
        let v = if r == 4 { 0 } else { regs[r] };
        data[IN as usize + 4 * p..IN as usize + 4 * p + 4].copy_from_slice(&v.to_le_bytes());
    }
    data[IN as usize + 32..IN as usize + 36].copy_from_slice(&flags.to_le_bytes());
    data[SCRATCH as usize..].copy_from_slice(&scratch);
    let _ = buf.len();

    let case = Case { class, body: encoded, body_bytes, regs, flags, undef_flags: undef, ip };
    (case, [buf, data].concat())
}

/// The pool random sequences draw from: register forms of flag producers and consumers.
fn sequence_pool(codes: &[Code]) -> Vec<Code> {
    codes
        .iter()
        .copied()
        .filter(|c| {
            let oc = c.op_code();
            let m = oc.mnemonic();
            let size16_shld =
                matches!(m, Mnemonic::Shld | Mnemonic::Shrd) && oc.op_kinds()[0] == K::r16_or_mem;
            !oc.is_stack_instruction()
                && !size16_shld
                && !matches!(
                    m,
                    Mnemonic::Div
                        | Mnemonic::Idiv
                        | Mnemonic::Bound
                        | Mnemonic::Xlatb
                        | Mnemonic::Lea
                        | Mnemonic::Nop
                )
                && !is_string(m)
                && !is_jcc(m)
                && !matches!(
                    m,
                    Mnemonic::Call | Mnemonic::Jmp | Mnemonic::Ret | Mnemonic::Retf | Mnemonic::Iretd
                )
                && !matches!(
                    m,
                    Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne | Mnemonic::Jcxz | Mnemonic::Jecxz
                )
                && !oc.op_kinds().iter().any(|&k| {
                    matches!(
                        k,
                        K::mem
                            | K::mem_offs
                            | K::cl
                            | K::seg_reg
                            | K::es
                            | K::cs
                            | K::ss
                            | K::ds
                            | K::fs
                            | K::gs
                    )
                })
        })
        .collect()
}

/// Whether an encoding accesses memory through an address it computes (so it can be
/// tried with 16-bit addressing).
fn accesses_memory(code: Code) -> bool {
    let oc = code.op_code();
    !matches!(oc.mnemonic(), Mnemonic::Lea | Mnemonic::Nop)
        && oc.op_kinds().iter().any(|&k| {
            matches!(
                k,
                K::r8_or_mem
                    | K::r16_or_mem
                    | K::r32_or_mem
                    | K::r16_reg_mem
                    | K::r32_reg_mem
                    | K::mem
                    | K::mem_offs
            ) || matches!(k, K::seg_rSI | K::es_rDI | K::seg_rBX_al)
        })
}

/// Lay out `plan` as one program whose records start at `data`.
fn build_program(
    rng: &mut Rng,
    plan: &[Option<Code>],
    seq_pool: &[Code],
    data_base: u32,
    a16: bool,
) -> Program {
    // Start: load FS and GS with the user data selector so FS:/GS: overrides work.
    let mut code = vec![0x66, 0xB8, USER_DS as u8, 0, 0x8E, 0xE0, 0x8E, 0xE8];
    let mut data = Vec::with_capacity(plan.len() * REC as usize);
    let mut cases = Vec::new();
    for (i, c) in plan.iter().enumerate() {
        let ip = CODE + code.len() as u32;
        let rec = data_base + i as u32 * REC;
        let (case, bytes) = make_case(rng, *c, seq_pool, ip, rec, a16);
        let (cb, db) = bytes.split_at(bytes.len() - REC as usize);
        code.extend_from_slice(cb);
        data.extend_from_slice(db);
        cases.push(case);
    }
    // exit(0)
    code.extend_from_slice(&[0xB8, 1, 0, 0, 0, 0x31, 0xDB, 0xCD, 0x80]);
    Program { code, data, data_base, cases }
}

/// Where the low programs put their records: the 16-bit-addressable first 64 KiB.
const LOW_DATA: u32 = 0x1000;
const LOW_RECORDS: usize = ((0x1_0000 - LOW_DATA) / REC) as usize;

/// Can a process map the low pages 16-bit addressing reaches? Linux refuses below
/// `vm.mmap_min_addr` (often 64 KiB; 4 KiB on the machines this project uses).
fn low_memory_available() -> bool {
    std::fs::read_to_string("/proc/sys/vm/mmap_min_addr")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .is_some_and(|min| min <= LOW_DATA)
}

/// All the programs: one with every encoding `PER_CODE` times and the sequences, then
/// (if the host allows it) a few low ones with the memory forms under 16-bit addressing.
fn build_programs() -> Vec<Program> {
    let mut rng = Rng::new(SEED);
    let codes = codes_in_scope();
    let seq_pool = sequence_pool(&codes);
    let mut plan: Vec<Option<Code>> = Vec::new();
    for &c in &codes {
        plan.extend(std::iter::repeat_n(Some(c), PER_CODE));
    }
    plan.extend(std::iter::repeat_n(None, SEQUENCES));
    let mut programs = vec![build_program(&mut rng, &plan, &seq_pool, DATA, false)];
    if low_memory_available() {
        let low: Vec<Option<Code>> = codes
            .iter()
            .copied()
            .filter(|&c| accesses_memory(c))
            .flat_map(|c| [Some(c); A16_PER_CODE])
            .collect();
        for chunk in low.chunks(LOW_RECORDS) {
            programs.push(build_program(&mut rng, chunk, &seq_pool, LOW_DATA, true));
        }
    }
    programs
}

// ---------------------------------------------------------------------------------------
// Running.

/// How the interpreter runs the program: paging off, or identity-mapped by 4 KiB pages.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Flat,
    Paged,
    /// Paging off, one instruction per `run` call: every instruction starts a block
    /// and every budget runs out mid-block, so the exits must leave exact state.
    Stepping,
}

/// Run the program in the interpreter, playing Linux for `write` and `exit`. Returns each
/// case's record (or why it has none).
fn run_ours(p: &Program, mode: Mode) -> Vec<Result<Vec<u8>, String>> {
    let data_end = (p.data_base + p.data.len() as u32).max(CODE + p.code.len() as u32);
    let tables = data_end.next_multiple_of(4096);
    let mem_size = tables + 4096 * (2 + data_end.div_ceil(4 << 20));
    let mut cpu = support::linux_user_cpu(PhysMem::new(mem_size));
    support::load_segments(
        &mut cpu,
        &[
            Segment { vaddr: CODE, bytes: p.code.clone(), memsz: 0 },
            Segment { vaddr: p.data_base, bytes: p.data.clone(), memsz: 0 },
        ],
    );
    if let Mode::Paged = mode {
        support::identity_paging(&mut cpu, tables, data_end);
    }
    cpu.set_eip(CODE);
    let mut out: Vec<Result<Vec<u8>, String>> = vec![Err("never written".into()); p.cases.len()];
    let case_of = |eip: u32| p.cases.partition_point(|c| c.ip <= eip).saturating_sub(1);
    let mut budget_left: u64 = 200_000_000;
    loop {
        let exit = cpu.run(if let Mode::Stepping = mode { 1 } else { 1 << 20 });
        match exit {
            Exit::SoftInt { vector: 0x80, .. } => match cpu.reg(Reg::Eax) {
                4 => {
                    let (addr, len) = (cpu.reg(Reg::Ecx), cpu.reg(Reg::Edx));
                    let i = ((addr - p.data_base) / REC) as usize;
                    let bytes = cpu.mem().slice(addr, len).expect("record in RAM").to_vec();
                    out[i] = Ok(bytes);
                    cpu.set_reg(Reg::Eax, len);
                }
                1 => break,
                n => panic!("unexpected syscall {n}"),
            },
            Exit::BudgetExhausted => {
                budget_left = budget_left.saturating_sub(if let Mode::Stepping = mode { 1 } else { 1 << 20 });
                assert!(budget_left > 0, "the program never finished (eip {:#x})", cpu.eip());
            }
            other => {
                // A case went wrong: note it and carry on with the next one, which loads
                // all its state afresh.
                let i = case_of(cpu.eip());
                out[i] = Err(format!("{other} at eip {:#x}; {}", cpu.eip(), support::regs_string(&cpu)));
                match p.cases.get(i + 1) {
                    Some(next) => cpu.set_eip(next.ip),
                    None => break,
                }
            }
        }
    }
    out
}

fn reg_names() -> [&'static str; 8] {
    ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"]
}

fn flag_names(bits: u32) -> String {
    let names = [
        (EFL_CF, "CF"),
        (EFL_PF, "PF"),
        (EFL_AF, "AF"),
        (EFL_ZF, "ZF"),
        (EFL_SF, "SF"),
        (EFL_DF, "DF"),
        (EFL_OF, "OF"),
        (EFL_IF, "IF"),
        (1 << 21, "ID"),
    ];
    let v: Vec<&str> = names.iter().filter(|(b, _)| bits & b != 0).map(|(_, n)| *n).collect();
    if bits & !names.iter().fold(0, |a, (b, _)| a | b) != 0 {
        format!("{} +{:#x}", v.join(" "), bits)
    } else {
        v.join(" ")
    }
}

/// Describe how `ours` differs from `native` for case `c`, or None if they agree.
fn compare(c: &Case, native: &[u8], ours: &[u8]) -> Option<String> {
    let word = |b: &[u8], off: u32| {
        u32::from_le_bytes(b[off as usize..off as usize + 4].try_into().expect("4 bytes"))
    };
    let mut diffs = Vec::new();
    let popad_order = [7usize, 6, 5, 4, 3, 2, 1, 0];
    for (p, &r) in popad_order.iter().enumerate() {
        if r == 4 {
            continue; // pushad's ESP is the harness's; the case's ESP is at OUT_ESP
        }
        let (n, o) = (word(native, OUT + 4 * p as u32), word(ours, OUT + 4 * p as u32));
        if n != o {
            diffs.push(format!("{}: native {n:08x} ours {o:08x}", reg_names()[r]));
        }
    }
    let (n, o) = (word(native, OUT_ESP), word(ours, OUT_ESP));
    if n != o {
        diffs.push(format!("esp: native {n:08x} ours {o:08x}"));
    }
    let (nf, of) = (word(native, OUT + 32), word(ours, OUT + 32));
    let fd = (nf ^ of) & !c.undef_flags;
    if fd != 0 {
        diffs.push(format!(
            "eflags: native {nf:08x} ours {of:08x} (differ: {}; undefined here: {})",
            flag_names(fd),
            flag_names(c.undef_flags)
        ));
    }
    let mut mem = Vec::new();
    for off in (0..REC).filter(|&o| !(OUT..OUT + 36).contains(&o) && !(OUT_ESP..OUT_ESP + 4).contains(&o)) {
        let (a, b) = (native[off as usize], ours[off as usize]);
        if a != b {
            mem.push(format!("+{off:#x}: {a:02x}/{b:02x}"));
        }
    }
    if !mem.is_empty() {
        let more = if mem.len() > 12 { format!(" (+{} more)", mem.len() - 12) } else { String::new() };
        mem.truncate(12);
        diffs.push(format!("memory (native/ours): {}{more}", mem.join(" ")));
    }
    if diffs.is_empty() { None } else { Some(diffs.join("\n    ")) }
}

fn describe(c: &Case, rec: u32) -> String {
    let body: Vec<String> = c.body.iter().map(|i| format!("{i}")).collect();
    let bytes: Vec<String> = c.body_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let regs: Vec<String> = (0..8).map(|i| format!("{}={:08x}", reg_names()[i], c.regs[i])).collect();
    format!(
        "[{}] {}  ({})\n    in: {} eflags={:08x} ({}) record={rec:#x}",
        c.class,
        body.join("; "),
        bytes.join(" "),
        regs.join(" "),
        c.flags,
        flag_names(c.flags)
    )
}

/// Run a program natively: its records, in case order.
fn run_native(p: &Program, name: &str) -> Vec<u8> {
    let elf = support::elf32(
        &[
            Segment { vaddr: CODE, bytes: p.code.clone(), memsz: 0 },
            Segment { vaddr: p.data_base, bytes: p.data.clone(), memsz: 0 },
        ],
        CODE,
    );
    let path = support::tmp_path(name);
    support::write_executable(&path, &elf);
    let native = support::run_native(&path);
    let _ = std::fs::remove_file(&path);
    let nrec = native.stdout.len() / REC as usize;
    if nrec < p.cases.len() || !native.status.success() {
        let c = &p.cases[nrec.min(p.cases.len() - 1)];
        panic!(
            "the native run of {name} stopped after {nrec} of {} cases ({}); the next case is a generator bug:\n  {}",
            p.cases.len(),
            native.status,
            describe(c, p.data_base + nrec as u32 * REC)
        );
    }
    native.stdout
}

#[test]
fn generated_cases_match_the_host_processor() {
    let programs = build_programs();
    let cases = programs.iter().flat_map(|p| p.cases.iter());
    let classes: BTreeSet<&str> = cases.clone().map(|c| c.class.as_str()).collect();
    let encodings =
        cases.clone().filter(|c| c.class != "sequence").map(|c| c.body[0].code()).collect::<BTreeSet<_>>();
    let total = cases.count();
    let a16 = programs.iter().skip(1).map(|p| p.cases.len()).sum::<usize>();

    let mut failures = Vec::new();
    let mut per_class: BTreeMap<&str, usize> = BTreeMap::new();
    for (pi, p) in programs.iter().enumerate() {
        let native = run_native(p, &format!("differential-{pi}.elf"));
        for mode in [Mode::Flat, Mode::Paged, Mode::Stepping] {
            let ours = run_ours(p, mode);
            for (i, c) in p.cases.iter().enumerate() {
                let rec = p.data_base + i as u32 * REC;
                let n = &native[i * REC as usize..(i + 1) * REC as usize];
                let problem = match &ours[i] {
                    Ok(o) => compare(c, n, o),
                    Err(e) => Some(format!("ours did not finish the case: {e}")),
                };
                if let Some(why) = problem {
                    *per_class.entry(c.class.as_str()).or_default() += 1;
                    failures.push(format!("{mode:?}: {}\n    {why}", describe(c, rec)));
                }
            }
        }
    }
    // Written past the test harness's capture, so the counts show in a normal run.
    let low = if a16 > 0 {
        format!("{a16} of them with 16-bit addressing")
    } else {
        "16-bit-addressed memory forms skipped: vm.mmap_min_addr does not allow mapping the first 64 KiB"
            .into()
    };
    let summary = format!(
        "differential: {total} cases across {} instruction classes ({} encodings; {low}), each run natively and three times in the interpreter (paging off, 4 KiB paging, one instruction per run)",
        classes.len(),
        encodings.len()
    );
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{summary}");
    if failures.is_empty() {
        let _ = writeln!(std::io::stderr(), "differential: all match");
        return;
    }
    let n = failures.len();
    failures.truncate(40);
    panic!(
        "{summary}\n{n} mismatches (by class: {per_class:?}); first {}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
