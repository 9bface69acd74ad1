//! Differential tests of the x87: the interpreter's FPU against the processor this test
//! runs on, bit for bit.
//!
//! One static 32-bit ELF holds a group of generated cases per x87 encoding. A group is a
//! loop over its records: each record holds a whole FPU state as an FSAVE image
//! (registers of every kind — normals, denormals, pseudo-denormals, zeros, infinities,
//! QNaNs, SNaNs, unnormals, pseudo-NaNs and pseudo-infinities — and a control word with
//! every rounding mode, every precision control and, in some cases, unmasked exceptions),
//! EFLAGS, EAX, and a memory operand. The loop does `frstor` of the input image, loads
//! EFLAGS and EAX, runs the instruction under test (its memory operand at `[edi]`), and
//! stores the outcome with `fnsave` (which does not wait, so an unmasked exception the
//! instruction raised is recorded, not delivered) along with EFLAGS and EAX; then the
//! group's records go to `write(1, ...)`. The same file runs natively and in the
//! interpreter (set up like a Linux process; the test plays the kernel for `write` and
//! `exit`), and every record is compared: the whole FSAVE image (registers, control,
//! status and tag words), EFLAGS, EAX and the memory operand.
//!
//! What is not compared, because this CPU is an i686 and the host is not: FISTTP (SSE3;
//! #UD here), the parts of the FXSAVE image an i686 without SSE does not write, and in that
//! image the last instruction's pointers and opcode, which AMD processors store only while
//! an exception is pending (see `fx_unwritten` and `pointers_lost`).

mod support;

use cpu::{Exit, PhysMem, Reg, Vcpu};
use iced_x86::{
    Code, Encoder, EncodingKind, Instruction, MemoryOperand, Mnemonic, OpCodeOperandKind as K, Register,
};
use std::collections::BTreeMap;
use support::{Rng, Segment};

const CODE: u32 = 0x0010_0000;
const DATA: u32 = 0x0100_0000;
const SEED: u64 = 0x7838_3720_6670_7521;

// Record layout: the input FSAVE image at 0, then...
const IN_FLAGS: u32 = 0x6C;
const IN_EAX: u32 = 0x70;
const IN_PTR: u32 = 0x74;
const OUT_FLAGS: u32 = 0x78;
const OUT_EAX: u32 = 0x7C;
const OUT_SAVE: u32 = 0x80;
/// Memory operands live from here to the end of the record.
const MEM_SMALL: u32 = 0xF0;
const REC_SMALL: u32 = 0x120;
/// Records for FSAVE/FRSTOR/FXSAVE/FXRSTOR: 512 bytes of 16-byte-aligned operand.
const MEM_BIG: u32 = 0x200;
const REC_BIG: u32 = 0x400;

/// Cases per encoding, by family.
const PER_ARITH: usize = 1500;
const PER_OTHER: usize = 600;
const PER_BIG: usize = 150;

/// The encodings compared here: every x87 instruction of the i686 but FISTTP (SSE3) and
/// the transcendentals (tests/x87_transcendental.rs measures those).
fn codes_in_scope() -> Vec<Code> {
    Code::values()
        .filter(|&c| {
            let oc = c.op_code();
            let m = oc.mnemonic();
            oc.encoding() == EncodingKind::Legacy
                && oc.mode32()
                && oc.is_instruction()
                && oc.decoder_option() == 0
                && (format!("{m:?}").starts_with('F') || m == Mnemonic::Wait)
                && !matches!(m, Mnemonic::Fisttp | Mnemonic::Femms)
                && !is_transcendental(m)
                // The waiting forms are WAIT + the no-wait form: both are tested alone.
                && !matches!(
                    m,
                    Mnemonic::Finit
                        | Mnemonic::Fclex
                        | Mnemonic::Fstcw
                        | Mnemonic::Fstsw
                        | Mnemonic::Fstenv
                        | Mnemonic::Fsave
                        | Mnemonic::Feni
                        | Mnemonic::Fdisi
                        | Mnemonic::Fsetpm
                )
        })
        .collect()
}

pub fn is_transcendental(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(m, M::Fsin | M::Fcos | M::Fsincos | M::Fptan | M::Fpatan | M::F2xm1 | M::Fyl2x | M::Fyl2xp1)
}

fn is_arith(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Fadd
            | M::Faddp
            | M::Fiadd
            | M::Fsub
            | M::Fsubp
            | M::Fisub
            | M::Fsubr
            | M::Fsubrp
            | M::Fisubr
            | M::Fmul
            | M::Fmulp
            | M::Fimul
            | M::Fdiv
            | M::Fdivp
            | M::Fidiv
            | M::Fdivr
            | M::Fdivrp
            | M::Fidivr
            | M::Fsqrt
            | M::Fprem
            | M::Fprem1
            | M::Frndint
            | M::Fscale
            | M::Fxtract
    )
}

/// Needs the big record: a 94/108/512-byte memory operand.
fn is_big(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(m, M::Fnsave | M::Frstor | M::Fxsave | M::Fxrstor)
}

// ---------------------------------------------------------------------------------------
// Values.

const J: u64 = 1 << 63;

