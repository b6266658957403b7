#!/usr/bin/env bash
# Check that this machine can run the workshop, and say how to fix what is missing.
# Exit 0 only when every needed check passes (! lines are advice, - not checked).
# WORKSHOP_ROOTFS: check this rootfs instead of rootfs/ at the repo top.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
rootfs=${WORKSHOP_ROOTFS:-$repo/rootfs}
# ip, modprobe live in sbin, which ordinary users' PATH often lacks.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	green=$'\e[32m' red=$'\e[31m' yellow=$'\e[33m' reset=$'\e[0m'
else
	green="" red="" yellow="" reset=""
fi

# This distribution's name for a package of infra/packages.sh, the one list.
pkg() {
	"$repo/infra/packages.sh" name "$1"
}

failed=() # needed checks that failed
is_root=0
[ "$(id -u)" -ne 0 ] || is_root=1

# row SYMBOL NAME TEXT [DETAIL...]: one aligned line, details indented below.
row() {
	local sym=$1 name=$2 text=$3 color
	shift 3
	case $sym in
	✓) color=$green ;;
	✗) color=$red ;;
	*) color=$yellow ;;
	esac
	printf '%s%s%s %-12s %s\n' "$color" "$sym" "$reset" "$name" "$text"
	local line
	for line in "$@"; do
		printf '  %-12s %s\n' "" "$line"
	done
}
ok() { row ✓ "$@"; }
bad() {
	failed+=("$1")
	row ✗ "$@"
}
# Recommended or optional: shown with its fix, but not a failure.
warn() { row ! "$@"; }
skipped() { row - "$1" "not checked: needs root"; }

check_root() {
	if [ "$is_root" -eq 1 ]; then
		ok root "running as root"
	else
		bad root "running as uid $(id -u): namespaces, mounts and cgroups need root" \
			"fix: sudo make doctor (and sudo for every step)"
	fi
}

check_kernel() {
	local rel major minor
	rel=$(uname -r)
	IFS=. read -r major minor _ <<<"$rel"
	minor=${minor%%[!0-9]*}
	if [ "$major" -lt 5 ] || { [ "$major" -eq 5 ] && [ "${minor:-0}" -lt 11 ]; }; then
		bad kernel "$rel: older than 5.11; every step closes inherited fds with close_range(CLOSE_RANGE_CLOEXEC) (5.11)" \
			"and starts the container with clone3 (5.3); step04 on with CLONE_INTO_CGROUP (5.7)" \
			"fix: a newer kernel, e.g. Ubuntu 22.04 or later; or: sudo make test-vm"
	elif [ "$major" -gt 5 ] || [ "${minor:-0}" -ge 14 ]; then
		ok kernel "$rel (>= 5.14: cgroup.kill stops a whole container at once)"
	else
		warn kernel "$rel: older than 5.14, no cgroup.kill; processes are killed one by one, which races with fork" \
			"fix (recommended): a newer kernel, e.g. sudo apt-get install $(pkg linux-image-amd64)"
	fi
}

check_namespaces() {
	if [ "$is_root" -ne 1 ]; then
		skipped namespaces
		return
	fi
	if unshare --pid --fork --mount --net --uts --ipc true 2>/dev/null; then
		ok namespaces "pid, mount, net, uts, ipc usable (unshare)"
		return
	fi
	local ns missing=()
	for ns in pid mount net uts ipc; do
		if [ "$ns" = pid ]; then
			unshare --pid --fork true 2>/dev/null || missing+=("$ns")
		else
			unshare "--$ns" true 2>/dev/null || missing+=("$ns")
		fi
	done
	bad namespaces "unshare fails for: ${missing[*]:-the combination}" \
		"fix: run on a VM or bare-metal host (not inside an unprivileged container)," \
		"     with a kernel built with CONFIG_{PID,UTS,IPC,NET}_NS; or: sudo make test-vm"
}

