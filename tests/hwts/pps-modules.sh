#!/usr/bin/env bash
# Builds the PPS test modules for the hwts guest out of tree, from the guest kernel's own
# sources (Debian's linux-source-6.12) against its own headers (linux-headers-*-amd64,
# -common and linux-kbuild, downloaded and unpacked, never installed), into
# target/hwts/ppsmods. Debian's 6.12 kernel leaves them out
# (# CONFIG_PPS_CLIENT_KTIMER, # CONFIG_GPIO_SIM is not set):
#
# - pps-ktimer.ko: drivers/pps/clients/pps-ktimer.c, a kernel timer that asserts a PPS
#   event (/dev/pps0) every HZ jiffies.
# - gpio-sim.ko: drivers/gpio/gpio-sim.c, a simulated GPIO chip set up through configfs,
#   whose line levels a test sets through sysfs (sim_gpioN/pull), with interrupts.
# - irq_sim.ko: kernel/irq/irq_sim.c, the interrupt simulator gpio-sim needs, which the
#   kernel only ever builds in (CONFIG_IRQ_SIM is selected, never a module): built here as
#   a module, with a MODULE_LICENSE line appended and its one call to a function the
#   kernel does not export, handle_simple_irq(irq_to_desc(irq)), replaced by
#   generic_handle_irq(irq), which calls the same handler (irq_sim sets it per interrupt).
# - configfs.ko: from the kernel package itself (CONFIG_CONFIGFS_FS=m), which gpio-sim
#   needs.
#
# Usage: pps-modules.sh WORK where WORK is target/hwts (the unpacked kernel package is in
# WORK/kernel, its .deb in WORK/debs). Nothing from the kernel is kept in the repository:
# the sources are Debian's package, unpacked here at test time. Built once: a second run
# finds WORK/ppsmods/built matching the kernel and does nothing.
set -euo pipefail
work=$(cd "${1:?usage: pps-modules.sh TARGET_HWTS_DIR}" && pwd)
out=$work/ppsmods
ksrc=$work/ksrc
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

image_deb=$(ls "$work"/debs/linux-image-*.deb | head -1)
kver=$(dpkg-deb -f "$image_deb" Version)            # 6.12.117-1~deb12u1
krel=$(ls "$work/kernel/lib/modules" | head -1)     # 6.12.117+deb12-amd64
abi=${krel%-amd64}                                  # 6.12.117+deb12
mods=(pps-ktimer irq_sim gpio-sim configfs)
if [ -f "$out/built" ] && [ "$(cat "$out/built")" = "$krel $kver" ]; then
    echo "== PPS modules for $krel already built"
    exit 0
fi
started=$(date +%s)

# The compiler the kernel was built with (its .config names gcc-12), make and objcopy
# (binutils). modpost and objtool come prebuilt in linux-kbuild and need only libc.
missing=()
command -v x86_64-linux-gnu-gcc-12 >/dev/null 2>&1 || missing+=(gcc-12)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v objcopy >/dev/null 2>&1 || missing+=(binutils)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]} for the module build"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

rm -rf "$ksrc" "$out"
mkdir -p "$ksrc/debs" "$ksrc/root" "$ksrc/build" "$out"
echo "== downloading linux-source-6.12 and the headers of $krel ($kver)"
(cd "$ksrc/debs" && timeout 600 apt-get download "linux-source-6.12=$kver" \
    "linux-headers-$krel=$kver" "linux-headers-$abi-common=$kver" "linux-kbuild-$abi=$kver" 2>&1 \
    | grep -v '^W: Download is performed unsandboxed' || true)
for pkg in "linux-headers-$krel" "linux-headers-$abi-common" "linux-kbuild-$abi"; do
    deb=$(ls "$ksrc"/debs/"${pkg}"_*.deb 2>/dev/null | head -1 || true)
    [ -n "$deb" ] || { echo "$pkg $kver could not be downloaded" >&2; exit 1; }
    dpkg-deb -x "$deb" "$ksrc/root"
done
src_deb=$(ls "$ksrc"/debs/linux-source-6.12_*.deb 2>/dev/null | head -1 || true)
[ -n "$src_deb" ] || { echo "linux-source-6.12 $kver could not be downloaded" >&2; exit 1; }
# Only the three files, from the source tarball inside the package.
files=(drivers/pps/clients/pps-ktimer.c drivers/gpio/gpio-sim.c kernel/irq/irq_sim.c)
dpkg-deb --fsys-tarfile "$src_deb" | tar -xO ./usr/src/linux-source-6.12.tar.xz | xz -dc \
    | tar -x -C "$ksrc" "${files[@]/#/linux-source-6.12/}"
for f in "${files[@]}"; do cp "$ksrc/linux-source-6.12/$f" "$ksrc/build/"; done

# irq_sim as a module (see the top of this file); fail loudly if its source changed.
call='handle_simple_irq(irq_to_desc(irqnum));'
grep -qF "$call" "$ksrc/build/irq_sim.c" \
    || { echo "irq_sim.c no longer calls $call: revisit pps-modules.sh" >&2; exit 1; }
sed -i "s/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/" "$ksrc/build/irq_sim.c"
printf '\n#include <linux/module.h>\nMODULE_LICENSE("GPL");\nMODULE_DESCRIPTION("irq_sim built as a module for tempora tests");\n' \
    >> "$ksrc/build/irq_sim.c"
echo 'obj-m := pps-ktimer.o irq_sim.o gpio-sim.o' > "$ksrc/build/Kbuild"

# The -amd64 headers' Makefile includes the -common one by its installed path
# (/usr/src/...); naming it with -f keeps the build inside $ksrc. No BTF for the modules
# (pahole is not needed, nor is the BTF of vmlinux).
hdr=$ksrc/root/usr/src/linux-headers-$krel
common=$ksrc/root/usr/src/linux-headers-$abi-common
echo "== building ${mods[*]:0:3} against linux-headers-$krel"
timeout 600 make -s -C "$hdr" -f "$common/Makefile" M="$ksrc/build" CONFIG_DEBUG_INFO_BTF_MODULES= \
    -j"${CARGO_BUILD_JOBS:-1}" modules
for m in pps-ktimer irq_sim gpio-sim; do cp "$ksrc/build/$m.ko" "$out/"; done
ko=$(find "$work/kernel/lib/modules" -name configfs.ko.xz | head -1)
[ -n "$ko" ] || { echo "configfs.ko.xz not in the kernel package" >&2; exit 1; }
xz -dc "$ko" > "$out/configfs.ko"

# Each module must be for this very kernel.
for m in "${mods[@]}"; do
    vermagic=$(objcopy -O binary --only-section=.modinfo "$out/$m.ko" /dev/stdout | tr '\0' '\n' \
        | sed -n 's/^vermagic=//p')
    case "$vermagic" in
        "$krel "*) echo "== $m.ko vermagic=$vermagic" ;;
        *) echo "$m.ko: vermagic '$vermagic' is not for $krel" >&2; exit 1 ;;
    esac
done
echo "$krel $kver" > "$out/built"
rm -rf "$ksrc/debs" "$ksrc/root" "$ksrc/linux-source-6.12"
echo "== PPS modules built in $(($(date +%s) - started)) s"
