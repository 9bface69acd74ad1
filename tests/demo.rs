//! The demo Guest OS (`guests/demo`), the kernel `cargo run --release` boots: user tasks
//! in their own address spaces, preempted by the clock, making system calls; one of them
//! killed for a fault while the others finish; a summary; power off.

mod common;
use common::{Run, lguest, run_cmd, run_guest};
use std::sync::OnceLock;

/// One run of the demo, shared by the tests that only look at its console.
fn demo() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| run_guest("demo", &[]))
}

/// The console lines that start with `prefix`, by line number.
fn lines_of<'a>(out: &'a str, prefix: &str) -> Vec<(usize, &'a str)> {
    out.lines().enumerate().filter(|(_, l)| l.starts_with(prefix)).collect()
}

/// The number just before `what` in the summary line, e.g. "12 timer ticks".
fn summary_count(out: &str, what: &str) -> u64 {
    let summary = out.lines().find(|l| l.starts_with("demo: summary:")).expect("a summary line");
    let before = &summary[..summary.find(what).unwrap_or_else(|| panic!("no {what} in {summary}"))];
    before.trim_end().rsplit(' ').next().and_then(|n| n.parse().ok()).expect("a count")
}

/// The summary's row for task `name`.
fn summary_row<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    let row = out
        .lines()
        .find(|l| l.starts_with("demo:   ") && l.split_whitespace().nth(2) == Some(name))
        .unwrap_or_else(|| panic!("no summary row for {name}:\n{out}"));
    row.split_whitespace().collect()
}

#[test]
fn the_demo_boots_and_powers_off_with_status_0() {
    let r = demo();
    assert_eq!(r.status, 0, "stderr: {}\nstdout: {}", r.stderr, r.stdout);
    assert!(r.stdout.starts_with("demo: a small OS on lguest"), "stdout: {}", r.stdout);
    assert!(r.stdout.ends_with("demo: powering off\n"), "stdout: {}", r.stdout);
}

#[test]
fn every_task_runs_and_says_its_pid() {
    let out = &demo().stdout;
    for (pid, name) in [(1, "primes"), (2, "collatz"), (3, "faulty"), (4, "countdown")] {
        assert!(out.contains(&format!("\n{name}: pid {pid}, ")), "{name} did not start:\n{out}");
    }
}

#[test]
fn two_tasks_that_never_yield_take_turns_because_the_clock_preempts_them() {
    let out = &demo().stdout;
    // Neither makes a system call that gives up the CPU, yet each one's progress lines
    // have the other's between them.
    let primes = lines_of(out, "primes: ");
    let collatz = lines_of(out, "collatz: ");
    let between = |a: &[(usize, &str)], b: &[(usize, &str)]| {
        a.windows(2).any(|w| b.iter().any(|&(i, _)| w[0].0 < i && i < w[1].0))
    };
    assert!(between(&primes, &collatz), "no collatz line between two primes lines:\n{out}");
    assert!(between(&collatz, &primes), "no primes line between two collatz lines:\n{out}");
    for name in ["primes", "collatz"] {
        let preempted: u32 = summary_row(out, name)[3].parse().expect("preempted count");
        assert!(preempted > 0, "{name} was never preempted:\n{out}");
    }
}

#[test]
fn the_faulty_task_is_killed_for_its_page_fault_while_the_others_finish() {
    let out = &demo().stdout;
    assert!(
        out.contains(
            "\ndemo: task 3 (faulty) killed: page fault at 0xdead0000 (error 0x6: user write, not present) at eip 0x4"
        ),
        "stdout: {out}"
    );
    assert!(!out.contains("faulty: still alive"), "stdout: {out}");
    for (pid, name, last_words) in [
        (1, "primes", "primes: done, "),
        (2, "collatz", "collatz: done, "),
        (4, "countdown", "countdown: liftoff"),
    ] {
        assert!(out.contains(last_words), "{name} did not finish:\n{out}");
        assert!(out.contains(&format!("demo: task {pid} ({name}) exited with status 0")), "stdout: {out}");
    }
}

#[test]
fn stack_pages_are_mapped_as_a_task_first_touches_them() {
    let out = &demo().stdout;
    // primes keeps an 8 KiB table on its stack, which starts with no pages at all.
    for kib in [4, 8] {
        let grown = format!("handled: its stack is now {kib} KiB");
        assert!(
            out.lines()
                .any(|l| l.starts_with("demo: task 1 (primes): page fault at 0xbfff") && l.ends_with(&grown)),
            "stdout: {out}"
        );
    }
    let faults: u32 = summary_row(out, "primes")[5].parse().expect("page faults handled");
    assert!(faults >= 2, "page faults handled for primes:\n{out}");
}

#[test]
fn the_summary_counts_ticks_context_switches_system_calls_and_page_faults() {
    let out = &demo().stdout;
    for what in ["timer ticks", "context switches", "system calls", "page faults handled"] {
        assert!(summary_count(out, what) > 0, "no {what}:\n{out}");
    }
    let row = summary_row(out, "faulty");
    assert_eq!(&row[6..9], ["killed:", "page", "fault"], "{out}");
}

#[test]
fn a_new_tasks_page_tables_reach_the_host_through_the_async_ring_in_one_flush() {
    let r = run_guest("demo", &["--trace", "hcalls"]);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    // Until the scheduler starts, every SET_PMD and SET_PTE is queued, and each task's
    // batch ends with one FLUSH_ASYNC.
    let boot = &r.stderr[..r.stderr.find("LHCALL_SET_CLOCKEVENT").expect("the clock is armed")];
    let updates: Vec<&str> =
        boot.lines().filter(|l| l.contains("LHCALL_SET_PMD") || l.contains("LHCALL_SET_PTE")).collect();
    assert!(updates.len() >= 4 * 3, "expected 3 mappings for each of 4 tasks: {updates:#?}");
    assert!(updates.iter().all(|l| l.contains("[async]")), "a synchronous page-table update: {updates:#?}");
    assert_eq!(boot.matches("LHCALL_FLUSH_ASYNC").count(), 4, "one flush per task:\n{boot}");
}

#[test]
fn lguest_with_no_arguments_runs_the_demo() {
    let r = run_cmd(lguest());
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    assert!(r.stdout.contains("\ndemo: summary: 4 tasks in "), "stdout: {}", r.stdout);
}