/// An 80-bit value of any kind, biased towards the cases that go wrong.
fn gen_f80(rng: &mut Rng) -> u128 {
    let sign = (rng.below(2) as u128) << 79;
    let rand_sig = |rng: &mut Rng| -> u64 {
        match rng.below(6) {
            0 => J | (rng.u64() >> 1),
            // Short significands (exact in float/double, ties when rounded).
            1 => J | ((rng.u64() >> 1) & !((1u64 << (11 + rng.below(40))) - 1)),
            2 => J | (1 << rng.below(63)) | if rng.chance(50) { 1 << rng.below(63) } else { 0 },
            3 => u64::MAX - rng.below(4) as u64,
            4 => {
                J | (rng.below(8) as u64) << 38
                    | (rng.u64() & ((1 << 38) - 1)) & if rng.chance(50) { 0x7FF } else { !0 }
            }
            _ => J | (rng.u64() >> 1),
        }
    };
    let exp: u128 = match rng.below(20) {
        0..=7 => 0x3FF0 + rng.below(0x20) as u128,
        8 | 9 => rng.below(0x7FFF) as u128,
        // The float and double boundaries, and the format's own.
        10 => {
            (16383
                + rng.pick(&[-126i32, -127, -149, -150, 127, 128, -1022, -1023, -1074, -1075, 1023, 1024])
                + rng.below(3) as i32
                - 1) as u128
        }
        11 => rng.pick(&[1u128, 2, 3, 0x7FFE, 0x7FFD, 0x7FFC]),
        12 => 0x3FFF + rng.below(64) as u128, // integers for FIST/FRNDINT
        13 => 0,                              // denormals and zeros below
        _ => 0x3FF8 + rng.below(0x10) as u128,
    };
    let v = match rng.below(30) {
        0 => 0,                                                                 // zero
        1 => rng.u64() as u128 >> 1 & (J as u128 - 1),                          // denormal
        2 => (J | rng.u64()) as u128,                                           // pseudo-denormal
        3 => 0x7FFF << 64 | J as u128,                                          // infinity
        4 => 0x7FFF << 64 | (J | 1 << 62 | rng.u64() >> rng.below(64)) as u128, // QNaN
        5 => 0x7FFF << 64 | (J | (rng.u64() >> 2).max(1)) as u128,              // SNaN
        6 => 0x7FFF << 64 | (0xC000_0000_0000_0000u64) as u128,                 // indefinite
        7 if rng.chance(40) => (exp.max(1) << 64) | (rng.u64() >> 1) as u128,   // unnormal
        8 if rng.chance(40) => 0x7FFF << 64 | (rng.u64() >> 1) as u128,         // pseudo-NaN/infinity
        9 => {
            // An integer or half-integer, for rounding to integers.
            let n = rng.below(1 << 20) as u64 * 2 + rng.below(2) as u64;
            let v = (n as f64) / 2.0;
            f64_to_f80(v.to_bits())
        }
        10 => f64_to_f80(rng.u64()),
        11 => f32_to_f80(rng.u32()),
        _ => exp << 64 | rand_sig(rng) as u128,
    };
    v | sign
}

/// A double's value in 80 bits (exact), for operands that are "ordinary" numbers.
fn f64_to_f80(b: u64) -> u128 {
    let sign = ((b >> 63) as u128) << 79;
    let e = (b >> 52) & 0x7FF;
    let f = b & ((1 << 52) - 1);
    sign | match e {
        0x7FF => 0x7FFF << 64 | (J | f << 11) as u128,
        0 if f == 0 => 0,
        0 => {
            let lz = f.leading_zeros() as i64 - 11;
            let exp = 16383 - 1022 - lz;
            (exp as u128) << 64 | (f << (11 + lz)) as u128
        }
        _ => ((e as i64 - 1023 + 16383) as u128) << 64 | (J | f << 11) as u128,
    }
}

fn f32_to_f80(b: u32) -> u128 {
    let sign = ((b >> 31) as u128) << 79;
    let e = (b >> 23) & 0xFF;
    let f = (b & 0x7F_FFFF) as u64;
    sign | match e {
        0xFF => 0x7FFF << 64 | (J | f << 40) as u128,
        0 if f == 0 => 0,
        0 => {
            let lz = f.leading_zeros() as i64 - 40;
            let exp = 16383 - 126 - lz;
            (exp as u128) << 64 | (f << (40 + lz)) as u128
        }
        _ => ((e as i64 - 127 + 16383) as u128) << 64 | (J | f << 40) as u128,
    }
}

fn gen_f32(rng: &mut Rng) -> u32 {
    match rng.below(10) {
        0 => rng.pick(&[
            0,
            0x8000_0000,
            0x7F80_0000,
            0xFF80_0000,
            0x7FC0_0000,
            0xFFC0_0000,
            0x7F80_0001,
            0x0000_0001,
            0x807F_FFFF,
            0x0080_0000,
            0x7F7F_FFFF,
        ]),
        1 => rng.u32() & 0x807F_FFFF, // denormal
        2 => rng.u32() | 0x7F80_0000, // NaN/inf
        _ => (rng.u32() & 0x807F_FFFF) | (rng.below(40) + 107) << 23,
    }
}

fn gen_f64(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0 => rng.pick(&[
            0,
            1 << 63,
            0x7FF0 << 48,
            0xFFF0 << 48,
            0x7FF8 << 48,
            0x7FF0_0000_0000_0001,
            1,
            0x000F_FFFF_FFFF_FFFF,
            0x0010 << 48,
            0x7FEF_FFFF_FFFF_FFFF,
        ]),
        1 => rng.u64() & 0x800F_FFFF_FFFF_FFFF,
        2 => rng.u64() | 0x7FF0 << 48,
        _ => (rng.u64() & 0x800F_FFFF_FFFF_FFFF) | ((rng.below(80) + 983) as u64) << 52,
    }
}

fn gen_int(rng: &mut Rng, bytes: u32) -> u64 {
    let v = match rng.below(4) {
        0 => rng.edgy() as u64 | (rng.edgy() as u64) << 32,
        1 => rng.below(1000) as u64,
        2 => (rng.below(1000) as i64 - 500) as u64,
        _ => rng.u64(),
    };
    if bytes == 8 { v } else { v & ((1u64 << (8 * bytes)) - 1) }
}

fn gen_bcd(rng: &mut Rng) -> [u8; 10] {
    let mut b = [0u8; 10];
    let digits = rng.below(19) as usize;
    for i in 0..digits {
        let d = if rng.chance(3) { 10 + rng.below(6) as u8 } else { rng.below(10) as u8 };
        b[i / 2] |= d << (4 * (i % 2));
    }
    b[9] = if rng.chance(50) { 0x80 } else { 0 } | if rng.chance(5) { rng.below(128) as u8 } else { 0 };
    b
}

// ---------------------------------------------------------------------------------------
// FPU states.

