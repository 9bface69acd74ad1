//! Naming an instruction for a human: the Host's death messages say *what* the Guest did
//! ("privileged instruction `hlt`") without the Host knowing anything about x86 encoding.
//! Cold path only.

use crate::state::State;
use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter, Instruction};

/// What the instruction at some EIP is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsnInfo {
    /// AT&T syntax, as Linux people read it, e.g. `mov %eax,%cr3`.
    pub text: String,
    /// Whether it needs CPL 0 (or CPL <= IOPL for I/O and CLI/STI) to run.
    pub privileged: bool,
    /// Its raw bytes.
    pub bytes: Vec<u8>,
}

impl State {
    /// Decode the instruction at CS:`eip` with the current privilege and mappings, without
    /// changing anything but accessed bits. `None` if its bytes cannot be fetched.
    pub(crate) fn describe(&mut self, eip: u32) -> Option<InsnInfo> {
        let cs = self.segs[crate::regs::SegReg::Cs as usize];
        let lin = cs.base.wrapping_add(eip);
        let mut bytes = Vec::with_capacity(15);
        for i in 0..15u32 {
            if eip.checked_add(i).is_none_or(|o| o > cs.limit) {
                break;
            }
            let mut b = [0u8];
            if self.read_lin_bytes(lin.wrapping_add(i), &mut b).is_err() {
                break;
            }
            bytes.push(b[0]);
        }
        if bytes.is_empty() {
            return None;
        }
        let bitness = if cs.big() { 32 } else { 16 };
        let mut decoder = Decoder::with_ip(bitness, &bytes, eip as u64, DecoderOptions::NONE);
        let ins: Instruction = decoder.decode();
        let mut text = String::new();
        if ins.is_invalid() {
            text.push_str("(bad)");
        } else {
            GasFormatter::new().format(&ins, &mut text);
        }
        bytes.truncate(ins.len().max(1));
        Some(InsnInfo { text, privileged: !ins.is_invalid() && is_privileged(&ins), bytes })
    }
}

fn is_privileged(ins: &Instruction) -> bool {
    use iced_x86::Mnemonic as M;
    ins.is_privileged()
        || matches!(
            ins.mnemonic(),
            M::Cli
                | M::Sti
                | M::In
                | M::Out
                | M::Insb
                | M::Insw
                | M::Insd
                | M::Outsb
                | M::Outsw
                | M::Outsd
                | M::Hlt
                | M::Lgdt
                | M::Lidt
                | M::Lldt
                | M::Ltr
                | M::Clts
                | M::Invlpg
                | M::Wbinvd
                | M::Invd
                | M::Rdmsr
                | M::Wrmsr
                | M::Lmsw
        )
        || (ins.mnemonic() == M::Mov
            && (0..ins.op_count()).any(|i| {
                ins.op_kind(i) == iced_x86::OpKind::Register
                    && (ins.op_register(i).is_cr() || ins.op_register(i).is_dr())
            }))
}
