//! The real Linux 2.6.23.17 lguest Guest (the bundled `linux/vmlinux`, `linux/bzImage` and
//! `linux/initramfs.cpio.gz`), booted through the `lguest` binary the ways a user would:
//! `lguest run` with a vmlinux or a bzImage, the 2.6.23 Launcher's own command line, and
//! `lguest linux` with its shell on the console (from a pipe and on a terminal), a disk
//! the Guest writes a file system on, and what `uname` says.
//!
//! The bundled `/init` prints `init: userspace is up`, and powers off (exit status 0) at
//! the end, or with `shell` on the command line after its shell exits.

mod common;
use common::session::Session;
use common::terminal::OnTerminal;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The shell's prompt (klibc's sh, as root).
const PROMPT: &str = "# ";

fn vmlinux() -> PathBuf {
    images::linux::vmlinux_path()
}

fn initramfs() -> PathBuf {
    images::linux::initramfs_path()
}

/// What a console shows, with the terminal's line endings made plain.
fn plain(text: &str) -> String {
    text.replace('\r', "")
}

/// Whether the shell printed `line` as a line of its own, or right after a prompt (input
/// sent ahead of the prompt is echoed when it arrives, so answers follow prompts).
fn has_line(out: &str, line: &str) -> bool {
    out.lines().any(|l| l == line || l.strip_suffix(line).is_some_and(|p| p.ends_with(PROMPT)))
}

/// `lguest run KERNEL --initrd <bundled initramfs> --cmdline quiet`.
fn boot(kernel: &Path) -> Run {
    let mut cmd = lguest();
    cmd.arg("run").arg(kernel).arg("--initrd").arg(initramfs()).args(["--cmdline", "quiet"]);
    run_cmd(cmd)
}

fn assert_booted_and_powered_off(r: &Run) {
    assert_eq!(r.status, 0, "stderr: {}\nstdout: {}", r.stderr, r.stdout);
    let out = plain(&r.stdout);
    assert!(out.contains("init: userspace is up\n"), "{out}");
    assert!(out.contains("init: /proc/version: Linux version 2.6.23.17 "), "{out}");
    assert!(out.ends_with("init: powering off\nPower down.\n"), "{out}");
    assert!(r.stderr.is_empty(), "stderr: {}", r.stderr);
}

#[test]
fn the_vmlinux_boots_to_init_and_powers_off_with_status_0() {
    assert_booted_and_powered_off(&boot(&vmlinux()));
}

#[test]
fn the_bzimage_boots_to_init_and_powers_off_with_status_0() {
    assert_booted_and_powered_off(&boot(&images::linux::bzimage_path()));
}

#[test]
fn the_2_6_23_launchers_command_line_boots_it_too() {
    let mut cmd = lguest();
    cmd.arg(format!("--initrd={}", path_str(&initramfs())))
        .arg("64")
        .arg(vmlinux())
        .args(["quiet", "lpj=1000"]);
    let r = run_cmd(cmd);
    assert_booted_and_powered_off(&r);
    assert!(plain(&r.stdout).contains("init: /proc/cmdline: quiet lpj=1000\n"), "{}", r.stdout);
}

/// `/proc/cpuinfo`'s `fpu` line and the command line, from `lguest linux ARGS`.
fn fpu_and_cmdline(args: &[&str]) -> (String, String) {
    let mut s = Session::piped(linux_shell(args));
    s.send("cat /proc/cpuinfo\ncat /proc/cmdline\n");
    s.close_input();
    let r = s.finish();
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
    let out = plain(&r.stdout);
    let fpu = out.lines().find(|l| l.starts_with("fpu\t")).unwrap_or_default().to_string();
    let cmdline = out.lines().find(|l| l.contains("shell quiet")).unwrap_or_default().to_string();
    (fpu, cmdline)
}

#[test]
fn linux_uses_the_cpus_x87() {
    let (fpu, cmdline) = fpu_and_cmdline(&[]);
    assert!(fpu.ends_with(": yes"), "{fpu}");
    assert!(!cmdline.contains("no387"), "{cmdline}");
}

#[test]
fn with_math_emulation_the_launcher_adds_no387_and_the_kernel_emulates_the_x87() {
    let (fpu, cmdline) = fpu_and_cmdline(&["--math-emulation"]);
    assert!(fpu.ends_with(": no"), "{fpu}");
    assert!(cmdline.ends_with("no387 shell quiet"), "{cmdline}");
}

