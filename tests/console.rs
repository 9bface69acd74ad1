//! Console input end to end, through the demo's shell (`--cmdline shell`): from a pipe
//! (plain bytes, end of input reported to the Guest) and from a pseudo-terminal (raw
//! mode while the Guest runs, the terminal put back however the Launcher ends, three
//! Ctrl-Cs to stop it). Tests wait for what the Guest prints, with a timeout, never for
//! a fixed time.

mod common;
use common::session::Session;
use common::terminal::*;
use common::*;

use std::io::Write;
use std::process::Command;

const PROMPT: &str = "demo$ ";

/// `lguest run demo --cmdline shell`.
fn demo_shell() -> Command {
    let mut cmd = lguest();
    cmd.arg("run").arg(guest_path("demo")).args(["--cmdline", "shell"]);
    cmd
}

// ---- from a pipe ----

#[test]
fn commands_piped_to_lguest_are_answered_on_stdout_and_end_of_input_powers_off_with_status_0() {
    let mut s = Session::piped(demo_shell());
    s.send("uptime\nps\n");
    s.close_input();
    let r = s.finish();
    assert_eq!(r.status, 0, "stderr: {}\nstdout: {}", r.stderr, r.stdout);
    assert!(r.stdout.contains("\ndemo$ uptime\nup "), "stdout: {}", r.stdout);
    assert!(r.stdout.contains("\ndemo$ ps\n  pid  task        state\n"), "stdout: {}", r.stdout);
    assert!(r.stdout.contains("\n    5  shell       running\n"), "stdout: {}", r.stdout);
    assert!(
        r.stdout.ends_with(
            "\ndemo$ \nshell: end of input\ndemo: task 5 (shell) exited with status 0\ndemo: powering off\n"
        ),
        "stdout: {}",
        r.stdout
    );
    assert!(r.stderr.is_empty(), "stderr: {}", r.stderr);
}

#[test]
fn a_shell_asleep_waiting_for_input_wakes_when_a_line_arrives() {
    let mut s = Session::piped(demo_shell());
    s.wait_for(PROMPT);
    s.send("uptime\n");
    s.wait_for("\nup ");
    s.send("exit\n");
    let r = s.finish();
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
    assert!(r.stdout.contains("demo$ exit\nshell: bye\n"), "stdout: {}", r.stdout);
}

#[test]
fn input_written_before_the_launcher_starts_is_not_lost() {
    // Everything, end of input included, is in the pipe before the Launcher exists, so
    // long before the shell binds its buffers.
    let (reader, mut writer) = std::io::pipe().expect("a pipe");
    writer.write_all(b"disk\nuptime\nhelp\n").expect("write to the pipe");
    drop(writer);
    let r = Session::with_stdin(demo_shell(), reader).finish();
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
    let disk = r.stdout.find("demo$ disk\ndisk: no such device\n").expect("disk answered");
    let uptime = r.stdout.find("demo$ uptime\nup ").expect("uptime answered");
    let help = r.stdout.find("demo$ help\ncommands:\n").expect("help answered");
    assert!(disk < uptime && uptime < help, "stdout: {}", r.stdout);
    assert!(r.stdout.contains("shell: end of input\n"), "stdout: {}", r.stdout);
}

#[test]
fn backspace_rubs_out_the_last_character_typed() {
    let mut s = Session::piped(demo_shell());
    s.send("uptimx\x7fe\n");
    s.close_input();
    let r = s.finish();
    assert!(r.stdout.contains("demo$ uptimx\x08 \x08e\nup "), "stdout: {:?}", r.stdout);
}

#[test]
fn ctrl_c_abandons_the_line_being_typed() {
    let mut s = Session::piped(demo_shell());
    s.send("disk\x03uptime\n");
    s.close_input();
    let r = s.finish();
    assert!(r.stdout.contains("demo$ disk^C\ndemo$ uptime\nup "), "stdout: {}", r.stdout);
    assert!(!r.stdout.contains("disk: "), "the abandoned line ran: {}", r.stdout);
}

