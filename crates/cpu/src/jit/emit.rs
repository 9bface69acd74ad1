//! From one decoded block to x86-64 machine code, in one pass with no IR (with dynasm-rs).
//!
//! **Registers.** The eight guest registers live in host registers for the whole time
//! generated code runs: EAX, ECX, EDX, EBX in RAX, RCX, RDX, RBX (so `shl r, cl`, `cdq`
//! and AL..BL need no moves), ESP in R12, EBP, ESI, EDI in RBP, RSI, RDI. R15 points at
//! the [`State`], R14 at the TLB, R13 at guest RAM; R8-R11 are scratch. They go back to
//! `State::regs` only at an exit and around a call to an interpreter handler.
//!
//! **Flags** stay in the interpreter's lazy form (`flags::Lazy`, in `State::cc`): an
//! instruction whose flags something could observe stores kind, size, result and operands
//! exactly as its interpreter handler would, so that at every exit EFLAGS is the
//! interpreter's to the bit (undefined flags included). "Could observe" is the
//! backward pass [`liveness`]: flags are live at the block's end, before anything that may
//! exit or reads them, and dead before an instruction that overwrites all six without
//! being able to exit. A conditional branch tests the host's own flags when the producer
//! just ran, or redoes the producer's comparison from the stored operands, or (producer
//! unknown) asks `Lazy::cond`.
//!
//! **Memory** goes through an inline probe of the CPU's own TLB (the interpreter's tags:
//! page and alignment in one compare), as QEMU's softmmu does; segments the block was
//! translated for as flat (base 0, no limits) cost nothing, others are checked inline.
//! Anything the probe does not accept — a TLB miss, a store to a page holding code or
//! watched by the Host, a page crossing, a segment violation — leaves for an out-of-line
//! *slow path* that runs the whole instruction with its interpreter handler, which does
//! the page walk, A/D bits, faults and CR2 exactly as the interpreter does.
//!
//! **Everything else** — instructions this module does not translate (system
//! instructions, x87, string operations, far transfers...) — is a call to its interpreter
//! handler. Translating an instruction natively is an optimisation, never a correctness
//! requirement.
//!
//! **Block layout**: an 8-byte validity stamp, the head (compare the CPU's stamp with it;
//! subtract the block's length from the budget), the instructions, then the out-of-line
//! stubs. Direct jumps go through patchable `jmp rel32` *sites* that start out at a stub
//! returning to the dispatcher and are pointed at the target block once it is translated;
//! a jump to the block's own start goes straight to the budget check. Indirect jumps
//! (RET, `jmp r/m`) probe a jump cache inline.

// dynasm's dynamic-register syntax (`Rd(n)`) expands to a conversion of `n` into a
// register number, a no-op for the `u8`s used here.
#![allow(clippy::useless_conversion)]

use super::{JcEntry, JumpCache, X_BUDGET, X_CHAIN, X_INDIRECT, X_STALE, X_STOP};
use crate::decode::is_jcc;
use crate::flags::{CcKind, Lazy};
use crate::mem::PAGE_MASK;
use crate::ops::Op;
use crate::paging::{TLB_ENTRIES, TlbEntry};
use crate::regs::SegReg;
use crate::segments::Segment;
use crate::state::{JitCtx, REG_NONE, State};
use dynasmrt::x64::X64Relocation;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler, dynasm};
use iced_x86::{Code, FlowControl, Instruction, Mnemonic, OpKind, Register};
use std::mem::offset_of;

type Asm = VecAssembler<X64Relocation>;

/// Host register of each guest register, EAX..EDI.
const GUEST: [u8; 8] = [0, 1, 2, 3, 12, 5, 6, 7];
// (R15: the State, R14: the TLB, R13: guest RAM, fixed in the templates.)
/// Scratch registers R8, R9, R11 (R10 holds a probed address's RAM offset).
const S0: u8 = 8;
const S1: u8 = 9;
const S3: u8 = 11;

const REGS: i32 = offset_of!(State, regs) as i32;
const EIP: i32 = offset_of!(State, eip) as i32;
const CC: i32 = offset_of!(State, cc) as i32;
const CC_RES: i32 = CC + offset_of!(Lazy, res) as i32;
const CC_DST: i32 = CC + offset_of!(Lazy, dst) as i32;
const CC_SRC: i32 = CC + offset_of!(Lazy, src) as i32;
const SEGS: i32 = offset_of!(State, segs) as i32;
const JIT: i32 = offset_of!(State, jit) as i32;
const LEFT: i32 = JIT + offset_of!(JitCtx, left) as i32;
const STAMP: i32 = JIT + offset_of!(JitCtx, stamp) as i32;
const RAM_PTR: i32 = JIT + offset_of!(JitCtx, ram) as i32;
const TLB_PTR: i32 = JIT + offset_of!(JitCtx, tlb) as i32;
const SEG_BASE: i32 = offset_of!(Segment, base) as i32;
const SEG_RD_LO: i32 = offset_of!(Segment, rd_lo) as i32;
const SEG_RD_HI: i32 = offset_of!(Segment, rd_hi) as i32;
const SEG_WR_LO: i32 = offset_of!(Segment, wr_lo) as i32;
const SEG_WR_HI: i32 = offset_of!(Segment, wr_hi) as i32;
const TLB_RTAG: i32 = offset_of!(TlbEntry, rtag) as i32;
const TLB_WTAG: i32 = offset_of!(TlbEntry, wtag) as i32;
const TLB_ADDEND: i32 = offset_of!(TlbEntry, addend) as i32;
const JC_CODE: i32 = offset_of!(JcEntry, code) as i32;

// ADC and SBB record their kind as the carry-less one plus the carry in.
const _: () = assert!(
    CcKind::AddCarry as u8 == CcKind::Add as u8 + 1 && CcKind::SubBorrow as u8 == CcKind::Sub as u8 + 1
);
// The fast paths' address arithmetic depends on these.
const _: () = assert!(std::mem::size_of::<TlbEntry>() == 16);
const _: () = assert!(std::mem::size_of::<Segment>() == 32);
const _: () = assert!(std::mem::size_of::<JcEntry>() == 16);
const _: () =
    assert!(offset_of!(Lazy, kind) == 0 && offset_of!(Lazy, size) == 1 && offset_of!(Lazy, ovr) == 2);

/// Segment-register numbers as the ops keep them.
const SS: u8 = SegReg::Ss as u8;

/// Bits of the *flat mask*: which of ES, SS, DS have base 0 and no limits for reads and
/// writes (SS also 32 bits wide), so that a block translated with the bit set skips
/// their checks. Part of the stamp a block head compares.
pub(crate) fn flat_mask(st: &State) -> u8 {
    let flat = |s: &Segment| {
        s.base == 0 && s.rd_lo == 0 && s.rd_hi == u32::MAX && s.wr_lo == 0 && s.wr_hi == u32::MAX
    };
    let mut m = 0;
    for s in [SegReg::Es, SegReg::Ss, SegReg::Ds] {
        let seg = &st.segs[s as usize];
        if flat(seg) && (s != SegReg::Ss || seg.big()) {
            m |= 1 << s as u8;
        }
    }
    m
}

/// Where the shared pieces of the runtime are, as offsets into the arena.
#[derive(Clone, Copy, Default)]
pub(crate) struct Runtime {
    /// `extern "sysv64" fn(code: usize, st: *mut State) -> u64`.
    pub enter: usize,
    /// Write the guest registers back and return R8 to the dispatcher.
    pub exit: usize,
    /// Run the interpreter handler R9 points at (block length in R10D).
    pub op_thunk: usize,
    /// Condition R9D of the lazy flags into R8, preserving every other register.
    pub cond_thunk: usize,
    /// CF of the lazy flags into R8, preserving every other register.
    pub carry_thunk: usize,
    /// CF of the lazy flags into R9D (the common kinds inline, others through
    /// `carry_thunk`), preserving every register but R8 and the flags.
    pub carry: usize,
    /// Revalidate translation R9D in place (R8 = 1 if it may run), preserving every
    /// other register.
    pub revalidate_thunk: usize,
    /// A jump-cache miss for target R8D.
    pub miss: usize,
    pub len: usize,
}

/// Emit the runtime at executable address `base`.
pub(crate) fn runtime(base: usize) -> (Vec<u8>, Runtime) {
    let mut a = Asm::new(base);
    let mut rt = Runtime { enter: a.offset().0, ..Runtime::default() };
    dynasm!(a
        ; .arch x64
        ; push rbx ; push rbp ; push r12 ; push r13 ; push r14 ; push r15
        ; sub rsp, 8
        ; mov r15, rsi
        ; mov r13, QWORD [r15 + RAM_PTR]
        ; mov r14, QWORD [r15 + TLB_PTR]
        ; mov r8, rdi
    );
    load_regs(&mut a);
    dynasm!(a ; .arch x64 ; jmp r8);

    rt.exit = a.offset().0;
    store_regs(&mut a);
    dynasm!(a
        ; .arch x64
        ; mov rax, r8
        ; add rsp, 8
        ; pop r15 ; pop r14 ; pop r13 ; pop r12 ; pop rbp ; pop rbx
        ; ret
    );

    rt.op_thunk = a.offset().0;
    store_regs(&mut a);
    let run_op = super::native::run_op as *const () as usize as i64;
    dynasm!(a
        ; .arch x64
        ; mov rdi, r15
        ; mov rsi, r9
        ; mov edx, r10d
        ; mov rax, QWORD run_op
        ; sub rsp, 8
        ; call rax
        ; add rsp, 8
        ; mov r8, rax
    );
    load_regs(&mut a);
    dynasm!(a ; .arch x64 ; ret);

    let cond = super::native::condition as *const () as usize;
    let carry = super::native::carry as *const () as usize;
    let revalidate = super::native::revalidate as *const () as usize;
    for (which, f) in [(0, cond), (1, carry), (2, revalidate)] {
        match which {
            0 => rt.cond_thunk = a.offset().0,
            1 => rt.carry_thunk = a.offset().0,
            _ => rt.revalidate_thunk = a.offset().0,
        }
        let f = f as i64;
        dynasm!(a
            ; .arch x64
            ; push rax ; push rcx ; push rdx ; push rsi ; push rdi ; push r9 ; push r10 ; push r11
            ; sub rsp, 8
            ; mov rdi, r15
            ; mov esi, r9d
            ; mov rax, QWORD f
            ; call rax
            ; mov r8, rax
            ; add rsp, 8
            ; pop r11 ; pop r10 ; pop r9 ; pop rdi ; pop rsi ; pop rdx ; pop rcx ; pop rax
            ; ret
        );
    }

    rt.carry = a.offset().0;
    let slow = a.new_dynamic_label();
    let not_sub = a.new_dynamic_label();
    let not_add = a.new_dynamic_label();
    let not_logic = a.new_dynamic_label();
    let inc_dec = a.new_dynamic_label();
    let not_inc_dec = a.new_dynamic_label();
    dynasm!(a
        ; .arch x64
        ; mov r8d, DWORD [r15 + CC]
        ; test r8d, 0xFF_0000 // overrides: the general way
        ; jnz =>slow
        ; cmp r8b, CcKind::Sub as i8
        ; jne =>not_sub
        ; mov r9d, DWORD [r15 + CC_DST]
        ; cmp r9d, DWORD [r15 + CC_SRC]
        ; setb r9b
        ; movzx r9d, r9b
        ; ret
        ; =>not_sub
        ; cmp r8b, CcKind::Add as i8
        ; jne =>not_add
        ; mov r9d, DWORD [r15 + CC_RES]
        ; cmp r9d, DWORD [r15 + CC_DST]
        ; setb r9b
        ; movzx r9d, r9b
        ; ret
        ; =>not_add
        ; cmp r8b, CcKind::Logic as i8
        ; jne =>not_logic
        ; xor r9d, r9d
        ; ret
        ; =>not_logic
        ; cmp r8b, CcKind::Inc as i8
        ; je =>inc_dec
        ; cmp r8b, CcKind::Dec as i8
        ; jne =>not_inc_dec
        ; =>inc_dec
        ; mov r9d, DWORD [r15 + CC_SRC]
        ; ret
        ; =>not_inc_dec
        ; cmp r8b, CcKind::Eflags as i8
        ; jne =>slow
        ; mov r9d, DWORD [r15 + CC_SRC]
        ; and r9d, 1
        ; ret
        ; =>slow
        ; sub rsp, 8 // (the thunk expects the stack as a call from block code leaves it)
    );
    call_abs(&mut a, base, base + rt.carry_thunk);
    dynasm!(a
        ; .arch x64
        ; add rsp, 8
        ; mov r9d, r8d
        ; ret
    );

    rt.miss = a.offset().0;
    dynasm!(a
        ; .arch x64
        ; mov DWORD [r15 + EIP], r8d
        ; mov r8, QWORD X_INDIRECT as i64
    );
    jmp_abs(&mut a, base, base + rt.exit);
    let code = a.finalize().unwrap_or_default();
    rt.len = code.len();
    (code, rt)
}

