//! `lguest`: the Launcher. Parses the command line, builds a Guest from a kernel image
//! (or the embedded demo), runs it, and turns how it ended into an exit status:
//!
//! | status | meaning |
//! |---|---|
//! | 0 | the Guest powered off |
//! | 1 | the Guest crashed (LHCALL_CRASH with its own message) |
//! | 2 | the Host killed the Guest (it broke a rule; one line on stderr says which) |
//! | 64 | the command line or the kernel image was wrong |
//! | 130 | the Launcher was stopped from outside (a signal, or three Ctrl-Cs at the console) |

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use host::{BlockConfig, Config, ConsoleInput, DeviceConfig, Event, EventSender, Guest};
use std::borrow::Cow;
use std::path::PathBuf;
use std::process::ExitCode;

mod original;

/// Exit status for a wrong command line or an unusable kernel (BSD's EX_USAGE).
const EXIT_USAGE: u8 = 64;

#[derive(Parser)]
#[command(
    name = "lguest",
    version,
    about = "Run a paravirtualized 32-bit x86 Guest (the lguest ABI of Linux 2.6.23) on a software CPU",
    after_help = "With no command, boots the embedded demo Guest.\n\
                  The 2.6.23 Launcher's own command line works too:\n  \
                  lguest [--verbose] [--block=FILE] [--initrd=FILE] [--sharenet=NAME] [--tunnet=IF]... \
                  MEM_IN_MB vmlinux [kernel arguments...]\n\
                  Exit status: 0 power off, 1 guest crash, 2 guest killed by the Host, 64 usage error, \
                  130 stopped (a signal or three Ctrl-Cs)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Boot a Guest kernel: a Linux 2.6.23 lguest kernel (vmlinux or bzImage), or a static
    /// 32-bit x86 ELF built with the Guest kit.
    Run(RunArgs),
    /// Boot the bundled Linux 2.6.23.17 kernel and its initramfs to a shell on the console
    /// (klibc's tools, and `net` to configure eth0; exit the shell to power off).
    Linux(LinuxArgs),
}

#[derive(clap::Args, Default)]
struct RunArgs {
    /// The kernel to boot; the embedded demo Guest if omitted.
    kernel: Option<PathBuf>,
    #[command(flatten)]
    opts: GuestOpts,
}

#[derive(clap::Args, Default)]
struct LinuxArgs {
    #[command(flatten)]
    opts: GuestOpts,
}