#[test]
fn a_linux_kernel_without_lguest_support_is_refused_with_a_usage_error() {
    // The kit's demo Guest is a kernel too, but not Linux: give it an initrd to show the
    // Launcher knows which is which.
    let mut cmd = lguest();
    cmd.arg("run").arg(guest_path("hello")).arg("--initrd").arg(initramfs());
    let r = run_cmd(cmd);
    assert_eq!(r.status, 64, "{}", r.stderr);
    assert!(r.last_err_line().contains("an initrd needs a Linux kernel"), "{}", r.stderr);
}

#[test]
fn too_little_memory_for_the_kernel_and_initrd_is_a_usage_error() {
    let mut cmd = lguest();
    cmd.arg("run").arg(vmlinux()).arg("--initrd").arg(initramfs()).args(["--mem", "2M"]);
    let r = run_cmd(cmd);
    assert_eq!(r.status, 64, "{}", r.stderr);
    assert!(r.last_err_line().starts_with("lguest: cannot boot "), "{}", r.stderr);
    assert!(r.last_err_line().contains("use --mem"), "{}", r.stderr);
}

/// `lguest linux --cmdline quiet`: the bundled kernel with its shell on the console.
fn linux_shell(extra: &[&str]) -> Command {
    let mut cmd = lguest();
    cmd.args(["linux", "--cmdline", "quiet"]).args(extra);
    cmd
}

#[test]
fn uname_says_linux_2_6_23_17_on_i686() {
    let mut s = Session::piped(linux_shell(&[]));
    s.wait_for(PROMPT);
    s.send("uname -s -r -m\n");
    s.close_input();
    let r = s.finish();
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
    assert!(has_line(&plain(&r.stdout), "Linux 2.6.23.17 i686"), "{}", r.stdout);
}

#[test]
fn commands_piped_to_the_shell_are_answered_and_the_end_of_input_powers_off() {
    let mut s = Session::piped(linux_shell(&[]));
    s.send("echo $((6 * 7))\ncat /proc/cmdline\n");
    s.close_input();
    let r = s.finish();
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
    let out = plain(&r.stdout);
    assert!(has_line(&out, "42"), "{out}");
    assert!(has_line(&out, "shell quiet"), "{out}");
    // The end of the pipe reached the shell as a terminal's Ctrl-D: it exited, and /init
    // powered off.
    assert!(out.ends_with("init: powering off\nPower down.\n"), "{out}");
}

#[test]
fn input_without_a_final_newline_still_runs_and_ends() {
    let mut s = Session::piped(linux_shell(&[]));
    s.send("echo no-newline");
    s.close_input();
    let r = s.finish();
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
    // The input's echo has no newline after it (a Ctrl-D is not echoed), so the line
    // ending shows the command's own output, wherever the echo put it.
    assert!(plain(&r.stdout).contains("no-newline\n"), "{}", r.stdout);
}

#[test]
fn a_shell_on_a_terminal_echoes_what_is_typed_and_answers() {
    let mut t = OnTerminal::start(linux_shell(&[]));
    t.session.wait_for("init: starting /bin/sh");
    t.session.wait_for(PROMPT);
    // The Launcher's terminal is raw: Linux's own line discipline echoes and edits.
    t.session.send("echo abx\x7fc\r");
    t.session.wait_for("\nabc\r");
    t.session.send("exit\r");
    let (r, restored) = t.finish();
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
    assert!(restored, "the terminal was left changed");
    // The rubout was Linux's: it echoed backspace, space, backspace.
    assert!(r.stdout.contains("# echo abx\x08 \x08c\r"), "{:?}", r.stdout);
}

// ---- disks ----

/// A host tool from e2fsprogs (in /sbin or /usr/sbin, which may not be on PATH).
fn e2fs_tool(name: &str) -> PathBuf {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} (e2fsprogs) is needed to check the Guest's file system"))
}

