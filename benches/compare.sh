#!/usr/bin/env bash
# Repeatable peer comparisons: runs one criterion bench (tempora's rows and its peers'
# rows, interleaved as the bench declares them) R times, and prints a markdown table with,
# per row, the median and the spread (min-max) of the R criterion medians, tempora's time
# divided by the peer's, and a lead only where the two spreads do not overlap (and only
# with 3 rounds or more). One run on a shared 2-vCPU VM can move a figure by 30%; R runs
# and non-overlapping spreads are what a claimed lead rests on.
#
# Usage: benches/compare.sh [-r ROUNDS] [--native] [--out DIR] BENCH [FILTER]
#                           [-- CRITERION_ARGS...]
#   BENCH     hlc | causal | temporal | ptp (a bench target of tempora-benches)
#   FILTER    criterion's id filter (a regex), e.g. `shared_queue` or `intervals`
#   -r        rounds (default 5)
#   --native  also build with RUSTFLAGS="-C target-cpu=native" (in target/native, so the
#             two builds do not overwrite each other) and run it in every round, right
#             after the default build; the table then has one section per build and a
#             native / default section
#   --out     where the logs, criterion's files and table.md go
#             (default target/compare/BENCH-DATE)
#   --report DIR  run nothing: print the table again from an earlier run's DIR
#   CRITERION_ARGS default to `--warm-up-time 1 --measurement-time 2` (a group that sets
#             its own measurement time keeps it)
#
# Bench ids must read `group/case/implementation`: rows of one case are compared, and
# implementations whose name starts with `tempora` are ours. Needs python3 (standard
# library only) to read criterion's JSON.
#
# Example (what docs/benchmarks.md's tables come from):
#   benches/compare.sh -r 5 hlc
#   benches/compare.sh -r 5 --native temporal intervals
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=5
native=0
out=""
report=""
while [ $# -gt 0 ]; do
    case "$1" in
        -r) rounds="$2"; shift 2 ;;
        --native) native=1; shift ;;
        --out) out="$2"; shift 2 ;;
        --report) report="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) break ;;
    esac
done
if [ -z "$report" ]; then
    [ $# -ge 1 ] || { echo "usage: $0 [-r ROUNDS] [--native] [--out DIR] BENCH [FILTER] [-- ARGS]" >&2; exit 2; }
    bench="$1"; shift
    filter=()
    if [ $# -gt 0 ] && [ "$1" != "--" ]; then filter=("$1"); shift; fi
    [ "${1:-}" = "--" ] && shift
    crit_args=("$@")
    [ ${#crit_args[@]} -gt 0 ] || crit_args=(--warm-up-time 1 --measurement-time 2)
    case "$rounds" in ''|*[!0-9]*|0) echo "rounds must be a positive integer" >&2; exit 2 ;; esac

    out="${out:-target/compare/${bench}-$(date -u +%Y%m%dT%H%M%SZ)}"
    mkdir -p "$out"
    out="$(cd "$out" && pwd)"

    modes=(default)
    [ "$native" = 1 ] && modes+=(native)

    # Runs cargo for one build: the native one has its own flags and target directory.
    cargo_for() {
        local mode="$1"; shift
        if [ "$mode" = native ]; then
            RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=native" CARGO_TARGET_DIR=target/native \
                cargo "$@"
        else
            cargo "$@"
        fi
    }

    cpu="$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    {
        echo "cpu: $cpu"
        echo "vcpus: $(nproc)"
        echo "kernel: $(uname -r)"
        echo "rustc: $(rustc --version)"
        echo "commit: $(git describe --always --dirty 2>/dev/null || echo unknown)"
        echo "date: $(date -u +%Y-%m-%d)"
        echo "bench: $bench ${filter[*]:-}"
        echo "rounds: $rounds"
        echo "modes: ${modes[*]}"
        echo "criterion args: ${crit_args[*]}"
    } > "$out/machine.txt"
    cat "$out/machine.txt" >&2

    for mode in "${modes[@]}"; do
        echo "== build ($mode)" >&2
        cargo_for "$mode" bench -j 1 -p tempora-benches --bench "$bench" --no-run \
            > "$out/build-$mode.log" 2>&1 || { tail -20 "$out/build-$mode.log" >&2; exit 1; }
    done

    for ((r = 1; r <= rounds; r++)); do
        for mode in "${modes[@]}"; do
            echo "== round $r of $rounds ($mode)" >&2
            CRITERION_HOME="$out/$mode/criterion" cargo_for "$mode" bench -j 1 \
                -p tempora-benches --bench "$bench" -- "${filter[@]}" \
                --save-baseline "round$r" --noplot "${crit_args[@]}" \
                > "$out/$mode-round$r.log" 2>&1 || { tail -20 "$out/$mode-round$r.log" >&2; exit 1; }
        done
    done

else
    out="$(cd "$report" && pwd)"
    rounds="$(sed -n 's/^rounds: //p' "$out/machine.txt")"
    read -r -a modes <<< "$(sed -n 's/^modes: //p' "$out/machine.txt")"
fi

python3 - "$out" "$rounds" "${modes[@]}" > "$out/table.md" <<'EOF'
import json, os, sys
from collections import OrderedDict

out, rounds, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def sig3(x):
    """Three significant digits, trailing zeros kept (28.0, not 28)."""
    return f"{x:#.3g}".rstrip(".")

def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{sig3(ns / scale)} {unit}"
    return f"{sig3(ns)} ns"

def fmt_rate(per_s):
    for unit, scale in (("G/s", 1e9), ("M/s", 1e6), ("k/s", 1e3)):
        if per_s >= scale:
            return f"{sig3(per_s / scale)} {unit}"
    return f"{sig3(per_s)}/s"

def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2

def collect(mode):
    """full id -> (case, implementation, elements, [median ns of each round])"""
    rows = OrderedDict()
    root = os.path.join(out, mode, "criterion")
    found = []
    for dirpath, _, files in os.walk(root):
        base = os.path.basename(dirpath)
        if base.startswith("round") and "benchmark.json" in files:
            found.append((dirpath, int(base[len("round"):])))
    # Criterion's declaration order is lost on disk; the first round's log keeps it.
    order = []
    log = os.path.join(out, f"{mode}-round1.log")
    if os.path.exists(log):
        for line in open(log, encoding="utf-8", errors="replace"):
            if line.startswith("Benchmarking ") and ": Analyzing" in line:
                order.append(line[len("Benchmarking "):].split(": Analyzing")[0])
    per_id = {}
    for dirpath, rnd in found:
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            meta = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        full = meta["full_id"]
        parts = full.split("/")
        case, impl = "/".join(parts[:-1]), parts[-1]
        elements = (meta.get("throughput") or {}).get("Elements", 1)
        per_id.setdefault(full, (case, impl, elements, {}))[3][rnd] = est["median"]["point_estimate"]
    for full in order + sorted(set(per_id) - set(order)):
        if full in per_id:
            case, impl, elements, by_round = per_id[full]
            rows[full] = (case, impl, elements, [by_round[k] for k in sorted(by_round)])
    return rows

# Below this many rounds a spread says nothing (one round's "spread" is a point, and two
# points of a noisy VM often miss each other), so no lead is called.
MIN_ROUNDS_FOR_VERDICT = 3

def verdict(ours, theirs):
    if min(len(ours), len(theirs)) < MIN_ROUNDS_FOR_VERDICT:
        return f"no verdict (fewer than {MIN_ROUNDS_FOR_VERDICT} rounds)"
    if max(ours) < min(theirs):
        return "tempora leads"
    if max(theirs) < min(ours):
        return "peer leads"
    return "spreads overlap"

data = {mode: collect(mode) for mode in modes}
meta = open(os.path.join(out, "machine.txt")).read().strip().splitlines()
info = dict(line.split(": ", 1) for line in meta)
print(f"Machine: {info['cpu']} ({info['vcpus']} vCPU), Linux {info['kernel']}, "
      f"{info['rustc']}, commit {info['commit']}, {info['date']}.")
print(f"`benches/compare.sh -r {rounds}{' --native' if 'native' in modes else ''} "
      f"{info['bench'].strip()}`: {rounds} round{'s' if rounds != 1 else ''}, "
      f"criterion {info['criterion args']}; "
      "each figure is the median of the rounds' criterion medians, [min–max] over the rounds.")
print()
titles = {"default": "default build", "native": "`RUSTFLAGS=\"-C target-cpu=native\"` build"}
for mode in modes:
    rows = data[mode]
    if len(modes) > 1:
        print(f"#### {titles[mode]}")
        print()
    print("| case | implementation | median [min–max] | tempora / this | verdict |")
    print("|---|---|---:|---:|---|")
    cases = OrderedDict()
    for full, (case, impl, elements, xs) in rows.items():
        cases.setdefault(case, []).append((impl, elements, xs))
    for case, impls in cases.items():
        ours = [(i, xs) for i, _, xs in impls if i.startswith("tempora")]
        for impl, elements, xs in impls:
            m = median(xs)
            cell = f"{fmt_time(m)} [{fmt_time(min(xs))}–{fmt_time(max(xs))}]"
            if elements > 1:
                cell += f" ({fmt_rate(elements / m * 1e9)})"
            if len(xs) < rounds:
                cell += f" ({len(xs)} of {rounds} rounds)"
            ratio, says = "", ""
            if not impl.startswith("tempora") and ours:
                ratio = "; ".join(
                    (f"{median(o) / m:.2f}" if len(ours) == 1 else f"{o_name}: {median(o) / m:.2f}")
                    for o_name, o in ours)
                says = "; ".join(
                    (verdict(o, xs) if len(ours) == 1 else f"{o_name}: {verdict(o, xs)}")
                    for o_name, o in ours)
            print(f"| {case} | {impl} | {cell} | {ratio} | {says} |")
    print()
if len(modes) > 1:
    print("#### native / default, same row")
    print()
    print("| case | implementation | native / default | verdict |")
    print("|---|---|---:|---|")
    for full, (case, impl, _, native) in data["native"].items():
        if full not in data["default"]:
            continue
        default = data["default"][full][3]
        r = median(native) / median(default)
        if min(len(native), len(default)) < MIN_ROUNDS_FOR_VERDICT:
            says = f"no verdict (fewer than {MIN_ROUNDS_FOR_VERDICT} rounds)"
        elif max(native) < min(default):
            says = "native faster"
        elif max(default) < min(native):
            says = "native slower"
        else:
            says = "spreads overlap"
        print(f"| {case} | {impl} | {r:.2f} | {says} |")
    print()
EOF
cat "$out/table.md"
echo "(table, logs and criterion's files in $out)" >&2
