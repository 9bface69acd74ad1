//! Interrupts and traps: how the Guest tells us where its handlers are
//! (LHCALL_LOAD_IDT_ENTRY, LHCALL_SET_STACK), how traps are *reflected* into those
//! handlers, and how virtual interrupts are delivered.
//!
//! Every trap the Guest takes comes to the Host first (see `run_loop.rs`). A hypercall we
//! serve; a page fault we may fix ourselves (`page_tables.rs`); everything else we reflect:
//! push the frame the hardware would have pushed on the Guest's stack and jump to its
//! handler, exactly as if the CPU had delivered it through an IDT.
//! - From the Guest kernel (CPL 1) the frame goes on the current stack: EFLAGS, CS, EIP
//!   and, for the exceptions that have one, the error code.
//! - From Guest user mode (CPL 3) it goes on the kernel stack the Guest named with
//!   LHCALL_SET_STACK, preceded by the user's SS and ESP, so `iret` returns to ring 3.
//!
//! The Guest never really disables interrupts: it writes `lguest_data.irq_enabled`
//! instead, and the pushed EFLAGS carries that as its IF bit. Delivery through an
//! interrupt gate (type 0xE) clears `irq_enabled`; a trap gate (0xF) leaves it.
//!
//! *Direct traps* (2.6.23's `direct_trap` and `copy_traps`): going through the Host for
//! every system call is slow, so, as lguest did with the real IDT, we hand the CPU the
//! Guest's trap gates (type 0xF only) for `int $0x80` and for the vectors below 32 that we
//! need not see (everything but #NM, #GP, #PF, the hypercall vector and those the Guest may
//! not set), together with what delivery needs: the kernel code segment, the SET_STACK
//! stack and where `irq_enabled` is. The CPU then delivers `int n` through them itself,
//! pushing exactly the frame `set_guest_interrupt` would (`cpu/src/direct.rs`), and comes
//! back to us only when it cannot: a DPL violation (our #GP), a stack page the shadow page
//! tables do not map yet, an interrupt gate. Exceptions always come here. `refresh_direct_traps`
//! keeps the CPU's copy current: after LHCALL_LGUEST_INIT, LOAD_IDT_ENTRY, SET_STACK,
//! LOAD_GDT and LOAD_TLS.

use crate::addr::GuestPhys;
use crate::guest::{Guest, Res};
use crate::outcome::KillReason;
use crate::page_tables::Demand;
use abi::segments::LGUEST_KERNEL_CS;
use abi::{FIRST_EXTERNAL_VECTOR, LGUEST_IRQS, LGUEST_TRAP_ENTRY, PAGE_SIZE, Revision, X86_EFLAGS_IF};
use cpu::{DirectGate, DirectTraps, Exception, Exit, Reg, SegReg, Segment, Vcpu, eflags, vector};
use tracing::trace;

/// Gate types the Guest may install.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GateKind {
    /// Type 0xE: interrupts are disabled on entry.
    Interrupt,
    /// Type 0xF: interrupts are left as they are.
    Trap,
}

/// One entry of the Guest's IDT, as the Host keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gate {
    pub offset: u32,
    pub kind: GateKind,
    /// The privilege needed to reach it with `int n` (3 for a system call).
    pub dpl: u8,
}

/// The stack the Guest kernel wants traps from user mode delivered on (LHCALL_SET_STACK).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KernelStack {
    pub ss: u16,
    pub esp: u32,
    pub pages: u32,
}

/// What is being delivered, for the message if delivery fails (formatted only then, so
/// delivering allocates nothing).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cause {
    Exception(Exception),
    SoftInt(u8),
    Irq(u32),
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Exception(e) => write!(f, "{e}"),
            Cause::SoftInt(v) => write!(f, "int {v:#x}"),
            Cause::Irq(n) => write!(f, "irq {n}"),
        }
    }
}

/// Why a pending interrupt was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    /// It was delivered, or none is pending.
    No,
    /// The Guest has interrupts disabled or the IRQ blocked.
    Masked,
    /// The Guest is inside its no-interrupt window.
    InWindow,
}

