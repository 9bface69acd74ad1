//! The block device end to end: `conform_block` (guests/conform) drives a disk file
//! through the `lguest` binary, and the tests look at the file itself.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const SECTOR: usize = 512;

/// A disk file under the temporary directory, removed when dropped.
struct Disk(PathBuf);

impl Disk {
    /// A disk of `len` bytes, each byte `fill(offset)`.
    fn new(tag: &str, len: usize, fill: impl Fn(usize) -> u8) -> Disk {
        let name = format!("lguest-block-{}-{tag}.img", std::process::id());
        let path = std::env::temp_dir().join(name);
        let bytes: Vec<u8> = (0..len).map(fill).collect();
        std::fs::write(&path, bytes).expect("write disk file");
        Disk(path)
    }

    /// A zeroed disk of `len` bytes (sparse).
    fn zeroed(tag: &str, len: u64) -> Disk {
        let name = format!("lguest-block-{}-{tag}.img", std::process::id());
        let path = std::env::temp_dir().join(name);
        let f = std::fs::File::create(&path).expect("create disk file");
        f.set_len(len).expect("size disk file");
        Disk(path)
    }

    fn path(&self) -> &str {
        path_str(&self.0)
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.0).expect("read disk file")
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The byte conform_block writes at disk offset `offset` for `seed`.
fn pattern(seed: u32, offset: usize) -> u8 {
    ((offset as u32 ^ seed).wrapping_mul(0x9E37_79B1) >> 24) as u8
}

/// Run conform_block with `--cmdline cmdline` and the other arguments.
fn run_block(cmdline: &str, args: &[&str]) -> Run {
    let mut all = vec!["--cmdline", cmdline];
    all.extend_from_slice(args);
    run_guest("conform_block", &all)
}

fn assert_ok(r: &Run, variant: &str) {
    assert_eq!(r.status, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("conform: {variant}: ok")), "stdout: {}", r.stdout);
}

#[test]
fn the_file_holds_exactly_what_the_guest_wrote() {
    let disk = Disk::zeroed("written", 1 << 20);
    let r = run_block("write 1234 600", &["--block", disk.path()]);
    assert_ok(&r, "write");
    let bytes = disk.bytes();
    assert_eq!(bytes.len(), 1 << 20, "the file keeps its size");
    let bad = (0..600 * SECTOR).find(|&o| bytes[o] != pattern(1234, o));
    assert_eq!(bad, None, "first wrong byte of the written sectors");
    assert!(bytes[600 * SECTOR..].iter().all(|&b| b == 0), "bytes past the written sectors changed");
}

#[test]
fn data_written_before_power_off_is_read_back_on_the_next_boot() {
    let disk = Disk::zeroed("reboot", 1 << 20);
    assert_ok(&run_block("write 99 2048", &["--block", disk.path()]), "write");
    let r = run_block("verify 99 2048", &["--block", disk.path()]);
    assert_ok(&r, "verify");
}

#[test]
fn block_sync_writes_reach_the_file_too() {
    let disk = Disk::zeroed("sync", 64 * 1024);
    assert_ok(&run_block("write 5 128", &["--block", disk.path(), "--block-sync"]), "write");
    let bytes = disk.bytes();
    assert!((0..128 * SECTOR).all(|o| bytes[o] == pattern(5, o)));
}

#[test]
fn a_read_only_disk_refuses_writes_and_the_file_is_unchanged() {
    let disk = Disk::new("ro", 64 * 1024, |o| pattern(77, o));
    let before = disk.bytes();
    let mut perms = std::fs::metadata(&disk.0).expect("stat").permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&disk.0, perms).expect("chmod");
    let r = run_block("read_only", &["--block-ro", disk.path()]);
    assert_ok(&r, "read_only");
    assert_eq!(disk.bytes(), before, "the read-only file changed");
}

#[test]
fn reads_and_writes_past_the_end_get_errors_and_the_guest_keeps_running() {
    let disk = Disk::new("end", 100 * SECTOR + 300, |o| pattern(3, o));
    let before = disk.bytes();
    let r = run_block("past_end", &["--block", disk.path()]);
    assert_ok(&r, "past_end");
    assert!(r.stdout.contains("past sector 100 get errors"), "a partial last sector is not part of the disk");
    assert_eq!(disk.bytes(), before, "the file changed");
}

#[test]
fn hostile_block_requests_get_errors_and_the_launcher_survives() {
    let disk = Disk::new("hostile", 64 * 1024, |o| pattern(11, o));
    let before = disk.bytes();
    let r = run_block("hostile", &["--block", disk.path()]);
    assert_ok(&r, "hostile");
    assert!(r.stderr.is_empty(), "stderr: {}", r.stderr);
    assert_eq!(disk.bytes(), before, "a refused request changed the file");
}

#[test]
fn a_block_dma_pointing_outside_guest_memory_kills_the_guest() {
    let disk = Disk::zeroed("baddma", 64 * 1024);
    let r = run_block("bad_dma", &["--block", disk.path()]);
    assert_eq!(r.status, 2, "stderr: {}", r.stderr);
    assert!(r.last_err_line().contains("bad DMA descriptor"), "stderr: {}", r.stderr);
    assert!(r.last_err_line().contains("outside guest memory"), "stderr: {}", r.stderr);
}

