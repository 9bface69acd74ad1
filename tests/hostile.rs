//! The hostile-guest suite: Guests (`guests/hostile`) that try to escape or starve the
//! Host, one attack per test. Each attack must end in Sudden Death — status 2 and one
//! line saying what the Guest did — or be contained: the Guest keeps running, sees only
//! what the ABI allows, and the Launcher stays responsive (a SIGTERM stops it at once)
//! and uses no more than its one core.
//!
//! Tests synchronise on the lines the Guests print, with timeouts; the only waits that
//! are not for output are the windows over which CPU time is measured.

mod common;
mod conform;
use common::session::Session;
use common::{Run, guest_path, lguest, run_guest};
use conform::{dies, passes};
use std::time::{Duration, Instant};

/// How long a Launcher may take to stop after SIGTERM.
const PROMPTLY: Duration = Duration::from_secs(2);

/// A Launcher running hostile Guest `bin` with `--cmdline VARIANT` in the background: its
/// stdin is ours to type into, its output is collected as it comes.
fn start(bin: &str, variant: &str) -> Session {
    let mut cmd = lguest();
    cmd.arg("run").arg(guest_path(bin)).args(["--cmdline", variant]);
    Session::piped(cmd)
}

/// SIGTERM, and insist the Launcher stops cleanly and promptly.
fn stop_with_sigterm(l: Session) -> Run {
    l.signal(libc::SIGTERM);
    let (run, took) = l.finish_within(PROMPTLY);
    println!("stopped {:.1} ms after SIGTERM", took.as_secs_f64() * 1e3);
    assert_eq!(run.status, 130, "status after SIGTERM\n{}{}", run.stdout, run.stderr);
    assert_eq!(run.stderr.trim_end(), "lguest: stopped: SIGTERM to the Launcher", "stderr");
    run
}

