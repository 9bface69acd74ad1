//! The translating engine: hot blocks of Guest code become x86-64 machine code.
//!
//! It sits on the interpreter rather than beside it. Blocks are the interpreter's own
//! (`exec.rs` decodes, caches and validates them); a block is interpreted, and counted,
//! until it has run [`DEFAULT_THRESHOLD`] times, and only then translated (`emit.rs`), so
//! code that runs a few times — most of a boot — costs no compile time. The interpreter
//! also stays the reference for everything the translator leaves to it: an instruction
//! the translator does not know calls its interpreter handler, a slow path (a TLB miss, a
//! fault) runs the whole instruction with its handler, and a budget that ends inside a
//! block, or a stop the handlers report, is finished by the interpreter's run loop. So
//! the state at every exit is the interpreter's by construction: EIP of the faulting
//! instruction, registers, lazy flags, a partial REP, CR2 and the error code.
//!
//! **Threshold.** 50 runs. Translating a block takes 4 to 8 µs (`cargo bench -p
//! lguest-cpu` prints it), about what interpreting it a few hundred times costs, and a
//! translated block then runs 5 to 20 times faster. Most code a boot runs, runs a few
//! times: booting the Linux Guest to its shell translates 11,490 blocks (47 ms of compile
//! time, a tenth of the boot) on sight, 1,844 (14 ms) at 50, 229 at 1,000, with the boot
//! itself equally fast within the noise; code that loops reaches full speed after its
//! first 50 iterations, microseconds in.
//!
//! **Entering.** A translation the dispatcher enters costs an entry and an exit (saving
//! and restoring host registers, about as much as interpreting a dozen instructions).
//! Each translation's instructions per entry are judged every 64 entries; one that runs
//! fewer than 16 per entry (the blocks around a hypercall or a trap handler's, which end
//! in an exit anyway) is interpreted when the dispatcher meets it, so these paths cost
//! what they cost on the interpreter, while other translated code still jumps into it.
//! Blocks that are mostly handler calls (system instructions, string operations) are
//! not translated at all.
//!
//! **Chaining.** Translated code returns to the dispatcher ([`run`]) only when it must:
//! a direct jump whose target has no translation yet (the site is then patched to jump
//! straight there next time), a jump-cache miss on an indirect jump, the budget, a stop.
//! Each block head checks the *stamp* — the CPU's epoch (TLB generation, code-page
//! writes, CS changes: what makes the interpreter revalidate blocks), CPL 3 or not, and
//! which segments are flat — against the one it was validated with, so a stale block is
//! never run: it revalidates itself in place (a callback doing the dispatcher's block
//! lookup: after a context switch the kernel's code is still where it was), or returns to
//! the dispatcher, and a block found stale for good is unlinked from every site jumping
//! to it. A handler that changes the stamp (an `invlpg`, a segment load) leaves the rest
//! of its block to the interpreter, as the interpreter would have run it.
//!
//! **Bounds.** The code arena ([`ARENA`] bytes) and the op table are fixed in size and
//! flushed whole when full (QEMU's policy): a Guest cannot grow the Host's memory.
//!
//! **Emitter.** dynasm-rs: its assembler is a proc macro, so the x86 templates are
//! checked when this crate compiles and emitting one is a few `Vec` pushes — the one-pass,
//! no-IR design compile time calls for. iced-x86 (already the decoder) has an encoder too,
//! but goes through a 40-byte `Instruction` per host instruction and a block encoder;
//! Cranelift would give better code for a second tier, at several times the compile time
//! per block, which the issue trackers of Cranelift-based emulators report as their
//! problem with code that runs a few times.
//!
//! `native.rs` holds every `unsafe` block of the engine: the two mappings of the arena,
//! the call into generated code, and the four callbacks generated code makes.

mod emit;
mod native;

