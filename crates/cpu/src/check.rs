//! The `check` engine: the translator and the interpreter run the one Guest in lockstep,
//! and the first difference stops everything with both states printed.
//!
//! The CPU the Host drives runs the translator (the *primary*); beside it is a copy of
//! the whole CPU — registers, RAM, page-table memory, TLB — that only the interpreter
//! runs (the *reference*). Everything the Host does through [`crate::Vcpu`] is done to
//! both (`lib.rs`); what it writes into RAM or the page-table memory directly, between
//! runs, is copied into the reference before the next run (`PhysMem` logs the pages the
//! Host writes). A run is cut into steps of [`STEP`] instructions; after each, both CPUs
//! must have retired the same instructions and agree on registers, EFLAGS, segments,
//! control registers and the exit. Memory is compared whole — every byte of RAM and
//! page-table memory — at the end of a run that exits for a reason other than the budget
//! when RAM is small, and otherwise once the instructions run since the last comparison
//! reach a 32nd of the RAM's size (so comparing costs a bounded share of the run time; a
//! difference in memory is found a little after the step that made it). A difference
//! panics with a report: where the step started, the exits, and every field that differs.
//!
//! Both CPUs must read one clock: with a real-time TSC, each step pins it to the real
//! time at the step's start (never going back), plus one tick per instruction within the
//! step.

use crate::engine::Translator;
use crate::exec::{self, CodeCache};
use crate::exit::Exit;
use crate::mem::{PAGE_SIZE, PhysMem};
use crate::regs::{Reg, SegReg};
use crate::state::{State, TscMode};
use std::fmt::Write;

/// Instructions per lockstep step.
pub(crate) const STEP: u64 = 2000;
/// Bytes of memory compared per instruction run, at most (see the module doc).
const MEM_BYTES_PER_INSN: u64 = 32;
/// RAM compared after every run that ends for the Host, up to this size.
const SMALL_RAM: usize = 4 << 20;

/// The reference CPU and how the primary runs.
pub(crate) struct Check {
    /// The primary's translator (`None` where there is none: then the interpreter is
    /// checked against itself, which still checks the mirroring).
    pub jit: Option<Box<Translator>>,
    pub reference: Box<State>,
    pub ref_cache: CodeCache,
    /// Steps run so far (for the report).
    steps: u64,
    /// Instructions run since memory was last compared.
    since: u64,
}

impl Check {
    /// Start checking a CPU whose state is `st`.
    pub(crate) fn new(st: &mut State, jit: Option<Box<Translator>>) -> Check {
        st.mem.log = None;
        let mut reference = Box::new(st.clone());
        reference.tlb.flush_all();
        st.tlb.flush_all();
        st.mem.log = Some(Vec::new());
        Check { jit, reference, ref_cache: CodeCache::new(), steps: 0, since: 0 }
    }
}

/// Run both CPUs for `budget` instructions, or to the first exit.
pub(crate) fn run(st: &mut State, cache: &mut CodeCache, c: &mut Check, budget: u64) -> Exit {
    sync(&mut st.mem, &mut c.reference.mem);
    if let (Some(p), Some(r)) = (&mut st.pt_mem, &mut c.reference.pt_mem) {
        sync(p, r);
    }
    let start = st.retired;
    if let Some(diff) = differences(st, &c.reference) {
        fail(c, st, "before a run (the Host changed the two CPUs differently)", None, None, &diff);
    }
    let mut left = budget;
    loop {
        let step = left.min(STEP);
        let eip = st.eip;
        if st.tsc_mode != TscMode::Instructions {
            let now = st.tsc_unpinned(st.retired).max(st.tsc(st.retired));
            st.tsc_pin = Some((now, st.retired));
            c.reference.tsc_pin = st.tsc_pin;
        }
        let before = st.retired;
        let e1 = match &mut c.jit {
            Some(jit) => jit.run(st, cache, step),
            None => exec::run(st, cache, step),
        };
        let e2 = exec::run(&mut c.reference, &mut c.ref_cache, step);
        c.steps += 1;
        let mut diff = differences(st, &c.reference).unwrap_or_default();
        if e1 != e2 {
            let _ = writeln!(diff, "  exit: {e1:?} (translator) vs {e2:?} (interpreter)");
        }
        if !diff.is_empty() {
            let what = format!(
                "in a step of {step} instructions from eip {eip:#x} ({}), {} retired",
                describe(&c.reference, eip),
                st.retired - before
            );
            fail(c, st, &what, Some(e1), Some(e2), &diff);
        }
        left -= step;
        if e1 != Exit::BudgetExhausted || left == 0 {
            // What the CPU stored is not the Host's to copy over at the next run.
            for m in [Some(&mut st.mem), st.pt_mem.as_mut()].into_iter().flatten() {
                m.log = Some(Vec::new());
            }
            c.since += st.retired - start;
            let ram = st.mem.bytes.len();
            let now = (e1 != Exit::BudgetExhausted && ram <= SMALL_RAM)
                || c.since.saturating_mul(MEM_BYTES_PER_INSN) >= ram as u64;
            if !now {
                return e1;
            }
            c.since = 0;
            let mut diff = memory_differences("RAM", &st.mem, &c.reference.mem);
            if let (Some(p), Some(r)) = (&st.pt_mem, &c.reference.pt_mem) {
                diff += &memory_differences("page-table memory", p, r);
            }
            if !diff.is_empty() {
                fail(
                    c,
                    st,
                    &format!("in memory, by the end of a run at eip {:#x}", st.eip),
                    Some(e1),
                    None,
                    &diff,
                );
            }
            return e1;
        }
    }
}