/// Insist the Launcher ended in Sudden Death saying `why`, in one line.
fn assert_killed(run: &Run, why: &str) {
    assert_eq!(run.status, 2, "not killed:\n{}{}", run.stdout, run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line on stderr: {}", run.stderr);
    let last = run.last_err_line();
    assert!(
        last.starts_with("lguest: killed guest: ") && last.contains(why),
        "death message {last:?}, wanted {why:?}"
    );
}

/// Run a console-input variant of `hostile_dma`: wait until it has bound its buffer, type
/// `input`, and wait for it to end.
fn with_console_input(variant: &str, input: &[u8]) -> Run {
    let mut l = start("hostile_dma", variant);
    l.wait_for_line("waiting");
    l.send(input);
    l.finish()
}

// ---- page tables and the reserved region (hostile_mmu) ----

#[test]
fn a_pte_naming_memory_beyond_ram_is_sudden_death_when_announced() {
    dies(
        "hostile_mmu",
        "pte_outside_ram",
        "page table entry 0x5000003 for virtual 0xa0000000 names guest-physical 0x5000000, outside guest memory",
    );
}

#[test]
fn an_unannounced_pte_beyond_ram_is_never_used_and_its_refill_is_sudden_death() {
    let r = run_guest("hostile_mmu", &["--cmdline", "stale_pte_outside_ram"]);
    assert!(r.stdout.contains("the old page still reads 0x5eed"), "{}", r.stdout);
    assert_killed(
        &r,
        "page table entry 0x5000063 for virtual 0xa0000000 names guest-physical 0x5000000, outside guest memory",
    );
}

#[test]
fn a_page_table_beyond_ram_is_sudden_death() {
    dies(
        "hostile_mmu",
        "pde_outside_ram",
        "page directory entry 0x5000027 for virtual 0xa0400000 names guest-physical 0x5000000",
    );
}

#[test]
fn a_4_mib_page_is_sudden_death() {
    dies("hostile_mmu", "pde_large_page", "uses unsupported flags (4 MiB pages?)");
}

#[test]
fn announcing_a_mapping_of_the_reserved_region_is_sudden_death() {
    dies(
        "hostile_mmu",
        "set_pte_reserved",
        "bad page table: mapping 0xffc00000, in the reserved top of memory",
    );
}

#[test]
fn announcing_a_page_table_for_the_reserved_region_is_sudden_death() {
    dies("hostile_mmu", "set_pmd_reserved", "page directory entry 1023 covers the reserved top of memory");
}

#[test]
fn reading_the_reserved_region_mapped_by_the_guests_own_tables_is_a_general_protection_fault() {
    passes("hostile_mmu", "reserved_unannounced");
}

#[test]
fn making_the_host_touch_the_reserved_region_through_set_stack_is_sudden_death() {
    dies("hostile_mmu", "set_stack_in_reserved", "access to the reserved top of memory at 0xffc00fff");
}

#[test]
fn new_pgtable_beyond_ram_is_sudden_death() {
    dies("hostile_mmu", "new_pgtable_outside_ram", "page directory 0x5000000 is not a page of guest memory");
}

// ---- descriptors, far transfers and returns (hostile_segments) ----

#[test]
fn a_far_jump_with_rpl_0_to_a_ring_0_code_segment_runs_at_cpl_1() {
    passes("hostile_segments", "ring0_code");
}

#[test]
fn a_conforming_ring_0_segment_runs_at_cpl_1_even_when_the_host_reloads_cs_from_it() {
    passes("hostile_segments", "conforming_ring0");
}

#[test]
fn retf_and_iret_frames_naming_ring_0_or_the_hosts_entries_are_general_protection_faults() {
    passes("hostile_segments", "crafted_returns");
}

#[test]
fn far_jumps_calls_and_segment_loads_to_odd_selectors_are_general_protection_faults() {
    passes("hostile_segments", "far_odd_selectors");
}

#[test]
fn code_segments_are_cut_below_the_reserved_region_and_jumps_past_the_cut_fault() {
    passes("hostile_segments", "code_reaching_reserved");
}

#[test]
fn a_code_segment_based_in_the_reserved_region_is_sudden_death() {
    dies("hostile_segments", "code_base_in_reserved", "base 0xffc00000 is inside the reserved top of memory");
}

#[test]
fn an_expand_down_segment_reaching_the_reserved_region_is_sudden_death() {
    dies(
        "hostile_segments",
        "expand_down_reaching_reserved",
        "an expand-down segment would reach the reserved top",
    );
}

#[test]
fn load_gdt_with_too_many_entries_is_sudden_death() {
    dies("hostile_segments", "gdt_too_many", "too many GDT entries (4294967295, at most 32)");
}

#[test]
fn load_gdt_from_beyond_ram_is_sudden_death() {
    dies("hostile_segments", "gdt_outside_ram", "bad address 0x5000000 (+0x80) for GDT");
}

#[test]
fn load_gdt_emptying_the_code_segment_in_use_is_sudden_death() {
    dies("hostile_segments", "gdt_unloads_kernel_cs", "cs (selector 0x61) no longer names a usable segment");
}

#[test]
fn a_ring_0_tls_entry_comes_back_ring_1_and_is_usable() {
    passes("hostile_segments", "tls_ring0");
}

#[test]
fn user_mode_reaching_for_the_kernels_segments_gets_general_protection_faults() {
    passes("hostile_segments", "user_to_kernel");
}

#[test]
fn an_expand_down_tls_entry_reaching_the_reserved_region_is_sudden_death() {
    dies("hostile_segments", "tls_expand_down", "GDT entry 6");
}

#[test]
fn load_tls_from_beyond_ram_is_sudden_death() {
    dies("hostile_segments", "tls_outside_ram", "bad address 0x5000000 (+0x18) for TLS");
}

// ---- stacks (hostile_stack) ----

#[test]
fn set_stack_on_unmapped_memory_is_sudden_death() {
    dies("hostile_stack", "set_stack_unmapped", "bad stack: stack page at 0xa0000fff is not mapped writable");
}

#[test]
fn set_stack_on_read_only_memory_is_sudden_death() {
    dies(
        "hostile_stack",
        "set_stack_read_only",
        "bad stack: stack page at 0xa0400fff is not mapped writable",
    );
}

#[test]
fn a_set_stack_selector_beyond_the_gdt_is_sudden_death_at_the_first_trap_from_user_mode() {
    dies("hostile_stack", "set_stack_bad_segment", "bad stack: stack segment 0xfff9 is not a usable segment");
}

#[test]
fn a_kernel_stack_made_read_only_after_set_stack_is_sudden_death_at_the_next_trap() {
    dies("hostile_stack", "kernel_stack_made_read_only", "int 0x80: the stack at 0xc0");
}

#[test]
fn a_stack_topped_at_the_segment_limit_takes_pushes_and_trap_frames() {
    passes("hostile_stack", "stack_at_segment_top");
}

#[test]
fn a_push_past_the_segment_limit_is_sudden_death() {
    dies(
        "hostile_stack",
        "stack_past_segment_top",
        "#SS(0x0): the stack at 0xffc00004 is not mapped writable",
    );
}

// ---- time (hostile_time) ----

#[test]
fn a_0_ns_timer_in_a_loop_keeps_the_guest_running_and_sigterm_stops_it_at_once() {
    let l = start("hostile_time", "timer_zero_loop");
    l.wait_for_line("100000 calls");
    l.wait_for_line("500000 calls");
    stop_with_sigterm(l);
}

#[test]
fn a_100_ns_timer_in_a_loop_and_on_every_tick_keeps_ticking_and_sigterm_stops_it_at_once() {
    let l = start("hostile_time", "timer_min_loop");
    l.wait_for_line("20000 calls");
    let later = l.wait_for_line("100000 calls");
    let ticks: u64 =
        later.split(", ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(ticks > 0, "no clock ticks in {later:?}");
    stop_with_sigterm(l);
}

#[test]
fn spinning_with_interrupts_off_uses_one_core_and_sigterm_stops_it_at_once() {
    let l = start("hostile_time", "spin_irqs_off");
    l.wait_for_line("spinning with interrupts off");
    let (cpu0, t0) = (l.cpu_seconds(), Instant::now());
    // A measurement window, not synchronisation.
    std::thread::sleep(Duration::from_secs(1));
    let (cpu, wall) = (l.cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
    println!("spinning Launcher: {cpu:.2} s CPU in {wall:.2} s");
    assert!(cpu <= wall * 1.15, "the Launcher used {cpu:.2} s of CPU in {wall:.2} s: more than one core");
    stop_with_sigterm(l);
}

#[test]
fn another_launcher_runs_to_completion_beside_one_spinning_with_interrupts_off() {
    let l = start("hostile_time", "spin_irqs_off");
    l.wait_for_line("spinning with interrupts off");
    let r = run_guest("hello", &[]);
    assert_eq!(r.status, 0, "hello beside a spinning Guest:\n{}{}", r.stdout, r.stderr);
    stop_with_sigterm(l);
}

#[test]
fn halt_with_interrupts_off_and_no_timer_is_sudden_death_not_a_hang() {
    dies("hostile_time", "halt_irqs_off", "halted with nothing that could ever wake it");
}

#[test]
fn halt_with_the_clock_irq_blocked_is_sudden_death_once_the_timer_has_fired() {
    dies("hostile_time", "halt_clock_blocked", "halted with nothing that could ever wake it");
}

// ---- the async ring (hostile_ring) ----

#[test]
fn two_hundred_thousand_async_calls_all_complete() {
    passes("hostile_ring", "async_flood");
}

#[test]
fn forged_full_rings_each_run_in_one_flush() {
    passes("hostile_ring", "forged_ring");
}

#[test]
fn an_unknown_call_in_the_async_ring_is_sudden_death() {
    dies("hostile_ring", "async_invalid", "unknown hypercall 2147483647");
}

// ---- DMA (hostile_dma) ----

#[test]
fn console_input_over_the_page_directory_is_sudden_death_at_the_next_use_of_the_clobbered_entry() {
    let r = with_console_input("into_page_directory", b"AAAAAAAAAAAAAAAA");
    assert!(r.stdout.contains("entry 0 is now 0x41414141"), "{}", r.stdout);
    assert_killed(
        &r,
        "page directory entry 0x41414141 for virtual 0x100000 names guest-physical 0x41414000, outside guest memory",
    );
}

#[test]
fn console_input_over_the_async_ring_is_sudden_death_at_the_next_hypercall() {
    let r = with_console_input("into_lguest_data", &[b'x'; 1088]);
    assert_killed(&r, "unknown hypercall 2021161080");
}

#[test]
fn console_input_over_the_device_page_changes_only_guest_memory() {
    let r = with_console_input("into_device_page", b"ZZZZZZZZZZZZZZZZ");
    assert_eq!(r.status, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("ok 16 bytes of input landed in the device page, which now starts 0x5a5a5a5a"),
        "{}",
        r.stdout
    );
}

#[test]
fn console_input_over_the_guests_code_runs_as_the_new_code() {
    // movl $2, %eax; ret
    let r = with_console_input("into_own_code", &[0xB8, 0x02, 0x00, 0x00, 0x00, 0xC3]);
    assert_eq!(r.status, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("the function returns 2"), "{}", r.stdout);
}

#[test]
fn bind_dma_with_a_huge_count_is_sudden_death() {
    dies("hostile_dma", "huge_count", "for BIND_DMA buffer array");
}

#[test]
fn thirty_two_overlapping_bindings_fit_and_the_thirty_third_is_refused() {
    passes("hostile_dma", "many_bindings");
}

#[test]
fn a_send_to_a_key_only_the_guest_bound_is_taken_by_nobody() {
    passes("hostile_dma", "send_to_self");
}

// ---- storms (hostile_storms) ----

#[test]
fn code_rewriting_itself_in_a_loop_always_runs_its_latest_version() {
    passes("hostile_storms", "smc_loop");
}

#[test]
fn a_store_into_the_next_instruction_takes_effect() {
    passes("hostile_storms", "smc_next_instruction");
}

#[test]
fn rep_stosb_over_the_instructions_after_it_takes_effect() {
    passes("hostile_storms", "smc_rep_stos");
}

#[test]
fn code_rewritten_through_another_virtual_address_runs_its_latest_version() {
    passes("hostile_storms", "smc_alias");
}

#[test]
fn rewriting_the_second_page_of_a_page_straddling_instruction_takes_effect() {
    passes("hostile_storms", "smc_cross_page");
}

#[test]
fn a_code_page_remapped_with_set_pte_runs_the_frame_now_mapped() {
    passes("hostile_storms", "remap_code");
}

#[test]
fn two_hundred_thousand_int3_traps_are_each_delivered_once() {
    passes("hostile_storms", "trap_storm");
}

#[test]
fn a_hundred_thousand_page_faults_are_each_reflected() {
    passes("hostile_storms", "page_fault_storm");
}

#[test]
fn twenty_thousand_tlb_flushes_each_refill_on_the_next_touch() {
    passes("hostile_storms", "demand_fault_storm");
}