use crate::engine::JitStats;
use crate::exec::{CodeCache, NO_BLOCK, block_key, exec_ops, find_block, run_cut, stop_exit, stopped};
use crate::exit::{Exit, Stop};
use crate::mem::PAGE_SIZE;
use crate::ops::Op;
use crate::state::State;
use emit::{Input, Runtime};
use iced_x86::{Decoder, DecoderOptions, Instruction};
use native::CodeMemory;
use std::time::Instant;

/// Interpreted runs before a block is translated.
pub(crate) const DEFAULT_THRESHOLD: u32 = 50;
/// Bytes of the code arena.
pub(crate) const ARENA: usize = 32 << 20;
/// Ops the translations may refer to, at most (their handlers are the slow paths).
const MAX_OPS: usize = 1 << 18;
/// Entries per half (supervisor, user) of the jump cache.
pub(crate) const JC_SIZE: usize = 4096;
/// A block the translator declined (16-bit code): never offered again.
const REFUSED: u32 = u32::MAX - 1;
/// Entries from the dispatcher over which a translation's worth is judged, and the
/// instructions per entry below which entering it costs more than interpreting (an entry
/// and exit cost about as much as interpreting a dozen instructions).
const JUDGE_ENTRIES: u32 = 64;
const MIN_RUN: u64 = 16;
/// `Block::hits` of a block whose translation the dispatcher enters.
pub(crate) const ENTER: u32 = u32::MAX;
/// `Block::hits` of a block the dispatcher interprets for good: translation refused, or
/// not worth entering (it may still have one that other translated code jumps to).
pub(crate) const QUIET: u32 = u32::MAX - 1;

// Exit words generated code returns (kind in the low byte; an id from bit 8; an
// instruction index from bit 40).
/// A direct jump whose site is not linked: EIP set; the id is the site.
pub(crate) const X_CHAIN: u64 = 1;
/// An indirect jump missed the jump cache: EIP set.
pub(crate) const X_INDIRECT: u64 = 2;
/// A block head found its stamp stale: EIP is its start; the id is the block.
pub(crate) const X_STALE: u64 = 3;
/// A block head found the budget too small for it: EIP is its start.
pub(crate) const X_BUDGET: u64 = 4;
/// A handler stopped instruction `insn` of block `id`; the stop is in `State::jit.res`.
pub(crate) const X_STOP: u64 = 5;
/// `State::jit.res` when a handler changed what the rest of its block was translated
/// for (no `Stop` packs to this): the interpreter runs the rest of the block.
const RES_INTERPRET_REST: u64 = u64::MAX;

/// One jump-cache entry: a block's EIP and the executable address of its head.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct JcEntry {
    eip: u32,
    pad: u32,
    code: u64,
}

/// The jump cache indirect jumps probe inline: per privilege class, EIP → block head.
/// An empty entry points at the runtime's miss handler, so a match on it is harmless.
pub(crate) struct JumpCache {
    entries: Box<[JcEntry]>,
}

impl JumpCache {
    fn new() -> JumpCache {
        JumpCache { entries: vec![JcEntry { eip: 0, pad: 0, code: 0 }; 2 * JC_SIZE].into_boxed_slice() }
    }

    /// The address of the half for privilege class `user`.
    fn half(&self, user: bool) -> usize {
        self.entries.as_ptr() as usize + if user { JC_SIZE * 16 } else { 0 }
    }

    fn slot(eip: u32, user: bool) -> usize {
        (((eip >> 12) ^ eip) as usize & (JC_SIZE - 1)) + if user { JC_SIZE } else { 0 }
    }

    fn reset(&mut self, miss: u64) {
        self.entries.fill(JcEntry { eip: 0, pad: 0, code: miss });
    }
}

pub(crate) struct Translation {
    /// The block (of the interpreter's cache) it translates.
    bi: u32,
    /// Offset of the head in the arena (the stamp slot is the 8 bytes before).
    entry: usize,
    eip: u32,
    user: bool,
    flat: u8,
    len: u32,
    /// Index of its first op in `Jit::ops`.
    ops: usize,
    /// The stamp its slot holds now.
    stamp: u64,
    /// Sites linked to it.
    incoming: Vec<u32>,
    dead: bool,
    /// Entries from the dispatcher, and the instructions they ran, in the current window.
    entries: u32,
    run: u64,
    /// Too little runs per entry: the dispatcher interprets the block instead of entering
    /// the translation (which still runs when other translated code jumps to it).
    bypass: bool,
}

