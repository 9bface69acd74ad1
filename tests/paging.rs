//! The page-table hypercalls over the Host's shadow page tables, as `conform_paging`
//! checks them from inside the Guest.

mod common;
mod conform;
use conform::{dies, passes};

fn paging(variant: &str) -> String {
    passes("conform_paging", variant)
}

#[test]
fn set_pte_makes_a_new_mapping_visible_and_a_zero_pte_removes_it() {
    paging("set_pte");
}

#[test]
fn new_pgtable_switches_between_two_address_spaces() {
    paging("new_pgtable");
}

#[test]
fn set_pmd_makes_a_replaced_page_directory_entry_take_effect() {
    paging("set_pmd");
}

#[test]
fn flush_tlb_makes_an_unannounced_user_pte_change_seen() {
    paging("flush_tlb");
}

#[test]
fn flush_tlb_with_kernel_set_makes_an_unannounced_kernel_pte_change_seen() {
    paging("flush_tlb_kernel");
}

#[test]
fn set_pte_of_a_kernel_address_applies_to_every_page_directory() {
    paging("kernel_everywhere");
}

#[test]
fn page_table_updates_batched_in_the_async_ring_are_all_seen_after_the_flush() {
    paging("lazy");
}

#[test]
fn kernel_page_faults_carry_the_error_code_the_guests_tables_imply() {
    paging("pf_error_codes");
}

#[test]
fn set_pte_naming_memory_outside_the_guest_is_sudden_death() {
    dies("conform_paging", "pte_outside_ram", "bad page table: page table entry 0x8000023");
}

#[test]
fn using_a_pte_naming_memory_outside_the_guest_is_sudden_death() {
    dies("conform_paging", "pte_outside_ram_access", "names guest-physical 0x8000000, outside guest memory");
}

#[test]
fn a_mapping_in_the_reserved_top_of_memory_is_sudden_death() {
    dies(
        "conform_paging",
        "reserved_pte",
        "bad page table: mapping 0xffc00000, in the reserved top of memory",
    );
}

#[test]
fn a_page_directory_entry_for_the_reserved_top_of_memory_is_sudden_death() {
    dies("conform_paging", "reserved_pmd", "page directory entry 1023 covers the reserved top of memory");
}
