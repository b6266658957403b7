#!/usr/bin/env bash
# The workshop's one package list, and the installer that `sudo make run`,
# `make test`, `make test-vm`, `make test-doc`, `make deps` and .ci/run use.
# README.md, the document's 前提条件, `make doctor` and tests/vm name packages
# from here; tests/deps.bats fails when one of them names a package that this
# list does not have.
#
#   infra/packages.sh install [--label LABEL] GOAL...
#       install, with apt-get, the packages GOALs need and this machine lacks;
#       say which and why; do nothing when nothing is missing
#   infra/packages.sh missing GOAL...   the missing ones, one a line
#   infra/packages.sh list GOAL...      all that GOALs need, one a line
#   infra/packages.sh apt-line GOAL...  the `sudo apt-get install -y ...` line
#   infra/packages.sh name PACKAGE      this distribution's name for PACKAGE
#   infra/packages.sh names             every name the list has (any distribution)
#   infra/packages.sh goals             the goals
#
# Names follow the distribution in /etc/os-release (WORKSHOP_OS_RELEASE:
# another file): Debian's, or Ubuntu's where they differ; derivatives go by
# ID_LIKE. On any other distribution `install` lists what is missing and
# calls no apt-get. A package counts as present when what it provides is
# there (a command, a file), so tools installed some other way count too.
set -euo pipefail

prog=packages.sh

