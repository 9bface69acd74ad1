//! Protected-mode behaviour a ring-3 Linux process cannot show, so the differential tests
//! cannot check it: privilege rules, inter-ring transfers, segment checks and their error
//! codes, paging faults and the TLB, self-modifying code, and how `run` reports events
//! (faults with EIP at the instruction, traps with EIP past it, the budget).
//!
//! Each test builds a small machine (4 MiB of RAM, a GDT with one of everything), puts a
//! few assembled instructions at 0x1000 and checks the exit and the state.

mod support;

use cpu::{Cpu, Descriptor, Exception, Exit, PhysMem, Reg, SegReg, Vcpu, cr, eflags, pf, pte, vector};
use iced_x86::IcedError;
use iced_x86::code_asm::*;

const RAM: u32 = 4 << 20;
const CODE: u32 = 0x1000;
const STACK: u32 = 0x8000;

// GDT indices.
const K_CODE: u16 = 1;
const K_DATA: u16 = 2;
const R1_CODE: u16 = 3;
const R1_DATA: u16 = 4;
const U_CODE: u16 = 5;
const U_DATA: u16 = 6;
const U_DATA_NOT_PRESENT: u16 = 7;
const U_CODE_NOT_PRESENT: u16 = 8;
/// Expand-down, limit 0x5FFF, big: valid offsets 0x6000..=0xFFFF_FFFF.
const U_EXPAND_DOWN: u16 = 9;
/// Byte-granular limit 0x1FFF.
const U_LIMITED: u16 = 10;
const U_READ_ONLY: u16 = 11;
const U_EXEC_ONLY: u16 = 12;
const K_CONFORMING: u16 = 13;
/// Base 0x10000, limit 0xFFFF.
const U_BASED: u16 = 14;
/// 16-bit code, DPL 0, limit 0xFFFF.
const K_CODE16: u16 = 15;
/// Code with limit 0x1FFF.
const U_CODE_LIMITED: u16 = 16;
const R1_CODE_16BIT_STACK: u16 = 17;

const fn sel(index: u16, rpl: u16) -> u16 {
    index << 3 | rpl
}

fn gdt() -> Vec<(u16, Descriptor)> {
    let flat = |access| Descriptor::new(0, 0xFFFFF, access, 0xC);
    vec![
        (K_CODE, flat(0x9A)),
        (K_DATA, flat(0x92)),
        (R1_CODE, flat(0xBA)),
        (R1_DATA, flat(0xB2)),
        (U_CODE, flat(0xFA)),
        (U_DATA, flat(0xF2)),
        (U_DATA_NOT_PRESENT, flat(0x72)),
        (U_CODE_NOT_PRESENT, flat(0x7A)),
        (U_EXPAND_DOWN, Descriptor::new(0, 0x5FFF, 0xF6, 0x4)),
        (U_LIMITED, Descriptor::new(0, 0x1FFF, 0xF2, 0x4)),
        (U_READ_ONLY, flat(0xF0)),
        (U_EXEC_ONLY, flat(0xF8)),
        (K_CONFORMING, flat(0x9E)),
        (U_BASED, Descriptor::new(0x1_0000, 0xFFFF, 0xF2, 0x4)),
        (K_CODE16, Descriptor::new(0, 0xFFFF, 0x9A, 0x0)),
        (U_CODE_LIMITED, Descriptor::new(0, 0x1FFF, 0xFA, 0x4)),
        (R1_CODE_16BIT_STACK, Descriptor::new(0, 0xFFFF, 0xB2, 0x0)),
    ]
}

/// A machine at privilege `cpl` (0, 1 or 3) with flat segments of that ring, ESP at
/// 0x8000, EIP at 0x1000, EFLAGS = 2 (IF clear, IOPL 0), paging off.
fn machine(cpl: u16) -> Cpu {
    let mut cpu = support::new_cpu(PhysMem::new(RAM));
    for (i, d) in gdt() {
        cpu.set_gdt_entry(i as usize, d);
    }
    let (code, data) = match cpl {
        0 => (K_CODE, K_DATA),
        1 => (R1_CODE, R1_DATA),
        _ => (U_CODE, U_DATA),
    };
    cpu.load_segment(SegReg::Cs, sel(code, cpl)).unwrap();
    for s in [SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
        cpu.load_segment(s, sel(data, cpl)).unwrap();
    }
    cpu.set_reg(Reg::Esp, STACK);
    cpu.set_eip(CODE);
    cpu.set_eflags(0x2);
    cpu
}

fn asm_at(ip: u32, f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(32).unwrap();
    f(&mut a).unwrap();
    a.assemble(ip as u64).unwrap()
}

/// Assemble at 0x1000 (followed by `int 0x80`, which ends the test program), load, and
/// point EIP there.
fn program(cpu: &mut Cpu, f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let code = asm_at(CODE, |a| {
        f(a)?;
        a.int(0x80)
    });
    cpu.mem_mut().write(CODE, &code).unwrap();
    cpu.set_eip(CODE);
    code
}

fn raw(cpu: &mut Cpu, bytes: &[u8]) {
    let mut code = bytes.to_vec();
    code.extend_from_slice(&[0xCD, 0x80]);
    cpu.mem_mut().write(CODE, &code).unwrap();
    cpu.set_eip(CODE);
}

fn exc(v: u8, code: u32) -> Exit {
    Exit::Exception(Exception { vector: v, error_code: Some(code) })
}

fn exc_no_code(v: u8) -> Exit {
    Exit::Exception(Exception { vector: v, error_code: None })
}

const DONE: Exit = Exit::SoftInt { vector: 0x80, len: 2 };

fn gp(code: u32) -> Exit {
    exc(vector::GP, code)
}

// ---------------------------------------------------------------------------------------
// Privilege.

#[test]
fn privileged_instructions_raise_gp0_outside_ring_0() {
    let cases: [(&str, &[u8]); 14] = [
        ("cli", &[0xFA]),
        ("sti", &[0xFB]),
        ("hlt", &[0xF4]),
        ("mov cr0, eax", &[0x0F, 0x22, 0xC0]),
        ("mov eax, cr3", &[0x0F, 0x20, 0xD8]),
        ("mov dr7, eax", &[0x0F, 0x23, 0xF8]),
        ("lgdt [eax]", &[0x0F, 0x01, 0x10]),
        ("lidt [eax]", &[0x0F, 0x01, 0x18]),
        ("in al, dx", &[0xEC]),
        ("out 0x80, al", &[0xE6, 0x80]),
        ("rep insb", &[0xF3, 0x6C]),
        ("invlpg [eax]", &[0x0F, 0x01, 0x38]),
        ("clts", &[0x0F, 0x06]),
        ("wbinvd", &[0x0F, 0x09]),
    ];
    for cpl in [1, 3] {
        for (name, bytes) in cases {
            let mut cpu = machine(cpl);
            raw(&mut cpu, bytes);
            assert_eq!(cpu.run(10), gp(0), "{name} at CPL {cpl}");
            assert_eq!(cpu.eip(), CODE, "{name} at CPL {cpl}: EIP stays at the instruction");
        }
    }
}

#[test]
fn cli_and_sti_and_port_io_are_allowed_when_cpl_is_at_most_iopl() {
    for (cpl, iopl) in [(1u16, 1u32), (3, 3), (1, 3)] {
        let mut cpu = machine(cpl);
        cpu.set_eflags(0x2 | eflags::IF | iopl << eflags::IOPL_SHIFT);
        program(&mut cpu, |a| {
            a.cli()?;
            a.mov(ebx, 1)?;
            a.in_(al, dx)?;
            a.out(dx, al)
        });
        assert_eq!(cpu.run(10), DONE, "CPL {cpl} IOPL {iopl}");
        assert_eq!(cpu.eflags() & eflags::IF, 0);
        assert_eq!(cpu.reg(Reg::Eax) & 0xFF, 0xFF, "IN reads all ones: there are no devices");
    }
}

#[test]
fn popf_outside_ring_0_cannot_change_iopl_and_above_iopl_cannot_change_if() {
    let mut cpu = machine(3);
    cpu.set_eflags(0x2 | eflags::IF);
    program(&mut cpu, |a| {
        a.push(0x3000 | 0x8D5u32 as i32)?; // IOPL 3, IF 0, some arithmetic flags
        a.popfd()
    });
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.eflags() & (eflags::IOPL | eflags::IF), eflags::IF);
    assert_eq!(cpu.eflags() & eflags::ARITH, 0x8D5);
}

#[test]
fn popf_at_ring_0_changes_iopl_and_if() {
    let mut cpu = machine(0);
    program(&mut cpu, |a| {
        a.push(0x3202)?;
        a.popfd()
    });
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.eflags(), 0x3202);
}

// ---------------------------------------------------------------------------------------
// Inter-ring transfers.

#[test]
fn iret_to_the_same_ring_pops_eip_cs_and_eflags() {
    let mut cpu = machine(0);
    let target = 0x3000;
    program(&mut cpu, |a| {
        a.push(0x8C3)?; // OF SF CF and bit 1
        a.push(sel(K_CODE, 0) as i32)?;
        a.push(target)?;
        a.iretd()
    });
    cpu.mem_mut().write(target as u32, &[0xCD, 0x80]).unwrap();
    assert_eq!(cpu.run(20), DONE);
    assert_eq!(cpu.eip(), target as u32 + 2);
    assert_eq!(cpu.reg(Reg::Esp), STACK);
    assert_eq!(cpu.eflags(), 0x8C3);
    assert_eq!(cpu.cpl(), 0);
}

/// Push an IRET frame for a return to ring 3 at `eip` with the user stack at `esp`.
fn push_iret_to_user(a: &mut CodeAssembler, eip: u32, stack: u32, flags: u32) -> Result<(), IcedError> {
    a.push(sel(U_DATA, 3) as i32)?;
    a.push(stack as i32)?;
    a.push(flags as i32)?;
    a.push(sel(U_CODE, 3) as i32)?;
    a.push(eip as i32)
}

