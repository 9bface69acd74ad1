//! The CPU fed random code from a random starting state.
//!
//! One input is: the privilege level to start at (CPL 0-3, or a 16-bit code segment at
//! CPL 3), which data segments to load, up to three GDT entries to add to a fixed set (flat code
//! and data for each ring, conforming, 16-bit, expand-down, not-present), the registers
//! and EFLAGS (IOPL included), CR0/CR4 bits, paging off or on (page tables in guest RAM
//! or in separate page-table memory as the Host uses them, with holes, read-only and
//! supervisor pages knocked in, 4 MiB pages when CR4.PSE is on), pages whose stores are
//! watched, a schedule of things the Host does between runs, and then the code. CR0.EM
//! clear (half the inputs) turns the x87 on, so the code's D8..DF escapes run as FPU
//! instructions; the seeds named in `fuzz/seeds/cpu` include x87-heavy programs.
//!
//! The CPU must end every `run` with an [`Exit`] — never a panic — and must keep the
//! promises the Host relies on:
//! - privilege never rises: CPL never drops below where it started (this CPU has no
//!   gates, so nothing may lower it), CS.RPL is always the CPL, CS is a code segment of
//!   the CPL's ring (or a conforming one of a more privileged ring), and SS a writable
//!   data segment of exactly the CPL's ring, as on hardware;
//! - outside ring 0, EFLAGS.IOPL and VM never change, and IF only where IOPL allows;
//! - `run(budget)` retires at most `budget` instructions (the run loop's clock and
//!   signal handling depend on getting control back).
//!
//! The `jit` target runs the same inputs on the `check` engine, with every block
//! translated on sight: the translator and the interpreter in lockstep, their states
//! compared at every exit (and every few thousand instructions) and memory at the end of
//! every run — a difference panics with both states. The same promises are checked.

use crate::input::Input;
use cpu::{Cpu, Descriptor, Engine, Exit, PhysMem, Reg, SegReg, Vcpu, cr, eflags, pte};

const RAM: u32 = 64 << 10;
const CODE: u32 = 0x1000;
const CODE_MAX: usize = 0x2000;
const STACK: u32 = 0x9000;
/// Page directory and the page table for the first 4 MiB, in guest RAM.
const PD: u32 = RAM - 0x2000;
const RUNS: usize = 8;

/// The fixed GDT entries; 14..17 come from the input.
fn fixed_gdt() -> [Descriptor; 14] {
    let flat = |access: u8| Descriptor::new(0, 0xFFFFF, access, 0xC);
    [
        Descriptor(0),
        flat(0x9A),                                 // 1: ring 0 code
        flat(0x92),                                 // 2: ring 0 data
        flat(0xBA),                                 // 3: ring 1 code
        flat(0xB2),                                 // 4: ring 1 data
        flat(0xDA),                                 // 5: ring 2 code
        flat(0xD2),                                 // 6: ring 2 data
        flat(0xFA),                                 // 7: ring 3 code
        flat(0xF2),                                 // 8: ring 3 data
        flat(0x9E),                                 // 9: ring 0 conforming code
        Descriptor::new(0, 0xFFFF, 0xFA, 0x0),      // 10: 16-bit ring 3 code
        Descriptor::new(0, 0xFFF, 0xF6, 0x4),       // 11: expand-down ring 3 data
        Descriptor::new(0, 0xFFFFF, 0x7A, 0xC),     // 12: not-present ring 3 code
        Descriptor::new(0x1000, 0xFFFF, 0xF2, 0x0), // 13: small ring 3 data at 0x1000
    ]
}

