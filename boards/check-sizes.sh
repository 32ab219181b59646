#!/usr/bin/env bash
# Builds the size probes and the networked PTP image, and checks each image's flash and
# static RAM against the budgets in docs/embedded.md (the "Budgets" table:
# `| \`size-...\` | flash | RAM |`, or `tempora-board-...` for a board image).
# Fails when an image exceeds its budget, or when a budgeted image is missing.
set -euo pipefail
cd "$(dirname "$0")"
doc=../docs/embedded.md
size_tool=$(command -v llvm-size || true)
if [ -z "$size_tool" ]; then
    sysroot=$(rustc --print sysroot)
    size_tool=$(find "$sysroot" -name llvm-size -type f | head -n 1)
fi
if [ -z "$size_tool" ]; then
    echo "llvm-size missing: rustup component add llvm-tools" >&2
    exit 1
fi
# Separately: built together, cargo would unify the crates' dependency features and
# the probes would measure the PTP image's features too.
cargo build -q --release --target thumbv7m-none-eabi -p tempora-size-probe
cargo build -q --release --target thumbv7m-none-eabi -p tempora-board-mps2-ptp
fail=0
checked=0
# Budget rows: | `size-name` | flash bytes | RAM bytes | ... (spaces inside numbers allowed)
while IFS='|' read -r _ name flash ram _; do
    name=$(echo "$name" | tr -d ' `')
    flash=$(echo "$flash" | tr -d ' ')
    ram=$(echo "$ram" | tr -d ' ')
    elf=target/thumbv7m-none-eabi/release/$name
    if [ ! -f "$elf" ]; then
        echo "FAIL $name: budgeted in $doc but not built"
        fail=1
        continue
    fi
    read -r text data bss _ < <("$size_tool" "$elf" | tail -n 1)
    used_flash=$((text + data))
    used_ram=$((data + bss))
    verdict=ok
    if [ "$used_flash" -gt "$flash" ] || [ "$used_ram" -gt "$ram" ]; then
        verdict=FAIL
        fail=1
    fi
    printf '%-4s %-24s flash %6d of %6d (%5d spare)  RAM %6d of %6d (%5d spare)\n' \
        "$verdict" "$name" "$used_flash" "$flash" $((flash - used_flash)) \
        "$used_ram" "$ram" $((ram - used_ram))
    checked=$((checked + 1))
done < <(grep -E '^\| `(size|tempora-board)-[a-z0-9-]+` \|' "$doc")
if [ "$checked" -eq 0 ]; then
    echo "no budgets found in $doc" >&2
    exit 1
fi
exit "$fail"
