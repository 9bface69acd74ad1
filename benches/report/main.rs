//! The benchmark report: everything issue 6 asks to measure, in one run, side by side on
//! one machine, written to `BENCHMARKS.md` at the top of the repository (and printed).
//! Run it with `scripts/bench.sh`, which installs QEMU first if it is missing; without
//! QEMU (`cargo bench --bench report`) its columns say so.
//!
//! - Guest CPU speed (`kernels.rs`): three kernels, one ELF each, run natively, on our
//!   interpreter and our translator, and under `qemu-system-i386` (TCG) as a multiboot
//!   kernel (`mb.c`).
//! - Hot paths: the lguest benchmark Guests (`guests/bench`), run in-process on both
//!   engines as `benches/hypercalls.rs` and `benches/traps.rs` do, beside the multiboot
//!   kernel's nearest equivalents under QEMU.
//! - Boot time and memory (`boot.rs`): the `lguest` binary and QEMU as processes.
//! - The real Linux 2.6.23 Guest (`linux.rs`): time to its first userspace line, and
//!   compute programs run as `/init`'s children timing themselves, on both engines,
//!   beside QEMU booting the same bzImage and initramfs.
//!
//! Machines are shared and noisy: every number is the best of several runs.

mod boot;
#[path = "../common/mod.rs"]
mod common;
mod kernels;
mod linux;
mod machine;
mod qemu;
#[path = "../../crates/cpu/tests/support/mod.rs"]
mod support;

use common::Best;
use cpu::Engine;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const HCALL_RUNS: usize = 5;
const TRAP_RUNS: usize = 5;
const QEMU_TRAP_RUNS: usize = 5;
const BOOT_RUNS: usize = 10;
const LINUX_BOOT_RUNS: usize = 5;
const LINUX_PROGRAM_RUNS: usize = 3;
const MEMORY_RUNS: usize = 3;
/// Guest RAM for the boot and memory runs: the Launcher's default, and QEMU's `-m`.
const GUEST_RAM: u64 = 64 << 20;
/// The LAPIC timer delay the multiboot kernel arms (mb.c IRQ_DELTA_NS); its IRQ samples
/// are from arming to the handler, so this is subtracted to leave the latency.
const QEMU_IRQ_DELTA_NS: f64 = 10_000.0;

/// One hot path: our sample, QEMU's nearest equivalent, and the target.
struct HotPath {
    ours: &'static str,
    what: &'static str,
    qemu: Option<&'static str>,
    qemu_what: &'static str,
}

const HOT_PATHS: [HotPath; 9] = [
    HotPath {
        ours: "sync_hcall",
        what: "synchronous hypercall round trip (`LHCALL_FLUSH_ASYNC`, empty ring)",
        qemu: Some("port_write"),
        qemu_what: "port write, `outb` to port 0x80: a trip to device emulation and back",
    },
    HotPath {
        ours: "async_hcall",
        what: "async hypercall, amortized (64-slot ring, one synchronous call drains it)",
        qemu: Some("port_write_batched"),
        qemu_what: "virtio-style: 16-byte request + status byte stored in a 64-slot ring, one `outb` kick per 64",
    },
    HotPath {
        ours: "syscall",
        what: "system call, `int $0x80` user → Guest kernel → user",
        qemu: Some("syscall"),
        qemu_what: "the same instructions: `int $0x80` ring 3 → ring 0 through the IDT, `iret`",
    },
    HotPath {
        ours: "user_page_fault",
        what: "page fault in user mode, reflected to the Guest kernel, handled, returned",
        qemu: Some("user_page_fault"),
        qemu_what: "the same: #PF from ring 3 through the IDT, handler skips the load, `iret`",
    },
    HotPath {
        ours: "kernel_page_fault",
        what: "page fault in the Guest kernel, reflected and skipped",
        qemu: Some("kernel_page_fault"),
        qemu_what: "the same from ring 0",
    },
    HotPath {
        ours: "kernel_trap",
        what: "`int3` in the Guest kernel, reflected and returned",
        qemu: Some("kernel_trap"),
        qemu_what: "`int3` at ring 0 through the IDT, `iret`",
    },
    HotPath {
        ours: "irq_latency",
        what: "IRQ latency: clock deadline → handler, Guest spinning",
        qemu: Some("irq_latency"),
        qemu_what: "LAPIC one-shot timer deadline → handler, spinning",
    },
    HotPath {
        ours: "irq_latency_halt",
        what: "IRQ latency: clock deadline → handler, Guest halted",
        qemu: Some("irq_latency_halt"),
        qemu_what: "the same, the CPU in `hlt`",
    },
    HotPath {
        ours: "context_switch",
        what: "switch between two user tasks (yield system call + `NEW_PGTABLE`)",
        qemu: None,
        qemu_what: "(not measured)",
    },
];

