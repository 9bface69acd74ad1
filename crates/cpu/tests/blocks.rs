//! The decoded-block cache's shortcuts are invisible: a block whose instructions skip
//! computing flags that a later one overwrites (the dead-flags pass in `exec.rs`) still
//! shows exact EFLAGS wherever execution stops inside it.

mod support;

use cpu::{Cpu, Exit, PhysMem, Reg, Vcpu, eflags};

const CODE: u32 = 0x1000;

fn flat_cpu(code: &[u8]) -> Cpu {
    let mut mem = PhysMem::new(1 << 20);
    mem.write(CODE, code).unwrap();
    let mut cpu = support::flat_kernel_cpu(mem);
    cpu.set_reg(Reg::Esp, 0x8000);
    cpu.set_eip(CODE);
    cpu
}

/// mov eax, 0x80000000; add eax, eax; inc eax; shl eax, 31; sub ebx, ebx; int 0x80.
/// In the block, INC's and SHL's flags are dead (SUB overwrites them).
const SEQUENCE: [u8; 17] = [
    0xB8, 0x00, 0x00, 0x00, 0x80, // mov eax, 0x80000000
    0x01, 0xC0, // add eax, eax: 0, CF ZF PF OF
    0x40, // inc eax: 1, CF kept, nothing else
    0xC1, 0xE0, 0x1F, // shl eax, 31: 0x80000000, SF PF OF
    0x29, 0xDB, // sub ebx, ebx: ZF PF
    0xCD, 0x80, // int 0x80
    0x90, 0x90,
];

/// EFLAGS after each instruction of [`SEQUENCE`]: (EAX, the arithmetic flags).
const AFTER: [(u32, u32); 5] = [
    (0x8000_0000, 0),
    (0, eflags::CF | eflags::ZF | eflags::PF | eflags::OF),
    (1, eflags::CF),
    (0x8000_0000, eflags::SF | eflags::PF | eflags::OF),
    (0x8000_0000, eflags::ZF | eflags::PF),
];

fn arith(cpu: &Cpu) -> u32 {
    cpu.eflags() & eflags::ARITH
}

#[test]
fn flags_are_exact_where_the_budget_ends_inside_a_block() {
    let mut cpu = flat_cpu(&SEQUENCE);
    // Decode and run the whole block once, so that the cut runs reuse the cached block.
    assert_eq!(cpu.run(100), Exit::SoftInt { vector: 0x80, len: 2 });
    assert_eq!((cpu.reg(Reg::Eax), arith(&cpu)), AFTER[4]);
    for (n, &expected) in AFTER.iter().enumerate() {
        cpu.set_eip(CODE);
        cpu.set_eflags(eflags::FIXED);
        assert_eq!(cpu.run(n as u64 + 1), Exit::BudgetExhausted, "after {} instructions", n + 1);
        assert_eq!((cpu.reg(Reg::Eax), arith(&cpu)), expected, "after {} instructions", n + 1);
    }
}

#[test]
fn flags_are_exact_one_instruction_at_a_time() {
    let mut cpu = flat_cpu(&SEQUENCE);
    for (n, &expected) in AFTER.iter().enumerate() {
        assert_eq!(cpu.run(1), Exit::BudgetExhausted);
        assert_eq!((cpu.reg(Reg::Eax), arith(&cpu)), expected, "after {} instructions", n + 1);
    }
    assert_eq!(cpu.run(1), Exit::SoftInt { vector: 0x80, len: 2 });
}

#[test]
fn flags_are_exact_at_a_fault_inside_a_block() {
    // add eax, eax; inc eax; mov [ebx], eax (outside RAM); sub ecx, ecx; int 0x80
    let code = [0x01, 0xC0, 0x40, 0x89, 0x03, 0x29, 0xC9, 0xCD, 0x80];
    let mut cpu = flat_cpu(&code);
    cpu.set_reg(Reg::Eax, 0x8000_0000);
    cpu.set_reg(Reg::Ebx, 0x0400_0000);
    assert_eq!(cpu.run(100), Exit::BadPhysical { addr: 0x0400_0000 });
    assert_eq!(cpu.eip(), CODE + 3);
    assert_eq!((cpu.reg(Reg::Eax), arith(&cpu)), (1, eflags::CF));
    assert_eq!(cpu.retired(), 2);
}

/// A Jcc right after the instruction that set its flags, in the same block, is tested
/// straight from that instruction's operands; it must branch exactly as a Jcc that starts
/// a block of its own (which looks at the flags the general way) does.
#[test]
fn a_jcc_after_its_flag_producer_branches_as_a_lone_jcc_does() {
    // The producers, as opcode bytes operating on EAX (and EBX).
    let producers: [&[u8]; 13] = [
        &[0x39, 0xD8],       // cmp eax, ebx
        &[0x38, 0xD8],       // cmp al, bl
        &[0x66, 0x39, 0xD8], // cmp ax, bx
        &[0x29, 0xD8],       // sub eax, ebx
        &[0x85, 0xD8],       // test eax, ebx
        &[0x84, 0xD8],       // test al, bl
        &[0x21, 0xD8],       // and eax, ebx
        &[0x66, 0x31, 0xD8], // xor ax, bx
        &[0x01, 0xD8],       // add eax, ebx
        &[0x00, 0xD8],       // add al, bl
        &[0x40],             // inc eax
        &[0x48],             // dec eax
        &[0x83, 0xF8, 0x05], // cmp eax, 5
    ];
    let values = [0u32, 1, 5, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF];
    for producer in producers {
        for cc in 0..16u8 {
            // producer; jcc +2; int 0x80 (not taken); int 0x81 (taken)
            let mut code = producer.to_vec();
            code.extend_from_slice(&[0x70 + cc, 2, 0xCD, 0x80, 0xCD, 0x81]);
            let mut cpu = flat_cpu(&code);
            for &a in &values {
                for &b in &values {
                    let run = |cpu: &mut Cpu, first: u64| {
                        cpu.set_eip(CODE);
                        cpu.set_reg(Reg::Eax, a);
                        cpu.set_reg(Reg::Ebx, b);
                        cpu.set_eflags(eflags::FIXED);
                        let exit = cpu.run(first);
                        if first == 1 {
                            // The Jcc now starts a block of its own.
                            assert_eq!(exit, Exit::BudgetExhausted);
                            return cpu.run(10);
                        }
                        exit
                    };
                    let lone = run(&mut cpu, 1);
                    let together = run(&mut cpu, 10);
                    assert_eq!(together, lone, "{producer:02x?} cc {cc:#x} eax {a:#x} ebx {b:#x}");
                }
            }
        }
    }
}