# One package a line:
#   Debian's name; Ubuntu's name (= the same); - where not needed (Ubuntu's
#   kernel modules are .ko.zst, Debian's plain .ko);
#   the goals that need it (comma-separated); how to see it is present
#   (cmd:NAME a command, glob:PATTERN a file, or a check below); why.
# The kernel counts as present when any kernel with its modules is in /boot
# (on Ubuntu also linux-image-virtual, -kvm, ...); it installs Ubuntu's
# linux-image-generic only when there is none.
read -r -d '' TABLE <<'EOF' || true
make               =                    build        cmd:make            build
gcc                =                    build        cmd:gcc             build
libc6-dev          =                    build        glob:/usr/lib/*/libc.a  build
busybox-static     =                    rootfs,vm    busybox             rootfs
podman             =                    rootfs       cmd:podman          rootfs
clang              =                    test         cmd:clang           clang build check
bats               =                    test,doc     cmd:bats            test runner
iproute2           =                    test,doc     cmd:ip              ip command
procps             =                    test,doc     cmd:pgrep           ps and pgrep
util-linux         =                    test,doc     cmd:unshare         unshare and setpriv
tmux               =                    test,doc     cmd:tmux            terminal tests
wget               =                    test         cmd:wget            HTTP checks
strace             =                    test         cmd:strace          death-signal test
less               =                    test         cmd:less            make diff's pager test
curl               =                    doc          cmd:curl            HTTP checks
netcat-openbsd     =                    doc          cmd:nc              network checks
iputils-ping       =                    doc          cmd:ping            network checks
qemu-system-x86    =                    vm           cmd:qemu-system-x86_64  cgroup v2 VM
linux-image-amd64  linux-image-generic  vm           kernel              cgroup v2 VM
kmod               =                    vm           cmd:modprobe        cgroup v2 VM
cpio               =                    vm,arm64     cmd:cpio            cgroup v2 VM
-                  zstd                 vm           cmd:zstd            cgroup v2 VM
runc               =                    bench        cmd:runc            reference runtimes
crun               =                    bench        cmd:crun            reference runtimes
shellcheck         =                    lint         cmd:shellcheck      lint
debootstrap        =                    ci           cmd:debootstrap     fresh-machine CI step
gcc-aarch64-linux-gnu =                 arm64        cmd:aarch64-linux-gnu-gcc  aarch64 build check
qemu-system-arm    =                    arm64        cmd:qemu-system-aarch64  aarch64 VM
sudo               =                    doc,ci       cmd:sudo            the README's and the document's commands
EOF
# (printf and read, not cat: every exec counts in the slow test VM.)
table() {
	printf '%s\n' "$TABLE"
}

# What each goal adds to others: make test needs all of make run, and so on.
declare -A includes=(
	[build]=""
	[rootfs]=""
	[run]="build rootfs"
	[test]="run"
	[vm]=""
	[test-vm]="test vm"
	[doc]="run"
	[test-doc]="doc vm"
	[bench]="run"
	[bench-vm]="bench vm"
	[lint]=""
	[arm64]=""
	[ci]="test-vm test-doc bench-vm lint arm64"
)

die() {
	echo "$prog: $*" >&2
	exit 2
}

# The distribution family: debian, ubuntu, or "unknown:ID".
family() {
	local file=${WORKSHOP_OS_RELEASE:-/etc/os-release} id like
	[ -r "$file" ] || {
		echo "unknown:(no $file)"
		return
	}
	# shellcheck disable=SC1090 # os-release is a shell fragment by definition
	read -r id like < <(ID='' ID_LIKE='' && . "$file" && echo "${ID:-none} ${ID_LIKE:-}")
	case " $id $like " in
	" ubuntu "*) echo ubuntu ;;
	" debian "*) echo debian ;;
	*" ubuntu "*) echo ubuntu ;;
	*" debian "*) echo debian ;;
	*) echo "unknown:$id" ;;
	esac
}

# The goals GOAL stands for, itself included, each once.
declare -A wanted=()
want() {
	local g
	for g in "$@"; do
		[ -n "${includes[$g]+x}" ] || die "unknown goal '$g' (goals: ${!includes[*]})"
		[ -z "${wanted[$g]:-}" ] || continue
		wanted[$g]=1
		# shellcheck disable=SC2086 # a list of goal names
		want ${includes[$g]}
	done
}

have_cmd() {
	PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin command -v "$1" >/dev/null 2>&1
}

present() {
	local check=$1 f
	case $check in
	cmd:*) have_cmd "${check#cmd:}" ;;
	glob:*)
		for f in ${check#glob:}; do
			[ -e "$f" ] && return 0
		done
		return 1
		;;
	# The initramfs of tests/vm and rootfs.sh's busybox tree need it static:
	# no program interpreter (what ldd looks at; grep is one exec, ldd three).
	busybox) [ -x /bin/busybox ] && ! LC_ALL=C grep -qaE -m1 '/lib(64)?/ld-(linux|musl)' /bin/busybox ;;
	# tests/vm boots the host's kernel: it needs one with its modules.
	kernel)
		for f in /boot/vmlinuz-*; do
			[ -r "$f" ] && [ -d "/lib/modules/${f#/boot/vmlinuz-}" ] && return 0
		done
		return 1
		;;
	*) die "bad check '$check' in the table" ;;
	esac
}

# Rows of the goals asked for, in this distribution's names:
# "NAME CHECK WHY" on each line.
rows() {
	local fam=$1 deb ubu goals check why name g
	while read -r deb ubu goals check why; do
		name=$deb
		if [ "$fam" = ubuntu ] && [ "$ubu" != = ]; then name=$ubu; fi
		[ "$name" != - ] || continue
		for g in ${goals//,/ }; do
			if [ -n "${wanted[$g]:-}" ]; then
				echo "$name $check $why"
				break
			fi
		done
	done < <(table)
}

cmd=${1:-}
[ $# -gt 0 ] && shift
label=""
if [ "$cmd" = install ] && [ "${1:-}" = --label ]; then
	[ $# -ge 2 ] || die "--label needs an argument"
	label=$2
	shift 2
fi

case $cmd in
names)
	table | awk '{ if ($1 != "-") print $1; if ($2 != "=" && $2 != "-") print $2 }' | sort -u
	exit 0
	;;
goals)
	printf '%s\n' "${!includes[@]}" | sort
	exit 0
	;;
name)
	[ $# -eq 1 ] || die "usage: $prog name PACKAGE"
	fam=$(family)
	while read -r deb ubu _; do
		[ "$deb" = "$1" ] || [ "$ubu" = "$1" ] || continue
		if [ "$fam" = ubuntu ] && [ "$ubu" != = ]; then echo "$ubu"; else echo "$deb"; fi
		exit 0
	done < <(table)
	die "no package '$1' in the list"
	;;
list | missing | apt-line | install) ;;
*) die "usage: $prog install|missing|list|apt-line GOAL... | name PACKAGE | names | goals" ;;
esac

[ $# -gt 0 ] || die "$cmd: which goals? (${!includes[*]})"
want "$@"
label=${label:-make $*}
fam=$(family)

all=() missing=() whys=()
while read -r name check why; do
	all+=("$name")
	if ! present "$check"; then
		missing+=("$name")
		whys+=("$why")
	fi
done < <(rows "$fam")

case $cmd in
list)
	printf '%s\n' "${all[@]}"
	exit 0
	;;
apt-line)
	echo "sudo apt-get install -y ${all[*]}"
	exit 0
	;;
missing)
	[ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}"
	exit 0
	;;
esac

# --- install ---
[ ${#missing[@]} -gt 0 ] || exit 0

# "gcc libc6-dev (build), busybox-static podman (rootfs)": grouped by why.
summary=""
for ((i = 0; i < ${#missing[@]}; i++)); do
	[ -n "${whys[i]}" ] || continue
	group=${missing[i]}
	for ((j = i + 1; j < ${#missing[@]}; j++)); do
		if [ "${whys[j]}" = "${whys[i]}" ]; then
			group+=" ${missing[j]}"
			whys[j]=""
		fi
	done
	summary+="${summary:+, }$group (${whys[i]})"
done

if [[ $fam == unknown:* ]] || ! have_cmd apt-get; then
	why="this is not Debian or Ubuntu (ID ${fam#unknown:})"
	[[ $fam == unknown:* ]] || why="there is no apt-get here"
	{
		echo "$label: missing: $summary"
		echo "$label: $why, so nothing was installed:"
		echo "  install the equivalent packages with this distribution's package manager (the names above are Debian's), then rerun"
	} >&2
	exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "$label: needs root, to install ${missing[*]} and to run: sudo $label" >&2
	exit 1
fi

echo "$label: installing $summary" >&2
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt (e.g. unattended-upgrades on a fresh Ubuntu) rather
# than fail on its lock. An update that fails leaves the old lists: install
# then fails too, with the message below.
apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
apt-get "${apt_opts[@]}" -qq update >/dev/null || true
if ! apt-get "${apt_opts[@]}" -qq -y install "${missing[@]}" >/dev/null; then
	{
		echo "$label: apt-get could not install ${missing[*]} (offline, or no package source reachable?)."
		echo "$label: stopped before building or changing anything else. When apt works, run:"
		echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
	} >&2
	exit 1
fi
# Say it when apt-get succeeded but something still is not there.
still=()
while read -r name check _; do
	present "$check" || still+=("$name")
done < <(rows "$fam")
if [ ${#still[@]} -gt 0 ]; then
	echo "$label: still missing after apt-get install: ${still[*]}" >&2
	exit 1
fi
