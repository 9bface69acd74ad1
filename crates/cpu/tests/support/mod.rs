//! Test support shared by the CPU's integration tests and benchmark: a seeded random
//! number generator, a minimal ELF32 writer and reader (so the very same bytes run both as
//! a native 32-bit Linux process and in the interpreter), a way to run such a file
//! natively, and CPUs set up the way Linux sets up a 32-bit user process.

#![allow(dead_code)]

use cpu::{Cpu, Descriptor, Engine, Exit, PhysMem, Reg, SegReg, Vcpu, cr, pte};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// SplitMix64: tiny, fast, and good enough to drive test generators reproducibly.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn u32(&mut self) -> u32 {
        (self.u64() >> 32) as u32
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.u64() >> 32) * n as u64) >> 32) as u32
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u32) as usize]
    }

    /// A 32-bit value biased towards the edges where arithmetic goes wrong.
    pub fn edgy(&mut self) -> u32 {
        match self.below(8) {
            0..=2 => self.pick(&EDGES),
            3 => {
                // Edge values per byte, so 8- and 16-bit operands see them too.
                let mut v = 0;
                for i in 0..4 {
                    v |= (self.pick(&BYTE_EDGES) as u32) << (8 * i);
                }
                v
            }
            4 => self.below(64),
            5 => self.pick(&EDGES).wrapping_add(self.below(5)).wrapping_sub(2),
            _ => self.u32(),
        }
    }
}

pub const EDGES: [u32; 26] = [
    0,
    1,
    2,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x1_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    0xFFFF_FFFE,
    0x8000_0001,
    0x7FFF_FFFE,
    0xFF00,
    0xFF80,
    0xFFFF_FF80,
    0xFFFF_8000,
    0x0F,
    0x10,
    0x99,
    0x9A,
    0xF9,
];

pub const BYTE_EDGES: [u8; 10] = [0, 1, 0x7F, 0x80, 0xFF, 0xFE, 0x81, 0x09, 0x99, 0xF0];

/// One loadable segment of an ELF image.
pub struct Segment {
    pub vaddr: u32,
    pub bytes: Vec<u8>,
    /// Size in memory (the part past `bytes` is zero).
    pub memsz: u32,
}

/// A static i386 executable with the given segments (all RWX) and entry point.
pub fn elf32(segments: &[Segment], entry: u32) -> Vec<u8> {
    let phoff = 52usize;
    let mut out = vec![0u8; phoff + 32 * segments.len()];
    let mut offsets = Vec::new();
    for s in segments {
        // The file offset must be congruent to the address modulo the page size.
        let mut off = out.len().next_multiple_of(4096);
        off += (s.vaddr & 0xFFF) as usize;
        out.resize(off, 0);
        out.extend_from_slice(&s.bytes);
        offsets.push(off as u32);
    }
    let h = &mut out[..52];
    h[..16].copy_from_slice(&[0x7F, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let put16 = |b: &mut [u8], at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |b: &mut [u8], at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put16(h, 16, 2); // ET_EXEC
    put16(h, 18, 3); // EM_386
    put32(h, 20, 1);
    put32(h, 24, entry);
    put32(h, 28, phoff as u32);
    put16(h, 40, 52);
    put16(h, 42, 32);
    put16(h, 44, segments.len() as u16);
    for (i, s) in segments.iter().enumerate() {
        let p = &mut out[phoff + 32 * i..phoff + 32 * (i + 1)];
        put32(p, 0, 1); // PT_LOAD
        put32(p, 4, offsets[i]);
        put32(p, 8, s.vaddr);
        put32(p, 12, s.vaddr);
        put32(p, 16, s.bytes.len() as u32);
        put32(p, 20, s.memsz.max(s.bytes.len() as u32));
        put32(p, 24, 7); // RWX
        put32(p, 28, 0x1000);
    }
    out
}

/// The loadable segments and entry point of a static ELF32 executable.
pub fn parse_elf32(file: &[u8]) -> (Vec<Segment>, u32) {
    assert_eq!(&file[..4], b"\x7FELF", "not an ELF file");
    assert_eq!(file[4], 1, "not a 32-bit ELF file");
    let get16 = |at: usize| u16::from_le_bytes([file[at], file[at + 1]]) as usize;
    let get32 = |at: usize| u32::from_le_bytes([file[at], file[at + 1], file[at + 2], file[at + 3]]);
    let entry = get32(24);
    let (phoff, phentsize, phnum) = (get32(28) as usize, get16(42), get16(44));
    let mut segs = Vec::new();
    for i in 0..phnum {
        let p = phoff + i * phentsize;
        if get32(p) != 1 {
            continue;
        }
        let (off, vaddr, filesz, memsz) = (get32(p + 4) as usize, get32(p + 8), get32(p + 16), get32(p + 20));
        segs.push(Segment { vaddr, bytes: file[off..off + filesz as usize].to_vec(), memsz });
    }
    (segs, entry)
}

/// A path in Cargo's scratch directory for integration tests.
pub fn tmp_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).expect("create CARGO_TARGET_TMPDIR");
    dir.join(format!("{}-{}", std::process::id(), name))
}