/// A random FSAVE image (32-bit protected-mode layout) with no exception pending.
/// `need`: the ST(i) that should hold values; `push` the instruction pushes (so ST(7)
/// should mostly be empty).
fn gen_state(rng: &mut Rng, need: &[u8], push: bool, pops: bool) -> [u8; 108] {
    let masks = if rng.chance(75) { 0x3F } else { rng.below(64) as u16 };
    let pc = rng.pick(&[0u16, 2, 3, 3, 1]);
    let rc = rng.below(4) as u16;
    let ic = if rng.chance(10) { 1 << 12 } else { 0 };
    let cw = masks | 0x40 | pc << 8 | rc << 10 | ic;
    let flags = rng.below(64) as u16 & masks;
    let sf = if flags & 1 != 0 && rng.chance(50) { 0x40 } else { 0 };
    let cc = rng.below(16) as u16;
    let cc = (cc & 7) << 8 | (cc >> 3) << 14;
    let top = rng.below(8) as u16;
    let sw = flags | sf | cc | top << 11;
    let mut tw: u16 = 0;
    let mut regs = [0u128; 8];
    for i in 0..8u8 {
        let phys = ((top as u8 + i) & 7) as usize;
        let mut empty = if need.contains(&i) { rng.chance(4) } else { rng.chance(35) };
        if push && i == 7 {
            empty = !rng.chance(6);
        }
        if pops && i == 1 && rng.chance(3) {
            empty = true;
        }
        if empty {
            tw |= 3 << (2 * phys);
        }
        regs[i as usize] = gen_f80(rng);
    }
    // Make some pairs related (equal, opposite, close) for the binary operations.
    if rng.chance(25) {
        let k = rng.below(8) as usize;
        regs[k] = match rng.below(3) {
            0 => regs[0],
            1 => regs[0] ^ (1 << 79),
            _ => regs[0] ^ rng.below(8) as u128,
        };
    }
    let mut img = [0u8; 108];
    let put = |img: &mut [u8; 108], at: usize, v: u32| img[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put(&mut img, 0, 0xFFFF_0000 | cw as u32);
    put(&mut img, 4, 0xFFFF_0000 | sw as u32);
    put(&mut img, 8, 0xFFFF_0000 | tw as u32);
    put(&mut img, 12, rng.u32());
    put(&mut img, 16, rng.u32() & 0x07FF_FFFF);
    put(&mut img, 20, rng.u32());
    put(&mut img, 24, 0xFFFF_0000 | rng.below(0x10000));
    for (i, r) in regs.iter().enumerate() {
        img[28 + 10 * i..38 + 10 * i].copy_from_slice(&r.to_le_bytes()[..10]);
    }
    img
}

// ---------------------------------------------------------------------------------------
// The program.

struct Group {
    code: Code,
    /// The instruction as it runs (its memory operand is [edi]).
    ins: Instruction,
    rec: u32,
    base: u32,
    count: usize,
}

struct Program {
    code: Vec<u8>,
    data: Vec<u8>,
    groups: Vec<Group>,
}

fn put32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn instruction_for(code: Code, rng: &mut Rng) -> Instruction {
    let oc = code.op_code();
    let k = oc.op_kinds();
    const ST: [Register; 8] = [
        Register::ST0,
        Register::ST1,
        Register::ST2,
        Register::ST3,
        Register::ST4,
        Register::ST5,
        Register::ST6,
        Register::ST7,
    ];
    let st = |i: u32| ST[i as usize & 7];
    let i = 1 + rng.below(7);
    let mem = MemoryOperand::with_base(Register::EDI);
    let r = match k {
        [] => Ok(Instruction::with(code)),
        [K::ax] => Instruction::with1(code, Register::AX),
        [K::mem] => Instruction::with1(code, mem),
        [K::sti_opcode] => Instruction::with1(code, st(rng.below(8))),
        [K::st0, K::sti_opcode] => Instruction::with2(code, Register::ST0, st(i)),
        [K::sti_opcode, K::st0] => Instruction::with2(code, st(i), Register::ST0),
        _ => panic!("unexpected operands for {code:?}: {k:?}"),
    };
    r.unwrap_or_else(|e| panic!("{code:?}: {e}"))
}

/// The memory operand's bytes for a case.
fn gen_mem(rng: &mut Rng, ins: &Instruction, size: u32) -> Vec<u8> {
    use iced_x86::MemorySize as S;
    let mut b: Vec<u8> = (0..size).map(|_| rng.u32() as u8).collect();
    match ins.memory_size() {
        S::Float32 => b[..4].copy_from_slice(&gen_f32(rng).to_le_bytes()),
        S::Float64 => b[..8].copy_from_slice(&gen_f64(rng).to_le_bytes()),
        S::Float80 => b[..10].copy_from_slice(&gen_f80(rng).to_le_bytes()[..10]),
        S::Int16 => b[..2].copy_from_slice(&gen_int(rng, 2).to_le_bytes()[..2]),
        S::Int32 => b[..4].copy_from_slice(&gen_int(rng, 4).to_le_bytes()[..4]),
        S::Int64 => b[..8].copy_from_slice(&gen_int(rng, 8).to_le_bytes()),
        S::Bcd => b[..10].copy_from_slice(&gen_bcd(rng)),
        _ if ins.mnemonic() == Mnemonic::Fldcw => {
            let cw = rng.below(0x10000) as u16 & if rng.chance(70) { 0x0F3F | 0x3F } else { 0xFFFF };
            b[..2].copy_from_slice(&cw.to_le_bytes());
        }
        S::FpuEnv28 | S::FpuEnv14 | S::FpuState108 | S::FpuState94 => {
            let img = gen_state(rng, &[0, 1], false, false);
            if matches!(ins.memory_size(), S::FpuEnv28 | S::FpuState108) {
                let n = if ins.memory_size() == S::FpuEnv28 { 28 } else { 108 };
                b[..n].copy_from_slice(&img[..n]);
            } else {
                // The 16-bit layout: seven words, then the registers.
                for w in 0..7 {
                    b[2 * w..2 * w + 2].copy_from_slice(&img[4 * w..4 * w + 2]);
                }
                if ins.memory_size() == S::FpuState94 {
                    b[14..94].copy_from_slice(&img[28..108]);
                }
            }
        }
        S::Fxsave_512Byte => {
            let img = gen_state(rng, &[0, 1], false, false);
            b[0..2].copy_from_slice(&img[0..2]);
            b[2..4].copy_from_slice(&img[4..6]);
            b[4] = rng.u32() as u8;
            b[5] = 0;
            b[6..8].copy_from_slice(&(rng.below(0x800) as u16).to_le_bytes());
            // A valid MXCSR, or FXRSTOR faults on a processor with SSE.
            b[24..28].copy_from_slice(&0x1F80u32.to_le_bytes());
            for i in 0..8 {
                b[32 + 16 * i..42 + 16 * i].copy_from_slice(&img[28 + 10 * i..38 + 10 * i]);
            }
        }
        _ => {}
    }
    b
}

/// Lay out a group of cases for each of `codes`: `count(code)` cases each, whose
/// generated states `adjust` may change (to put operands in a function's domain).
fn build_program(
    rng: &mut Rng,
    codes: &[Code],
    count: impl Fn(Mnemonic) -> usize,
    adjust: impl Fn(&mut Rng, Mnemonic, &mut [u8]),
) -> Program {
    let mut code = Vec::new();
    let mut data = Vec::new();
    let mut groups = Vec::new();
    for &c in codes {
        let m = c.op_code().mnemonic();
        let big = is_big(m);
        let rec = if big { REC_BIG } else { REC_SMALL };
        let count = count(m);
        let base = DATA + data.len() as u32;
        let ins = instruction_for(c, rng);
        let pushes = matches!(
            m,
            Mnemonic::Fld
                | Mnemonic::Fild
                | Mnemonic::Fbld
                | Mnemonic::Fld1
                | Mnemonic::Fldz
                | Mnemonic::Fldpi
                | Mnemonic::Fldl2e
                | Mnemonic::Fldl2t
                | Mnemonic::Fldlg2
                | Mnemonic::Fldln2
                | Mnemonic::Fxtract
                | Mnemonic::Fptan
                | Mnemonic::Fsincos
        );
        let pops = format!("{m:?}").ends_with('p') || m == Mnemonic::Fcompp || m == Mnemonic::Fucompp;
        for n in 0..count {
            // Vary the register operand within the group by re-encoding? No: one encoding
            // per group, but several registers across groups would cost code; instead
            // the states vary.
            let r = base + n as u32 * rec;
            let mut need = vec![0u8, 1];
            for i in 0..ins.op_count() {
                if ins.op_kind(i) == iced_x86::OpKind::Register && ins.op_register(i).is_st() {
                    need.push((ins.op_register(i).number() & 7) as u8);
                }
            }
            let mut recb = vec![0u8; rec as usize];
            recb[..108].copy_from_slice(&gen_state(rng, &need, pushes, pops));
            adjust(rng, m, &mut recb[..108]);
            let flags = (rng.u32() & 0x8D5) | 0x202;
            recb[IN_FLAGS as usize..IN_FLAGS as usize + 4].copy_from_slice(&flags.to_le_bytes());
            recb[IN_EAX as usize..IN_EAX as usize + 4].copy_from_slice(&rng.u32().to_le_bytes());
            let mem = if big { MEM_BIG } else { MEM_SMALL };
            let off = if big { 0 } else { rng.below(8) };
            recb[IN_PTR as usize..IN_PTR as usize + 4].copy_from_slice(&(r + mem + off).to_le_bytes());
            let bytes = gen_mem(rng, &ins, rec - mem - off);
            recb[(mem + off) as usize..].copy_from_slice(&bytes);
            // The outputs start as a pattern, so "not written" shows.
            for b in &mut recb[OUT_FLAGS as usize..MEM_SMALL as usize] {
                *b = 0xA5;
            }
            data.extend_from_slice(&recb);
        }
        // The loop.
        code.push(0xBE); // mov esi, base
        put32(&mut code, base);
        code.push(0xB9); // mov ecx, count
        put32(&mut code, count as u32);
        let top = code.len();
        code.extend_from_slice(&[0xDD, 0x26]); // frstor [esi]
        code.extend_from_slice(&[0xFF, 0x76, IN_FLAGS as u8]); // push dword [esi+IN_FLAGS]
        code.push(0x9D); // popfd
        code.extend_from_slice(&[0x8B, 0x46, IN_EAX as u8]); // mov eax, [esi+IN_EAX]
        code.extend_from_slice(&[0x8B, 0x7E, IN_PTR as u8]); // mov edi, [esi+IN_PTR]
        let mut enc = Encoder::new(32);
        let at = CODE + code.len() as u32;
        enc.encode(&ins, at as u64).unwrap_or_else(|e| panic!("encode {c:?}: {e}"));
        code.extend_from_slice(&enc.take_buffer());
        code.extend_from_slice(&[0xDD, 0xB6]); // fnsave [esi+OUT_SAVE]
        put32(&mut code, OUT_SAVE);
        code.push(0x9C); // pushfd
        code.extend_from_slice(&[0x8F, 0x46, OUT_FLAGS as u8]); // pop dword [esi+OUT_FLAGS]
        code.extend_from_slice(&[0x89, 0x46, OUT_EAX as u8]); // mov [esi+OUT_EAX], eax
        code.extend_from_slice(&[0x81, 0xC6]); // add esi, rec
        put32(&mut code, rec);
        code.push(0x49); // dec ecx
        code.extend_from_slice(&[0x0F, 0x85]); // jnz top
        let rel = top as i64 - (code.len() as i64 + 4);
        put32(&mut code, rel as i32 as u32);
        // write(1, base, count * rec)
        code.push(0xB8);
        put32(&mut code, 4);
        code.push(0xBB);
        put32(&mut code, 1);
        code.push(0xB9);
        put32(&mut code, base);
        code.push(0xBA);
        put32(&mut code, count as u32 * rec);
        code.extend_from_slice(&[0xCD, 0x80]);
        groups.push(Group { code: c, ins, rec, base, count });
    }
    // exit(0)
    code.extend_from_slice(&[0xB8, 1, 0, 0, 0, 0x31, 0xDB, 0xCD, 0x80]);
    Program { code, data, groups }
}

fn segments(p: &Program) -> Vec<Segment> {
    vec![
        Segment { vaddr: CODE, bytes: p.code.clone(), memsz: 0 },
        Segment { vaddr: DATA, bytes: p.data.clone(), memsz: 0 },
    ]
}

fn run_native(p: &Program, name: &str) -> Vec<u8> {
    let elf = support::elf32(&segments(p), CODE);
    let path = support::tmp_path(name);
    support::write_executable(&path, &elf);
    let out = support::run_native(&path);
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success() && out.stdout.len() == p.data.len(),
        "the native run stopped ({}) after {} of {} bytes: a generator bug in the group after {:?}",
        out.status,
        out.stdout.len(),
        p.data.len(),
        p.groups.iter().find(|g| (g.base - DATA) as usize >= out.stdout.len()).map(|g| g.code)
    );
    out.stdout
}

