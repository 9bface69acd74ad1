#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this). From a fresh clone it needs
# nothing installed by hand: rust-toolchain.toml pins the toolchain, and the build of
# crates/images installs the i586 target and builds the Guest kernels.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting"
cargo fmt --all -- --check
(cd guests && cargo fmt -- --check)
(cd guests/linux-user && cargo fmt -- --check)

step "clippy (host workspace, warnings are errors)"
cargo clippy --workspace --all-targets --release -- -D warnings

step "clippy (guest kernels, i586)"
(cd guests && cargo clippy --release -- -D warnings)

step "clippy (Linux user programs, i586)"
(cd guests/linux-user && cargo clippy --release -- -D warnings)

step "tests"
cargo test --workspace --release

# The tests above boot every Guest on the default engine (the translator); the CPU's own
# tests already run on the check engine. Boot them all again on the interpreter alone, and
# on the check engine translating every block at once: there any difference between the
# two engines on any test Guest fails the test, with both states printed.
step "end-to-end tests on the interpreter"
LGUEST_CPU=interp cargo test --release -p lguest --tests

step "end-to-end tests with both engines in lockstep"
LGUEST_CPU=check LGUEST_JIT_THRESHOLD=0 cargo test --release -p lguest --tests

printf '\nAll checks passed.\n'