#[test]
fn iret_to_an_outer_ring_reloads_ss_esp_and_nulls_more_privileged_data_segments() {
    let mut cpu = machine(0);
    cpu.load_segment(SegReg::Fs, sel(U_DATA, 3)).unwrap();
    let user = 0x3000;
    program(&mut cpu, |a| {
        push_iret_to_user(a, user, 0x7000, 0x2 | eflags::IF | 0x1)?;
        a.iretd()
    });
    cpu.mem_mut().write(user, &[0xCD, 0x80]).unwrap();
    assert_eq!(cpu.run(20), DONE);
    assert_eq!(cpu.eip(), user + 2);
    assert_eq!(cpu.cpl(), 3);
    assert_eq!(cpu.segment(SegReg::Cs).selector, sel(U_CODE, 3));
    assert_eq!(cpu.segment(SegReg::Ss).selector, sel(U_DATA, 3));
    assert_eq!(cpu.reg(Reg::Esp), 0x7000);
    assert_eq!(cpu.eflags() & (eflags::IF | eflags::CF), eflags::IF | eflags::CF);
    // DS, ES and GS held ring-0 data: unusable at ring 3, so nulled. FS was ring 3's.
    for s in [SegReg::Ds, SegReg::Es, SegReg::Gs] {
        assert_eq!(cpu.segment(s).selector, 0, "{s:?}");
        assert!(cpu.segment(s).is_null(), "{s:?}");
    }
    assert_eq!(cpu.segment(SegReg::Fs).selector, sel(U_DATA, 3));
}

#[test]
fn iret_from_ring_3_cannot_raise_privilege() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| {
        a.push(0x2)?;
        a.push(sel(K_CODE, 0) as i32)?;
        a.push(0x2000)?;
        a.iretd()
    });
    assert_eq!(cpu.run(20), gp(sel(K_CODE, 0) as u32));
    assert_eq!(cpu.cpl(), 3);
}

#[test]
fn iret_from_ring_1_keeps_iopl_and_keeps_if_when_cpl_is_above_iopl() {
    let mut cpu = machine(1);
    cpu.set_eflags(0x2 | eflags::IF);
    let user = 0x3000;
    program(&mut cpu, |a| push_iret_to_user(a, user, 0x7000, 0x3002).and_then(|_| a.iretd()));
    cpu.mem_mut().write(user, &[0xCD, 0x80]).unwrap();
    assert_eq!(cpu.run(20), DONE);
    assert_eq!(cpu.cpl(), 3);
    assert_eq!(cpu.eflags() & (eflags::IOPL | eflags::IF), eflags::IF);
}

#[test]
fn retf_to_an_outer_ring_reloads_ss_esp_and_releases_parameters() {
    let mut cpu = machine(0);
    let user = 0x3000;
    program(&mut cpu, |a| {
        a.push(sel(U_DATA, 3) as i32)?;
        a.push(0x7000)?;
        a.push(0x1111)?; // a parameter on the inner stack
        a.push(sel(U_CODE, 3) as i32)?;
        a.push(user as i32)?;
        a.retf_1(4)
    });
    cpu.mem_mut().write(user, &[0xCD, 0x80]).unwrap();
    assert_eq!(cpu.run(20), DONE);
    assert_eq!(cpu.cpl(), 3);
    assert_eq!(cpu.eip(), user + 2);
    // RETF imm16 releases the parameters on the outer stack too.
    assert_eq!(cpu.reg(Reg::Esp), 0x7004);
    assert_eq!(cpu.segment(SegReg::Ss).selector, sel(U_DATA, 3));
    assert!(cpu.segment(SegReg::Ds).is_null());
}

#[test]
fn retf_to_an_outer_ring_with_a_wrong_stack_selector_raises_gp_and_changes_nothing() {
    let mut cpu = machine(0);
    let code = program(&mut cpu, |a| {
        a.push(sel(R1_DATA, 1) as i32)?; // ring-1 stack for a ring-3 return
        a.push(0x7000)?;
        a.push(sel(U_CODE, 3) as i32)?;
        a.push(0x3000)?;
        a.retf()
    });
    assert_eq!(cpu.run(20), gp(sel(R1_DATA, 0) as u32));
    assert_eq!(cpu.cpl(), 0);
    assert_eq!(cpu.reg(Reg::Esp), STACK - 16);
    assert_eq!(cpu.eip(), CODE + code.len() as u32 - 3, "EIP at the RETF");
}

#[test]
fn far_jmp_to_another_rings_code_raises_gp_with_the_selector() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| a.jmp_far(sel(K_CODE, 0), 0x2000));
    assert_eq!(cpu.run(10), gp(sel(K_CODE, 0) as u32));
    assert_eq!(cpu.eip(), CODE);
}

#[test]
fn far_jmp_to_a_not_present_code_segment_raises_np_with_the_selector() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| a.jmp_far(sel(U_CODE_NOT_PRESENT, 3), 0x2000));
    assert_eq!(cpu.run(10), exc(vector::NP, sel(U_CODE_NOT_PRESENT, 0) as u32));
}

#[test]
fn far_call_through_a_null_selector_raises_gp0() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| a.call_far(0, 0x2000));
    assert_eq!(cpu.run(10), gp(0));
    assert_eq!(cpu.reg(Reg::Esp), STACK, "nothing pushed");
}

#[test]
fn far_jmp_to_a_data_segment_raises_gp_with_the_selector() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| a.jmp_far(sel(U_DATA, 3), 0x2000));
    assert_eq!(cpu.run(10), gp(sel(U_DATA, 0) as u32));
}

#[test]
fn far_call_pushes_cs_and_eip_and_lands_with_rpl_set_to_cpl() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| a.call_far(sel(U_CODE, 0), 0x2000));
    cpu.mem_mut().write(0x2000, &[0xCD, 0x80]).unwrap();
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.segment(SegReg::Cs).selector, sel(U_CODE, 3));
    assert_eq!(cpu.reg(Reg::Esp), STACK - 8);
    assert_eq!(cpu.mem().read_u32(STACK - 4).unwrap(), sel(U_CODE, 3) as u32);
    assert_eq!(cpu.mem().read_u32(STACK - 8).unwrap(), CODE + 7);
}

#[test]
fn far_jmp_to_more_privileged_conforming_code_keeps_cpl() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| a.jmp_far(sel(K_CONFORMING, 3), 0x2000));
    cpu.mem_mut().write(0x2000, &[0xCD, 0x80]).unwrap();
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.cpl(), 3);
    assert_eq!(cpu.segment(SegReg::Cs).selector, sel(K_CONFORMING, 3));
}

#[test]
fn far_jmp_past_the_target_segments_limit_raises_gp0() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| a.jmp_far(sel(U_CODE_LIMITED, 3), 0x2000));
    assert_eq!(cpu.run(10), gp(0));
    assert_eq!(cpu.segment(SegReg::Cs).selector, sel(U_CODE, 3));
}

// ---------------------------------------------------------------------------------------
// Segment loads.

fn load_ds(cpl: u16, selector: u16) -> (Cpu, Exit) {
    let mut cpu = machine(cpl);
    program(&mut cpu, |a| {
        a.mov(eax, selector as u32)?;
        a.mov(ds, ax)
    });
    let exit = cpu.run(10);
    (cpu, exit)
}

fn load_ss(cpl: u16, selector: u16) -> (Cpu, Exit) {
    let mut cpu = machine(cpl);
    program(&mut cpu, |a| {
        a.mov(eax, selector as u32)?;
        a.mov(ss, ax)
    });
    let exit = cpu.run(10);
    (cpu, exit)
}

#[test]
fn loading_ss_with_a_null_selector_raises_gp0() {
    let (cpu, exit) = load_ss(0, 0);
    assert_eq!(exit, gp(0));
    assert_eq!(cpu.eip(), CODE + 5);
}

#[test]
fn a_null_ds_loads_but_an_access_through_it_raises_gp0() {
    let mut cpu = machine(3);
    let code = program(&mut cpu, |a| {
        a.xor(eax, eax)?;
        a.mov(ds, ax)?;
        a.mov(ebx, dword_ptr(0x2000))
    });
    assert_eq!(cpu.run(10), gp(0));
    assert_eq!(cpu.eip(), CODE + code.len() as u32 - 2 - 6, "EIP at the load through DS");
    assert!(cpu.segment(SegReg::Ds).is_null());
}

#[test]
fn loading_a_data_segment_more_privileged_than_cpl_raises_gp_with_the_selector() {
    assert_eq!(load_ds(3, sel(K_DATA, 3)).1, gp(sel(K_DATA, 0) as u32));
    assert_eq!(load_ds(1, sel(K_DATA, 1)).1, gp(sel(K_DATA, 0) as u32));
}

#[test]
fn loading_a_data_segment_with_rpl_above_its_dpl_raises_gp() {
    assert_eq!(load_ds(0, sel(K_DATA, 3)).1, gp(sel(K_DATA, 0) as u32));
    assert_eq!(load_ds(0, sel(K_DATA, 0)).1, DONE);
    assert_eq!(load_ds(0, sel(U_DATA, 0)).1, DONE, "less privileged data is fine");
}

#[test]
fn loading_ss_with_a_dpl_or_rpl_other_than_cpl_raises_gp() {
    assert_eq!(load_ss(0, sel(U_DATA, 3)).1, gp(sel(U_DATA, 0) as u32));
    assert_eq!(load_ss(3, sel(U_DATA, 0)).1, gp(sel(U_DATA, 0) as u32));
    assert_eq!(load_ss(3, sel(U_DATA, 3)).1, DONE);
}

#[test]
fn loading_ss_with_a_read_only_or_code_segment_raises_gp() {
    assert_eq!(load_ss(3, sel(U_READ_ONLY, 3)).1, gp(sel(U_READ_ONLY, 0) as u32));
    assert_eq!(load_ss(3, sel(U_CODE, 3)).1, gp(sel(U_CODE, 0) as u32));
}

#[test]
fn loading_ds_with_execute_only_code_raises_gp_but_readable_code_loads() {
    assert_eq!(load_ds(3, sel(U_EXEC_ONLY, 3)).1, gp(sel(U_EXEC_ONLY, 0) as u32));
    assert_eq!(load_ds(3, sel(U_CODE, 3)).1, DONE);
}

