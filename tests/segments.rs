//! LHCALL_LOAD_GDT and LHCALL_LOAD_TLS, as `conform_segments` checks them with `lar`
//! and `lsl` from inside the Guest.

mod common;
mod conform;
use conform::{dies, passes};

#[test]
fn a_ring_0_descriptor_comes_back_as_ring_1_with_the_accessed_bit() {
    passes("conform_segments", "gdt_ring0");
}

#[test]
fn a_flat_4g_segment_has_its_limit_cut_below_the_reserved_top() {
    assert!(passes("conform_segments", "gdt_limit").contains("cut to 0xffbfffff"));
}

#[test]
fn the_hosts_own_gdt_entries_are_skipped() {
    passes("conform_segments", "gdt_host_entries");
}

#[test]
fn load_tls_installs_three_entries_and_reloads_segment_registers() {
    passes("conform_segments", "tls");
}

#[test]
fn a_system_descriptor_in_the_gdt_is_sudden_death() {
    dies("conform_segments", "gdt_system", "bad GDT: GDT entry 20");
}

#[test]
fn a_segment_based_in_the_reserved_top_of_memory_is_sudden_death() {
    dies("conform_segments", "gdt_reserved_base", "base 0xffc01000 is inside the reserved top of memory");
}

#[test]
fn a_system_descriptor_in_the_tls_entries_is_sudden_death() {
    dies("conform_segments", "tls_system", "bad GDT: GDT entry 7");
}
