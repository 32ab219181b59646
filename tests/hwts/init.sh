#!/bin/busybox sh
# PID 1 of the QEMU guest that tests hardware timestamping and PPS (see run.sh). Two emulated
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
timeout 60 /bin/tempora --log-level info run --no-time-service --source ptp:eth1 --ptp-transport l2 \
    --ptp-timestamping auto --ptp-announce-log2 -3 --ptp-sync-log2 -3 --ptp-delay-log2 -3 \
    --ptp-announce-timeout 2 --duration 30s --interval 1s > /tmp/a.log 2>&1
code=$?
cat /tmp/a.log
echo "== A exit=$code"

# B: hardware timestamps demanded: the same NIC must make tempora fail, saying why.
echo "== B begin"
timeout 60 /bin/tempora --log-level info run --no-time-service --source ptp:eth1 --ptp-transport l2 \
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

# PTP hardware clocks as sources (tests/src/bin/hwts_phc.rs). The e1000e's PHC joins.
insmod /mods/e1000e.ko || echo "== insmod e1000e failed"
sleep 2
bad_if=""
hp_if=""
for n in /sys/class/net/eth*; do
    [ "$(cat $n/address)" = "52:54:00:12:00:03" ] && hp_if=$(basename $n)
    [ "$(cat $n/address)" = "52:54:00:12:00:04" ] && bad_if=$(basename $n)
done
echo "== phcs-all $(ls /sys/class/ptp | tr '\n' ' ') e1000e=$bad_if hotplug=$hp_if"

# P1: discovery, capabilities, the cross-timestamp chain and each method's window.
echo "== P1 begin"
timeout 60 /bin/hwts-phc methods /dev/ptp1 2>&1 && timeout 30 /bin/tempora phc list 2>&1
echo "== P1 exit=$?"

# P2: fast reads against the PHC, set to TAI and 50 ppm fast on purpose, for 30 s.
echo "== P2 begin"
timeout 120 /bin/hwts-phc fast /dev/ptp1 30 50000 2>&1
echo "== P2 exit=$?"

# P3: a faulty PHC (QEMU 10's e1000e runs 2.5x too fast) reported within one interval.
echo "== P3 begin"
timeout 30 /bin/hwts-phc fault "$bad_if" 2>&1
echo "== P3 exit=$?"

# P4: the NIC behind the PCIe root port unplugged and plugged back (QMP, by hwts-qmp).
echo "== P4 begin"
timeout 200 /bin/hwts-phc hotplug "$hp_if" "driver=igb id=hp0 bus=rp1 netdev=p2 mac=52:54:00:12:00:03" 2>&1
echo "== P4 exit=$?"

# P5: the daemon reads the PHC (by interface) as its source.
echo "== P5 begin"
timeout 30 /bin/tempora run --no-time-service --source phc:eth1 --duration 5s --interval 1s 2>&1
echo "== P5 exit=$?"

# PPS (tests/src/bin/hwts_pps.rs), before P6 steers the system clock, on modules built
# out of tree from this kernel's own sources (tests/hwts/pps-modules.sh): pps-ktimer's
# /dev/pps0, and a gpio-sim chip (configfs) with one line. hwts-check fails on a module
# that is missing or does not load.
pps_mods=""
for m in pps-ktimer configfs irq_sim gpio-sim; do
    if [ ! -f /mods/pps/$m.ko ]; then
        pps_mods="$pps_mods $m=missing"
    elif insmod /mods/pps/$m.ko; then
        pps_mods="$pps_mods $m=loaded"
    else
        pps_mods="$pps_mods $m=failed"
    fi
done
echo "== pps-modules$pps_mods"
echo "== pps-sources $(cat /sys/class/pps/pps*/name 2>/dev/null | tr '\n' ' ')"

# PPS1: pps-ktimer's /dev/pps0 through PpsDevice for 10 s, feeding a PpsClock.
echo "== PPS1 begin"
timeout 40 /bin/hwts-pps device /dev/pps0 10 2>&1
echo "== PPS1 exit=$?"

# A gpio-sim chip with one line; its level is set through sysfs (sim_gpio0/pull).
mount -t configfs none /sys/kernel/config
g=/sys/kernel/config/gpio-sim/pps
mkdir $g $g/bank0 && echo 1 > $g/bank0/num_lines && mkdir $g/bank0/line0 \
    && echo pps-in > $g/bank0/line0/name && echo 1 > $g/live
chip=$(cat $g/bank0/chip_name 2>/dev/null)
pull=/sys/devices/platform/$(cat $g/dev_name 2>/dev/null)/$chip/sim_gpio0/pull
echo "== gpio-sim /dev/$chip $pull"

# PPS2, PPS3: a child process raises the line at the start of each second for 10 s,
# while GpioPps waits for its kernel-stamped edge events, then polls its level.
echo "== PPS2 begin"
timeout 40 /bin/hwts-pps gpio /dev/$chip 0 $pull 10 events 2>&1
echo "== PPS2 exit=$?"
echo "== PPS3 begin"
timeout 40 /bin/hwts-pps gpio /dev/$chip 0 $pull 10 polled 2>&1
echo "== PPS3 exit=$?"

# P6: tempora phc sync steers the guest's own system clock to the PHC (20 ppm fast on
# purpose, 37 s ahead as TAI), like phc2sys; the residual is what hwts-check reports.
echo "== P6 begin"
phc_ctl /dev/ptp1 freq 20000 > /dev/null 2>&1
timeout 60 /bin/tempora phc sync --source phc:/dev/ptp1 --phc-timescale tai --utc-offset 37 --duration 25s 2>&1
echo "== P6 exit=$?"
echo "== done"
poweroff -f
