//! Build the Guest kernels in `guests/` and embed them.
//!
//! `guests/` is its own cargo workspace for the 32-bit target `i586-unknown-linux-gnu`,
//! configured by `guests/.cargo/config.toml` (linker, linker script). We run a nested
//! cargo there, in release mode, with:
//! - its own target directory under OUT_DIR: sharing the outer one would deadlock on its
//!   lock;
//! - none of the outer build's cargo and rustc settings in its environment (target,
//!   rustflags, wrappers, profiles, jobserver): the guest build is configured by
//!   `guests/.cargo/config.toml` alone;
//! - the i586 standard library installed first if it is missing (`rust-toolchain.toml`
//!   lists it, but rustup does not always install targets on its own).
//!
//! The executables cargo reports (`--message-format=json`) become `OUT_DIR/guests.rs`: one
//! `Guest` static per kernel, `include_bytes!`-ing its ELF, which `src/lib.rs` includes.
//!
//! Then the same for the Linux user programs of `guests/linux-user`, a workspace of its
//! own (they link as ordinary Linux executables, not as kernels): a second nested cargo,
//! in its own target directory, and `OUT_DIR/linux.rs` with a `Program` static per
//! program (by path: nothing boots them without a kernel, so they are not embedded),
//! which `src/linux.rs` includes. From them, `OUT_DIR/linux-shell.cpio.gz`, the bundled
//! initramfs with the `net` tool added, which `lguest linux` boots; and the test initramfs,
//! `OUT_DIR/linux-test.cpio.gz`: the bundled `linux/initramfs.cpio.gz` with an archive
//! appended that holds the test `/init` and every other program in `/bin`.

use std::env;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio, exit};

const TARGET: &str = "i586-unknown-linux-gnu";

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().and_then(Path::parent).expect("crates/images is two levels down");
    let guests = root.join("guests");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    rerun_if_changed(root, &guests);
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    ensure_target_installed(&rustc, root);
    let elfs = build_guests(&guests, &out_dir.join("guests-target"));
    fs::write(out_dir.join("guests.rs"), guests_rs(&elfs)).expect("write OUT_DIR/guests.rs");

    let linux_user = guests.join("linux-user");
    let programs = build_guests(&linux_user, &out_dir.join("linux-user-target"));
    let initramfs = out_dir.join("linux-test.cpio.gz");
    fs::write(&initramfs, test_initramfs(root, &programs)).expect("write OUT_DIR/linux-test.cpio.gz");
    fs::write(out_dir.join("linux-shell.cpio.gz"), shell_initramfs(root, &programs))
        .expect("write OUT_DIR/linux-shell.cpio.gz");
    fs::write(out_dir.join("linux.rs"), linux_rs(&programs, &initramfs)).expect("write OUT_DIR/linux.rs");
}

/// The bundled initramfs.
fn bundled_initramfs(root: &Path) -> Vec<u8> {
    let base_path = root.join("linux/initramfs.cpio.gz");
    fs::read(&base_path).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", base_path.display())))
}

/// The programs of `guests/linux-user/tools` a user wants beside klibc's in the shell of
/// `lguest linux`: `net`, since klibc's own `ipconfig` cannot configure a 2.6.23 interface.
const SHELL_TOOLS: [&str; 1] = ["net"];

/// The bundled initramfs (its `/init` and klibc's shell) with [`SHELL_TOOLS`] in `/bin`:
/// what `lguest linux` boots.
fn shell_initramfs(root: &Path, programs: &[(String, PathBuf)]) -> Vec<u8> {
    let mut archive = initramfs::Archive::new();
    for tool in SHELL_TOOLS {
        let Some((_, path)) = programs.iter().find(|(name, _)| name == tool) else {
            fail(&format!("guests/linux-user built no `{tool}` program for the shell initramfs"))
        };
        let elf = fs::read(path).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
        archive.file(&format!("bin/{tool}"), 0o755, &elf).unwrap_or_else(|e| fail(&e.to_string()));
    }
    initramfs::Initramfs::from_image(&bundled_initramfs(root)).append(archive).clone().into_bytes()
}

