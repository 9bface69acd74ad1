//! The Host's hypercall dispatcher, trap and interrupt paths, shadow MMU and DMA core, fed
//! random registers and random guest memory.
//!
//! One input builds a small Guest (4 MiB of RAM, a console and a block device, a kernel
//! of a few bytes of fuzzed code ending in a loop of `int $0x1f`), held to the rules of
//! either revision of the ABI (the seed's, or the 2.6.23 release's that Linux Guests get:
//! `--lguest-data`), and then plays up to
//! [`MAX_OPS`] steps against it through the `fuzzing` hook of `crates/host`: synchronous
//! hypercalls with chosen registers, calls queued in the async ring, writes to guest
//! memory aimed at `lguest_data`, DMA descriptors, page directories and tables and the
//! device page, traps and page faults as if the CPU had raised them, console input, and
//! short runs of the CPU. Addresses are drawn mostly from those regions, their edges, the
//! end of RAM and the reserved top of memory, so most steps reach past the first check.
//!
//! Sudden Death, a crash or a power off are all fine ends. What must never happen:
//! - a panic anywhere in the Host;
//! - the Guest at CPL 0;
//! - a shadow mapping at or above the reserved top 4 MiB, or of a frame outside guest
//!   memory;
//! - for a seed-revision Guest, a segment register whose segment reaches the reserved top
//!   4 MiB (the release lets segments reach it: only the page tables keep it out).

use crate::elf::{self, CODE_PHYS};
use crate::input::Input;
use abi::{
    HCALL_RING_ENTRY_SIZE, LGUEST_TRAP_ENTRY, LguestDataLayout, PAGE_OFFSET, RESERVED_START, Revision,
};
use cpu::{Exception, Exit, Reg, SegReg, Vcpu, access, dflags};
use host::{BlockConfig, Config, DeviceConfig, Event, Guest, Outcome};
use std::path::PathBuf;

/// Bytes of guest RAM.
const MEM: u32 = 4 << 20;
/// Where `lguest_data` goes when the input lets the harness register it.
const LD: u32 = 0x18_0000;
/// Two pages for DMA descriptors and buffers.
const DMA: u32 = 0x18_1000;
/// Two pages for a page directory and a page table of the fuzzer's own.
const PGDIR2: u32 = 0x19_0000;
/// Steps per input.
pub const MAX_OPS: usize = 48;
/// `int $0x1f; jmp .-2`: the code after the fuzzed prefix.
const HCALL_LOOP: [u8; 4] = [0xCD, 0x1F, 0xEB, 0xFC];

/// Run one input. Panics if the Host panics or breaks one of its promises.
pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let mut code = inp.bytes(64).to_vec();
    code.extend_from_slice(&HCALL_LOOP);
    let first = inp.u8();
    let revision = if first & 0x10 != 0 { Revision::Release } else { Revision::Seed };
    let Some(mut g) = build(&code, revision) else { return };
    let l = *g.layout();
    let regions = Regions { pgdir: l.pgdir.0, device_page: l.device_page.0, total: l.total };

    if !first.is_multiple_of(4)
        && let Err(end) = hypercall(&mut g, [1, LD, 0, 0])
    {
        return finish(end);
    }
    for _ in 0..MAX_OPS {
        if inp.is_empty() {
            break;
        }
        if let Err(end) = step(&mut g, &mut inp, &regions) {
            return finish(end);
        }
        check(&mut g, &mut inp, &regions);
    }
}

/// Build the Guest: the kernel, and a block device on a scratch file unlinked at once.
fn build(code: &[u8], revision: Revision) -> Option<Guest> {
    let disk = scratch_disk();
    let mut config = Config::new();
    config.mem_size = MEM.into();
    config.guestid = 7;
    config.revision = Some(revision);
    config.console_out = Box::new(std::io::sink());
    config.devices =
        vec![DeviceConfig::Block(BlockConfig { path: disk.clone(), read_only: false, sync: false })];
    let guest = Guest::new(&elf::kernel(code), config);
    let _ = std::fs::remove_file(&disk);
    Some(guest.expect("the fuzz kernel loads"))
}

/// A 64 KiB file for the block device, unique to this process.
fn scratch_disk() -> PathBuf {
    let path = std::env::temp_dir().join(format!("lguest-fuzz-disk-{}", std::process::id()));
    std::fs::write(&path, vec![0x5A; 64 << 10]).expect("write the scratch disk");
    path
}