/// The engines every lguest-rs figure is given for.
const ENGINES: [Engine; 2] = [Engine::Interp, Engine::Jit];

/// Our hot paths on each of [`ENGINES`] (runs alternating between them), and the heap
/// allocations of each benchmark Guest's leanest run (on the default engine).
fn ours_hot_paths() -> (Vec<Best>, Vec<(&'static str, u64)>) {
    let mut best: Vec<Best> = ENGINES.iter().map(|_| Best::default()).collect();
    let mut allocations = Vec::new();
    for (guest, runs) in [(&images::HCALL_BENCH, HCALL_RUNS), (&images::TRAP_BENCH, TRAP_RUNS)] {
        eprintln!("report: {} x{runs} per engine", guest.name());
        let per = Best::per_engine(guest, runs, &ENGINES);
        for (b, p) in best.iter_mut().zip(&per) {
            b.merge(p);
        }
        allocations.push((guest.name(), per[1].allocations.unwrap_or(0)));
    }
    (best, allocations)
}

fn qemu_hot_paths(elf: &Path) -> Best {
    eprintln!("report: QEMU traps x{QEMU_TRAP_RUNS}");
    let mut best = Best::default();
    for _ in 0..QEMU_TRAP_RUNS {
        let (_, out) = qemu::run(elf, "mode=traps");
        for (name, n, cycles) in qemu::samples(&out) {
            let mut ns = machine::cycles_to_ns(cycles as f64) / n as f64;
            if name.starts_with("irq_latency") {
                ns -= QEMU_IRQ_DELTA_NS;
            }
            best.add(&name, ns);
        }
    }
    best
}

fn lguest(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lguest"));
    cmd.args(args);
    cmd
}

fn ns(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v >= 10_000.0 {
        format!("{:.1} µs", v / 1000.0)
    } else {
        format!("{v:.1} ns")
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn pass(ok: bool) -> &'static str {
    if ok { "pass" } else { "**miss**" }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    let have_qemu = qemu::available();
    if !have_qemu {
        eprintln!(
            "report: {} not found: QEMU's columns will be empty (scripts/bench.sh installs it)",
            qemu::QEMU
        );
    }
    let machine = machine::describe();
    let date = machine::first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit =
        machine::first_line("git", &["-C", env!("CARGO_MANIFEST_DIR"), "describe", "--always", "--dirty"]);

    // Guest CPU speed.
    let speeds = kernels::measure(&dir, have_qemu);
    let baseline = have_qemu.then(|| kernels::qemu_baseline(&dir));

    // Hot paths.
    let (ours_by_engine, allocations) = ours_hot_paths();
    // The targets are the default engine's (the translator).
    let ours = &ours_by_engine[1];
    let theirs = if have_qemu { qemu_hot_paths(&dir.join("alu.elf")) } else { Best::default() };

    // Boot and memory.
    eprintln!("report: boot time and memory");
    let hello = images::HELLO.path().to_str().expect("UTF-8 path");
    let idle = images::IDLE_BENCH.path().to_str().expect("UTF-8 path");
    let boot_hello = boot::time_to_first_line(BOOT_RUNS, || lguest(&["run", hello]));
    let boot_demo = boot::time_to_first_line(BOOT_RUNS, || lguest(&[]));
    let mem_ours = boot::memory_at_rest(MEMORY_RUNS, GUEST_RAM, || lguest(&["run", idle]));
    let alu_elf = dir.join("alu.elf");
    let (boot_qemu, mem_qemu) = if have_qemu {
        let make = || qemu::command(&alu_elf, "mode=boot");
        (
            Some(boot::time_to_first_line(BOOT_RUNS, make)),
            Some(boot::memory_at_rest(MEMORY_RUNS, GUEST_RAM, make)),
        )
    } else {
        (None, None)
    };

    // Linux.
    eprintln!("report: Linux boot x{LINUX_BOOT_RUNS}");
    let up = linux::USERSPACE_UP;
    let linux_boot =
        |kernel: &Path, engine| linux::time_to_line(LINUX_BOOT_RUNS, up, || linux::lguest(kernel, engine));
    let linux_vmlinux = linux_boot(&images::linux::vmlinux_path(), Engine::Jit);
    let linux_bzimage = linux_boot(&images::linux::bzimage_path(), Engine::Jit);
    let linux_vmlinux_interp = linux_boot(&images::linux::vmlinux_path(), Engine::Interp);
    let linux_qemu = have_qemu.then(|| linux::time_to_line(LINUX_BOOT_RUNS, up, linux::qemu));
    eprintln!("report: Linux programs x{LINUX_PROGRAM_RUNS} per engine");
    let programs_jit = linux::programs_in_lguest(LINUX_PROGRAM_RUNS, Engine::Jit);
    let programs_interp = linux::programs_in_lguest(LINUX_PROGRAM_RUNS, Engine::Interp);
    let programs_native = linux::programs_natively(LINUX_PROGRAM_RUNS);
    let programs_qemu = have_qemu.then(|| linux::programs_in_qemu(LINUX_PROGRAM_RUNS));
    eprintln!("report: x87 in the Linux Guest x{LINUX_PROGRAM_RUNS}");
    let fp = linux::fpbench(LINUX_PROGRAM_RUNS, have_qemu);

    // The report.
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "# Benchmarks\n");
    let _ = writeln!(
        w,
        "Written by `scripts/bench.sh` (`cargo bench --bench report`, source in `benches/report/`) \
         on {date}, at commit `{commit}`. Everything below was measured in that one run, on \
         this machine, side by side. The machine is shared with other work, so every figure is \
         the **best of several runs** (the count is given with each table); the worst runs can \
         be much slower.\n"
    );
    let _ = writeln!(w, "## Machine\n\n| | |\n|---|---|");
    for (k, v) in &machine {
        let _ = writeln!(w, "| {k} | {v} |");
    }

    // Targets.
    let sync = ours.get("sync_hcall").unwrap_or(f64::NAN);
    let asyn = ours.get("async_hcall").unwrap_or(f64::NAN);
    let sysc = ours.get("syscall").unwrap_or(f64::NAN);
    let pf = ours
        .get("user_page_fault")
        .unwrap_or(f64::NAN)
        .max(ours.get("kernel_page_fault").unwrap_or(f64::NAN));
    let mips = |name: &str| speeds.iter().find(|s| s.name == name).map_or(f64::NAN, |s| s.mips(s.interp));
    let (alu, sieve) = (mips("alu"), mips("sieve"));
    let _ = writeln!(
        w,
        "\n## Targets (issue 6)\n\nHot paths on the default engine (the translator); CPU speed \
         on the interpreter (the translator's is below).\n"
    );
    let _ = writeln!(w, "| what | target | measured | |\n|---|---|---|---|");
    let targets = [
        ("synchronous hypercall round trip", "≤ 100 ns", ns(sync), sync <= 100.0),
        ("async hypercall, amortized", "≤ 30 ns", ns(asyn), asyn <= 30.0),
        ("system call round trip", "≤ 300 ns", ns(sysc), sysc <= 300.0),
        ("page-fault reflection (worse of user and kernel)", "≤ 500 ns", ns(pf), pf <= 500.0),
        (
            "first console line after process start (hello Guest)",
            "≤ 10 ms",
            ms(boot_hello.0),
            boot_hello.0 <= Duration::from_millis(10),
        ),
        ("peak RSS less Guest RAM", "≤ 16 MiB", mib(mem_ours.overhead()), mem_ours.overhead() <= 16 << 10),
        ("CPU, ALU kernel", "≥ 400 MIPS", format!("{alu:.0} MIPS"), alu >= 400.0),
        ("CPU, memory-heavy kernel (sieve)", "≥ 200 MIPS", format!("{sieve:.0} MIPS"), sieve >= 200.0),
    ];
    for (what, target, got, ok) in &targets {
        let _ = writeln!(w, "| {what} | {target} | {got} | {} |", pass(*ok));
    }

    // Issue 11: the translator against QEMU TCG, and the hot paths against the interpreter.
    let _ = writeln!(
        w,
        "\n## Targets (issue 11)\n\nThe translator at half QEMU TCG's speed or better on each \
         kernel and on the compute programs inside the Linux Guest; the hot paths no slower on the \
         translator than on the interpreter (measured in the same run, runs alternating between \
         the engines; a few percent either way is this machine's noise).\n"
    );
    let _ = writeln!(w, "| what | target | measured | |\n|---|---|---|---|");
    for s in &speeds {
        if let Some(q) = s.qemu {
            let x = q.as_secs_f64() / s.jit.as_secs_f64();
            let _ = writeln!(
                w,
                "| translator, {} kernel, vs QEMU TCG | ≥ 0.5× | {x:.2}× | {} |",
                s.name,
                pass(x >= 0.5)
            );
        }
    }
    for (i, (name, _, _)) in linux::PROGRAMS.iter().enumerate() {
        if let Some(q) = programs_qemu.as_ref().map(|q| q[i])
            && !name.contains("syscall")
            && !name.contains("fork")
        {
            let x = q / programs_jit[i];
            let _ = writeln!(
                w,
                "| translator, `{name}` in the Linux Guest, vs QEMU TCG | ≥ 0.5× | {x:.2}× | {} |",
                pass(x >= 0.5)
            );
        }
    }
    for h in HOT_PATHS.iter().filter(|h| h.ours != "context_switch") {
        let (i, j) = (ours_by_engine[0].ns(h.ours), ours_by_engine[1].ns(h.ours));
        let _ = writeln!(
            w,
            "| {}: translator / interpreter | ≤ 1.00 (± 5 %: noise) | {:.2} ({} / {}) | {} |",
            h.ours,
            j / i,
            ns(j),
            ns(i),
            pass(j <= i * 1.05)
        );
    }

    // CPU.
    let _ = writeln!(
        w,
        "\n## Guest CPU speed\n\n\
         Best of {} runs of each of our engines (taking turns), {} native runs, {} QEMU runs. MIPS \
         is the instruction count (retired, counted by our CPU) over each run's time: all of them \
         execute the same bytes of the same ELF file, and all must compute the same result. \
         \"× QEMU\" is the speed as a fraction of QEMU TCG's (above 1: faster than QEMU).\n",
        kernels::INTERP_RUNS,
        kernels::NATIVE_RUNS,
        kernels::QEMU_RUNS
    );
    let _ = writeln!(
        w,
        "| kernel | instructions | interpreter | translator | native 32-bit process | QEMU TCG | interpreter × QEMU | translator × QEMU | translator vs native |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for s in &speeds {
        let cell = |d: Duration| format!("{:.0} MIPS ({:.3} s)", s.mips(d), d.as_secs_f64());
        let qemu = s.qemu.map_or("–".into(), cell);
        let vs_qemu = |d: Duration| {
            s.qemu.map_or("–".into(), |q| format!("{:.2}×", q.as_secs_f64() / d.as_secs_f64()))
        };
        let _ = writeln!(
            w,
            "| {} (`{}`) | {} | {} | {} | {} | {} | {} | {} | {:.1}× slower |",
            s.what,
            s.name,
            thousands(s.insns),
            cell(s.interp),
            cell(s.jit),
            cell(s.native),
            qemu,
            vs_qemu(s.interp),
            vs_qemu(s.jit),
            s.jit.as_secs_f64() / s.native.as_secs_f64()
        );
    }
    let _ = writeln!(
        w,
        "\nWhat the translator did in its best run of each kernel (`cpu::JitStats`): blocks \
         translated once they had been interpreted 50 times, the time that took per block, and \
         the machine code it made (the code cache is a fixed {} MiB arena, flushed whole if it \
         fills).\n",
        speeds.iter().find_map(|s| s.jit_stats).map_or(0, |j| j.arena_size >> 20)
    );
    let _ = writeln!(
        w,
        "| kernel | blocks | Guest instructions in them (translated natively) | compile time per block | code size |\n\
         |---|---:|---:|---:|---:|"
    );
    for s in &speeds {
        if let Some(j) = s.jit_stats {
            let _ = writeln!(
                w,
                "| `{}` | {} | {} ({:.0}%) | {:.1} µs | {} bytes ({:.0} per instruction) |",
                s.name,
                j.blocks,
                j.insns,
                100.0 * j.native_insns as f64 / j.insns.max(1) as f64,
                j.compile_ns as f64 / 1e3 / j.blocks.max(1) as f64,
                thousands(j.code_bytes),
                j.code_bytes as f64 / j.insns.max(1) as f64
            );
        }
    }
    if let Some(base) = baseline {
        let _ = writeln!(
            w,
            "\nA check on QEMU's in-Guest clock: the whole `qemu-system-i386` process timed from \
             outside (best wall time, spawn to exit, start-up and BIOS included) takes {} for a \
             kernel that exits at once, and {}. Start-up varies by tens of milliseconds from run \
             to run, so the difference is only a rough figure.",
            ms(base),
            speeds
                .iter()
                .filter_map(|s| Some(format!("{} for `{}`", ms(s.qemu_wall?), s.name)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    // Hot paths.
    let _ = writeln!(
        w,
        "\n## Hot paths\n\n\
         lguest-rs: best of {HCALL_RUNS} runs of `hcall_bench` and {TRAP_RUNS} of `trap_bench` \
         (`guests/bench`) on each engine, the engines taking turns. QEMU: best of \
         {QEMU_TRAP_RUNS} runs of the multiboot kernel (`mb.c`, `mode=traps`). Times per \
         operation, loop overhead included on both sides (lguest-rs's empty loop: {} on the \
         interpreter, {} on the translator; QEMU's: {} per iteration).\n",
        ns(ours_by_engine[0].ns("empty_loop")),
        ns(ours.get("empty_loop").unwrap_or(f64::NAN)),
        ns(theirs.get("empty_loop").unwrap_or(f64::NAN))
    );
    let _ = writeln!(
        w,
        "| lguest-rs operation | interpreter | translator | translator / interpreter | QEMU's nearest equivalent | QEMU | translator / QEMU |\n\
         |---|---:|---:|---:|---|---:|---:|"
    );
    for h in &HOT_PATHS {
        let (i, o) = (ours_by_engine[0].ns(h.ours), ours.get(h.ours).unwrap_or(f64::NAN));
        let q = h.qemu.and_then(|n| theirs.get(n)).unwrap_or(f64::NAN);
        let r =
            |a: f64, b: f64| if a.is_nan() || b.is_nan() { "–".into() } else { format!("{:.2}", a / b) };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} |",
            h.what,
            ns(i),
            ns(o),
            r(o, i),
            h.qemu_what,
            ns(q),
            r(o, q)
        );
    }
    let _ = writeln!(
        w,
        "\nHeap allocations by the whole Launcher process while a benchmark Guest ran (its \
         leanest run): {}. They come from decoding each block of Guest code once and from the \
         console's output buffer; the hypercalls, traps and interrupts themselves allocate \
         nothing (2,000,000 hypercalls in `hcall_bench`).",
        allocations.iter().map(|(g, n)| format!("`{g}` {n}")).collect::<Vec<_>>().join(", ")
    );

    // Boot and memory.
    let _ = writeln!(
        w,
        "\n## Boot and memory\n\n\
         Time from spawning the process to the first console line on its stdout (best of \
         {BOOT_RUNS}), and memory while the Guest idles after that line (best of {MEMORY_RUNS}), \
         both with {} MiB of Guest RAM.\n",
        GUEST_RAM >> 20
    );
    let _ = writeln!(w, "| | lguest-rs | QEMU |\n|---|---:|---:|");
    let q_boot = boot_qemu.as_ref().map_or("–".into(), |b| format!("{} (`{}`)", ms(b.0), b.1));
    let _ = writeln!(
        w,
        "| first console line, hello Guest | {} (`{}`) | {q_boot} |",
        ms(boot_hello.0),
        boot_hello.1
    );
    let _ = writeln!(
        w,
        "| first console line, demo Guest (embedded) | {} (`{}`) | |",
        ms(boot_demo.0),
        boot_demo.1
    );
    let q_mem = |f: fn(&boot::Memory) -> u64| mem_qemu.as_ref().map_or("–".into(), |m| mib(f(m)));
    let _ = writeln!(w, "| peak RSS (VmHWM) | {} | {} |", mib(mem_ours.peak), q_mem(|m| m.peak));
    let _ = writeln!(w, "| Guest RAM resident | {} | {} |", mib(mem_ours.guest_ram), q_mem(|m| m.guest_ram));
    let _ = writeln!(
        w,
        "| **peak RSS less Guest RAM** | **{}** | **{}** |",
        mib(mem_ours.overhead()),
        q_mem(boot::Memory::overhead)
    );

    // Linux.
    let _ = writeln!(
        w,
        "\n## The Linux 2.6.23 Guest\n\n\
         Time from spawning the monitor to `{up}` on the console, the first line the bundled \
         initramfs's `/init` prints (best of {LINUX_BOOT_RUNS}): the same kernel (`linux/bzImage`, \
         2.6.23.17) and initramfs, 64 MiB, `quiet`. lguest-rs boots it as an lguest Guest (on the \
         virtual CPU's x87); QEMU 7.2 TCG boots it as a PC (`-cpu pentium -kernel bzImage \
         -initrd initramfs.cpio.gz -append \"console=ttyS0 quiet\"`, SeaBIOS included).\n"
    );
    let _ = writeln!(w, "| | time to userspace | vs QEMU |\n|---|---:|---:|");
    let vs = |d: Duration| {
        linux_qemu.map_or("–".into(), |q| format!("{:.1}× faster", q.as_secs_f64() / d.as_secs_f64()))
    };
    let _ = writeln!(w, "| lguest-rs, bzImage | {} | {} |", ms(linux_bzimage), vs(linux_bzimage));
    let _ = writeln!(w, "| lguest-rs, vmlinux | {} | {} |", ms(linux_vmlinux), vs(linux_vmlinux));
    let _ = writeln!(
        w,
        "| lguest-rs, vmlinux, interpreter only (`--cpu interp`) | {} | {} |",
        ms(linux_vmlinux_interp),
        vs(linux_vmlinux_interp)
    );
    let _ = writeln!(w, "| QEMU TCG, bzImage | {} | |", linux_qemu.map_or("–".into(), ms));
    let _ = writeln!(
        w,
        "\nUser programs under the Guest kernel (`guests/linux-user/bench`, static i386 \
         executables, no C library): each times itself with `clock_gettime` and prints the \
         time per iteration. They run as `/init`'s children in the Guest (the test initramfs, \
         `run=NAME`), in QEMU TCG booting the same bzImage with the same initramfs, and \
         natively as processes of this machine's kernel (a 64-bit kernel running a 32-bit \
         program: `int $0x80` is a compatibility-mode system call there, so the first two \
         rows compare different kernels as much as different CPUs). Best of \
         {LINUX_PROGRAM_RUNS}.\n"
    );
    let _ = writeln!(
        w,
        "| program | one iteration | lguest-rs interpreter | lguest-rs translator | QEMU TCG | native | translator vs QEMU | translator vs native |\n\
         |---|---|---:|---:|---:|---:|---:|---:|"
    );
    for (i, (name, _, what)) in linux::PROGRAMS.iter().enumerate() {
        let o = programs_jit[i];
        let interp = programs_interp[i];
        let q = programs_qemu.as_ref().map_or(f64::NAN, |q| q[i]);
        let n = programs_native[i];
        let ratio = |a: f64, b: f64| {
            if a.is_nan() || b.is_nan() {
                "–".to_string()
            } else if a <= b {
                format!("{:.2}× faster", b / a)
            } else {
                format!("{:.2}× slower", a / b)
            }
        };
        let _ = writeln!(
            w,
            "| `{name}` | {what} | {} | {} | {} | {} | {} | {} |",
            ns(interp),
            ns(o),
            ns(q),
            ns(n),
            ratio(o, q),
            ratio(o, n)
        );
    }

    let _ = writeln!(
        w,
        "\nFloating point in the Linux Guest: `fpbench` (an n-body simulation in `f64`, x87 code), \
         time per simulation step, best of {LINUX_PROGRAM_RUNS}. With the CPU's x87 the Guest \
         runs the instructions; with `--math-emulation` (no FPU: the kernel boots with \
         `no387`) every x87 instruction traps into the Guest kernel's emulator. All four \
         compute the same bits.\n"
    );
    let _ = writeln!(
        w,
        "| lguest-rs, x87 | lguest-rs, math emulation | x87 vs emulation | QEMU TCG | native |\n|---:|---:|---:|---:|---:|"
    );
    let _ = writeln!(
        w,
        "| {} | {} | {:.0}× faster | {} | {} |",
        ns(fp.x87),
        ns(fp.emulated),
        fp.emulated / fp.x87,
        fp.qemu.map_or("–".into(), ns),
        ns(fp.native)
    );

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    let _ = writeln!(w, "\nLoad average when the run ended: {load}.");
    md.push_str(METHOD);
    std::fs::write(root.join("BENCHMARKS.md"), &md).expect("write BENCHMARKS.md");
    print!("{md}");
}

const METHOD: &str = "
## How each number is measured

**Guest CPU speed.** `crates/cpu/benches/kernels.c` holds three kernels: an ALU loop
(adds, xors, shifts, a multiply, in registers), a sieve of Eratosthenes over 64 KiB
(memory-heavy) and a quicksort of pseudo-random numbers (branchy). For each, gcc builds
*one* static 32-bit ELF (`-O2 -march=i686 -mno-sse`, no C library) from kernels.c, whose
`_start` is renamed, and `benches/report/mb.{c,S,ld}`. Its entry point looks at `%eax`:
Linux's exec leaves 0 there and it jumps to the kernel, which writes its result with
`int $0x80` and exits; a multiboot loader leaves 0x2BADB002, and `mb.c` sets up a GDT and
an IDT and plays Linux for those two system calls itself. So the same file runs
- *natively*, as a Linux process (time from spawn to exit, which includes the exec);
- on *our CPU* as a flat ring-3 process, the harness playing Linux, as in
  `crates/cpu/benches/interp.rs`, once on each engine: the interpreter (`--cpu interp`)
  and the translator (`--cpu jit`, the default: hot blocks become x86-64 code once they
  have been interpreted 50 times, compile time included); the CPU counts the
  instructions retired;
- under *QEMU* 7.2 TCG: `qemu-system-i386 -accel tcg -M pc -m 64M -nodefaults -display
  none -serial stdio -device isa-debug-exit -kernel FILE -append mode=cpu`. The kernel
  reads the TSC before entering the benchmark kernel and at its `write`; under TCG
  without `-icount`, `rdtsc` returns the host's TSC (QEMU's `cpu_get_host_ticks()`),
  which the report converts to time with the host TSC frequency it measures against
  CLOCK_MONOTONIC. This includes TCG's translation of the code, not QEMU's or the BIOS's
  start-up. The whole process's wall time is given too, as a check on that clock.

The three runs execute the same instructions (the first two of `_start` aside), so one
count serves all three.

**Hot paths.** lguest-rs: the Guests `guests/bench/src/bin/{hcall,trap}_bench.rs` time
each operation from inside with the TSC (which our CPU runs at 1 GHz of host real time)
over 1,000,000 hypercalls or 100,000 traps, 2,000 interrupts; the harness boots them
in-process (`benches/common`). QEMU: the multiboot kernel, with paging on, times the same
counts with `rdtsc` (host TSC cycles, converted as above):
- *port write* (beside the hypercall): `outb` to port 0x80, where every write leaves the
  translated code for QEMU's I/O dispatch — TCG's nearest thing to a VM exit;
- *batched port write* (beside the async hypercall): what a virtio driver does instead of
  an exit per request: a 16-byte request and a status byte stored in a 64-slot ring, and
  one `outb` per 64 requests;
- *system call*, *page faults*, `int3`: the same instructions as the lguest Guests, here
  delivered by QEMU through a real IDT (a TSS for the ring 3 → 0 stack switch) to a
  handler that saves the registers and calls C, like the Guest kit's entry stubs;
- *IRQ latency*: the LAPIC timer armed one-shot for 10 µs (QEMU's LAPIC counts one per
  nanosecond at divide-by-1); the handler reads the TSC; the report subtracts the 10 µs.
  lguest-rs's Guest arms its clock (`LHCALL_SET_CLOCKEVENT`) the same way.

**Boot time.** From just before `spawn` to the first `\\n` on the child's stdout (a pipe),
then the child is killed: `lguest run hello.elf` (the `hello` Guest from a file) and
`lguest` (the embedded demo) against QEMU with the command line above running the
multiboot kernel in `mode=boot`, whose first act is to print a line on the serial port
(QEMU's time includes its own start-up and SeaBIOS).

**Memory.** The Launcher runs `guests/bench/src/bin/idle_bench.rs` (prints a line, then
sleeps in `HALT`), QEMU the multiboot kernel in `mode=boot` (prints a line, then `hlt`).
0.3 s after the line, the report reads VmHWM from /proc/PID/status and, from
/proc/PID/smaps, the resident size of the anonymous mapping holding the Guest's RAM (both
allocate Guest RAM lazily, so only what was touched is resident); the overhead is the
first less the second. Shared libraries count in both RSS figures.
";
