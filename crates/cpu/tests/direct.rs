//! Direct traps (`src/direct.rs`): `int n` through a gate the Host handed the CPU is
//! delivered without an exit, with the frame the Host would push; everything else still
//! exits: a DPL violation, a vector the Host must see, a frame the page tables do not let
//! the supervisor write, an outer-ring `int` with no stack, and every exception.

mod support;

use cpu::{
    Cpu, Descriptor, DirectGate, DirectTraps, Exception, Exit, PhysMem, Reg, SegReg, Vcpu, eflags, pte,
};

const RAM: u32 = 1 << 20;
const CODE: u32 = 0x1000;
const HANDLER: u32 = 0x2000;
const USER_STACK: u32 = 0x9000;
const KERNEL_STACK: u32 = 0x8000;
/// Where the paravirtual interrupt flag lives.
const IRQ_ENABLED: u32 = 0x3000;
/// Page tables (when paging is on).
const TABLES: u32 = 0x40000;

const K_CODE: u16 = 1 << 3 | 1;
const K_DATA: u16 = 2 << 3 | 1;
const U_CODE: u16 = 3 << 3 | 3;
const U_DATA: u16 = 4 << 3 | 3;

fn segment(cpu: &Cpu, sel: u16) -> cpu::Segment {
    cpu::Segment::from_descriptor(sel, cpu.gdt_entry((sel >> 3) as usize).unwrap())
}

/// A CPU at `cpl` (1 or 3) about to run `code`, with direct traps configured as an lguest
/// Host would: ring-1 handlers, the kernel stack at KERNEL_STACK, IF in IRQ_ENABLED.
fn machine(cpl: u8, code: &[u8]) -> Cpu {
    let mut cpu = support::new_cpu(PhysMem::new(RAM));
    let flat = |access| Descriptor::new(0, 0xFFFFF, access, 0xC);
    cpu.set_gdt_entry(1, flat(0xBA));
    cpu.set_gdt_entry(2, flat(0xB2));
    cpu.set_gdt_entry(3, flat(0xFA));
    cpu.set_gdt_entry(4, flat(0xF2));
    let (cs, ds, esp) = if cpl == 3 { (U_CODE, U_DATA, USER_STACK) } else { (K_CODE, K_DATA, KERNEL_STACK) };
    cpu.load_segment(SegReg::Cs, cs).unwrap();
    for s in [SegReg::Ds, SegReg::Es, SegReg::Ss, SegReg::Fs, SegReg::Gs] {
        cpu.load_segment(s, ds).unwrap();
    }
    cpu.mem_mut().write(CODE, code).unwrap();
    cpu.mem_mut().write_u32(IRQ_ENABLED, eflags::IF).unwrap();
    cpu.set_reg(Reg::Esp, esp);
    cpu.set_eip(CODE);
    // Arithmetic flags set, IF clear in the CPU's own EFLAGS (the Guest's lives in RAM).
    cpu.set_eflags(eflags::FIXED | eflags::CF | eflags::ZF);
    let traps = DirectTraps {
        cs: segment(&cpu, K_CODE),
        stack: Some((segment(&cpu, K_DATA), KERNEL_STACK)),
        virtual_if: Some(IRQ_ENABLED),
    };
    cpu.set_direct_traps(Some(traps));
    cpu.set_direct_gate(0x80, Some(DirectGate { offset: HANDLER, dpl: 3 }));
    cpu.set_direct_gate(3, Some(DirectGate { offset: HANDLER, dpl: 1 }));
    // The handler: hlt would #GP at CPL 1, so end with int $0x42 (no gate: exits).
    cpu.mem_mut().write(HANDLER, &[0xCD, 0x42]).unwrap();
    cpu
}

fn word(cpu: &Cpu, at: u32) -> u32 {
    cpu.mem().read_u32(at).unwrap()
}

const HANDLER_EXIT: Exit = Exit::SoftInt { vector: 0x42, len: 2 };

