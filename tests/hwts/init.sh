#!/bin/busybox sh
# PID 1 of the QEMU guest that tests hardware timestamping (see run.sh). Two emulated
# Intel 82576 NICs (igb) on one QEMU hub: eth0 and eth1 reach each other, and each has
# its own PTP hardware clock (/dev/ptp0, /dev/ptp1). Every step is bounded by timeout.
/bin/busybox --install -s /bin
echo
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in dca i2c-algo-bit igb; do insmod /mods/$m.ko || echo "== insmod $m failed"; done
ip link set lo up
for i in 1 2 3 4 5 6 7 8 9 10; do
    [ -e /sys/class/net/eth1 ] && break
    sleep 1
done
ip link set eth0 up
ip link set eth1 up
sleep 2
echo "== phcs $(ls /sys/class/ptp | tr '\n' ' ')"

cat > /tmp/master.cfg <<CFG
[global]
free_running 1
kernel_leap 0
time_stamping software
network_transport L2
delay_mechanism E2E
logSyncInterval -3
logMinDelayReqInterval -3
logAnnounceInterval -3
announceReceiptTimeout 2
masterOnly 1
priority1 10
uds_address /tmp/master.sock
clockIdentity 000000.0000.000001
CFG

# A: a ptp4l master with software timestamps on eth0; tempora on eth1 in auto mode takes
# the NIC's hardware timestamps, finds that received event messages come unstamped,
# falls back to software timestamps and synchronises.
ptp4l -f /tmp/master.cfg -i eth0 -m > /tmp/master.log 2>&1 &
master=$!
sleep 2
echo "== A begin"
timeout 60 /bin/tempora --log-level info run --source ptp:eth1 --ptp-transport l2 \
    --ptp-timestamping auto --ptp-announce-log2 -3 --ptp-sync-log2 -3 --ptp-delay-log2 -3 \
    --ptp-announce-timeout 2 --duration 30s --interval 1s > /tmp/a.log 2>&1
code=$?
cat /tmp/a.log
echo "== A exit=$code"

# B: hardware timestamps demanded: the same NIC must make tempora fail, saying why.
echo "== B begin"
timeout 60 /bin/tempora --log-level info run --source ptp:eth1 --ptp-transport l2 \
    --ptp-timestamping hardware --ptp-announce-log2 -3 --ptp-sync-log2 -3 \
    --ptp-delay-log2 -3 --ptp-announce-timeout 2 --duration 20s --interval 1s > /tmp/b.log 2>&1
code=$?
cat /tmp/b.log
echo "== B exit=$code"
kill $master
echo "== master log"
head -20 /tmp/master.log

# C: what this NIC does stamp: sent frames. Move eth0's PHC 5 s away from the system
# clock (the emulated NIC's clock, not the host's), then send Sync frames with hardware
# timestamps; each send timestamp must lie between PHC readings around its send.
echo "== C begin"
phc_ctl /dev/ptp0 adj 5 2>&1
timeout 60 /bin/hwts-probe eth0 2>&1
echo "== C exit=$?"
echo "== done"
poweroff -f