#[test]
fn loading_a_not_present_data_segment_raises_np_with_the_selector() {
    assert_eq!(load_ds(3, sel(U_DATA_NOT_PRESENT, 3)).1, exc(vector::NP, sel(U_DATA_NOT_PRESENT, 0) as u32));
}

#[test]
fn loading_ss_with_a_not_present_segment_raises_ss_with_the_selector() {
    assert_eq!(load_ss(3, sel(U_DATA_NOT_PRESENT, 3)).1, exc(vector::SS, sel(U_DATA_NOT_PRESENT, 0) as u32));
}

#[test]
fn an_ldt_selector_raises_gp_with_the_selector() {
    // TI set: this CPU has no LDT, as if the LDT were empty.
    assert_eq!(load_ds(3, sel(U_DATA, 3) | 4).1, gp((sel(U_DATA, 0) | 4) as u32));
}

#[test]
fn a_selector_beyond_the_gdt_raises_gp_with_the_selector() {
    assert_eq!(load_ds(3, sel(100, 3)).1, gp(sel(100, 0) as u32));
}

#[test]
fn a_failed_pop_into_a_segment_register_leaves_esp_alone() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| {
        a.push(sel(K_DATA, 0) as i32)?;
        a.pop(ds)
    });
    assert_eq!(cpu.run(10), gp(sel(K_DATA, 0) as u32));
    assert_eq!(cpu.reg(Reg::Esp), STACK - 4);
}

#[test]
fn a_segment_load_sets_the_descriptors_accessed_bit() {
    let mut cpu = machine(3);
    assert_eq!(cpu.gdt_entry(U_LIMITED as usize).unwrap().access() & 1, 0);
    program(&mut cpu, |a| {
        a.mov(eax, sel(U_LIMITED, 3) as u32)?;
        a.mov(es, ax)
    });
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.gdt_entry(U_LIMITED as usize).unwrap().access() & 1, 1);
}

// ---------------------------------------------------------------------------------------
// Segment limits and types.

fn with_ds(
    cpl: u16,
    ds_index: u16,
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> (Cpu, Exit) {
    let mut cpu = machine(cpl);
    cpu.load_segment(SegReg::Ds, sel(ds_index, cpl)).unwrap();
    program(&mut cpu, f);
    let exit = cpu.run(10);
    (cpu, exit)
}

#[test]
fn an_access_past_the_data_segment_limit_raises_gp0() {
    assert_eq!(with_ds(3, U_LIMITED, |a| a.mov(eax, dword_ptr(0x1FFC))).1, DONE);
    assert_eq!(with_ds(3, U_LIMITED, |a| a.mov(eax, dword_ptr(0x1FFD))).1, gp(0));
    assert_eq!(with_ds(3, U_LIMITED, |a| a.mov(byte_ptr(0x2000), 1)).1, gp(0));
}

#[test]
fn expand_down_segments_allow_offsets_above_the_limit_and_fault_below() {
    assert_eq!(with_ds(3, U_EXPAND_DOWN, |a| a.mov(eax, dword_ptr(0x6000))).1, DONE);
    assert_eq!(with_ds(3, U_EXPAND_DOWN, |a| a.mov(eax, dword_ptr(0x5FFE))).1, gp(0));
    // The top of the 4 GiB range is inside (RAM is not: that is a separate matter).
    let (_, exit) = with_ds(3, U_EXPAND_DOWN, |a| {
        a.mov(ebx, 0xFFFF_FFFCu32)?;
        a.mov(eax, dword_ptr(ebx))
    });
    assert_eq!(exit, Exit::BadPhysical { addr: 0xFFFF_FFFC });
}

#[test]
fn writing_through_a_read_only_segment_raises_gp0_but_reading_works() {
    assert_eq!(with_ds(3, U_READ_ONLY, |a| a.mov(eax, dword_ptr(0x2000))).1, DONE);
    let (cpu, exit) = with_ds(3, U_READ_ONLY, |a| a.add(dword_ptr(0x2000), 1));
    assert_eq!(exit, gp(0));
    assert_eq!(cpu.mem().read_u32(0x2000).unwrap(), 0);
}

#[test]
fn a_segment_base_is_added_to_every_offset() {
    let (cpu, exit) = with_ds(3, U_BASED, |a| a.mov(dword_ptr(0x20), 0x1234_5678));
    assert_eq!(exit, DONE);
    assert_eq!(cpu.mem().read_u32(0x1_0020).unwrap(), 0x1234_5678);
}

#[test]
fn a_push_below_an_expand_down_stack_raises_ss0_and_leaves_esp() {
    let mut cpu = machine(3);
    cpu.load_segment(SegReg::Ss, sel(U_EXPAND_DOWN, 3)).unwrap();
    cpu.set_reg(Reg::Esp, 0x6004);
    program(&mut cpu, |a| {
        a.push(eax)?;
        a.push(eax)
    });
    assert_eq!(cpu.run(10), exc(vector::SS, 0));
    assert_eq!(cpu.reg(Reg::Esp), 0x6000);
    assert_eq!(cpu.eip(), CODE + 1);
}

#[test]
fn a_pop_past_the_stack_segment_limit_raises_ss0() {
    let mut cpu = machine(3);
    cpu.load_segment(SegReg::Ss, sel(U_LIMITED, 3)).unwrap();
    cpu.set_reg(Reg::Esp, 0x1FFE);
    program(&mut cpu, |a| a.pop(eax));
    assert_eq!(cpu.run(10), exc(vector::SS, 0));
    assert_eq!(cpu.reg(Reg::Esp), 0x1FFE);
}

#[test]
fn an_ss_relative_memory_operand_past_the_limit_raises_ss0() {
    let mut cpu = machine(3);
    cpu.load_segment(SegReg::Ss, sel(U_LIMITED, 3)).unwrap();
    cpu.set_reg(Reg::Ebp, 0x1FF0);
    program(&mut cpu, |a| a.mov(eax, dword_ptr(ebp + 0x20)));
    assert_eq!(cpu.run(10), exc(vector::SS, 0));
}

#[test]
fn running_past_the_code_segment_limit_raises_gp0() {
    let mut cpu = machine(3);
    cpu.load_segment(SegReg::Cs, sel(U_CODE_LIMITED, 3)).unwrap();
    // Five NOPs ending exactly at the limit, then nothing executable.
    cpu.mem_mut().fill(0x1FFB, 5, 0x90).unwrap();
    cpu.set_eip(0x1FFB);
    assert_eq!(cpu.run(10), gp(0));
    assert_eq!(cpu.eip(), 0x2000);
    assert_eq!(cpu.retired(), 5);
}

#[test]
fn a_jump_past_the_code_segment_limit_raises_gp0_at_the_jump() {
    let mut cpu = machine(3);
    cpu.load_segment(SegReg::Cs, sel(U_CODE_LIMITED, 3)).unwrap();
    program(&mut cpu, |a| a.jmp(0x3000u64));
    assert_eq!(cpu.run(10), gp(0));
    assert_eq!(cpu.eip(), CODE);
}

#[test]
fn a_16_bit_stack_wraps_sp_and_keeps_the_upper_half_of_esp() {
    let mut cpu = machine(1);
    cpu.load_segment(SegReg::Ss, sel(R1_CODE_16BIT_STACK, 1)).unwrap();
    cpu.set_reg(Reg::Esp, 0xABCD_0002);
    program(&mut cpu, |a| {
        a.mov(eax, 0x1122_3344)?;
        a.push(ax)?; // SP 2 -> 0
        a.push(ax)?; // SP 0 -> 0xFFFE: wraps inside the 64 KiB stack
        a.pop(bx)?;
        a.pop(cx)
    });
    cpu.set_reg(Reg::Ebx, 0);
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Ebx), 0x3344);
    assert_eq!(cpu.mem().read_u16(0xFFFE).unwrap(), 0x3344);
    assert_eq!(cpu.reg(Reg::Esp), 0xABCD_0002);
}

#[test]
fn a_dword_push_that_would_run_past_a_16_bit_stacks_limit_raises_ss0() {
    let mut cpu = machine(1);
    cpu.load_segment(SegReg::Ss, sel(R1_CODE_16BIT_STACK, 1)).unwrap();
    cpu.set_reg(Reg::Esp, 0xABCD_0002);
    program(&mut cpu, |a| a.push(eax));
    // SP 2 - 4 = 0xFFFE, and 0xFFFE + 3 is past the 0xFFFF limit.
    assert_eq!(cpu.run(10), exc(vector::SS, 0));
    assert_eq!(cpu.reg(Reg::Esp), 0xABCD_0002);
}

#[test]
fn sixteen_bit_code_uses_16_bit_operands_and_wraps_ip() {
    let mut cpu = machine(0);
    cpu.load_segment(SegReg::Cs, sel(K_CODE16, 0)).unwrap();
    // mov ax, 0x1234 (B8 34 12 in 16-bit code); add ax, 1; int 0x80
    raw(&mut cpu, &[0xB8, 0x34, 0x12, 0x05, 0x01, 0x00]);
    cpu.set_reg(Reg::Eax, 0xAAAA_0000);
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0xAAAA_1235);
    assert_eq!(cpu.eip(), CODE + 8);
}

// ---------------------------------------------------------------------------------------
// Paging.

const PD: u32 = 0x10_0000;
const PT: u32 = 0x10_1000;
const USER_RW: u32 = pte::P | pte::RW | pte::US;

/// Identity-map the first 4 MiB with user read/write pages and turn paging on.
fn paged(cpl: u16) -> Cpu {
    let mut cpu = machine(cpl);
    cpu.mem_mut().write_u32(PD, PT | USER_RW).unwrap();
    for i in 0..1024 {
        cpu.mem_mut().write_u32(PT + 4 * i, (i << 12) | USER_RW).unwrap();
    }
    cpu.set_cr3(PD);
    let old = cpu.cr0();
    cpu.set_cr0(old | cr::CR0_PG);
    cpu
}

