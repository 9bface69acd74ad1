//! REP STOS and REP MOVS move runs of elements at once where they can (`ops/string.rs`):
//! the result must be what one element at a time gives — the same bytes (overlapping
//! copies included), the same registers, a fault at the same element with everything
//! before it done, and stores to watched or code pages still seen. Each test runs on the
//! check engine (`support::new_cpu`), so the translator is held to the same.

mod support;

use cpu::{Cpu, Exit, PhysMem, Reg, Vcpu, vector};

const RAM: u32 = 1 << 20;
const CODE: u32 = 0x1000;
/// Page tables at the top of RAM (identity map of everything below them).
const TABLES: u32 = RAM - 0x2000;

/// A flat ring-0 CPU with `code` at CODE followed by `int $0x80`, paging on.
fn machine(code: &[u8]) -> Cpu {
    let mut cpu = support::flat_kernel_cpu(PhysMem::new(RAM));
    let mut bytes = code.to_vec();
    bytes.extend_from_slice(&[0xCD, 0x80]);
    cpu.mem_mut().write(CODE, &bytes).unwrap();
    support::identity_paging(&mut cpu, TABLES, TABLES);
    cpu.set_reg(Reg::Esp, 0x8000);
    cpu.set_eip(CODE);
    cpu
}

/// Unmap the page at `addr`.
fn unmap(cpu: &mut Cpu, addr: u32) {
    let pte_at = TABLES + 0x1000 + 4 * (addr >> 12);
    cpu.mem_mut().write_u32(pte_at, 0).unwrap();
    cpu.flush_tlb();
}

const DONE: Exit = Exit::SoftInt { vector: 0x80, len: 2 };

fn set(cpu: &mut Cpu, regs: &[(Reg, u32)]) {
    for &(r, v) in regs {
        cpu.set_reg(r, v);
    }
}

const REP_STOSB: [u8; 2] = [0xF3, 0xAA];
const REP_STOSD: [u8; 2] = [0xF3, 0xAB];
const REP_MOVSB: [u8; 2] = [0xF3, 0xA4];
const REP_MOVSW: [u8; 3] = [0x66, 0xF3, 0xA5];
const REP_MOVSD: [u8; 2] = [0xF3, 0xA5];

#[test]
fn rep_stos_fills_across_pages_and_leaves_the_registers_past_the_end() {
    let mut cpu = machine(&REP_STOSD);
    set(&mut cpu, &[(Reg::Eax, 0xA1B2_C3D4), (Reg::Ecx, 3000), (Reg::Edi, 0x20010)]);
    assert_eq!(cpu.run(1_000_000), DONE);
    assert_eq!(cpu.reg(Reg::Ecx), 0);
    assert_eq!(cpu.reg(Reg::Edi), 0x20010 + 4 * 3000);
    let mem = cpu.mem().slice(0x20000, 0x4000).unwrap().to_vec();
    for (i, b) in mem.iter().enumerate() {
        let want = if (0x10..0x10 + 4 * 3000).contains(&i) { 0xA1B2_C3D4u32.to_le_bytes()[i % 4] } else { 0 };
        assert_eq!(*b, want, "byte {:#x}", 0x20000 + i);
    }
}

#[test]
fn rep_stos_faults_at_the_first_element_on_an_unmapped_page_with_the_rest_done() {
    let mut cpu = machine(&REP_STOSB);
    unmap(&mut cpu, 0x31000);
    set(&mut cpu, &[(Reg::Eax, 0x5A), (Reg::Ecx, 0x300), (Reg::Edi, 0x30F00)]);
    assert_eq!(
        cpu.run(1_000_000),
        Exit::Exception(cpu::Exception { vector: vector::PF, error_code: Some(2) })
    );
    assert_eq!(cpu.eip(), CODE, "the fault is at the instruction");
    assert_eq!(cpu.cr2(), 0x31000);
    assert_eq!(cpu.reg(Reg::Edi), 0x31000, "EDI at the faulting element");
    assert_eq!(cpu.reg(Reg::Ecx), 0x200, "ECX counts the elements not done");
    assert!(cpu.mem().slice(0x30F00, 0x100).unwrap().iter().all(|&b| b == 0x5A));
}

#[test]
fn a_huge_rep_stos_runs_in_restartable_chunks_to_the_same_end() {
    let mut cpu = machine(&REP_STOSB);
    set(&mut cpu, &[(Reg::Eax, 0x77), (Reg::Ecx, 100_000), (Reg::Edi, 0x40000)]);
    // A budget of 1 instruction: the REP yields part-way, retiring nothing, again and
    // again until it is done.
    let mut runs = 0;
    while cpu.eip() == CODE {
        assert_eq!(cpu.run(1), Exit::BudgetExhausted);
        runs += 1;
        assert!(runs < 1000);
    }
    assert!(runs > 10, "ran in {runs} pieces");
    assert_eq!(cpu.retired(), 1);
    assert_eq!((cpu.reg(Reg::Ecx), cpu.reg(Reg::Edi)), (0, 0x40000 + 100_000));
    assert!(cpu.mem().slice(0x40000, 100_000).unwrap().iter().all(|&b| b == 0x77));
    assert_eq!(cpu.mem().read_u8(0x40000 + 100_000).unwrap(), 0);
}

