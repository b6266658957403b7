#!/bin/bash
# Run a command as root in a throwaway qemu VM whose /sys/fs/cgroup is a PURE
# cgroup v2 hierarchy (this host's is hybrid), then exit with its status.
#
#   tests/vm/run-in-vm.sh [COMMAND [ARG...]]     (default: bats tests/)
#   tests/vm/run-in-vm.sh --shell                (sudo make vm-shell)
#
# The guest boots the host's own kernel and uses the host's own userland: the
# host's / is shared read-only over 9p under a tmpfs overlay (so writes in the
# guest, e.g. builds in the repository, land in guest RAM, never on the host).
# The command runs in the repository top, with stdin from /dev/null and
# WORKSHOP_TEST_VM=1 in its environment; its stdout+stderr come back live on
# this script's stdout through the serial console. /tmp, /var/tmp and /run
# are fresh tmpfs in the guest: files the command needs must live elsewhere
# (e.g. in the repository). Only TERM and CI are passed in from the host.
#
# --shell: an interactive root shell in the same VM, on this terminal, for
# hosts without cgroup v2 (chapter 7 and steps 04-06 of the document). It
# uses KVM when a test boot with /dev/kvm works within 20 s, else TCG, and
# says which; 9p cache=mmap, so that files edited on the host show inside.
# What is written inside (builds, files) is lost when the shell exits.
#
# Environment:
#   VM_TIMEOUT  seconds before a hung guest is killed (default 2400; exit 124)
#   VM_MEM      guest RAM in MiB (default 2048)
#   VM_ACCEL    tcg (default) or kvm (KVM guests hang on some hosts)
#   VM_SMP      vCPUs (default 2)
#   VM_CPU      qemu -cpu model (default: max for tcg, host for kvm)
#   VM_TCG_THREAD  multi or single (tcg only; default: qemu's own choice)
#   VM_9P       the 9p root's cache mode (default loose)
#   VM_KERNEL   kernel version or /boot/vmlinuz-VERSION path (default: the
#               newest /boot/vmlinuz-* with matching /lib/modules)
#   VM_DEBUG=1  show all kernel messages
set -euo pipefail

prog=run-in-vm
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
shell=''
if [ "${1:-}" = --shell ]; then
	shell=1
	shift
fi
timeout_s=${VM_TIMEOUT:-2400}
mem=${VM_MEM:-2048}
accel=${VM_ACCEL:-tcg}
smp=${VM_SMP:-2}
cache9p=${VM_9P:-loose}
[ -z "$shell" ] || cache9p=${VM_9P:-mmap}
# The packages come from the one list, in this distribution's names.
install_hint="sudo make test-vm installs what is missing; or: $("$repo/infra/packages.sh" apt-line vm)"

die() {
	echo "$prog: $*" >&2
	exit 2
}

[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "VM_TIMEOUT must be a number of seconds"
if [ -n "$shell" ]; then
	[ $# -eq 0 ] || die "--shell takes no command"
	{ [ -t 0 ] && [ -t 1 ]; } || die "--shell needs a terminal (stdin and stdout)"
	# KVM only where it boots: under nested virtualization /dev/kvm can be
	# there and a guest still hang. A test boot decides, bounded.
	if [ -z "${VM_ACCEL:-}" ]; then
		why="no usable /dev/kvm"
		if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
			if VM_ACCEL=kvm VM_TIMEOUT=20 "$0" true </dev/null >/dev/null 2>&1; then
				accel=kvm why="a test boot with /dev/kvm worked"
			else
				why="/dev/kvm is there, but a test boot with it did not finish within 20 s"
			fi
		fi
		echo "$prog: $accel ($why)$([ "$accel" = kvm ] || echo '; software emulation: commands start slowly')" >&2
	fi
fi
[[ $mem =~ ^[1-9][0-9]*$ ]] || die "VM_MEM must be a number of MiB"
case $accel in
tcg) cpu=max ;;
kvm) cpu=host ;; # under nested KVM here: qemu aborts or the guest hangs
*) die "VM_ACCEL must be tcg or kvm" ;;
esac
cpu=${VM_CPU:-$cpu}
accel_opt=$accel
if [ "$accel" = tcg ] && [ -n "${VM_TCG_THREAD:-}" ]; then
	accel_opt+=",thread=$VM_TCG_THREAD"
fi
[[ $smp =~ ^[1-9][0-9]*$ ]] || die "VM_SMP must be a number of vCPUs"

