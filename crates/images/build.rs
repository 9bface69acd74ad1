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
}

/// Rebuild when anything the guests are made of changes: the guest workspace (but not a
/// target directory someone built in by hand), the ABI crate, the toolchain file.
fn rerun_if_changed(root: &Path, guests: &Path) {
    let entries =
        fs::read_dir(guests).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", guests.display())));
    for entry in entries.flatten() {
        if entry.file_name() != "target" {
            println!("cargo:rerun-if-changed={}", entry.path().display());
        }
    }
    for path in ["crates/abi/src", "crates/abi/Cargo.toml", "rust-toolchain.toml"] {
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

/// Run the nested cargo and return (name, path) of every executable it built.
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
            "building the guest kernels failed (cargo's messages are above). To see it on its own:\n  \
             cd {} && cargo build --release",
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
        fail("cargo built no guest kernels in guests/");
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
