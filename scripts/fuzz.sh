#!/usr/bin/env bash
# A bounded fuzz run of every target in fuzz/ (see crates/fuzzing for what each does):
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    # default: 30 seconds each for cpu, jit and host
#   scripts/fuzz.sh replay TARGET FILE...    # run saved inputs once (a crash to look at)
#
# Needs the nightly toolchain and cargo-fuzz; installs what is missing (rustup, crates.io).
# Inputs that found new paths accumulate in fuzz/corpus/TARGET (not committed), seeded
# from fuzz/seeds/TARGET. A crash stops the run, leaves its input in fuzz/artifacts/TARGET
# and exits 1: fix the bug, then copy the input to fuzz/regressions/TARGET/ so that
# `cargo test` (crates/fuzzing/tests/regressions.rs) replays it from then on.
#
# Sanitizers are off (-s none): the code under test is safe Rust, so AddressSanitizer would
# only slow the fuzzer down; cargo fuzz still builds with debug assertions and overflow
# checks, so arithmetic overflow is found too.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo +nightly install cargo-fuzz --locked
fi

if [[ "${1:-}" == replay ]]; then
    target=$2
    shift 2
    cargo +nightly fuzz run -s none "$target" "$@"
    exit
fi

secs=${1:-30}
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(cpu jit host)
fi

cargo +nightly fuzz build -s none
for t in "${targets[@]}"; do
    printf '\n==> fuzzing %s for %s s\n' "$t" "$secs"
    mkdir -p "corpus/$t" "seeds/$t" artifacts
    log="artifacts/$t.log"
    status=0
    # The jit target reads the cpu target's inputs: start it from those seeds too.
    extra=()
    if [[ $t == jit ]]; then extra=(seeds/cpu); fi
    cargo +nightly fuzz run -s none "$t" "corpus/$t" "seeds/$t" "${extra[@]}" -- \
        -max_total_time="$secs" -max_len=1024 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 ||
        status=$?
    grep -E '^(#[0-9]+ +(INITED|DONE)|stat::number_of_executed_units|SUMMARY|thread .* panicked|Test unit)' "$log" || true
    if [[ $status -ne 0 ]]; then
        grep -A12 'panicked' "$log" >&2 || tail -30 "$log" >&2
        printf '\nfuzz target %s crashed (full log: fuzz/%s); its input is in fuzz/artifacts/%s/\n' "$t" "$log" "$t" >&2
        exit 1
    fi
done
printf '\nNo crashes.\n'
