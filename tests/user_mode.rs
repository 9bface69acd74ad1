//! User mode, as `conform_user` checks it: system calls through a DPL-3 gate, traps and
//! interrupts from ring 3 arriving with SS:ESP on the SET_STACK stack, and the ways a
//! user program is kept from the Host and from the kernel.

mod common;
mod conform;
use conform::passes;

fn user(variant: &str) -> String {
    passes("conform_user", variant)
}

#[test]
fn a_system_call_through_a_dpl_3_gate_round_trips_with_a_result() {
    assert!(user("syscall").contains("SS:ESP 0x7b:0x800000"));
}

#[test]
fn a_system_call_the_cpu_delivers_itself_leaves_the_frame_the_host_would() {
    user("syscall_direct");
}

#[test]
fn a_hypercall_from_user_mode_is_reflected_as_gp_0xfa() {
    user("hcall");
}

#[test]
fn int_from_user_mode_to_a_dpl_1_gate_is_gp() {
    user("int_dpl1");
}

#[test]
fn int3_from_user_mode_to_a_dpl_1_gate_is_gp_at_the_int3() {
    user("int3_dpl1");
}

#[test]
fn int3_from_user_mode_to_a_dpl_3_gate_is_a_breakpoint() {
    user("int3_dpl3");
}

#[test]
fn int_from_user_mode_to_a_missing_gate_is_not_present() {
    user("np");
}

#[test]
fn a_user_read_of_an_unmapped_page_is_pf_4_with_cr2() {
    assert!(user("pf_unmapped").contains("cr2 0xa00000"));
}

#[test]
fn a_user_write_to_a_read_only_page_is_pf_7() {
    user("pf_read_only");
}

#[test]
fn a_user_read_of_a_kernel_page_is_pf_5() {
    assert!(user("pf_supervisor").contains("cr2 0xc0100000"));
}

#[test]
fn a_privileged_instruction_in_user_mode_is_reflected_as_gp_0() {
    user("privileged");
}

#[test]
fn a_clock_interrupt_in_user_mode_arrives_on_the_kernel_stack_with_ss_esp() {
    user("irq");
}
