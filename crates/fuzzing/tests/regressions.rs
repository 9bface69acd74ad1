//! Replay every saved fuzz input under plain `cargo test` (no nightly, no cargo-fuzz):
//! `fuzz/regressions/<target>/*` holds the inputs that once crashed a target, each kept
//! after its fix, and `fuzz/seeds/<target>/*` some that reach deep paths. A failure names
//! the file, which `scripts/fuzz.sh replay` can also run alone. And a few thousand
//! inputs from a fixed pseudo-random sequence, so the targets run even where nothing is
//! saved.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    // The jit target takes the cpu target's inputs too (same format).
    let dirs: &[&str] = if target == "jit" { &["jit", "cpu"] } else { &[target] };
    for dir in ["regressions", "seeds"] {
        for t in dirs {
            if let Ok(entries) = std::fs::read_dir(root.join(dir).join(t)) {
                files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
            }
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

/// `count` inputs of up to 300 bytes from a fixed SplitMix64 sequence.
fn random(target: &str, count: usize) {
    let run = fuzzing::TARGETS.iter().find(|(name, _)| *name == target).expect("a target").1;
    let mut state: u64 = 0x6c67_7565_7374;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in 0..count {
        let len = (next() % 300) as usize;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let result = std::panic::catch_unwind(|| run(&data));
        assert!(result.is_ok(), "{target}: random input {i} fails: {data:02x?}");
    }
}

#[test]
fn random_cpu_inputs_run_without_a_panic() {
    random("cpu", 2000);
}

#[test]
fn random_jit_inputs_run_both_engines_alike() {
    random("jit", 2000);
}

#[test]
fn every_saved_jit_input_runs_both_engines_alike() {
    replay("jit");
}

#[test]
fn random_host_inputs_run_without_a_panic() {
    random("host", 2000);
}

#[test]
fn every_saved_cpu_input_runs_without_a_panic() {
    replay("cpu");
}

#[test]
fn every_saved_host_input_runs_without_a_panic() {
    replay("host");
}