fn load_regs(a: &mut Asm) {
    for (g, &h) in GUEST.iter().enumerate() {
        dynasm!(a ; .arch x64 ; mov Rd(h), DWORD [r15 + REGS + 4 * g as i32]);
    }
}

fn store_regs(a: &mut Asm) {
    for (g, &h) in GUEST.iter().enumerate() {
        dynasm!(a ; .arch x64 ; mov DWORD [r15 + REGS + 4 * g as i32], Rd(h));
    }
}

/// `jmp` to an absolute address (within ±2 GiB, as everything in the arena is).
fn jmp_abs(a: &mut Asm, base: usize, target: usize) {
    let here = base + a.offset().0 + 5;
    a.push(0xE9);
    a.push_i32(target.wrapping_sub(here) as i32);
}

fn call_abs(a: &mut Asm, base: usize, target: usize) {
    let here = base + a.offset().0 + 5;
    a.push(0xE8);
    a.push_i32(target.wrapping_sub(here) as i32);
}

/// `jcc` (condition `cc`, x86 encoding order) to an absolute address.
fn jcc_abs(a: &mut Asm, base: usize, cc: u8, target: usize) {
    let here = base + a.offset().0 + 6;
    a.push(0x0F);
    a.push(0x80 | (cc & 15));
    a.push_i32(target.wrapping_sub(here) as i32);
}

macro_rules! cc_dispatch {
    ($a:expr, $cc:expr, [$o:ident $no:ident $b:ident $ae:ident $e:ident $ne:ident $be:ident $aa:ident
      $s:ident $ns:ident $p:ident $np:ident $l:ident $ge:ident $le:ident $g:ident], $($t:tt)*) => {
        match $cc & 15 {
            0 => dynasm!($a ; .arch x64 ; $o $($t)*),
            1 => dynasm!($a ; .arch x64 ; $no $($t)*),
            2 => dynasm!($a ; .arch x64 ; $b $($t)*),
            3 => dynasm!($a ; .arch x64 ; $ae $($t)*),
            4 => dynasm!($a ; .arch x64 ; $e $($t)*),
            5 => dynasm!($a ; .arch x64 ; $ne $($t)*),
            6 => dynasm!($a ; .arch x64 ; $be $($t)*),
            7 => dynasm!($a ; .arch x64 ; $aa $($t)*),
            8 => dynasm!($a ; .arch x64 ; $s $($t)*),
            9 => dynasm!($a ; .arch x64 ; $ns $($t)*),
            10 => dynasm!($a ; .arch x64 ; $p $($t)*),
            11 => dynasm!($a ; .arch x64 ; $np $($t)*),
            12 => dynasm!($a ; .arch x64 ; $l $($t)*),
            13 => dynasm!($a ; .arch x64 ; $ge $($t)*),
            14 => dynasm!($a ; .arch x64 ; $le $($t)*),
            _ => dynasm!($a ; .arch x64 ; $g $($t)*),
        }
    };
}

macro_rules! jcc {
    ($a:expr, $cc:expr, $($t:tt)*) => {
        cc_dispatch!($a, $cc, [jo jno jb jae je jne jbe ja js jns jp jnp jl jge jle jg], $($t)*)
    };
}

macro_rules! setcc {
    ($a:expr, $cc:expr, $($t:tt)*) => {
        cc_dispatch!($a, $cc, [seto setno setb setae sete setne setbe seta sets setns setp setnp setl setge setle setg], $($t)*)
    };
}

macro_rules! cmovcc {
    ($a:expr, $cc:expr, $($t:tt)*) => {
        cc_dispatch!($a, $cc, [cmovo cmovno cmovb cmovae cmove cmovne cmovbe cmova cmovs cmovns cmovp cmovnp cmovl cmovge cmovle cmovg], $($t)*)
    };
}

/// The two-operand ALU operations translated natively (ADC/SBB go to their handlers).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Alu {
    Add,
    Or,
    And,
    Sub,
    Xor,
    Cmp,
    Test,
}

macro_rules! alu_dispatch {
    ($a:expr, $op:expr, $($t:tt)*) => {
        match $op {
            Alu::Add => dynasm!($a ; .arch x64 ; add $($t)*),
            Alu::Or => dynasm!($a ; .arch x64 ; or $($t)*),
            Alu::And => dynasm!($a ; .arch x64 ; and $($t)*),
            Alu::Sub => dynasm!($a ; .arch x64 ; sub $($t)*),
            Alu::Xor => dynasm!($a ; .arch x64 ; xor $($t)*),
            Alu::Cmp => dynasm!($a ; .arch x64 ; cmp $($t)*),
            Alu::Test => dynasm!($a ; .arch x64 ; test $($t)*),
        }
    };
}

impl Alu {
    fn kind(self) -> CcKind {
        match self {
            Alu::Add => CcKind::Add,
            Alu::Sub | Alu::Cmp => CcKind::Sub,
            _ => CcKind::Logic,
        }
    }

    fn writes(self) -> bool {
        !matches!(self, Alu::Cmp | Alu::Test)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Unary {
    Not,
    Neg,
    Inc,
    Dec,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shift {
    Shl,
    Shr,
    Sar,
    Rol,
    Ror,
}

/// An operand: a host register (holding a guest register, or its low byte or word), the
/// instruction's memory operand, or an immediate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Opd {
    R(u8),
    M,
    I(u32),
}

/// How one instruction is translated.
#[derive(Clone, Copy, Debug)]
enum How {
    /// A call to its interpreter handler.
    Helper,
    Mov {
        w: u32,
        dst: Opd,
        src: Opd,
    },
    Movx {
        wd: u32,
        ws: u32,
        signed: bool,
        dst: u8,
        src: Opd,
    },
    Lea {
        dst: u8,
    },
    Alu {
        op: Alu,
        w: u32,
        dst: Opd,
        src: Opd,
    },
    Unary {
        op: Unary,
        w: u32,
        dst: Opd,
    },
    /// Count: an immediate (masked, not 0) or CL (`None`).
    Shift {
        op: Shift,
        w: u32,
        dst: Opd,
        count: Option<u8>,
    },
    Imul {
        dst: u8,
        src: Opd,
        imm: Option<u32>,
    },
    /// One-operand MUL and IMUL: EDX:EAX = EAX times the operand.
    MulWide {
        signed: bool,
        src: Opd,
    },
    /// DIV and IDIV of EDX:EAX: the division natively, #DE (or a quotient that does
    /// not fit) through the handler.
    Div {
        signed: bool,
        src: Opd,
    },
    /// ADC and SBB into a register (carry in from the guest's CF).
    Adc {
        sub: bool,
        dst: u8,
        src: Opd,
    },
    /// SHLD and SHRD of registers; count: an immediate (masked) or CL (`None`).
    Shld {
        left: bool,
        dst: u8,
        src: u8,
        count: Option<u8>,
    },
    Xchg {
        w: u32,
        a: u8,
        b: u8,
    },
    Cdq,
    Cwde,
    Nop,
    Push {
        src: Opd,
    },
    Pop {
        dst: u8,
    },
    Setcc {
        cc: u8,
        dst: u8,
    },
    Cmov {
        cc: u8,
        w: u32,
        dst: u8,
        src: u8,
    },
    Jmp {
        target: u32,
    },
    Jcc {
        cc: u8,
        target: u32,
    },
    Call {
        target: u32,
    },
    Ret {
        extra: u32,
    },
    JmpInd {
        src: Opd,
    },
    CallInd {
        src: Opd,
    },
}

/// What an instruction does to the flags, for [`liveness`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fx {
    /// Neither reads nor writes them, and cannot exit.
    None,
    /// Overwrites all six without reading them, and cannot exit.
    Kill,
    /// Changes some; what it leaves is observable only if its own flags are.
    Update,
    /// Reads them, or may exit (so they must be exact before it).
    Use,
}

/// What the translator is given about the block.
pub(crate) struct Input<'a> {
    /// The translation's id (carried by its stop exits).
    pub id: u32,
    pub eip: u32,
    pub next_eip: u32,
    pub user: bool,
    /// [`flat_mask`] when it was translated.
    pub flat: u8,
    pub cs_limit: u32,
    pub insns: &'a [Instruction],
    /// The block's ops (exact handlers), in the translator's table: generated code
    /// passes their addresses to handlers.
    pub ops: &'a [Op],
    /// The id of the first link site this block gets.
    pub first_site: u32,
    /// Executable address `code[0]` will have (8-aligned).
    pub base: usize,
    /// Executable address of the arena's start.
    pub arena: usize,
    pub rt: Runtime,
    pub jcache: &'a JumpCache,
}

/// A translated block.
pub(crate) struct Output {
    pub code: Vec<u8>,
    /// Offset of the head (the stamp is the 8 bytes before it).
    pub entry: usize,
    /// Its link sites: offset of each patchable rel32 and of the stub it starts out at.
    pub sites: Vec<(usize, usize)>,
    /// Instructions translated natively (the rest call their handlers).
    pub native: u32,
}

