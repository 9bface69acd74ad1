//! A 32-bit x86 CPU (the i686 instruction set with its x87 FPU) for running lguest Guests.
//!
//! The CPU is a library with no I/O and no knowledge of lguest. The Host creates it with
//! guest RAM ([`PhysMem`]), sets registers, segments (from a GDT the Host owns) and
//! control registers, and calls [`Cpu::run`], which executes until something the Host must
//! see happens and returns it as an [`Exit`]: a software interrupt, an exception (with its
//! error code; CR2 for #PF), HLT, a guest-physical access outside RAM, or the end of the
//! instruction budget. There is no IDT: delivering traps is the Host's job, except for the
//! few `int n` gates the Host hands the CPU to deliver itself, as lguest's *direct traps*
//! (`direct.rs`).
//!
//! How it is built:
//! - `decode.rs` turns bytes into [`ops::Op`]s with iced-x86, once per block;
//! - `exec.rs` caches those blocks and runs them: the interpreter;
//! - `ops/` holds the semantics by instruction family; `flags.rs` the lazy EFLAGS;
//! - `fpu/` the x87: its state, formats, exact arithmetic and the instructions by family
//!   (its module docs say what is exact and how it was checked against a real processor);
//! - `state.rs` the registers and memory-access paths, `segments.rs` and `paging.rs` the
//!   protection checks and the TLB, `mem.rs` guest RAM and self-modifying-code tracking;
//! - `jit/` translates hot blocks into x86-64 machine code (x86-64 Linux hosts only), on
//!   top of the interpreter, which runs whatever it does not translate; `check.rs` runs
//!   both in lockstep; `engine.rs` is the choice between them ([`Engine`]).
//!
//! The [`Vcpu`] trait is the narrow interface the Host drives; [`Cpu`] implements it on
//! whichever engine [`Cpu::set_engine`] picked, all of them giving the same architectural
//! results, which the `check` engine and the test suite hold them to.

mod check;
mod decode;
mod direct;
mod disasm;
mod engine;
mod exec;
mod exit;
mod flags;
mod fpu;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod jit;
mod mem;
mod ops;
mod paging;
mod regs;
mod segments;
mod state;

pub use direct::{DirectGate, DirectTraps, may_be_direct};
pub use disasm::InsnInfo;
pub use engine::{Engine, JitStats, UnknownEngine};
pub use exit::{Exception, Exit};
pub use mem::{OutOfRam, PhysMem};
pub use ops::system::{CPUID_FEATURES_EDX, CPUID_FPU, CPUID_FXSR, CPUID_SIGNATURE, CPUID_VENDOR};
pub use paging::pte;
pub use regs::{Reg, SegReg, cr, eflags, pf, vector};
pub use segments::{Descriptor, Segment, access, dflags};
pub use state::TscMode;

use check::Check;
use engine::Translator;
use exec::CodeCache;
use state::State;

