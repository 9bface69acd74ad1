//! Garbage never panics: random byte streams run as code must always end `run` with an
//! [`Exit`] (#UD, #GP, #PF, a software interrupt, HLT, a bad physical address, the
//! budget...), never with a panic, at CPL 0 and CPL 3, with paging off and on. Debug
//! builds also check every arithmetic overflow on the way.

mod support;

use cpu::{Cpu, Exit, PhysMem, Reg, SegReg, Vcpu, cr, eflags, vector};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use support::Rng;

const RAM: u32 = 1 << 20;
const STREAMS_PER_CONFIG: usize = 1500;
const STREAM_LEN: usize = 96;

/// Bytes that make decoding interesting: prefixes, escapes, group opcodes, and the
/// instructions that change privilege, segments or control flow, and the x87 escapes
/// (the FPU is on for part of the runs).
const INTERESTING: [u8; 45] = [
    0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x0F, 0x0F, 0x0F, 0x8E, 0x8C, 0xC4,
    0xC5, 0xCA, 0xCB, 0xCF, 0xEA, 0x9A, 0xFF, 0xFE, 0xF6, 0xF7, 0xD8, 0xDF, 0x00, 0x01, 0x20, 0x22, 0x23,
    0xB2, 0xA5, 0xAB, 0xC8, 0x62, 0x63, 0xD9, 0xDB, 0xDD, 0xDE, 0x9B,
];

#[derive(Clone, Copy, Debug)]
struct Config {
    cpl: u8,
    paging: bool,
}

fn machine(cfg: Config, rng: &mut Rng) -> Cpu {
    let mut cpu = if cfg.cpl == 0 {
        support::flat_kernel_cpu(PhysMem::new(RAM))
    } else {
        support::linux_user_cpu(PhysMem::new(RAM))
    };
    // A few more descriptors for far transfers and segment loads to find: not present,
    // expand-down, 16-bit, each ring's code and data.
    use cpu::Descriptor as D;
    for (i, d) in [
        D::new(0, 0xFFFFF, 0xBA, 0xC),
        D::new(0, 0xFFFFF, 0xB2, 0xC),
        D::new(0, 0xFFF, 0xF6, 0x4),
        D::new(0, 0xFFFF, 0x9A, 0x0),
        D::new(0x1000, 0xFFFF, 0x72, 0x0),
        D::new(0, 0xFFFFF, 0x9E, 0xC),
    ]
    .into_iter()
    .enumerate()
    {
        cpu.set_gdt_entry(6 + i, d);
    }
    if cfg.paging {
        support::identity_paging(&mut cpu, RAM - 0x2000, RAM - 0x2000);
        // Knock a few holes in the mapping and make a few pages read-only or
        // supervisor-only.
        for _ in 0..8 {
            let page = rng.below((RAM - 0x2000) >> 12);
            let pte = RAM - 0x1000 + 4 * page;
            let v = cpu.mem().read_u32(pte).unwrap();
            let v = match rng.below(3) {
                0 => 0,
                1 => v & !2,
                _ => v & !4,
            };
            cpu.mem_mut().write_u32(pte, v).unwrap();
        }
        cpu.flush_tlb();
    }
    cpu
}

fn stream(rng: &mut Rng) -> Vec<u8> {
    let style = rng.below(3);
    (0..STREAM_LEN)
        .map(|_| match style {
            0 => rng.u32() as u8,
            1 if rng.chance(40) => rng.pick(&INTERESTING),
            _ => rng.u32() as u8,
        })
        .collect()
}

/// Run one stream; return the exits seen.
fn run_stream(cfg: Config, rng: &mut Rng, bytes: &[u8]) -> Vec<Exit> {
    let mut cpu = machine(cfg, rng);
    // Fill some memory with more garbage, so jumps land on it.
    let mut junk = Vec::with_capacity(0x4000);
    for _ in 0..0x800 {
        junk.extend_from_slice(&rng.u64().to_le_bytes());
    }
    cpu.mem_mut().write(0x4000, &junk).unwrap();
    let at = 0x2000 + rng.below(0x1000);
    cpu.mem_mut().write(at, bytes).unwrap();
    for r in Reg::ALL {
        cpu.set_reg(r, rng.edgy());
    }
    if rng.chance(70) {
        cpu.set_reg(Reg::Esp, 0x9000 + rng.below(0x1000));
    }
    let fl = rng.u32() & (eflags::ARITH | eflags::DF | eflags::IOPL | eflags::IF);
    cpu.set_eflags(0x2 | fl);
    if rng.chance(30) {
        cpu.set_cr0(cpu.cr0() & !cr::CR0_EM);
    }
    cpu.set_eip(at);
    let mut exits = Vec::new();
    for _ in 0..6 {
        let exit = cpu.run(300);
        exits.push(exit);
        match exit {
            // Skip the offending byte and carry on into more garbage.
            Exit::Exception(e) if e.vector == vector::PF || e.vector == vector::GP => {
                cpu.set_eip(cpu.eip().wrapping_add(1))
            }
            Exit::Exception(_) => cpu.set_eip(cpu.eip().wrapping_add(1)),
            Exit::BadPhysical { .. } => cpu.set_eip(at.wrapping_add(rng.below(STREAM_LEN as u32))),
            Exit::Halt | Exit::SoftInt { .. } | Exit::BudgetExhausted | Exit::WatchedStore => {}
        }
        // The CPU must stay usable for the Host whatever happened.
        let _ = cpu.segment(SegReg::Cs);
    }
    exits
}

fn kind(e: &Exit) -> String {
    match e {
        Exit::Exception(x) => vector::name(x.vector).to_string(),
        Exit::SoftInt { .. } => "int".into(),
        Exit::Halt => "hlt".into(),
        Exit::BudgetExhausted => "budget".into(),
        Exit::BadPhysical { .. } => "bad-physical".into(),
        Exit::WatchedStore => "watched-store".into(),
    }
}

#[test]
fn random_byte_streams_always_end_in_an_exit_never_a_panic() {
    let configs = [
        Config { cpl: 0, paging: false },
        Config { cpl: 0, paging: true },
        Config { cpl: 3, paging: false },
        Config { cpl: 3, paging: true },
    ];
    let mut rng = Rng::new(0x6761_7262_6167_6521);
    let mut panics = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    // Panics are caught and reported below; keep the default hook from printing each.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for cfg in configs {
        for i in 0..STREAMS_PER_CONFIG {
            let bytes = stream(&mut rng);
            let seed = rng.u64();
            let result = catch_unwind(AssertUnwindSafe(|| run_stream(cfg, &mut Rng::new(seed), &bytes)));
            match result {
                Ok(exits) => {
                    for e in &exits {
                        *seen.entry(kind(e)).or_default() += 1;
                    }
                }
                Err(p) => {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    panics
                        .push(format!("{cfg:?} stream {i} (seed {seed:#x}): {msg}\n    bytes {bytes:02x?}"));
                }
            }
        }
    }
    std::panic::set_hook(hook);
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "garbage: {} streams at CPL 0/3, paging off/on; exits seen: {seen:?}",
        configs.len() * STREAMS_PER_CONFIG
    );
    assert!(panics.is_empty(), "{} streams panicked:\n{}", panics.len(), panics.join("\n"));
}