for tool in qemu-system-x86_64 modprobe cpio; do
	command -v "$tool" >/dev/null || die "$tool not found: $install_hint"
done
busybox=/bin/busybox
# The initramfs has no libc, so busybox must be the static build.
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
	die "no static $busybox: $install_hint"
fi

# The kernel: its modules must be on the host too, both for the initramfs and
# for modprobe inside the guest (which sees the host's /lib/modules).
if [ -n "${VM_KERNEL:-}" ]; then
	case $VM_KERNEL in
	*/*) kernel=$VM_KERNEL kver=${VM_KERNEL##*/vmlinuz-} ;;
	*) kernel=/boot/vmlinuz-$VM_KERNEL kver=$VM_KERNEL ;;
	esac
	[ -r "$kernel" ] || die "VM_KERNEL: cannot read $kernel"
else
	kernel='' kver=''
	while read -r k; do
		if [ -r "$k" ] && [ -d "/lib/modules/${k#/boot/vmlinuz-}" ]; then
			kernel=$k kver=${k#/boot/vmlinuz-}
			break
		fi
	done < <(printf '%s\n' /boot/vmlinuz-* | sort -rV)
	[ -n "$kernel" ] || die "no /boot/vmlinuz-* with matching /lib/modules: $install_hint"
fi
[ -d "/lib/modules/$kver" ] || die "no /lib/modules/$kver for $kernel"

if [ $# -eq 0 ]; then
	set -- bats tests/
fi

# --- From here on, everything we create is undone by cleanup(). ---
tmp='' qpid=''
# shellcheck disable=SC2317 # (called from traps)
stop_qemu() {
	[ -n "$qpid" ] || return 0
	kill -TERM "$qpid" 2>/dev/null || true
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || true
	qpid=
}
# shellcheck disable=SC2317
cleanup() {
	stop_qemu
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "$prog: interrupted" >&2; exit 130' INT
trap 'echo "$prog: terminated" >&2; exit 143' TERM
trap 'exit 129' HUP
tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-in-vm.XXXXXX")

# --- The initramfs: static busybox, our two stages, the modules, and the
# command (in files, NUL-separated, so any argument survives intact). ---
initrd=$tmp/root
mkdir -p "$initrd"/{bin,dev,proc,sys,modules,vm}
cp "$busybox" "$initrd/bin/busybox"
install -m 755 "$here/init.sh" "$initrd/init"
install -m 755 "$here/guest.sh" "$initrd/vm/guest.sh"

# Order matters: insmod does no dependency resolution, so take modprobe's.
declare -A seen=()
for mod in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev \
	virtio_pci 9pnet 9pnet_virtio netfs fscache 9p overlay; do
	deps=$(modprobe -S "$kver" --show-depends "$mod") ||
		die "module $mod not found for kernel $kver"
	while read -r verb path _; do
		[ "$verb" = insmod ] || continue # "builtin ..." needs nothing
		[ -z "${seen[$path]:-}" ] || continue
		seen[$path]=1
		name=${path##*/}
		# busybox insmod cannot be relied on to decompress: do it here.
		case $name in
		*.ko) cp "$path" "$initrd/modules/$name" ;;
		*.ko.xz) xz -dc "$path" >"$initrd/modules/${name%.xz}" ;;
		*.ko.zst) zstd -qdc "$path" >"$initrd/modules/${name%.zst}" ;;
		*.ko.gz) gzip -dc "$path" >"$initrd/modules/${name%.gz}" ;;
		*) die "unexpected module file $path" ;;
		esac
		echo "${name%.ko*}.ko" >>"$initrd/modules/modules.list"
	done <<<"$deps"
done