struct Site {
    /// Offset of the rel32 to patch, and of the stub it jumps to when unlinked.
    at: usize,
    stub: usize,
    linked: bool,
}

/// How translated code last returned, for the dispatcher to act on next.
#[derive(Clone, Copy)]
enum Via {
    Nothing,
    Site(u32),
    Indirect,
}

/// The translator's state: code arena, translations, link sites, jump cache.
pub(crate) struct Jit {
    mem: CodeMemory,
    rt: Runtime,
    top: usize,
    blocks: Vec<Translation>,
    sites: Vec<Site>,
    ops: Vec<Op>,
    jcache: JumpCache,
    threshold: u32,
    stats: JitStats,
    /// `CodeCache::clears` the translations belong to.
    clears: u64,
    pending: Via,
    /// A translation whose head found its stamp stale, for the dispatcher to look at.
    stale: Option<u32>,
    insns: Vec<Instruction>,
    bytes: Vec<u8>,
    /// `$LGUEST_JIT_DUMP`: a directory to write each translation to, Guest instructions
    /// beside the code made for them (QEMU's `-d in_asm,out_asm`).
    dump: Option<std::path::PathBuf>,
}

impl Jit {
    /// A translator, if the host lets us map executable memory.
    pub(crate) fn new() -> Option<Jit> {
        let mem = CodeMemory::new(ARENA)?;
        let (code, rt) = emit::runtime(mem.exec_addr(0));
        if std::env::var("JITDBG").is_ok() {
            eprintln!(
                "rt enter {:#x} exit {:#x} op {:#x} cond {:#x} carrythunk {:#x} carry {:#x} miss {:#x} len {:#x}",
                rt.enter, rt.exit, rt.op_thunk, rt.cond_thunk, rt.carry_thunk, rt.carry, rt.miss, rt.len
            );
            std::fs::write("/tmp/rt.bin", &code).ok();
        }
        mem.write(0, &code);
        let mut jit = Jit {
            mem,
            rt,
            top: 0,
            blocks: Vec::new(),
            sites: Vec::new(),
            ops: Vec::with_capacity(MAX_OPS),
            jcache: JumpCache::new(),
            threshold: threshold_from_env(),
            stats: JitStats { arena_size: ARENA as u64, ..JitStats::default() },
            clears: 0,
            pending: Via::Nothing,
            stale: None,
            insns: Vec::new(),
            bytes: Vec::new(),
            dump: std::env::var_os("LGUEST_JIT_DUMP").map(Into::into),
        };
        jit.reset();
        Some(jit)
    }

    pub(crate) fn set_threshold(&mut self, n: u32) {
        self.threshold = n;
    }

    pub(crate) fn stats(&self) -> JitStats {
        JitStats { arena_used: self.top as u64, ..self.stats }
    }

    fn reset(&mut self) {
        self.top = self.rt.len.next_multiple_of(64);
        self.blocks.clear();
        self.sites.clear();
        self.ops.clear();
        self.jcache.reset(self.mem.exec_addr(self.rt.miss) as u64);
        self.pending = Via::Nothing;
        self.stale = None;
    }

    /// Run until an exit or until `budget` instructions retired (see [`run`]).
    #[inline]
    pub(crate) fn run(&mut self, st: &mut State, cache: &mut CodeCache, budget: u64) -> Exit {
        run(st, cache, self, budget)
    }

    /// Drop every translation (the arena or the op table is full, or the interpreter's
    /// block cache was dropped).
    pub(crate) fn flush(&mut self, cache: &mut CodeCache) {
        self.reset();
        for b in cache.blocks.iter_mut() {
            b.jit = NO_BLOCK;
            b.hits = 0;
        }
        self.clears = cache.clears;
        self.stats.flushes += 1;
    }