/// Forward MOVS of `n` elements of `size` bytes from `src` to `dst` in `mem`, one
/// element at a time (read the whole element, then write it).
fn model_movs(mem: &mut [u8], src: usize, dst: usize, n: usize, size: usize) {
    for i in 0..n {
        let e: Vec<u8> = mem[src + i * size..src + (i + 1) * size].to_vec();
        mem[dst + i * size..dst + (i + 1) * size].copy_from_slice(&e);
    }
}

#[test]
fn overlapping_rep_movs_copies_element_by_element() {
    // dst a little above src: a forward copy replicates the leading bytes (memset-like
    // for bytes; whole elements read before written for words and dwords).
    for (code, size) in [(&REP_MOVSB[..], 1usize), (&REP_MOVSW[..], 2), (&REP_MOVSD[..], 4)] {
        for distance in [1usize, 2, 3, 5, 8] {
            let mut cpu = machine(code);
            let pattern: Vec<u8> = (0..0x800u32).map(|i| (i * 7 + 1) as u8).collect();
            cpu.mem_mut().write(0x50000, &pattern).unwrap();
            let n = 0x100;
            let (src, dst) = (0x50000u32, 0x50000 + distance as u32);
            set(&mut cpu, &[(Reg::Ecx, n), (Reg::Esi, src), (Reg::Edi, dst)]);
            assert_eq!(cpu.run(1_000_000), DONE);
            let mut want = pattern.clone();
            model_movs(&mut want, 0, distance, n as usize, size);
            let got = cpu.mem().slice(0x50000, 0x800).unwrap();
            assert_eq!(got, &want[..], "size {size}, distance {distance}");
            assert_eq!(cpu.reg(Reg::Esi), src + n * size as u32);
            assert_eq!(cpu.reg(Reg::Edi), dst + n * size as u32);
        }
    }
}

#[test]
fn rep_movs_from_an_unmapped_page_faults_at_that_element() {
    let mut cpu = machine(&REP_MOVSD);
    unmap(&mut cpu, 0x61000);
    let src: Vec<u8> = (0..0x100u32).map(|i| i as u8 ^ 0x3C).collect();
    cpu.mem_mut().write(0x60F00, &src).unwrap();
    set(&mut cpu, &[(Reg::Ecx, 0x80), (Reg::Esi, 0x60F00), (Reg::Edi, 0x70000)]);
    assert_eq!(
        cpu.run(1_000_000),
        Exit::Exception(cpu::Exception { vector: vector::PF, error_code: Some(0) })
    );
    assert_eq!(cpu.cr2(), 0x61000);
    assert_eq!((cpu.reg(Reg::Esi), cpu.reg(Reg::Edi), cpu.reg(Reg::Ecx)), (0x61000, 0x70100, 0x40));
    assert_eq!(cpu.mem().slice(0x70000, 0x100).unwrap(), &src[..]);
    assert_eq!(cpu.mem().read_u8(0x70100).unwrap(), 0);
}

#[test]
fn rep_stos_into_a_watched_page_is_reported_after_the_instruction() {
    let mut cpu = machine(&REP_STOSB);
    cpu.watch_stores(0x81000, true);
    set(&mut cpu, &[(Reg::Eax, 0x11), (Reg::Ecx, 0x200), (Reg::Edi, 0x80F00)]);
    assert_eq!(cpu.run(1_000_000), Exit::WatchedStore);
    assert_eq!(cpu.eip(), CODE + 2, "after the instruction");
    assert_eq!(cpu.reg(Reg::Ecx), 0);
    assert!(cpu.mem().slice(0x80F00, 0x200).unwrap().iter().all(|&b| b == 0x11));
}

#[test]
fn rep_movs_over_the_code_that_follows_it_runs_the_new_code() {
    // rep movsb copies `mov eax, 0x2a` over the nops after it: the next instruction
    // must be the new one, not the decoded nops.
    let new = [0xB8u8, 0x2A, 0, 0, 0];
    let mut code = REP_MOVSB.to_vec();
    code.extend_from_slice(&[0x90; 5]);
    let mut cpu = machine(&code);
    cpu.mem_mut().write(0x9000, &new).unwrap();
    set(&mut cpu, &[(Reg::Ecx, 5), (Reg::Esi, 0x9000), (Reg::Edi, CODE + 2), (Reg::Eax, 0)]);
    assert_eq!(cpu.run(1_000_000), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0x2A);
    assert_eq!(cpu.mem().read_u32(0x9000).unwrap(), 0x2AB8);
}