#[test]
fn int_0x80_from_user_mode_runs_the_handler_on_the_kernel_stack_with_the_hosts_frame() {
    let mut cpu = machine(3, &[0xCD, 0x80]);
    assert_eq!(cpu.run(100), HANDLER_EXIT);
    assert_eq!(cpu.eip(), HANDLER + 2);
    assert_eq!(cpu.cpl(), 1);
    assert_eq!(cpu.segment(SegReg::Cs).selector, K_CODE);
    assert_eq!(cpu.segment(SegReg::Ss).selector, K_DATA);
    assert_eq!(cpu.reg(Reg::Esp), KERNEL_STACK - 20);
    let pushed_flags = eflags::FIXED | eflags::CF | eflags::ZF | eflags::IF;
    let frame: Vec<u32> = (0..5).map(|i| word(&cpu, KERNEL_STACK - 20 + 4 * i)).collect();
    assert_eq!(frame, [CODE + 2, U_CODE as u32, pushed_flags, USER_STACK, U_DATA as u32]);
    // Data segments are left to the handler, as the Host leaves them.
    assert_eq!(cpu.segment(SegReg::Ds).selector, U_DATA);
    assert_eq!(cpu.eflags() & (eflags::CF | eflags::ZF | eflags::IF), eflags::CF | eflags::ZF);
    assert_eq!(cpu.retired(), 2);
}

#[test]
fn int3_from_the_kernel_pushes_three_words_on_the_current_stack() {
    let mut cpu = machine(1, &[0xCC]);
    cpu.mem_mut().write_u32(IRQ_ENABLED, 0).unwrap();
    assert_eq!(cpu.run(100), HANDLER_EXIT);
    assert_eq!(cpu.reg(Reg::Esp), KERNEL_STACK - 12);
    let frame: Vec<u32> = (0..3).map(|i| word(&cpu, KERNEL_STACK - 12 + 4 * i)).collect();
    // IF comes from the paravirtual flag, which is clear.
    assert_eq!(frame, [CODE + 1, K_CODE as u32, eflags::FIXED | eflags::CF | eflags::ZF]);
}

#[test]
fn trap_flag_and_friends_are_cleared_on_entry() {
    let mut cpu = machine(3, &[0xCD, 0x80]);
    cpu.set_eflags(eflags::FIXED | eflags::TF | eflags::NT | eflags::RF);
    assert_eq!(cpu.run(1), Exit::BudgetExhausted);
    assert_eq!(cpu.eip(), HANDLER);
    assert_eq!(cpu.eflags() & (eflags::TF | eflags::NT | eflags::RF), 0);
    let flags = word(&cpu, KERNEL_STACK - 12);
    assert_eq!(flags & (eflags::TF | eflags::NT | eflags::RF), eflags::TF | eflags::NT | eflags::RF);
}

#[test]
fn int_to_a_gate_of_higher_privilege_exits_for_the_host_to_raise_gp() {
    let mut cpu = machine(3, &[0xCC]);
    assert_eq!(cpu.run(100), Exit::SoftInt { vector: 3, len: 1 });
    assert_eq!((cpu.cpl(), cpu.eip(), cpu.reg(Reg::Esp)), (3, CODE + 1, USER_STACK));
}

#[test]
fn int_to_a_vector_without_a_direct_gate_exits() {
    let mut cpu = machine(3, &[0xCD, 0x81]);
    assert_eq!(cpu.run(100), Exit::SoftInt { vector: 0x81, len: 2 });
}

#[test]
fn vectors_the_host_must_see_cannot_be_made_direct() {
    for v in [7u8, 13, 14, 0x1F, 0x20, 0x40] {
        let mut cpu = machine(1, &[0xCD, v]);
        cpu.set_direct_gate(v, Some(DirectGate { offset: HANDLER, dpl: 3 }));
        assert_eq!(cpu.run(100), Exit::SoftInt { vector: v, len: 2 }, "vector {v:#x}");
    }
}

