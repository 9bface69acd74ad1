//! Linux programs (guests/linux-user) on the real processor and in the Linux 2.6.23 Guest.
//!
//! Each check program prints what it saw, a line per thing checked, and exits 0 only if
//! all was as expected. `native_*` runs it on this machine (a 32-bit static executable
//! runs directly here): that proves the program itself right. `guest_*` compares the
//! text it prints in the Guest — the bundled kernel booted by the Launcher with the test
//! initramfs — with the text it prints natively: line for line, exit status included.
//! One boot runs every program (the test `/init` without `run=`), shared by the
//! `guest_*` tests.
//!
//! Directories the programs are given in the Guest (`/tmp`, a tmpfs, and `/root`, on the
//! initramfs root) are fresh temporary directories natively.

mod common;

use images::linux::{self, Program};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// How long a program may run natively.
const NATIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the Guest may take to boot and run every program.
const GUEST_TIMEOUT: Duration = Duration::from_secs(900);

fn program(name: &str) -> &'static Program {
    linux::by_name(name).unwrap_or_else(|| panic!("no Linux program {name} was built"))
}

/// What a run printed and how it ended: `exited N` or `killed by SIG...`, as the test
/// `/init` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    text: String,
    status: String,
}

/// A directory that is removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("lguest-linux-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `name` natively with `args`, the Guest's `/tmp` and `/root` replaced by fresh
/// directories; an empty environment; standard input /dev/null.
fn native(name: &str, args: &[&str]) -> Outcome {
    let tag = format!("{name}-{}", args.len());
    let (tmp, root, cwd) = (
        TempDir::new(&format!("{tag}-tmp")),
        TempDir::new(&format!("{tag}-root")),
        TempDir::new(&format!("{tag}-cwd")),
    );
    let args: Vec<PathBuf> = args
        .iter()
        .map(|a| match *a {
            "/tmp" => tmp.0.clone(),
            "/root" => root.0.clone(),
            other => PathBuf::from(other),
        })
        .collect();
    let mut cmd = Command::new(program(name).path());
    cmd.args(&args)
        .env_clear()
        .current_dir(&cwd.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child =
        cmd.spawn().unwrap_or_else(|e| panic!("cannot run {} natively: {e}", program(name).path().display()));
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(NATIVE_TIMEOUT) {
        Ok(out) => out.expect("wait for the program"),
        Err(_) => {
            // SAFETY: kill(2) on the child we started, which has not been waited for.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{name} ran natively for more than {NATIVE_TIMEOUT:?}");
        }
    };
    use std::os::unix::process::ExitStatusExt;
    let status = match (out.status.code(), out.status.signal()) {
        (Some(code), _) => format!("exited {code}"),
        (_, Some(sig)) => format!("killed by signal {sig}"),
        _ => "unknown".to_string(),
    };
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Outcome { text, status }
}

/// The arguments `name` gets in the Guest when `/init` runs the default list.
fn default_args(name: &str) -> Vec<&'static str> {
    linux::default_runs().find(|(n, _)| *n == name).map(|(_, args)| args).unwrap_or_default()
}

/// Run a check program natively and check it passed: every line printed, none FAILED.
fn native_check(name: &str) -> Outcome {
    let out = native(name, &default_args(name));
    let failed: Vec<&str> = out.text.lines().filter(|l| l.contains("FAILED")).collect();
    assert!(failed.is_empty(), "{name} natively:\n{}", failed.join("\n"));
    assert_eq!(out.status, "exited 0", "{name} natively printed:\n{}", out.text);
    assert!(out.text.lines().count() > 5, "{name} printed almost nothing:\n{}", out.text);
    out
}

