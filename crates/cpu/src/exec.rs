//! The run loop and the decoded-block cache.
//!
//! Code is decoded once into *blocks*: straight-line runs of [`Op`]s that end at a
//! control transfer, at a page boundary, or at [`MAX_BLOCK`] instructions. A block is
//! found again by its linear start address (and privilege class) through a direct-mapped
//! table backed by a hash map (which also keys on the physical page, so that the same
//! linear address in several address spaces keeps a block for each), and is trusted without further checks while the CPU's
//! *epoch* is unchanged. The epoch moves whenever something that could make a block stale
//! happens: a TLB invalidation (the block's linear→physical mapping may have changed), a
//! store to a page holding decoded code (its bytes did), or a CS load (its base, limit or
//! default size did). After that, a block is re-validated once (translation, page versions,
//! CS) before it runs again. Each block also remembers which block followed it (through
//! its fall-through and through its branch), so a loop or a chain of blocks goes from
//! one to the next without the table.
//!
//! Executing a block is a loop of indirect calls with no per-instruction bookkeeping
//! beyond the handler's result and the self-modifying-code flag; nothing is allocated
//! except when a block is built. `benches/interp.rs` measures it.

use crate::decode;
use crate::decode::FlagEffect;
use crate::exit::{Exit, Stop, StopKind, gp0};
use crate::mem::{PAGE_MASK, PAGE_SIZE};
use crate::ops::{Handler, Op};
use crate::regs::SegReg;
use crate::state::State;
use iced_x86::{Decoder, DecoderError, DecoderOptions, Instruction};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// Longest block, in instructions.
pub(crate) const MAX_BLOCK: usize = 128;
/// Bytes of code fetched at once to decode a block from.
const WINDOW: u32 = 512;
/// Size of the direct-mapped lookup table (a power of two).
const TABLE_SIZE: usize = 1 << 14;
/// When the op arena grows past this, the whole cache is dropped and rebuilt on demand.
const MAX_OPS: usize = 1 << 21;
pub(crate) const NO_BLOCK: u32 = u32::MAX;
pub(crate) const NO_PAGE: u32 = u32::MAX;

pub(crate) struct Block {
    /// Linear address of the first instruction.
    pub(crate) lin: u32,
    /// Whether it was decoded for CPL 3 (page permissions differ).
    pub(crate) user: bool,
    /// EIP of the first instruction.
    pub(crate) eip: u32,
    /// [`block_key`] of `eip` and `user`.
    pub(crate) key: u64,
    /// EIP after the last instruction (the fall-through).
    pub(crate) next_eip: u32,
    /// Physical address of the first instruction.
    pub(crate) phys: u32,
    pub(crate) version: u32,
    /// The second page an instruction at the end spills into, if any.
    pub(crate) lin2: u32,
    pub(crate) phys2: u32,
    pub(crate) version2: u32,
    pub(crate) cs_base: u32,
    pub(crate) cs_limit: u32,
    pub(crate) cs_big: bool,
    pub(crate) epoch: u64,
    pub(crate) ops: Box<[Op]>,
    /// The exact handlers of the ops the dead-flags pass replaced, by index, for running
    /// only part of the block (see `run_cut`).
    pub(crate) exact: Box<[(u32, Handler)]>,
    /// The blocks that last followed this one, through the fall-through (0) and through a
    /// branch (1): tried before the lookup table (see `run`).
    pub(crate) link: [u32; 2],
    /// Times the interpreter ran it whole (the translator's hotness count), or what the
    /// `jit` engine decided about it (`jit::ENTER`, `jit::QUIET`).
    pub(crate) hits: u32,
    /// Its translation (an index the `jit` engine gives out), or [`NO_BLOCK`].
    pub(crate) jit: u32,
}