/// What the host's flags currently hold: the flags of the last producer, computed at
/// width `w`, trustworthy for conditions on CF (`cf`) and OF (`of`).
#[derive(Clone, Copy)]
struct HostFlags {
    cf: bool,
    of: bool,
}

struct Slow {
    label: DynamicLabel,
    insn: usize,
    resume: DynamicLabel,
    /// After the handler: go on at `resume`, or dispatch on the EIP it set.
    indirect: bool,
}

struct Emitter<'a> {
    a: Asm,
    inp: &'a Input<'a>,
    live: Vec<bool>,
    /// The lazy flags in `State::cc` are those of a producer of this kind and width, run
    /// natively in this block (no overrides).
    known: Option<(CcKind, u32)>,
    host: Option<HostFlags>,
    stops: Vec<(DynamicLabel, usize)>,
    slows: Vec<Slow>,
    /// (stub label, patch offset, target EIP).
    sites: Vec<(DynamicLabel, usize, u32)>,
    loop_entry: DynamicLabel,
    /// The slow path of the instruction being emitted, if it has one.
    cur_slow: Option<(DynamicLabel, DynamicLabel)>,
    cur: usize,
}

/// Translate a block. `None` if it cannot be (the interpreter keeps running it).
pub(crate) fn translate(inp: &Input) -> Option<Output> {
    if inp.insns.len() != inp.ops.len() || inp.insns.is_empty() {
        return None;
    }
    let hows: Vec<How> = Vec::with_capacity(inp.insns.len());
    let mut a = Asm::new(inp.base);
    let loop_entry = a.new_dynamic_label();
    let mut e = Emitter {
        a,
        inp,
        live: vec![false; inp.insns.len()],
        known: None,
        host: None,
        stops: Vec::new(),
        slows: Vec::new(),
        sites: Vec::new(),
        loop_entry,
        cur_slow: None,
        cur: 0,
    };
    let hows = e.plan_all(hows);
    if !Emitter::worth_it(&hows) {
        return None;
    }
    e.emit_block(&hows)
}

impl<'a> Emitter<'a> {
    // ---- planning ----

    /// Decide how to translate each instruction and compute which flags are live
    /// (backwards: the decision for an instruction may depend on whether its flags are).
    fn plan_all(&mut self, mut hows: Vec<How>) -> Vec<How> {
        let n = self.inp.insns.len();
        hows.resize(n, How::Helper);
        let mut live = true;
        for i in (0..n).rev() {
            self.live[i] = live;
            let how = self.plan(i, live);
            hows[i] = how;
            live = match fx(how) {
                Fx::None => live,
                Fx::Kill => false,
                Fx::Update => live,
                Fx::Use => true,
            };
        }
        hows
    }

    /// Operand `k` of instruction `i`, if the translator handles it.
    fn operand(&self, i: usize, k: u32) -> Option<Opd> {
        let ins = &self.inp.insns[i];
        match ins.op_kind(k) {
            OpKind::Register => {
                let r = ins.op_register(k);
                if r.is_gpr32() || r.is_gpr16() {
                    Some(Opd::R(GUEST[r.number() & 7]))
                } else if r.is_gpr8() && r.number() < 4 {
                    Some(Opd::R(GUEST[r.number()]))
                } else {
                    None
                }
            }
            OpKind::Memory => {
                let op = &self.inp.ops[i];
                // 32-bit addressing only (16-bit address arithmetic goes to the handler).
                (op.amask == u32::MAX && op.seg < 6).then_some(Opd::M)
            }
            OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32 => Some(Opd::I(ins.immediate(k) as u32)),
            _ => None,
        }
    }

    fn size(&self, i: usize, k: u32) -> u32 {
        let ins = &self.inp.insns[i];
        match ins.op_kind(k) {
            OpKind::Register => ins.op_register(k).size() as u32,
            OpKind::Memory => ins.memory_size().size() as u32,
            _ => 0,
        }
    }

    fn flat(&self, seg: u8) -> bool {
        seg < 8 && self.inp.flat & (1 << seg) != 0
    }

    fn plan(&self, i: usize, live: bool) -> How {
        let ins = &self.inp.insns[i];
        if ins.is_invalid() || ins.has_lock_prefix() || ins.has_rep_prefix() || ins.has_repne_prefix() {
            return How::Helper;
        }
        let o = |k| self.operand(i, k);
        let w0 = self.size(i, 0);
        let width_ok = matches!(w0, 1 | 2 | 4);
        let stack_ok = self.flat(SS);
        let branch_ok = |t: u32| t <= self.inp.cs_limit;
        use Mnemonic as M;
        match ins.mnemonic() {
            M::Mov if ins.op_count() == 2 && width_ok => match (o(0), o(1)) {
                (Some(dst @ (Opd::R(_) | Opd::M)), Some(src)) if !(dst == Opd::M && src == Opd::M) => {
                    How::Mov { w: w0, dst, src }
                }
                _ => How::Helper,
            },
            M::Movzx | M::Movsx => match (o(0), o(1)) {
                (Some(Opd::R(dst)), Some(src @ (Opd::R(_) | Opd::M))) => {
                    How::Movx { wd: w0, ws: self.size(i, 1), signed: ins.mnemonic() == M::Movsx, dst, src }
                }
                _ => How::Helper,
            },
            M::Lea if w0 == 4 && self.inp.ops[i].amask == u32::MAX => match o(0) {
                Some(Opd::R(dst)) => How::Lea { dst },
                _ => How::Helper,
            },
            m @ (M::Add | M::Or | M::And | M::Sub | M::Xor | M::Cmp | M::Test) if width_ok => {
                let op = match m {
                    M::Add => Alu::Add,
                    M::Or => Alu::Or,
                    M::And => Alu::And,
                    M::Sub => Alu::Sub,
                    M::Xor => Alu::Xor,
                    M::Cmp => Alu::Cmp,
                    _ => Alu::Test,
                };
                match (o(0), o(1)) {
                    (Some(dst @ (Opd::R(_) | Opd::M)), Some(src)) => How::Alu { op, w: w0, dst, src },
                    _ => How::Helper,
                }
            }
            m @ (M::Not | M::Neg | M::Inc | M::Dec) if width_ok => {
                let op = match m {
                    M::Not => Unary::Not,
                    M::Neg => Unary::Neg,
                    M::Inc => Unary::Inc,
                    _ => Unary::Dec,
                };
                match o(0) {
                    Some(dst @ (Opd::R(_) | Opd::M)) => How::Unary { op, w: w0, dst },
                    _ => How::Helper,
                }
            }
            m @ (M::Shl | M::Sal | M::Shr | M::Sar | M::Rol | M::Ror) if width_ok && ins.op_count() == 2 => {
                let op = match m {
                    M::Shr => Shift::Shr,
                    M::Sar => Shift::Sar,
                    M::Rol => Shift::Rol,
                    M::Ror => Shift::Ror,
                    _ => Shift::Shl,
                };
                let count = match ins.op_kind(1) {
                    OpKind::Immediate8 => Some((ins.immediate(1) as u32 & 0x1F) as u8),
                    OpKind::Register if ins.op_register(1) == Register::CL => None,
                    _ => return How::Helper,
                };
                let rotate = matches!(op, Shift::Rol | Shift::Ror);
                // A zero count changes nothing (not even flags); a count from CL may be
                // zero; rotates set CF and OF only: all three only when the flags are dead.
                // (Except a 32-bit register shifted by CL: its record is stored only when
                // the count is not zero, with a test in the generated code.)
                let cl_ok = count.is_none() && !rotate && w0 == 4 && matches!(o(0), Some(Opd::R(_)));
                if (count.is_none() || count == Some(0) || rotate) && live && !cl_ok {
                    return How::Helper;
                }
                match o(0) {
                    Some(dst @ (Opd::R(_) | Opd::M)) => How::Shift { op, w: w0, dst, count },
                    _ => How::Helper,
                }
            }
            M::Imul if w0 == 4 && ins.op_count() >= 2 => match (o(0), o(1)) {
                (Some(Opd::R(dst)), Some(src @ (Opd::R(_) | Opd::M))) => {
                    let imm = if ins.op_count() == 3 { Some(ins.immediate(2) as u32) } else { None };
                    How::Imul { dst, src, imm }
                }
                _ => How::Helper,
            },
            // The wide multiplies, the divisions and ADC/SBB of 32-bit operands: what 64-bit
            // arithmetic on a 32-bit CPU is made of (hashes, random numbers, `u64` code).
            m @ (M::Mul | M::Imul) if w0 == 4 && ins.op_count() == 1 => match o(0) {
                Some(src @ (Opd::R(_) | Opd::M)) => How::MulWide { signed: m == M::Imul, src },
                _ => How::Helper,
            },
            m @ (M::Div | M::Idiv) if w0 == 4 && ins.op_count() == 1 => match o(0) {
                Some(src @ (Opd::R(_) | Opd::M)) => How::Div { signed: m == M::Idiv, src },
                _ => How::Helper,
            },
            m @ (M::Adc | M::Sbb) if w0 == 4 => match (o(0), o(1)) {
                (Some(Opd::R(dst)), Some(src)) => How::Adc { sub: m == M::Sbb, dst, src },
                _ => How::Helper,
            },
            m @ (M::Shld | M::Shrd) if w0 == 4 && !live && ins.op_count() == 3 => {
                let count = match ins.op_kind(2) {
                    OpKind::Immediate8 => Some((ins.immediate(2) as u32 & 0x1F) as u8),
                    OpKind::Register if ins.op_register(2) == Register::CL => None,
                    _ => return How::Helper,
                };
                match (o(0), o(1)) {
                    (Some(Opd::R(dst)), Some(Opd::R(src))) => {
                        How::Shld { left: m == M::Shld, dst, src, count }
                    }
                    _ => How::Helper,
                }
            }
            M::Xchg if width_ok => match (o(0), o(1)) {
                (Some(Opd::R(a)), Some(Opd::R(b))) => How::Xchg { w: w0, a, b },
                _ => How::Helper,
            },
            M::Cdq => How::Cdq,
            M::Cwde => How::Cwde,
            M::Nop => How::Nop,
            M::Push if stack_ok && ins.stack_pointer_increment() == -4 => match o(0) {
                Some(src @ (Opd::R(_) | Opd::I(_))) if ins.op_kind(0) != OpKind::Register || w0 == 4 => {
                    How::Push { src }
                }
                Some(Opd::M) if w0 == 4 => How::Push { src: Opd::M },
                _ => How::Helper,
            },
            M::Pop if stack_ok && ins.stack_pointer_increment() == 4 => match o(0) {
                Some(Opd::R(dst)) if w0 == 4 => How::Pop { dst },
                _ => How::Helper,
            },
            m if is_setcc(m) => match o(0) {
                Some(Opd::R(dst)) => How::Setcc { cc: cc_of(ins), dst },
                _ => How::Helper,
            },
            m if is_cmov(m) => match (o(0), o(1)) {
                (Some(Opd::R(dst)), Some(Opd::R(src))) => How::Cmov { cc: cc_of(ins), w: w0, dst, src },
                _ => How::Helper,
            },
            M::Jmp if ins.op_kind(0) == OpKind::NearBranch32 && branch_ok(ins.near_branch32()) => {
                How::Jmp { target: ins.near_branch32() }
            }
            // (Near only: a far pointer `m16:16` is four bytes too.)
            M::Jmp if ins.code() == Code::Jmp_rm32 => match o(0) {
                Some(src @ (Opd::R(_) | Opd::M)) => How::JmpInd { src },
                _ => How::Helper,
            },
            m if is_jcc(m) && ins.op_kind(0) == OpKind::NearBranch32 && branch_ok(ins.near_branch32()) => {
                How::Jcc { cc: cc_of(ins), target: ins.near_branch32() }
            }
            M::Call
                if stack_ok && ins.op_kind(0) == OpKind::NearBranch32 && branch_ok(ins.near_branch32()) =>
            {
                How::Call { target: ins.near_branch32() }
            }
            M::Call if stack_ok && ins.code() == Code::Call_rm32 => match o(0) {
                Some(src @ (Opd::R(_) | Opd::M)) => How::CallInd { src },
                _ => How::Helper,
            },
            M::Ret
                if stack_ok && ins.stack_pointer_increment() >= 4 && ins.op_code().operand_size() != 16 =>
            {
                How::Ret { extra: ins.stack_pointer_increment() as u32 - 4 }
            }
            _ => How::Helper,
        }
    }