/// Vectors whose IDT entries the Guest may not set, as in 2.6.23: NMI, double fault and
/// the spurious-interrupt vector never reach it, and the hypercall vector is the Host's.
/// Attempts are ignored (a Linux Guest fills every vector at boot).
fn ignored_vector(v: u32) -> bool {
    v == 2 || v == 8 || v == 15 || v == LGUEST_TRAP_ENTRY as u32
}

/// The 2.6.23 Host kept gates only for the exceptions, the Guest's 32 interrupts and the
/// system call (`int $0x80`), and ignored the rest (a Linux Guest loads all 256, some of
/// them task gates).
fn release_keeps_vector(v: u32) -> bool {
    v < FIRST_EXTERNAL_VECTOR as u32 + LGUEST_IRQS as u32 || v == SYSCALL_VECTOR
}

/// The system call vector.
const SYSCALL_VECTOR: u32 = 0x80;

impl Guest {
    /// LHCALL_LOAD_IDT_ENTRY: the two words of the gate for vector `num`.
    pub(crate) fn load_idt_entry(&mut self, num: u32, lo: u32, hi: u32) -> Res {
        if num >= 256 {
            return Err(KillReason::BadIdt(format!("vector {num} is beyond the IDT")).into());
        }
        if ignored_vector(num) || (self.revision == Revision::Release && !release_keeps_vector(num)) {
            trace!(target: "lguest::trap", "  ignoring IDT entry for vector {num:#x}");
            return Ok(());
        }
        let present = hi & 0x8000 != 0;
        if !present {
            self.idt[num as usize] = None;
            self.cpu.set_direct_gate(num as u8, None);
            return Ok(());
        }
        let kind = match (hi >> 8) & 0xF {
            0xE => GateKind::Interrupt,
            0xF => GateKind::Trap,
            t => {
                return Err(KillReason::BadIdt(format!(
                    "vector {num:#x} has gate type {t:#x}; only interrupt (0xe) and trap (0xf) gates"
                ))
                .into());
            }
        };
        let offset = (lo & 0xFFFF) | (hi & 0xFFFF_0000);
        let dpl = ((hi >> 13) & 3) as u8;
        let gate = Gate { offset, kind, dpl };
        self.idt[num as usize] = Some(gate);
        // A trap gate the CPU may deliver `int n` through itself (see the top of this file).
        let direct = (kind == GateKind::Trap).then_some(DirectGate { offset, dpl });
        self.cpu.set_direct_gate(num as u8, direct);
        Ok(())
    }

    /// Give the CPU what delivering through direct gates needs, as `set_guest_interrupt`
    /// would find it now: the kernel code segment, the SET_STACK stack, and where
    /// `irq_enabled` is. Whatever is unusable is left out, so that those `int`s come to us
    /// (and meet the same checks as before).
    pub(crate) fn refresh_direct_traps(&mut self) {
        let cs = self
            .cpu
            .gdt_entry((LGUEST_KERNEL_CS >> 3) as usize)
            .filter(|d| d.present() && d.is_code())
            .map(|d| Segment::from_descriptor(LGUEST_KERNEL_CS, d));
        let Some(cs) = cs else {
            self.cpu.set_direct_traps(None);
            return;
        };
        let ks = self.kernel_stack;
        let stack = if ks.ss == 0 { None } else { self.gdt_segment(ks.ss).map(|ss| (ss, ks.esp)) };
        let off = self.ld.irq_enabled;
        let virtual_if = self.lguest_data.map(|ld| ld.offset(off).0);
        self.cpu.set_direct_traps(Some(DirectTraps { cs, stack, virtual_if }));
    }

    /// LHCALL_SET_STACK: the kernel stack for traps from user mode. The segment must be a
    /// ring-1 one and the pages must be mapped (so delivering a trap cannot fault).
    pub(crate) fn set_stack(&mut self, ss: u32, esp: u32, pages: u32) -> Res {
        if ss & 3 != 1 || ss > 0xFFFF {
            return Err(
                KillReason::BadStack(format!("stack segment {ss:#x} is not a ring-1 selector")).into()
            );
        }
        if pages > 2 {
            return Err(KillReason::BadStack(format!("{pages} stack pages (at most 2)")).into());
        }
        self.kernel_stack = KernelStack { ss: ss as u16, esp, pages };
        self.pin_stack_pages()?;
        self.refresh_direct_traps();
        Ok(())
    }