fn host_tool(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run a host tool");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run shell commands in the bundled Linux with `disk` as /dev/lgba; the shell's output.
fn with_disk(disk: &Path, commands: &str) -> String {
    let mut s = Session::piped(linux_shell(&["--block", path_str(disk)]));
    s.send("mknod /dev/lgba b 254 0\n");
    s.send(commands);
    s.close_input();
    let r = s.finish();
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
    plain(&r.stdout)
}

#[test]
fn an_ext2_file_system_the_guest_writes_is_intact_for_the_host_and_the_next_boot() {
    let disk = temp_file("linux-ext2.img", &[]);
    std::fs::File::options().write(true).open(&disk).unwrap().set_len(4 << 20).unwrap();
    host_tool(Command::new(e2fs_tool("mke2fs")).args(["-q", "-F"]).arg(&disk));

    let out = with_disk(
        &disk,
        "mkdir /mnt\nmount -t ext2 /dev/lgba /mnt\n\
         echo written by Linux 2.6.23 > /mnt/note.txt\nmkdir /mnt/dir\n\
         dd if=/proc/version of=/mnt/dir/version\numount /mnt\n",
    );
    assert!(!out.contains("mount:"), "{out}");

    // The host's tools find a clean file system (e2fsck -n exits 0 only then) with the
    // files in it.
    host_tool(Command::new(e2fs_tool("e2fsck")).args(["-f", "-n"]).arg(&disk));
    let note = host_tool(Command::new(e2fs_tool("debugfs")).args(["-R", "cat /note.txt"]).arg(&disk));
    assert_eq!(note, "written by Linux 2.6.23\n");
    let version = host_tool(Command::new(e2fs_tool("debugfs")).args(["-R", "cat /dir/version"]).arg(&disk));
    assert!(version.starts_with("Linux version 2.6.23.17 "), "{version}");

    // And the next boot reads them back.
    let out = with_disk(&disk, "mkdir /mnt\nmount -t ext2 -o ro /dev/lgba /mnt\ncat /mnt/note.txt\n");
    assert!(has_line(&out, "written by Linux 2.6.23"), "{out}");
}

#[test]
fn bytes_the_guest_writes_to_the_raw_disk_are_in_the_file() {
    let mut image = vec![0u8; 64 * 1024];
    image[512..512 + 21].copy_from_slice(b"put there by the host");
    let disk = temp_file("linux-raw.img", &image);
    let out = with_disk(
        &disk,
        "dd if=/dev/lgba bs=512 skip=1 count=1\necho\n\
         dd if=/proc/version of=/dev/lgba bs=512 seek=8 count=1\nsync\n",
    );
    assert!(out.contains("put there by the host"), "{out}");
    let written = std::fs::read(&disk).unwrap();
    assert!(written[8 * 512..].starts_with(b"Linux version 2.6.23.17 "), "sector 8 of the disk");
    assert_eq!(written.len(), image.len(), "the disk file keeps its size");
}

// ---- programs the kernel kills, and the network ----

/// `lguest run <vmlinux> --initrd <test initramfs> --cmdline "quiet CMDLINE"`: the test
/// `/init` (guests/linux-user/init) runs each `run=NAME,ARGS` and powers off.
fn linux_run(cmdline: &str) -> Command {
    let mut cmd = lguest();
    cmd.arg("run").arg(vmlinux()).arg("--initrd").arg(images::linux::test_initramfs());
    cmd.arg("--cmdline").arg(format!("quiet {cmdline}"));
    cmd
}

#[test]
fn a_program_that_faults_is_killed_by_linux_and_the_guest_runs_on() {
    let r = run_cmd(linux_run("run=fault,null run=fault,div0 run=fault,ud2"));
    // The Guest powered off by itself: the Host killed nothing, and said nothing.
    assert_eq!(r.status, 0, "stderr: {}\nstdout: {}", r.stderr, r.stdout);
    assert!(r.stderr.is_empty(), "stderr: {}", r.stderr);
    let out = plain(&r.stdout);
    for (what, signal) in [("null", "SIGSEGV"), ("div0", "SIGFPE"), ("ud2", "SIGILL")] {
        let run = format!(
            "[lguest-init] begin fault {what}\nfault: about to {what}\n[lguest-init] end fault: killed by {signal}\n"
        );
        assert!(out.contains(&run), "{out}");
    }
    assert!(out.contains("[lguest-init] done: 3 run, 3 failed\n"), "{out}");
}

/// A Linux Guest on network `net` of `dir` with id `id`, running `cmdline`'s programs.
fn linux_on_network(dir: &Path, id: u16, cmdline: &str) -> Command {
    let mut cmd = linux_run(cmdline);
    cmd.env("LGUEST_NET_DIR", dir).args(["--net", "lab", "--guestid", &id.to_string()]);
    cmd
}

#[test]
fn two_linux_guests_on_one_network_exchange_frames_both_ways() {
    let dir = net_dir("linux-pair");
    let a = Session::with_stdin(
        linux_on_network(&dir, 2, "run=net,up,eth0,10.0.0.2 run=net,udp-echo,7000,1"),
        std::process::Stdio::null(),
    );
    a.wait_for("net: answering 1 datagrams on port 7000");
    let b = run_cmd(linux_on_network(
        &dir,
        1,
        "run=net,up,eth0,10.0.0.1 run=net,ping,10.0.0.2,3 run=net,udp-ping,10.0.0.2,7000,hello",
    ));
    let a = a.finish();
    for r in [&a, &b] {
        assert_eq!(r.status, 0, "stderr: {}\nstdout: {}", r.stderr, r.stdout);
    }
    let (a, b) = (plain(&a.stdout), plain(&b.stdout));
    // Linux's MAC is made from the guestid as 2.6.23's driver makes it.
    assert!(b.contains("net: eth0 is up at 10.0.0.1 (02:00:01:00:00:00)"), "{b}");
    assert!(b.contains("net: 3 of 3 pings answered"), "{b}");
    assert!(b.contains("net: answer from 10.0.0.2:7000: hello\n"), "{b}");
    assert!(a.contains("net: 5 bytes from 10.0.0.1:"), "{a}");
    for out in [&a, &b] {
        assert!(out.contains(", 0 failed\n"), "{out}");
    }
}

#[test]
fn a_linux_guest_and_a_kit_guest_ping_each_other() {
    let dir = net_dir("linux-kit");
    let mut kit = lguest();
    kit.env("LGUEST_NET_DIR", &dir).arg("run").arg(guest_path("net_guest"));
    kit.args([
        "--net",
        "lab",
        "--guestid",
        "3",
        "--cmdline",
        "mode=pinger ip=10.0.0.3 peer=10.0.0.2 count=3 serve=3",
    ]);
    let kit = Session::with_stdin(kit, std::process::Stdio::null());
    kit.wait_for_line("net_guest: up mac 02:00:03:00:00:00");
    // Linux pings the kit Guest, then keeps answering its pings in a shell that waits
    // for its console input to end.
    let mut linux =
        Session::piped(linux_on_network(&dir, 2, "run=net,up,eth0,10.0.0.2 run=net,ping,10.0.0.3,3 run=sh"));
    let kit = kit.finish();
    linux.wait_for("net: 3 of 3 pings answered");
    linux.close_input();
    let linux = linux.finish();
    assert_eq!(kit.status, 0, "stderr: {}\nstdout: {}", kit.stderr, kit.stdout);
    // (It pings until three are answered: Linux may not be up for the first ones.)
    assert_eq!(kit.stdout.matches("\nnet_guest: reply from 10.0.0.2 seq=").count(), 3, "{}", kit.stdout);
    assert!(kit.stdout.contains("answered 3 pings"), "{}", kit.stdout);
    assert_eq!(linux.status, 0, "stderr: {}\nstdout: {}", linux.stderr, linux.stdout);
}

#[test]
fn two_linux_shells_configure_their_network_with_net_and_ping() {
    let dir = net_dir("linux-shells");
    let shell = |id: &str| {
        let mut cmd = linux_shell(&["--net", "lab", "--guestid", id]);
        cmd.env("LGUEST_NET_DIR", &dir);
        Session::piped(cmd)
    };
    let mut a = shell("11");
    a.send("net up eth0 10.0.1.11\n");
    a.wait_for("net: eth0 is up at 10.0.1.11 (02:00:0b:00:00:00)");
    let mut b = shell("12");
    b.send("net up eth0 10.0.1.12\nnet ping 10.0.1.11 2\n");
    b.close_input();
    let b = b.finish();
    a.close_input();
    let a = a.finish();
    assert_eq!((a.status, b.status), (0, 0), "{}\n{}", a.stderr, b.stderr);
    assert!(plain(&b.stdout).contains("net: 2 of 2 pings answered\n"), "{}", b.stdout);
}

#[test]
fn a_linux_guest_reaches_a_tap_interface_in_a_network_namespace() {
    if let Some(why) = tap_unavailable() {
        println!("SKIPPED a_linux_guest_reaches_a_tap_interface_in_a_network_namespace: {why}");
        return;
    }
    // In a fresh user and network namespace: make and configure the TAP, and run Linux on
    // it: it configures eth0 and pings the host's side, whose kernel answers.
    let script = r#"
        ip link set lo up
        err=$(ip tuntap add dev lgtap1 mode tap 2>&1) || { echo "cannot create a TAP: $err" >&2; exit 77; }
        ip addr add 10.0.8.1/24 dev lgtap1 && ip link set lgtap1 up || exit 77
        "$@"
    "#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-rn", "sh", "-c", script, "sh"]).arg(env!("CARGO_BIN_EXE_lguest")).arg("run").arg(vmlinux());
    cmd.arg("--initrd").arg(images::linux::test_initramfs()).args(["--net", "tap:lgtap1", "--guestid", "8"]);
    cmd.args(["--cmdline", "quiet run=net,up,eth0,10.0.8.2 run=net,ping,10.0.8.1,3"]);
    let r = run_cmd(cmd);
    if r.status == TAP_SKIP {
        println!("SKIPPED a_linux_guest_reaches_a_tap_interface_in_a_network_namespace: {}", r.stderr.trim());
        return;
    }
    assert_eq!(r.status, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(plain(&r.stdout).contains("net: 3 of 3 pings answered\n"), "{}", r.stdout);
}