/// Write an executable file.
pub fn write_executable(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).expect("write executable");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Run an executable natively and capture its output. A file just written may be briefly
/// "busy" if another thread forked while it was open for writing; that is retried.
pub fn run_native(path: &Path) -> Output {
    for _ in 0..50 {
        match Command::new(path).output() {
            Ok(out) => return out,
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("cannot run {}: {e}", path.display()),
        }
    }
    panic!("{} stayed busy", path.display());
}

/// Linux's user code and data selectors for 32-bit processes (GDT entries 4 and 5, RPL 3).
pub const USER_CS: u16 = 0x23;
pub const USER_DS: u16 = 0x2B;

/// The CPU every test runs on: the `check` engine, so that each test runs both the
/// interpreter and the translator (translating every block on first sight) and fails
/// wherever they disagree, besides asserting what it asserts.
pub fn new_cpu(mem: PhysMem) -> Cpu {
    let mut cpu = Cpu::with_engine(mem, Engine::Check);
    cpu.set_jit_threshold(0);
    cpu
}

/// A CPU set up like a freshly exec'd 32-bit Linux process: flat 4 GiB segments at CPL 3
/// with Linux's selector values (so `mov eax, ds` or `push cs` agree with the real thing),
/// FS and GS null, IF set, paging off (guest-physical = linear).
pub fn linux_user_cpu(mem: PhysMem) -> Cpu {
    let mut cpu = new_cpu(mem);
    linux_user_setup(&mut cpu);
    cpu
}

fn linux_user_setup(cpu: &mut Cpu) {
    cpu.set_gdt_entry(4, Descriptor::new(0, 0xFFFFF, 0xFA, 0xC));
    cpu.set_gdt_entry(5, Descriptor::new(0, 0xFFFFF, 0xF2, 0xC));
    cpu.load_segment(SegReg::Cs, USER_CS).expect("load CS");
    for s in [SegReg::Ds, SegReg::Es, SegReg::Ss] {
        cpu.load_segment(s, USER_DS).expect("load data segment");
    }
    cpu.load_segment(SegReg::Fs, 0).expect("null FS");
    cpu.load_segment(SegReg::Gs, 0).expect("null GS");
    cpu.set_eflags(0x202);
}

/// A flat CPU at CPL 0 (GDT: 1 = code, 2 = data, both flat 4 GiB, DPL 0).
pub fn flat_kernel_cpu(mem: PhysMem) -> Cpu {
    let mut cpu = new_cpu(mem);
    cpu.set_gdt_entry(1, Descriptor::new(0, 0xFFFFF, 0x9A, 0xC));
    cpu.set_gdt_entry(2, Descriptor::new(0, 0xFFFFF, 0x92, 0xC));
    cpu.load_segment(SegReg::Cs, 0x08).expect("load CS");
    for s in [SegReg::Ds, SegReg::Es, SegReg::Ss, SegReg::Fs, SegReg::Gs] {
        cpu.load_segment(s, 0x10).expect("load data segment");
    }
    cpu.set_eflags(0x2);
    cpu
}

