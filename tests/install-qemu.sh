#!/usr/bin/env bash
# Makes sure QEMU can run the tests' guests: qemu-system-arm for the Cortex-M firmware,
# and qemu-system-x86_64 with the igb NIC model (QEMU 8 or newer) for the hardware
# timestamping guest. Debian 12 has QEMU 7.2, without igb; its bookworm-backports suite
# has QEMU 10, added to apt's sources (by suite name, on the existing Debian entry) when
# needed. Both QEMUs come from the same suite, because they share qemu-system-common.
set -euo pipefail
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

has_igb() {
    command -v qemu-system-x86_64 >/dev/null 2>&1 \
        && qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"'
}
if has_igb && command -v qemu-system-arm >/dev/null 2>&1; then
    exit 0
fi
echo "== installing qemu-system-x86 and qemu-system-arm from bookworm-backports (QEMU >= 8)"
src=/etc/apt/sources.list.d/debian.sources
if [ -f "$src" ]; then
    grep -q bookworm-backports "$src" \
        || $sudo_cmd sed -i 's/^Suites: bookworm bookworm-updates$/& bookworm-backports/' "$src"
elif ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    line=$(grep -m1 -E '^deb .* bookworm main' /etc/apt/sources.list || true)
    [ -n "$line" ] && echo "${line/ bookworm / bookworm-backports }" \
        | $sudo_cmd tee /etc/apt/sources.list.d/backports.list >/dev/null
fi
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports qemu-system-x86 qemu-system-arm
has_igb || { echo "qemu-system-x86_64 still has no igb device" >&2; exit 1; }
