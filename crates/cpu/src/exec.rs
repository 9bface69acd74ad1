//! The run loop and the decoded-block cache.
//!
//! Code is decoded once into *blocks*: straight-line runs of [`Op`]s that end at a
//! control transfer, at a page boundary, or at [`MAX_BLOCK`] instructions. A block is
//! found again by its linear start address (and privilege class) through a direct-mapped
//! table backed by a hash map, and is trusted without further checks while the CPU's
//! *epoch* is unchanged. The epoch moves whenever something that could make a block stale
//! happens: a TLB invalidation (the block's linear→physical mapping may have changed), a
//! store to a page holding decoded code (its bytes did), or a CS load (its base, limit or
//! default size did). After that, a block is re-validated once (translation, page versions,
//! CS) before it runs again.
//!
//! Executing a block is a loop of indirect calls with no per-instruction bookkeeping
//! beyond the handler's result and the self-modifying-code flag.

use crate::decode;
use crate::exit::{Exit, Stop, gp0};
use crate::mem::{PAGE_MASK, PAGE_SIZE};
use crate::ops::Op;
use crate::regs::SegReg;
use crate::state::State;
use iced_x86::{Decoder, DecoderError, DecoderOptions, Instruction};
use std::collections::HashMap;

/// Longest block, in instructions.
pub(crate) const MAX_BLOCK: usize = 128;
/// Size of the direct-mapped lookup table (a power of two).
const TABLE_SIZE: usize = 1 << 14;
/// When the op arena grows past this, the whole cache is dropped and rebuilt on demand.
const MAX_OPS: usize = 1 << 21;
const NO_BLOCK: u32 = u32::MAX;
const NO_PAGE: u32 = u32::MAX;

struct Block {
    /// Linear address of the first instruction.
    lin: u32,
    /// Whether it was decoded for CPL 3 (page permissions differ).
    user: bool,
    /// EIP of the first instruction.
    eip: u32,
    /// EIP after the last instruction (the fall-through).
    next_eip: u32,
    /// Physical address of the first instruction.
    phys: u32,
    version: u32,
    /// The second page an instruction at the end spills into, if any.
    lin2: u32,
    phys2: u32,
    version2: u32,
    cs_base: u32,
    cs_limit: u32,
    cs_big: bool,
    epoch: u64,
    start: u32,
    len: u32,
}

pub(crate) struct CodeCache {
    blocks: Vec<Block>,
    ops: Vec<Op>,
    table: Vec<u32>,
    map: HashMap<(u32, bool), u32>,
    /// Reused decode buffer.
    buf: Vec<u8>,
}

impl CodeCache {
    pub fn new() -> CodeCache {
        CodeCache {
            blocks: Vec::new(),
            ops: Vec::new(),
            table: vec![NO_BLOCK; TABLE_SIZE],
            map: HashMap::new(),
            buf: Vec::with_capacity(PAGE_SIZE as usize + 16),
        }
    }

