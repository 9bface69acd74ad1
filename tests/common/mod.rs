//! Running the `lguest` binary the way a user does, and looking at what they would see.

#![allow(dead_code)]

pub mod mini_linux;
pub mod session;
pub mod terminal;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The last line on stderr (where the Launcher puts its verdict).
    pub fn last_err_line(&self) -> &str {
        self.stderr.lines().last().unwrap_or("")
    }
}

pub fn lguest() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lguest"))
}

pub fn run_cmd(mut cmd: Command) -> Run {
    let out = cmd.stdin(Stdio::null()).output().expect("run lguest");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The path of an example guest built by `crates/images`.
pub fn guest_path(name: &str) -> PathBuf {
    images::by_name(name).unwrap_or_else(|| panic!("no guest named {name}")).path().to_path_buf()
}

/// `lguest run <guest> <args...>`.
pub fn run_guest(name: &str, args: &[&str]) -> Run {
    let mut cmd = lguest();
    cmd.arg("run").arg(guest_path(name)).args(args);
    run_cmd(cmd)
}

/// Write bytes to a fresh temporary file and return its path.
pub fn temp_file(tag: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lguest-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(tag);
    let mut f = std::fs::File::create(&path).expect("temp file");
    f.write_all(bytes).expect("write temp file");
    path
}

/// A fresh, empty directory for a named network (`LGUEST_NET_DIR`), unique to this test
/// process and `tag`, so that tests running at once never share a network.
pub fn net_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lguest-net-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("network directory");
    dir
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Why this machine cannot run the TAP test, if it cannot.
pub fn tap_unavailable() -> Option<String> {
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("there is no /dev/net/tun".into());
    }
    for tool in ["unshare", "ip"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!("there is no `{tool}` command"));
        }
    }
    let out = Command::new("unshare").args(["-rn", "true"]).stderr(Stdio::piped()).output();
    match out {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "cannot create a network namespace (`unshare -rn true`: {})",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run unshare: {e}")),
    }
}

/// Exit status of a namespace script when the TAP cannot be made.
pub const TAP_SKIP: i32 = 77;