/// Copy into `to` the pages the Host wrote in `from` since the last run (all pages that
/// differ, if `from` was not logging), as a Host write does (code decoded from them is
/// dropped).
fn sync(from: &mut PhysMem, to: &mut PhysMem) {
    if from.bytes.len() != to.bytes.len() {
        *to = from.clone();
        to.log = None;
        from.log = Some(Vec::new());
        return;
    }
    let page = PAGE_SIZE as usize;
    let pages = from.bytes.len() / page;
    let logged = from.log.replace(Vec::new()).filter(|l| l.len() <= pages);
    let mut copy = |i: usize| {
        let at = i * page;
        if let (Some(a), Some(b)) = (from.bytes.get(at..at + page), to.bytes.get(at..at + page))
            && a != b
        {
            let _ = to.write(at as u32, a);
        }
    };
    match logged {
        Some(list) => list.into_iter().for_each(|p| copy(p as usize)),
        None => (0..pages).for_each(copy),
    }
}

/// Every architectural difference between the two CPUs, one line each.
fn differences(a: &State, b: &State) -> Option<String> {
    let mut out = String::new();
    for r in Reg::ALL {
        let (x, y) = (a.regs[r as usize], b.regs[r as usize]);
        if x != y {
            let _ = writeln!(out, "  {}: {x:#010x} vs {y:#010x}", r.name());
        }
    }
    let mut word = |name: &str, x: u64, y: u64| {
        if x != y {
            let _ = writeln!(out, "  {name}: {x:#x} vs {y:#x}");
        }
    };
    word("eip", a.eip as u64, b.eip as u64);
    word("eflags", a.eflags() as u64, b.eflags() as u64);
    word("cpl", a.cpl as u64, b.cpl as u64);
    word("cr0", a.cr0 as u64, b.cr0 as u64);
    word("cr2", a.cr2 as u64, b.cr2 as u64);
    word("cr3", a.cr3 as u64, b.cr3 as u64);
    word("cr4", a.cr4 as u64, b.cr4 as u64);
    word("retired", a.retired, b.retired);
    for s in SegReg::ALL {
        let (x, y) = (a.segs[s as usize], b.segs[s as usize]);
        if x != y {
            let _ = writeln!(out, "  {}: {x:?} vs {y:?}", s.name());
        }
    }
    if fpu_words(a) != fpu_words(b) {
        let _ = writeln!(out, "  x87: {:?}\n   vs {:?}", a.fpu, b.fpu);
    }
    if out.is_empty() { None } else { Some(out) }
}

/// The x87's architectural state as numbers, for comparing.
fn fpu_words(st: &State) -> [u64; 21] {
    let f = &st.fpu;
    let mut w = [0u64; 21];
    for (i, r) in f.regs.iter().enumerate() {
        w[2 * i] = r.sig;
        w[2 * i + 1] = r.se as u64;
    }
    w[16] = f.top as u64 | (f.empty as u64) << 8 | (f.cw as u64) << 16 | (f.sw as u64) << 32;
    w[17] = f.fip as u64 | (f.fcs as u64) << 32 | (f.fop as u64) << 48;
    w[18] = f.fdp as u64 | (f.fds as u64) << 32;
    w[19] = st.cpuid_edx as u64;
    w[20] = st.dr.iter().fold(0, |a, &d| a ^ d as u64);
    w
}

/// The first few differing places of two memories.
fn memory_differences(what: &str, a: &PhysMem, b: &PhysMem) -> String {
    let mut out = String::new();
    if a.bytes.len() != b.bytes.len() {
        let _ = writeln!(out, "  {what}: {} bytes vs {}", a.bytes.len(), b.bytes.len());
        return out;
    }
    if a.bytes == b.bytes {
        return out;
    }
    let mut shown = 0;
    for (i, (x, y)) in a.bytes.iter().zip(&b.bytes).enumerate() {
        if x != y {
            let _ = writeln!(out, "  {what} at {i:#x}: {x:#04x} vs {y:#04x}");
            shown += 1;
            if shown == 16 {
                let _ = writeln!(out, "  ...");
                break;
            }
        }
    }
    out
}