/// Boot the bundled kernel with `initrd` and `cmdline` on the Launcher: what each program
/// the test `/init` ran printed, by name, or why the boot did not get that far.
fn boot(initrd: &Path, cmdline: &str, launcher_args: &[&str]) -> Result<HashMap<String, Outcome>, String> {
    let mut cmd = common::lguest();
    cmd.arg("run").arg(linux::vmlinux_path()).arg("--initrd").arg(initrd).arg("--cmdline").arg(cmdline);
    cmd.args(launcher_args);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().map_err(|e| format!("cannot start the Launcher: {e}"))?;
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(GUEST_TIMEOUT) {
        Ok(out) => out.map_err(|e| format!("waiting for the Launcher: {e}"))?,
        Err(_) => {
            // SAFETY: kill(2) on the Launcher we started, which has not been waited for.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return Err(format!("the Linux Guest ran for more than {GUEST_TIMEOUT:?}"));
        }
    };
    let console = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let runs = parse_runs(&console);
    let status = out.status.code();
    if status != Some(0) || runs.is_empty() {
        let tail = |s: &str| {
            s.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
        };
        return Err(format!(
            "the Launcher did not boot Linux to the end of the test /init (exit status {status:?}, \
             expected 0 after the Guest powers off).\n--- console (last lines) ---\n{}\n--- stderr (last lines) ---\n{}",
            tail(&console),
            tail(&stderr)
        ));
    }
    Ok(runs)
}

/// The runs between `[lguest-init] begin NAME ...` and `[lguest-init] end NAME: STATUS`.
/// A marker may follow other output on its line (the kernel's, a boot loader's).
fn parse_runs(console: &str) -> HashMap<String, Outcome> {
    const MARK: &str = "[lguest-init] ";
    let mut runs = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in console.lines() {
        let marker = line.find(MARK).map(|at| &line[at + MARK.len()..]);
        match (marker, &mut current) {
            (Some(m), None) if m.starts_with("begin ") => {
                let name = m["begin ".len()..].split(' ').next().unwrap_or("").to_string();
                current = Some((name, String::new()));
            }
            (Some(m), Some((name, text))) if m.starts_with(&format!("end {name}: ")) => {
                let status = m[format!("end {name}: ").len()..].to_string();
                runs.insert(name.clone(), Outcome { text: std::mem::take(text), status });
                current = None;
            }
            (_, Some((_, text))) => {
                text.push_str(line);
                text.push('\n');
            }
            _ => {}
        }
    }
    runs
}

/// The one boot that runs every default program, shared by the guest tests.
fn default_boot() -> &'static Result<HashMap<String, Outcome>, String> {
    static BOOT: OnceLock<Result<HashMap<String, Outcome>, String>> = OnceLock::new();
    BOOT.get_or_init(|| boot(linux::test_initramfs(), "quiet", &[]))
}

/// What differs between two texts, line by line (at most 20 lines of it).
fn diff(native: &str, guest: &str) -> String {
    let (n, g): (Vec<&str>, Vec<&str>) = (native.lines().collect(), guest.lines().collect());
    let mut out = Vec::new();
    for i in 0..n.len().max(g.len()) {
        let (a, b) = (n.get(i).copied(), g.get(i).copied());
        if a != b {
            out.push(format!(
                "line {}:\n  native: {}\n  guest:  {}",
                i + 1,
                a.unwrap_or("(none)"),
                b.unwrap_or("(none)")
            ));
        }
        if out.len() == 20 {
            out.push("...".to_string());
            break;
        }
    }
    out.join("\n")
}

/// The x87 programs in a Guest whose kernel emulates the FPU (`--math-emulation`), shared
/// by the math-emulation tests.
fn math_emulation_boot() -> &'static Result<HashMap<String, Outcome>, String> {
    static BOOT: OnceLock<Result<HashMap<String, Outcome>, String>> = OnceLock::new();
    BOOT.get_or_init(|| {
        boot(linux::test_initramfs(), "quiet run=fpconst run=fpbench,200", &["--math-emulation"])
    })
}

/// The program's text in the Guest is its text natively, and it ended the same way.
fn guest_check(name: &str) {
    compare_with_native(name, default_boot());
}

/// The same, in the Guest whose kernel emulates the x87.
fn math_emulation_check(name: &str) {
    compare_with_native(name, math_emulation_boot());
}

fn compare_with_native(name: &str, boot: &Result<HashMap<String, Outcome>, String>) {
    let native = native_check(name);
    let runs = match boot {
        Ok(runs) => runs,
        Err(why) => panic!("{name} in the Linux Guest: {why}"),
    };
    let guest = runs
        .get(name)
        .unwrap_or_else(|| panic!("the test /init did not run {name} (it ran {:?})", runs.keys()));
    assert!(
        guest.text == native.text,
        "{name} printed something else in the Linux Guest than on the real processor:\n{}",
        diff(&native.text, &guest.text)
    );
    assert_eq!(guest.status, native.status, "{name}: how it ended in the Guest");
}