    /// Make sure every page of the kernel stack is mapped and writable.
    pub(crate) fn pin_stack_pages(&mut self) -> Res {
        let KernelStack { esp, pages, .. } = self.kernel_stack;
        for i in 0..pages {
            // The stack grows down from esp: its pages are those just below it.
            let addr = esp.wrapping_sub(1).wrapping_sub(i * PAGE_SIZE);
            if self.guest_virt_to_phys(addr, true)?.is_none() {
                return Err(
                    KillReason::BadStack(format!("stack page at {addr:#x} is not mapped writable")).into()
                );
            }
        }
        Ok(())
    }

    /// A trap from the Guest: fix it ourselves if it is a page fault the shadow page
    /// tables caused, otherwise reflect it into the Guest.
    pub(crate) fn trap(&mut self, e: Exception) -> Res {
        if e.vector == vector::GP
            && e.error_code == Some(0)
            && self.revision == Revision::Release
            && self.cpu.cpl() == 1
            && self.emulate_insn()?
        {
            return Ok(());
        }
        if e.vector == vector::PF {
            let code = e.error_code.unwrap_or(0);
            match self.demand_page(self.cpu.cr2(), code)? {
                Demand::Fixed => return Ok(()),
                Demand::GuestFault(code) => {
                    return self.deliver_exception(Exception { vector: vector::PF, error_code: Some(code) });
                }
            }
        }
        self.deliver_exception(e)
    }

    /// The 2.6.23 Host's answer to a #GP(0) in the Guest kernel (`emulate_insn`): if the
    /// instruction is port input or output (`in`/`out`, immediate port or %dx, with or
    /// without an operand-size prefix), do it as though no device were there and step
    /// over it. A Linux Guest does port I/O in a few places (the 8250 probe, the delay
    /// port 0x80), and expects this.
    ///
    /// Input reads all ones, exactly as the original computed it: a 32-bit (or, with the
    /// prefix, 16-bit) `in` sets all of %eax; an 8-bit one ORs 0xFFFF into %eax shifted by
    /// 16 with the prefix, so %ah is set too (the original's arithmetic, kept because a
    /// real Guest ran against it). Returns whether the instruction was emulated.
    fn emulate_insn(&mut self) -> Res<bool> {
        let eip = self.cpu.eip();
        let mut bytes = [0u8; 2];
        for (i, b) in bytes.iter_mut().enumerate() {
            match self.guest_virt_to_phys(eip.wrapping_add(i as u32), false)? {
                Some(p) => *b = self.read_u8("instruction", GuestPhys(p))?,
                None => return Ok(false),
            }
        }
        let (prefix, insn) = if bytes[0] == 0x66 { (1, bytes[1]) } else { (0, bytes[0]) };
        let shift = if prefix == 1 { 16 } else { 0 };
        let (len, is_in) = match insn & 0xFE {
            0xE4 => (2, true),
            0xEC => (1, true),
            0xE6 => (2, false),
            0xEE => (1, false),
            _ => return Ok(false),
        };
        if is_in {
            let eax = self.cpu.reg(Reg::Eax);
            let v = if insn & 1 != 0 { 0xFFFF_FFFF } else { eax | (0xFFFF << shift) };
            self.cpu.set_reg(Reg::Eax, v);
        }
        trace!(target: "lguest::trap", "  emulated port {} at {eip:#x}", if is_in { "input" } else { "output" });
        self.cpu.set_eip(eip.wrapping_add(prefix + len));
        Ok(true)
    }

    /// Reflect exception `e` into the Guest, or kill it if it has no handler.
    ///
    /// #NM (device not available) is always reflected: the CPU raises it only for an x87
    /// instruction while CR0.EM (no FPU: the Guest emulates it) or CR0.TS (which the Guest
    /// set with LHCALL_TS) is set, which are exactly the cases the 2.6.23 Host passed on.
    pub(crate) fn deliver_exception(&mut self, e: Exception) -> Res {
        if e.vector == vector::PF {
            let cr2 = self.cpu.cr2();
            if let Some(ld) = self.lguest_data {
                self.write_u32("lguest_data cr2", ld.offset(self.ld.cr2), cr2)?;
            }
        }
        match self.idt[e.vector as usize] {
            Some(gate) if !ignored_vector(e.vector as u32) => {
                trace!(target: "lguest::trap", "  reflect {e} to {:#x}", gate.offset);
                let code =
                    if vector::has_error_code(e.vector) { Some(e.error_code.unwrap_or(0)) } else { None };
                self.set_guest_interrupt(gate, code, Cause::Exception(e))
            }
            _ => Err(self.unhandled(e)),
        }
    }

