//! The Launcher as a user meets it: booting guests, exit statuses, death messages,
//! usage errors and `--trace hcalls`.

mod common;
use common::*;

#[test]
fn hello_boots_prints_and_powers_off_with_status_0() {
    let r = run_guest("hello", &["--cmdline", "quiet loglevel=3"]);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    assert!(r.stdout.contains("hello: this is a Rust Guest of lguest"), "stdout: {}", r.stdout);
    assert!(r.stdout.contains("hello: command line \"quiet loglevel=3\""), "stdout: {}", r.stdout);
    assert!(r.stdout.contains("64 MiB of RAM"), "stdout: {}", r.stdout);
    assert!(r.stdout.contains("reserve_mem 0x400000"), "stdout: {}", r.stdout);
    assert!(r.stdout.contains("tsc 1000000 kHz"), "stdout: {}", r.stdout);
    assert!(r.stdout.ends_with("hello: done\n"), "stdout: {}", r.stdout);
    assert!(r.stderr.is_empty(), "a power off prints nothing on stderr: {}", r.stderr);
}

#[test]
fn async_hypercalls_run_in_order_before_the_next_synchronous_one() {
    let r = run_guest("hello", &[]);
    let a1 = r.stdout.find("hello: async 1 of 3").expect("first async line");
    let a2 = r.stdout.find("hello: async 2 of 3").expect("second async line");
    let a3 = r.stdout.find("hello: async 3 of 3").expect("third async line");
    let done = r.stdout.find("hello: async hypercalls done").expect("sync line");
    assert!(a1 < a2 && a2 < a3 && a3 < done, "stdout: {}", r.stdout);
}

