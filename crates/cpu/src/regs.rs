//! Register names, EFLAGS bits and control-register bits.

/// A 32-bit general register, numbered as in the instruction encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Reg {
    Eax = 0,
    Ecx = 1,
    Edx = 2,
    Ebx = 3,
    Esp = 4,
    Ebp = 5,
    Esi = 6,
    Edi = 7,
}

impl Reg {
    pub const ALL: [Reg; 8] =
        [Reg::Eax, Reg::Ecx, Reg::Edx, Reg::Ebx, Reg::Esp, Reg::Ebp, Reg::Esi, Reg::Edi];

    pub const fn name(self) -> &'static str {
        ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"][self as usize]
    }
}

/// A segment register, numbered as in the instruction encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SegReg {
    Es = 0,
    Cs = 1,
    Ss = 2,
    Ds = 3,
    Fs = 4,
    Gs = 5,
}

impl SegReg {
    pub const ALL: [SegReg; 6] = [SegReg::Es, SegReg::Cs, SegReg::Ss, SegReg::Ds, SegReg::Fs, SegReg::Gs];

    pub const fn name(self) -> &'static str {
        ["es", "cs", "ss", "ds", "fs", "gs"][self as usize]
    }
}

/// EFLAGS bits.
pub mod eflags {
    pub const CF: u32 = 1 << 0;
    /// Bit 1 always reads as 1.
    pub const FIXED: u32 = 1 << 1;
    pub const PF: u32 = 1 << 2;
    pub const AF: u32 = 1 << 4;
    pub const ZF: u32 = 1 << 6;
    pub const SF: u32 = 1 << 7;
    pub const TF: u32 = 1 << 8;
    pub const IF: u32 = 1 << 9;
    pub const DF: u32 = 1 << 10;
    pub const OF: u32 = 1 << 11;
    pub const IOPL: u32 = 3 << 12;
    pub const IOPL_SHIFT: u32 = 12;
    pub const NT: u32 = 1 << 14;
    pub const RF: u32 = 1 << 16;
    pub const VM: u32 = 1 << 17;
    pub const AC: u32 = 1 << 18;
    pub const VIF: u32 = 1 << 19;
    pub const VIP: u32 = 1 << 20;
    pub const ID: u32 = 1 << 21;
    /// The six flags arithmetic computes.
    pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;
    /// Every bit software can change on this CPU.
    pub const WRITABLE: u32 = ARITH | TF | IF | DF | IOPL | NT | RF | AC | ID;
}

/// Control-register bits this CPU gives meaning to.
pub mod cr {
    /// CR0.PE: protected mode. Always on: this CPU has no real mode.
    pub const CR0_PE: u32 = 1 << 0;
    /// CR0.MP: WAIT honours TS.
    pub const CR0_MP: u32 = 1 << 1;
    /// CR0.EM: no FPU present; x87 instructions raise #NM.
    pub const CR0_EM: u32 = 1 << 2;
    /// CR0.TS: task switched; x87 instructions raise #NM.
    pub const CR0_TS: u32 = 1 << 3;
    /// CR0.ET: reads as 1.
    pub const CR0_ET: u32 = 1 << 4;
    /// CR0.NE.
    pub const CR0_NE: u32 = 1 << 5;
    /// CR0.WP: supervisor writes honour read-only pages.
    pub const CR0_WP: u32 = 1 << 16;
    /// CR0.AM.
    pub const CR0_AM: u32 = 1 << 18;
    /// CR0.PG: paging.
    pub const CR0_PG: u32 = 1 << 31;
    /// CR4.TSD: RDTSC is privileged.
    pub const CR4_TSD: u32 = 1 << 2;
    /// CR4.PSE: 4 MiB pages.
    pub const CR4_PSE: u32 = 1 << 4;
}

/// Exception vectors.
pub mod vector {
    pub const DE: u8 = 0;
    pub const DB: u8 = 1;
    pub const BP: u8 = 3;
    pub const OF: u8 = 4;
    pub const BR: u8 = 5;
    pub const UD: u8 = 6;
    pub const NM: u8 = 7;
    pub const DF: u8 = 8;
    pub const TS: u8 = 10;
    pub const NP: u8 = 11;
    pub const SS: u8 = 12;
    pub const GP: u8 = 13;
    pub const PF: u8 = 14;
    pub const MF: u8 = 16;
    pub const AC: u8 = 17;

    /// Whether the exception pushes an error code.
    pub const fn has_error_code(v: u8) -> bool {
        matches!(v, DF | TS | NP | SS | GP | PF | AC)
    }

    /// A short name, e.g. "#GP".
    pub const fn name(v: u8) -> &'static str {
        match v {
            DE => "#DE",
            DB => "#DB",
            BP => "#BP",
            OF => "#OF",
            BR => "#BR",
            UD => "#UD",
            NM => "#NM",
            DF => "#DF",
            TS => "#TS",
            NP => "#NP",
            SS => "#SS",
            GP => "#GP",
            PF => "#PF",
            MF => "#MF",
            AC => "#AC",
            _ => "exception",
        }
    }
}

/// Page-fault error code bits.
pub mod pf {
    /// The page was present (protection violation) rather than not present.
    pub const P: u32 = 1 << 0;
    /// The access was a write.
    pub const W: u32 = 1 << 1;
    /// The access came from CPL 3.
    pub const U: u32 = 1 << 2;
    /// A reserved bit was set in a paging entry.
    pub const RSVD: u32 = 1 << 3;
    /// Instruction fetch. 32-bit paging without NX or SMEP never reports it, so neither
    /// do we; it is here for completeness of the names.
    pub const I: u32 = 1 << 4;
}