fn set_pte(cpu: &mut Cpu, lin: u32, v: u32) {
    cpu.mem_mut().write_u32(PT + 4 * (lin >> 12), v).unwrap();
}

fn get_pte(cpu: &Cpu, lin: u32) -> u32 {
    cpu.mem().read_u32(PT + 4 * (lin >> 12)).unwrap()
}

fn pf_exit(code: u32) -> Exit {
    exc(vector::PF, code)
}

#[test]
fn reading_a_not_present_page_raises_pf_with_cr2_and_the_u_bit_for_user_mode() {
    for (cpl, code) in [(0, 0), (3, pf::U)] {
        let mut cpu = paged(cpl);
        set_pte(&mut cpu, 0x5000, 0);
        program(&mut cpu, |a| a.mov(eax, dword_ptr(0x5123)));
        assert_eq!(cpu.run(10), pf_exit(code), "CPL {cpl}");
        assert_eq!(cpu.cr2(), 0x5123);
        assert_eq!(cpu.eip(), CODE);
    }
}

#[test]
fn writing_a_read_only_page_from_user_mode_raises_pf_with_p_w_u() {
    let mut cpu = paged(3);
    set_pte(&mut cpu, 0x5000, 0x5000 | pte::P | pte::US);
    program(&mut cpu, |a| a.mov(dword_ptr(0x5FFC), eax));
    assert_eq!(cpu.run(10), pf_exit(pf::P | pf::W | pf::U));
    assert_eq!(cpu.cr2(), 0x5FFC);
}

#[test]
fn a_supervisor_write_to_a_read_only_page_succeeds_without_wp_and_faults_with_it() {
    let mut cpu = paged(0);
    set_pte(&mut cpu, 0x5000, 0x5000 | pte::P | pte::US);
    program(&mut cpu, |a| a.mov(dword_ptr(0x5008), 0x77));
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.mem().read_u32(0x5008).unwrap(), 0x77);

    let mut cpu = paged(0);
    set_pte(&mut cpu, 0x5000, 0x5000 | pte::P | pte::US);
    let old = cpu.cr0();
    cpu.set_cr0(old | cr::CR0_WP);
    program(&mut cpu, |a| a.mov(dword_ptr(0x5008), 0x77));
    assert_eq!(cpu.run(10), pf_exit(pf::P | pf::W));
    assert_eq!(cpu.mem().read_u32(0x5008).unwrap(), 0);
}

#[test]
fn user_access_to_a_supervisor_page_raises_pf_with_p_and_u() {
    let mut cpu = paged(3);
    set_pte(&mut cpu, 0x5000, 0x5000 | pte::P | pte::RW);
    program(&mut cpu, |a| a.mov(eax, dword_ptr(0x5000)));
    assert_eq!(cpu.run(10), pf_exit(pf::P | pf::U));
}

#[test]
fn a_supervisor_page_directory_entry_protects_all_its_pages_from_user_mode() {
    let mut cpu = paged(3);
    cpu.mem_mut().write_u32(PD, PT | pte::P | pte::RW).unwrap();
    cpu.flush_tlb();
    // Even the fetch of the first instruction faults.
    program(&mut cpu, |a| a.nop());
    assert_eq!(cpu.run(10), pf_exit(pf::P | pf::U));
    assert_eq!(cpu.cr2(), CODE);
}

#[test]
fn the_page_walk_sets_accessed_on_reads_and_dirty_on_writes() {
    let mut cpu = paged(3);
    cpu.mem_mut().write_u32(PD, PT | USER_RW).unwrap();
    program(&mut cpu, |a| {
        a.mov(eax, dword_ptr(0x5000))?;
        a.mov(dword_ptr(0x6000), eax)
    });
    assert_eq!(cpu.run(10), DONE);
    assert_ne!(cpu.mem().read_u32(PD).unwrap() & pte::A, 0, "PDE accessed");
    assert_eq!(get_pte(&cpu, 0x5000) & (pte::A | pte::D), pte::A, "read: accessed, not dirty");
    assert_eq!(get_pte(&cpu, 0x6000) & (pte::A | pte::D), pte::A | pte::D, "written: dirty");
    assert_eq!(get_pte(&cpu, 0x7000) & (pte::A | pte::D), 0, "untouched");
}

#[test]
fn a_write_to_a_page_already_read_through_the_tlb_still_sets_dirty() {
    let mut cpu = paged(3);
    program(&mut cpu, |a| {
        a.mov(eax, dword_ptr(0x5000))?;
        a.mov(dword_ptr(0x5004), eax)
    });
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(get_pte(&cpu, 0x5000) & (pte::A | pte::D), pte::A | pte::D);
}

#[test]
fn a_4mib_page_maps_with_cr4_pse_and_sets_its_accessed_and_dirty_bits() {
    let mut cpu = paged(0);
    // Linear 0x0040_0000..0x0080_0000 -> physical 0 with a 4 MiB page.
    cpu.mem_mut().write_u32(PD + 4, pte::P | pte::RW | pte::PS).unwrap();
    cpu.mem_mut().write_u32(0x2_3456, 0xCAFE).unwrap();
    cpu.set_cr4(cr::CR4_PSE);
    program(&mut cpu, |a| {
        a.mov(eax, dword_ptr(0x42_3456))?;
        a.mov(dword_ptr(0x42_3460), eax)
    });
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0xCAFE);
    assert_eq!(cpu.mem().read_u32(0x2_3460).unwrap(), 0xCAFE);
    let pde = cpu.mem().read_u32(PD + 4).unwrap();
    assert_eq!(pde & (pte::A | pte::D), pte::A | pte::D);
}

#[test]
fn without_cr4_pse_a_large_page_entry_points_to_a_page_table() {
    let mut cpu = paged(0);
    // With PSE off the PS bit is ignored: the entry names a page table at physical 0,
    // whose entry 0x23 is then the PTE for 0x42_3000.
    cpu.mem_mut().write_u32(PD + 4, pte::P | pte::RW | pte::PS).unwrap();
    cpu.mem_mut().write_u32(4 * 0x23, 0x7000 | pte::P | pte::RW).unwrap();
    cpu.mem_mut().write_u32(0x7456, 0xBEEF).unwrap();
    program(&mut cpu, |a| a.mov(eax, dword_ptr(0x42_3456)));
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0xBEEF);
}

#[test]
fn a_changed_pte_is_not_seen_until_invlpg() {
    let mut cpu = paged(0);
    cpu.mem_mut().write_u32(0x5000, 0x1111).unwrap();
    cpu.mem_mut().write_u32(0x6000, 0x2222).unwrap();
    program(&mut cpu, |a| {
        a.mov(eax, dword_ptr(0x5000))?; // fills the TLB
        a.mov(dword_ptr((PT + 4 * 5) as i32), (0x6000 | USER_RW) as i32)?;
        a.mov(ebx, dword_ptr(0x5000))?; // stale: still the old frame
        a.invlpg(dword_ptr(0x5000))?;
        a.mov(ecx, dword_ptr(0x5000)) // the new frame
    });
    assert_eq!(cpu.run(20), DONE);
    assert_eq!((cpu.reg(Reg::Eax), cpu.reg(Reg::Ebx), cpu.reg(Reg::Ecx)), (0x1111, 0x1111, 0x2222));
}

#[test]
fn a_changed_pte_is_seen_after_a_cr3_write() {
    let mut cpu = paged(0);
    cpu.mem_mut().write_u32(0x5000, 0x1111).unwrap();
    cpu.mem_mut().write_u32(0x6000, 0x2222).unwrap();
    program(&mut cpu, |a| {
        a.mov(eax, dword_ptr(0x5000))?;
        a.mov(dword_ptr((PT + 4 * 5) as i32), (0x6000 | USER_RW) as i32)?;
        a.mov(ebx, dword_ptr(0x5000))?;
        a.mov(edx, cr3)?;
        a.mov(cr3, edx)?;
        a.mov(ecx, dword_ptr(0x5000))
    });
    assert_eq!(cpu.run(20), DONE);
    assert_eq!((cpu.reg(Reg::Eax), cpu.reg(Reg::Ebx), cpu.reg(Reg::Ecx)), (0x1111, 0x1111, 0x2222));
}

#[test]
fn the_host_invalidating_a_page_makes_the_new_mapping_visible() {
    let mut cpu = paged(0);
    cpu.mem_mut().write_u32(0x5000, 0x1111).unwrap();
    cpu.mem_mut().write_u32(0x6000, 0x2222).unwrap();
    program(&mut cpu, |a| a.mov(eax, dword_ptr(0x5000)));
    assert_eq!(cpu.run(20), DONE);
    set_pte(&mut cpu, 0x5000, 0x6000 | USER_RW);
    cpu.set_eip(CODE);
    assert_eq!(cpu.run(20), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0x1111, "not invalidated yet");
    cpu.invlpg(0x5000);
    cpu.set_eip(CODE);
    assert_eq!(cpu.run(20), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0x2222);
}

#[test]
fn a_supervisor_translation_cached_at_ring_0_is_not_used_at_ring_3() {
    let mut cpu = paged(0);
    set_pte(&mut cpu, 0x5000, 0x5000 | pte::P | pte::RW);
    cpu.load_segment(SegReg::Ds, sel(U_DATA, 3)).unwrap(); // still usable at ring 3
    let user = 0x3000;
    program(&mut cpu, |a| {
        a.mov(eax, dword_ptr(0x5000))?; // fills the supervisor TLB
        push_iret_to_user(a, user, 0x7000, 0x2)?;
        a.iretd()
    });
    let code = asm_at(user, |a| a.mov(eax, dword_ptr(0x5000)));
    cpu.mem_mut().write(user, &code).unwrap();
    assert_eq!(cpu.run(20), pf_exit(pf::P | pf::U));
    assert_eq!(cpu.eip(), user);
}