/// Run one input on `engine`. Panics if the CPU panics or breaks one of its promises (or,
/// on the check engine, if its two engines disagree).
pub fn run(data: &[u8], engine: Engine) {
    let mut inp = Input::new(data);
    let mut cpu = Cpu::with_engine(PhysMem::new(RAM), engine);
    cpu.set_jit_threshold(0);
    for (i, d) in fixed_gdt().into_iter().enumerate() {
        cpu.set_gdt_entry(i, d);
    }
    for i in 14..14 + inp.below(4) as usize {
        cpu.set_gdt_entry(i, Descriptor(inp.u64()));
    }

    // Privilege: code and stack segments of the chosen ring.
    let mode = inp.u8();
    let cpl = mode & 3;
    let cs = if cpl == 3 && mode & 4 != 0 { 10 * 8 + 3 } else { (1 + 2 * cpl as u16) * 8 + cpl as u16 };
    cpu.load_segment(SegReg::Cs, cs).expect("the fixed code segments load");
    cpu.load_segment(SegReg::Ss, (2 + 2 * cpl as u16) * 8 + cpl as u16).expect("the fixed stacks load");
    for s in [SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
        // Any selector at all; one the Host could not load leaves the register null.
        let sel = match inp.u8() % 4 {
            0 => (2 + 2 * cpl as u16) * 8 + cpl as u16,
            1 => 0,
            _ => inp.u16(),
        };
        if cpu.load_segment(s, sel).is_err() {
            let _ = cpu.load_segment(s, 0);
        }
    }

    for r in Reg::ALL {
        cpu.set_reg(r, inp.edgy());
    }
    if !inp.u8().is_multiple_of(4) {
        cpu.set_reg(Reg::Esp, STACK + inp.below(0x1000));
    }
    cpu.set_eflags(eflags::FIXED | (inp.u32() & eflags::WRITABLE));
    let cr0_bits = [cr::CR0_EM, cr::CR0_TS, cr::CR0_MP, cr::CR0_WP, cr::CR0_AM, cr::CR0_NE];
    let pick = inp.u8();
    let cr0 = cr0_bits.iter().enumerate().filter(|(i, _)| pick & (1 << i) != 0).fold(0, |a, (_, b)| a | b);
    cpu.set_cr0(cr::CR0_PE | cr::CR0_ET | cr0);
    cpu.set_cr4(if inp.bool() { cr::CR4_PSE } else { 0 } | if inp.bool() { cr::CR4_TSD } else { 0 });

    let paging = inp.u8();
    if paging & 1 != 0 {
        page_tables(&mut cpu, &mut inp, paging & 2 != 0);
    }
    for _ in 0..inp.below(3) {
        cpu.watch_stores(inp.below(RAM), true);
    }
    let schedule: Vec<u8> = (0..RUNS).map(|_| inp.u8()).collect();
    let budgets: Vec<u64> = (0..RUNS).map(|_| 1 + u64::from(inp.u16() % 500)).collect();

    let code = inp.rest();
    let code = &code[..code.len().min(CODE_MAX)];
    cpu.mem_mut().write(CODE, code).expect("code fits in RAM");
    // The same bytes further on, so jumps have more than zeros to land on.
    cpu.mem_mut().write(0x4000, code).expect("code fits in RAM");
    let start = CODE;
    cpu.set_eip(start);

    let iopl = (cpu.eflags() & eflags::IOPL) >> eflags::IOPL_SHIFT;
    let flags0 = cpu.eflags();
    for (i, (&what, &budget)) in schedule.iter().zip(&budgets).enumerate() {
        let before = cpu.retired();
        let exit = cpu.run(budget);
        let retired = cpu.retired() - before;
        assert!(retired <= budget, "run({budget}) retired {retired} instructions");
        check_privilege(&cpu, cpl, iopl as u8, flags0);
        match exit {
            Exit::Exception(_) => cpu.set_eip(cpu.eip().wrapping_add(1)),
            Exit::BadPhysical { .. } => cpu.set_eip(start + i as u32),
            Exit::Halt | Exit::SoftInt { .. } | Exit::BudgetExhausted | Exit::WatchedStore => {}
        }
        between_runs(&mut cpu, what);
    }
}

