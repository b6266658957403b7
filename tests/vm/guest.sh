#!/bin/bash
# Second stage inside the VM, PID 1 after switch_root: the root is now the
# host's / (read-only 9p) under a tmpfs overlay, so this is the host's bash.
# Set up a minimal system with a PURE cgroup v2 hierarchy, run the command
# that run-in-vm.sh put in /run/vm, report its exit status on the console,
# and power off.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

vm=/run/vm
nonce=$(<"$vm/nonce")
status=125 # what the host gets if setup fails before the command runs
ran=
shell=''
[ ! -e "$vm/shell" ] || shell=$(<"$vm/shell") # run-in-vm.sh --shell: "ROWS COLS"

# PID 1 must never exit (that is a kernel panic), so every way out of this
# script ends here: report the status on the serial console, wait until the
# UART has really sent it, then reboot (qemu runs with -no-reboot, so a
# reboot is a clean qemu exit).
# shellcheck disable=SC2317 # (called from the EXIT trap)
finish() {
	trap - EXIT
	[ -n "$ran" ] || echo "run-in-vm guest: setup failed before the command ran" >&2
	[ -n "$shell" ] || printf 'VM-EXIT-STATUS-%s=%d\n' "$nonce" "$status"
	# stty applies settings with TCSADRAIN: it returns once output is sent.
	stty onlcr </dev/console 2>/dev/null || sleep 1
	echo b >/proc/sysrq-trigger
	while :; do sleep 60; done
}
trap finish EXIT

# /dev, /proc and /sys were moved here by the initramfs; add the rest.
mkdir -p /dev/pts /dev/shm
# ptmxmode=0666 and /dev/ptmx -> pts/ptmx: tmux (used by the doc tests)
# needs a usable pseudo-terminal multiplexer.
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
ln -sfn pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
# devtmpfs lacks these; bash process substitution and many scripts use them.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr

# The point of the VM: cgroup2 alone at /sys/fs/cgroup, mounted the way
# systemd does it, with every controller enabled for children of the root
# (as systemd enables them on a cgroup v2 host).
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
for c in $(</sys/fs/cgroup/cgroup.controllers); do
	echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control
done

# Plain (no nodev/nosuid) like an on-disk /tmp: tests may build container
# root filesystems with device nodes under $BATS_TMPDIR. A checkout that
# lives there itself (a CI clone in /tmp) is moved onto the new tmpfs.
cwd=$(<"$vm/cwd")
for d in /tmp /var/tmp; do
	if [[ $cwd == "$d"/* ]]; then
		mkdir /run/checkout
		mount --bind "$cwd" /run/checkout
		mount -t tmpfs -o mode=1777 tmpfs "$d"
		mkdir -p "$cwd"
		mount --move /run/checkout "$cwd"
		rmdir /run/checkout
	else
		mount -t tmpfs -o mode=1777 tmpfs "$d"
	fi
done
# podman's overlay storage cannot sit on the overlay root (it would fall back
# to fuse-overlayfs, which has no /dev/fuse here): give it a tmpfs, empty
# like a fresh install's.
mkdir -p /var/lib/containers
mount -t tmpfs -o mode=0700 containers /var/lib/containers
# systemd makes every mount shared; do the same, so that a runtime that
# forgets to make its mounts private leaks them here just as on a real host.
mount --make-rshared /

echo testvm >/proc/sys/kernel/hostname
# sudo looks its host up: without this it warns "unable to resolve host".
echo "127.0.1.1 testvm" >>/etc/hosts
ip link set lo up
modprobe veth

# The command's whole environment: nothing leaks in from the kernel's
# command line or from this script.
env=(
	PATH="$PATH"
	HOME=/root USER=root LOGNAME=root SHELL=/bin/bash
	LANG=C.UTF-8
	WORKSHOP_TEST_VM=1
)
if ! locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
	env=("${env[@]/#LANG=C.UTF-8/LANG=C}")
fi
# TERM, CI, ... chosen by run-in-vm.sh, one NUL-terminated VAR=value each.
mapfile -d '' -t host_env <"$vm/env"
mapfile -d '' -t cmd <"$vm/cmd"
# Leave /run as clean as a host's (and the nonce out of the command's reach).
rm -rf "$vm"
cd "$cwd"

if [ -n "$shell" ]; then
	# A login-like root shell on the serial console, its controlling
	# terminal (setsid -c), sized as the host's terminal.
	read -r rows cols <<<"$shell"
	stty rows "$rows" cols "$cols" </dev/ttyS0
	cat >/run/vm-shell.rc <<-'EOF'
		[ ! -r /etc/bash.bashrc ] || . /etc/bash.bashrc
		PS1='[cgroup v2 VM] \w# '
	EOF
	cat <<-EOF
		================================================================
		cgroup v2 VM (kernel $(uname -r)): $(</sys/fs/cgroup/cgroup.controllers)
		The checkout: $cwd. What you write here is lost at exit:
		edit files on the host, build and run them here. exit: leave.
		================================================================
	EOF
	ran=1
	set +e
	env -i "${env[@]}" "${host_env[@]}" WORKSHOP_VM_SHELL=1 \
		setsid -c bash --rcfile /run/vm-shell.rc -i <>/dev/ttyS0 >&0 2>&0
	status=$?
	set -e
	exit "$status"
fi
echo "VM-READY-$nonce"
ran=1
set +e
env -i "${env[@]}" "${host_env[@]}" "${cmd[@]}" </dev/null
status=$?
set -e
exit "$status"