#[test]
fn code_decoded_at_ring_0_is_not_run_at_ring_3_from_a_supervisor_page() {
    let mut cpu = paged(0);
    let shared = 0x3000;
    set_pte(&mut cpu, shared, shared | pte::P | pte::RW);
    cpu.mem_mut().write(shared, &[0xCD, 0x80]).unwrap();
    program(&mut cpu, |a| a.call(shared as u64));
    assert_eq!(cpu.run(20), DONE, "ring 0 runs it (and caches the block)");
    let mut cpu2 = cpu;
    cpu2.load_segment(SegReg::Cs, sel(U_CODE, 3)).unwrap();
    cpu2.load_segment(SegReg::Ss, sel(U_DATA, 3)).unwrap();
    cpu2.set_eip(shared);
    assert_eq!(cpu2.run(20), pf_exit(pf::P | pf::U));
    assert_eq!(cpu2.cr2(), shared);
}

#[test]
fn remapping_a_code_page_runs_the_new_code_after_invlpg() {
    let mut cpu = paged(0);
    // Linear 0x5000 runs `mov eax, 1; ret` from frame 0x9000, then `mov eax, 2; ret`
    // from frame 0xA000.
    cpu.mem_mut().write(0x9000, &[0xB8, 1, 0, 0, 0, 0xC3]).unwrap();
    cpu.mem_mut().write(0xA000, &[0xB8, 2, 0, 0, 0, 0xC3]).unwrap();
    set_pte(&mut cpu, 0x5000, 0x9000 | USER_RW);
    program(&mut cpu, |a| {
        a.call(0x5000u64)?;
        a.mov(ebx, eax)?;
        a.mov(dword_ptr((PT + 4 * 5) as i32), (0xA000 | USER_RW) as i32)?;
        a.invlpg(dword_ptr(0x5000))?;
        a.call(0x5000u64)
    });
    assert_eq!(cpu.run(100), DONE);
    assert_eq!((cpu.reg(Reg::Ebx), cpu.reg(Reg::Eax)), (1, 2));
}

/// A block whose page was unmapped, reached just as the budget runs out, is not looked
/// at: the run stops with EIP at it and CR2 as it was, as the interpreter (which stops
/// before looking the block up) has it; the next run faults there. (A translated block's
/// head once revalidated itself before checking the budget, and the failed page walk set
/// CR2: the check engine caught the difference in a Linux Guest.)
#[test]
fn a_budget_that_ends_at_an_unmapped_block_leaves_cr2_alone() {
    let mut cpu = paged(0);
    // 0x5000: mov eax, 1; jmp 0x6000.   0x6000: mov ebx, 2; jmp 0x5000.
    let jmp = |from: u32, to: u32| to.wrapping_sub(from + 5).to_le_bytes();
    let mut a = vec![0xB8, 1, 0, 0, 0, 0xE9];
    a.extend_from_slice(&jmp(0x5005, 0x6000));
    let mut b = vec![0xBB, 2, 0, 0, 0, 0xE9];
    b.extend_from_slice(&jmp(0x6005, 0x5000));
    cpu.mem_mut().write(0x5000, &a).unwrap();
    cpu.mem_mut().write(0x6000, &b).unwrap();
    cpu.set_eip(0x5000);
    // Both blocks run (and are translated, and linked) many times.
    assert_eq!(cpu.run(40), Exit::BudgetExhausted);
    set_pte(&mut cpu, 0x6000, 0);
    cpu.set_cr3(PD);
    cpu.set_cr2(0x1234);
    cpu.set_eip(0x5000);
    assert_eq!(cpu.run(2), Exit::BudgetExhausted);
    assert_eq!((cpu.eip(), cpu.cr2()), (0x6000, 0x1234));
    assert_eq!(cpu.run(10), pf_exit(0));
    assert_eq!((cpu.eip(), cpu.cr2()), (0x6000, 0x6000));
}

#[test]
fn a_store_straddling_into_a_not_present_page_faults_and_writes_nothing() {
    let mut cpu = paged(0);
    set_pte(&mut cpu, 0x6000, 0);
    program(&mut cpu, |a| a.mov(dword_ptr(0x5FFE), -1));
    assert_eq!(cpu.run(10), pf_exit(pf::W));
    assert_eq!(cpu.cr2(), 0x6000);
    assert_eq!(cpu.mem().read_u32(0x5FFC).unwrap(), 0, "the first page is untouched");
}

#[test]
fn a_load_straddling_two_pages_reads_both() {
    let mut cpu = paged(0);
    // Linear 0x5000 -> physical 0x9000, linear 0x6000 -> physical 0x3000.
    set_pte(&mut cpu, 0x5000, 0x9000 | USER_RW);
    set_pte(&mut cpu, 0x6000, 0x3000 | USER_RW);
    cpu.mem_mut().write(0x9FFE, &[0x11, 0x22]).unwrap();
    cpu.mem_mut().write(0x3000, &[0x33, 0x44]).unwrap();
    program(&mut cpu, |a| a.mov(eax, dword_ptr(0x5FFE)));
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0x4433_2211);
}

#[test]
fn an_instruction_straddling_into_a_not_present_page_faults_at_that_page() {
    let mut cpu = paged(3);
    set_pte(&mut cpu, 0x2000, 0);
    // mov ebx, 1 at 0x1FF8 (5 bytes), then mov eax, imm32 at 0x1FFD: its last two
    // bytes are on the missing page.
    cpu.mem_mut().write(0x1FF8, &[0xBB, 1, 0, 0, 0, 0xB8, 0x44, 0x33]).unwrap();
    cpu.set_eip(0x1FF8);
    assert_eq!(cpu.run(10), pf_exit(pf::U));
    assert_eq!(cpu.cr2(), 0x2000);
    assert_eq!(cpu.eip(), 0x1FFD, "EIP at the straddling instruction");
    assert_eq!(cpu.reg(Reg::Ebx), 1, "the instruction before it ran");
    // The Host maps the page; the instruction restarts and completes.
    set_pte(&mut cpu, 0x2000, 0x2000 | USER_RW);
    cpu.invlpg(0x2000);
    cpu.mem_mut().write(0x2000, &[0x22, 0x11, 0xCD, 0x80]).unwrap();
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0x1122_3344);
}

#[test]
fn jumping_to_a_not_present_page_faults_with_eip_at_the_target() {
    let mut cpu = paged(0);
    set_pte(&mut cpu, 0x7000, 0);
    program(&mut cpu, |a| a.jmp(0x7010u64));
    assert_eq!(cpu.run(10), pf_exit(0));
    assert_eq!(cpu.cr2(), 0x7010);
    assert_eq!(cpu.eip(), 0x7010);
}

#[test]
fn an_access_beyond_ram_ends_run_with_bad_physical_and_changes_nothing() {
    // Paging off: linear = physical.
    let mut cpu = machine(0);
    program(&mut cpu, |a| {
        a.mov(ebx, 7)?;
        a.mov(dword_ptr(0x7000_0000), ebx)
    });
    assert_eq!(cpu.run(10), Exit::BadPhysical { addr: 0x7000_0000 });
    assert_eq!(cpu.eip(), CODE + 5);
    // Through a PTE naming a frame outside RAM.
    let mut cpu = paged(0);
    set_pte(&mut cpu, 0x5000, 0x8000_0000 | USER_RW);
    program(&mut cpu, |a| a.mov(eax, dword_ptr(0x5004)));
    assert_eq!(cpu.run(10), Exit::BadPhysical { addr: 0x8000_0004 });
    assert_eq!(cpu.eip(), CODE);
}

#[test]
fn a_page_directory_outside_ram_ends_run_with_bad_physical() {
    let mut cpu = paged(0);
    cpu.set_cr3(0x4000_0000);
    assert!(matches!(cpu.run(10), Exit::BadPhysical { .. }));
}

#[test]
fn executing_from_outside_ram_ends_run_with_bad_physical() {
    let mut cpu = machine(0);
    cpu.set_eip(0x9000_0000);
    assert_eq!(cpu.run(10), Exit::BadPhysical { addr: 0x9000_0000 });
}

// ---------------------------------------------------------------------------------------
// Self-modifying code.

#[test]
fn a_store_rewriting_a_later_instruction_in_the_same_block_takes_effect() {
    let mut cpu = machine(0);
    // mov byte [target+1], 0x42; target: mov eax, 0x11; int 0x80
    let target = CODE + 7;
    let mut code = vec![0xC6, 0x05];
    code.extend_from_slice(&(target + 1).to_le_bytes());
    code.push(0x42);
    code.extend_from_slice(&[0xB8, 0x11, 0, 0, 0]);
    raw(&mut cpu, &code);
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0x42);
}

#[test]
fn a_store_rewriting_code_in_another_block_takes_effect() {
    let mut cpu = machine(0);
    // f, at 0x3000: mov eax, 5; ret. Call it, patch its immediate to 7, call it again.
    cpu.mem_mut().write(0x3000, &[0xB8, 5, 0, 0, 0, 0xC3]).unwrap();
    program(&mut cpu, |a| {
        a.call(0x3000u64)?;
        a.mov(ebx, eax)?;
        a.mov(byte_ptr(0x3001), 7)?;
        a.call(0x3000u64)
    });
    assert_eq!(cpu.run(100), DONE);
    assert_eq!((cpu.reg(Reg::Ebx), cpu.reg(Reg::Eax)), (5, 7));
}

#[test]
fn a_store_through_another_linear_alias_of_a_code_page_takes_effect() {
    let mut cpu = paged(0);
    // Linear 0x5000 is a second mapping of the code page's frame.
    set_pte(&mut cpu, 0x5000, CODE | USER_RW);
    let code = asm_at(CODE, |a| {
        a.mov(byte_ptr(0x5000 + 7 + 1), 0x42)?; // the next instruction's immediate
        a.mov(eax, 0x11)?;
        a.int(0x80)
    });
    assert_eq!(code[7], 0xB8, "layout as expected");
    cpu.mem_mut().write(CODE, &code).unwrap();
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0x42);
}

#[test]
fn the_host_rewriting_code_in_ram_invalidates_what_was_decoded() {
    let mut cpu = machine(0);
    raw(&mut cpu, &[0xB8, 1, 0, 0, 0]);
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 1);
    cpu.mem_mut().write_u8(CODE + 1, 2).unwrap();
    cpu.set_eip(CODE);
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 2);
}

