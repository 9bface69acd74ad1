//! A minimal kernel image for the Host target: one loadable segment of code, linked at
//! PAGE_OFFSET + 1 MiB and loaded at 1 MiB, like the kit's Guests.

/// Where the code is loaded (guest-physical) and linked (virtual).
pub const CODE_PHYS: u32 = 0x10_0000;
pub const CODE_VIRT: u32 = abi::PAGE_OFFSET + CODE_PHYS;

/// A static i386 ELF executable whose one segment holds `code`, entered at its start.
pub fn kernel(code: &[u8]) -> Vec<u8> {
    const PHOFF: usize = 52;
    const CODE_OFF: usize = 0x1000;
    let mut out = vec![0u8; CODE_OFF];
    out.extend_from_slice(code);
    let put16 = |b: &mut [u8], at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |b: &mut [u8], at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    out[..16].copy_from_slice(&[0x7F, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    put16(&mut out, 16, 2); // ET_EXEC
    put16(&mut out, 18, 3); // EM_386
    put32(&mut out, 20, 1); // EV_CURRENT
    put32(&mut out, 24, CODE_VIRT);
    put32(&mut out, 28, PHOFF as u32);
    put16(&mut out, 40, 52);
    put16(&mut out, 42, 32);
    put16(&mut out, 44, 1);
    let ph = &mut out[PHOFF..PHOFF + 32];
    put32(ph, 0, 1); // PT_LOAD
    put32(ph, 4, CODE_OFF as u32);
    put32(ph, 8, CODE_VIRT);
    put32(ph, 12, CODE_PHYS);
    put32(ph, 16, code.len() as u32);
    put32(ph, 20, 0x1000); // a whole page in memory
    put32(ph, 24, 7); // RWX
    put32(ph, 28, 0x1000);
    out
}