/// The promises about privilege (see the module documentation).
fn check_privilege(cpu: &Cpu, cpl0: u8, iopl0: u8, flags0: u32) {
    let cpl = cpu.cpl();
    assert!(cpl >= cpl0, "CPL went from {cpl0} to {cpl}");
    let cs = cpu.segment(SegReg::Cs);
    assert_eq!(cs.selector & 3, u16::from(cpl), "CS {:#x} at CPL {cpl}", cs.selector);
    let d = cs.descriptor();
    let conforming = d.is_code() && d.conforming();
    assert!(
        d.is_code() && (d.dpl() == cpl || (conforming && d.dpl() < cpl)),
        "CS {:#x} ({:#018x}) at CPL {cpl}",
        cs.selector,
        d.0
    );
    let ss = cpu.segment(SegReg::Ss);
    let d = ss.descriptor();
    assert!(d.writable() && d.dpl() == cpl, "SS {:#x} ({:#018x}) at CPL {cpl}", ss.selector, d.0);
    let flags = cpu.eflags();
    if cpl0 > 0 {
        assert_eq!(
            flags & (eflags::IOPL | eflags::VM),
            flags0 & (eflags::IOPL | eflags::VM),
            "IOPL/VM changed"
        );
    }
    if cpl0 > iopl0 {
        assert_eq!(flags & eflags::IF, flags0 & eflags::IF, "IF changed at CPL {cpl0} > IOPL {iopl0}");
    }
}

/// What the Host might do between two runs: flush, change CR0 (WP, or TS as LHCALL_TS
/// does), write code, unwatch.
fn between_runs(cpu: &mut Cpu, what: u8) {
    match what % 8 {
        0 => cpu.flush_tlb(),
        1 => cpu.invlpg(u32::from(what) << 12),
        2 => {
            // The Host writes into the code (as a DMA into it would).
            let _ = cpu.mem_mut().write(CODE + u32::from(what), &[what, !what]);
        }
        3 => cpu.set_cr0(cpu.cr0() ^ cr::CR0_WP),
        4 => cpu.watch_stores(CODE, what & 8 != 0),
        5 => {
            let _ = cpu.translate(u32::from(what) << 10, what & 8 != 0, what & 16 != 0);
        }
        6 => cpu.set_cr0(cpu.cr0() ^ cr::CR0_TS),
        _ => {}
    }
}

/// Identity-map RAM, with holes and read-only or supervisor pages, in guest RAM or in
/// separate page-table memory; with CR4.PSE, maybe as one 4 MiB page.
fn page_tables(cpu: &mut Cpu, inp: &mut Input, separate: bool) {
    let mut tables = PhysMem::new(0x2000);
    let (pd, pt) = if separate { (0, 0x1000) } else { (PD, PD + 0x1000) };
    let mem = if separate { &mut tables } else { cpu.mem_mut() };
    let flags = pte::P | pte::RW | pte::US;
    mem.write_u32(pd, pt | flags).expect("PDE inside its memory");
    for page in 0..RAM >> 12 {
        mem.write_u32(pt + 4 * page, (page << 12) | flags).expect("PTE inside its memory");
    }
    for _ in 0..inp.below(12) {
        let page = inp.below(RAM >> 12);
        let at = pt + 4 * page;
        let v = mem.read_u32(at).expect("PTE inside its memory");
        let v = match inp.u8() % 5 {
            0 => 0,
            1 => v & !pte::RW,
            2 => v & !pte::US,
            3 => inp.u32(),
            _ => v | pte::A | pte::D,
        };
        mem.write_u32(at, v).expect("PTE inside its memory");
    }
    match inp.u8() % 8 {
        0 => mem.write_u32(pd + 4, inp.u32()).expect("PDE inside its memory"),
        1 => mem.write_u32(pd, pte::P | pte::RW | pte::US | pte::PS).expect("PDE inside its memory"),
        _ => {}
    }
    if separate {
        cpu.set_page_table_memory(Some(tables));
    }
    cpu.set_cr3(pd);
    cpu.set_cr0(cpu.cr0() | cr::CR0_PG);
}