pub(crate) struct CodeCache {
    pub(crate) blocks: Vec<Block>,
    /// Bumped whenever the cache is dropped (block indices start again).
    pub(crate) clears: u64,
    /// Ops in all blocks (the cache is dropped when this grows too large).
    total_ops: usize,
    /// Reused while decoding a block, and to run part of one.
    pub(crate) ops: Vec<Op>,
    /// Reused while decoding a block: each op's [`FlagEffect`].
    effects: Vec<FlagEffect>,
    /// Reused while decoding a block: the exact handlers replaced.
    exact: Vec<(u32, Handler)>,
    table: Vec<u32>,
    /// Every block, by [`map_key`].
    map: HashMap<u64, u32, BuildHasherDefault<KeyHasher>>,
    /// Reused decode buffer.
    buf: Vec<u8>,
}

impl CodeCache {
    pub fn new() -> CodeCache {
        CodeCache {
            blocks: Vec::new(),
            clears: 0,
            total_ops: 0,
            ops: Vec::with_capacity(MAX_BLOCK),
            effects: Vec::with_capacity(MAX_BLOCK),
            exact: Vec::with_capacity(MAX_BLOCK),
            table: vec![NO_BLOCK; TABLE_SIZE],
            map: HashMap::default(),
            buf: Vec::with_capacity(PAGE_SIZE as usize + 16),
        }
    }

    pub fn clear(&mut self) {
        self.blocks.clear();
        self.clears += 1;
        self.total_ops = 0;
        self.table.fill(NO_BLOCK);
        self.map.clear();
    }

    #[inline(always)]
    fn slot(lin: u32, user: bool) -> usize {
        ((lin ^ (lin >> 13) ^ (user as u32)) as usize) & (TABLE_SIZE - 1)
    }
}

impl State {
    /// Everything that can make a cached block stale moves this number.
    #[inline(always)]
    pub(crate) fn epoch(&self) -> u64 {
        self.tlb.generation + self.mem.code_gen + self.cs_gen
    }
}

/// Find (or decode) the block at CS:EIP.
#[inline(always)]
pub(crate) fn find_block(st: &mut State, cache: &mut CodeCache) -> Result<u32, Stop> {
    let cs = &st.segs[SegReg::Cs as usize];
    let eip = st.eip;
    let lin = cs.base.wrapping_add(eip);
    let user = st.user;
    let slot = CodeCache::slot(lin, user);
    let bi = cache.table[slot];
    if bi != NO_BLOCK {
        let b = &cache.blocks[bi as usize];
        if b.lin == lin && b.user == user && b.eip == eip && b.epoch == st.epoch() {
            return Ok(bi);
        }
    }
    find_block_slow(st, cache, lin, user, slot)
}

#[inline(never)]
fn find_block_slow(
    st: &mut State,
    cache: &mut CodeCache,
    lin: u32,
    user: bool,
    slot: usize,
) -> Result<u32, Stop> {
    // The map is keyed by the physical page as well, so that code at the same linear
    // address in different address spaces (user programs after a context switch) keeps
    // one block each instead of rebuilding one block over and over. (A fetch outside the
    // CS limit must fault with #GP before the translation can fault with #PF.)
    let cs = &st.segs[SegReg::Cs as usize];
    let phys = if st.eip > cs.limit || cs.is_null() { None } else { st.translate(lin, false).ok() };
    let key = phys.map(|p| map_key(lin, user, p));
    if let Some(&bi) = key.and_then(|k| cache.map.get(&k))
        && revalidate(st, &mut cache.blocks[bi as usize])
    {
        cache.table[slot] = bi;
        return Ok(bi);
    }
    let bi = build_block(st, cache, lin, user)?;
    cache.table[slot] = bi;
    let b = &cache.blocks[bi as usize];
    cache.map.insert(map_key(lin, user, b.phys), bi);
    Ok(bi)
}

/// The block map's key: linear address, privilege class, physical page.
fn map_key(lin: u32, user: bool, phys: u32) -> u64 {
    (lin as u64) << 32 | (phys & PAGE_MASK) as u64 | user as u64
}

/// A hasher for the block map's keys (SipHash's resistance to chosen keys buys nothing
/// here, and it was a sizeable part of the cost of running again after a TLB flush).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    fn write_u64(&mut self, v: u64) {
        let x = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }
}