/// The bundled initramfs with `/init` (the `init` program) and `/bin/NAME` for each other
/// Linux program appended.
fn test_initramfs(root: &Path, programs: &[(String, PathBuf)]) -> Vec<u8> {
    let base = bundled_initramfs(root);
    let mut archive = initramfs::Archive::new();
    let add = |archive: &mut initramfs::Archive, name: &str, path: &Path| {
        let elf = fs::read(path).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
        archive.file(name, 0o755, &elf).unwrap_or_else(|e| fail(&e.to_string()));
    };
    archive.dir("bin", 0o755).unwrap_or_else(|e| fail(&e.to_string()));
    for (name, path) in programs {
        let entry = if name == "init" { "init".to_string() } else { format!("bin/{name}") };
        add(&mut archive, &entry, path);
    }
    if !programs.iter().any(|(name, _)| name == "init") {
        fail("guests/linux-user built no `init` program for the test initramfs");
    }
    initramfs::Initramfs::from_image(&base).append(archive).clone().into_bytes()
}

/// `OUT_DIR/linux.rs`: a static per Linux program, `PROGRAMS`, and the test initramfs.
fn linux_rs(programs: &[(String, PathBuf)], initramfs: &Path) -> String {
    let utf8 =
        |p: &Path| p.to_str().unwrap_or_else(|| fail(&format!("{} is not UTF-8", p.display()))).to_string();
    let mut rs = String::from(
        "// Generated by crates/images/build.rs from the programs built in guests/linux-user.\n",
    );
    for (name, path) in programs {
        let _ = write!(
            rs,
            "\n/// The `{name}` Linux program.\npub static {}: Program = Program {{ name: {name:?}, path: {:?} }};\n",
            const_name(name),
            utf8(path)
        );
    }
    rs.push_str(
        "\n/// Every Linux program in guests/linux-user, by name.\npub static PROGRAMS: &[&Program] = &[\n",
    );
    for (name, _) in programs {
        let _ = writeln!(rs, "    &{},", const_name(name));
    }
    rs.push_str("];\n");
    let _ = write!(
        rs,
        "\n/// The test initramfs (see [`test_initramfs`]).\nconst TEST_INITRAMFS: &str = {:?};\n",
        utf8(initramfs)
    );
    rs
}

/// Rebuild when anything the guests are made of changes: the guest workspaces (but not a
/// target directory someone built in by hand), the ABI crate, the toolchain file, the
/// bundled initramfs.
fn rerun_if_changed(root: &Path, guests: &Path) {
    let workspace = |dir: &Path, skip: &str| {
        let entries =
            fs::read_dir(dir).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", dir.display())));
        for entry in entries.flatten() {
            if entry.file_name() != "target" && entry.file_name() != skip {
                println!("cargo:rerun-if-changed={}", entry.path().display());
            }
        }
    };
    workspace(guests, "linux-user");
    workspace(&guests.join("linux-user"), "");
    for path in ["crates/abi/src", "crates/abi/Cargo.toml", "rust-toolchain.toml", "linux/initramfs.cpio.gz"]
    {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
}

/// Install the i586 standard library with rustup if this toolchain does not have it.
fn ensure_target_installed(rustc: &OsString, root: &Path) {
    let sysroot = Command::new(rustc).args(["--print", "sysroot"]).output();
    let Ok(sysroot) = sysroot else { fail(&format!("cannot run {}", rustc.to_string_lossy())) };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let has_core = |dir: &Path| {
        fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
    };
    let libdir = sysroot.join("lib/rustlib").join(TARGET).join("lib");
    if has_core(&libdir) {
        return;
    }
    println!(
        "cargo:warning=installing the {TARGET} standard library for the guest kernels (rustup target add {TARGET})"
    );
    let mut rustup = Command::new("rustup");
    rustup.current_dir(root).args(["target", "add", TARGET]);
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        rustup.arg("--toolchain").arg(toolchain);
    }
    let status = rustup.stdout(Stdio::null()).status();
    if !matches!(status, Ok(s) if s.success()) || !has_core(&libdir) {
        fail(&format!(
            "the guest kernels are built for {TARGET}, whose standard library is not installed in\n  \
             {}\nand `rustup target add {TARGET}` did not install it. Install it, then build again:\n  \
             rustup target add {TARGET}",
            sysroot.display()
        ));
    }
}