check_cgroup() {
	local fstype c missing=() why
	fstype=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null || echo none)
	if [ "$fstype" = cgroup2fs ]; then
		for c in memory cpu pids; do
			grep -qw "$c" /sys/fs/cgroup/cgroup.controllers 2>/dev/null || missing+=("$c")
		done
		if [ ${#missing[@]} -eq 0 ]; then
			ok "cgroup v2" "/sys/fs/cgroup is cgroup2 with memory, cpu, pids"
			return
		fi
		bad "cgroup v2" "cgroup2 at /sys/fs/cgroup lacks controllers: ${missing[*]}" \
			"means: steps 01-03 work here; steps 04-06 need these controllers" \
			"fix: they are held by a cgroup v1 mount or not built in; boot with kernel" \
			"     parameter cgroup_no_v1=all (GRUB_CMDLINE_LINUX in /etc/default/grub," \
			"     then: sudo update-grub && sudo reboot); or: sudo make test-vm"
		return
	fi
	if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		why="hybrid hierarchy: v1 controllers, v2 only at /sys/fs/cgroup/unified without controllers"
	else
		why="legacy cgroup v1 hierarchy (/sys/fs/cgroup is $fstype)"
	fi
	bad "cgroup v2" "$why" \
		"means: steps 01-03 work here; steps 04-06 need cgroup v2 (memory, cpu, pids)" \
		"fix: add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub," \
		"     then: sudo update-grub && sudo reboot" \
		"or:  sudo make test-vm (runs the tests in a VM with cgroup v2)"
}

check_veth() {
	local fix
	fix="fix: sudo modprobe veth (module missing: the kernel needs CONFIG_VETH, e.g. sudo apt-get install $(pkg linux-image-amd64))"
	if [ "$is_root" -eq 1 ]; then
		# The real test, in a throwaway network namespace so the host is untouched.
		if unshare --net ip link add wsdoc0 type veth peer name wsdoc1 2>/dev/null; then
			ok veth "veth pairs can be created"
		else
			bad veth "cannot create a veth pair (ip link add ... type veth)" "$fix"
		fi
		return
	fi
	local config
	for config in /proc/config.gz "/boot/config-$(uname -r)"; do
		[ -r "$config" ] || continue
		if zgrep -q '^CONFIG_VETH=[ym]' "$config" 2>/dev/null; then
			ok veth "kernel has CONFIG_VETH ($config)"
			return
		fi
	done
	if [ -d /sys/module/veth ] || modprobe -n veth 2>/dev/null; then
		ok veth "veth module available"
		return
	fi
	skipped veth
}

check_tools() {
	if command -v gcc >/dev/null || command -v clang >/dev/null || command -v cc >/dev/null; then
		ok cc "$(command -v gcc || command -v clang || command -v cc)"
	else
		bad cc "no C compiler (gcc, clang, cc)" "fix: sudo apt-get install $(pkg gcc) $(pkg libc6-dev)"
	fi
	local tool pkg
	for tool in make:make ip:iproute2 bats:bats; do
		pkg=${tool#*:} tool=${tool%%:*}
		if command -v "$tool" >/dev/null; then
			ok "$tool" "$(command -v "$tool")"
		else
			bad "$tool" "not found" "fix: sudo apt-get install $(pkg "$pkg")"
		fi
	done
	if command -v podman >/dev/null; then
		ok "podman" "$(command -v podman) (rootfs.sh --from podman)"
	elif [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
		ok "busybox" "/bin/busybox, static (rootfs.sh --from busybox)"
	else
		bad "podman" "neither podman nor a static /bin/busybox to build the rootfs" \
			"fix: sudo apt-get install $(pkg busybox-static) (offline) or $(pkg podman)"
	fi
	if command -v tmux >/dev/null; then
		ok tmux "$(command -v tmux) (optional)"
	else
		warn tmux "not found (optional: split-screen demos)" "fix: sudo apt-get install $(pkg tmux)"
	fi
}

check_rootfs() {
	local fix="fix: sudo make rootfs (or: sudo $repo/rootfs.sh)"
	[ -z "${WORKSHOP_ROOTFS:-}" ] || fix="fix: sudo $repo/rootfs.sh $rootfs"
	if [ ! -e "$rootfs/bin/sh" ] && [ ! -L "$rootfs/bin/sh" ]; then
		bad rootfs "$rootfs/bin/sh missing" "$fix"
	elif [ ! -d "$rootfs/dev" ] || [ ! -d "$rootfs/proc" ]; then
		bad rootfs "$rootfs lacks dev/ or proc/ (the runtime mounts on them)" "$fix --force"
	else
		ok rootfs "$rootfs"
	fi
}

check_root
check_kernel
check_namespaces
check_cgroup
check_veth
check_tools
check_rootfs

# Which steps this host can run: 01-03 need the basics, 04 adds cgroup v2,
# 05-06 add veth.
has_failed() {
	local f want
	for f in "${failed[@]}"; do
		for want in "$@"; do
			[ "$f" != "$want" ] || return 0
		done
	done
	return 1
}
echo
if [ ${#failed[@]} -eq 0 ]; then
	echo "${green}all steps (01-06) work on this host${reset}"
	exit 0
fi
if has_failed root kernel namespaces cc make ip rootfs; then
	summary="no step works yet: fix the ✗ items above ($(printf '%s, ' "${failed[@]}" | sed 's/, $//'))"
elif has_failed "cgroup v2"; then
	summary="steps 01-03 work on this host; steps 04-06 need cgroup v2"
	! has_failed veth || summary+=" and veth"
elif has_failed veth; then
	summary="steps 01-04 work on this host; steps 05-06 need veth"
else
	summary="steps 01-06 work on this host"
fi
# Not needed by the steps themselves, but by the tests and the rootfs build.
for f in bats podman; do
	! has_failed "$f" || summary+="; missing $f"
done
echo "${red}${summary}${reset}"
exit 1