    /// The translation of block `bi` (valid at CS:EIP in this epoch), making one if the
    /// block is hot, with the stamp it is valid under and whether the dispatcher should
    /// enter it (or interpret the block: see [`Translation::bypass`]).
    fn translation(&mut self, st: &State, cache: &mut CodeCache, bi: u32) -> Option<(u32, u64, bool)> {
        let b = &mut cache.blocks[bi as usize];
        if b.jit == REFUSED {
            return None;
        }
        let stamp = stamp(st);
        if b.jit != NO_BLOCK {
            let j = b.jit;
            let t = &mut self.blocks[j as usize];
            if t.flat == emit::flat_mask(st) && t.user == st.user && !t.dead {
                if t.stamp != stamp {
                    t.stamp = stamp;
                    self.mem.write(t.entry - 8, &stamp.to_le_bytes());
                }
                return Some((j, stamp, !t.bypass));
            }
            // Translated for other segments: retranslate (rare).
            b.jit = NO_BLOCK;
            b.hits = 0;
            self.kill(j);
        }
        self.compile(st, cache, bi, stamp).map(|j| (j, stamp, true))
    }

    /// Translate block `bi`.
    fn compile(&mut self, st: &State, cache: &mut CodeCache, bi: u32, stamp: u64) -> Option<u32> {
        let start = Instant::now();
        let len = cache.blocks[bi as usize].ops.len();
        // Room for the worst case: about 600 bytes per instruction (a slow path, a stop
        // stub and the fast path of the longest template), plus the head and link stubs.
        let room = 1024 + 600 * len;
        if self.top + room > self.mem.size() || self.ops.len() + len > MAX_OPS {
            self.flush(cache);
        }
        let b = &mut cache.blocks[bi as usize];
        if !b.cs_big || !self.decode(st, bi, b) {
            b.jit = REFUSED;
            b.hits = QUIET;
            return None;
        }
        let first_op = self.ops.len();
        self.ops.extend_from_slice(&b.ops);
        for &(i, f) in b.exact.iter() {
            self.ops[first_op + i as usize].f = f;
        }
        let id = self.blocks.len() as u32;
        let base = self.top; // 16-aligned: the stamp slot comes first
        let flat = emit::flat_mask(st);
        let input = Input {
            id,
            eip: b.eip,
            next_eip: b.next_eip,
            user: b.user,
            flat,
            cs_limit: b.cs_limit,
            insns: &self.insns,
            ops: &self.ops[first_op..],
            first_site: self.sites.len() as u32,
            base: self.mem.exec_addr(base),
            arena: self.mem.exec_addr(0),
            rt: self.rt,
            jcache: &self.jcache,
        };
        let out = emit::translate(&input);
        let Some(out) = out.filter(|o| base + o.code.len() <= self.mem.size()) else {
            // (Too long cannot happen with the room reserved above; refuse rather than
            // overflow.)
            self.ops.truncate(first_op);
            b.jit = REFUSED;
            b.hits = QUIET;
            return None;
        };
        self.mem.write(base, &out.code);
        if let Some(dir) = &self.dump {
            dump(dir, id, &self.insns, &out, self.mem.exec_addr(base));
        }
        let entry = base + out.entry;
        self.mem.write(entry - 8, &stamp.to_le_bytes());
        for &(at, stub) in &out.sites {
            self.sites.push(Site { at: base + at, stub: base + stub, linked: false });
        }
        self.blocks.push(Translation {
            bi,
            entry,
            eip: b.eip,
            user: b.user,
            flat,
            len: len as u32,
            ops: first_op,
            stamp,
            incoming: Vec::new(),
            dead: false,
            entries: 0,
            run: 0,
            bypass: false,
        });
        self.top = (base + out.code.len()).next_multiple_of(16);
        b.jit = id;
        b.hits = ENTER;
        self.stats.blocks += 1;
        self.stats.insns += len as u64;
        self.stats.native_insns += out.native as u64;
        self.stats.code_bytes += out.code.len() as u64;
        self.stats.compile_ns += start.elapsed().as_nanos() as u64;
        Some(id)
    }

