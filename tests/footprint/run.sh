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
# Six minutes, the slope fitted after the first: prometheus-client allocates an 8 KiB
# buffer per scrape and musl's allocator maps and unmaps a 28 KiB group for it, so
# the daemon's VmRSS takes one bounded step of up to 40 KiB within its first two
# minutes (seen with strace and heaptrack; flat after it). A least-squares slope over
# a window T reads such a step as at most 1.5 * step / T: 12 KiB/min over these 5
# minutes, inside the soak's 16 KiB/min limit, which a leak of one allocation per
# message (60 KiB/min or more) still exceeds.
target/debug/soak --minutes 6 --warmup-s 60 --out-dir "$out" \
    --tempora target/x86_64-unknown-linux-musl/dist/tempora --rss-at-most-ptp4l