#[test]
fn the_wall_clock_is_the_hosts() {
    let r = run_guest("hello", &[]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let line = r.stdout.lines().find(|l| l.contains("wall clock says")).expect("clock line");
    let secs: u64 = line.split_whitespace().nth(5).and_then(|s| s.parse().ok()).expect("seconds");
    assert!(secs.abs_diff(now) < 60, "guest says {secs}, host says {now}");
}

#[test]
fn guest_memory_size_follows_mem() {
    let r = run_guest("hello", &["--mem", "16M"]);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    assert!(r.stdout.contains("16 MiB of RAM"), "stdout: {}", r.stdout);
}

#[test]
fn a_full_async_ring_falls_back_to_a_synchronous_call_and_loses_nothing() {
    let r = run_guest("flood_async", &[]);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    let mut last = 0;
    for i in 0..200 {
        let at = r
            .stdout
            .find(&format!("flood_async: call {i:03}\n"))
            .unwrap_or_else(|| panic!("line {i} missing"));
        assert!(at > last, "line {i} out of order");
        last = at;
    }
    assert!(r.stdout.contains("the console took 200 of 200 lines whole"), "stdout: {}", r.stdout);
}

#[test]
fn the_embedded_default_guest_boots_with_no_arguments() {
    let r = run_cmd(lguest());
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    assert!(!r.stdout.is_empty());
}

// ---- how guests end ----

#[test]
fn a_guest_crash_exits_1_with_its_message() {
    let r = run_guest("crash", &[]);
    assert_eq!(r.status, 1);
    assert_eq!(r.last_err_line(), "lguest: guest crashed: crash: this Guest gave up on purpose");
}

#[test]
fn a_guest_panic_crashes_with_the_panic_message_and_location() {
    let r = run_guest("panic", &[]);
    assert_eq!(r.status, 1);
    assert!(
        r.last_err_line().starts_with("lguest: guest crashed: panicked at misbehave/src/bin/panic.rs:"),
        "{}",
        r.stderr
    );
    assert!(r.last_err_line().ends_with("the answer was 41, not 42"), "{}", r.stderr);
}

/// Sudden Death: status 2 and one line naming what the guest did, and where.
fn assert_killed(r: &Run, reason: &str) {
    assert_eq!(r.status, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let line = r.last_err_line();
    assert!(line.starts_with(&format!("lguest: killed guest: {reason} at eip=0x")), "got: {line}");
    assert_eq!(r.stderr.lines().count(), 1, "exactly one line on stderr: {}", r.stderr);
}

#[test]
fn an_unknown_hypercall_kills_the_guest_and_names_it() {
    assert_killed(&run_guest("bad_hypercall", &[]), "unknown hypercall 99");
}

#[test]
fn lguest_init_with_an_address_outside_ram_is_sudden_death() {
    assert_killed(&run_guest("bad_init_address", &[]), "bad address 0x5000000 (+0x460) for lguest_data");
}

#[test]
fn crash_with_a_message_outside_ram_is_sudden_death() {
    assert_killed(
        &run_guest("bad_crash_address", &[]),
        "bad address 0x5000000 (+0x1) for LHCALL_CRASH message",
    );
}

#[test]
fn a_second_lguest_init_is_sudden_death() {
    assert_killed(&run_guest("second_init", &[]), "second LHCALL_LGUEST_INIT (already have lguest_data)");
}

#[test]
fn privileged_instructions_at_cpl_1_are_sudden_death() {
    for (which, text) in [
        ("cli", "cli"),
        ("sti", "sti"),
        ("hlt", "hlt"),
        ("cr3", "mov %eax,%cr3"),
        ("lidt", "lidt"),
        ("in", "in"),
    ] {
        let r = run_guest("privileged", &["--cmdline", which]);
        assert_eq!(r.status, 2, "{which}: {}", r.stderr);
        let line = r.last_err_line();
        assert!(
            line.starts_with(&format!("lguest: killed guest: privileged instruction `{text}")),
            "{which}: {line}"
        );
    }
}

#[test]
fn unhandled_traps_are_sudden_death_naming_the_trap() {
    for (which, what) in [
        ("ud2", "unhandled trap #UD on `ud2`"),
        ("div0", "unhandled trap #DE on `div"),
        ("int3", "unhandled trap int 0x3"),
        ("pf", "unhandled trap #PF(0x"),
    ] {
        let r = run_guest("unhandled_trap", &["--cmdline", which]);
        assert_eq!(r.status, 2, "{which}: {}", r.stderr);
        assert!(
            r.last_err_line().starts_with(&format!("lguest: killed guest: {what}")),
            "{which}: {}",
            r.stderr
        );
    }
}

#[test]
fn touching_memory_beyond_guest_ram_is_sudden_death() {
    assert_killed(
        &run_guest("outside_ram", &[]),
        "bad page table: page table entry 0x5000003 for virtual 0xa0000000 names guest-physical 0x5000000, \
         outside guest memory",
    );
}

#[test]
fn halting_with_nothing_to_wake_the_guest_exits_instead_of_hanging() {
    assert_killed(&run_guest("halt_forever", &[]), "halted with nothing that could ever wake it");
}

#[test]
fn the_eip_of_a_killing_hypercall_is_the_int_instruction() {
    let r = run_guest("bad_hypercall", &[]);
    let eip =
        r.last_err_line().rsplit("eip=0x").next().and_then(|h| u32::from_str_radix(h, 16).ok()).unwrap();
    let elf = images::by_name("bad_hypercall").unwrap().elf();
    // Find the instruction bytes at that virtual address in the ELF: `int $0x1f` is CD 1F.
    let (phoff, phnum) = (u32le(elf, 28) as usize, u16::from_le_bytes([elf[44], elf[45]]) as usize);
    let found = (0..phnum).map(|i| &elf[phoff + i * 32..]).any(|ph| {
        let (off, vaddr, filesz) = (u32le(ph, 4), u32le(ph, 8), u32le(ph, 16));
        eip >= vaddr && eip + 2 <= vaddr + filesz && {
            let at = (off + eip - vaddr) as usize;
            elf[at..at + 2] == [0xCD, 0x1F]
        }
    });
    assert!(found, "eip {eip:#x} is not an int $0x1f");
}

fn u32le(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

// ---- tracing ----

#[test]
fn trace_hcalls_shows_every_hypercall_and_marks_async_ones() {
    let r = run_guest("hello", &["--trace", "hcalls"]);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(lines[0].starts_with("hcall LHCALL_LGUEST_INIT lguest_data=0x"), "{}", r.stderr);
    assert!(lines.iter().any(|l| l.starts_with("hcall LHCALL_SEND_DMA [async] edx=0x0")), "{}", r.stderr);
    assert!(lines.iter().any(|l| l.starts_with("hcall LHCALL_SEND_DMA edx=0x0")), "{}", r.stderr);
    assert!(lines.iter().any(|l| l.starts_with("hcall LHCALL_GET_WALLCLOCK")), "{}", r.stderr);
    assert!(lines.last().unwrap().starts_with("hcall LHCALL_CRASH"), "{}", r.stderr);
    // Tracing goes to stderr only: the console output is unchanged.
    assert!(r.stdout.ends_with("hello: done\n"));
}

// ---- usage errors ----

fn assert_usage_error(r: &Run, needle: &str) {
    assert_eq!(r.status, 64, "stderr: {}", r.stderr);
    assert!(r.stderr.contains(needle), "expected {needle:?} in: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn a_missing_kernel_file_is_a_usage_error() {
    let mut cmd = lguest();
    cmd.args(["run", "/nonexistent/kernel.elf"]);
    assert_usage_error(&run_cmd(cmd), "lguest: cannot read /nonexistent/kernel.elf: No such file");
}

#[test]
fn a_file_that_is_not_elf_is_a_usage_error() {
    let p = temp_file("not-elf", b"#!/bin/sh\necho hi\n");
    let mut cmd = lguest();
    cmd.arg("run").arg(&p);
    assert_usage_error(&run_cmd(cmd), "not an ELF file");
}

#[test]
fn a_64_bit_elf_is_a_usage_error() {
    let mut cmd = lguest();
    cmd.args(["run", "/bin/true"]);
    assert_usage_error(&run_cmd(cmd), "a 64-bit ELF file; the Guest must be a 32-bit x86 kernel");
}

#[test]
fn a_segment_beyond_guest_memory_is_a_usage_error() {
    // hello, with its first loadable segment moved to guest-physical 0x7000000 (112 MiB).
    let mut elf = images::HELLO.elf().to_vec();
    let phoff = u32le(&elf, 28) as usize;
    let ph = (0..u16::from_le_bytes([elf[44], elf[45]]) as usize)
        .map(|i| phoff + i * 32)
        .find(|&at| u32le(&elf, at) == 1)
        .unwrap();
    elf[ph + 12..ph + 16].copy_from_slice(&0x0700_0000u32.to_le_bytes());
    let p = temp_file("far-segment", &elf);
    let mut cmd = lguest();
    cmd.arg("run").arg(&p);
    assert_usage_error(&run_cmd(cmd), "does not fit in guest RAM below");
}

#[test]
fn too_little_memory_is_a_usage_error() {
    assert_usage_error(&run_guest("hello", &["--mem", "1M"]), "memory size 0x100000 is too small");
}

#[test]
fn too_much_memory_is_a_usage_error() {
    assert_usage_error(&run_guest("hello", &["--mem", "4G"]), "is too large");
}

#[test]
fn a_malformed_size_is_a_usage_error() {
    assert_usage_error(&run_guest("hello", &["--mem", "lots"]), "'lots' is not a size");
}

#[test]
fn an_unknown_option_is_a_usage_error_with_usage() {
    let mut cmd = lguest();
    cmd.args(["run", "--frobnicate"]);
    let r = run_cmd(cmd);
    assert_usage_error(&r, "unexpected argument '--frobnicate'");
    assert!(r.stderr.contains("Usage:"), "{}", r.stderr);
}

#[test]
fn help_describes_the_commands_and_exit_statuses() {
    let mut cmd = lguest();
    cmd.arg("--help");
    let r = run_cmd(cmd);
    assert_eq!(r.status, 0);
    assert!(r.stdout.contains("run"), "{}", r.stdout);
    assert!(r.stdout.contains("Exit status"), "{}", r.stdout);
}
