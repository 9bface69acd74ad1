//! The 2.6.23 Launcher's own command line, for people who know lguest:
//!
//! ```text
//! lguest [--verbose] [--block=FILE] [--initrd=FILE] [--sharenet=NAME] [--tunnet=IF]...
//!        MEM_IN_MB vmlinux [kernel arguments...]
//! ```
//!
//! It is recognised by its first operand being a number (the memory in MiB), which none
//! of this project's subcommands is, and mapped onto the same [`Launch`] as `lguest run`:
//! `--block` is `--block`, `--initrd` is `--initrd`, `--sharenet=NAME` joins the named
//! network NAME (`--net NAME`; in 2.6.23 it named a file the Guests shared), `--tunnet=IF`
//! attaches to the TAP interface IF (`--net tap:IF`; in 2.6.23 it made the interface
//! itself), and `--verbose` traces what the Launcher's devices do (`--trace dma,block,net`).
//! The kernel arguments become the command line. Options are taken wherever they are —
//! before the memory size, between it and the kernel, or among the kernel arguments —
//! with their value after `=` or as the next word, as the original's `getopt_long` took
//! them (it permutes); after `--` every word is an operand, so a kernel argument that
//! starts with `-` goes after `--`. Exit statuses are this project's (see `main.rs`).

use super::{Kernel, Launch, Trace};
use host::{BlockConfig, Config, DeviceConfig, NetConfig};
use std::path::PathBuf;

/// The usage line, printed after an error in this form.
pub const USAGE: &str = "usage: lguest [--verbose] [--block=FILE] [--initrd=FILE] [--sharenet=NAME] \
                         [--tunnet=IF]... MEM_IN_MB vmlinux [kernel arguments...]";

/// `Some` if `args` (the whole argv) is in the 2.6.23 form: the Launch, or what is wrong.
pub fn parse(args: &[String]) -> Option<Result<Launch, String>> {
    if !first_operand_is_a_number(args) {
        return None;
    }
    Some(parse_original(args))
}

/// Options that take a value.
const WITH_VALUE: [&str; 4] = ["block", "initrd", "sharenet", "tunnet"];

/// Whether the first word that is neither an option nor an option's value is a number.
fn first_operand_is_a_number(args: &[String]) -> bool {
    let mut words = args.iter().skip(1);
    while let Some(w) = words.next() {
        if let Some(long) = w.strip_prefix("--") {
            if WITH_VALUE.contains(&long) {
                words.next();
            }
            continue;
        }
        if w.starts_with('-') {
            continue;
        }
        return !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit());
    }
    false
}