    // ---- emission ----

    fn emit_block(mut self, hows: &[How]) -> Option<Output> {
        let inp = self.inp;
        let n = inp.insns.len();
        let slot = self.a.new_dynamic_label();
        let stale = self.a.new_dynamic_label();
        let budget = self.a.new_dynamic_label();
        let loop_entry = self.loop_entry;
        dynasm!(self.a
            ; .arch x64
            ; =>slot
            ; .u64 u64::MAX
        );
        let entry = self.a.offset().0;
        dynasm!(self.a
            ; .arch x64
            ; mov r8, QWORD [r15 + STAMP]
            ; cmp r8, QWORD [=>slot]
            ; jne =>stale
            ; =>loop_entry
            ; sub QWORD [r15 + LEFT], n as i32
            ; jb =>budget
        );
        let mut native = 0;
        for (i, &how) in hows.iter().enumerate() {
            self.cur = i;
            self.cur_slow = None;
            if !matches!(how, How::Helper) {
                native += 1;
            }
            self.emit(i, how);
            if let Some((_, resume)) = self.cur_slow.take() {
                dynasm!(self.a ; .arch x64 ; =>resume);
                // The slow path ran the handler: the host's flags are not the producer's,
                // and State::cc holds what the handler stored.
                self.host = None;
                if !self.live[i] {
                    self.known = None;
                }
            }
        }
        let last = &inp.insns[n - 1];
        if last.flow_control() == FlowControl::Next || matches!(hows[n - 1], How::Nop) {
            self.link(None, inp.next_eip);
        }

        // Out of line: slow paths, then stops, sites, and the head's two exits.
        let slows = std::mem::take(&mut self.slows);
        for s in &slows {
            dynasm!(self.a ; .arch x64 ; =>s.label);
            self.call_handler(s.insn);
            if s.indirect {
                dynasm!(self.a ; .arch x64 ; mov r8d, DWORD [r15 + EIP]);
                self.dispatch();
            } else {
                dynasm!(self.a ; .arch x64 ; jmp =>s.resume);
            }
        }
        let exit = inp.arena + inp.rt.exit;
        let stops = std::mem::take(&mut self.stops);
        for &(label, i) in &stops {
            let code = X_STOP | (inp.id as u64) << 8 | (i as u64) << 40;
            dynasm!(self.a ; .arch x64 ; =>label ; mov r8, QWORD code as i64);
            jmp_abs(&mut self.a, inp.base, exit);
        }
        let sites = std::mem::take(&mut self.sites);
        let mut out_sites = Vec::with_capacity(sites.len());
        for (k, &(label, at, target)) in sites.iter().enumerate() {
            let stub = self.a.offset().0;
            let code = X_CHAIN | (inp.first_site as u64 + k as u64) << 8;
            dynasm!(self.a
                ; .arch x64
                ; =>label
                ; mov DWORD [r15 + EIP], target as i32
                ; mov r8, QWORD code as i64
            );
            jmp_abs(&mut self.a, inp.base, exit);
            out_sites.push((at, stub));
        }
        // A stale stamp: revalidate in place (the block's page may well still be mapped and
        // unchanged after a TLB flush); if it is not valid, the dispatcher looks again. But
        // first the budget: a block it does not reach must not even revalidate itself (a
        // failed page walk would set CR2, a successful one accessed bits, where the
        // interpreter, stopping before this block, does neither).
        let code = X_STALE | (inp.id as u64) << 8;
        let stale_budget = self.a.new_dynamic_label();
        dynasm!(self.a
            ; .arch x64
            ; =>stale
            ; cmp QWORD [r15 + LEFT], n as i32
            ; jb =>stale_budget
            ; mov r9d, inp.id as i32
        );
        call_abs(&mut self.a, inp.base, inp.arena + inp.rt.revalidate_thunk);
        dynasm!(self.a
            ; .arch x64
            ; test r8d, r8d
            ; jnz =>loop_entry
            ; mov DWORD [r15 + EIP], inp.eip as i32
            ; mov r8, QWORD code as i64
        );
        jmp_abs(&mut self.a, inp.base, exit);
        let code = X_BUDGET | (inp.id as u64) << 8;
        dynasm!(self.a
            ; .arch x64
            ; =>budget
            ; add QWORD [r15 + LEFT], n as i32
            ; =>stale_budget
            ; mov DWORD [r15 + EIP], inp.eip as i32
            ; mov r8, QWORD code as i64
        );
        jmp_abs(&mut self.a, inp.base, exit);
        let code = self.a.finalize().ok()?;
        Some(Output { code, entry, sites: out_sites, native })
    }

    /// Whether translating is worth it: a handler called from translated code costs
    /// more than the interpreter's own dispatch, so a block that is mostly handler calls
    /// (trap entry and exit paths, string instructions) is left to the interpreter.
    fn worth_it(hows: &[How]) -> bool {
        let helpers = hows.iter().filter(|h| matches!(h, How::Helper)).count();
        hows.len() - helpers >= 2 * helpers
    }

    /// The label of instruction `i`'s stop exit.
    fn stop_label(&mut self, i: usize) -> DynamicLabel {
        if let Some(&(l, _)) = self.stops.iter().find(|(_, k)| *k == i) {
            return l;
        }
        let l = self.a.new_dynamic_label();
        self.stops.push((l, i));
        l
    }

    /// Call instruction `i`'s interpreter handler (EIP set as the interpreter would have
    /// it); a stop leaves the block.
    fn call_handler(&mut self, i: usize) {
        let inp = self.inp;
        let op = &inp.ops[i] as *const Op as usize as i64;
        // Bit 31: the handler may change what the block was translated for.
        let n = inp.insns.len() as i32 | (restamps(&inp.insns[i]) as i32) << 31;
        dynasm!(self.a
            ; .arch x64
            ; mov DWORD [r15 + EIP], inp.next_eip as i32
            ; mov r9, QWORD op
            ; mov r10d, n
        );
        call_abs(&mut self.a, inp.base, inp.arena + inp.rt.op_thunk);
        let stop = self.stop_label(i);
        dynasm!(self.a
            ; .arch x64
            ; test r8, r8
            ; jnz =>stop
        );
    }

    /// The slow path of the current instruction (made on first use).
    fn slow(&mut self, indirect: bool) -> DynamicLabel {
        if let Some((l, _)) = self.cur_slow {
            return l;
        }
        let label = self.a.new_dynamic_label();
        let resume = self.a.new_dynamic_label();
        self.slows.push(Slow { label, insn: self.cur, resume, indirect });
        self.cur_slow = Some((label, resume));
        label
    }

    /// A direct jump (`cc`: conditional) to `target`: a patchable site, or the block's own
    /// loop entry.
    fn link(&mut self, cc: Option<u8>, target: u32) {
        if target == self.inp.eip {
            let l = self.loop_entry;
            match cc {
                Some(cc) => jcc!(self.a, cc, =>l),
                None => dynasm!(self.a ; .arch x64 ; jmp =>l),
            }
            return;
        }
        let stub = self.a.new_dynamic_label();
        match cc {
            Some(cc) => jcc!(self.a, cc, =>stub),
            None => dynasm!(self.a ; .arch x64 ; jmp =>stub),
        }
        let at = self.a.offset().0 - 4;
        self.sites.push((stub, at, target));
    }

    /// Jump to the translation of EIP = R8D through the jump cache.
    fn dispatch(&mut self) {
        let inp = self.inp;
        let table = inp.jcache.half(inp.user) as i64;
        let mask = (super::JC_SIZE - 1) as i32;
        dynasm!(self.a
            ; .arch x64
            ; mov r9d, r8d
            ; shr r9d, 12
            ; xor r9d, r8d
            ; and r9d, mask
            ; shl r9d, 4
            ; mov r10, QWORD table
            ; cmp r8d, DWORD [r10 + r9]
        );
        jcc_abs(&mut self.a, inp.base, 5, inp.arena + inp.rt.miss);
        dynasm!(self.a ; .arch x64 ; jmp QWORD [r10 + r9 + JC_CODE]);
    }

    // ---- memory ----

    /// R8D = the effective address of instruction `i`'s memory operand.
    fn ea(&mut self, i: usize) {
        let op = &self.inp.ops[i];
        let disp = op.disp as i32;
        let host = |r: u8| GUEST[r as usize & 7];
        match (op.base != REG_NONE, op.index != REG_NONE) {
            (false, false) => dynasm!(self.a ; .arch x64 ; mov r8d, disp),
            (true, false) => dynasm!(self.a ; .arch x64 ; lea r8d, [Rq(host(op.base)) + disp]),
            (false, true) => {
                let x = host(op.index);
                match op.scale {
                    0 => dynasm!(self.a ; .arch x64 ; lea r8d, [Rq(x) + disp]),
                    1 => dynasm!(self.a ; .arch x64 ; lea r8d, [Rq(x) * 2 + disp]),
                    2 => dynasm!(self.a ; .arch x64 ; lea r8d, [Rq(x) * 4 + disp]),
                    _ => dynasm!(self.a ; .arch x64 ; lea r8d, [Rq(x) * 8 + disp]),
                }
            }
            (true, true) => {
                let (b, x) = (host(op.base), host(op.index));
                match op.scale {
                    0 => dynasm!(self.a ; .arch x64 ; lea r8d, [Rq(b) + Rq(x) + disp]),
                    1 => dynasm!(self.a ; .arch x64 ; lea r8d, [Rq(b) + Rq(x) * 2 + disp]),
                    2 => dynasm!(self.a ; .arch x64 ; lea r8d, [Rq(b) + Rq(x) * 4 + disp]),
                    _ => dynasm!(self.a ; .arch x64 ; lea r8d, [Rq(b) + Rq(x) * 8 + disp]),
                }
            }
        }
    }

