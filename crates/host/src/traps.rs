//! Traps the Guest takes that are not hypercalls.
//!
//! lguest reflects a trap into the Guest's own handler when the Guest installed one (that
//! arrives with LHCALL_LOAD_IDT_ENTRY); until then, every exception and software interrupt
//! is one the Guest cannot handle, and it dies naming it. A #GP on a privileged instruction
//! gets its own message, since that is the usual reason a ring-1 kernel gets one.

use crate::guest::{Guest, Res};
use crate::outcome::KillReason;
use abi::LGUEST_TRAP_ENTRY;
use cpu::{Exception, Vcpu, vector};
use tracing::trace;

impl Guest {
    /// The Guest raised exception `e` at the current EIP.
    pub(crate) fn exception(&mut self, e: Exception) -> Res {
        trace!(target: "lguest::trap", "trap {e} at eip={:#x} cpl={}", self.cpu.eip(), self.cpu.cpl());
        let eip = self.cpu.eip();
        let insn = self.cpu.describe_instruction(eip);
        if e.vector == vector::GP && e.error_code == Some(0) && insn.as_ref().is_some_and(|i| i.privileged) {
            let text = insn.map(|i| i.text).unwrap_or_default();
            return Err(KillReason::PrivilegedInstruction(text).into());
        }
        let insn = insn.map(|i| format!(" on `{}`", i.text)).unwrap_or_default();
        let mut what = e.to_string();
        if e.vector == vector::PF {
            what.push_str(&format!(" at address {:#x}", self.cpu.cr2()));
        }
        Err(KillReason::UnhandledTrap { what, insn }.into())
    }

    /// The Guest executed `int $vector` (EIP is past it).
    pub(crate) fn soft_interrupt(&mut self, vector: u8) -> Res {
        trace!(target: "lguest::trap", "int {vector:#x} at eip={:#x} cpl={}", self.cpu.eip(), self.cpu.cpl());
        if vector == LGUEST_TRAP_ENTRY {
            // The hypercall gate has DPL 1: from user mode, `int $0x1F` is a #GP with the
            // gate's selector-style error code, as hardware would raise.
            let what = format!(
                "{} (int $0x1f from user mode; the hypercall gate is DPL 1)",
                Exception { vector: vector::GP, error_code: Some(LGUEST_TRAP_ENTRY as u32 * 8 + 2) }
            );
            return Err(KillReason::UnhandledTrap { what, insn: String::new() }.into());
        }
        Err(KillReason::UnhandledTrap { what: format!("int {vector:#x}"), insn: String::new() }.into())
    }
}