    /// `int $vector` from the Guest (EIP is past the `len`-byte instruction): deliver
    /// through the gate if its DPL allows the current privilege, else #GP (or #NP for a
    /// missing gate) with the vector as error code, at the `int` instruction.
    pub(crate) fn deliver_soft_interrupt(&mut self, v: u8, len: u8) -> Res {
        let cpl = self.cpu.cpl();
        let gate = if ignored_vector(v as u32) { None } else { self.idt[v as usize] };
        let code = v as u32 * 8 + 2;
        let fault = match gate {
            Some(g) if cpl <= g.dpl => {
                trace!(target: "lguest::trap", "  int {v:#x} to {:#x}", g.offset);
                return self.set_guest_interrupt(g, None, Cause::SoftInt(v));
            }
            // The hypercall gate exists with DPL 1; other vectors without a gate are
            // not present.
            _ if gate.is_some() || v == LGUEST_TRAP_ENTRY => {
                Exception { vector: vector::GP, error_code: Some(code) }
            }
            _ => Exception { vector: vector::NP, error_code: Some(code) },
        };
        // A fault, so the frame must point at the `int` itself.
        let eip = self.cpu.eip().wrapping_sub(len as u32);
        self.cpu.set_eip(eip);
        if self.idt[fault.vector as usize].is_none() {
            let what = match gate {
                _ if v == LGUEST_TRAP_ENTRY && cpl == 3 => {
                    format!("{fault} (int $0x1f from user mode; the hypercall gate is DPL 1)")
                }
                None => format!("int {v:#x} (no IDT entry for vector {v:#x})"),
                Some(g) => format!("{fault} (int {v:#x} from CPL {cpl}; the gate is DPL {})", g.dpl),
            };
            return Err(KillReason::UnhandledTrap { what, insn: String::new() }.into());
        }
        self.deliver_exception(fault)
    }

    /// Push a trap frame for `gate` and jump to it (lguest's `set_guest_interrupt`).
    pub(crate) fn set_guest_interrupt(&mut self, gate: Gate, err: Option<u32>, what: Cause) -> Res {
        let from_user = self.cpu.cpl() != 1;
        let old_ss = self.cpu.segment(SegReg::Ss);
        let old_esp = self.cpu.reg(Reg::Esp);
        let (ss, mut sp) = if from_user {
            let ks = self.kernel_stack;
            if ks.ss == 0 {
                return Err(KillReason::DoubleFault(format!(
                    "{what} from user mode before LHCALL_SET_STACK"
                ))
                .into());
            }
            match self.gdt_segment(ks.ss) {
                Some(seg) => (seg, ks.esp),
                None => {
                    return Err(KillReason::BadStack(format!(
                        "stack segment {:#x} is not a usable segment",
                        ks.ss
                    ))
                    .into());
                }
            }
        } else {
            (old_ss, old_esp)
        };
        let irq_enabled = match self.lguest_data {
            Some(ld) => self.read_u32("lguest_data", ld.offset(self.ld.irq_enabled))?,
            None => 0,
        };
        let flags = self.cpu.eflags();
        let pushed_flags = (flags & !eflags::IF) | (irq_enabled & X86_EFLAGS_IF);
        let cs = self.cpu.segment(SegReg::Cs).selector as u32;
        // The frame from its lowest address up: error code, EIP, CS, EFLAGS, then the
        // user's ESP and SS.
        let mut frame = [0u8; 24];
        let mut n = 0;
        let mut put = |v: u32| {
            frame[n..n + 4].copy_from_slice(&v.to_le_bytes());
            n += 4;
        };
        if let Some(code) = err {
            put(code);
        }
        put(self.cpu.eip());
        put(cs);
        put(pushed_flags);
        if from_user {
            put(old_esp);
            put(old_ss.selector as u32);
        }
        sp = sp.wrapping_sub(n as u32);
        self.write_trap_frame(ss.base.wrapping_add(sp), &frame[..n], what)?;
        if from_user {
            self.cpu.set_segment(SegReg::Ss, ss);
        }
        self.cpu.set_reg(Reg::Esp, sp);
        if self.cpu.load_segment(SegReg::Cs, LGUEST_KERNEL_CS).is_err() {
            return Err(KillReason::BadGdt("the kernel code segment is unusable".into()).into());
        }
        self.cpu.set_eip(gate.offset);
        // As hardware does on any interrupt or trap.
        self.cpu.set_eflags(flags & !(eflags::TF | eflags::NT | eflags::RF | eflags::VM));
        if gate.kind == GateKind::Interrupt
            && let Some(ld) = self.lguest_data
        {
            self.write_u32("lguest_data irq_enabled", ld.offset(self.ld.irq_enabled), 0)?;
        }
        Ok(())
    }