/// Run a nested cargo in the workspace `guests` and return (name, path) of every
/// executable it built.
fn build_guests(guests: &Path, target_dir: &Path) -> Vec<(String, PathBuf)> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // In guests/, so that cargo finds guests/.cargo/config.toml.
    cmd.current_dir(guests)
        .args(["build", "--release", "--target", TARGET, "--message-format=json-render-diagnostics"])
        .arg("--target-dir")
        .arg(target_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (key, _) in env::vars_os() {
        if leaks_into_nested_cargo(&key.to_string_lossy()) {
            cmd.env_remove(&key);
        }
    }
    let output = cmd.output().unwrap_or_else(|e| fail(&format!("cannot run cargo: {e}")));
    if !output.status.success() {
        fail(&format!(
            "building {} failed (cargo's messages are above). To see it on its own:\n  \
             cd {} && cargo build --release",
            guests.display(),
            guests.display()
        ));
    }
    let mut elfs: Vec<(String, PathBuf)> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains(r#""reason":"compiler-artifact""#))
        .filter_map(|line| json_string(line, "executable"))
        .map(|path| {
            let path = PathBuf::from(path);
            let name =
                path.file_name().expect("an executable has a file name").to_string_lossy().into_owned();
            (name, path)
        })
        .collect();
    elfs.sort();
    if elfs.is_empty() {
        fail(&format!("cargo built no executables in {}", guests.display()));
    }
    elfs
}

/// Environment of the outer build that must not configure the guest build. Cargo sets
/// most of these for build scripts; the rest are a user's settings for the host build.
fn leaks_into_nested_cargo(key: &str) -> bool {
    (key.starts_with("CARGO_") && key != "CARGO_HOME")
        || key.starts_with("__CARGO")
        || key.starts_with("CLIPPY_")
        || matches!(
            key,
            "RUSTFLAGS"
                | "RUSTDOCFLAGS"
                | "RUSTC_WRAPPER"
                | "RUSTC_WORKSPACE_WRAPPER"
                | "RUSTC_LINKER"
                | "MAKEFLAGS"
                | "MFLAGS"
                | "TARGET"
                | "HOST"
                | "OUT_DIR"
                | "OPT_LEVEL"
                | "PROFILE"
                | "DEBUG"
                | "NUM_JOBS"
        )
}

/// The value of string field `"key":"..."` in one line of cargo's JSON output. Enough
/// JSON for file paths: cargo escapes only `"`, `\` and control characters in them.
fn json_string(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!(r#""{key}":""#))? + key.len() + 4;
    let mut value = String::new();
    let mut chars = line[start..].chars();
    loop {
        match chars.next()? {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    value.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                c => value.push(c),
            },
            c => value.push(c),
        }
    }
}

/// `OUT_DIR/guests.rs`: a static per kernel, and `ALL`.
fn guests_rs(elfs: &[(String, PathBuf)]) -> String {
    let mut rs = String::from("// Generated by crates/images/build.rs from the kernels built in guests/.\n");
    for (name, path) in elfs {
        let path = path.to_str().unwrap_or_else(|| fail(&format!("{} is not UTF-8", path.display())));
        let _ = write!(
            rs,
            "\n/// The `{name}` kernel.\npub static {}: Guest = Guest {{ name: {name:?}, path: {path:?}, elf: include_bytes!({path:?}) }};\n",
            const_name(name)
        );
    }
    rs.push_str("\n/// Every kernel in guests/, by name.\npub static ALL: &[&Guest] = &[\n");
    for (name, _) in elfs {
        let _ = writeln!(rs, "    &{},", const_name(name));
    }
    rs.push_str("];\n");
    rs
}

fn const_name(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

fn fail(msg: &str) -> ! {
    eprintln!("\nerror: lguest-images: {msg}\n");
    exit(1)
}