// ---- on a terminal ----

#[test]
fn typed_characters_reach_the_guest_at_once_and_are_echoed_only_by_it() {
    let mut t = OnTerminal::start(demo_shell());
    t.session.wait_for(PROMPT);
    // No Enter yet: on a raw terminal the Guest gets (and echoes) each key as it comes.
    t.session.send("upt");
    t.session.wait_for("demo$ upt");
    t.session.send("ime\r");
    t.session.wait_for("\nup ");
    assert_eq!(t.session.stdout().matches("uptime").count(), 1, "echoed twice?\n{}", t.session.output());
    t.session.send("exit\r");
    let (r, _) = t.finish();
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
}

#[test]
fn the_terminal_is_raw_while_the_guest_runs_and_restored_after_it_powers_off() {
    let mut t = OnTerminal::start(demo_shell());
    t.session.wait_for(PROMPT);
    let raw = termios(&t.master).c_lflag;
    assert_eq!(raw & (libc::ICANON | libc::ECHO | libc::ISIG), 0, "not raw: lflag {raw:#o}");
    t.session.send("poweroff\r");
    let (r, restored) = t.finish();
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
    assert!(restored, "the terminal was left changed");
}

#[test]
fn the_terminal_is_restored_after_the_guest_crashes() {
    let mut cmd = lguest();
    cmd.arg("run").arg(guest_path("crash"));
    let (r, restored) = OnTerminal::start(cmd).finish();
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(restored, "the terminal was left changed");
}

#[test]
fn the_terminal_is_restored_after_sudden_death() {
    let mut cmd = lguest();
    cmd.arg("run").arg(guest_path("bad_hypercall"));
    let (r, restored) = OnTerminal::start(cmd).finish();
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(restored, "the terminal was left changed");
}

fn signal_on_terminal(sig: i32, name: &str) {
    let t = OnTerminal::start(demo_shell());
    t.session.wait_for(PROMPT);
    t.session.signal(sig);
    let (r, restored) = t.finish();
    assert_eq!(r.status, 130, "{}", r.stderr);
    assert_eq!(r.last_err_line(), format!("lguest: stopped: {name} to the Launcher"));
    assert!(restored, "the terminal was left changed");
}

#[test]
fn the_terminal_is_restored_after_sigint_to_the_launcher() {
    signal_on_terminal(libc::SIGINT, "SIGINT");
}

#[test]
fn the_terminal_is_restored_after_sigterm_to_the_launcher() {
    signal_on_terminal(libc::SIGTERM, "SIGTERM");
}

#[test]
fn three_ctrl_cs_at_the_terminal_stop_the_launcher_with_status_130() {
    let mut t = OnTerminal::start(demo_shell());
    t.session.wait_for(PROMPT);
    // One key at a time, each seen by the Guest (it echoes ^C) before the next, as typed.
    for n in 1..=2 {
        t.session.send("\x03");
        t.session.wait_for_n("^C", n);
    }
    t.session.send("\x03");
    let (r, restored) = t.finish();
    assert_eq!(r.status, 130, "{}\n{}", r.stderr, r.stdout);
    assert_eq!(r.last_err_line(), "lguest: stopped: three Ctrl-Cs at the console");
    assert!(restored, "the terminal was left changed");
}

#[test]
fn three_ctrl_cs_pasted_at_once_stop_the_launcher_too() {
    let mut t = OnTerminal::start(demo_shell());
    t.session.wait_for(PROMPT);
    t.session.send("\x03\x03\x03");
    let (r, restored) = t.finish();
    assert_eq!(r.status, 130, "{}\n{}", r.stderr, r.stdout);
    assert_eq!(r.last_err_line(), "lguest: stopped: three Ctrl-Cs at the console");
    assert!(restored, "the terminal was left changed");
}