    /// LEA into a guest register.
    fn lea(&mut self, i: usize, dst: u8) {
        let op = &self.inp.ops[i];
        let disp = op.disp as i32;
        let host = |r: u8| GUEST[r as usize & 7];
        match (op.base != REG_NONE, op.index != REG_NONE) {
            (false, false) => dynasm!(self.a ; .arch x64 ; mov Rd(dst), disp),
            (true, false) => dynasm!(self.a ; .arch x64 ; lea Rd(dst), [Rq(host(op.base)) + disp]),
            (false, true) => {
                let x = host(op.index);
                match op.scale {
                    0 => dynasm!(self.a ; .arch x64 ; lea Rd(dst), [Rq(x) + disp]),
                    1 => dynasm!(self.a ; .arch x64 ; lea Rd(dst), [Rq(x) * 2 + disp]),
                    2 => dynasm!(self.a ; .arch x64 ; lea Rd(dst), [Rq(x) * 4 + disp]),
                    _ => dynasm!(self.a ; .arch x64 ; lea Rd(dst), [Rq(x) * 8 + disp]),
                }
            }
            (true, true) => {
                let (b, x) = (host(op.base), host(op.index));
                match op.scale {
                    0 => dynasm!(self.a ; .arch x64 ; lea Rd(dst), [Rq(b) + Rq(x) + disp]),
                    1 => dynasm!(self.a ; .arch x64 ; lea Rd(dst), [Rq(b) + Rq(x) * 2 + disp]),
                    2 => dynasm!(self.a ; .arch x64 ; lea Rd(dst), [Rq(b) + Rq(x) * 4 + disp]),
                    _ => dynasm!(self.a ; .arch x64 ; lea Rd(dst), [Rq(b) + Rq(x) * 8 + disp]),
                }
            }
        }
    }

    /// Check offset R8D against segment `seg` for an access of `n` bytes and turn it
    /// into a linear address (nothing to do for a flat segment).
    fn segment(&mut self, seg: u8, n: u32, write: bool, slow: DynamicLabel) {
        if self.flat(seg) {
            return;
        }
        let s = SEGS + 32 * seg as i32;
        let (lo, hi) = if write { (SEG_WR_LO, SEG_WR_HI) } else { (SEG_RD_LO, SEG_RD_HI) };
        let last = n as i32 - 1;
        dynasm!(self.a
            ; .arch x64
            ; cmp r8d, DWORD [r15 + s + lo]
            ; jb =>slow
            ; lea r9, [r8 + last]
            ; mov r10d, DWORD [r15 + s + hi]
            ; cmp r9, r10
            ; ja =>slow
            ; add r8d, DWORD [r15 + s + SEG_BASE]
        );
    }

    /// Probe the TLB for linear address R8D: on a hit (aligned, in one page, readable or
    /// fast-writable) the data is at `[R13 + R10]`.
    fn tlb(&mut self, n: u32, write: bool, slow: DynamicLabel) {
        let half = if self.inp.user { (TLB_ENTRIES * 16) as i32 } else { 0 };
        let tag = half + if write { TLB_WTAG } else { TLB_RTAG };
        let add = half + TLB_ADDEND;
        let mask = (PAGE_MASK | (n - 1)) as i32;
        dynasm!(self.a
            ; .arch x64
            ; mov r9d, r8d
            ; shr r9d, 8
            ; and r9d, 0x3FF0
            ; mov r10d, r8d
            ; and r10d, mask
            ; cmp r10d, DWORD [r14 + r9 + tag]
            ; jne =>slow
            ; mov r10d, DWORD [r14 + r9 + add]
            ; add r10d, r8d
        );
        self.host = None;
    }

    /// Address instruction `i`'s memory operand (`n` bytes) through the fast path.
    fn probe(&mut self, i: usize, n: u32, write: bool) {
        let slow = self.slow(false);
        self.ea(i);
        let seg = self.inp.ops[i].seg;
        self.segment(seg, n, write, slow);
        self.tlb(n, write, slow);
    }

    /// R`d` = the zero-extended `w`-byte value at [R13 + R10].
    fn load(&mut self, w: u32, d: u8) {
        match w {
            1 => dynasm!(self.a ; .arch x64 ; movzx Rd(d), BYTE [r13 + r10]),
            2 => dynasm!(self.a ; .arch x64 ; movzx Rd(d), WORD [r13 + r10]),
            _ => dynasm!(self.a ; .arch x64 ; mov Rd(d), DWORD [r13 + r10]),
        }
    }

    /// [R13 + R10] = the low `w` bytes of `src` (a register or an immediate).
    fn store(&mut self, w: u32, src: Opd) {
        match (w, src) {
            (1, Opd::R(s)) => dynasm!(self.a ; .arch x64 ; mov BYTE [r13 + r10], Rb(s)),
            (2, Opd::R(s)) => dynasm!(self.a ; .arch x64 ; mov WORD [r13 + r10], Rw(s)),
            (_, Opd::R(s)) => dynasm!(self.a ; .arch x64 ; mov DWORD [r13 + r10], Rd(s)),
            (1, Opd::I(v)) => dynasm!(self.a ; .arch x64 ; mov BYTE [r13 + r10], v as i8),
            (2, Opd::I(v)) => dynasm!(self.a ; .arch x64 ; mov WORD [r13 + r10], v as i16),
            (_, Opd::I(v)) => dynasm!(self.a ; .arch x64 ; mov DWORD [r13 + r10], v as i32),
            (_, Opd::M) => {}
        }
    }

    /// R`d` (32 bits) = the low `w` bytes of R`s`, zero-extended.
    fn zext(&mut self, w: u32, d: u8, s: u8) {
        match w {
            1 => dynasm!(self.a ; .arch x64 ; movzx Rd(d), Rb(s)),
            2 => dynasm!(self.a ; .arch x64 ; movzx Rd(d), Rw(s)),
            _ => {
                if d != s {
                    dynasm!(self.a ; .arch x64 ; mov Rd(d), Rd(s))
                }
            }
        }
    }

    // ---- flags ----

    /// Store a lazy-flags record: kind and size (overrides cleared), then result and
    /// operands (each a register holding the value zero-extended, or an immediate).
    fn store_cc(&mut self, kind: CcKind, w: u32, res: Opd, dst: Option<Opd>, src: Option<Opd>) {
        let head = kind as u8 as i32 | (w as i32) << 8;
        dynasm!(self.a ; .arch x64 ; mov DWORD [r15 + CC], head);
        for (off, v) in [(CC_RES, Some(res)), (CC_DST, dst), (CC_SRC, src)] {
            match v {
                Some(Opd::R(r)) => dynasm!(self.a ; .arch x64 ; mov DWORD [r15 + off], Rd(r)),
                Some(Opd::I(x)) => dynasm!(self.a ; .arch x64 ; mov DWORD [r15 + off], x as i32),
                _ => {}
            }
        }
    }

    /// Put the host's flags in a state where condition `cc` (as returned) tests guest
    /// condition `cc`.
    fn condition(&mut self, cc: u8) -> u8 {
        let g = cc >> 1;
        let uses_cf = g == 1 || g == 3;
        let uses_of = g == 0 || g == 6 || g == 7;
        if let Some(h) = self.host
            && (!uses_cf || h.cf)
            && (!uses_of || h.of)
        {
            return cc;
        }
        if let Some((kind, w)) = self.known {
            let done = match (kind, w) {
                (CcKind::Sub, 1) => {
                    dynasm!(self.a ; .arch x64 ; mov r8d, DWORD [r15 + CC_DST] ; cmp r8b, BYTE [r15 + CC_SRC]);
                    true
                }
                (CcKind::Sub, 2) => {
                    dynasm!(self.a ; .arch x64 ; mov r8d, DWORD [r15 + CC_DST] ; cmp r8w, WORD [r15 + CC_SRC]);
                    true
                }
                (CcKind::Sub, _) => {
                    dynasm!(self.a ; .arch x64 ; mov r8d, DWORD [r15 + CC_DST] ; cmp r8d, DWORD [r15 + CC_SRC]);
                    true
                }
                (CcKind::Add, 1) => {
                    dynasm!(self.a ; .arch x64 ; mov r8d, DWORD [r15 + CC_DST] ; add r8b, BYTE [r15 + CC_SRC]);
                    true
                }
                (CcKind::Add, 2) => {
                    dynasm!(self.a ; .arch x64 ; mov r8d, DWORD [r15 + CC_DST] ; add r8w, WORD [r15 + CC_SRC]);
                    true
                }
                (CcKind::Add, _) => {
                    dynasm!(self.a ; .arch x64 ; mov r8d, DWORD [r15 + CC_DST] ; add r8d, DWORD [r15 + CC_SRC]);
                    true
                }
                (CcKind::Logic, 1) => {
                    dynasm!(self.a ; .arch x64 ; mov r8d, DWORD [r15 + CC_RES] ; test r8b, r8b);
                    true
                }
                (CcKind::Logic, 2) => {
                    dynasm!(self.a ; .arch x64 ; mov r8d, DWORD [r15 + CC_RES] ; test r8w, r8w);
                    true
                }
                (CcKind::Logic, _) => {
                    dynasm!(self.a ; .arch x64 ; mov r8d, DWORD [r15 + CC_RES] ; test r8d, r8d);
                    true
                }
                _ => false,
            };
            if done {
                self.host = Some(HostFlags { cf: true, of: true });
                return cc;
            }
        }
        // Unknown producer: the commonest records (a 32-bit CMP/SUB, a 32-bit logic
        // operation) are redone inline; anything else asks `Lazy::cond` and turns its
        // answer into flags for which `cc` holds or not, so one `jcc` follows either way.
        let not_sub = self.a.new_dynamic_label();
        let general = self.a.new_dynamic_label();
        let done = self.a.new_dynamic_label();
        let sub4 = CcKind::Sub as i32 | 4 << 8;
        let logic4 = CcKind::Logic as i32 | 4 << 8;
        dynasm!(self.a
            ; .arch x64
            ; mov r8d, DWORD [r15 + CC]
            ; and r8d, 0xFF_FFFF
            ; cmp r8d, sub4
            ; jne =>not_sub
            ; mov r8d, DWORD [r15 + CC_DST]
            ; cmp r8d, DWORD [r15 + CC_SRC]
            ; jmp =>done
            ; =>not_sub
            ; cmp r8d, logic4
            ; jne =>general
            ; mov r8d, DWORD [r15 + CC_RES]
            ; test r8d, r8d
            ; jmp =>done
            ; =>general
            ; mov r9d, cc as i32
        );
        let rt = self.inp.arena + self.inp.rt.cond_thunk;
        call_abs(&mut self.a, self.inp.base, rt);
        let ((ta, tb), (fa, fb)) = cmp_operands(cc);
        dynasm!(self.a
            ; .arch x64
            ; test r8d, r8d
            ; mov r8d, fa
            ; mov r9d, fb
            ; mov r10d, ta
            ; cmovnz r8d, r10d
            ; mov r10d, tb
            ; cmovnz r9d, r10d
            ; cmp r8d, r9d
            ; =>done
        );
        self.host = None;
        cc
    }