/// Run the program in the interpreter, with paging off or (`paged`) on, identity-mapped by
/// 4 KiB pages, so memory operands also take the TLB's paths and cross pages.
fn run_ours(p: &Program, paged: bool) -> Vec<u8> {
    let end = DATA + p.data.len() as u32;
    let ram = (end + (1 << 20)).next_multiple_of(1 << 20);
    let tables = ram - (1 << 20) + 0x1000;
    let mut cpu = support::linux_user_cpu(PhysMem::new(ram + 0x10000));
    support::load_segments(&mut cpu, &segments(p));
    if paged {
        support::identity_paging(&mut cpu, tables.max(end.next_multiple_of(4096)), ram);
    }
    // Linux runs processes with the FPU on: no emulation, no task switch pending.
    let cr0 = cpu.cr0() & !(cpu::cr::CR0_EM | cpu::cr::CR0_TS);
    cpu.set_cr0(cr0 | cpu::cr::CR0_MP | cpu::cr::CR0_NE);
    cpu.set_reg(Reg::Esp, ram - 16);
    cpu.set_eip(CODE);
    let mut out = vec![0u8; p.data.len()];
    loop {
        match cpu.run(1 << 24) {
            Exit::SoftInt { vector: 0x80, .. } => match cpu.reg(Reg::Eax) {
                4 => {
                    let (addr, len) = (cpu.reg(Reg::Ecx), cpu.reg(Reg::Edx));
                    let at = (addr - DATA) as usize;
                    out[at..at + len as usize].copy_from_slice(cpu.mem().slice(addr, len).expect("in RAM"));
                    cpu.set_reg(Reg::Eax, len);
                }
                1 => break,
                n => panic!("unexpected system call {n}"),
            },
            Exit::BudgetExhausted => {}
            other => {
                let g = p.groups.iter().rev().find(|g| g.base <= cpu.reg(Reg::Esi)).map(|g| g.code);
                panic!("the interpreter stopped: {other} at {:#x} in group {g:?}", cpu.eip());
            }
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join("")
}

/// An 80-bit register image, readable: sign/exponent and significand.
fn reg80(b: &[u8]) -> String {
    let mut le = [0u8; 16];
    le[..10].copy_from_slice(&b[..10]);
    let v = u128::from_le_bytes(le);
    format!("{:04x}:{:016x}", v >> 64, v as u64)
}

fn describe_state(img: &[u8]) -> String {
    let w = |i: usize| u16::from_le_bytes([img[i], img[i + 1]]);
    let regs: Vec<String> = (0..8).map(|i| reg80(&img[28 + 10 * i..])).collect();
    format!("cw={:04x} sw={:04x} tw={:04x} st=[{}]", w(0), w(4), w(8), regs.join(" "))
}

/// Whether the last instruction's pointers and opcode (FIP, FCS, FOP, FDP, FDS: bytes
/// 12..28 of the image) are compared. They are, unless the host lost them: a context switch
/// between the instruction and FNSAVE restores the state with the 64-bit XRSTOR, which has
/// no selectors (FCS and FDS come back 0, where a Linux process's are never 0) and on an
/// AMD processor no pointers either unless an exception is pending; a zero FDS is the sign.
fn pointers_lost(native_image: &[u8]) -> bool {
    native_image[24..26] == [0, 0] && (native_image[16..18] == [0, 0] || native_image[20..24] == [0; 4])
}

#[test]
fn x87_instructions_match_the_host_processor() {
    let mut rng = Rng::new(SEED);
    let count = |m| {
        if is_big(m) {
            PER_BIG
        } else if is_arith(m) {
            PER_ARITH
        } else {
            PER_OTHER
        }
    };
    let p = build_program(&mut rng, &codes_in_scope(), count, |_, _, _| {});
    let native = run_native(&p, "x87.elf");
    let mut failures = Vec::new();
    let mut per_class: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for paged in [false, true] {
        let ours = run_ours(&p, paged);
        for g in &p.groups {
            let m = g.ins.mnemonic();
            for n in 0..g.count {
                total += 1;
                let at = (g.base - DATA) as usize + n * g.rec as usize;
                let (nr, or) = (&native[at..at + g.rec as usize], &ours[at..at + g.rec as usize]);
                let mut diffs = Vec::new();
                let save = OUT_SAVE as usize;
                let skip = if pointers_lost(&nr[save..save + 28]) { 12..28 } else { 0..0 };
                for (name, range) in [("cw", 0..2), ("sw", 4..6), ("tw", 8..10)] {
                    let r = save + range.start..save + range.end;
                    if nr[r.clone()] != or[r.clone()] {
                        let w = |b: &[u8]| u16::from_le_bytes([b[r.start], b[r.start + 1]]);
                        diffs.push(format!("{name}: native {:04x} ours {:04x}", w(nr), w(or)));
                    }
                }
                for off in 0..28usize {
                    if skip.contains(&off) || matches!(off, 0 | 1 | 4 | 5 | 8 | 9) {
                        continue;
                    }
                    if nr[save + off] != or[save + off] {
                        diffs.push(format!(
                            "env byte {off}: native {:02x} ours {:02x}",
                            nr[save + off],
                            or[save + off]
                        ));
                    }
                }
                for i in 0..8 {
                    let r = save + 28 + 10 * i..save + 38 + 10 * i;
                    if nr[r.clone()] != or[r.clone()] {
                        diffs.push(format!("st{i}: native {} ours {}", reg80(&nr[r.clone()]), reg80(&or[r])));
                    }
                }
                let word = |b: &[u8], at: u32| {
                    u32::from_le_bytes(b[at as usize..at as usize + 4].try_into().expect("4 bytes"))
                };
                if word(nr, OUT_FLAGS) != word(or, OUT_FLAGS) {
                    diffs.push(format!(
                        "eflags: native {:08x} ours {:08x}",
                        word(nr, OUT_FLAGS),
                        word(or, OUT_FLAGS)
                    ));
                }
                if word(nr, OUT_EAX) != word(or, OUT_EAX) {
                    diffs.push(format!(
                        "eax: native {:08x} ours {:08x}",
                        word(nr, OUT_EAX),
                        word(or, OUT_EAX)
                    ));
                }
                let mem = if g.rec == REC_BIG { MEM_BIG } else { MEM_SMALL } as usize;
                let mem_diff: Vec<String> = (mem..g.rec as usize)
                    .filter(|&o| nr[o] != or[o] && !fx_unwritten(m, o - mem))
                    .map(|o| format!("+{:#x}: {:02x}/{:02x}", o - mem, nr[o], or[o]))
                    .collect();
                if !mem_diff.is_empty() {
                    diffs.push(format!(
                        "memory (native/ours): {}",
                        mem_diff.iter().take(12).cloned().collect::<Vec<_>>().join(" ")
                    ));
                }
                if !diffs.is_empty() {
                    let seen = per_class.entry(format!("{:?}", g.code)).or_default();
                    *seen += 1;
                    if *seen > 2 {
                        continue;
                    }
                    let input = &nr[..108];
                    let mem_in = &p.data[at + mem..at + (mem + 16).min(g.rec as usize)];
                    failures.push(format!(
                        "{} [{:?}] case {n}{}:\n    in: {} eflags={:08x} mem={}\n    {}",
                        g.ins,
                        g.code,
                        if paged { " (paging on)" } else { "" },
                        describe_state(input),
                        word(nr, IN_FLAGS),
                        hex(mem_in),
                        diffs.join("\n    ")
                    ));
                }
            }
        }
    }
    use std::io::Write;
    let summary = format!(
        "x87: {} cases over {} encodings, each run natively and twice in the interpreter (paging off, 4 KiB paging)",
        total / 2,
        p.groups.len()
    );
    let _ = writeln!(std::io::stderr(), "{summary}");
    if failures.is_empty() {
        return;
    }
    let n: usize = per_class.values().sum();
    failures.truncate(400);
    panic!(
        "{summary}\n{n} mismatches (by encoding: {per_class:?}); first {}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Bytes of FXSAVE's image this CPU leaves alone: MXCSR and its mask, the XMM registers
/// and the reserved area (an i686 without SSE has none of them).
/// Also not compared: FOP, FIP, FCS, FDP and FDS, which AMD processors store only while an
/// exception is pending (an i686 always does).
fn fx_unwritten(m: Mnemonic, off: usize) -> bool {
    m == Mnemonic::Fxsave && (off >= 160 || (24..32).contains(&off) || (6..24).contains(&off))
}

// ---------------------------------------------------------------------------------------
// The transcendentals.

/// Cases per transcendental instruction.
const PER_TRANSCENDENTAL: usize = 3000;

/// A normal value with a random significand, a random sign and an exponent in `lo..=hi`.
fn ordinary(rng: &mut Rng, lo: i32, hi: i32, sign: Option<bool>) -> u128 {
    let e = lo + rng.below((hi - lo + 1) as u32) as i32;
    let neg = sign.unwrap_or(rng.chance(50));
    ((neg as u128) << 79) | ((e + 16383) as u128) << 64 | (J | rng.u64()) as u128
}

/// Put most operands of a transcendental in its domain (the rest stay as generated:
/// specials of every kind).
fn in_domain(rng: &mut Rng, m: Mnemonic, img: &mut [u8]) {
    use Mnemonic as M;
    if rng.chance(15) {
        return;
    }
    let (x, y) = match m {
        M::Fsin | M::Fcos | M::Fsincos | M::Fptan => {
            let x = match rng.below(20) {
                0 => ordinary(rng, 20, 62, None),
                1 => {
                    // Near a multiple of π/2, where the reduction matters.
                    let bits = rng.below(20);
                    let k = 1 + rng.below(1 << bits) as u64;
                    let v = k as f64 * std::f64::consts::FRAC_PI_2;
                    f64_to_f80(v.to_bits()) ^ rng.below(1 << 12) as u128
                }
                _ => ordinary(rng, -30, 8, None),
            };
            (x, None)
        }
        M::F2xm1 => (ordinary(rng, -40, -1, None), None),
        M::Fyl2x => (ordinary(rng, -60, 60, Some(false)), Some(ordinary(rng, -10, 10, None))),
        M::Fyl2xp1 => (ordinary(rng, -60, -3, None), Some(ordinary(rng, -10, 10, None))),
        _ => (ordinary(rng, -30, 30, None), Some(ordinary(rng, -30, 30, None))),
    };
    img[28..38].copy_from_slice(&x.to_le_bytes()[..10]);
    if let Some(y) = y {
        img[38..48].copy_from_slice(&y.to_le_bytes()[..10]);
    }
}

/// Operands for which the result is undefined and ours differs from this processor's:
/// FYL2XP1 of a finite x <= -1 (its domain is |x| < 1 - √2/2).
fn undefined(m: Mnemonic, input: &[u8]) -> bool {
    if m != Mnemonic::Fyl2xp1 {
        return false;
    }
    let w = |i: usize| u16::from_le_bytes([input[i], input[i + 1]]);
    // ST(0) is the first register of the image.
    let se = w(36);
    let exp = se & 0x7FFF;
    se & 0x8000 != 0 && exp >= 0x3FFF && exp != 0x7FFF
}

/// Does `ours` differ from `native` only in the last bit of results (the significand one
/// unit apart, and the status words only in C1, the round-up indicator)? Returns the
/// number of such results, or `None` if anything else differs.
fn last_bit_only(native: &[u8], ours: &[u8]) -> Option<usize> {
    let w = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    if native[..4] != ours[..4] || native[8..28] != ours[8..28] || (w(native, 4) ^ w(ours, 4)) & !0x0200 != 0
    {
        return None;
    }
    let mut n = 0;
    for i in 0..8 {
        let r = 28 + 10 * i..38 + 10 * i;
        if native[r.clone()] == ours[r.clone()] {
            continue;
        }
        let v = |b: &[u8]| {
            let mut le = [0u8; 16];
            le[..10].copy_from_slice(&b[r.clone()]);
            u128::from_le_bytes(le)
        };
        if v(native).abs_diff(v(ours)) != 1 {
            return None;
        }
        n += 1;
    }
    Some(n)
}

#[test]
fn x87_transcendentals_match_the_host_processor_but_in_the_last_bit() {
    let mut rng = Rng::new(SEED ^ 0x7472_616E);
    let codes: Vec<Code> = Code::values()
        .filter(|c| {
            let oc = c.op_code();
            oc.encoding() == EncodingKind::Legacy && oc.mode32() && is_transcendental(oc.mnemonic())
        })
        .collect();
    let p = build_program(&mut rng, &codes, |_| PER_TRANSCENDENTAL, in_domain);
    let native = run_native(&p, "x87-transcendental.elf");
    let ours = run_ours(&p, false);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let (mut all_cases, mut all_off) = (0, 0);
    // Instructions whose results are more than their limit off in the last bit, per mille.
    let mut over = Vec::new();
    for g in &p.groups {
        let (mut off, mut results) = (0, 0);
        for n in 0..g.count {
            let at = (g.base - DATA) as usize + n * g.rec as usize;
            let save = at + OUT_SAVE as usize;
            let (mut nr, mut or) = (native[save..save + 108].to_vec(), ours[save..save + 108].to_vec());
            if pointers_lost(&nr) {
                nr[12..28].fill(0);
                or[12..28].fill(0);
            }
            let (nr, or) = (&nr[..], &or[..]);
            if undefined(g.ins.mnemonic(), &p.data[at..at + 108]) {
                continue;
            }
            results += 1;
            if nr == or {
                continue;
            }
            match last_bit_only(nr, or) {
                Some(_) => {
                    off += 1;
                    if std::env::var_os("X87_SHOW_OFF").is_some() {
                        eprintln!(
                            "off: {} in {} native {} ours {}",
                            g.ins,
                            describe_state(&p.data[at..at + 108]),
                            describe_state(nr),
                            describe_state(or)
                        );
                    }
                }
                None => {
                    if failures.len() < 30 {
                        failures.push(format!(
                            "{} case {n}:\n    in: {}\n    native: {}\n    ours:   {}",
                            g.ins,
                            describe_state(&p.data[at..at + 108]),
                            describe_state(nr),
                            describe_state(or)
                        ));
                    }
                }
            }
        }
        all_cases += results;
        all_off += off;
        report.push(format!("{} {off}/{results}", format!("{:?}", g.ins.mnemonic()).to_lowercase()));
        let limit = last_bit_limit(g.ins.mnemonic());
        if off * 1000 > limit * results {
            over.push(format!("{:?} {off}/{results} (limit {limit} per mille)", g.ins.mnemonic()));
        }
    }
    let summary = format!(
        "x87 transcendentals: {all_cases} cases; results one unit in the last place from the host's: {all_off} ({:.2}%): {}",
        100.0 * all_off as f64 / all_cases as f64,
        report.join(", ")
    );
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{summary}");
    assert!(
        failures.is_empty(),
        "{summary}\n{} cases differ otherwise:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(over.is_empty(), "{summary}: more off in the last bit than allowed: {over:?}");
    // 0.99% off in all measured.
    assert!(all_off * 1000 <= all_cases * 11, "{summary}: more than 1.1% off in the last bit");
}

/// How many results per mille may be one unit in the last place from the processor's, by
/// instruction: what the FPU's model of each reaches (see its module docs), measured on
/// these cases, with a little room.
fn last_bit_limit(m: Mnemonic) -> usize {
    use Mnemonic as M;
    match m {
        // The processor's own polynomials and evaluation: 0-3 of 3000 off (the fits' noise).
        M::Fsin | M::Fcos | M::Fsincos | M::Fyl2x | M::Fyl2xp1 => 2,
        // Its polynomial for quotients up to 1/2, the true arctangent above: 5 of 3000.
        M::Fpatan => 3,
        // Not reproduced (correctly rounded here): 86 and 138 of 3000.
        M::F2xm1 => 32,
        M::Fptan => 50,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------
// Well-known computations.

/// 80-bit constants for the list: e, ln 2 (FLDLN2's), log10 2 (FLDLG2's).
const E80: u128 = 0x4000_adf8_5458_a2bb_4a9b;
const LN2_80: u128 = 0x3ffe_b172_17f7_d1cf_79ac;
const LG2_80: u128 = 0x3ffd_9a20_9a84_fbcf_f799;

fn d(v: f64) -> u128 {
    f64_to_f80(v.to_bits())
}

/// The computations people do with the transcendentals: (instruction, a name, ST(0),
/// ST(1)).
fn well_known() -> Vec<(Mnemonic, String, u128, u128)> {
    use Mnemonic as M;
    let mut v = Vec::new();
    for m in [M::Fsin, M::Fcos, M::Fptan, M::Fsincos] {
        for x in [0.5, 1.0, -1.0, 2.0, 3.0, 10.0, 100.0, 1e6, 0.25, 0.1] {
            v.push((m, format!("{m:?}({x})"), d(x), 0));
        }
    }
    for (y, x, name) in [
        (1.0, 1.0, "atan 1"),
        (2.0, 1.0, "atan 2"),
        (1.0, 2.0, "atan 0.5"),
        (1.0, -1.0, "atan2(1, -1)"),
        (-1.0, -1.0, "atan2(-1, -1)"),
        (-1.0, 1.0, "atan2(-1, 1)"),
        (1.0, 0.0, "atan2(1, 0)"),
        (1.0, 3f64.sqrt(), "atan(1/sqrt 3)"),
    ] {
        v.push((M::Fpatan, name.to_string(), d(x), d(y)));
    }
    for x in [0.5, -0.5, 0.25, -0.25, 1e-5, 0.1, -1.0, 1.0] {
        v.push((M::F2xm1, format!("f2xm1({x})"), d(x), 0));
    }
    for (x, y, name) in [
        (d(3.0), d(1.0), "log2 3"),
        (d(10.0), d(1.0), "log2 10"),
        (E80, d(1.0), "log2 e"),
        (d(0.1), d(1.0), "log2 0.1"),
        (d(10.0), LN2_80, "ln 10 (fldln2)"),
        (d(3.0), LN2_80, "ln 3 (fldln2)"),
        (E80, LN2_80, "ln e (fldln2)"),
        (d(2.0), LG2_80, "log10 2 (fldlg2)"),
        (d(3.0), LG2_80, "log10 3 (fldlg2)"),
        (d(2.0), d(0.5), "sqrt 2 exponent: 0.5 log2 2"),
    ] {
        v.push((M::Fyl2x, name.to_string(), x, y));
    }
    for (x, y, name) in [
        (d(1e-3), d(1.0), "log2(1 + 1e-3)"),
        (d(-1e-3), d(1.0), "log2(1 - 1e-3)"),
        (d(1e-10), d(1.0), "log2(1 + 1e-10)"),
        (d(0.25), d(1.0), "log2 1.25"),
        (d(1e-3), LN2_80, "ln(1 + 1e-3) (fldln2)"),
        (d(0.1), LN2_80, "ln 1.1 (fldln2)"),
    ] {
        v.push((M::Fyl2xp1, name.to_string(), x, y));
    }
    v
}

#[test]
fn well_known_transcendental_computations_match_the_host_processor() {
    use std::cell::Cell;
    let list = well_known();
    let codes: Vec<Code> = Code::values()
        .filter(|c| {
            let oc = c.op_code();
            oc.encoding() == EncodingKind::Legacy && oc.mode32() && is_transcendental(oc.mnemonic())
        })
        .collect();
    let of = |m: Mnemonic| list.iter().filter(|c| c.0 == m).collect::<Vec<_>>();
    let next: Cell<(Mnemonic, usize)> = Cell::new((Mnemonic::INVALID, 0));
    let mut rng = Rng::new(SEED);
    let p = build_program(
        &mut rng,
        &codes,
        |m| of(m).len(),
        |_, m, img| {
            let (last, n) = next.get();
            let n = if last == m { n } else { 0 };
            next.set((m, n + 1));
            let case = of(m)[n];
            // A clean state: FNINIT's control word, TOP 0, ST(0) and ST(1) valid.
            img[..28].fill(0);
            img[0..4].copy_from_slice(&0xFFFF_037Fu32.to_le_bytes());
            img[4..8].copy_from_slice(&0xFFFF_0000u32.to_le_bytes());
            img[8..12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
            img[28..38].copy_from_slice(&case.2.to_le_bytes()[..10]);
            img[38..48].copy_from_slice(&case.3.to_le_bytes()[..10]);
        },
    );
    let native = run_native(&p, "x87-well-known.elf");
    let ours = run_ours(&p, false);
    let mut report = Vec::new();
    let (mut wrong, mut now_right) = (Vec::new(), Vec::new());
    for g in &p.groups {
        for (n, case) in of(g.ins.mnemonic()).iter().enumerate() {
            let at = (g.base - DATA) as usize + n * g.rec as usize + OUT_SAVE as usize;
            let (nr, or) = (&native[at..at + 108], &ours[at..at + 108]);
            let regs = |b: &[u8]| {
                format!(
                    "sw={:04x} {} {}",
                    u16::from_le_bytes([b[4], b[5]]),
                    reg80(&b[28..38]),
                    reg80(&b[38..48])
                )
            };
            let same = nr[..12] == or[..12] && nr[28..108] == or[28..108];
            let known = KNOWN_OFF.contains(&case.1.as_str());
            let status = match (same, known) {
                (true, false) => "ok",
                (true, true) => {
                    now_right.push(case.1.clone());
                    "ok (listed as off: take it off KNOWN_OFF)"
                }
                (false, true) if last_bit_only(nr, or).is_some() => {
                    "off by one unit in the last place (known)"
                }
                (false, _) => {
                    wrong.push(case.1.clone());
                    "DIFFERENT"
                }
            };
            let ours = if same { String::new() } else { format!(", ours {}", regs(or)) };
            report.push(format!("{}: {status}: native {}{ours}", case.1, regs(nr)));
        }
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{}", report.join("\n"));
    assert!(
        wrong.is_empty(),
        "{} of {} well-known computations differ: {wrong:?}",
        wrong.len(),
        report.len()
    );
    assert!(now_right.is_empty(), "these now match the processor: take them off KNOWN_OFF: {now_right:?}");
}

/// The computations of the list this CPU still gets one unit in the last place off (and
/// C1 with it), because the processor's FPTAN and F2XM1 are not modelled (see the FPU's
/// module docs). Anything else on the list must match bit for bit.
const KNOWN_OFF: [&str; 3] = ["Fptan(1)", "Fptan(-1)", "f2xm1(1)"];