# A per-run secret in the marker lines, so no output of the command can fake
# the exit status.
nonce=$(printf '%08x%08x%08x' "$SRANDOM" "$SRANDOM" "$SRANDOM")
printf '%s' "$nonce" >"$initrd/vm/nonce"
printf '%s\0' "$@" >"$initrd/vm/cmd"
printf '%s' "$repo" >"$initrd/vm/cwd"
printf '%s' "$cache9p" >"$initrd/vm/cache9p"
[ -z "$shell" ] || stty size >"$initrd/vm/shell"	# the guest's console gets our size
{
	printf 'TERM=%s\0' "${TERM:-xterm}"
	[ -z "${CI:-}" ] || printf 'CI=%s\0' "$CI"
} >"$initrd/vm/env"
(cd "$initrd" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$tmp/initrd.cpio"

# quiet + a low loglevel keep kernel chatter (e.g. OOM-kill reports, which
# the tests provoke on purpose) out of the command's output; panic=-1 with
# qemu's -no-reboot turns a guest panic into a prompt qemu exit.
append="console=ttyS0 panic=-1 rdinit=/init"
if [ -n "${VM_DEBUG:-}" ]; then
	append+=" ignore_loglevel"
else
	append+=" quiet loglevel=1"
fi

if [ -n "$shell" ]; then
	echo "$prog: booting $kernel ($accel_opt, -cpu $cpu, $smp vCPUs, 9p cache=$cache9p, ${mem} MiB) for a shell" >&2
	# The console is this terminal (qemu makes it raw and restores it);
	# signal=off: Ctrl-C goes to the guest's foreground program, not to qemu.
	qrc=0
	qemu-system-x86_64 \
		-nodefaults -no-user-config -display none -no-reboot \
		-accel "$accel_opt" -cpu "$cpu" -smp "$smp" -m "$mem" -nic none \
		-kernel "$kernel" -initrd "$tmp/initrd.cpio" -append "$append" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
		-chardev stdio,id=console,signal=off -serial chardev:console || qrc=$?
	echo "$prog: the VM is gone (qemu exit $qrc); nothing of it is left on this host" >&2
	exit "$qrc"
fi
echo "$prog: booting $kernel ($accel_opt, -cpu $cpu, $smp vCPUs, 9p cache=$cache9p, ${mem} MiB, timeout ${timeout_s} s)" >&2
start=${EPOCHREALTIME/./}
# The serial console goes to qemu's stdout, which we read line by line.
# The outer timeout is only a backstop in case this script is SIGKILLed
# (VM_TIMEOUT itself is enforced below); it passes our SIGTERM on to qemu.
exec {console}< <(exec timeout -s KILL $((timeout_s + 60)) qemu-system-x86_64 \
	-nodefaults -no-user-config -display none -no-reboot \
	-accel "$accel_opt" -cpu "$cpu" -smp "$smp" -m "$mem" -nic none \
	-kernel "$kernel" -initrd "$tmp/initrd.cpio" -append "$append" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
	-serial file:/dev/stdout </dev/null)
qpid=$!

# Pass the command's output through as it comes; swallow our two markers.
status=
handle() {
	local line=${1%$'\r'} prefix now
	# After the status only the guest's own shutdown can speak.
	[ -z "$status" ] || return 0
	case $line in
	*"VM-READY-$nonce"*)
		now=${EPOCHREALTIME/./}
		printf '%s: guest ready after %d.%d s; running: %s\n' "$prog" \
			$(((now - start) / 1000000)) $(((now - start) / 100000 % 10)) \
			"${cmd[*]@Q}" >&2
		;;
	*"VM-EXIT-STATUS-$nonce="*)
		# Output without a final newline shares the marker's line.
		prefix=${line%%"VM-EXIT-STATUS-$nonce="*}
		if [ -n "$prefix" ]; then printf '%s\n' "$prefix"; fi
		status=${line##*=}
		;;
	*) printf '%s\n' "$line" ;;
	esac
}
cmd=("$@")
deadline=$((SECONDS + timeout_s))
while :; do
	left=$((deadline - SECONDS))
	rc=0
	((left > 0)) && IFS= read -r -t "$left" -u "$console" line || rc=$?
	if ((rc == 0)); then
		handle "$line"
	elif ((rc > 128 || left <= 0)); then
		stop_qemu
		echo "$prog: TIMEOUT: guest still running after ${timeout_s} s (VM_TIMEOUT); killed it" >&2
		exit 124
	else # EOF: qemu has exited
		[ -z "$line" ] || handle "$line"
		break
	fi
done

qrc=0
wait "$qpid" || qrc=$?
qpid=
now=${EPOCHREALTIME/./}
if [[ ! $status =~ ^[0-9]+$ ]]; then
	echo "$prog: the guest did not report an exit status (qemu exit $qrc); rerun with VM_DEBUG=1 to see the kernel log" >&2
	exit 125
fi
printf '%s: command exited with status %d; %d.%d s in all\n' "$prog" "$status" \
	$(((now - start) / 1000000)) $(((now - start) / 100000 % 10)) >&2
exit "$status"
