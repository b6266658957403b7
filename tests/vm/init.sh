#!/bin/busybox sh
# /init of the throwaway initramfs built by run-in-vm.sh (runs as PID 1 under
# busybox sh). Its only job: mount the host's / (shared read-only over 9p)
# under a writable tmpfs overlay and switch_root into it, so the guest runs
# the host's own userland without ever writing to the host.
# shellcheck shell=sh
set -eu

# busybox --install needs /proc/self/exe, so mount /proc first.
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH=/bin

mount -t devtmpfs devtmpfs /dev
# The cpio has no /dev/console node (building it needs no root that way), so
# the kernel could not give us a console: take it now.
exec </dev/console >/dev/console 2>&1

die() {
	echo "run-in-vm init: $*" >&2
	# -no-reboot on the qemu side turns a reboot into a clean qemu exit.
	reboot -f
}
trap 'die "a command failed; giving up"' EXIT

mount -t sysfs sysfs /sys

# Same-kernel modules for virtio-pci, 9p and overlayfs, already in
# dependency order (see modules.list, written by run-in-vm.sh).
while read -r ko; do
	insmod "/modules/$ko"
done </modules/modules.list

mkdir -p /lower /rw /newroot
# ro here too: qemu already exports the share readonly, this just makes the
# kernel say "Read-only file system" rather than EROFS surprises per write.
# cache=loose is safe because the host tree is not expected to change under
# a test run, and it makes the 9p root much faster under TCG.
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache="$(cat /vm/cache9p)" hostroot /lower
mount -t tmpfs -o mode=0755 rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot

# /run is a fresh tmpfs in the new root; it also carries what guest.sh needs
# (the command, cwd, nonce), since switch_root wipes this initramfs.
mount -t tmpfs -o mode=0755,nosuid,nodev run /newroot/run
cp -a /vm /newroot/run/vm

for m in dev proc sys; do
	mount --move "/$m" "/newroot/$m"
done

trap - EXIT
exec switch_root /newroot /bin/bash /run/vm/guest.sh