    /// R9D = the carry flag of the lazy flags (for INC and DEC, which keep it).
    fn carry(&mut self) {
        match self.known {
            Some((CcKind::Sub, _)) => dynasm!(self.a
                ; .arch x64
                ; mov r9d, DWORD [r15 + CC_DST]
                ; cmp r9d, DWORD [r15 + CC_SRC]
                ; setb r9b
                ; movzx r9d, r9b
            ),
            Some((CcKind::Add, _)) => dynasm!(self.a
                ; .arch x64
                ; mov r9d, DWORD [r15 + CC_RES]
                ; cmp r9d, DWORD [r15 + CC_DST]
                ; setb r9b
                ; movzx r9d, r9b
            ),
            Some((CcKind::Logic, _)) => dynasm!(self.a ; .arch x64 ; xor r9d, r9d),
            Some((CcKind::Inc | CcKind::Dec, _)) => {
                dynasm!(self.a ; .arch x64 ; mov r9d, DWORD [r15 + CC_SRC])
            }
            _ => {
                let rt = self.inp.arena + self.inp.rt.carry;
                call_abs(&mut self.a, self.inp.base, rt);
            }
        }
        self.host = None;
    }

    // ---- instructions ----

    fn emit(&mut self, i: usize, how: How) {
        match how {
            How::Helper => {
                self.call_handler(i);
                self.host = None;
                self.known = None;
                let ins = &self.inp.insns[i];
                if ins.flow_control() != FlowControl::Next {
                    dynasm!(self.a ; .arch x64 ; mov r8d, DWORD [r15 + EIP]);
                    self.dispatch();
                }
            }
            How::Mov { w, dst, src } => self.mov(i, w, dst, src),
            How::Movx { wd, ws, signed, dst, src } => self.movx(i, wd, ws, signed, dst, src),
            How::Lea { dst } => self.lea(i, dst),
            How::Alu { op, w, dst, src } => self.alu(i, op, w, dst, src),
            How::Unary { op, w, dst } => self.unary(i, op, w, dst),
            How::Shift { op, w, dst, count } => self.shift(i, op, w, dst, count),
            How::Imul { dst, src, imm } => self.imul(i, dst, src, imm),
            How::MulWide { signed, src } => self.mul_wide(i, signed, src),
            How::Div { signed, src } => self.div(i, signed, src),
            How::Adc { sub, dst, src } => self.adc(i, sub, dst, src),
            How::Shld { left, dst, src, count } => self.shld(left, dst, src, count),
            How::Xchg { w, a, b } => match w {
                1 => dynasm!(self.a ; .arch x64 ; xchg Rb(a), Rb(b)),
                2 => dynasm!(self.a ; .arch x64 ; xchg Rw(a), Rw(b)),
                _ => dynasm!(self.a ; .arch x64 ; xchg Rd(a), Rd(b)),
            },
            How::Cdq => dynasm!(self.a ; .arch x64 ; cdq),
            How::Cwde => dynasm!(self.a ; .arch x64 ; cwde),
            How::Nop => {}
            How::Push { src } => {
                // (A memory operand is read first, at an address ESP before the push.)
                let src = match src {
                    Opd::M => Opd::R(self.source32(i, src)),
                    other => other,
                };
                let slow = self.slow(false);
                dynasm!(self.a ; .arch x64 ; lea r8d, [r12 - 4]);
                self.tlb(4, true, slow);
                self.store(4, src);
                dynasm!(self.a ; .arch x64 ; mov r12d, r8d);
            }
            How::Pop { dst } => {
                let slow = self.slow(false);
                dynasm!(self.a ; .arch x64 ; mov r8d, r12d);
                self.tlb(4, false, slow);
                self.load(4, S3);
                dynasm!(self.a
                    ; .arch x64
                    ; lea r12d, [r12 + 4]
                    ; mov Rd(dst), r11d
                );
            }
            How::Setcc { cc, dst } => {
                let cc = self.condition(cc);
                setcc!(self.a, cc, Rb(dst));
            }
            How::Cmov { cc, w, dst, src } => {
                let cc = self.condition(cc);
                if w == 2 {
                    cmovcc!(self.a, cc, Rw(dst), Rw(src));
                } else {
                    cmovcc!(self.a, cc, Rd(dst), Rd(src));
                }
            }
            How::Jmp { target } => self.link(None, target),
            How::Jcc { cc, target } => {
                let cc = self.condition(cc);
                self.link(Some(cc), target);
                let next = self.inp.insns[i].next_ip32();
                self.link(None, next);
            }
            How::Call { target } => {
                let slow = self.slow(true);
                let next = self.inp.insns[i].next_ip32();
                dynasm!(self.a ; .arch x64 ; lea r8d, [r12 - 4]);
                self.tlb(4, true, slow);
                self.store(4, Opd::I(next));
                dynasm!(self.a ; .arch x64 ; mov r12d, r8d);
                self.link(None, target);
            }
            How::Ret { extra } => {
                let slow = self.slow(true);
                dynasm!(self.a ; .arch x64 ; mov r8d, r12d);
                self.tlb(4, false, slow);
                self.load(4, S3);
                self.limit_check(S3, slow);
                let pop = 4 + extra as i32;
                dynasm!(self.a
                    ; .arch x64
                    ; lea r12d, [r12 + pop]
                    ; mov r8d, r11d
                );
                self.dispatch();
            }
            How::JmpInd { src } => {
                let slow = self.slow(true);
                self.target(i, src);
                self.limit_check(S3, slow);
                dynasm!(self.a ; .arch x64 ; mov r8d, r11d);
                self.dispatch();
            }
            How::CallInd { src } => {
                let slow = self.slow(true);
                self.target(i, src);
                self.limit_check(S3, slow);
                let next = self.inp.insns[i].next_ip32();
                dynasm!(self.a ; .arch x64 ; lea r8d, [r12 - 4]);
                self.tlb(4, true, slow);
                self.store(4, Opd::I(next));
                dynasm!(self.a
                    ; .arch x64
                    ; mov r12d, r8d
                    ; mov r8d, r11d
                );
                self.dispatch();
            }
        }
    }

    /// R11D = the target of an indirect jump or call.
    fn target(&mut self, i: usize, src: Opd) {
        match src {
            Opd::R(r) => dynasm!(self.a ; .arch x64 ; mov r11d, Rd(r)),
            _ => {
                self.probe(i, 4, false);
                self.load(4, S3);
            }
        }
    }

    /// #GP for a branch beyond the code segment's limit is the handler's business.
    fn limit_check(&mut self, r: u8, slow: DynamicLabel) {
        let limit = self.inp.cs_limit;
        if limit != u32::MAX {
            dynasm!(self.a
                ; .arch x64
                ; cmp Rd(r), limit as i32
                ; ja =>slow
            );
            self.host = None;
        }
    }

    fn mov(&mut self, i: usize, w: u32, dst: Opd, src: Opd) {
        match (dst, src) {
            (Opd::R(d), Opd::R(s)) => match w {
                1 => dynasm!(self.a ; .arch x64 ; mov Rb(d), Rb(s)),
                2 => dynasm!(self.a ; .arch x64 ; mov Rw(d), Rw(s)),
                _ => dynasm!(self.a ; .arch x64 ; mov Rd(d), Rd(s)),
            },
            (Opd::R(d), Opd::I(v)) => match w {
                1 => dynasm!(self.a ; .arch x64 ; mov Rb(d), v as i8),
                2 => dynasm!(self.a ; .arch x64 ; mov Rw(d), v as i16),
                _ => dynasm!(self.a ; .arch x64 ; mov Rd(d), v as i32),
            },
            (Opd::R(d), Opd::M) => {
                self.probe(i, w, false);
                match w {
                    1 => dynasm!(self.a ; .arch x64 ; mov Rb(d), BYTE [r13 + r10]),
                    2 => dynasm!(self.a ; .arch x64 ; mov Rw(d), WORD [r13 + r10]),
                    _ => dynasm!(self.a ; .arch x64 ; mov Rd(d), DWORD [r13 + r10]),
                }
            }
            (Opd::M, src) => {
                self.probe(i, w, true);
                self.store(w, src);
            }
            _ => {}
        }
    }

    fn movx(&mut self, i: usize, wd: u32, ws: u32, signed: bool, dst: u8, src: Opd) {
        let src_reg = match src {
            Opd::R(s) => s,
            _ => {
                self.probe(i, ws, false);
                self.load(ws, S3);
                S3
            }
        };
        match (wd, ws, signed) {
            (4, 1, false) => dynasm!(self.a ; .arch x64 ; movzx Rd(dst), Rb(src_reg)),
            (4, 2, false) => dynasm!(self.a ; .arch x64 ; movzx Rd(dst), Rw(src_reg)),
            (4, 1, true) => dynasm!(self.a ; .arch x64 ; movsx Rd(dst), Rb(src_reg)),
            (4, 2, true) => dynasm!(self.a ; .arch x64 ; movsx Rd(dst), Rw(src_reg)),
            (2, 1, false) => dynasm!(self.a ; .arch x64 ; movzx Rw(dst), Rb(src_reg)),
            (2, 1, true) => dynasm!(self.a ; .arch x64 ; movsx Rw(dst), Rb(src_reg)),
            (2, 2, _) => dynasm!(self.a ; .arch x64 ; mov Rw(dst), Rw(src_reg)),
            (_, 4, _) => dynasm!(self.a ; .arch x64 ; mov Rd(dst), Rd(src_reg)),
            _ => dynasm!(self.a ; .arch x64 ; movzx Rd(dst), Rw(src_reg)),
        }
    }

    /// The host ALU operation `op` on R`d` with `src` at width `w`.
    fn alu_op(&mut self, op: Alu, w: u32, d: u8, src: Opd) {
        match (w, src) {
            (1, Opd::R(s)) => alu_dispatch!(self.a, op, Rb(d), Rb(s)),
            (2, Opd::R(s)) => alu_dispatch!(self.a, op, Rw(d), Rw(s)),
            (_, Opd::R(s)) => alu_dispatch!(self.a, op, Rd(d), Rd(s)),
            (1, Opd::I(v)) => alu_dispatch!(self.a, op, Rb(d), BYTE v as i8),
            (2, Opd::I(v)) => alu_dispatch!(self.a, op, Rw(d), WORD v as i16),
            (_, Opd::I(v)) => alu_dispatch!(self.a, op, Rd(d), DWORD v as i32),
            (_, Opd::M) => {}
        }
    }