#[test]
fn a_rep_stos_over_the_code_that_follows_it_takes_effect() {
    let mut cpu = machine(0);
    // rep stosb writes 4 NOPs over a `mov eax, 1` that follows; then int 0x80.
    let code = asm_at(CODE, |a| {
        a.mov(edi, CODE + 17)?; // 5 bytes
        a.mov(ecx, 5)?; // 5
        a.mov(al, 0x90)?; // 2
        a.cld()?; // 1
        a.rep().stosb()?; // 2: ends at 15... plus 2 bytes of padding
        a.nop()?;
        a.nop()?;
        a.mov(eax, 1)?; // at 17: overwritten by NOPs
        a.int(0x80)
    });
    cpu.mem_mut().write(CODE, &code).unwrap();
    cpu.set_eip(CODE);
    cpu.set_reg(Reg::Eax, 0);
    assert_eq!(cpu.run(20), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0x90, "mov eax, 1 was overwritten");
}

// ---------------------------------------------------------------------------------------
// Exceptions and traps.

#[test]
fn division_by_zero_raises_de_at_the_div_and_changes_nothing() {
    let mut cpu = machine(0);
    program(&mut cpu, |a| {
        a.mov(eax, 100)?;
        a.xor(ecx, ecx)?;
        a.div(ecx)
    });
    assert_eq!(cpu.run(10), exc_no_code(vector::DE));
    assert_eq!(cpu.eip(), CODE + 7);
    assert_eq!(cpu.reg(Reg::Eax), 100);
}

#[test]
fn a_quotient_that_does_not_fit_raises_de() {
    let mut cpu = machine(0);
    program(&mut cpu, |a| {
        a.mov(edx, 2)?;
        a.mov(ecx, 2)?;
        a.div(ecx)
    });
    assert_eq!(cpu.run(10), exc_no_code(vector::DE));
    // The most negative quotient of IDIV fits; one below it does not.
    let mut cpu = machine(0);
    program(&mut cpu, |a| {
        a.mov(eax, 0x8000_0000u32)?;
        a.cdq()?;
        a.mov(ecx, -1)?;
        a.idiv(ecx)
    });
    assert_eq!(cpu.run(10), exc_no_code(vector::DE));
    let mut cpu = machine(0);
    program(&mut cpu, |a| {
        a.mov(eax, 0x8000_0000u32)?;
        a.cdq()?;
        a.mov(ecx, 1)?;
        a.idiv(ecx)
    });
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0x8000_0000);
}

#[test]
fn aam_with_a_zero_base_raises_de() {
    let mut cpu = machine(0);
    raw(&mut cpu, &[0xD4, 0x00]);
    assert_eq!(cpu.run(10), exc_no_code(vector::DE));
}

#[test]
fn undefined_opcodes_raise_ud_at_the_instruction() {
    let cases: [&[u8]; 6] = [
        &[0x0F, 0x0B],             // ud2
        &[0x0F, 0xFF, 0xC0],       // ud0
        &[0xFE, 0xF8],             // inc/dec group with /7
        &[0x0F, 0x05],             // syscall: not on an i686
        &[0x8D, 0xC0],             // lea with a register operand
        &[0x0F, 0x38, 0x00, 0xC0], // pshufb: SSSE3
    ];
    for bytes in cases {
        let mut cpu = machine(0);
        cpu.mem_mut().write(CODE, &[0x90]).unwrap();
        cpu.mem_mut().write(CODE + 1, bytes).unwrap();
        assert_eq!(cpu.run(10), exc_no_code(vector::UD), "{bytes:02x?}");
        assert_eq!(cpu.eip(), CODE + 1, "{bytes:02x?}: EIP at the instruction");
        assert_eq!(cpu.retired(), 1);
    }
}

#[test]
fn lock_on_an_instruction_that_cannot_take_it_raises_ud() {
    let cases: [&[u8]; 5] = [
        &[0xF0, 0x01, 0xD8],       // lock add eax, ebx (register destination)
        &[0xF0, 0x89, 0x18],       // lock mov [eax], ebx
        &[0xF0, 0x90],             // lock nop
        &[0xF0, 0x0F, 0xA3, 0x18], // lock bt [eax], ebx (BT only reads)
        &[0xF0, 0x3B, 0x18],       // lock cmp ebx, [eax]
    ];
    for bytes in cases {
        let mut cpu = machine(0);
        cpu.set_reg(Reg::Eax, 0x3000);
        raw(&mut cpu, bytes);
        assert_eq!(cpu.run(10), exc_no_code(vector::UD), "{bytes:02x?}");
        assert_eq!(cpu.eip(), CODE);
    }
    // And where it is allowed, it works.
    let mut cpu = machine(0);
    cpu.set_reg(Reg::Eax, 0x3000);
    raw(&mut cpu, &[0xF0, 0x01, 0x18]); // lock add [eax], ebx
    cpu.set_reg(Reg::Ebx, 5);
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.mem().read_u32(0x3000).unwrap(), 5);
}

/// Every x87 encoding of the i686, with its memory operand (if any) at [eax].
fn x87_encodings() -> Vec<(iced_x86::Code, Vec<u8>)> {
    use iced_x86::{
        Code, Encoder, EncodingKind, Instruction, MemoryOperand, Mnemonic, OpCodeOperandKind as K,
    };
    let mut out = Vec::new();
    for code in Code::values() {
        let oc = code.op_code();
        let m = oc.mnemonic();
        let x87 = format!("{m:?}").starts_with('F') && !matches!(m, Mnemonic::Femms | Mnemonic::Fisttp);
        if oc.encoding() != EncodingKind::Legacy || !oc.mode32() || oc.decoder_option() != 0 || !x87 {
            continue;
        }
        let ins = match oc.op_kinds() {
            [] => Instruction::with(code),
            [K::ax] => Instruction::with1(code, iced_x86::Register::AX).unwrap(),
            [K::mem] => Instruction::with1(code, MemoryOperand::with_base(iced_x86::Register::EAX)).unwrap(),
            [K::sti_opcode] => Instruction::with1(code, iced_x86::Register::ST3).unwrap(),
            [K::st0, K::sti_opcode] => {
                Instruction::with2(code, iced_x86::Register::ST0, iced_x86::Register::ST2).unwrap()
            }
            [K::sti_opcode, K::st0] => {
                Instruction::with2(code, iced_x86::Register::ST2, iced_x86::Register::ST0).unwrap()
            }
            k => panic!("{code:?}: {k:?}"),
        };
        let mut enc = Encoder::new(32);
        enc.encode(&ins, CODE as u64).unwrap();
        out.push((code, enc.take_buffer()));
    }
    out
}

#[test]
fn every_x87_instruction_raises_nm_while_cr0_em_or_ts_is_set() {
    let encodings = x87_encodings();
    assert!(encodings.len() > 150, "{} x87 encodings", encodings.len());
    for (em, ts) in [(true, false), (false, true), (true, true)] {
        for (code, bytes) in &encodings {
            let mut cpu = machine(3);
            let bits = if em { cr::CR0_EM } else { 0 } | if ts { cr::CR0_TS } else { 0 };
            cpu.set_cr0(cr::CR0_PE | cr::CR0_NE | bits);
            // A 16-byte-aligned operand, so FXSAVE/FXRSTOR would otherwise run.
            cpu.set_reg(Reg::Eax, 0x3000);
            raw(&mut cpu, bytes);
            assert_eq!(cpu.run(10), exc_no_code(vector::NM), "{code:?} with EM={em} TS={ts}");
            // (A waiting form is WAIT, which checks neither EM nor TS without MP, and the
            // no-wait instruction.)
            let at = if bytes[0] == 0x9B { CODE + 1 } else { CODE };
            assert_eq!(cpu.eip(), at, "{code:?}: the fault points at the instruction");
        }
    }
}

#[test]
fn wait_raises_nm_only_with_cr0_mp_and_ts_both_set() {
    for (mp, ts, em, nm) in
        [(true, true, false, true), (false, true, false, false), (true, false, true, false)]
    {
        let mut cpu = machine(0);
        let bits = if mp { cr::CR0_MP } else { 0 }
            | if ts { cr::CR0_TS } else { 0 }
            | if em { cr::CR0_EM } else { 0 };
        cpu.set_cr0(cr::CR0_PE | bits);
        raw(&mut cpu, &[0x9B]); // wait
        let want = if nm { exc_no_code(vector::NM) } else { DONE };
        assert_eq!(cpu.run(10), want, "MP={mp} TS={ts} EM={em}");
    }
}

/// A machine with the FPU on (CR0.EM and TS clear, MP and NE set, as Linux runs).
fn fpu_machine(cpl: u16) -> Cpu {
    let mut cpu = machine(cpl);
    cpu.set_cr0(cr::CR0_PE | cr::CR0_MP | cr::CR0_NE);
    cpu
}

const FNINIT: [u8; 2] = [0xDB, 0xE3];
const FLD1: [u8; 2] = [0xD9, 0xE8];
const FLDZ: [u8; 2] = [0xD9, 0xEE];
const FDIVP: [u8; 2] = [0xDE, 0xF9];
const FNSTSW_AX: [u8; 2] = [0xDF, 0xE0];
const FLDCW_EAX: [u8; 2] = [0xD9, 0x28];

/// fninit; fldcw [eax] (divide-by-zero unmasked); fld1; fldz; fdivp: a pending #Z.
fn pending_zero_divide(cpu: &mut Cpu, then: &[u8]) {
    cpu.mem_mut().write_u16(0x3000, 0x037F & !0x04).unwrap();
    cpu.set_reg(Reg::Eax, 0x3000);
    let code = [&FNINIT[..], &FLDCW_EAX, &FLD1, &FLDZ, &FDIVP, then].concat();
    raw(cpu, &code);
}