/// The places worth aiming at.
struct Regions {
    pgdir: u32,
    device_page: u32,
    total: u32,
}

/// A guest-physical address, mostly in or at the edge of an interesting region.
fn addr(inp: &mut Input, r: &Regions) -> u32 {
    let phys = match inp.u8() % 13 {
        0 => LD + inp.below(LguestDataLayout::RELEASE.size + 8),
        1 => DMA + inp.below(0x2000),
        2 => PGDIR2 + inp.below(0x2000),
        3 => r.pgdir + inp.below(0x3000),
        4 => r.device_page + inp.below(0x2000),
        5 => CODE_PHYS + inp.below(0x1000),
        6 => MEM - inp.below(0x40),
        7 => r.total.wrapping_sub(inp.below(0x40)),
        8 => RESERVED_START + inp.below(0x40_0000),
        9 => u32::from(inp.u8()),
        10 => return inp.edgy(),
        11 => return inp.u32(),
        _ => return PAGE_OFFSET.wrapping_add(addr(inp, r)),
    };
    if inp.u8() & 0x80 != 0 { phys & !3 } else { phys }
}

/// A hypercall argument: an address, a small number or anything.
fn arg(inp: &mut Input, r: &Regions) -> u32 {
    match inp.u8() % 6 {
        0 => u32::from(inp.u8()),
        // BIND_DMA's (count << 8) | irq.
        1 => (inp.below(40) << 8) | inp.below(40),
        // The high word of an IDT gate: offset, present, type, DPL.
        2 => (inp.u32() & 0xFFFF_0000) | 0x8000 | (u32::from(inp.u8() & 0xF) << 8) | (inp.below(4) << 13),
        3 => inp.edgy(),
        _ => addr(inp, r),
    }
}

/// A page-table entry: a frame somewhere interesting and any flags.
fn pte(inp: &mut Input, r: &Regions) -> u32 {
    (addr(inp, r) & !0xFFF) | u32::from(inp.u16() & 0x1FF)
}

/// A descriptor: flat or not, any ring, any type.
fn descriptor(inp: &mut Input) -> u64 {
    let base = if inp.bool() { 0 } else { inp.edgy() };
    let limit = if inp.bool() { 0xFFFFF } else { inp.edgy() & 0xFFFFF };
    let access = inp.u8() | if inp.bool() { access::P } else { 0 };
    let flags = inp.u8() & (dflags::G | dflags::DB);
    cpu::Descriptor::new(base, limit, access, flags).0
}

fn hypercall(g: &mut Guest, regs: [u32; 4]) -> Result<(), Outcome> {
    let cpu = g.cpu_mut();
    for (r, v) in [Reg::Eax, Reg::Edx, Reg::Ebx, Reg::Ecx].into_iter().zip(regs) {
        cpu.set_reg(r, v);
    }
    g.fuzz_exit(Exit::SoftInt { vector: LGUEST_TRAP_ENTRY, len: 2 })
}

fn write(g: &mut Guest, at: u32, bytes: &[u8]) {
    let _ = g.cpu_mut().mem_mut().write(at, bytes);
}