    pub fn clear(&mut self) {
        self.blocks.clear();
        self.ops.clear();
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
fn find_block(st: &mut State, cache: &mut CodeCache) -> Result<u32, Stop> {
    let cs = &st.segs[SegReg::Cs as usize];
    let eip = st.eip;
    let lin = cs.base.wrapping_add(eip);
    let user = st.cpl == 3;
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
    if let Some(&bi) = cache.map.get(&(lin, user))
        && revalidate(st, &mut cache.blocks[bi as usize])
    {
        cache.table[slot] = bi;
        return Ok(bi);
    }
    let bi = build_block(st, cache, lin, user)?;
    cache.table[slot] = bi;
    cache.map.insert((lin, user), bi);
    Ok(bi)
}

/// Is a block found by address still what CS:EIP would decode to? Updates its epoch if so.
fn revalidate(st: &mut State, b: &mut Block) -> bool {
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
    if cache.ops.len() > MAX_OPS {
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
    cache.buf.clear();
    cache.buf.extend_from_slice(st.mem.slice(phys, first_len).map_err(|_| State::bad_phys(phys))?);
    // An instruction may spill into the next page: fetch up to 15 more bytes from it if it
    // translates. A fault there matters only if an instruction actually needs those bytes.
    let lin2 = lin.wrapping_add(in_page);
    let mut second: Result<u32, Stop> = Err(gp0());
    let spill_allowed = first_len == in_page && (to_limit > in_page as u64);
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
    let start = cache.ops.len() as u32;
    let mut ins = Instruction::default();
    let mut phys2 = NO_PAGE;
    let mut version2 = 0;
    let mut next_eip = eip;
    let mut count = 0usize;
    while count < MAX_BLOCK {
        let pos = decoder.position() as u32;
        if pos >= first_len {
            break; // the next instruction starts on the next page (or past the limit)
        }
        decoder.decode_out(&mut ins);
        let incomplete = decoder.last_error() == DecoderError::NoMoreBytes;
        let end = pos + ins.len() as u32;
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
        let op = decode::translate(&ins, count as u32);
        cache.ops.push(op);
        count += 1;
        next_eip = ins.next_ip32();
        if decode::ends_block(&ins) || ins.is_invalid() || phys2 != NO_PAGE {
            break;
        }
    }
    let bi = cache.blocks.len() as u32;
    cache.blocks.push(Block {
        lin,
        user,
        eip,
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
        start,
        len: count as u32,
    });
    Ok(bi)
}

/// Execute until an exit or until `budget` instructions have retired.
pub(crate) fn run(st: &mut State, cache: &mut CodeCache, budget: u64) -> Exit {
    let mut left = budget;
    while left > 0 {
        let bi = match find_block(st, cache) {
            Ok(bi) => bi,
            Err(stop) => return stop_exit(stop),
        };
        let b = &cache.blocks[bi as usize];
        let start = b.start as usize;
        let len = b.len as usize;
        let n = len.min(left.min(len as u64) as usize);
        let ops = &cache.ops[start..start + n];
        st.eip = b.next_eip;
        // Instructions retired in this block, and whether something stopped it before
        // the budgeted end.
        let mut done = n;
        let mut stopped = false;
        let mut exit = None;
        for (i, op) in ops.iter().enumerate() {
            match (op.f)(st, op) {
                Ok(()) => {
                    if st.smc {
                        // This instruction wrote to a page holding decoded code: what
                        // follows in this block may be stale.
                        st.smc = false;
                        if i + 1 < len {
                            st.eip = op.next();
                        }
                        done = i + 1;
                        stopped = true;
                        break;
                    }
                }
                Err(stop) => {
                    st.smc = false;
                    stopped = true;
                    match stop {
                        Stop::Fault(e) => {
                            st.eip = op.eip;
                            done = i;
                            exit = Some(e);
                        }
                        Stop::Trap(e) => {
                            st.eip = op.next();
                            done = i + 1;
                            exit = Some(e);
                        }
                        Stop::Restart => {
                            // A long REP yields part-way: it has not retired yet.
                            st.eip = op.eip;
                            done = i;
                        }
                        Stop::EndBlock => {
                            st.eip = op.next();
                            done = i + 1;
                        }
                    }
                    break;
                }
            }
        }
        if !stopped && n < len {
            // The budget ran out inside the block.
            st.eip = cache.ops[start + n].eip;
        }
        st.retired += done as u64;
        left = left.saturating_sub(done.max(1) as u64);
        if let Some(e) = exit {
            return e;
        }
    }
    Exit::BudgetExhausted
}

fn stop_exit(stop: Stop) -> Exit {
    match stop {
        Stop::Fault(e) | Stop::Trap(e) => e,
        // Block lookup never restarts or ends blocks.
        Stop::Restart | Stop::EndBlock => Exit::BudgetExhausted,
    }
}