    /// Write a trap frame at guest-virtual `lin` as the Guest kernel would, through the
    /// CPU's TLB, mapping its pages from the Guest's page tables first where the shadow
    /// does not have them yet. A page the Guest's tables do not map writable is a double
    /// fault: Sudden Death, naming the first word (in push order) that could not go.
    fn write_trap_frame(&mut self, lin: u32, frame: &[u8], what: Cause) -> Res {
        let len = frame.len() as u32;
        let top_word = lin.wrapping_add(len - 4);
        let in_first_page = PAGE_SIZE - (lin & (PAGE_SIZE - 1));
        let word_at = |at: u32| {
            if at != lin || in_first_page >= len { top_word } else { lin + ((in_first_page - 1) & !3) }
        };
        let double_fault = |at: u32| -> crate::guest::End {
            KillReason::DoubleFault(format!(
                "{what}: the stack at {:#x} is not mapped writable for the trap frame",
                word_at(at)
            ))
            .into()
        };
        // Each of the (at most two) pages may need filling in once.
        for _ in 0..3 {
            match self.cpu.write_linear_supervisor(lin, frame) {
                Ok(()) => return Ok(()),
                Err((at, Exit::Exception(e))) if e.vector == vector::PF => {
                    if let Demand::GuestFault(_) = self.demand_page(at, cpu::pf::W)? {
                        return Err(double_fault(at));
                    }
                }
                Err((_, Exit::BadPhysical { addr })) => {
                    return Err(KillReason::OutsideRam(GuestPhys(addr)).into());
                }
                Err((at, _)) => return Err(double_fault(at)),
            }
        }
        Err(double_fault(lin))
    }

    /// The segment a selector names in the Host's GDT, if it is a usable stack segment.
    fn gdt_segment(&self, sel: u16) -> Option<Segment> {
        let d = self.cpu.gdt_entry((sel >> 3) as usize)?;
        (sel & 4 == 0 && d.present() && d.writable()).then(|| Segment::from_descriptor(sel, d))
    }

    /// Virtual interrupts (lguest's `maybe_do_interrupt`): called before every entry to
    /// the Guest. Delivers the lowest pending IRQ if the Guest has interrupts enabled, has
    /// not blocked it, and is not inside its no-interrupt window.
    ///
    /// When an IRQ waits only because the Guest masked it (irq_enabled clear, or the IRQ
    /// blocked), the Guest can unmask it with a plain store to `lguest_data`; so we ask the
    /// CPU to stop right after any store to that page, and the interrupt arrives before the
    /// Guest's next instruction, as it would on hardware after `sti`. Inside the
    /// no-interrupt window (a few instructions of the Guest's iret path) we run the CPU in
    /// short steps instead, to catch the moment it leaves.
    pub(crate) fn maybe_do_interrupt(&mut self) -> Res {
        let held = self.deliver_pending_interrupt()?;
        self.watch_lguest_data(held == Held::Masked);
        self.short_slice = held == Held::InWindow;
        Ok(())
    }