    fn alu(&mut self, i: usize, op: Alu, w: u32, dst: Opd, src: Opd) {
        let live = self.live[i];
        let mask = u32::MAX >> (32 - 8 * w);
        // Operands: the destination in a register (R11 for memory), the source a register
        // (R9 for memory) or an immediate.
        let d = match dst {
            Opd::R(d) => d,
            _ => {
                self.probe(i, w, op.writes());
                self.load(w, S3);
                S3
            }
        };
        let s = match src {
            Opd::M => {
                self.probe(i, w, false);
                self.load(w, S1);
                Opd::R(S1)
            }
            Opd::I(v) => Opd::I(v & mask),
            r => r,
        };
        if !live && !op.writes() {
            return; // a compare nobody looks at (its memory operand was still read)
        }
        let kind = op.kind();
        if live && kind != CcKind::Logic {
            // The operands, before the operation changes either.
            let dv = if w == 4 || dst == Opd::M {
                Opd::R(d)
            } else {
                self.zext(w, S0, d);
                Opd::R(S0)
            };
            let sv = match s {
                Opd::R(r) if w != 4 && src != Opd::M => {
                    self.zext(w, S1, r);
                    Opd::R(S1)
                }
                other => other,
            };
            for (off, v) in [(CC_DST, dv), (CC_SRC, sv)] {
                match v {
                    Opd::R(r) => dynasm!(self.a ; .arch x64 ; mov DWORD [r15 + off], Rd(r)),
                    Opd::I(x) => dynasm!(self.a ; .arch x64 ; mov DWORD [r15 + off], x as i32),
                    Opd::M => {}
                }
            }
        }
        if op.writes() {
            self.alu_op(op, w, d, s);
            if live {
                let r = if w == 4 || dst == Opd::M {
                    d
                } else {
                    self.zext(w, S0, d);
                    S0
                };
                self.store_cc(kind, w, Opd::R(r), None, None);
            }
            if dst == Opd::M {
                self.store(w, Opd::R(d));
            }
        } else {
            // CMP and TEST: the result only for the flags record.
            dynasm!(self.a ; .arch x64 ; mov r8d, Rd(d));
            self.alu_op(if op == Alu::Cmp { Alu::Sub } else { Alu::And }, w, S0, s);
            self.zext(w, S0, S0);
            self.store_cc(kind, w, Opd::R(S0), None, None);
        }
        self.host = Some(HostFlags { cf: true, of: true });
        self.known = if live { Some((kind, w)) } else { None };
    }

    fn unary(&mut self, i: usize, op: Unary, w: u32, dst: Opd) {
        let live = self.live[i];
        let d = match dst {
            Opd::R(d) => d,
            _ => {
                self.probe(i, w, true);
                self.load(w, S3);
                S3
            }
        };
        match op {
            Unary::Not => match w {
                1 => dynasm!(self.a ; .arch x64 ; not Rb(d)),
                2 => dynasm!(self.a ; .arch x64 ; not Rw(d)),
                _ => dynasm!(self.a ; .arch x64 ; not Rd(d)),
            },
            Unary::Neg => {
                if live {
                    self.zext(w, S1, d);
                }
                match w {
                    1 => dynasm!(self.a ; .arch x64 ; neg Rb(d)),
                    2 => dynasm!(self.a ; .arch x64 ; neg Rw(d)),
                    _ => dynasm!(self.a ; .arch x64 ; neg Rd(d)),
                }
                if live {
                    self.zext(w, S0, d);
                    self.store_cc(CcKind::Sub, w, Opd::R(S0), Some(Opd::I(0)), Some(Opd::R(S1)));
                }
                self.host = Some(HostFlags { cf: true, of: true });
                self.known = if live { Some((CcKind::Sub, w)) } else { None };
            }
            Unary::Inc | Unary::Dec => {
                let kind = if op == Unary::Inc { CcKind::Inc } else { CcKind::Dec };
                if live {
                    self.carry();
                    self.zext(w, S0, d);
                    dynasm!(self.a
                        ; .arch x64
                        ; mov DWORD [r15 + CC_DST], r8d
                        ; mov DWORD [r15 + CC_SRC], r9d
                    );
                }
                match (op, w) {
                    (Unary::Inc, 1) => dynasm!(self.a ; .arch x64 ; inc Rb(d)),
                    (Unary::Inc, 2) => dynasm!(self.a ; .arch x64 ; inc Rw(d)),
                    (Unary::Inc, _) => dynasm!(self.a ; .arch x64 ; inc Rd(d)),
                    (_, 1) => dynasm!(self.a ; .arch x64 ; dec Rb(d)),
                    (_, 2) => dynasm!(self.a ; .arch x64 ; dec Rw(d)),
                    (_, _) => dynasm!(self.a ; .arch x64 ; dec Rd(d)),
                }
                if live {
                    self.zext(w, S0, d);
                    self.store_cc(kind, w, Opd::R(S0), None, None);
                }
                self.host = Some(HostFlags { cf: false, of: true });
                self.known = if live { Some((kind, w)) } else { None };
            }
        }
        if dst == Opd::M {
            self.store(w, Opd::R(d));
        }
    }

    fn shift(&mut self, i: usize, op: Shift, w: u32, dst: Opd, count: Option<u8>) {
        let live = self.live[i];
        let d = match dst {
            Opd::R(d) => d,
            _ => {
                self.probe(i, w, true);
                self.load(w, S3);
                S3
            }
        };
        if live && count.is_none() {
            self.shift_cl_live(op, d);
            return;
        }
        if live {
            self.zext(w, S0, d);
            dynasm!(self.a ; .arch x64 ; mov DWORD [r15 + CC_DST], r8d);
        }
        match count {
            Some(c) => {
                let c = c as i8;
                match (op, w) {
                    (Shift::Shl, 1) => dynasm!(self.a ; .arch x64 ; shl Rb(d), c),
                    (Shift::Shl, 2) => dynasm!(self.a ; .arch x64 ; shl Rw(d), c),
                    (Shift::Shl, _) => dynasm!(self.a ; .arch x64 ; shl Rd(d), c),
                    (Shift::Shr, 1) => dynasm!(self.a ; .arch x64 ; shr Rb(d), c),
                    (Shift::Shr, 2) => dynasm!(self.a ; .arch x64 ; shr Rw(d), c),
                    (Shift::Shr, _) => dynasm!(self.a ; .arch x64 ; shr Rd(d), c),
                    (Shift::Sar, 1) => dynasm!(self.a ; .arch x64 ; sar Rb(d), c),
                    (Shift::Sar, 2) => dynasm!(self.a ; .arch x64 ; sar Rw(d), c),
                    (Shift::Sar, _) => dynasm!(self.a ; .arch x64 ; sar Rd(d), c),
                    (Shift::Rol, 1) => dynasm!(self.a ; .arch x64 ; rol Rb(d), c),
                    (Shift::Rol, 2) => dynasm!(self.a ; .arch x64 ; rol Rw(d), c),
                    (Shift::Rol, _) => dynasm!(self.a ; .arch x64 ; rol Rd(d), c),
                    (Shift::Ror, 1) => dynasm!(self.a ; .arch x64 ; ror Rb(d), c),
                    (Shift::Ror, 2) => dynasm!(self.a ; .arch x64 ; ror Rw(d), c),
                    (Shift::Ror, _) => dynasm!(self.a ; .arch x64 ; ror Rd(d), c),
                }
            }
            None => match (op, w) {
                (Shift::Shl, 1) => dynasm!(self.a ; .arch x64 ; shl Rb(d), cl),
                (Shift::Shl, 2) => dynasm!(self.a ; .arch x64 ; shl Rw(d), cl),
                (Shift::Shl, _) => dynasm!(self.a ; .arch x64 ; shl Rd(d), cl),
                (Shift::Shr, 1) => dynasm!(self.a ; .arch x64 ; shr Rb(d), cl),
                (Shift::Shr, 2) => dynasm!(self.a ; .arch x64 ; shr Rw(d), cl),
                (Shift::Shr, _) => dynasm!(self.a ; .arch x64 ; shr Rd(d), cl),
                (Shift::Sar, 1) => dynasm!(self.a ; .arch x64 ; sar Rb(d), cl),
                (Shift::Sar, 2) => dynasm!(self.a ; .arch x64 ; sar Rw(d), cl),
                (Shift::Sar, _) => dynasm!(self.a ; .arch x64 ; sar Rd(d), cl),
                (Shift::Rol, 1) => dynasm!(self.a ; .arch x64 ; rol Rb(d), cl),
                (Shift::Rol, 2) => dynasm!(self.a ; .arch x64 ; rol Rw(d), cl),
                (Shift::Rol, _) => dynasm!(self.a ; .arch x64 ; rol Rd(d), cl),
                (Shift::Ror, 1) => dynasm!(self.a ; .arch x64 ; ror Rb(d), cl),
                (Shift::Ror, 2) => dynasm!(self.a ; .arch x64 ; ror Rw(d), cl),
                (Shift::Ror, _) => dynasm!(self.a ; .arch x64 ; ror Rd(d), cl),
            },
        }
        let kind = match op {
            Shift::Shl => CcKind::Shl,
            Shift::Shr => CcKind::Shr,
            _ => CcKind::Sar,
        };
        if live {
            // (Only immediate SHL/SHR/SAR by a non-zero count get here with live flags.)
            let c = count.unwrap_or(1) as u32;
            self.zext(w, S0, d);
            self.store_cc(kind, w, Opd::R(S0), None, Some(Opd::I(c)));
        }
        let c = count.unwrap_or(0) as u32;
        self.host = match (op, count) {
            (Shift::Shl | Shift::Shr | Shift::Sar, Some(_)) => Some(HostFlags { cf: c < 8 * w, of: c == 1 }),
            _ => None,
        };
        self.known = if live { Some((kind, w)) } else { None };
        if dst == Opd::M {
            self.store(w, Opd::R(d));
        }
    }

    fn imul(&mut self, i: usize, dst: u8, src: Opd, imm: Option<u32>) {
        let s = match src {
            Opd::R(s) => s,
            _ => {
                self.probe(i, 4, false);
                self.load(4, S3);
                S3
            }
        };
        match imm {
            Some(v) => dynasm!(self.a ; .arch x64 ; imul Rd(dst), Rd(s), v as i32),
            None => dynasm!(self.a ; .arch x64 ; imul Rd(dst), Rd(s)),
        }
        if self.live[i] {
            self.store_mul_flags(dst);
        } else {
            self.host = None;
        }
        self.known = None;
    }

    /// Record the flags a multiply leaves as its handler does (`Lazy::from_eflags`: SF,
    /// ZF, PF of the low half `lo`, CF = OF = the host's overflow), right after the
    /// host's multiply.
    fn store_mul_flags(&mut self, lo: u8) {
        let head = CcKind::Eflags as u8 as i32 | 4 << 8;
        dynasm!(self.a
            ; .arch x64
            ; seto r9b
            ; test Rd(lo), Rd(lo)
            ; pushfq
            ; pop r8
            ; and r8d, 0xC4 // PF ZF SF
            ; movzx r9d, r9b
            ; imul r9d, r9d, 0x801 // CF OF
            ; or r8d, r9d
            ; mov DWORD [r15 + CC], head
            ; mov DWORD [r15 + CC_RES], 0
            ; mov DWORD [r15 + CC_DST], 0
            ; mov DWORD [r15 + CC_SRC], r8d
            ; test Rd(lo), Rd(lo)
        );
        // (After that second test the host's SF, ZF and PF are the guest's; CF and OF not.)
        self.host = Some(HostFlags { cf: false, of: false });
    }