    /// Decode block `b`'s instructions again (from its physical pages, which are what it
    /// was decoded from, the block being valid in this epoch) into `self.insns`.
    fn decode(&mut self, st: &State, _bi: u32, b: &crate::exec::Block) -> bool {
        let total: usize = b.ops.iter().map(|o| o.len as usize).sum();
        let in_page = (PAGE_SIZE - (b.phys & (PAGE_SIZE - 1))) as usize;
        self.bytes.clear();
        let first = total.min(in_page);
        match st.mem.slice(b.phys, first as u32) {
            Ok(s) => self.bytes.extend_from_slice(s),
            Err(_) => return false,
        }
        if total > first {
            if b.phys2 == crate::exec::NO_PAGE {
                return false;
            }
            match st.mem.slice(b.phys2, (total - first) as u32) {
                Ok(s) => self.bytes.extend_from_slice(s),
                Err(_) => return false,
            }
        }
        self.insns.clear();
        let mut d = Decoder::with_ip(32, &self.bytes, b.eip as u64, DecoderOptions::NONE);
        for op in b.ops.iter() {
            let ins = d.decode();
            if ins.ip32() != op.eip || ins.len() != op.len as usize {
                return false;
            }
            self.insns.push(ins);
        }
        true
    }

    /// Retire translation `j`: its slot can never match again and every site jumping to
    /// it goes back to its stub.
    fn kill(&mut self, j: u32) {
        let t = &mut self.blocks[j as usize];
        if t.dead {
            return;
        }
        t.dead = true;
        t.stamp = u64::MAX;
        let entry = t.entry;
        let incoming = std::mem::take(&mut t.incoming);
        self.mem.write(entry - 8, &u64::MAX.to_le_bytes());
        for s in incoming {
            let site = &mut self.sites[s as usize];
            if site.linked {
                site.linked = false;
                let (at, stub) = (site.at, site.stub);
                self.patch(at, stub);
            }
        }
    }

    fn patch(&mut self, at: usize, target: usize) {
        let rel = (target as i64 - (at as i64 + 4)) as i32;
        self.mem.write(at, &rel.to_le_bytes());
    }

    /// Act on how translated code last returned, now that `j` is where it goes on.
    fn connect(&mut self, j: u32, st: &State) {
        match std::mem::replace(&mut self.pending, Via::Nothing) {
            Via::Nothing => {}
            Via::Site(s) => {
                let entry = self.blocks[j as usize].entry;
                let site = &mut self.sites[s as usize];
                if !site.linked {
                    site.linked = true;
                    let at = site.at;
                    self.patch(at, entry);
                    self.blocks[j as usize].incoming.push(s);
                }
            }
            Via::Indirect => {
                let t = &self.blocks[j as usize];
                let code = self.mem.exec_addr(t.entry) as u64;
                self.jcache.entries[JumpCache::slot(t.eip, st.user)] = JcEntry { eip: t.eip, pad: 0, code };
            }
        }
    }