/// The interface through which the Host drives a virtual CPU.
pub trait Vcpu {
    /// Execute until an event the Host must handle, or until `budget` instructions retired.
    fn run(&mut self, budget: u64) -> Exit;
    fn mem(&self) -> &PhysMem;
    fn mem_mut(&mut self) -> &mut PhysMem;
    fn reg(&self, r: Reg) -> u32;
    fn set_reg(&mut self, r: Reg, v: u32);
    fn eip(&self) -> u32;
    fn set_eip(&mut self, v: u32);
    fn eflags(&self) -> u32;
    /// Set EFLAGS with no privilege rules: the Host is always allowed.
    fn set_eflags(&mut self, v: u32);
    fn segment(&self, s: SegReg) -> Segment;
    /// Load a segment register from the GDT on the Host's behalf. Loading CS sets CPL to
    /// the selector's RPL. The descriptor must be a present code (CS) or data segment.
    fn load_segment(&mut self, s: SegReg, selector: u16) -> Result<(), Exception>;
    fn cpl(&self) -> u8;
    /// Replace one GDT entry (the table grows as needed).
    fn set_gdt_entry(&mut self, index: usize, d: Descriptor);
    fn gdt_entry(&self, index: usize) -> Option<Descriptor>;
    fn cr0(&self) -> u32;
    fn set_cr0(&mut self, v: u32);
    fn cr2(&self) -> u32;
    fn set_cr2(&mut self, v: u32);
    fn cr3(&self) -> u32;
    /// Switch page directory (flushes the TLB).
    fn set_cr3(&mut self, v: u32);
    fn cr4(&self) -> u32;
    fn set_cr4(&mut self, v: u32);
    fn flush_tlb(&mut self);
    fn invlpg(&mut self, lin: u32);
    /// Translate a linear address with the given privilege class, as the CPU would for an
    /// access (setting accessed/dirty bits) but without touching CR2 or the TLB. Errors are
    /// the #PF (or bad-physical) exit the access would raise.
    fn translate(&mut self, lin: u32, write: bool, user: bool) -> Result<u32, Exit>;
    /// Write `bytes` (at most a page) at linear address `lin` as the supervisor would,
    /// through the CPU's TLB and page tables (setting accessed and dirty bits), as a
    /// Host pushing a trap frame does. Nothing is written unless every page translates;
    /// the error is the linear address that did not and the exit the access would raise
    /// there (a #PF leaves CR2 alone). Like any store by the Host, it is not reported to
    /// [`Vcpu::watch_stores`].
    fn write_linear_supervisor(&mut self, lin: u32, bytes: &[u8]) -> Result<(), (u32, Exit)>;
    /// Instructions retired since creation.
    fn retired(&self) -> u64;
    /// Walk page tables in `mem` (the Host's shadow tables) instead of guest RAM: CR3
    /// and PDEs point into it, PTE frames into guest RAM. `None` goes back to guest RAM.
    /// Flushes the TLB.
    fn set_page_table_memory(&mut self, mem: Option<PhysMem>);
    /// Make every store the CPU does to guest-physical page `page_addr` (any address in
    /// it) end `run` with [`Exit::WatchedStore`] right after the storing instruction, or
    /// stop doing so. For a Host that must act the moment the Guest changes some shared
    /// state (lguest: re-enabling interrupts by writing `lguest_data`). Stores by the Host
    /// itself are not reported.
    fn watch_stores(&mut self, page_addr: u32, watch: bool);
    /// Deliver `int vector` through `gate` without exiting, when the rules allow (see
    /// [`DirectTraps`]), or stop doing so (`None`). Only vectors [`may_be_direct`] accepts
    /// are taken; others are ignored.
    fn set_direct_gate(&mut self, vector: u8, gate: Option<DirectGate>);
    /// What direct delivery needs (handlers' code segment, outer-ring stack, interrupt
    /// flag); `None` turns direct delivery off for every gate.
    fn set_direct_traps(&mut self, traps: Option<DirectTraps>);
    /// The separate page-table memory, if any, for the Host to edit. Changing an entry
    /// the TLB may hold needs an [`Vcpu::invlpg`] or [`Vcpu::flush_tlb`], as on hardware.
    fn page_table_memory_mut(&mut self) -> Option<&mut PhysMem>;
}

/// A virtual CPU: the architectural state, the decoded-block cache, and the engine that
/// runs them ([`Engine`]: the interpreter, the translator, or both in lockstep).
pub struct Cpu {
    st: State,
    cache: CodeCache,
    runner: Runner,
}

enum Runner {
    Interp,
    Jit(Box<Translator>),
    Check(Box<Check>),
}

impl Cpu {
    /// A CPU in protected mode at CPL 0 with paging off, no GDT, null segments, and EFLAGS
    /// = 2, running on the interpreter. The Host sets up the rest.
    pub fn new(mem: PhysMem) -> Cpu {
        Cpu { st: State::new(mem), cache: CodeCache::new(), runner: Runner::Interp }
    }