#[test]
fn an_unmasked_exception_is_reported_at_the_next_waiting_instruction() {
    let mut cpu = fpu_machine(3);
    pending_zero_divide(&mut cpu, &FLD1);
    // The division itself completes (leaving its operands alone); the next waiting
    // instruction faults with #MF, EIP at it.
    assert_eq!(cpu.run(100), exc_no_code(vector::MF));
    assert_eq!(cpu.eip(), CODE + 10);
    // Again and again, until the handler clears the exception.
    assert_eq!(cpu.run(100), exc_no_code(vector::MF));
    let mut cpu = fpu_machine(3);
    pending_zero_divide(&mut cpu, &[0x9B]); // wait
    assert_eq!(cpu.run(100), exc_no_code(vector::MF));
    assert_eq!(cpu.eip(), CODE + 10);
}

#[test]
fn non_waiting_control_instructions_ignore_a_pending_exception() {
    // fnstsw ax, fnstcw, fnstenv, fnclex: all run; ES shows in the status word.
    let mut cpu = fpu_machine(3);
    // fnstcw [eax]; fnstsw [eax+0x40]; fnstenv [eax+0x10]; fnstsw ax; fnclex; fld1
    let tail =
        [&[0xD9, 0x38][..], &[0xDD, 0x78, 0x40], &[0xD9, 0x70, 0x10], &FNSTSW_AX, &[0xDB, 0xE2], &FLD1]
            .concat();
    pending_zero_divide(&mut cpu, &tail);
    assert_eq!(cpu.run(100), DONE, "fnclex cleared the exception, so fld1 ran");
    let sw = cpu.mem().read_u16(0x3040).unwrap();
    assert_eq!(sw & 0x80FF, 0x8084, "B, ES and ZE set: {sw:#06x}");
    // FNSTENV masks every exception: ZE stays flagged but is no longer pending.
    assert_eq!(cpu.reg(Reg::Eax) as u16 & 0x80FF, 0x0004);
    // FNSTENV wrote the environment with ZE flagged (and then masked everything).
    assert_eq!(cpu.mem().read_u16(0x3000).unwrap(), 0x037B, "fnstcw");
    assert_eq!(cpu.mem().read_u16(0x3014).unwrap() & 0xFF, 0x84, "fnstenv's status word");
    // FNSAVE too, and it leaves the FPU initialized.
    let mut cpu = fpu_machine(3);
    pending_zero_divide(&mut cpu, &[0xDD, 0x30, 0xD9, 0xE8]); // fnsave [eax]; fld1
    assert_eq!(cpu.run(100), DONE);
}

#[test]
fn fxsave_and_fxrstor_need_a_16_byte_aligned_operand() {
    for (bytes, name) in [([0x0F, 0xAE, 0x00], "fxsave"), ([0x0F, 0xAE, 0x08], "fxrstor")] {
        let mut cpu = fpu_machine(3);
        cpu.set_reg(Reg::Eax, 0x3008);
        raw(&mut cpu, &bytes);
        assert_eq!(cpu.run(10), gp(0), "{name}");
        let mut cpu = fpu_machine(3);
        cpu.set_reg(Reg::Eax, 0x3010);
        raw(&mut cpu, &bytes);
        assert_eq!(cpu.run(10), DONE, "{name}");
    }
}

#[test]
fn fxsave_then_fxrstor_restores_the_state() {
    let mut cpu = fpu_machine(3);
    cpu.set_reg(Reg::Eax, 0x3000);
    // fninit; fld1; fldz; fxsave [eax]; fninit; fxrstor [eax]; fnstsw ax
    let code =
        [&FNINIT[..], &FLD1, &FLDZ, &[0x0F, 0xAE, 0x00], &FNINIT, &[0x0F, 0xAE, 0x08], &FNSTSW_AX].concat();
    raw(&mut cpu, &code);
    assert_eq!(cpu.run(100), DONE);
    assert_eq!((cpu.reg(Reg::Eax) as u16 >> 11) & 7, 6, "two values on the stack again");
    assert_eq!(cpu.mem().read_u8(0x3004).unwrap(), 0xC0, "abridged tags: R6 and R7 in use");
}

#[test]
fn fisttp_is_sse3_and_not_an_i686_instruction() {
    let mut cpu = fpu_machine(3);
    cpu.set_reg(Reg::Eax, 0x3000);
    raw(&mut cpu, &[0xDB, 0x08]); // fisttp dword [eax]
    assert_eq!(cpu.run(10), exc_no_code(vector::UD));
}

#[test]
fn a_faulting_fnsave_changes_neither_memory_nor_the_fpu() {
    let mut cpu = fpu_machine(3);
    cpu.load_segment(SegReg::Es, sel(U_LIMITED, 3)).unwrap();
    // es: fnsave [0x1FA0] runs past the 0x1FFF limit: #GP, and the FPU keeps its state.
    let code = [&FLD1[..], &[0x26, 0xDD, 0x35, 0xA0, 0x1F, 0, 0], &FNSTSW_AX].concat();
    raw(&mut cpu, &code);
    assert_eq!(cpu.run(100), gp(0));
    assert_eq!(cpu.mem().read_u32(0x1FA0).unwrap(), 0);
    cpu.set_eip(CODE + 9);
    assert_eq!(cpu.run(100), DONE);
    assert_eq!((cpu.reg(Reg::Eax) as u16 >> 11) & 7, 7, "fld1 is still on the stack");
}

#[test]
fn int_n_int3_and_into_end_run_with_eip_past_the_instruction() {
    let mut cpu = machine(3);
    raw(&mut cpu, &[0xCD, 0x30]);
    assert_eq!(cpu.run(10), Exit::SoftInt { vector: 0x30, len: 2 });
    assert_eq!(cpu.eip(), CODE + 2);

    let mut cpu = machine(3);
    raw(&mut cpu, &[0xCC]);
    assert_eq!(cpu.run(10), Exit::SoftInt { vector: 3, len: 1 });
    assert_eq!(cpu.eip(), CODE + 1);

    // INTO traps only with OF set.
    let mut cpu = machine(3);
    raw(&mut cpu, &[0xCE]);
    assert_eq!(cpu.run(10), DONE, "OF clear: INTO does nothing");
    let mut cpu = machine(3);
    cpu.set_eflags(0x2 | eflags::OF);
    raw(&mut cpu, &[0xCE]);
    assert_eq!(cpu.run(10), Exit::SoftInt { vector: 4, len: 1 });
    assert_eq!(cpu.eip(), CODE + 1);
}

#[test]
fn hlt_at_ring_0_ends_run_with_eip_past_it() {
    let mut cpu = machine(0);
    raw(&mut cpu, &[0x90, 0xF4]);
    assert_eq!(cpu.run(10), Exit::Halt);
    assert_eq!(cpu.eip(), CODE + 2);
    assert_eq!(cpu.retired(), 2);
}

// ---------------------------------------------------------------------------------------
// The budget, and restartable string instructions.

#[test]
fn the_budget_can_run_out_mid_block_at_an_exact_instruction() {
    let mut cpu = machine(0);
    raw(&mut cpu, &[0x40; 10]); // ten `inc eax`
    assert_eq!(cpu.run(3), Exit::BudgetExhausted);
    assert_eq!((cpu.eip(), cpu.reg(Reg::Eax), cpu.retired()), (CODE + 3, 3, 3));
    assert_eq!(cpu.run(4), Exit::BudgetExhausted);
    assert_eq!((cpu.eip(), cpu.reg(Reg::Eax), cpu.retired()), (CODE + 7, 7, 7));
    assert_eq!(cpu.run(100), DONE);
    assert_eq!((cpu.eip(), cpu.reg(Reg::Eax), cpu.retired()), (CODE + 12, 10, 11));
}

#[test]
fn a_budget_of_zero_runs_nothing() {
    let mut cpu = machine(0);
    raw(&mut cpu, &[0x40]);
    assert_eq!(cpu.run(0), Exit::BudgetExhausted);
    assert_eq!((cpu.eip(), cpu.retired()), (CODE, 0));
}

#[test]
fn a_budget_of_one_steps_one_instruction_at_a_time() {
    let mut cpu = machine(0);
    program(&mut cpu, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 3)?;
        a.set_label(&mut top)?;
        a.inc(eax)?;
        a.loop_(top)
    });
    let mut eips = Vec::new();
    while cpu.run(1) == Exit::BudgetExhausted {
        eips.push(cpu.eip());
    }
    assert_eq!(eips.len(), 7, "mov, then inc+loop three times: {eips:x?}");
    assert_eq!(cpu.retired(), 8);
    assert_eq!(cpu.reg(Reg::Eax), 3);
}

#[test]
fn rep_stos_with_a_huge_count_yields_and_resumes_exactly() {
    let mut cpu = machine(0);
    let n = 0x3_0001u32;
    program(&mut cpu, |a| {
        a.mov(edi, 0x10_0000)?;
        a.mov(ecx, n)?;
        a.mov(al, 0xAB)?;
        a.rep().stosb()
    });
    let rep_at = CODE + 12;
    // After the setup, one budget unit runs part of the REP and stops at it.
    assert_eq!(cpu.run(4), Exit::BudgetExhausted);
    assert_eq!(cpu.eip(), rep_at);
    let left = cpu.reg(Reg::Ecx);
    assert!(left > 0 && left < n, "partly done: {left:#x}");
    assert_eq!(cpu.reg(Reg::Edi), 0x10_0000 + (n - left));
    assert_eq!(cpu.retired(), 3, "the REP has not retired yet");
    assert_eq!(cpu.run(1_000), DONE);
    assert_eq!(cpu.reg(Reg::Ecx), 0);
    assert_eq!(cpu.reg(Reg::Edi), 0x10_0000 + n);
    assert_eq!(cpu.retired(), 5, "a REP counts as one instruction");
    let mem = cpu.mem().slice(0x10_0000, n + 1).unwrap();
    assert!(mem[..n as usize].iter().all(|&b| b == 0xAB));
    assert_eq!(mem[n as usize], 0);
}

