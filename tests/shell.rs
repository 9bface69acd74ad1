//! The demo's shell with devices: sectors and demofs files written from the shell are in
//! the disk file and still there after a reboot, laid out as `guests/demo/user/demofs.rs`
//! documents; and two demo Guests on one named network ping each other from their
//! shells. Commands go through a pipe; answers are waited for, never slept for.

mod common;
use common::session::Session;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

const SECTOR: usize = 512;

/// A zeroed 1 MiB disk file, removed when dropped.
struct Disk(PathBuf);

impl Disk {
    fn new(tag: &str) -> Disk {
        Disk(temp_file(&format!("shell-{tag}.img"), &vec![0; 2048 * SECTOR]))
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.0).expect("read the disk file")
    }

    fn sector(&self, n: usize) -> Vec<u8> {
        self.bytes()[n * SECTOR..(n + 1) * SECTOR].to_vec()
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Boot the demo's shell on `disk`, pipe it `input` (then end of input); it must power off.
fn shell_on(disk: &Disk, input: &str) -> Run {
    let mut cmd = lguest();
    cmd.arg("run").arg(guest_path("demo")).args(["--cmdline", "shell", "--block", path_str(&disk.0)]);
    let mut s = Session::piped(cmd);
    s.send(input);
    s.close_input();
    let r = s.finish();
    assert_eq!(r.status, 0, "stderr: {}\nstdout: {}", r.stderr, r.stdout);
    r
}

fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

#[test]
fn the_shell_reports_the_disk_size() {
    let disk = Disk::new("size");
    let r = shell_on(&disk, "disk\n");
    assert!(r.stdout.contains("demo$ disk\ndisk: 2048 sectors of 512 bytes (1024 KiB)\n"), "{}", r.stdout);
}

#[test]
fn a_sector_written_from_the_shell_is_in_the_file_and_read_back_after_a_reboot() {
    let disk = Disk::new("sector");
    let r = shell_on(&disk, "write 7 hello, disk\nexit\n");
    assert!(r.stdout.contains("write: 11 bytes to sector 7\n"), "{}", r.stdout);
    let mut want = b"hello, disk".to_vec();
    want.resize(SECTOR, 0);
    assert_eq!(disk.sector(7), want);
    assert!(disk.bytes().iter().enumerate().all(|(i, &b)| b == 0 || (7 * SECTOR..8 * SECTOR).contains(&i)));

    let r = shell_on(&disk, "read 7\n");
    assert!(r.stdout.contains("demo$ read 7\nsector 7: \"hello, disk\"\n"), "{}", r.stdout);
}

#[test]
fn reading_past_the_end_of_the_disk_is_an_error_and_the_shell_carries_on() {
    let disk = Disk::new("past-end");
    let r = shell_on(&disk, "read 2048\nuptime\n");
    assert!(r.stdout.contains("read: sector 2048: I/O error\ndemo$ uptime\nup "), "{}", r.stdout);
}

#[test]
fn files_survive_a_reboot() {
    let disk = Disk::new("files");
    let r = shell_on(&disk, "format\nput notes.txt remember the milk\nput todo buy eggs\nrm todo\n");
    assert!(r.stdout.contains("format: a demofs of 2048 sectors, room for 16 files\n"), "{}", r.stdout);
    assert!(r.stdout.contains("put: notes.txt (17 bytes at sector 2)\n"), "{}", r.stdout);
    assert!(r.stdout.contains("rm: removed todo\n"), "{}", r.stdout);

    let r = shell_on(&disk, "ls\ncat notes.txt\ncat todo\n");
    assert!(
        r.stdout.contains(
            "demo$ ls\n  notes.txt                 17 bytes  at sector 2\n1 file, 3 of 2048 sectors used\n"
        ),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("demo$ cat notes.txt\nremember the milk\n"), "{}", r.stdout);
    assert!(r.stdout.contains("demo$ cat todo\ncat: no such file\n"), "{}", r.stdout);
}

#[test]
fn files_are_on_the_disk_as_demofs_documents() {
    let disk = Disk::new("layout");
    shell_on(&disk, "format\nput a first\nput b.txt second file\nrm a\nput c third\n");
    let sb = disk.sector(0);
    assert_eq!(&sb[..8], b"DEMOFS01");
    assert_eq!(u32le(&sb, 8), 2048, "sectors");
    assert_eq!(u32le(&sb, 12), 16, "directory entries");
    assert!(sb[16..].iter().all(|&b| b == 0));

    // 16 entries of 32 bytes: name (20, NUL-padded), first sector, length, zero.
    let dir = disk.sector(1);
    let entries: Vec<(String, u32, u32)> = dir
        .chunks(32)
        .filter(|e| e[0] != 0)
        .map(|e| {
            let name = String::from_utf8(e[..20].iter().copied().take_while(|&b| b != 0).collect()).unwrap();
            assert_eq!(u32le(e, 28), 0);
            (name, u32le(e, 20), u32le(e, 24))
        })
        .collect();
    // `c` reuses the entry and the sector `a` had (first fit).
    assert_eq!(entries, [("c".to_string(), 2, 5), ("b.txt".to_string(), 3, 11)]);
    let mut c = b"third".to_vec();
    c.resize(SECTOR, 0);
    assert_eq!(disk.sector(2), c);
    assert_eq!(&disk.sector(3)[..12], b"second file\0");
}

// ---- the network ----

/// A demo shell on network `lab` in `dir`, as Guest `id` with address 10.0.0.`id`.
fn shell_on_network(dir: &Path, id: u16) -> Session {
    let mut cmd: Command = lguest();
    cmd.env("LGUEST_NET_DIR", dir).arg("run").arg(guest_path("demo")).args([
        "--net",
        "lab",
        "--guestid",
        &id.to_string(),
        "--cmdline",
        &format!("shell ip=10.0.0.{id}"),
    ]);
    let s = Session::piped(cmd);
    s.wait_for("demo$ ");
    s
}

#[test]
fn two_demo_guests_on_a_named_network_ping_each_other_from_their_shells() {
    let dir = net_dir("shell-ping");
    let mut a = shell_on_network(&dir, 1);
    let mut b = shell_on_network(&dir, 2);
    a.send("ping 10.0.0.2\n");
    a.wait_for("ping 10.0.0.2: 3 sent, ");
    b.send("ping 10.0.0.1\n");
    b.wait_for("ping 10.0.0.1: 3 sent, ");
    a.send("exit\n");
    b.send("exit\n");
    let (a, b) = (a.finish(), b.finish());
    let _ = std::fs::remove_dir_all(&dir);
    assert!(a.stdout.contains("demo: network: 02:00:01:00:00:00 as 10.0.0.1\n"), "{}", a.stdout);
    assert!(a.stdout.contains("ping 10.0.0.2: 3 sent, 3 received\n"), "A:\n{}\nB:\n{}", a.stdout, b.stdout);
    assert!(b.stdout.contains("ping 10.0.0.1: 3 sent, 3 received\n"), "A:\n{}\nB:\n{}", a.stdout, b.stdout);
    assert!(a.stdout.contains("reply from 10.0.0.2: seq=1 time="), "{}", a.stdout);
    assert_eq!((a.status, b.status), (0, 0), "A: {}\nB: {}", a.stderr, b.stderr);
}
