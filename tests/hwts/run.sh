#!/usr/bin/env bash
# Hardware timestamping against a real NIC driver: Linux 6.12's igb driver on QEMU's
# emulated Intel 82576 (x86_64 guest under TCG, about 10 s to boot), with linuxptp's
# ptp4l as the peer inside the guest. See tests/hwts/init.sh for the scenarios.
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
if [ ! -f "$work/vmlinuz" ] || [ ! -f "$work/busybox" ] || [ ! -d "$work/mods" ]; then
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
    for m in dca i2c-algo-bit igb; do
        ko=$(find "$work/kernel/lib/modules" -name "$m.ko.xz" | head -1)
        [ -n "$ko" ] || { echo "module $m not in $kpkg" >&2; exit 1; }
        xz -dc "$ko" > "$work/mods/$m.ko"
    done
    cp "$work"/kernel/boot/vmlinuz-* "$work/vmlinuz"
    cp "$work/bb/bin/busybox" "$work/busybox"
fi

echo "== building the tempora daemon and the send-timestamp probe"
cargo build -q --release -p tempora-std --bin tempora
cargo build -q --release -p tempora-tests --bin hwts-probe
tempora_bin=$root_dir/target/release/tempora
probe_bin=$root_dir/target/release/hwts-probe

# The initramfs: busybox, the modules, tempora, the probe, ptp4l and phc_ctl with the
# shared libraries they load.
rootfs=$work/rootfs
rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,run,mods}
cp "$work/busybox" "$rootfs/bin/busybox"
cp "$work"/mods/*.ko "$rootfs/mods/"
bins=("$tempora_bin" "$probe_bin" "$(command -v ptp4l)" "$(command -v phc_ctl)")
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

echo "== booting the guest (two igb NICs on one hub)"
log=$work/serial.log
timeout 300 qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot \
    -kernel "$work/vmlinuz" -initrd "$work/initrd.gz" \
    -append 'console=ttyS0 panic=-1 quiet' \
    -netdev hubport,id=p0,hubid=0 -device igb,netdev=p0,mac=52:54:00:12:00:01,addr=0x4 \
    -netdev hubport,id=p1,hubid=0 -device igb,netdev=p1,mac=52:54:00:12:00:02,addr=0x6 \
    2>&1 | tr -d '\r' > "$log" || true
cargo run -q -p tempora-tests --bin hwts-check -- "$log"