    /// [`Cpu::new`] with another engine.
    pub fn with_engine(mem: PhysMem, engine: Engine) -> Cpu {
        let mut cpu = Cpu::new(mem);
        cpu.set_engine(engine);
        cpu
    }

    /// Switch engines (at any time between runs: the state carries over). `Jit` where
    /// there is no translator runs the interpreter; [`Cpu::engine`] tells.
    pub fn set_engine(&mut self, engine: Engine) {
        if let Runner::Check(c) = &mut self.runner {
            // Leaving check mode: the reference goes, the primary stays (and stops logging
            // the Host's writes).
            self.st.mem.log = None;
            if let Some(pt) = &mut self.st.pt_mem {
                pt.log = None;
            }
            let jit = c.jit.take();
            self.runner = match jit {
                Some(j) => Runner::Jit(j),
                None => Runner::Interp,
            };
        }
        let jit = match std::mem::replace(&mut self.runner, Runner::Interp) {
            Runner::Jit(j) => Some(j),
            _ => None,
        };
        let translator = || jit.or_else(|| Translator::new().map(Box::new));
        self.runner = match engine {
            Engine::Interp => Runner::Interp,
            Engine::Jit => translator().map_or(Runner::Interp, Runner::Jit),
            Engine::Check => Runner::Check(Box::new(Check::new(&mut self.st, translator()))),
        };
    }

    /// The engine running now (`Interp` if `Jit` was asked for where there is none).
    pub fn engine(&self) -> Engine {
        match self.runner {
            Runner::Interp => Engine::Interp,
            Runner::Jit(_) => Engine::Jit,
            Runner::Check(_) => Engine::Check,
        }
    }

    /// Interpreted runs of a block before it is translated (default 50; 0 translates
    /// everything on sight, which tests use to put every instruction through the
    /// translator).
    pub fn set_jit_threshold(&mut self, n: u32) {
        match &mut self.runner {
            Runner::Jit(j) => j.set_threshold(n),
            Runner::Check(c) => {
                if let Some(j) = &mut c.jit {
                    j.set_threshold(n)
                }
            }
            Runner::Interp => {}
        }
    }

    /// What the translator has done, if one runs.
    pub fn jit_stats(&self) -> Option<JitStats> {
        match &self.runner {
            Runner::Jit(j) => Some(j.stats()),
            Runner::Check(c) => c.jit.as_ref().map(|j| j.stats()),
            Runner::Interp => None,
        }
    }

    /// Apply `f` to the state, and in check mode to the reference's too.
    fn each<R>(&mut self, f: impl Fn(&mut State) -> R) -> R {
        if let Runner::Check(c) = &mut self.runner {
            f(&mut c.reference);
        }
        f(&mut self.st)
    }

    /// All eight general registers, EAX..EDI.
    pub fn regs(&self) -> [u32; 8] {
        let mut r = [0; 8];
        r.copy_from_slice(&self.st.regs[..8]);
        r
    }

    /// How RDTSC counts.
    pub fn set_tsc_mode(&mut self, mode: TscMode) {
        let start = std::time::Instant::now();
        self.each(|st| {
            st.tsc_mode = mode;
            st.tsc_start = start;
            st.tsc_pin = None;
        })
    }

    /// Report fewer features in CPUID.1:EDX than [`CPUID_FEATURES_EDX`] (bits outside it
    /// are ignored: the CPU never claims what it lacks). A Host hides a feature its Guest
    /// must not use, as it would with hardware virtualization.
    pub fn set_cpuid_features_edx(&mut self, edx: u32) {
        self.each(|st| st.cpuid_edx = edx & CPUID_FEATURES_EDX)
    }

    /// Set a segment register's hidden cache directly (no GDT lookup, no checks).
    pub fn set_segment(&mut self, s: SegReg, seg: Segment) {
        self.each(|st| {
            if s == SegReg::Cs {
                st.load_cs(seg);
            } else {
                st.segs[s as usize] = seg;
            }
        })
    }