    /// Run translation `j` (and whatever it chains to). Returns the exit for the Host, if
    /// any; otherwise EIP is where to go on.
    fn execute(
        &mut self,
        st: &mut State,
        cache: &mut CodeCache,
        j: u32,
        left: &mut u64,
        stamp: u64,
        enter: &mut bool,
    ) -> Option<Exit> {
        st.jit.left = *left;
        st.jit.left0 = *left;
        st.jit.retired0 = st.retired;
        st.jit.stamp = stamp;
        st.jit.ram = st.mem.bytes.as_ptr() as u64;
        st.jit.tlb = st.tlb.entries.as_ptr() as u64;
        let code = self.mem.exec_addr(self.blocks[j as usize].entry);
        // For the revalidation callback (`native::revalidate`): neither the table nor the
        // cache is touched here until the code returns.
        st.jit.translations = &mut self.blocks as *mut Vec<Translation> as u64;
        st.jit.cache = cache as *mut CodeCache as u64;
        st.jit.code = &self.mem as *const CodeMemory as u64;
        let word = self.mem.enter(self.rt.enter, code, st);
        let used = *left - st.jit.left;
        st.retired = st.jit.retired0;
        let t = &mut self.blocks[j as usize];
        t.entries += 1;
        t.run += used;
        if t.entries == JUDGE_ENTRIES {
            t.bypass = t.run < JUDGE_ENTRIES as u64 * MIN_RUN;
            *enter = !t.bypass;
            (t.entries, t.run) = (0, 0);
        }
        let id = ((word >> 8) & 0xFFFF_FFFF) as u32;
        match word & 0xFF {
            X_STOP => {
                let t = &self.blocks[id as usize];
                let n = t.len as u64;
                let full = used - n;
                st.retired += full;
                *left -= full;
                let i = (word >> 40) as usize & 0xFF;
                let ops = &self.ops[t.ops..t.ops + n as usize];
                if st.jit.res == RES_INTERPRET_REST && i + 1 < n as usize {
                    // The instruction completed, and the interpreter would go on with the
                    // rest of the block as decoded: so do we (with it).
                    st.retired += i as u64 + 1;
                    *left -= i as u64 + 1;
                    let rest = &ops[i + 1..];
                    return match exec_ops(st, rest, rest.len()) {
                        None => {
                            st.retired += rest.len() as u64;
                            *left -= rest.len() as u64;
                            None
                        }
                        Some((done, exit)) => {
                            st.retired += done as u64;
                            *left = left.saturating_sub(done.max(1) as u64);
                            exit
                        }
                    };
                }
                let res = if st.jit.res == RES_INTERPRET_REST { None } else { Stop::from_bits(st.jit.res) };
                let (done, exit) = stopped(st, &ops[i], i, n as usize, res);
                st.retired += done as u64;
                *left = left.saturating_sub(done.max(1) as u64);
                exit
            }
            kind => {
                st.retired += used;
                *left -= used;
                self.pending = match kind {
                    X_CHAIN => Via::Site(id),
                    X_INDIRECT => Via::Indirect,
                    X_STALE => {
                        // Found stale: the dispatcher looks again; if another block is
                        // now at this address, this one is dead.
                        self.stale = Some(id);
                        Via::Indirect
                    }
                    _ => Via::Nothing,
                };
                None
            }
        }
    }
}

/// Write translation `id` to `dir/ID-EIP.txt`: the Guest's instructions, then the machine
/// code (at executable address `addr`), both disassembled. A developer's aid: failures
/// are ignored.
fn dump(dir: &std::path::Path, id: u32, insns: &[Instruction], out: &emit::Output, addr: usize) {
    use iced_x86::{Formatter, GasFormatter};
    use std::fmt::Write;
    let mut text = String::new();
    let mut f = GasFormatter::new();
    let _ = writeln!(text, "translation {id}: {} Guest instructions, {} native", insns.len(), out.native);
    for ins in insns {
        let mut s = String::new();
        f.format(ins, &mut s);
        let _ = writeln!(text, "  {:08x}  {s}", ins.ip32());
    }
    let _ = writeln!(text, "code at {addr:#x}, head at +{:#x}, {} bytes:", out.entry, out.code.len());
    let mut d = Decoder::with_ip(64, &out.code, addr as u64, DecoderOptions::NONE);
    for ins in &mut d {
        let mut s = String::new();
        f.format(&ins, &mut s);
        let _ = writeln!(text, "  {:6x}  {s}", ins.ip() - addr as u64);
    }
    let eip = insns.first().map_or(0, |i| i.ip32());
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(dir.join(format!("{id:05}-{eip:08x}.txt")), text);
}

/// The threshold `$LGUEST_JIT_THRESHOLD` asks for (a developer's knob: 0 translates every
/// block on sight, which is how the test suite runs the Guests under `check`), else
/// [`DEFAULT_THRESHOLD`].
fn threshold_from_env() -> u32 {
    std::env::var("LGUEST_JIT_THRESHOLD").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_THRESHOLD)
}

