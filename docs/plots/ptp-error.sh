#!/usr/bin/env bash
# Records one PTP lab run and renders docs/plots/ptp-error.svg: a tempora slave's error
# over time beside a ptp4l slave's, on the same path in the same run.
#
# The lab is the one the interop tests use (adapters/std/tests/support/mod.rs,
# ptp4l_master_two_slaves): two network namespaces joined by a veth pair, a ptp4l master
# (software timestamps, `free_running 1`: it never touches a clock) on one side, and on
# the other a tempora slave (`tempora run --source ptp:IFACE --no-time-service`) and a
# ptp4l slave (`free_running 1`), E2E over UDP/IPv4 with the lab's fast intervals.
# Master and slaves share the host's one clock, so the true offset is 0 and each slave's
# reported offset is its error. ptp4l lines with `path delay 0` are placeholders from
# before it measured its path, and are left out.
#
# Writes docs/evidence/ptp-error-tempora.csv and ptp-error-ptp4l.csv (time_s,error_ns;
# time from tempora's first status line), docs/evidence/ptp-error.txt (the machine, the
# versions, the RMS of each after lock) and docs/plots/ptp-error.svg.
#
# Usage (root, for the namespaces): bash docs/plots/ptp-error.sh [SECONDS]
#   SECONDS  how long tempora runs (default 40; the whole lab stays under 60 s)
#   TEMPORA  the tempora binary (default: built here, debug profile, as the tests run it)
#   KEEP     a directory to keep the raw logs in (tempora's status lines, ptp4l's output)
# Needs ptp4l (linuxptp) and ip (iproute2). Ends only the processes it started, by pid,
# and deletes the namespaces it made.
set -euo pipefail

seconds=${1:-40}
if ((seconds < 10 || seconds > 50)); then
    echo "SECONDS must be 10..50 (the lab stays under 60 s)" >&2
    exit 2
