#!/usr/bin/env bash
# Builds both QEMU boards, runs the behaviour suite on each (bounded by timeout), and
# the same suite on the host. Exits non-zero if any check fails on any of them.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v qemu-system-arm >/dev/null 2>&1; then
    echo "qemu-system-arm is missing: apt-get install qemu-system-arm" >&2
    exit 1
fi
cargo test -q -p tempora-board-suite -p tempora-lan9118
run_board() { # crate target
    cargo build -q --release -p "$1" --target "$2"
    echo "-- $1 ($2)"
    timeout 120 cargo run -q --release -p "$1" --target "$2"
}
run_board tempora-board-lm3s6965 thumbv7m-none-eabi
run_board tempora-board-microbit thumbv6m-none-eabi