/// What every way of booting a Guest takes.
#[derive(clap::Args, Default)]
struct GuestOpts {
    /// Guest RAM: bytes, or a number with K, M or G.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    mem: u64,
    /// The Guest's command line (for Linux: kernel arguments).
    #[arg(long, value_name = "TEXT", default_value = "")]
    cmdline: String,
    /// An initial RAM disk (e.g. a gzip'd cpio initramfs) for a Linux Guest, loaded at the
    /// top of its RAM.
    #[arg(long, value_name = "FILE")]
    initrd: Option<PathBuf>,
    /// A Linux Guest gets no x87 and emulates one in its kernel (it needs
    /// CONFIG_MATH_EMULATION; the Launcher adds `no387`). Without it, Linux uses the CPU's.
    #[arg(long = "math-emulation")]
    math_emulation: bool,
    /// Which struct lguest_data the Guest speaks: "release" (Linux 2.6.23) or "seed" (this
    /// project's kit). Default: told from the kernel image.
    #[arg(long = "lguest-data", value_name = "REVISION", value_enum)]
    lguest_data: Option<RevisionArg>,
    /// Print what the Host does, to stderr (comma-separated).
    #[arg(long, value_name = "WHAT", value_delimiter = ',')]
    trace: Vec<Trace>,
    /// Give the Guest a disk backed by FILE, read-write. Repeat for more disks; they
    /// appear on the bus in command-line order, --block-ro ones included.
    #[arg(long, value_name = "FILE", help_heading = "Block devices")]
    block: Vec<PathBuf>,
    /// Give the Guest a read-only disk backed by FILE: its writes get an error, and
    /// the file is opened read-only.
    #[arg(long = "block-ro", value_name = "FILE", help_heading = "Block devices")]
    block_ro: Vec<PathBuf>,
    /// fdatasync after every block write, before the Guest is told it is done (without
    /// it a write the Guest was told about survives the Launcher dying, not the host).
    #[arg(long = "block-sync", help_heading = "Block devices")]
    block_sync: bool,
    /// A network device: NAME joins the host-local network NAME with every other
    /// Launcher given the same NAME; tap:IFNAME attaches to the host's TAP interface
    /// IFNAME. Repeat for more devices (they follow the disks on the bus). A network is
    /// a directory of sockets, $LGUEST_NET_DIR/NAME, by default
    /// $XDG_RUNTIME_DIR/lguest-net/NAME or /tmp/lguest-net-UID/NAME.
    #[arg(long, value_name = "NAME|tap:IFNAME", value_parser = host::NetConfig::parse, help_heading = "Network")]
    net: Vec<host::NetConfig>,
    /// This Guest's id (0-65535), from which its MAC 02:00:lo:hi:00:00 is made (as Linux makes it); Guests
    /// on one network need different ids. Default: the Launcher's process id.
    #[arg(long, value_name = "N", help_heading = "Network")]
    guestid: Option<u16>,
    /// The CPU engine: jit translates hot Guest code to machine code (the interpreter
    /// where the host cannot); interp only interprets; check runs both in lockstep and
    /// stops at the first difference, printing both states (for finding CPU bugs; slow).
    /// Default: $LGUEST_CPU, else jit. ($LGUEST_JIT_THRESHOLD sets how many times a
    /// block is interpreted before it is translated: 50 by default, 0 translates at once.)
    #[arg(long, value_name = "ENGINE")]
    cpu: Option<CpuEngine>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum CpuEngine {
    Interp,
    Jit,
    Check,
}

/// The engine `--cpu` or `$LGUEST_CPU` asks for.
fn engine(cpu: Option<CpuEngine>) -> Result<host::Engine, String> {
    if let Some(e) = cpu {
        return Ok(match e {
            CpuEngine::Interp => host::Engine::Interp,
            CpuEngine::Jit => host::Engine::Jit,
            CpuEngine::Check => host::Engine::Check,
        });
    }
    match std::env::var("LGUEST_CPU") {
        Ok(v) if !v.is_empty() => v.parse().map_err(|e| format!("LGUEST_CPU: {e}")),
        _ => Ok(host::Engine::Jit),
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum RevisionArg {
    /// The Linux 2.6.23 release: lguest_data with `time`, 1128 bytes.
    Release,
    /// The July 2007 seed: lguest_data without `time`, with LHCALL_GET_WALLCLOCK.
    Seed,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Trace {
    /// Every hypercall, synchronous and async, with its arguments.
    Hcalls,
    /// Every trap and software interrupt.
    Traps,
    /// DMA transfers.
    Dma,
    /// Block device requests and their results.
    Block,
    /// Network frames, peers joining and leaving, and each device's counters at exit.
    Net,
    /// All of the above.
    All,
}

/// Everything needed to boot one Guest, whichever command line asked for it.
struct Launch {
    /// How to name the kernel in messages.
    name: String,
    /// A kernel file to read, or the kernel's bytes.
    kernel: Kernel,
    initrd: Option<Kernel>,
    config: Config,
    trace: Vec<Trace>,
    cpu: Option<CpuEngine>,
}

/// Where a kernel (or initrd) image comes from.
enum Kernel {
    File(PathBuf),
    Embedded(&'static [u8]),
}

impl Kernel {
    fn read(&self, what: &str) -> Result<Cow<'static, [u8]>, String> {
        match self {
            Kernel::Embedded(bytes) => Ok(Cow::Borrowed(bytes)),
            Kernel::File(path) => std::fs::read(path)
                .map(Cow::Owned)
                .map_err(|e| format!("cannot read {what}{}: {e}", path.display())),
        }
    }
}

/// Parse "64M", "1G", "65536K" or a plain byte count.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(digits);
    let n: u64 = num.parse().map_err(|_| format!("'{s}' is not a size (e.g. 64M)"))?;
    let mult = match unit.to_ascii_uppercase().as_str() {
        "" => 1u64,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("unknown unit '{unit}' in '{s}' (use K, M or G)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("'{s}' is too large"))
}

fn init_tracing(trace: &[Trace]) {
    if trace.is_empty() {
        return;
    }
    let all = trace.contains(&Trace::All);
    let targets: Vec<&str> = [
        (Trace::Hcalls, "lguest::hcall"),
        (Trace::Traps, "lguest::trap"),
        (Trace::Dma, "lguest::dma"),
        (Trace::Block, "lguest::block"),
        (Trace::Net, "lguest::net"),
    ]
    .iter()
    .filter(|(t, _)| all || trace.contains(t))
    .map(|&(_, name)| name)
    .collect();
    let filter = tracing_subscriber::filter::filter_fn(move |meta| targets.contains(&meta.target()));
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .without_time()
        .with_level(false)
        .with_target(false)
        .with_filter(filter);
    let _ = tracing_subscriber::registry().with(fmt).try_init();
}

use tracing_subscriber::Layer as _;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let launch = match original::parse(&args) {
        Some(Ok(launch)) => launch,
        Some(Err(e)) => {
            eprintln!("lguest: {e}\n{}", original::USAGE);
            return ExitCode::from(EXIT_USAGE);
        }
        None => match parse_cli() {
            Ok(launch) => launch,
            Err(status) => return status,
        },
    };
    run(launch)
}

/// This project's command line (`lguest`, `lguest run`, `lguest linux`).
fn parse_cli() -> Result<Launch, ExitCode> {
    let parsed = Cli::command().try_get_matches().and_then(|m| Ok((Cli::from_arg_matches(&m)?, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            let usage = e.use_stderr();
            let _ = e.print();
            return Err(if usage { ExitCode::from(EXIT_USAGE) } else { ExitCode::SUCCESS });
        }
    };
    Ok(match cli.command {
        Some(Command::Run(args)) => {
            let (name, kernel) = match args.kernel {
                Some(path) => (path.display().to_string(), Kernel::File(path)),
                None => ("the embedded demo Guest".to_string(), Kernel::Embedded(images::DEFAULT.elf())),
            };
            launch(name, kernel, args.opts, matches.subcommand_matches("run"))
        }
        Some(Command::Linux(args)) => {
            let mut opts = args.opts;
            // The bundled initramfs runs a shell when its command line says so.
            if opts.initrd.is_none() {
                opts.cmdline = format!("shell {}", opts.cmdline).trim_end().to_string();
            }
            let mut l = launch(
                "the bundled Linux kernel".to_string(),
                Kernel::Embedded(images::linux::VMLINUX),
                opts,
                matches.subcommand_matches("linux"),
            );
            l.initrd.get_or_insert(Kernel::Embedded(images::linux::SHELL_INITRAMFS));
            l
        }
        None => {
            let opts = GuestOpts { mem: 64 << 20, ..GuestOpts::default() };
            launch("the embedded demo Guest".to_string(), Kernel::Embedded(images::DEFAULT.elf()), opts, None)
        }
    })
}

/// A [`Launch`] from parsed options (`matches` gives the order of the disks).
fn launch(name: String, kernel: Kernel, opts: GuestOpts, matches: Option<&ArgMatches>) -> Launch {
    let mut config = Config::new();
    config.mem_size = opts.mem;
    config.cmdline = opts.cmdline.clone();
    config.devices.extend(block_devices(&opts, matches));
    config.devices.extend(opts.net.iter().cloned().map(DeviceConfig::Net));
    if let Some(id) = opts.guestid {
        config.guestid = id;
    }
    config.math_emulation = opts.math_emulation;
    config.revision = opts.lguest_data.map(|r| match r {
        RevisionArg::Release => host::Revision::Release,
        RevisionArg::Seed => host::Revision::Seed,
    });
    Launch { name, kernel, initrd: opts.initrd.map(Kernel::File), config, trace: opts.trace, cpu: opts.cpu }
}

/// Boot the Guest, run it to its end, and say how it ended.
fn run(launch: Launch) -> ExitCode {
    let Launch { name, kernel, initrd, mut config, trace, cpu } = launch;
    init_tracing(&trace);
    config.engine = match engine(cpu) {
        Ok(e) => e,
        Err(msg) => {
            eprintln!("lguest: {msg}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let image = match kernel.read("") {
        Ok(image) => image,
        Err(e) => {
            eprintln!("lguest: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Some(initrd) = initrd {
        match initrd.read("the initrd ") {
            Ok(bytes) => config.initrd = Some(bytes.into_owned()),
            Err(e) => {
                eprintln!("lguest: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    config.console_in = ConsoleInput::Stdin;
    // Take over the signals before the console may put the terminal in raw mode, so that
    // no signal can end the Launcher between the two and leave the terminal raw.
    let signals = catch_signals();
    let mut guest = match Guest::new(&image, config) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("lguest: cannot boot {name}: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Some(signals) = signals {
        forward_signals(signals, guest.event_sender());
    }
    let outcome = guest.run();
    let net_report = guest.net_report();
    // Dropping the Guest puts the terminal back before we say anything.
    drop(guest);
    for line in net_report {
        eprintln!("{line}");
    }
    if let Some(msg) = outcome.message() {
        eprintln!("{msg}");
    }
    ExitCode::from(outcome.exit_status() as u8)
}

/// The disks `--block` and `--block-ro` asked for, in command-line order.
fn block_devices(args: &GuestOpts, matches: Option<&ArgMatches>) -> Vec<DeviceConfig> {
    let at = |id: &str| -> Vec<usize> {
        matches.and_then(|m| m.indices_of(id)).map(Iterator::collect).unwrap_or_default()
    };
    let rw = args.block.iter().zip(at("block")).map(|(p, i)| (i, p, false));
    let ro = args.block_ro.iter().zip(at("block_ro")).map(|(p, i)| (i, p, true));
    let mut disks: Vec<_> = rw.chain(ro).collect();
    disks.sort_by_key(|&(i, _, _)| i);
    disks
        .into_iter()
        .map(|(_, path, read_only)| {
            DeviceConfig::Block(BlockConfig { path: path.clone(), read_only, sync: args.block_sync })
        })
        .collect()
}

/// Catch SIGINT, SIGTERM and SIGHUP (from now on they no longer end the process).
fn catch_signals() -> Option<signal_hook::iterator::Signals> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).ok()
}

/// Turn the caught signals into a clean stop of the Guest (so the terminal is restored and
/// the console flushed) instead of dying mid-instruction.
fn forward_signals(mut signals: signal_hook::iterator::Signals, events: EventSender) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let _ = std::thread::Builder::new().name("signals".into()).spawn(move || {
        for sig in signals.forever() {
            let name = match sig {
                SIGINT => "SIGINT",
                SIGTERM => "SIGTERM",
                _ => "SIGHUP",
            };
            if !events.send(Event::Stop(format!("{name} to the Launcher"))) {
                return;
            }
        }
    });
}
