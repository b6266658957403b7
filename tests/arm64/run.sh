#!/usr/bin/env bash
# The steps on aarch64, the CPU of Apple Silicon's Linux VMs: each step
# cross-compiled (static, -Wall -Wextra -Werror) and run in a throwaway
# qemu-system-aarch64 VM (TCG) that boots Debian's arm64 kernel with an
# initramfs and nothing else: Debian's arm64 busybox-static is the guest's
# userland and the container's rootfs. tests/arm64/guest.sh checks each
# step's core behaviour there and prints one TAP line for each.
#
#   sudo tests/arm64/run.sh        (sudo make test-arm64; .ci/run's arm64 stage)
#
# The kernel and busybox come from Debian's arm64 archive through an apt
# state of their own in a temporary directory (APT::Architecture=arm64), so
# the host's dpkg architectures and apt lists stay as they are.
#
# Environment:
#   ARM64_TIMEOUT  seconds before a hung guest is killed (default 900; exit 124)
#   ARM64_SUITE    the Debian suite to take them from (default bookworm)
#   ARM64_MIRROR   the Debian mirror (default http://deb.debian.org/debian)
set -euo pipefail

prog=test-arm64
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
timeout_s=${ARM64_TIMEOUT:-900}
suite=${ARM64_SUITE:-bookworm}
mirror=${ARM64_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

die() {
	echo "$prog: $*" >&2
	exit 2
}

[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "ARM64_TIMEOUT must be a number of seconds"
[ "$(id -u)" -eq 0 ] || die "run it as root (sudo make test-arm64): apt-get download writes as root"
hint="sudo make test-arm64 installs what is missing; or: $("$repo/infra/packages.sh" apt-line arm64)"
for tool in qemu-system-aarch64 aarch64-linux-gnu-gcc cpio apt-get dpkg-deb; do
	command -v "$tool" >/dev/null || die "$tool not found: $hint"
done
[ -r "$keyring" ] || die "no $keyring: Debian's archive key (package debian-archive-keyring) checks what is downloaded"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-arm64.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"	# apt's download user (_apt) writes there

# --- The steps, cross-compiled. Static: the guest has no C library. ---
initrd=$tmp/root
mkdir -p "$initrd"/{bin,lib/modules,ws/rootfs}
for main in "$repo"/step0[1-9]_*/main.c; do
	step=$(basename "$(dirname "$main")")
	mkdir "$initrd/ws/$step"
	aarch64-linux-gnu-gcc -static -O2 -g0 -Wall -Wextra -Werror -o "$initrd/ws/$step/run" "$main" ||
		die "$step does not build for aarch64 without warnings"
done

# --- Debian's arm64 kernel and busybox, through an apt state of our own. ---
apt_dir=$tmp/apt
mkdir -p "$apt_dir"/{lists/partial,cache/archives/partial,parts}
echo "deb [signed-by=$keyring] $mirror $suite main" >"$apt_dir/sources.list"
apt_opts=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64
	-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts="$apt_dir/parts"
	-o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" -o Dir::State::status=/dev/null)
apt-get "${apt_opts[@]}" -qq update || die "apt-get update for arm64 ($mirror $suite) failed"
kpkg=$(apt-cache "${apt_opts[@]}" depends linux-image-arm64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-arm64\)$/\1/p' | head -n 1)
[ -n "$kpkg" ] || die "no kernel package behind linux-image-arm64 in $suite"
(cd "$tmp" && apt-get "${apt_opts[@]}" -qq download "$kpkg" busybox-static) 2>&1 |
	grep -v 'Download is performed unsandboxed' >&2 || true
for deb in "$tmp/$kpkg"_*.deb "$tmp"/busybox-static_*.deb; do
	[ -f "$deb" ] || die "apt-get download did not fetch $deb"
done
dpkg-deb -x "$tmp/$kpkg"_*.deb "$tmp/kernel"
dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/busybox"
kernel=$(printf '%s\n' "$tmp"/kernel/boot/vmlinuz-*)
[ -f "$kernel" ] || die "no /boot/vmlinuz-* in $kpkg"
kver=${kernel##*/vmlinuz-}
# veth is a module in Debian's kernel, with no others it depends on.
veth=$tmp/kernel/lib/modules/$kver/kernel/drivers/net/veth.ko
[ -f "$veth" ] || die "no veth.ko in $kpkg"
cp "$veth" "$initrd/lib/modules/"
cp "$tmp"/busybox/bin/busybox "$initrd/bin/busybox"
install -m 755 "$here/guest.sh" "$initrd/init"
(cd "$initrd" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$tmp/initrd.cpio"

# --- Boot it; the guest's console is our stdout. ---
# quiet + a low loglevel keep kernel chatter (the OOM kill step04 provokes)
# out of the results; panic=-1 with -no-reboot turns a guest panic into a
# prompt qemu exit. cortex-a72: -cpu max adds pointer authentication, whose
# emulation makes TCG several times slower.
echo "$prog: booting Debian's $kver (qemu-system-aarch64, TCG, cortex-a72, 2 vCPUs, 1024 MiB, timeout $timeout_s s)" >&2
start=$SECONDS
rc=0
timeout -s KILL "$timeout_s" qemu-system-aarch64 \
	-nodefaults -no-user-config -display none -no-reboot \
	-M virt -accel tcg -cpu cortex-a72 -smp 2 -m 1024 -nic none \
	-kernel "$kernel" -initrd "$tmp/initrd.cpio" \
	-append "console=ttyAMA0 panic=-1 rdinit=/init quiet loglevel=1" \
	-serial file:/dev/stdout </dev/null | tr -d '\r' | tee "$tmp/console" || rc=$?
((rc == 0)) || {
	echo "$prog: TIMEOUT or qemu failure (status $rc) after $((SECONDS - start)) s" >&2
	exit 124
}
status=$(sed -n 's/^arm64-guest: exit status \([0-9]*\)$/\1/p' "$tmp/console")
[ -n "$status" ] || die "the guest did not report an exit status (after $((SECONDS - start)) s)"
echo "$prog: guest exit status $status, $((SECONDS - start)) s from boot" >&2
exit "$status"