/// Identity-map `[0, size)` with user-writable 4 KiB pages (page tables at `tables`,
/// which needs `4 KiB * (1 + size / 4 MiB)` of RAM) and turn paging on.
pub fn identity_paging(cpu: &mut Cpu, tables: u32, size: u32) {
    let pd = tables;
    let npt = size.div_ceil(4 << 20);
    let flags = pte::P | pte::RW | pte::US;
    for t in 0..npt {
        let pt = tables + 4096 * (1 + t);
        cpu.mem_mut().write_u32(pd + 4 * t, pt | flags).expect("PDE inside RAM");
        for i in 0..1024 {
            let page = (t * 1024 + i) << 12;
            if page < size {
                cpu.mem_mut().write_u32(pt + 4 * i, page | flags).expect("PTE inside RAM");
            }
        }
    }
    cpu.set_cr3(pd);
    let cr0 = cpu.cr0();
    cpu.set_cr0(cr0 | cr::CR0_PG | cr::CR0_WP);
}

/// Load ELF segments into guest RAM (linear = physical).
pub fn load_segments(cpu: &mut Cpu, segs: &[Segment]) {
    for s in segs {
        cpu.mem_mut().write(s.vaddr, &s.bytes).expect("segment inside RAM");
    }
}

/// The eight general registers, for messages.
pub fn regs_string(cpu: &Cpu) -> String {
    Reg::ALL.iter().map(|&r| format!("{}={:08x}", r.name(), cpu.reg(r))).collect::<Vec<_>>().join(" ")
}

/// A benchmark kernel (a static 32-bit executable that computes, `write`s a 4-byte result
/// and `exit`s) run natively `runs` times: the best time (each includes the exec, well
/// under a millisecond) and the result.
pub fn native_kernel(elf: &Path, runs: usize) -> (Duration, u32) {
    let mut best = Duration::MAX;
    let mut result = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let out = run_native(elf);
        best = best.min(t.elapsed());
        assert!(out.status.success(), "{} failed natively: {}", elf.display(), out.status);
        result = u32::from_le_bytes(out.stdout[..4].try_into().expect("4-byte result"));
    }
    (best, result)
}

/// The same kernel run once in the interpreter as a flat 32-bit Linux process, the caller
/// playing Linux for `write` and `exit`: (time, instructions retired, result).
pub fn interpreted_kernel(elf: &Path) -> (Duration, u64, u32) {
    let (t, n, r, _) = kernel_on(elf, Engine::Interp);
    (t, n, r)
}

/// [`interpreted_kernel`] on any engine; also what the translator did, if it ran.
pub fn kernel_on(elf: &Path, engine: Engine) -> (Duration, u64, u32, Option<cpu::JitStats>) {
    let file = std::fs::read(elf).expect("read the kernel");
    let (segs, entry) = parse_elf32(&file);
    let top = segs.iter().map(|s| s.vaddr + s.memsz).max().unwrap_or(0);
    let ram = (top + (1 << 20)).next_multiple_of(1 << 20);
    let mut cpu = Cpu::with_engine(PhysMem::new(ram), engine);
    linux_user_setup(&mut cpu);
    // Linux runs a process with the FPU on.
    cpu.set_cr0((cpu.cr0() & !(cr::CR0_EM | cr::CR0_TS)) | cr::CR0_MP | cr::CR0_NE);
    load_segments(&mut cpu, &segs);
    cpu.set_reg(Reg::Esp, ram - 16);
    cpu.set_eip(entry);
    let mut result = None;
    let t = Instant::now();
    loop {
        match cpu.run(u64::MAX) {
            Exit::SoftInt { vector: 0x80, .. } => match cpu.reg(Reg::Eax) {
                4 => {
                    let at = cpu.reg(Reg::Ecx);
                    result = Some(cpu.mem().read_u32(at).expect("result inside RAM"));
                    cpu.set_reg(Reg::Eax, 4);
                }
                1 => break,
                n => panic!("unexpected system call {n}"),
            },
            other => panic!("{} stopped: {other} at {:#x}", elf.display(), cpu.eip()),
        }
    }
    (t.elapsed(), cpu.retired(), result.expect("the kernel wrote its result"), cpu.jit_stats())
}