fn parse_original(args: &[String]) -> Result<Launch, String> {
    let mut config = Config::new();
    let mut trace = Vec::new();
    let mut initrd = None;
    let mut operands = Vec::new();
    let mut words = args.iter().skip(1);
    while let Some(w) = words.next() {
        // As getopt: `--` ends the options; a lone `-` is an operand.
        if w == "--" {
            operands.extend(words.by_ref().cloned());
            break;
        }
        if w == "-" {
            operands.push(w.clone());
            continue;
        }
        if w == "-v" || w == "--verbose" {
            trace.extend([Trace::Dma, Trace::Block, Trace::Net]);
            continue;
        }
        let Some(long) = w.strip_prefix("--") else {
            if w.starts_with('-') {
                return Err(format!("unknown option {w}"));
            }
            operands.push(w.clone());
            continue;
        };
        let (name, value) = match long.split_once('=') {
            Some((name, value)) => (name, value.to_string()),
            None if WITH_VALUE.contains(&long) => {
                (long, words.next().cloned().ok_or_else(|| format!("--{long} needs a value"))?)
            }
            None => return Err(format!("unknown option {w}")),
        };
        match name {
            "block" => config.devices.push(DeviceConfig::Block(BlockConfig {
                path: PathBuf::from(value),
                read_only: false,
                sync: false,
            })),
            "initrd" => initrd = Some(Kernel::File(PathBuf::from(value))),
            "sharenet" => {
                let net = NetConfig::parse(&value).map_err(|e| format!("--sharenet={value}: {e}"))?;
                let NetConfig::Named(_) = net else {
                    return Err(format!("--sharenet={value}: a network name, not a TAP interface"));
                };
                config.devices.push(DeviceConfig::Net(net));
            }
            "tunnet" => {
                let net = NetConfig::parse(&format!("tap:{value}"))
                    .map_err(|e| format!("--tunnet={value}: {e}"))?;
                config.devices.push(DeviceConfig::Net(net));
            }
            _ => return Err(format!("unknown option --{name}")),
        }
    }
    let [mem, kernel, kernel_args @ ..] = operands.as_slice() else {
        return Err("the memory size (in MiB) and the kernel are needed".into());
    };
    let mib: u64 = mem.parse().map_err(|_| format!("'{mem}' is not a memory size in MiB"))?;
    config.mem_size = mib.checked_mul(1 << 20).ok_or_else(|| format!("{mib} MiB is too much memory"))?;
    config.cmdline = kernel_args.join(" ");
    // (The engine: $LGUEST_CPU, or the default.)
    Ok(Launch {
        name: kernel.clone(),
        kernel: Kernel::File(PathBuf::from(kernel)),
        initrd,
        config,
        trace,
        cpu: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        std::iter::once("lguest").chain(s.split_whitespace()).map(String::from).collect()
    }

    #[test]
    fn the_form_is_told_by_a_number_as_first_operand() {
        assert!(parse(&argv("64 vmlinux")).is_some());
        assert!(parse(&argv("--block=d.img --initrd i.cpio 32 vmlinux root=/dev/lgba")).is_some());
        assert!(parse(&argv("run vmlinux")).is_none());
        assert!(parse(&argv("linux --mem 64M")).is_none());
        assert!(parse(&argv("")).is_none());
        assert!(parse(&argv("--help")).is_none());
    }

    #[test]
    fn options_memory_kernel_and_kernel_arguments_are_mapped() {
        let l = parse(&argv("--verbose --block=a.img --initrd i.gz --sharenet=lab 32 vmlinux quiet shell"))
            .unwrap()
            .unwrap();
        assert_eq!(l.config.mem_size, 32 << 20);
        assert_eq!(l.config.cmdline, "quiet shell");
        assert_eq!(l.name, "vmlinux");
        assert!(matches!(l.initrd, Some(Kernel::File(ref p)) if p == &PathBuf::from("i.gz")));
        assert_eq!(l.config.devices.len(), 2);
        assert!(l.trace.contains(&Trace::Block));
    }

    #[test]
    fn options_among_the_kernel_arguments_are_options_as_getopt_permutes_them() {
        let l = parse(&argv("64 vmlinux root=/dev/lgba --block=x.img quiet --initrd i.gz")).unwrap().unwrap();
        assert_eq!(l.config.cmdline, "root=/dev/lgba quiet");
        assert_eq!(l.config.devices.len(), 1);
        assert!(matches!(l.initrd, Some(Kernel::File(ref p)) if p == &PathBuf::from("i.gz")));
    }

    #[test]
    fn after_a_double_dash_every_word_is_the_kernels() {
        let l = parse(&argv("64 vmlinux -- --block=x.img -s")).unwrap().unwrap();
        assert_eq!(l.config.cmdline, "--block=x.img -s");
        assert!(l.config.devices.is_empty());
        assert!(parse(&argv("64 vmlinux -s")).unwrap().is_err(), "an unknown option, as in getopt");
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(parse(&argv("64")).unwrap().is_err());
        assert!(parse(&argv("--frobnicate 64 vmlinux")).unwrap().is_err());
        assert!(parse(&argv("--sharenet=tap:x 64 vmlinux")).unwrap().is_err());
        assert!(parse(&argv("--tunnet=a/b 64 vmlinux")).unwrap().is_err());
    }
}
