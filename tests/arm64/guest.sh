#!/bin/busybox sh
# The aarch64 guest's /init (tests/arm64/run.sh): busybox sh, as PID 1.
# Stage 1 moves the initramfs to a tmpfs and switch_roots into it, because
# pivot_root(2) refuses a root on the initial ramfs (EINVAL), and step02 on
# pivot_roots. Stage 2 checks each step's core behaviour, prints a TAP line
# for each and its exit status, and powers off.
# shellcheck shell=sh disable=SC2016 # (the containers' commands are single-quoted on purpose)

bb=/bin/busybox
if [ "${1:-}" != run ]; then
	$bb mount -t tmpfs -o mode=755 root /mnt 2>/dev/null || { $bb mkdir /mnt && $bb mount -t tmpfs -o mode=755 root /mnt; }
	for d in bin lib ws init; do $bb cp -a "/$d" /mnt/; done
	exec $bb switch_root /mnt /init run
fi

$bb mkdir -p /proc /sys /dev /tmp /etc /root /usr/bin /sbin /usr/sbin
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
$bb mount -t tmpfs -o mode=1777 tmpfs /tmp
$bb mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
$bb --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
insmod /lib/modules/veth.ko
ip link set lo up
# A link of the host's own, so that "only lo" inside can fail.
ip link add probe0 type veth

# The container's rootfs: busybox and its links, as rootfs.sh --from busybox
# makes it, and a file that only it has.
r=/ws/rootfs
mkdir -p $r/bin $r/dev $r/proc $r/sys $r/tmp $r/etc $r/root
cp /bin/busybox $r/bin/busybox
chroot $r /bin/busybox --install -s /bin
echo 'in the rootfs' >$r/marker

n=0 failed=0
# check NAME WANT STEP ARG...: the step's output and exit status, as
# "OUTPUT|status N" (newlines as spaces), must be WANT.
check() {
	name=$1 want=$2 step=$3
	shift 3
	n=$((n + 1))
	got=$(/ws/"$step"/run "$@" 2>&1 </dev/null; echo "|status $?")
	got=$(echo "$got" | tr '\n' ' ' | sed 's/ *|/|/; s/ *$//')
	if [ "$got" = "$want" ]; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		echo "# want: $want"
		echo "# got:  $got"
		failed=$((failed + 1))
	fi
}

echo "# $(uname -m), Linux $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
check "arm64: uname -m says aarch64" "aarch64|status 0" step01_pid uname -m
check "step01: the command is PID 1" "1|status 0" step01_pid sh -c 'echo $$'
check "step02: the root is the rootfs, /ws is the host's only" "in the rootfs no /ws|status 0" \
	step02_mount --rootfs $r sh -c 'cat /marker; [ -e /ws ] || echo no /ws'
check "step02: /proc shows the container's processes only" "/proc/1|status 0" \
	step02_mount --rootfs $r sh -c 'echo /proc/[0-9]*'
check "step03: only lo" "lo|status 0" \
	step03_net --rootfs $r sh -c 'ip -o link | cut -d: -f2 | tr -d " "'
check "step04: allocating past --memory is OOM-killed: 137" "|status 137" \
	step04_cgroup --rootfs $r --memory 32M dd if=/dev/zero of=/dev/null bs=64M count=1
check "step04: below --memory, the same allocation completes" "|status 0" \
	step04_cgroup --rootfs $r --memory 128M sh -c 'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null'
check "step05: a ping round trip over the veth to the host's end" "reply|status 0" \
	step05_veth --rootfs $r sh -c 'ping -c 1 -W 10 10.200.0.1 >/dev/null && echo reply'
check "step06: the hostname is container" "container|status 0" step06_full --rootfs $r hostname
check "step06: the cgroup namespace: /proc/self/cgroup says /" "0::/|status 0" \
	step06_full --rootfs $r cat /proc/self/cgroup
# Nothing left: no cgroup under workshop/, no link but lo and the probe.
n=$((n + 1))
left=$(for d in /sys/fs/cgroup/workshop/ws-*; do [ ! -e "$d" ] || echo "$d"; done; ip -o link | grep -v -e ': lo:' -e probe0)
if [ -z "$left" ]; then
	echo "ok $n nothing is left behind: no ws- cgroup, no new link"
else
	echo "not ok $n nothing is left behind: no ws- cgroup, no new link"
	echo "$left" | sed 's/^/# left: /'
	failed=$((failed + 1))
fi
echo "1..$n"
echo "arm64-guest: exit status $((failed > 0))"
poweroff -f