#[test]
fn a_gate_taken_away_exits_again() {
    let mut cpu = machine(3, &[0xCD, 0x80]);
    cpu.set_direct_gate(0x80, None);
    assert_eq!(cpu.run(100), Exit::SoftInt { vector: 0x80, len: 2 });
    let mut cpu = machine(3, &[0xCD, 0x80]);
    cpu.set_direct_traps(None);
    assert_eq!(cpu.run(100), Exit::SoftInt { vector: 0x80, len: 2 });
}

#[test]
fn int_from_user_mode_without_a_kernel_stack_exits() {
    let mut cpu = machine(3, &[0xCD, 0x80]);
    let traps = DirectTraps { cs: segment(&cpu, K_CODE), stack: None, virtual_if: Some(IRQ_ENABLED) };
    cpu.set_direct_traps(Some(traps));
    assert_eq!(cpu.run(100), Exit::SoftInt { vector: 0x80, len: 2 });
}

#[test]
fn without_a_paravirtual_flag_the_pushed_if_is_clear() {
    let mut cpu = machine(3, &[0xCD, 0x80]);
    let traps = DirectTraps {
        cs: segment(&cpu, K_CODE),
        stack: Some((segment(&cpu, K_DATA), KERNEL_STACK)),
        virtual_if: None,
    };
    cpu.set_direct_traps(Some(traps));
    cpu.run(100);
    assert_eq!(word(&cpu, KERNEL_STACK - 12) & eflags::IF, 0);
}

#[test]
fn a_kernel_stack_the_page_tables_do_not_map_leaves_the_int_to_the_host_untouched() {
    let mut cpu = machine(3, &[0xCD, 0x80]);
    support::identity_paging(&mut cpu, TABLES, RAM);
    // Unmap the kernel stack's page (the one below KERNEL_STACK).
    let pte_at = TABLES + 4096 + 4 * ((KERNEL_STACK - 4) >> 12);
    cpu.mem_mut().write_u32(pte_at, 0).unwrap();
    cpu.flush_tlb();
    cpu.set_cr2(0x1234);
    assert_eq!(cpu.run(100), Exit::SoftInt { vector: 0x80, len: 2 });
    assert_eq!((cpu.cpl(), cpu.eip(), cpu.reg(Reg::Esp)), (3, CODE + 2, USER_STACK));
    assert_eq!(cpu.cr2(), 0x1234, "CR2 is not the CPU's to touch here");
}

#[test]
fn a_kernel_stack_only_the_user_may_not_write_is_still_used() {
    // Supervisor writes to a read-only page are allowed without CR0.WP; the frame is
    // pushed as the supervisor, whatever the interrupted privilege.
    let mut cpu = machine(3, &[0xCD, 0x80]);
    support::identity_paging(&mut cpu, TABLES, RAM);
    let pte_at = TABLES + 4096 + 4 * ((KERNEL_STACK - 4) >> 12);
    cpu.mem_mut().write_u32(pte_at, (KERNEL_STACK - 4) & !0xFFF | pte::P | pte::RW).unwrap();
    cpu.flush_tlb();
    assert_eq!(cpu.run(100), HANDLER_EXIT);
    assert_eq!(word(&cpu, KERNEL_STACK - 4), U_DATA as u32);
}

#[test]
fn exceptions_are_never_delivered_directly() {
    // ud2, with a direct gate for #UD: the Host still sees the fault.
    let mut cpu = machine(1, &[0x0F, 0x0B]);
    cpu.set_direct_gate(6, Some(DirectGate { offset: HANDLER, dpl: 3 }));
    assert_eq!(cpu.run(100), Exit::Exception(Exception { vector: 6, error_code: None }));
    assert_eq!(cpu.eip(), CODE);
}

#[test]
fn into_with_overflow_goes_through_the_direct_gate_for_vector_4() {
    // mov al, 0x7f; add al, 1 (OF); into
    let mut cpu = machine(1, &[0xB0, 0x7F, 0x04, 0x01, 0xCE]);
    cpu.set_direct_gate(4, Some(DirectGate { offset: HANDLER, dpl: 1 }));
    assert_eq!(cpu.run(100), HANDLER_EXIT);
    assert_eq!(word(&cpu, KERNEL_STACK - 12), CODE + 5);
}
