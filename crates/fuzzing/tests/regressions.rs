//! Replay every saved fuzz input under plain `cargo test` (no nightly, no cargo-fuzz):
//! `fuzz/regressions/<target>/*` holds the inputs that once crashed a target, each kept
//! after its fix, and `fuzz/seeds/<target>/*` a few that reach deep paths. One test per
//! target; a failure names the file, which `scripts/fuzz.sh` can also run alone.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    for dir in ["regressions", "seeds"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) {
            files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    files.sort();
    files
}

fn replay(target: &str) {
    let run = fuzzing::TARGETS.iter().find(|(name, _)| *name == target).expect("a target").1;
    let files = inputs(target);
    for path in &files {
        let data = std::fs::read(path).expect("read a saved input");
        let result = std::panic::catch_unwind(|| run(&data));
        assert!(result.is_ok(), "{target}: {} fails again", path.display());
    }
    println!("{target}: {} saved inputs replayed", files.len());
}

#[test]
fn every_saved_cpu_input_runs_without_a_panic() {
    replay("cpu");
}

#[test]
fn every_saved_host_input_runs_without_a_panic() {
    replay("host");
}