/// Is a block found by address still what CS:EIP would decode to? Updates its epoch if so.
pub(crate) fn revalidate(st: &mut State, b: &mut Block) -> bool {
    let cs = st.segs[SegReg::Cs as usize];
    if b.eip != st.eip || b.cs_base != cs.base || b.cs_limit != cs.limit || b.cs_big != cs.big() {
        return false;
    }
    match st.translate(b.lin, false) {
        Ok(p) if p == b.phys => {}
        _ => return false,
    }
    if st.mem.version[(b.phys >> 12) as usize] != b.version || !st.mem.is_code[(b.phys >> 12) as usize] {
        return false;
    }
    if b.phys2 != NO_PAGE {
        match st.translate(b.lin2, false) {
            Ok(p) if p == b.phys2 => {}
            _ => return false,
        }
        let page = (b.phys2 >> 12) as usize;
        if st.mem.version[page] != b.version2 || !st.mem.is_code[page] {
            return false;
        }
    }
    st.tlb.note_code_page(b.lin);
    if b.phys2 != NO_PAGE {
        st.tlb.note_code_page(b.lin2);
    }
    b.epoch = st.epoch();
    true
}

/// Mark a physical page as holding code (so stores to it leave the fast path) and return
/// its version.
fn mark_code(st: &mut State, phys_page: u32) -> u32 {
    let page = (phys_page >> 12) as usize;
    if !st.mem.is_code[page] {
        st.tlb.drop_write_tags_for(phys_page);
    }
    st.mem.mark_code(page)
}

/// Decode a new block at linear address `lin` (= CS.base + EIP).
fn build_block(st: &mut State, cache: &mut CodeCache, lin: u32, user: bool) -> Result<u32, Stop> {
    if cache.total_ops > MAX_OPS {
        cache.clear();
    }
    let cs = st.segs[SegReg::Cs as usize];
    let eip = st.eip;
    if eip > cs.limit || cs.is_null() {
        return Err(gp0());
    }
    let phys = st.translate(lin, false)?;
    let version = mark_code(st, phys & PAGE_MASK);
    // Bytes available: to the end of this page, but not past the CS limit.
    let in_page = PAGE_SIZE - (lin & !PAGE_MASK);
    let to_limit = (cs.limit - eip) as u64 + 1;
    let first_len = (in_page as u64).min(to_limit) as u32;
    // Decode from a window of the page that a full block rarely exceeds (copying the rest
    // of the page every time would dominate building short blocks); a block that reaches
    // the window's end just ends there, and the next one starts at that instruction.
    let window = first_len.min(WINDOW);
    cache.buf.clear();
    cache.buf.extend_from_slice(st.mem.slice(phys, window).map_err(|_| State::bad_phys(phys))?);
    // An instruction may spill into the next page: fetch up to 15 more bytes from it if it
    // translates. A fault there matters only if an instruction actually needs those bytes.
    let lin2 = lin.wrapping_add(in_page);
    let mut second: Result<u32, Stop> = Err(gp0());
    let spill_allowed = window == in_page && (to_limit > in_page as u64);
    if spill_allowed {
        second = st.translate(lin2, false);
        if let Ok(p2) = second {
            let extra = (to_limit - in_page as u64).min(15) as u32;
            match st.mem.slice(p2, extra) {
                Ok(bytes) => cache.buf.extend_from_slice(bytes),
                Err(_) => second = Err(State::bad_phys(p2)),
            }
        }
    }
    let bitness = if cs.big() { 32 } else { 16 };
    let mut decoder = Decoder::with_ip(bitness, &cache.buf, eip as u64, DecoderOptions::NONE);
    cache.ops.clear();
    cache.effects.clear();
    // The instruction of this block that last set the flags, if a Jcc can test its
    // flags directly (nothing in between touched them).
    let mut producer = None;
    let mut ins = Instruction::default();
    let mut phys2 = NO_PAGE;
    let mut version2 = 0;
    let mut next_eip = eip;
    let mut count = 0usize;
    while count < MAX_BLOCK {
        let pos = decoder.position() as u32;
        if pos >= window {
            break; // the next instruction starts on the next page (or past the limit)
        }
        decoder.decode_out(&mut ins);
        let incomplete = decoder.last_error() == DecoderError::NoMoreBytes;
        let end = pos + ins.len() as u32;
        if (incomplete || end > window) && window < first_len && count > 0 {
            break; // the window's end, not the page's: continue in the next block
        }
        if incomplete || end > first_len {
            // This instruction needs bytes beyond the first page (or the CS limit).
            let available = !incomplete && spill_allowed && second.is_ok();
            if !available {
                if count > 0 {
                    break; // let the block end here; the next one reports the fault
                }
                return Err(match (spill_allowed, second) {
                    (true, Err(e)) => e,
                    _ => gp0(), // runs past the CS limit
                });
            }
            let p2 = second.unwrap_or(0);
            phys2 = p2 & PAGE_MASK;
            version2 = mark_code(st, phys2);
        }
        let bytes = cache.buf.get(pos as usize..end as usize).unwrap_or(&[]);
        let mut op = decode::translate(&ins, count as u32, bytes);
        let effect = decode::flag_effect(&ins);
        if let Some(f) = producer.and_then(|p| decode::known_jcc(&ins, p)) {
            op.f = f;
        }
        if !matches!(effect, FlagEffect::None) {
            producer = decode::flag_producer(&ins);
        }
        cache.ops.push(op);
        cache.effects.push(effect);
        count += 1;
        next_eip = ins.next_ip32();
        if decode::ends_block(&ins) || ins.is_invalid() || phys2 != NO_PAGE {
            break;
        }
    }
    drop_dead_flags(&mut cache.ops, &cache.effects, &mut cache.exact);
    st.tlb.note_code_page(lin);
    if phys2 != NO_PAGE {
        st.tlb.note_code_page(lin2);
    }
    let bi = cache.blocks.len() as u32;
    cache.blocks.push(Block {
        lin,
        user,
        eip,
        key: block_key(eip, user),
        next_eip: if bitness == 16 { next_eip & 0xFFFF } else { next_eip },
        phys,
        version,
        lin2: lin2 & PAGE_MASK,
        phys2,
        version2,
        cs_base: cs.base,
        cs_limit: cs.limit,
        cs_big: cs.big(),
        epoch: st.epoch(),
        ops: cache.ops.as_slice().into(),
        exact: cache.exact.as_slice().into(),
        link: [NO_BLOCK; 2],
        hits: 0,
        jit: NO_BLOCK,
    });
    cache.total_ops += count;
    Ok(bi)
}