/// One step against the Guest.
fn step(g: &mut Guest, inp: &mut Input, r: &Regions) -> Result<(), Outcome> {
    match inp.u8() % 14 {
        0 | 1 => {
            let call = if inp.u8() < 240 { inp.below(18) } else { inp.u32() };
            let regs = [call, arg(inp, r), arg(inp, r), arg(inp, r)];
            hypercall(g, regs)
        }
        2 => {
            let at = addr(inp, r);
            let bytes = inp.bytes(64);
            write(g, at, bytes);
            Ok(())
        }
        3 => {
            let at = addr(inp, r);
            let v = if inp.bool() { pte(inp, r) } else { arg(inp, r) };
            write(g, at, &v.to_le_bytes());
            Ok(())
        }
        4 => {
            // A descriptor table of the fuzzer's (for LOAD_GDT / LOAD_TLS).
            let at = DMA + 8 * inp.below(0x400);
            for i in 0..inp.below(8) {
                let d = descriptor(inp);
                write(g, at + 8 * i, &d.to_le_bytes());
            }
            Ok(())
        }
        5 => {
            // Queue a call in the async ring, as the Guest does: registers, then status 0.
            let slot = inp.below(64);
            let call = if inp.u8() < 240 { inp.below(18) } else { inp.u32() };
            let regs = [call, arg(inp, r), arg(inp, r), arg(inp, r)];
            let layout = g.revision().layout();
            let at = LD + layout.hcalls + slot * HCALL_RING_ENTRY_SIZE;
            for (i, v) in regs.iter().enumerate() {
                write(g, at + 4 * i as u32, &v.to_le_bytes());
            }
            write(g, LD + layout.hcall_status + slot, &[0]);
            Ok(())
        }
        6 => {
            let vector = inp.below(32) as u8;
            let error_code = if inp.bool() { Some(u32::from(inp.u16())) } else { None };
            if vector == cpu::vector::PF {
                let cr2 = addr(inp, r);
                g.cpu_mut().set_cr2(cr2);
            }
            g.fuzz_exit(Exit::Exception(Exception { vector, error_code }))
        }
        7 => {
            let vector = inp.u8();
            let len = 1 + inp.below(2) as u8;
            g.fuzz_exit(Exit::SoftInt { vector, len })
        }
        8 | 9 => {
            let budget = 1 + u64::from(inp.u8());
            g.fuzz_before_entry()?;
            g.fuzz_run(budget)
        }
        10 => g.fuzz_before_entry(),
        11 => {
            let bytes = inp.bytes(32).to_vec();
            let e = if bytes.is_empty() { Event::ConsoleEof } else { Event::ConsoleInput(bytes) };
            g.event_sender().send(e);
            g.fuzz_before_entry()
        }
        12 => {
            // Move the Guest: its stack, its EIP, or into user mode and back.
            let cpu = g.cpu_mut();
            match inp.u8() % 4 {
                0 => cpu.set_reg(Reg::Esp, addr(inp, r)),
                1 => cpu.set_eip(addr(inp, r)),
                2 => {
                    let _ = cpu.load_segment(SegReg::Cs, abi::segments::USER_CS);
                    let _ = cpu.load_segment(SegReg::Ss, abi::segments::USER_DS);
                }
                _ => {
                    let _ = cpu.load_segment(SegReg::Cs, abi::segments::LGUEST_KERNEL_CS);
                    let _ = cpu.load_segment(SegReg::Ss, abi::segments::LGUEST_KERNEL_DS);
                }
            }
            Ok(())
        }
        _ => {
            let exit = match inp.u8() % 4 {
                0 => Exit::Halt,
                1 => Exit::WatchedStore,
                2 => Exit::BudgetExhausted,
                _ => Exit::BadPhysical { addr: addr(inp, r) },
            };
            g.fuzz_exit(exit)
        }
    }
}

/// The Host's promises after every step (see the module documentation).
fn check(g: &mut Guest, inp: &mut Input, r: &Regions) {
    let seed = g.revision() == Revision::Seed;
    let cpu = g.cpu_mut();
    assert_ne!(cpu.cpl(), 0, "the Guest is at CPL 0");
    for s in SegReg::ALL.into_iter().filter(|_| seed) {
        let seg = cpu.segment(s);
        let d = seg.descriptor();
        if seg.is_null() || !d.present() {
            continue;
        }
        let expand_down = d.is_data() && d.access() & access::C_OR_E != 0;
        let last = if expand_down {
            u64::from(seg.base) + if d.flags() & dflags::DB != 0 { 0xFFFF_FFFF } else { 0xFFFF }
        } else {
            u64::from(seg.base) + u64::from(seg.limit)
        };
        assert!(last < u64::from(RESERVED_START), "{} reaches {last:#x}: {seg:?}", s.name());
    }
    let probe = [RESERVED_START, 0xFFFF_F000, RESERVED_START + (inp.u32() & 0x3F_FFFF), addr(inp, r)];
    for lin in probe {
        for (write, user) in [(false, false), (true, false), (false, true)] {
            match cpu.translate(lin, write, user) {
                Ok(phys) => {
                    assert!(lin < RESERVED_START, "the shadow maps reserved {lin:#x} to {phys:#x}")
                }
                Err(Exit::BadPhysical { addr }) => {
                    panic!("the shadow maps {lin:#x} to {addr:#x}, outside guest memory")
                }
                Err(_) => {}
            }
        }
    }
}

/// The Guest ended: its one line must render.
fn finish(end: Outcome) {
    let _ = end.message();
    let _ = end.exit_status();
}
