#!/usr/bin/env bash
# The benchmark report: guest CPU speed, hypercall/trap/interrupt costs, boot time and
# memory, each beside a native 32-bit process or QEMU (TCG) on this machine, in one run.
# Writes BENCHMARKS.md at the top of the repository and prints it. Takes a few minutes.
#
# Needs gcc with -m32 (for the CPU kernels) and qemu-system-i386, which this script
# installs from Debian's packages when it is missing (the test suite never needs QEMU).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v qemu-system-i386 >/dev/null; then
	echo "==> installing qemu-system-x86 (for qemu-system-i386)"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
fi

# `cargo bench` builds everything in release (the bench profile) first, the Guests too.
cargo bench --bench report
