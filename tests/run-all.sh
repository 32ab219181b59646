#!/usr/bin/env bash
# The whole tempora test suite, runnable on a fresh machine with a Rust toolchain.
# Unit, property, integration and end-to-end tests (nextest when available), the doc
# tests, and the loom model of the lock-free HLC.
set -euo pipefail
cd "$(dirname "$0")/.."

# The toolchain file names the embedded targets; make sure they are there (no-op if so).
rustup target add thumbv7m-none-eabi thumbv6m-none-eabi >/dev/null
# llvm-size for the firmware size budgets.
rustup component add llvm-tools >/dev/null
# Debian packages the tests use: QEMU boots the firmware suite and the hardware
# timestamping guest (tests/install-qemu.sh); linuxptp's ptp4l is the real PTP peer;
# iproute2 builds the test namespaces; prometheus (with promtool) scrapes the daemon's
# metrics endpoint and checks the alert rules.
bash tests/install-qemu.sh
missing=()
command -v ptp4l >/dev/null 2>&1 || missing+=(linuxptp)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]} (Debian packages)"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "== doc tests"
cargo test --workspace --doc

echo "== examples (each asserts what it shows)"
cargo run -q -p tempora-core --example hlc_causality
cargo run -q -p tempora-core --example ptp_two_ports

echo "== loom models: the HLC and the clock discipline's publication"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
    cargo test -p tempora-core --test hlc_loom --test discipline_loom --release

echo "== the embedded logging shim through the log crate"
cargo test -p tempora-embedded --features log --test log_shim

echo "== firmware: the behaviour suite on QEMU Cortex-M3 and Cortex-M0"
bash boards/run.sh
echo "== firmware: image sizes against their budgets (docs/embedded.md)"
bash boards/check-sizes.sh

echo "== firmware PTP on the wire: the port on QEMU's mps2-an385 against ptp4l over TAP"
bash tests/fwptp/run.sh

echo "== hardware timestamps: Linux's igb driver on QEMU's 82576, ptp4l as the peer"
bash tests/hwts/run.sh

echo "== the deployed daemon's footprint: the static dist build beside ptp4l's slave"
bash tests/footprint/run.sh

echo "== unit, property, integration and end-to-end tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi
