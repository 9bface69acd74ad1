//! A tiny kernel shaped like a Linux 2.6.23 lguest Guest, for testing one rule of the
//! 2.6.23 Host at a time: an ELF file linked at PAGE_OFFSET + 1 MiB and loaded at 1 MiB,
//! holding the `GenuineLguest` signature, so the Launcher boots it as Linux (release
//! revision of `lguest_data`, the Launcher's page tables mapping RAM at PAGE_OFFSET) and
//! enters the code just after the signature. The test writes that code with [`Asm`]; the
//! kernel's data (its `lguest_data`, a DMA descriptor, buffers) lies at fixed
//! guest-physical addresses in the same segment.
//!
//! What the kernel wants the test to see it sends to the console (`Asm::send`), and it
//! ends with `Asm::power_off` (status 0) unless the Host kills it first.

/// Guest-physical address of the code (just after the signature) and the data.
pub const LOAD: u32 = 0x10_0000;
pub const PAGE_OFFSET: u32 = 0xC000_0000;
/// `struct lguest_data` (release revision, 1128 bytes).
pub const LGUEST_DATA: u32 = 0x10_2000;
/// One `lguest_dma` for sends to the console.
pub const DMA: u32 = 0x10_3000;
/// A scratch buffer the code stores results into (16 bytes), and that `send` sends from.
pub const SCRATCH: u32 = 0x10_3800;
/// "Power down".
pub const POWER_DOWN: u32 = 0x10_3900;
/// A GDT of 32 entries the code can load.
pub const GDT: u32 = 0x10_4000;
/// The end of the segment.
pub const END: u32 = 0x10_6000;

/// Hypercall numbers used here.
pub const LHCALL_LGUEST_INIT: u32 = 1;
pub const LHCALL_CRASH: u32 = 2;
pub const LHCALL_LOAD_GDT: u32 = 3;
pub const LHCALL_SEND_DMA: u32 = 13;
pub const LHCALL_SET_PMD: u32 = 15;

/// The virtual address of guest-physical `phys`.
pub const fn virt(phys: u32) -> u32 {
    phys + PAGE_OFFSET
}

/// 32-bit x86 code, a few instructions at a time.
#[derive(Default)]
pub struct Asm {
    code: Vec<u8>,
    data: Vec<(u32, Vec<u8>)>,
}

const EAX: u8 = 0;
const ECX: u8 = 1;
const EDX: u8 = 2;
const EBX: u8 = 3;

impl Asm {
    /// A kernel that starts with LHCALL_LGUEST_INIT.
    pub fn new() -> Asm {
        let mut a = Asm::default();
        a.data(POWER_DOWN, b"Power down\0");
        a.hcall(LHCALL_LGUEST_INIT, LGUEST_DATA, 0, 0);
        a
    }

    pub fn bytes(&mut self, b: &[u8]) -> &mut Asm {
        self.code.extend_from_slice(b);
        self
    }

    /// `mov $imm, %reg` (reg numbered as in ModRM).
    fn mov_imm(&mut self, reg: u8, imm: u32) -> &mut Asm {
        self.code.push(0xB8 + reg);
        self.code.extend_from_slice(&imm.to_le_bytes());
        self
    }

    pub fn mov_eax(&mut self, imm: u32) -> &mut Asm {
        self.mov_imm(EAX, imm)
    }

    pub fn mov_ecx(&mut self, imm: u32) -> &mut Asm {
        self.mov_imm(ECX, imm)
    }

    pub fn mov_edx(&mut self, imm: u32) -> &mut Asm {
        self.mov_imm(EDX, imm)
    }

    /// `int $0x1f` with %eax, %edx, %ebx, %ecx set.
    pub fn hcall(&mut self, call: u32, edx: u32, ebx: u32, ecx: u32) -> &mut Asm {
        self.mov_imm(EAX, call).mov_imm(EDX, edx).mov_imm(EBX, ebx).mov_imm(ECX, ecx);
        self.bytes(&[0xCD, 0x1F])
    }

    /// `mov %eax, virt(phys)`.
    pub fn store_eax(&mut self, phys: u32) -> &mut Asm {
        self.code.push(0xA3);
        self.code.extend_from_slice(&virt(phys).to_le_bytes());
        self
    }

    /// `mov virt(phys), %eax`.
    pub fn load_eax(&mut self, phys: u32) -> &mut Asm {
        self.code.push(0xA1);
        self.code.extend_from_slice(&virt(phys).to_le_bytes());
        self
    }

    /// Send `len` bytes at guest-physical `buf` to the console: one section, through
    /// the descriptor at [`DMA`] (written by the code, so a kernel may send several).
    pub fn send(&mut self, buf: u32, len: u16) -> &mut Asm {
        self.mov_eax(0).store_eax(DMA); // used_len
        self.mov_eax(buf).store_eax(DMA + 4); // addr[0]
        self.mov_eax(len as u32).store_eax(DMA + 68); // len[0], len[1] = 0
        self.hcall(LHCALL_SEND_DMA, 0, DMA, 0)
    }

    /// Put `bytes` at guest-physical `at` when the kernel is loaded.
    pub fn data(&mut self, at: u32, bytes: &[u8]) -> &mut Asm {
        self.data.push((at, bytes.to_vec()));
        self
    }

    /// LHCALL_CRASH("Power down"), then spin.
    pub fn power_off(&mut self) -> &mut Asm {
        self.hcall(LHCALL_CRASH, POWER_DOWN, 0, 0).bytes(&[0xEB, 0xFE])
    }

    /// The kernel image: an ELF file with one loadable segment from [`LOAD`] - 13 (the
    /// signature) to [`END`].
    pub fn elf(&self) -> Vec<u8> {
        const SIGNATURE: &[u8] = b"GenuineLguest";
        let start = LOAD - SIGNATURE.len() as u32;
        let mut seg = vec![0u8; (END - start) as usize];
        seg[..SIGNATURE.len()].copy_from_slice(SIGNATURE);
        let code_at = SIGNATURE.len();
        seg[code_at..code_at + self.code.len()].copy_from_slice(&self.code);
        for (at, bytes) in &self.data {
            let off = (at - start) as usize;
            seg[off..off + bytes.len()].copy_from_slice(bytes);
        }
        const PHOFF: usize = 52;
        const SEG_OFF: usize = 0x1000 - SIGNATURE.len();
        let mut out = vec![0u8; SEG_OFF];
        out.extend_from_slice(&seg);
        let put16 = |b: &mut [u8], at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
        let put32 = |b: &mut [u8], at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        out[..16].copy_from_slice(&[0x7F, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        put16(&mut out, 16, 2); // ET_EXEC
        put16(&mut out, 18, 3); // EM_386
        put32(&mut out, 20, 1); // EV_CURRENT
        put32(&mut out, 24, virt(LOAD)); // not used: Linux is entered after the signature
        put32(&mut out, 28, PHOFF as u32);
        put16(&mut out, 40, 52);
        put16(&mut out, 42, 32);
        put16(&mut out, 44, 1);
        let ph = &mut out[PHOFF..PHOFF + 32];
        put32(ph, 0, 1); // PT_LOAD
        put32(ph, 4, SEG_OFF as u32);
        put32(ph, 8, virt(start));
        put32(ph, 12, start);
        put32(ph, 16, seg.len() as u32);
        put32(ph, 20, seg.len() as u32);
        put32(ph, 24, 7); // RWX
        put32(ph, 28, 0x1000);
        out
    }
}
