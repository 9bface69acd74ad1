//! Trap reflection, as `conform_traps` and `conform_idt` check it from inside the Guest:
//! the frame the hardware would push (EFLAGS, CS, EIP, error code), EIP at a fault and
//! past a trap, cr2 for #PF, nesting, gate types, and the gates a Guest may not load.

mod common;
mod conform;
use conform::{dies, passes};

fn traps(variant: &str) -> String {
    passes("conform_traps", variant)
}

#[test]
fn divide_error_is_reflected_at_the_div_without_an_error_code() {
    traps("de");
}

#[test]
fn invalid_opcode_is_reflected_at_the_ud2() {
    traps("ud");
}

#[test]
fn a_bad_segment_selector_is_a_general_protection_fault_with_the_selector_as_error_code() {
    traps("gp_selector");
}

#[test]
fn int_to_a_dpl_0_gate_from_the_kernel_is_a_general_protection_fault_naming_the_vector() {
    traps("gp_int");
}

#[test]
fn a_privileged_instruction_is_reflected_as_gp_0_when_the_guest_has_a_handler() {
    traps("gp_privileged");
}

#[test]
fn a_kernel_read_of_an_unmapped_page_is_pf_0_with_cr2_in_lguest_data() {
    assert!(traps("pf_read").contains("cr2 0xa0000000"));
}

#[test]
fn a_kernel_write_to_an_unmapped_page_is_pf_2_with_cr2() {
    assert!(traps("pf_write").contains("cr2 0xa0000ffc"));
}

#[test]
fn int3_is_a_trap_with_eip_past_it() {
    traps("int3");
}

#[test]
fn int3_through_a_gate_of_higher_privilege_is_gp_at_the_one_byte_int3() {
    traps("int3_gp");
}

#[test]
fn into_with_overflow_is_a_trap_with_eip_past_it() {
    traps("into");
}

#[test]
fn int_n_reaches_a_dpl_1_gate_from_the_kernel() {
    traps("int_n");
}

#[test]
fn int_to_a_vector_without_a_gate_is_not_present_naming_the_vector() {
    traps("np");
}

#[test]
fn the_ts_hypercall_sets_cr0_ts_and_x87_instructions_raise_nm() {
    traps("nm");
}

#[test]
fn a_fault_inside_a_handler_pushes_a_nested_frame_below_the_first() {
    traps("nested");
}

#[test]
fn every_register_is_in_the_trap_frame_and_survives_the_return() {
    traps("registers");
}

#[test]
fn a_trap_gate_leaves_interrupts_enabled() {
    passes("conform_idt", "trap_gate");
}

#[test]
fn an_interrupt_gate_clears_irq_enabled_and_the_return_path_restores_it() {
    passes("conform_idt", "interrupt_gate");
}

#[test]
fn the_pushed_eflags_has_no_if_when_irq_enabled_is_0() {
    passes("conform_idt", "flags_off");
}

#[test]
fn a_not_present_gate_removes_the_vector() {
    passes("conform_idt", "not_present");
}

#[test]
fn a_gate_for_the_hypercall_vector_is_ignored() {
    passes("conform_idt", "hypercall_vector");
}

#[test]
fn a_task_gate_is_sudden_death() {
    dies("conform_idt", "task_gate", "bad IDT entry: vector 0x40 has gate type 0x5");
}

#[test]
fn a_call_gate_is_sudden_death() {
    dies("conform_idt", "call_gate", "bad IDT entry: vector 0x40 has gate type 0xc");
}

#[test]
fn set_stack_with_the_kernel_data_segment_is_accepted() {
    passes("conform_stack", "good");
}

#[test]
fn set_stack_with_a_ring_0_segment_is_sudden_death() {
    dies("conform_stack", "ring0_segment", "bad stack: stack segment 0x68 is not a ring-1 selector");
}

#[test]
fn set_stack_with_a_ring_3_segment_is_sudden_death() {
    dies("conform_stack", "ring3_segment", "bad stack: stack segment 0x7b is not a ring-1 selector");
}

#[test]
fn set_stack_on_an_unmapped_page_is_sudden_death() {
    dies("conform_stack", "unmapped", "bad stack: stack page at 0xa0000fff is not mapped writable");
}

#[test]
fn set_stack_with_more_than_two_pages_is_sudden_death() {
    dies("conform_stack", "too_many_pages", "bad stack: 3 stack pages (at most 2)");
}