fn fail(c: &Check, st: &State, when: &str, e1: Option<Exit>, e2: Option<Exit>, diff: &str) -> ! {
    let mut report = String::new();
    let _ = writeln!(report, "the CPU engines diverged {when}, after {} lockstep steps", c.steps);
    let _ = writeln!(report, "(a bug in lguest-rs: the translator and the interpreter must agree)");
    if let (Some(e1), Some(e2)) = (e1, e2) {
        let _ = writeln!(report, "exits: translator {e1}, interpreter {e2}");
    }
    let _ = writeln!(report, "differences (translator vs interpreter):");
    report += diff;
    let _ = writeln!(report, "translator state: {}", state_line(st));
    let _ = writeln!(report, "  next instruction: {}", describe(&c.reference, st.eip));
    let _ = writeln!(report, "interpreter state: {}", state_line(&c.reference));
    let _ = writeln!(report, "  next instruction: {}", describe(&c.reference, c.reference.eip));
    panic!("{report}");
}

/// The instruction at `eip`, decoded from a copy of `st` (decoding sets accessed bits).
fn describe(st: &State, eip: u32) -> String {
    match st.clone().describe(eip) {
        Some(i) => format!("`{}` {:02x?}", i.text, i.bytes),
        None => "not fetchable".into(),
    }
}

fn state_line(st: &State) -> String {
    let regs: Vec<String> =
        Reg::ALL.iter().map(|&r| format!("{}={:08x}", r.name(), st.regs[r as usize])).collect();
    format!(
        "{} eip={:08x} eflags={:08x} cpl={} cs={:04x} ss={:04x} ds={:04x} es={:04x} cr2={:08x} cr3={:08x} retired={}",
        regs.join(" "),
        st.eip,
        st.eflags(),
        st.cpl,
        st.segs[SegReg::Cs as usize].selector,
        st.segs[SegReg::Ss as usize].selector,
        st.segs[SegReg::Ds as usize].selector,
        st.segs[SegReg::Es as usize].selector,
        st.cr2,
        st.cr3,
        st.retired
    )
}

#[cfg(test)]
mod tests {
    use crate::{Cpu, Descriptor, Engine, Exit, PhysMem, Reg, Runner, SegReg, Vcpu};

    /// A flat ring-0 CPU on the check engine about to run `inc eax; inc eax; int 0x80`.
    fn machine() -> Cpu {
        let mut mem = PhysMem::new(1 << 16);
        mem.write(0x1000, &[0x40, 0x40, 0xCD, 0x80]).unwrap();
        let mut cpu = Cpu::with_engine(mem, Engine::Check);
        cpu.set_jit_threshold(0);
        cpu.set_gdt_entry(1, Descriptor::new(0, 0xFFFFF, 0x9A, 0xC));
        cpu.set_gdt_entry(2, Descriptor::new(0, 0xFFFFF, 0x92, 0xC));
        cpu.load_segment(SegReg::Cs, 0x08).unwrap();
        for s in [SegReg::Ds, SegReg::Es, SegReg::Ss] {
            cpu.load_segment(s, 0x10).unwrap();
        }
        cpu.set_reg(Reg::Esp, 0x8000);
        cpu.set_eip(0x1000);
        cpu
    }

    #[test]
    fn both_engines_agreeing_run_as_one() {
        let mut cpu = machine();
        assert_eq!(cpu.run(100), Exit::SoftInt { vector: 0x80, len: 2 });
        assert_eq!(cpu.reg(Reg::Eax), 2);
    }

    #[test]
    #[should_panic(expected = "the CPU engines diverged")]
    fn a_register_the_engines_disagree_on_stops_everything() {
        let mut cpu = machine();
        // Change the reference's EAX behind the mirroring's back.
        if let Runner::Check(c) = &mut cpu.runner {
            c.reference.regs[Reg::Eax as usize] = 5;
        }
        cpu.run(100);
    }

    #[test]
    #[should_panic(expected = "RAM at 0x3000")]
    fn memory_the_engines_disagree_on_stops_everything() {
        let mut cpu = machine();
        if let Runner::Check(c) = &mut cpu.runner {
            // Not a write the Host made through the CPU (that is copied over): a difference.
            c.reference.mem.bytes[0x3000] = 1;
        }
        cpu.run(100);
    }
}