/// The dead-flags pass: an instruction whose flags the block overwrites before anything
/// could read them (a later instruction sets all six, and none in between reads them or
/// can fault or stop the block, when EFLAGS must be exact) gets a handler that does not
/// compute them. The flags at the end of a block are always exact. `exact` receives the
/// replaced handlers, for running only part of the block.
fn drop_dead_flags(ops: &mut [Op], effects: &[FlagEffect], exact: &mut Vec<(u32, Handler)>) {
    exact.clear();
    let mut dead = false;
    for (i, (op, effect)) in ops.iter_mut().zip(effects).enumerate().rev() {
        let nf = match *effect {
            FlagEffect::None => None,
            FlagEffect::Kill(nf) => std::mem::replace(&mut dead, true).then_some(nf).flatten(),
            FlagEffect::Update(nf) => std::mem::replace(&mut dead, false).then_some(nf),
            FlagEffect::Use => {
                dead = false;
                None
            }
        };
        if let Some(nf) = nf {
            exact.push((i as u32, op.f));
            op.f = nf;
        }
    }
}

/// Execute until an exit or until `budget` instructions have retired.
pub(crate) fn run(st: &mut State, cache: &mut CodeCache, budget: u64) -> Exit {
    if budget == 0 {
        return Exit::BudgetExhausted;
    }
    let mut left = budget;
    let mut bi = match find_block(st, cache) {
        Ok(bi) => bi,
        Err(stop) => return stop_exit(stop),
    };
    loop {
        let b = &cache.blocks[bi as usize];
        let len = b.ops.len();
        let stop = if len as u64 <= left {
            st.eip = b.next_eip;
            exec_ops(st, &b.ops, len)
        } else {
            // The budget runs out inside the block (rare: once per slice).
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
                // A REP that yields retires nothing but still counts against the
                // budget, so that `run` always returns.
                left = left.saturating_sub(done.max(1) as u64);
                if let Some(e) = exit {
                    return e;
                }
                if left == 0 {
                    return Exit::BudgetExhausted;
                }
            }
        }
        // The block that last followed this one the same way (fall-through or branch) is
        // tried first: a link is only a hint, used if that block starts at EIP, was
        // decoded for this privilege class and was validated in the current epoch, which
        // is exactly what the table lookup checks besides the linear address (which the
        // epoch pins down, CS being unchanged).
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

/// A block's EIP and privilege class in one word, for the link check.
#[inline(always)]
pub(crate) fn block_key(eip: u32, user: bool) -> u64 {
    eip as u64 | (user as u64) << 32
}

/// Run `ops` (all or the first part of a block of `block_len` instructions) and return
/// how many instructions retired and the exit, if one ended `run`. EIP must be the
/// block's fall-through address on entry; on return it is where execution goes on.
/// `None` if all of `ops` ran without stopping.
#[inline(always)]
pub(crate) fn exec_ops(st: &mut State, ops: &[Op], block_len: usize) -> Option<(usize, Option<Exit>)> {
    for op in ops {
        let r = (op.f)(st, op);
        // One test for both ways out on the common path.
        if r.is_err() | st.smc {
            // (Which op this is, worked out here rather than counted on every one.)
            let i = (op as *const Op as usize - ops.as_ptr() as usize) / std::mem::size_of::<Op>();
            return Some(stopped(st, op, i, block_len, r.err()));
        }
    }
    None
}

/// Instruction `i` of a block stopped it: with `stop`, or by storing to a page holding
/// decoded code or a watched page.
#[cold]
#[inline(never)]
pub(crate) fn stopped(
    st: &mut State,
    op: &Op,
    i: usize,
    block_len: usize,
    stop: Option<Stop>,
) -> (usize, Option<Exit>) {
    st.smc = false;
    match stop.map(Stop::kind) {
        None => {
            // What follows in this block may be stale.
            if i + 1 < block_len {
                st.eip = op.next();
            }
            let exit = if st.watch_hit {
                st.watch_hit = false;
                Some(Exit::WatchedStore)
            } else {
                None
            };
            (i + 1, exit)
        }
        Some(StopKind::Fault(e)) => {
            st.eip = op.eip;
            (i, Some(e))
        }
        Some(StopKind::Trap(e)) => {
            st.eip = op.next();
            let e = match e {
                Exit::SoftInt { vector, .. } => Exit::SoftInt { vector, len: op.len },
                e => e,
            };
            (i + 1, Some(e))
        }
        Some(StopKind::Restart) => {
            // A long REP yields part-way: it has not retired yet.
            st.eip = op.eip;
            (i, None)
        }
        Some(StopKind::EndBlock) => {
            st.eip = op.next();
            (i + 1, None)
        }
    }
}

/// Run the first `n` instructions of block `b` (fewer than it has), with exact flags
/// throughout (the block's own ops may leave flags to instructions after the `n`th).
#[cold]
#[inline(never)]
pub(crate) fn run_cut(st: &mut State, b: &Block, scratch: &mut Vec<Op>, n: usize) -> (usize, Option<Exit>) {
    let len = b.ops.len();
    scratch.clear();
    scratch.extend_from_slice(&b.ops[..n]);
    for &(i, f) in b.exact.iter() {
        if let Some(op) = scratch.get_mut(i as usize) {
            op.f = f;
        }
    }
    st.eip = b.next_eip;
    match exec_ops(st, scratch, len) {
        Some(stopped) => stopped,
        None => {
            st.eip = b.ops[n].eip;
            (n, None)
        }
    }
}

pub(crate) fn stop_exit(stop: Stop) -> Exit {
    // Block lookup never restarts or ends blocks.
    stop.exit().unwrap_or(Exit::BudgetExhausted)
}