#[test]
fn a_launcher_killed_in_the_middle_of_a_write_run_keeps_every_acknowledged_write() {
    const SECTORS: usize = 1 << 17;
    let disk = Disk::zeroed("sigkill", (SECTORS * SECTOR) as u64);
    let mut child = Command::new(env!("CARGO_BIN_EXE_lguest"))
        .arg("run")
        .arg(guest_path("conform_block"))
        .args(["--cmdline", &format!("durable {SECTORS}"), "--block", disk.path()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lguest");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut last = None;
    for line in lines.by_ref() {
        let line = line.expect("read stdout");
        if let Some(k) = line.strip_prefix("wrote ") {
            last = Some(k.parse::<usize>().expect("sector number"));
            if last >= Some(500) {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL the Launcher");
    // Lines the Launcher printed before it died are still in the pipe.
    for line in lines.map_while(Result::ok) {
        if let Some(k) = line.strip_prefix("wrote ") {
            last = k.parse().ok().or(last);
        }
    }
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(9), "the Launcher finished before it was killed: {status:?}");
    let last = last.expect("the Guest acknowledged some writes");
    assert!(last < SECTORS - 1, "the whole run finished");
    let bytes = disk.bytes();
    for k in 0..=last {
        let sector = &bytes[k * SECTOR..(k + 1) * SECTOR];
        let lost = sector.iter().enumerate().any(|(i, &b)| b != pattern(k as u32, k * SECTOR + i));
        assert!(!lost, "sector {k} was acknowledged (last acknowledged {last}) but is not on disk");
    }
}

#[test]
fn a_missing_block_file_is_a_usage_error() {
    let missing = std::env::temp_dir().join(format!("lguest-block-{}-missing.img", std::process::id()));
    let r = run_block("write 1 1", &["--block", path_str(&missing)]);
    assert_eq!(r.status, 64, "stderr: {}", r.stderr);
    let want = format!("cannot open block device file {}: No such file or directory", missing.display());
    assert!(r.stderr.contains(&want), "stderr: {}", r.stderr);
}

#[test]
fn a_disk_in_use_by_a_running_launcher_is_refused_until_it_ends() {
    let disk = Disk::zeroed("locked", 64 * 1024);
    // The demo's shell keeps the first Guest running until its input ends.
    let mut cmd = lguest();
    cmd.args(["run", "--cmdline", "shell", "--block", disk.path()]);
    let mut first = session::Session::piped(cmd);
    first.wait_for("demo$");

    let r = run_block("write 5 8", &["--block", disk.path()]);
    assert_eq!(r.status, 64, "a second writer booted\nstdout: {}\nstderr: {}", r.stdout, r.stderr);
    let want = format!("block device file {} is in use by another Guest", disk.path());
    assert!(r.stderr.contains(&want), "stderr: {}", r.stderr);
    let r = run_block("read_only", &["--block-ro", disk.path()]);
    assert_eq!(r.status, 64, "a reader booted beside a writer\nstderr: {}", r.stderr);
    assert!(r.stderr.contains("is open for writing"), "stderr: {}", r.stderr);
    assert!(disk.bytes().iter().all(|&b| b == 0), "a refused Launcher wrote to the disk");

    first.close_input();
    let r = first.finish();
    assert_eq!(r.status, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    // The lock went with the first Launcher.
    assert_ok(&run_block("write 5 8", &["--block", disk.path()]), "write");
}

#[test]
fn many_launchers_may_share_a_disk_read_only() {
    let disk = Disk::new("shared", 64 * 1024, |o| pattern(77, o));
    let mut cmd = lguest();
    cmd.args(["run", "--cmdline", "shell", "--block-ro", disk.path()]);
    let mut first = session::Session::piped(cmd);
    first.wait_for("demo$");
    let r = run_block("read_only", &["--block-ro", disk.path(), "--block-ro", disk.path()]);
    assert_ok(&r, "read_only");
    first.close_input();
    assert_eq!(first.finish().status, 0);
}

#[test]
fn a_driver_that_gives_up_gets_one_warning_on_stderr() {
    let disk = Disk::zeroed("failed", 64 * 1024);
    let r = run_block("failed", &["--block", disk.path()]);
    assert_ok(&r, "failed");
    assert_eq!(r.stderr, "lguest: block device 1: the Guest's driver failed\n");
}

#[test]
fn disks_appear_on_the_bus_in_command_line_order() {
    let ro = Disk::new("order-ro", 64 * 1024, |o| pattern(1, o));
    let rw = Disk::zeroed("order-rw", 64 * 1024);
    // conform_block uses the first disk.
    let r = run_block("read_only", &["--block-ro", ro.path(), "--block", rw.path()]);
    assert_ok(&r, "read_only");
    let r = run_block("read_only", &["--block", rw.path(), "--block-ro", ro.path()]);
    assert_eq!(r.status, 1, "the first disk was read-write, so the write went through: {}", r.stderr);
    assert!(r.stderr.contains("write to a read-only disk"), "stderr: {}", r.stderr);
}

#[test]
fn trace_block_shows_each_request_and_its_answer() {
    let disk = Disk::zeroed("trace", 64 * 1024);
    let r = run_block("past_end", &["--block", disk.path(), "--trace", "block"]);
    assert_ok(&r, "past_end");
    assert!(
        r.stderr.contains("block 1: read sector 128 +512: error: bytes 0x10000..0x10200 reach past the end")
    );
    assert!(r.stderr.contains("block 1: read sector 127 +512: done"), "stderr: {}", r.stderr);
}