    /// Replace the whole GDT.
    pub fn set_gdt(&mut self, entries: &[u64]) {
        self.each(|st| st.gdt = entries.to_vec())
    }

    pub fn gdt(&self) -> &[u64] {
        &self.st.gdt
    }

    /// The time-stamp counter as RDTSC would read it now.
    pub fn tsc(&self) -> u64 {
        self.st.tsc(self.st.retired)
    }

    /// Decode the instruction at CS:`eip` for a diagnostic message (cold path).
    pub fn describe_instruction(&mut self, eip: u32) -> Option<InsnInfo> {
        self.st.describe(eip)
    }

    /// Drop all decoded and translated code (it will be decoded again on demand).
    pub fn flush_code_cache(&mut self) {
        self.cache.clear();
        match &mut self.runner {
            Runner::Jit(j) => j.flush(&mut self.cache),
            Runner::Check(c) => {
                c.ref_cache.clear();
                if let Some(j) = &mut c.jit {
                    j.flush(&mut self.cache);
                }
            }
            Runner::Interp => {}
        }
    }
}

impl Vcpu for Cpu {
    fn run(&mut self, budget: u64) -> Exit {
        match &mut self.runner {
            Runner::Interp => exec::run(&mut self.st, &mut self.cache, budget),
            Runner::Jit(j) => j.run(&mut self.st, &mut self.cache, budget),
            Runner::Check(c) => check::run(&mut self.st, &mut self.cache, c, budget),
        }
    }

    fn mem(&self) -> &PhysMem {
        &self.st.mem
    }

    fn mem_mut(&mut self) -> &mut PhysMem {
        &mut self.st.mem
    }

    fn reg(&self, r: Reg) -> u32 {
        self.st.regs[r as usize]
    }

    fn set_reg(&mut self, r: Reg, v: u32) {
        self.each(|st| st.regs[r as usize] = v)
    }

    fn eip(&self) -> u32 {
        self.st.eip
    }

    fn set_eip(&mut self, v: u32) {
        self.each(|st| st.eip = v)
    }

    fn eflags(&self) -> u32 {
        self.st.eflags()
    }

    fn set_eflags(&mut self, v: u32) {
        self.each(|st| st.set_eflags(v))
    }

    fn segment(&self, s: SegReg) -> Segment {
        self.st.segs[s as usize]
    }

    fn load_segment(&mut self, s: SegReg, selector: u16) -> Result<(), Exception> {
        self.each(|st| load_segment(st, s, selector))
    }

    fn cpl(&self) -> u8 {
        self.st.cpl
    }

    fn set_gdt_entry(&mut self, index: usize, d: Descriptor) {
        self.each(|st| {
            if st.gdt.len() <= index {
                st.gdt.resize(index + 1, 0);
            }
            st.gdt[index] = d.0;
        })
    }

    fn gdt_entry(&self, index: usize) -> Option<Descriptor> {
        self.st.gdt.get(index).map(|&d| Descriptor(d))
    }

    fn cr0(&self) -> u32 {
        self.st.cr0
    }

    fn set_cr0(&mut self, v: u32) {
        self.each(|st| {
            let v = v | cr::CR0_PE | cr::CR0_ET;
            if (st.cr0 ^ v) & (cr::CR0_PG | cr::CR0_WP) != 0 {
                st.tlb.flush_all();
            }
            st.cr0 = v;
        })
    }

    fn cr2(&self) -> u32 {
        self.st.cr2
    }

    fn set_cr2(&mut self, v: u32) {
        self.each(|st| st.cr2 = v)
    }

    fn cr3(&self) -> u32 {
        self.st.cr3
    }

    fn set_cr3(&mut self, v: u32) {
        self.each(|st| st.set_cr3(v))
    }

    fn cr4(&self) -> u32 {
        self.st.cr4
    }