    fn deliver_pending_interrupt(&mut self) -> Res<Held> {
        if self.irqs_pending == 0 {
            return Ok(Held::No);
        }
        let Some(ld) = self.lguest_data else { return Ok(Held::No) };
        let blocked = self.read_u32("lguest_data", ld.offset(self.ld.blocked_interrupts))?;
        let deliverable = self.irqs_pending & !blocked;
        if deliverable == 0 {
            return Ok(Held::Masked);
        }
        let irq = deliverable.trailing_zeros();
        let eip = self.cpu.eip();
        let noirq_start = self.read_u32("lguest_data", ld.offset(self.ld.noirq_start))?;
        let noirq_end = self.read_u32("lguest_data", ld.offset(self.ld.noirq_end))?;
        if eip >= noirq_start && eip < noirq_end {
            return Ok(Held::InWindow);
        }
        if self.halted {
            // An interrupt ends a HALT, whatever irq_enabled said (as in 2.6.23).
            self.write_u32("lguest_data irq_enabled", ld.offset(self.ld.irq_enabled), X86_EFLAGS_IF)?;
            self.halted = false;
        } else if self.read_u32("lguest_data", ld.offset(self.ld.irq_enabled))? & X86_EFLAGS_IF == 0 {
            return Ok(Held::Masked);
        }
        let vector = FIRST_EXTERNAL_VECTOR as usize + irq as usize;
        if let Some(gate) = self.idt[vector] {
            self.irqs_pending &= !(1 << irq);
            trace!(target: "lguest::irq", "irq {irq} to {:#x} at eip={eip:#x}", gate.offset);
            self.set_guest_interrupt(gate, None, Cause::Irq(irq))?;
        }
        // (With no handler installed yet the IRQ stays pending, as in 2.6.23; installing
        // one is a hypercall, after which we look again.)
        // The 2.6.23 release keeps lguest_data.time current this way: at least every
        // clock tick.
        self.write_timestamp()?;
        Ok(Held::No)
    }

    /// Stop the CPU after any store to the page(s) of `lguest_data`, or stop doing so.
    fn watch_lguest_data(&mut self, on: bool) {
        if on == self.watching_lguest_data {
            return;
        }
        if let Some(ld) = self.lguest_data {
            let first = ld.0 & !(PAGE_SIZE - 1);
            let last = (ld.0 + self.ld.size - 1) & !(PAGE_SIZE - 1);
            self.cpu.watch_stores(first, on);
            if last != first {
                self.cpu.watch_stores(last, on);
            }
        }
        self.watching_lguest_data = on;
    }

    /// Raise virtual IRQ `irq`.
    pub(crate) fn trigger_irq(&mut self, irq: u32) {
        if (irq as usize) < LGUEST_IRQS {
            self.irqs_pending |= 1 << irq;
        }
    }

    /// IRQs pending that the Guest has not blocked.
    pub(crate) fn unblocked_pending(&self) -> u32 {
        let blocked = self
            .lguest_data
            .and_then(|ld| self.mem().read_u32(ld.offset(self.ld.blocked_interrupts).0).ok())
            .unwrap_or(0);
        self.irqs_pending & !blocked
    }

    /// Translate a guest-virtual address as the Guest kernel would access it, mapping it
    /// from the Guest's page tables if the shadow does not have it yet. `None` if the
    /// Guest's tables do not allow the access.
    pub(crate) fn guest_virt_to_phys(&mut self, lin: u32, write: bool) -> Res<Option<u32>> {
        for _ in 0..2 {
            match self.cpu.translate(lin, write, false) {
                Ok(p) => return Ok(Some(p)),
                Err(Exit::Exception(e)) if e.vector == vector::PF => {
                    let code = if write { cpu::pf::W } else { 0 };
                    if let Demand::GuestFault(_) = self.demand_page(lin, code)? {
                        return Ok(None);
                    }
                }
                Err(Exit::BadPhysical { addr }) => return Err(KillReason::OutsideRam(GuestPhys(addr)).into()),
                Err(_) => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The death message for a trap the Guest has no handler for.
    pub(crate) fn unhandled(&mut self, e: Exception) -> crate::guest::End {
        let eip = self.cpu.eip();
        let insn = self.cpu.describe_instruction(eip);
        if e.vector == vector::GP && e.error_code == Some(0) && insn.as_ref().is_some_and(|i| i.privileged) {
            let text = insn.map(|i| i.text).unwrap_or_default();
            return KillReason::PrivilegedInstruction(text).into();
        }
        let insn = insn.map(|i| format!(" on `{}`", i.text)).unwrap_or_default();
        let mut what = e.to_string();
        if e.vector == vector::PF {
            what.push_str(&format!(" at address {:#x}", self.cpu.cr2()));
        }
        KillReason::UnhandledTrap { what, insn }.into()
    }
}
