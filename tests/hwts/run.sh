#!/usr/bin/env bash
# Hardware timestamping against a real NIC driver: Linux 6.12's igb driver on QEMU's
# emulated Intel 82576 (x86_64 guest under TCG, about 10 s to boot), with linuxptp's
# ptp4l as the peer inside the guest; and PPS through pps-ktimer and gpio-sim, built out
# of tree (tests/hwts/pps-modules.sh). See tests/hwts/init.sh for the scenarios.
#
# Needs QEMU 8 or newer (the igb device model; tests/install-qemu.sh installs it). The
# guest kernel and busybox come from Debian's archive (downloaded, unpacked, never
# installed) into target/hwts.
set -euo pipefail
cd "$(dirname "$0")/../.."
root_dir=$PWD
work=$root_dir/target/hwts
mkdir -p "$work"
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
bash tests/install-qemu.sh
for tool in ptp4l phc_ctl; do
    command -v $tool >/dev/null 2>&1 || { echo "$tool missing (apt-get install linuxptp)" >&2; exit 1; }
done
if ! command -v xz >/dev/null 2>&1; then
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends xz-utils
fi

# The guest kernel and busybox, downloaded once.
if [ ! -f "$work/vmlinuz" ] || [ ! -f "$work/busybox" ] || [ ! -f "$work/mods/e1000e.ko" ]; then
    rm -rf "$work/debs" "$work/kernel" "$work/bb" "$work/mods"
    mkdir -p "$work/debs" "$work/mods"
    # The newest 6.12 kernel the archive has, through its meta-package.
    kpkg=$(apt-cache depends linux-image-6.12-amd64 2>/dev/null \
        | awk '/Depends: linux-image-6\.12\.[0-9]+\+deb12(\.[0-9]+)?-amd64$/ {print $2; exit}')
    if [ -z "$kpkg" ]; then
        $sudo_cmd apt-get update -qq
        kpkg=$(apt-cache depends linux-image-6.12-amd64 \
            | awk '/Depends: linux-image-6\.12\.[0-9]+\+deb12(\.[0-9]+)?-amd64$/ {print $2; exit}')
    fi
    [ -n "$kpkg" ] || { echo "no linux-image-6.12 package found" >&2; exit 1; }
    echo "== downloading $kpkg and busybox-static"
    (cd "$work/debs" && apt-get download "$kpkg" busybox-static 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    dpkg-deb -x "$work"/debs/linux-image-*.deb "$work/kernel"
    dpkg-deb -x "$work"/debs/busybox-static_*.deb "$work/bb"
    for m in dca i2c-algo-bit igb e1000e; do
        ko=$(find "$work/kernel/lib/modules" -name "$m.ko.xz" | head -1)
        [ -n "$ko" ] || { echo "module $m not in $kpkg" >&2; exit 1; }
        xz -dc "$ko" > "$work/mods/$m.ko"
    done
    cp "$work"/kernel/boot/vmlinuz-* "$work/vmlinuz"
    cp "$work/bb/bin/busybox" "$work/busybox"
fi

# The PPS modules (pps-ktimer, gpio-sim), built once from the kernel's own sources. A
# failed build leaves them out: the guest says so and hwts-check fails on it.
if ! bash tests/hwts/pps-modules.sh "$work"; then
    echo "== the PPS module build FAILED (see above); the guest runs without them"
    rm -f "$work"/ppsmods/*.ko
fi

echo "== building the tempora daemon, the send-timestamp probe, the PHC and PPS scenarios and the monitor helper"
cargo build -q --release -p tempora-std --bin tempora
cargo build -q --release -p tempora-tests --bin hwts-probe --bin hwts-phc --bin hwts-pps --bin hwts-qmp
tempora_bin=$root_dir/target/release/tempora
probe_bin=$root_dir/target/release/hwts-probe
phc_bin=$root_dir/target/release/hwts-phc
pps_bin=$root_dir/target/release/hwts-pps

# The initramfs: busybox, the modules, tempora, the probe, ptp4l and phc_ctl with the
# shared libraries they load.
rootfs=$work/rootfs
rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,run,mods/pps}
cp "$work/busybox" "$rootfs/bin/busybox"
cp "$work"/mods/*.ko "$rootfs/mods/"
cp "$work"/ppsmods/*.ko "$rootfs/mods/pps/" 2>/dev/null || true
bins=("$tempora_bin" "$probe_bin" "$phc_bin" "$pps_bin" "$(command -v ptp4l)" "$(command -v phc_ctl)")
cp "${bins[@]}" "$rootfs/bin/"
for bin in "${bins[@]}"; do
    ldd "$bin" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
        mkdir -p "$rootfs$(dirname "$lib")"
        cp -L "$lib" "$rootfs$lib"
    done
done
cp tests/hwts/init.sh "$rootfs/init"
chmod +x "$rootfs/init"
(cd "$rootfs" && find . | "$work/busybox" cpio -o -H newc 2>/dev/null | gzip -1 > "$work/initrd.gz")

# A q35 machine: two igb NICs on one hub (eth0, eth1: /dev/ptp0, /dev/ptp1), a third
# igb behind a PCIe root port that the guest's hot-plug scenario unplugs and plugs back
# through QEMU's monitor (QMP; hwts-qmp carries out the guest's requests), and an e1000e
# whose PHC runs 2.5 times too fast on QEMU 10 (the fault scenario).
echo "== booting the guest (q35: three igb NICs, one hot-pluggable, and an e1000e)"
log=$work/serial.log
qmp=$work/qmp.sock
rm -f "$log" "$qmp"
: > "$log"
"$root_dir/target/release/hwts-qmp" "$log" "$qmp" 420 &
qmp_pid=$!
timeout 420 qemu-system-x86_64 -accel tcg -machine q35 -m 512 -nographic -no-reboot \
    -kernel "$work/vmlinuz" -initrd "$work/initrd.gz" \
    -append 'console=ttyS0 panic=-1 quiet' \
    -qmp unix:"$qmp",server=on,wait=off \
    -netdev hubport,id=p0,hubid=0 -device igb,netdev=p0,mac=52:54:00:12:00:01,addr=0x4 \
    -netdev hubport,id=p1,hubid=0 -device igb,netdev=p1,mac=52:54:00:12:00:02,addr=0x6 \
    -device pcie-root-port,id=rp1,chassis=1,addr=0x8 \
    -netdev hubport,id=p2,hubid=0 -device igb,netdev=p2,mac=52:54:00:12:00:03,bus=rp1,id=hp0 \
    -netdev hubport,id=p3,hubid=0 -device e1000e,netdev=p3,mac=52:54:00:12:00:04,addr=0x5 \
    2>&1 | stdbuf -oL tr -d '\r' > "$log" || true
wait "$qmp_pid" || echo "== hwts-qmp failed (see above)"
cargo run -q -p tempora-tests --bin hwts-check -- "$log"