/// What a block head compares: the epoch, CPL 3, and the flat segments.
pub(crate) fn stamp(st: &State) -> u64 {
    st.epoch() ^ (emit::flat_mask(st) as u64) << 56 ^ (st.user as u64) << 63
}

/// What [`enter_translation`] did.
enum Entered {
    /// The block is to be interpreted.
    Interpret,
    /// Translated code ran and stopped for the Host.
    Exit(Exit),
    /// Translated code ran; this block is next.
    Next(u32),
}

/// The dispatcher's long way for block `bi`: find or make its translation, link the jump
/// that led here to it, and run it if it is worth entering. Out of line, so that the
/// dispatcher's loop over interpreted blocks stays as small as the interpreter's own
/// (inlined, this path made every interpreted block of a trap handler a few percent
/// slower than on the interpreter).
#[inline(never)]
fn enter_translation(
    st: &mut State,
    cache: &mut CodeCache,
    jit: &mut Jit,
    bi: u32,
    left: &mut u64,
) -> Entered {
    if cache.clears != jit.clears {
        jit.flush(cache);
    }
    if let Some(dead) = jit.stale.take()
        && cache.blocks[bi as usize].jit != dead
    {
        jit.kill(dead);
    }
    let translated = jit.translation(st, cache, bi);
    if let Some((j, _, _)) = translated {
        // Link the way here to it, even if the dispatcher will not enter it itself.
        jit.connect(j, st);
    }
    if let Some((j, stamp, true)) = translated {
        let mut enter = true;
        let exit = jit.execute(st, cache, j, left, stamp, &mut enter);
        if !enter {
            cache.blocks[bi as usize].hits = QUIET;
        }
        if let Some(exit) = exit {
            return Entered::Exit(exit);
        }
        if *left == 0 {
            return Entered::Exit(Exit::BudgetExhausted);
        }
        return match find_block(st, cache) {
            Ok(next) => Entered::Next(next),
            Err(stop) => Entered::Exit(stop_exit(stop)),
        };
    }
    Entered::Interpret
}

/// Execute until an exit or until `budget` instructions have retired: the interpreter's
/// run loop (`exec::run`), with translated code run wherever there is some.
#[inline]
pub(crate) fn run(st: &mut State, cache: &mut CodeCache, jit: &mut Jit, budget: u64) -> Exit {
    if budget == 0 {
        return Exit::BudgetExhausted;
    }
    if cache.clears != jit.clears {
        jit.flush(cache);
    }
    jit.pending = Via::Nothing;
    let threshold = jit.threshold;
    let mut left = budget;
    let mut bi = match find_block(st, cache) {
        Ok(bi) => bi,
        Err(stop) => return stop_exit(stop),
    };
    loop {
        let b = &mut cache.blocks[bi as usize];
        let len = b.ops.len();
        // A block still counting towards the threshold, or one to interpret for good (with
        // no jump to link to its translation), goes straight to the interpreter; one with a
        // translation to enter, or hot enough for one, takes the long way. (A page walk for
        // the lookup may have stored accessed bits to a page holding code or a watched one:
        // the interpreter then stops after the block's first instruction, and so must we.)
        let long_way = if b.hits < threshold {
            b.hits += 1;
            false
        } else {
            b.hits != QUIET || !matches!(jit.pending, Via::Nothing)
        };
        if long_way && len as u64 <= left && !st.smc {
            match enter_translation(st, cache, jit, bi, &mut left) {
                Entered::Interpret => {}
                Entered::Exit(exit) => return exit,
                Entered::Next(next) => {
                    bi = next;
                    continue;
                }
            }
        }
        jit.pending = Via::Nothing;
        // Interpret the block, as `exec::run` does. (A copy rather than a shared function:
        // sharing it, even inlined, cost the interpreter's loop 13% on the sieve kernel.)
        let b = &mut cache.blocks[bi as usize];
        let stop = if len as u64 <= left {
            st.eip = b.next_eip;
            exec_ops(st, &b.ops, len)
        } else {
            Some(run_cut(st, b, &mut cache.ops, left as usize))
        };
        match stop {
            None => {
                st.retired += len as u64;
                left -= len as u64;
                if left == 0 {
                    return Exit::BudgetExhausted;
                }
            }
            Some((done, exit)) => {
                st.retired += done as u64;
                left = left.saturating_sub(done.max(1) as u64);
                if let Some(e) = exit {
                    return e;
                }
                if left == 0 {
                    return Exit::BudgetExhausted;
                }
            }
        }
        // The block that last followed this one the same way, as `exec::run` does.
        let b = &cache.blocks[bi as usize];
        let which = (st.eip != b.next_eip) as usize;
        let next = b.link[which];
        let key = block_key(st.eip, st.user);
        let epoch = st.epoch();
        bi = match cache.blocks.get(next as usize) {
            Some(n) if n.key == key && n.epoch == epoch => next,
            _ => match find_block(st, cache) {
                Ok(n) => {
                    cache.blocks[bi as usize].link[which] = n;
                    n
                }
                Err(stop) => return stop_exit(stop),
            },
        };
    }
}

