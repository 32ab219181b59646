#!/usr/bin/env bash
# The deployed daemon's footprint against ptp4l's, on the same path (docs/deployment.md,
# "Footprint"): the static `dist` build of `tempora` runs as a PTP slave at 16 Hz with
# its metrics endpoint scraped every second and its time service under load, beside a
# free-running ptp4l slave of the same master, in namespaces the soak tool creates and
# deletes. It fails unless tempora's slave synchronises, answers its scrapes, keeps its
# memory flat and stays at most ptp4l's resident memory. CPU is reported, not asserted.
# Needs root (namespaces), ptp4l, and the musl target (added here).
set -euo pipefail
cd "$(dirname "$0")/../.."

rustup target add x86_64-unknown-linux-musl >/dev/null
cargo build --locked --profile dist --target x86_64-unknown-linux-musl -p tempora-std --bin tempora
cargo build --locked -p tempora-benches --bin soak
out=target/footprint
rm -rf "$out"
# One minute. The slope limit is looser than the 10-minute soak's 16 KiB/min: musl's
# allocator maps one more group of 28 KiB for the metrics thread once in the first two
# minutes (seen with gdb; then flat), and one such step inside a 40 s fit reads as up to
# 42 KiB/min. A leak of one allocation per PTP message reads 60 KiB/min or more.
target/debug/soak --minutes 1 --warmup-s 20 --max-slope 56 --out-dir "$out" \
    --tempora target/x86_64-unknown-linux-musl/dist/tempora --rss-at-most-ptp4l