    fn set_cr4(&mut self, v: u32) {
        self.each(|st| {
            if (st.cr4 ^ v) & cr::CR4_PSE != 0 {
                st.tlb.flush_all();
            }
            st.cr4 = v & (cr::CR4_PSE | cr::CR4_TSD);
        })
    }

    fn flush_tlb(&mut self) {
        self.each(|st| st.tlb.flush_all())
    }

    fn invlpg(&mut self, lin: u32) {
        self.each(|st| st.tlb.flush_page(lin))
    }

    fn translate(&mut self, lin: u32, write: bool, user: bool) -> Result<u32, Exit> {
        self.each(|st| {
            let w = st.walk(lin, write, user).map_err(|e| e.exit().unwrap_or(Exit::BudgetExhausted));
            // The walk's accessed and dirty bits are the Host's stores: they end no block
            // and are not watched (as in `write_linear_supervisor`).
            st.smc = false;
            st.watch_hit = false;
            let w = w?;
            let phys = w.phys_page | (lin & 0xFFF);
            if !st.mem.contains(w.phys_page, 4096) {
                return Err(Exit::BadPhysical { addr: phys });
            }
            Ok(phys)
        })
    }

    fn write_linear_supervisor(&mut self, lin: u32, bytes: &[u8]) -> Result<(), (u32, Exit)> {
        self.each(|st| {
            let r = st
                .write_lin_supervisor(lin, bytes)
                .map_err(|(at, e)| (at, e.exit().unwrap_or(Exit::BudgetExhausted)));
            // Stores by the Host end no block and are not watched.
            st.smc = false;
            st.watch_hit = false;
            r
        })
    }

    fn retired(&self) -> u64 {
        self.st.retired
    }

    fn set_page_table_memory(&mut self, mem: Option<PhysMem>) {
        if let Runner::Check(c) = &mut self.runner {
            c.reference.pt_mem = mem.clone().map(|mut m| {
                m.log = None;
                m
            });
            c.reference.tlb.flush_all();
        }
        self.st.pt_mem = mem;
        self.st.tlb.flush_all();
    }

    fn page_table_memory_mut(&mut self) -> Option<&mut PhysMem> {
        self.st.pt_mem.as_mut()
    }

    fn set_direct_gate(&mut self, vector: u8, gate: Option<DirectGate>) {
        if may_be_direct(vector) {
            self.each(|st| st.direct.gates[vector as usize] = gate)
        }
    }

    fn set_direct_traps(&mut self, traps: Option<DirectTraps>) {
        self.each(|st| st.direct.traps = traps)
    }

    fn watch_stores(&mut self, page_addr: u32, watch: bool) {
        self.each(|st| {
            let page = (page_addr >> 12) as usize;
            if let Some(w) = st.mem.watched.get_mut(page) {
                if watch && !*w {
                    st.tlb.drop_write_tags_for(page_addr & !0xFFF);
                }
                *w = watch;
            }
        })
    }
}

/// [`Vcpu::load_segment`] on one state.
fn load_segment(st: &mut State, s: SegReg, selector: u16) -> Result<(), Exception> {
    let bad = Exception { vector: vector::GP, error_code: Some(selector as u32 & 0xFFFC) };
    if selector & 0xFFFC == 0 {
        if s == SegReg::Cs || s == SegReg::Ss {
            return Err(bad);
        }
        st.segs[s as usize] = Segment::null(selector);
        return Ok(());
    }
    let d = st.gdt_descriptor(selector).map_err(|_| bad)?;
    let ok = d.present()
        && match s {
            SegReg::Cs => d.is_code(),
            SegReg::Ss => d.writable(),
            _ => d.readable(),
        };
    if !ok {
        return Err(bad);
    }
    let seg = st.cache_for(selector, d);
    if s == SegReg::Cs {
        st.load_cs(seg);
    } else {
        st.segs[s as usize] = seg;
    }
    Ok(())
}