macro_rules! check_programs {
    ($($name:ident),* $(,)?) => {
        mod native {
            $(
                #[test]
                fn $name() {
                    super::native_check(stringify!($name));
                }
            )*
        }
        mod guest {
            $(
                #[test]
                fn $name() {
                    super::guest_check(stringify!($name));
                }
            )*
        }

        #[test]
        fn every_default_program_has_a_test() {
            let tested = [$(stringify!($name)),*];
            for (name, _) in linux::default_runs() {
                assert!(tested.contains(&name), "{name} is run by /init but has no test here");
            }
        }
    };
}

check_programs!(procs, pipes, signals, mmap, files, procfs, time, fpconst);

/// The x87 constants come out the same, bit for bit, whether the Guest kernel uses the
/// CPU's x87 (the `guest::fpconst` test) or emulates one (here).
#[test]
fn fpconst_with_the_kernels_math_emulation() {
    math_emulation_check("fpconst");
}

/// The result of `fpbench` or another timed program (its printed line ends `result 0x...`,
/// for `fpbench` a hash of its final values' bits; the rest of the line is timing).
fn fpbench_result(text: &str) -> String {
    text.lines().find_map(|l| l.split(", result ").nth(1)).unwrap_or("(none)").to_string()
}

/// An n-body simulation compiled to x87 code computes the same bits in the Guest, on the
/// CPU's x87 and under the kernel's math emulator, as on the real processor.
#[test]
fn fpbench_computes_the_native_result_on_the_cpus_x87_and_under_math_emulation() {
    let native = native("fpbench", &["200"]);
    assert_eq!(native.status, "exited 0", "{}", native.text);
    let want = fpbench_result(&native.text);
    let x87 =
        boot(linux::test_initramfs(), "quiet run=fpbench,200", &[]).unwrap_or_else(|why| panic!("{why}"));
    let emulated = math_emulation_boot().as_ref().unwrap_or_else(|why| panic!("{why}"));
    for (how, runs) in [("the CPU's x87", &x87), ("math emulation", emulated)] {
        let run = runs.get("fpbench").unwrap_or_else(|| panic!("{how}: fpbench did not run"));
        assert_eq!(fpbench_result(&run.text), want, "{how}: {}", run.text);
    }
}

#[test]
fn fptrig_runs_natively_and_prints_a_line_per_computation() {
    let out = native("fptrig", &[]);
    assert_eq!(out.status, "exited 0", "{}", out.text);
    assert_eq!(out.text.lines().count(), 7, "{}", out.text);
    assert!(
        out.text.contains("sin 3 (fsin): 3ffc:9081c36db6aada79"),
        "the real processor's sin 3:\n{}",
        out.text
    );
}

#[test]
fn benchmark_programs_time_themselves_and_compute_what_kernels_c_computes() {
    // (program, iterations, its result for them: the sieve's prime count below 65536
    // whatever the repetitions; the others only report the format)
    for (name, n, result) in [
        ("bench_syscall", "1000", None),
        ("bench_fork", "20", Some("0x00000000")),
        ("bench_alu", "15000000", Some("0xc9eeb2e4")),
        ("bench_sieve", "2", Some("0x0000198e")),
        ("bench_sort", "60", Some("0x3bf5071f")),
    ] {
        let out = native(name, &[n]);
        assert_eq!(out.status, "exited 0", "{name}: {}", out.text);
        let line = out.text.trim_end();
        assert!(line.contains(&format!(": {n} ")) && line.contains(" ns per "), "{name}: {line}");
        if let Some(result) = result {
            assert!(line.ends_with(&format!("result {result}")), "{name}: {line}");
        }
    }
}