#[test]
fn rep_movs_faulting_midway_resumes_where_it_stopped() {
    let mut cpu = paged(0);
    set_pte(&mut cpu, 0x7000, 0);
    for i in 0..0x100u32 {
        cpu.mem_mut().write_u8(0x5F80 + i, i as u8).unwrap();
    }
    program(&mut cpu, |a| {
        a.mov(esi, 0x5F80)?;
        a.mov(edi, 0x6F80)?;
        a.mov(ecx, 0x40)?;
        a.rep().movsd()
    });
    assert_eq!(cpu.run(100), pf_exit(pf::W));
    assert_eq!(cpu.cr2(), 0x7000);
    assert_eq!(cpu.eip(), CODE + 15, "EIP at the REP MOVSD");
    assert_eq!((cpu.reg(Reg::Esi), cpu.reg(Reg::Edi), cpu.reg(Reg::Ecx)), (0x6000, 0x7000, 0x20));
    set_pte(&mut cpu, 0x7000, 0x7000 | USER_RW);
    cpu.invlpg(0x7000);
    assert_eq!(cpu.run(100), DONE);
    assert_eq!(cpu.reg(Reg::Ecx), 0);
    let copied = cpu.mem().slice(0x6F80, 0x100).unwrap();
    assert!(copied.iter().enumerate().all(|(i, &b)| b == i as u8));
}

// ---------------------------------------------------------------------------------------
// The Host's view.

#[test]
fn rdtsc_counts_retired_instructions_in_instruction_mode() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| {
        a.nop()?;
        a.nop()?;
        a.rdtsc()
    });
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 2);
    assert_eq!(cpu.reg(Reg::Edx), 0);
}

#[test]
fn cpuid_reports_the_documented_identity_with_an_fpu_and_fxsr() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| {
        a.mov(eax, 1)?;
        a.cpuid()
    });
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), cpu::CPUID_SIGNATURE);
    assert_eq!(cpu.reg(Reg::Edx), cpu::CPUID_FEATURES_EDX);
    assert_eq!(cpu.reg(Reg::Edx) & 1, 1, "an FPU");
    assert_ne!(cpu.reg(Reg::Edx) & (1 << 24), 0, "FXSAVE/FXRSTOR");
    assert_eq!(cpu.reg(Reg::Edx) & (1 << 23 | 1 << 25 | 1 << 26), 0, "no MMX, SSE or SSE2");
}

#[test]
fn the_host_can_hide_cpuid_features_but_not_invent_them() {
    let mut cpu = machine(3);
    cpu.set_cpuid_features_edx((cpu::CPUID_FEATURES_EDX & !cpu::CPUID_FXSR) | 1 << 25);
    program(&mut cpu, |a| {
        a.mov(eax, 1)?;
        a.cpuid()
    });
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Edx), cpu::CPUID_FEATURES_EDX & !cpu::CPUID_FXSR, "FXSR hidden, no SSE claimed");
}

#[test]
fn translate_reports_the_fault_an_access_would_raise() {
    let mut cpu = paged(0);
    set_pte(&mut cpu, 0x5000, 0x9000 | pte::P | pte::US);
    assert_eq!(cpu.translate(0x5123, false, true), Ok(0x9123));
    assert_eq!(cpu.translate(0x5123, true, true), Err(pf_exit(pf::P | pf::W | pf::U)));
    set_pte(&mut cpu, 0x5000, 0);
    assert_eq!(cpu.translate(0x5123, false, false), Err(pf_exit(0)));
}

// ---------------------------------------------------------------------------------------
// Descriptor queries and other odds and ends.

#[test]
fn lsl_and_lar_report_a_descriptor_visible_at_cpl_and_set_zf() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| {
        a.mov(ecx, sel(U_LIMITED, 3) as u32)?;
        a.lsl(eax, ecx)?;
        a.setz(bl)?;
        a.lar(edx, ecx)?;
        a.setz(bh)
    });
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0x1FFF);
    assert_eq!(cpu.reg(Reg::Edx), 0x0040_F200, "G/D/L/AVL nibble and the access byte");
    assert_eq!(cpu.reg(Reg::Ebx) & 0xFFFF, 0x0101);
}

#[test]
fn lsl_of_a_more_privileged_descriptor_clears_zf_and_leaves_the_register() {
    let mut cpu = machine(3);
    program(&mut cpu, |a| {
        a.mov(eax, 0x1234)?;
        a.mov(ecx, sel(K_DATA, 3) as u32)?;
        a.stc()?;
        a.lsl(eax, ecx)?;
        a.setz(bl)?;
        a.setc(bh)
    });
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.reg(Reg::Eax), 0x1234);
    assert_eq!(cpu.reg(Reg::Ebx) & 0xFFFF, 0x0100, "ZF clear, CF untouched");
}

#[test]
fn verr_and_verw_follow_the_segment_type() {
    let check = |selector: u16| {
        let mut cpu = machine(3);
        program(&mut cpu, |a| {
            a.mov(ecx, selector as u32)?;
            a.verr(cx)?;
            a.setz(bl)?;
            a.verw(cx)?;
            a.setz(bh)
        });
        assert_eq!(cpu.run(10), DONE);
        (cpu.reg(Reg::Ebx) & 0xFF, (cpu.reg(Reg::Ebx) >> 8) & 0xFF)
    };
    assert_eq!(check(sel(U_DATA, 3)), (1, 1));
    assert_eq!(check(sel(U_READ_ONLY, 3)), (1, 0));
    assert_eq!(check(sel(U_CODE, 3)), (1, 0), "readable code");
    assert_eq!(check(sel(U_EXEC_ONLY, 3)), (0, 0));
    assert_eq!(check(sel(K_DATA, 3)), (0, 0), "not visible at CPL 3");
    assert_eq!(check(0), (0, 0), "null selector");
}

#[test]
fn bound_outside_the_range_raises_br_at_the_instruction() {
    let mut cpu = machine(3);
    cpu.mem_mut().write_u32(0x3000, (-5i32) as u32).unwrap();
    cpu.mem_mut().write_u32(0x3004, 5).unwrap();
    program(&mut cpu, |a| {
        a.mov(eax, -5)?;
        a.bound(eax, qword_ptr(0x3000))?; // in range: nothing happens
        a.mov(eax, 6)?;
        a.bound(eax, qword_ptr(0x3000))
    });
    assert_eq!(cpu.run(10), exc_no_code(vector::BR));
    assert_eq!(cpu.eip(), CODE + 5 + 6 + 5);
}

#[test]
fn clts_at_ring_0_clears_cr0_ts_and_lmsw_cannot_leave_protected_mode() {
    let mut cpu = machine(0);
    cpu.set_cr0(cr::CR0_PE | cr::CR0_TS);
    program(&mut cpu, |a| {
        a.clts()?;
        a.xor(eax, eax)?;
        a.lmsw(ax)?;
        a.mov(ebx, cr0)
    });
    assert_eq!(cpu.run(10), DONE);
    assert_eq!(cpu.cr0() & (cr::CR0_TS | cr::CR0_PE), cr::CR0_PE);
    assert_eq!(cpu.reg(Reg::Ebx), cpu.cr0());
}

// ---- watched pages (for a Host that must act when the Guest writes shared state) ----

const WATCHED: u32 = 0x5000;

#[test]
fn a_store_to_a_watched_page_ends_run_right_after_the_storing_instruction() {
    let mut cpu = machine(1);
    let code = program(&mut cpu, |a| {
        a.mov(eax, 0x1234)?;
        a.mov(dword_ptr(WATCHED + 0x10), eax)?;
        a.mov(ebx, 7)?;
        Ok(())
    });
    cpu.watch_stores(WATCHED, true);
    assert_eq!(cpu.run(100), Exit::WatchedStore);
    assert_eq!(cpu.mem().read_u32(WATCHED + 0x10).unwrap(), 0x1234, "the store itself happened");
    assert_eq!(cpu.reg(Reg::Ebx), 0, "nothing after it ran");
    // EIP is at the instruction after the store: 5 bytes of mov eax + 5 of the store.
    assert_eq!(cpu.eip(), CODE + 10);
    assert_eq!(cpu.run(100), DONE);
    assert_eq!(cpu.reg(Reg::Ebx), 7);
    assert!(code.len() > 10);
}

#[test]
fn read_modify_write_and_string_stores_to_a_watched_page_are_reported_too() {
    let mut cpu = machine(1);
    program(&mut cpu, |a| {
        a.add(dword_ptr(WATCHED), 1)?;
        a.mov(edi, WATCHED + 0x20)?;
        a.stosd()?;
        Ok(())
    });
    cpu.watch_stores(WATCHED, true);
    assert_eq!(cpu.run(100), Exit::WatchedStore, "add to memory");
    assert_eq!(cpu.run(100), Exit::WatchedStore, "stosd");
    assert_eq!(cpu.run(100), DONE);
    assert_eq!(cpu.mem().read_u32(WATCHED).unwrap(), 1);
}

#[test]
fn loads_and_stores_elsewhere_do_not_stop_a_watching_cpu() {
    let mut cpu = machine(1);
    program(&mut cpu, |a| {
        a.mov(eax, dword_ptr(WATCHED))?;
        a.mov(dword_ptr(WATCHED + 0x1000), eax)?;
        Ok(())
    });
    cpu.watch_stores(WATCHED, true);
    assert_eq!(cpu.run(100), DONE);
}

#[test]
fn unwatching_a_page_lets_stores_through_without_stopping() {
    let mut cpu = machine(1);
    program(&mut cpu, |a| {
        a.mov(dword_ptr(WATCHED), 5)?;
        a.mov(dword_ptr(WATCHED + 4), 6)?;
        Ok(())
    });
    cpu.watch_stores(WATCHED, true);
    // A first run caches the page's translation while it is watched...
    assert_eq!(cpu.run(100), Exit::WatchedStore);
    cpu.watch_stores(WATCHED, false);
    assert_eq!(cpu.run(100), DONE);
    assert_eq!(cpu.mem().read_u32(WATCHED + 4).unwrap(), 6);
    // ...and watching again applies to translations already in the TLB.
    cpu.set_eip(CODE);
    cpu.watch_stores(WATCHED, true);
    assert_eq!(cpu.run(100), Exit::WatchedStore);
}