    /// SHL, SHR or SAR of 32-bit register `d` by CL with live flags: as the handler, the
    /// record is stored only if the count (masked) is not zero; a zero count leaves the
    /// flags, and the register, as they were.
    fn shift_cl_live(&mut self, op: Shift, d: u8) {
        let skip = self.a.new_dynamic_label();
        let kind = match op {
            Shift::Shl => CcKind::Shl,
            Shift::Shr => CcKind::Shr,
            _ => CcKind::Sar,
        };
        let head = kind as u8 as i32 | 4 << 8;
        dynasm!(self.a
            ; .arch x64
            ; mov r9d, ecx
            ; and r9d, 31
            ; jz =>skip
            ; mov DWORD [r15 + CC_DST], Rd(d)
        );
        match op {
            Shift::Shl => dynasm!(self.a ; .arch x64 ; shl Rd(d), cl),
            Shift::Shr => dynasm!(self.a ; .arch x64 ; shr Rd(d), cl),
            _ => dynasm!(self.a ; .arch x64 ; sar Rd(d), cl),
        }
        dynasm!(self.a
            ; .arch x64
            ; mov DWORD [r15 + CC_RES], Rd(d)
            ; mov DWORD [r15 + CC_SRC], r9d
            ; mov DWORD [r15 + CC], head
            ; =>skip
        );
        self.host = None;
        self.known = None;
    }

    /// A register operand, or a memory one loaded into R11.
    fn source32(&mut self, i: usize, src: Opd) -> u8 {
        match src {
            Opd::R(s) => s,
            _ => {
                self.probe(i, 4, false);
                self.load(4, S3);
                S3
            }
        }
    }

    fn mul_wide(&mut self, i: usize, signed: bool, src: Opd) {
        let s = self.source32(i, src);
        if signed {
            dynasm!(self.a ; .arch x64 ; imul Rd(s));
        } else {
            dynasm!(self.a ; .arch x64 ; mul Rd(s));
        }
        if self.live[i] {
            self.store_mul_flags(GUEST[0]);
        } else {
            self.host = None;
        }
        self.known = None;
    }

    /// DIV and IDIV. What would be #DE — a zero divisor, a quotient too wide — goes to
    /// the handler (which raises it) before anything changes, as does IDIV by -1 (the one
    /// divisor for which the host's 64-bit division could itself overflow).
    fn div(&mut self, i: usize, signed: bool, src: Opd) {
        let s = self.source32(i, src);
        let slow = self.slow(false);
        if !signed {
            dynasm!(self.a
                ; .arch x64
                ; test Rd(s), Rd(s)
                ; jz =>slow
                ; cmp edx, Rd(s)
                ; jae =>slow
                ; div Rd(s)
            );
        } else {
            let fits = self.a.new_dynamic_label();
            dynasm!(self.a
                ; .arch x64
                ; test Rd(s), Rd(s)
                ; jz =>slow
                ; cmp Rd(s), -1
                ; je =>slow
                // The divisor first (it may be EAX or EDX), then EDX:EAX as one 64-bit
                // dividend; EAX and EDX kept for the handler.
                ; movsxd r11, Rd(s)
                ; mov r8d, eax
                ; mov r9d, edx
                ; shl rdx, 32
                ; or rdx, r8
                ; mov rax, rdx
                ; cqo
                ; idiv r11
                ; movsxd r10, eax
                ; cmp r10, rax
                ; je =>fits
                ; mov eax, r8d
                ; mov edx, r9d
                ; jmp =>slow
                ; =>fits
                ; mov eax, eax
                ; mov edx, edx
            );
        }
        // (The flags are left as they were, as the handler leaves them.)
        self.host = None;
    }

    fn adc(&mut self, i: usize, sub: bool, dst: u8, src: Opd) {
        let s = match src {
            Opd::M => Opd::R(self.source32(i, src)),
            other => other,
        };
        let live = self.live[i];
        // The guest's carry into the host's CF: already there if the producer just ran
        // (and then into R9D too if the flags are to be recorded).
        if !self.host.is_some_and(|h| h.cf) {
            self.carry();
            dynasm!(self.a ; .arch x64 ; bt r9d, 0);
        } else if live {
            dynasm!(self.a ; .arch x64 ; setc r9b ; movzx r9d, r9b ; bt r9d, 0);
        }
        if live {
            // As the handler records it: the operands, the result, and the kind with or
            // without the carry in (ADC: Add or AddCarry; SBB: Sub or SubBorrow).
            dynasm!(self.a ; .arch x64 ; mov DWORD [r15 + CC_DST], Rd(dst));
            match s {
                Opd::R(r) => dynasm!(self.a ; .arch x64 ; mov DWORD [r15 + CC_SRC], Rd(r)),
                Opd::I(v) => dynasm!(self.a ; .arch x64 ; mov DWORD [r15 + CC_SRC], v as i32),
                Opd::M => {}
            }
        }
        match (sub, s) {
            (false, Opd::R(r)) => dynasm!(self.a ; .arch x64 ; adc Rd(dst), Rd(r)),
            (false, Opd::I(v)) => dynasm!(self.a ; .arch x64 ; adc Rd(dst), v as i32),
            (true, Opd::R(r)) => dynasm!(self.a ; .arch x64 ; sbb Rd(dst), Rd(r)),
            (true, Opd::I(v)) => dynasm!(self.a ; .arch x64 ; sbb Rd(dst), v as i32),
            (_, Opd::M) => unreachable!("a memory source was loaded"),
        }
        if live {
            let base = if sub { CcKind::Sub } else { CcKind::Add };
            let head = base as u8 as i32 | 4 << 8;
            dynasm!(self.a
                ; .arch x64
                ; mov DWORD [r15 + CC_RES], Rd(dst)
                ; lea r8d, [r9 + head]
                ; mov DWORD [r15 + CC], r8d
            );
            self.host = Some(HostFlags { cf: true, of: true });
        } else {
            self.host = None;
        }
        self.known = None;
    }

    fn shld(&mut self, left: bool, dst: u8, src: u8, count: Option<u8>) {
        match (left, count) {
            (true, Some(c)) => dynasm!(self.a ; .arch x64 ; shld Rd(dst), Rd(src), c as i8),
            (true, None) => dynasm!(self.a ; .arch x64 ; shld Rd(dst), Rd(src), cl),
            (false, Some(c)) => dynasm!(self.a ; .arch x64 ; shrd Rd(dst), Rd(src), c as i8),
            (false, None) => dynasm!(self.a ; .arch x64 ; shrd Rd(dst), Rd(src), cl),
        }
        self.host = None;
        self.known = None;
    }
}

/// Whether running `ins` may change what a block is translated for — the epoch (TLB,
/// CS), CPL, or which segments are flat — so that the handler must compare the stamp
/// after it. Other instructions can only store to a page holding code or a watched one,
/// which the handler reports anyway.
fn restamps(ins: &Instruction) -> bool {
    use Mnemonic as M;
    let far =
        (0..ins.op_count()).any(|k| {
            matches!(ins.op_kind(k), OpKind::FarBranch16 | OpKind::FarBranch32)
                || (ins.op_kind(k) == OpKind::Register && ins.op_register(k).is_segment_register())
        }) || matches!(ins.memory_size(), iced_x86::MemorySize::SegPtr16 | iced_x86::MemorySize::SegPtr32);
    far || ins.is_privileged()
        || matches!(ins.flow_control(), FlowControl::Interrupt | FlowControl::Exception)
        || matches!(ins.mnemonic(), M::Iret | M::Iretd | M::Retf | M::Lds | M::Les | M::Lfs | M::Lgs | M::Lss)
}

/// Operands `(a, b)` for which `cmp a, b` makes condition `cc` true, and for which it
/// makes it false.
fn cmp_operands(cc: u8) -> ((i32, i32), (i32, i32)) {
    let (t, f) = match cc >> 1 {
        0 => ((i32::MIN, 1), (0, 0)), // OF
        1 => ((0, 1), (0, 0)),        // CF
        2 => ((0, 0), (0, 1)),        // ZF
        3 => ((0, 0), (1, 0)),        // CF or ZF
        4 => ((0, 1), (0, 0)),        // SF
        5 => ((0, 0), (1, 0)),        // PF
        6 => ((0, 1), (0, 0)),        // SF != OF
        _ => ((0, 0), (1, 0)),        // ZF or SF != OF
    };
    if cc & 1 == 0 { (t, f) } else { (f, t) }
}

/// The flags effect of translating an instruction `how`.
fn fx(how: How) -> Fx {
    let mem = |o: Opd| o == Opd::M;
    match how {
        How::Helper => Fx::Use,
        How::Mov { dst, src, .. } => {
            if mem(dst) || mem(src) {
                Fx::Use
            } else {
                Fx::None
            }
        }
        How::Movx { src, .. } => {
            if mem(src) {
                Fx::Use
            } else {
                Fx::None
            }
        }
        How::Lea { .. } | How::Xchg { .. } | How::Cdq | How::Cwde | How::Nop => Fx::None,
        How::Alu { dst, src, .. } => {
            if mem(dst) || mem(src) {
                Fx::Use
            } else {
                Fx::Kill
            }
        }
        How::Unary { op, dst, .. } => match (mem(dst), op) {
            (true, _) => Fx::Use,
            (false, Unary::Not) => Fx::None,
            (false, Unary::Neg) => Fx::Kill,
            (false, _) => Fx::Update,
        },
        How::Shift { op, dst, count, .. } => match (mem(dst), op, count) {
            (true, ..) => Fx::Use,
            (false, Shift::Shl | Shift::Shr | Shift::Sar, Some(c)) if c != 0 => Fx::Kill,
            _ => Fx::Update,
        },
        How::Imul { src, .. } | How::MulWide { src, .. } => {
            if mem(src) {
                Fx::Use
            } else {
                Fx::Kill
            }
        }
        // (DIV may raise #DE; ADC and SBB read CF.)
        How::Div { .. } | How::Adc { .. } => Fx::Use,
        How::Shld { count: Some(c), .. } if c != 0 => Fx::Kill,
        How::Shld { .. } => Fx::Update,
        _ => Fx::Use,
    }
}

fn cc_of(ins: &Instruction) -> u8 {
    (ins.condition_code() as u8).wrapping_sub(iced_x86::ConditionCode::o as u8) & 15
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

fn is_cmov(m: Mnemonic) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compare_operands_make_each_condition_true_and_false() {
        for cc in 0..16u8 {
            let ((ta, tb), (fa, fb)) = cmp_operands(cc);
            let flags = |a: i32, b: i32| {
                let (a, b) = (a as u32, b as u32);
                Lazy::new(CcKind::Sub, 4, a.wrapping_sub(b), a, b)
            };
            assert!(flags(ta, tb).cond(cc), "condition {cc} should hold after cmp {ta:#x}, {tb:#x}");
            assert!(!flags(fa, fb).cond(cc), "condition {cc} should fail after cmp {fa:#x}, {fb:#x}");
        }
    }
}
