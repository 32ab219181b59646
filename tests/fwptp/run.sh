#!/usr/bin/env bash
# The PTP firmware on the wire: tempora's port in a Cortex-M3 image on QEMU's mps2-an385,
# its LAN9118 on a TAP interface, linuxptp's ptp4l on the other end (PTP over layer 2).
#
#  1. ptp4l is the master (free_running, software timestamps: it serves the host's
#     CLOCK_REALTIME). The firmware slave must lock and keep its clock within its
#     reported bound for >= 99% of its readings over >= 60 s (tests/src/bin/fwptp_check.rs
#     explains how the truth is known).
#  2. The firmware is the master (its own counter), a ptp4l slave (free_running,
#     slaveOnly) must select it and follow it; its offsets and path delays are reported.
#
# Everything runs in a network namespace this script creates and deletes; QEMU and
# ptp4l are bounded by timeout and stopped by PID in the trap. About 2.5 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
root_dir=$PWD
work=$root_dir/target/fwptp
mkdir -p "$work"
for tool in qemu-system-arm ptp4l ip; do
    command -v $tool >/dev/null 2>&1 || { echo "$tool missing" >&2; exit 1; }
done
slave_seconds=${FWPTP_SLAVE_SECONDS:-85}
master_seconds=${FWPTP_MASTER_SECONDS:-40}

echo "== building the firmware image and the checker"
(cd boards && cargo build -q --release -p tempora-board-mps2-ptp --target thumbv7m-none-eabi)
cargo build -q --release -p tempora-tests --bin fwptp-check
elf=$root_dir/boards/target/thumbv7m-none-eabi/release/tempora-board-mps2-ptp
check=$root_dir/target/release/fwptp-check

ns=tempora-fwptp-$$
tap=fwptp0
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev "$tap" mode tap
ip -n "$ns" link set "$tap" up

ptp4l_config() { # role-specific lines...
    cat <<EOF
[global]
free_running 1
kernel_leap 0
time_stamping software
delay_mechanism E2E
network_transport L2
logSyncInterval -2
logMinDelayReqInterval -2
logAnnounceInterval 0
announceReceiptTimeout 3
summary_interval -2
uds_address $work/ptp4l.sock
EOF
    printf '%s\n' "$@"
}

# QEMU with the image on the TAP, its semihosting output stamped on arrival.
boot() { # role seconds log
    ip netns exec "$ns" timeout $(($2 + 30)) qemu-system-arm \
        -machine mps2-an385 -cpu cortex-m3 -accel tcg \
        -display none -serial null -monitor none \
        -semihosting-config "enable=on,target=native,arg=fw,arg=$1,arg=$2" \
        -nic "tap,ifname=$tap,script=no,downscript=no,model=lan9118" \
        -kernel "$elf" 2>"$3.err" | "$check" stamp >"$3" &
    pids+=($!)
}

echo "== 1. ptp4l master -> firmware slave, $slave_seconds s"
ptp4l_config "masterOnly 1" "priority1 10" >"$work/master.cfg"
boot slave "$slave_seconds" "$work/slave.log"
qemu_job=$!
sleep 1 # the TAP has carrier once QEMU holds it
ip netns exec "$ns" timeout $((slave_seconds + 20)) \
    ptp4l -f "$work/master.cfg" -i "$tap" -m >"$work/ptp4l-master.log" 2>&1 &
pids+=($!)
ptp4l_job=$!
wait "$qemu_job" || { echo "QEMU failed:"; cat "$work/slave.log.err" "$work/slave.log"; exit 1; }
kill "$ptp4l_job" 2>/dev/null || true
wait "$ptp4l_job" 2>/dev/null || true
grep -q '^[0-9]* done$' "$work/slave.log" || { echo "the firmware did not finish:"; tail "$work/slave.log"; exit 1; }
"$check" slave "$work/slave.log"

echo "== 2. firmware master -> ptp4l slave, $master_seconds s"
# A free-running ptp4l prints an offset once per frequency estimate: once a second.
ptp4l_config "slaveOnly 1" "freq_est_interval 0" >"$work/slave.cfg"
boot master "$master_seconds" "$work/master.log"
qemu_job=$!
sleep 1
ip netns exec "$ns" timeout $((master_seconds + 20)) \
    ptp4l -f "$work/slave.cfg" -i "$tap" -m >"$work/ptp4l-slave.log" 2>&1 &
pids+=($!)
ptp4l_job=$!
wait "$qemu_job" || { echo "QEMU failed:"; cat "$work/master.log.err" "$work/master.log"; exit 1; }
kill "$ptp4l_job" 2>/dev/null || true
wait "$ptp4l_job" 2>/dev/null || true
"$check" master "$work/ptp4l-slave.log"
echo "fwptp: passed (logs in $work)"