/// The compute programs of the benchmark report compute in the Guest what they compute on
/// the real processor (their lines end `result 0x...`; the rest is timing): integer
/// arithmetic, memory, calls, `memmove`, division, 64-bit arithmetic and x87 loops, which
/// the translator runs as machine code once they are hot.
#[test]
fn compute_programs_give_the_real_processors_results_in_the_guest() {
    let programs = [
        ("bench_alu", "300000"),
        ("bench_sieve", "20"),
        ("bench_sort", "6"),
        ("bench_matmul", "8"),
        ("bench_crc", "8"),
        ("bench_calls", "8"),
        ("bench_string", "40"),
        ("bench_primes", "1"),
        ("bench_hash64", "2"),
        ("fpmandel", "2"),
        ("fptrans", "20"),
        ("fpbench", "300"),
    ];
    let cmdline = programs.iter().map(|(p, n)| format!("run={p},{n}")).collect::<Vec<_>>().join(" ");
    let runs =
        boot(linux::test_initramfs(), &format!("quiet {cmdline}"), &[]).unwrap_or_else(|why| panic!("{why}"));
    for (name, n) in programs {
        let native = native(name, &[n]);
        assert_eq!(native.status, "exited 0", "{name}: {}", native.text);
        let want = fpbench_result(&native.text);
        assert_ne!(want, "(none)", "{name} natively: {}", native.text);
        let guest = runs.get(name).unwrap_or_else(|| panic!("the test /init did not run {name}"));
        assert_eq!(guest.status, "exited 0", "{name} in the Guest: {}", guest.text);
        assert_eq!(fpbench_result(&guest.text), want, "{name} in the Guest: {}", guest.text);
    }
}

#[test]
fn the_test_init_refuses_to_run_as_anything_but_process_1() {
    let out = native("init", &[]);
    assert_eq!(out.status, "exited 1");
    assert!(out.text.contains("not process 1"), "{}", out.text);
}

#[test]
fn programs_other_than_the_fpu_ones_have_no_x87_mmx_or_sse_instructions() {
    use iced_x86::{CpuidFeature as F, Decoder, DecoderOptions, Instruction};
    for p in linux::PROGRAMS.iter().filter(|p| !p.name().starts_with("fp")) {
        let elf = std::fs::read(p.path()).expect("read the program");
        let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
        let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
        let (phoff, phnum) = (u32_at(28), u16_at(44));
        for ph in (0..phnum).map(|i| phoff + 32 * i) {
            // PT_LOAD with PF_X: code.
            if u32_at(ph) != 1 || u32_at(ph + 24) & 1 == 0 {
                continue;
            }
            let (offset, vaddr, filesz) = (u32_at(ph + 4), u32_at(ph + 8), u32_at(ph + 16));
            let mut decoder =
                Decoder::with_ip(32, &elf[offset..offset + filesz], vaddr as u64, DecoderOptions::NONE);
            let mut insn = Instruction::default();
            while decoder.can_decode() {
                decoder.decode_out(&mut insn);
                let fpu = insn.cpuid_features().iter().any(|f| {
                    matches!(
                        f,
                        F::FPU
                            | F::FPU287
                            | F::FPU387
                            | F::MMX
                            | F::SSE
                            | F::SSE2
                            | F::SSE3
                            | F::SSSE3
                            | F::SSE4_1
                            | F::SSE4_2
                    )
                }) || (0..insn.op_count()).any(|i| {
                    let r = insn.op_register(i);
                    r.is_st() || r.is_mm() || r.is_xmm()
                });
                assert!(!fpu, "{} has {insn} at {:#x}: the Guest CPU has no FPU", p.name(), insn.ip());
            }
        }
    }
}

#[test]
fn an_initramfs_extended_with_a_file_lets_a_klibc_tool_read_it() {
    let mut extra = initramfs::Archive::new();
    extra.dir("etc", 0o755).unwrap().file("etc/greeting", 0o644, b"hello from an added file\n").unwrap();
    let base = std::fs::read(linux::test_initramfs()).expect("the test initramfs");
    let image = initramfs::Initramfs::from_image(&base).append(extra).clone().into_bytes();
    let path = common::temp_file("linux-extended.cpio.gz", &image);
    let runs = boot(&path, "quiet run=cat,/etc/greeting", &[]).unwrap_or_else(|why| panic!("{why}"));
    let cat = runs.get("cat").expect("the test /init ran cat");
    assert_eq!((cat.text.as_str(), cat.status.as_str()), ("hello from an added file\n", "exited 0"));
}