fi
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)" >&2; exit 2; }
command -v ptp4l >/dev/null || { echo "ptp4l is missing: apt-get install linuxptp" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
target=${CARGO_TARGET_DIR:-$repo/target}
if [[ -z ${TEMPORA:-} ]]; then
    cargo build -q -p tempora-std --bin tempora
    TEMPORA=$target/debug/tempora
fi
cargo build -q -p tempora-benches --bin plot
plot=$target/debug/plot

load=$(cut -d' ' -f1-3 /proc/loadavg)
id=plot$$
m=tpm$id s=tps$id mi=vm$id si=vs$id
mi=${mi:0:15} si=${si:0:15}
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [[ -n ${KEEP:-} ]]; then mkdir -p "$KEEP" && cp "$work"/*.log "$work"/*.err "$KEEP"/ 2>/dev/null || true; fi
    ip netns del "$m" 2>/dev/null || true
    ip netns del "$s" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$m"
ip netns add "$s"
ip -n "$m" link set lo up
ip -n "$s" link set lo up
ip link add "$mi" netns "$m" type veth peer name "$si" netns "$s"
ip -n "$m" addr add 10.99.0.1/24 dev "$mi"
ip -n "$s" addr add 10.99.0.2/24 dev "$si"
ip -n "$m" link set "$mi" up
ip -n "$s" link set "$si" up

config() { # NAME ROLE: the tests' ptp4l config, never touching a clock
    cat >"$work/$1.cfg" <<EOF
[global]
free_running 1
kernel_leap 0
time_stamping software
delay_mechanism E2E
logSyncInterval -3
logMinDelayReqInterval -3
logMinPdelayReqInterval -3
logAnnounceInterval -3
announceReceiptTimeout 2
summary_interval -3
freq_est_interval 0
uds_address $work/$1.sock
$2
EOF
}
config master "masterOnly 1
priority1 10"
config slave "slaveOnly 1"

# `ip netns exec` execs the command, so each pid is the process itself.
ip netns exec "$m" ptp4l -f "$work/master.cfg" -i "$mi" -S -4 -m >"$work/master.log" 2>&1 &
pids+=($!)
ip netns exec "$s" ptp4l -f "$work/slave.cfg" -i "$si" -S -4 -m >"$work/ptp4l.log" 2>&1 &
pids+=($!)
# As in the tests: the master wins its election before tempora joins.
sleep 1
# CLOCK_REALTIME - CLOCK_MONOTONIC, to put ptp4l's monotonic log times on tempora's axis.
mono_to_real=$(python3 -c 'import time; print(time.time() - time.monotonic())')
ip netns exec "$s" "$TEMPORA" run --source "ptp:$si" --duration "${seconds}s" \
    --ptp-transport=udpv4 --ptp-delay-mechanism=e2e --no-time-service \
    --ptp-announce-log2=-3 --ptp-sync-log2=-3 --ptp-delay-log2=-3 \
    --ptp-announce-timeout 2 --interval 250ms --log-level=warn \
    >"$work/tempora.log" 2>"$work/tempora.err" &
tempora_pid=$!
pids+=($tempora_pid)
wait "$tempora_pid" || { cat "$work/tempora.err" >&2; exit 1; }
cp "$work/ptp4l.log" "$work/ptp4l.snapshot"

evidence=$repo/docs/evidence
# tempora: `TIME UTC  source=... offset=-0.000000212s ...`; `offset=-` before its first
# estimate. x is seconds since the first status line.
stats=$(python3 - "$work" "$evidence" "$mono_to_real" "$seconds" <<'PY'
import calendar, math, re, sys
work, evidence, mono_to_real, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])

def utc_seconds(stamp):
    date, frac = stamp.split(".")
    return calendar.timegm(tuple(int(x) for x in re.split("[-T:]", date)) + (0, 0, 0)) + float("0." + frac)

tempora, t0 = [], None
for line in open(f"{work}/tempora.log"):
    m = re.match(r"(\S+) UTC  source=\S+ status=(\S+) offset=(\S+) ", line)
    if not m:
        continue
    t = utc_seconds(m.group(1))
    t0 = t if t0 is None else t0
    if m.group(3) != "-":
        tempora.append((t - t0, float(m.group(3).rstrip("s")) * 1e9, m.group(2)))
if t0 is None or not tempora:
    sys.exit("no tempora status line with an offset")

ptp4l = []
for line in open(f"{work}/ptp4l.snapshot"):
    m = re.match(r"ptp4l\[([\d.]+)\]: master offset\s+(-?\d+) s\d freq\s+\S+ path delay\s+(-?\d+)", line)
    if m and int(m.group(3)) != 0:
        x = float(m.group(1)) + mono_to_real - t0
        if 0 <= x <= seconds:
            ptp4l.append((x, float(m.group(2))))
if len(ptp4l) < 10:
    sys.exit("the ptp4l slave measured fewer than 10 samples")

for name, rows in (("tempora", tempora), ("ptp4l", ptp4l)):
    with open(f"{evidence}/ptp-error-{name}.csv", "w") as f:
        f.write("time_s,error_ns\n")
        for r in rows:
            f.write(f"{r[0]:.3f},{r[1]:.0f}\n")

# After lock: tempora from its first synchronized line, ptp4l from the same time.
lock = next(x for x, _, status in tempora if status == "synchronized")
def rms(v):
    return math.sqrt(sum(e * e for e in v) / len(v))
after = lambda rows: [r[1] for r in rows if r[0] >= lock]
print(f"tempora: {len(tempora)} samples, synchronized after {lock:.2f} s, "
      f"RMS after it {rms(after(tempora)):.0f} ns, max |error| {max(abs(e) for e in after(tempora)):.0f} ns")
print(f"ptp4l:   {len(ptp4l)} samples, RMS from {lock:.2f} s {rms(after(ptp4l)):.0f} ns, "
      f"max |error| {max(abs(e) for e in after(ptp4l)):.0f} ns")
PY
)
echo "$stats"
{
    echo "One recorded run of docs/plots/ptp-error.sh ${seconds}"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) CPUs)"
    echo "kernel: $(uname -r)"
    echo "ptp4l: $(ptp4l -v 2>&1)"
    echo "tempora: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet -- core adapters || echo '+changes') ($(basename "$(dirname "$TEMPORA")") build)"
    echo "load average at the start: $load"
    echo "$stats"
} >"$evidence/ptp-error.txt"

"$plot" --label "tempora slave" --label "ptp4l slave" --y error_ns \
    --title "Slave error, tempora and ptp4l on one veth path (software timestamps)" \
    --x-label "seconds since tempora started" --y-label "error (ns)" \
    -o "$repo/docs/plots/ptp-error.svg" \
    "$evidence/ptp-error-tempora.csv" "$evidence/ptp-error-ptp4l.csv"