/// The callbacks generated code makes, in safe Rust (`native.rs` turns the raw pointers
/// into references).
mod helpers {
    use super::native::CodeMemory;
    use super::{Translation, emit, stamp};
    use crate::exec::{self, CodeCache};
    use crate::ops::Op;
    use crate::state::State;

    /// Revalidate translation `j`, whose head found its stamp stale, as the dispatcher's
    /// block lookup would (`exec::revalidate`: the same translations of the same pages):
    /// 1 if it is still the code at its address, now stamped valid; 0 to leave for the
    /// dispatcher (gone, replaced, or the lookup stored an accessed bit it must react to).
    pub(super) fn revalidate(
        st: &mut State,
        translations: &mut [Translation],
        cache: &mut CodeCache,
        code: &CodeMemory,
        j: u32,
    ) -> u64 {
        let Some(t) = translations.get_mut(j as usize) else { return 0 };
        if t.dead || t.user != st.user || t.flat != emit::flat_mask(st) {
            return 0;
        }
        let Some(b) = cache.blocks.get_mut(t.bi as usize) else { return 0 };
        // (Translated code does not keep EIP up to date; the lookup is for this block's.)
        st.eip = t.eip;
        if b.jit != j || !exec::revalidate(st, b) || st.smc {
            return 0;
        }
        let now = st.jit.stamp;
        t.stamp = now;
        code.write(t.entry - 8, &now.to_le_bytes());
        1
    }

    /// Run `op` with its interpreter handler, as instruction `i` of a block of
    /// `block_len` (EIP is already the block's fall-through, as the interpreter has it).
    /// Returns 0 to go on, or 1 to leave the block with `st.jit.res` set: a stop, or a
    /// store the block must end after (self-modifying code, a watched page), or a change
    /// of what the rest of the block was translated for (the epoch, CPL, segments), after
    /// which the interpreter runs the rest of the block as it would have.
    pub(super) fn run_op(st: &mut State, op: &Op, block_len: u32) -> u64 {
        // Bit 31 of the length: this handler may change the stamp (see `emit::restamps`).
        let restamp = block_len >> 31 != 0;
        let block_len = block_len & 0x7FFF_FFFF;
        // What the interpreter has in `retired` while it runs the block (RDTSC reads it).
        st.retired = st.jit.retired0 + (st.jit.left0 - st.jit.left) - block_len as u64;
        let r = (op.f)(st, op);
        let mut changed = false;
        if restamp {
            let now = stamp(st);
            changed = now != st.jit.stamp;
            st.jit.stamp = now;
        }
        match r {
            Ok(()) if !st.smc && !changed => 0,
            Ok(()) => {
                st.jit.res = if st.smc { 0 } else { super::RES_INTERPRET_REST };
                1
            }
            Err(stop) => {
                st.jit.res = stop.bits();
                1
            }
        }
    }
}
