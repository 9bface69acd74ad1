//! First light: a few instructions on a flat ring-0 machine.

mod support;

use cpu::{Cpu, Exit, PhysMem, Reg, Vcpu};

fn flat_cpu(code: &[u8]) -> Cpu {
    let mut mem = PhysMem::new(1 << 20);
    mem.write(0x1000, code).unwrap();
    let mut cpu = support::flat_kernel_cpu(mem);
    cpu.set_reg(Reg::Esp, 0x8000);
    cpu.set_eip(0x1000);
    cpu
}

#[test]
fn a_loop_sums_and_stops_at_int() {
    // mov ecx, 10; xor eax, eax; l: add eax, ecx; dec ecx; jnz l; int 0x80
    let code = [0xB9, 10, 0, 0, 0, 0x31, 0xC0, 0x01, 0xC8, 0x49, 0x75, 0xFB, 0xCD, 0x80];
    let mut cpu = flat_cpu(&code);
    let exit = cpu.run(1000);
    assert_eq!(exit, Exit::SoftInt { vector: 0x80, len: 2 });
    assert_eq!(cpu.reg(Reg::Eax), 55);
    assert_eq!(cpu.eip(), 0x1000 + code.len() as u32);
}

#[test]
fn push_call_ret() {
    // call f; int 0x80; f: push 7; pop eax; ret
    let code = [0xE8, 2, 0, 0, 0, 0xCD, 0x80, 0x6A, 7, 0x58, 0xC3];
    let mut cpu = flat_cpu(&code);
    assert_eq!(cpu.run(100), Exit::SoftInt { vector: 0x80, len: 2 });
    assert_eq!(cpu.reg(Reg::Eax), 7);
    assert_eq!(cpu.reg(Reg::Esp), 0x8000);
}
