#!/usr/bin/env bash
# Remove what crashed workshop runs left behind: our cgroups
# (/sys/fs/cgroup/workshop/ws-*, and /sys/fs/cgroup/ws-* of older versions),
# our host veths (ws-*), and mounts under the rootfs. Nothing else: the
# cgroups and veths of runs that are still going are skipped, and said so.
# WORKSHOP_ROOTFS: the rootfs whose mounts to remove (default: rootfs/ at the repo top).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
rootfs=${WORKSHOP_ROOTFS:-$repo/rootfs}
cgroup_root=/sys/fs/cgroup
PATH=$PATH:/usr/sbin:/sbin

if [ "$(id -u)" -ne 0 ]; then
	echo "reset.sh: must run as root (it removes cgroups, network interfaces and mounts): sudo make reset" >&2
	exit 1
fi

removed=0
failures=0
fail() {
	echo "reset.sh: $*" >&2
	failures=$((failures + 1))
}

# Kill everything in one cgroup and remove it; bounded so a stuck process
# (e.g. in uninterruptible sleep) is reported instead of hanging reset.
remove_cgroup() {
	local cg=$1 pid pids
	if [ -f "$cg/cgroup.freeze" ] && [ "$(cat "$cg/cgroup.freeze")" = 1 ]; then
		echo 0 >"$cg/cgroup.freeze" || true
	fi
	if [ -f "$cg/cgroup.kill" ]; then
		echo 1 >"$cg/cgroup.kill" || true
	else
		# Before 5.14: kill pid by pid, repeatedly, since they may fork meanwhile.
		# (cgroupfs files report size 0, so read them rather than test -s.)
		for _ in $(seq 50); do
			pids=$(cat "$cg/cgroup.procs" 2>/dev/null) || break
			[ -n "$pids" ] || break
			for pid in $pids; do
				kill -KILL "$pid" 2>/dev/null || true
			done
			sleep 0.1
		done
	fi
	for _ in $(seq 100); do
		grep -qx 'populated 0' "$cg/cgroup.events" 2>/dev/null && break
		sleep 0.1
	done
	if rmdir "$cg" 2>/dev/null; then
		echo "removed cgroup $cg"
		removed=$((removed + 1))
	else
		fail "could not remove cgroup $cg (still populated: $(tr '\n' ' ' <"$cg/cgroup.procs" 2>/dev/null))"
	fi
}

# Is PID a runtime of ours that still runs? A PID reused by another program
# is not. Prints the runtime's path.
runtime_alive() {
	local exe
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	exe=${exe% (deleted)} # rebuilt while it ran
	[[ $exe =~ /step0[1-9]_[a-z]+/run$ ]] || return 1
	echo "$exe"
}

skipped() {
	echo "skipped $1: its runtime (PID $2, $3) is still running"
}

# On hybrid or v1 hosts the runtime cannot have created any cgroups here.
if [ "$(stat -f -c %T "$cgroup_root" 2>/dev/null)" = cgroup2fs ]; then
	for top in "$cgroup_root"/workshop/ws-*/ "$cgroup_root"/ws-*/; do
		[ -d "$top" ] || continue
		top=${top%/}
		pid=${top##*/ws-}
		if [[ $pid =~ ^[0-9]+$ ]] && exe=$(runtime_alive "$pid"); then
			skipped "cgroup $top" "$pid" "$exe"
			continue
		fi
		# Children first: a container may have made cgroups of its own below.
		while read -r cg; do
			remove_cgroup "$cg"
		done < <(find "$top" -depth -type d)
	done
	# The parent goes once no run uses it (rmdir refuses while it has children).
	if [ -d "$cgroup_root/workshop" ] && rmdir "$cgroup_root/workshop" 2>/dev/null; then
		echo "removed cgroup $cgroup_root/workshop"
		removed=$((removed + 1))
	fi
fi

# Host ends of our veth pairs; deleting one end deletes the pair. The
# runtime names its own in the alias: "stepNN_x pid N".
while read -r name; do
	alias=$(cat "/sys/class/net/$name/ifalias" 2>/dev/null || true)
	if [[ $alias =~ ^step0[1-9]_[a-z]+\ pid\ ([0-9]+)$ ]] && exe=$(runtime_alive "${BASH_REMATCH[1]}"); then
		skipped "veth $name" "${BASH_REMATCH[1]}" "$exe"
	elif ip link del dev "$name" 2>/dev/null; then
		echo "removed veth $name"
		removed=$((removed + 1))
	elif ip link show dev "$name" >/dev/null 2>&1; then
		fail "could not remove veth $name"
	fi # else: it was the peer of one already deleted
done < <(ip -o link show type veth | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep '^ws-' || true)

# Mount points at or under the rootfs, deepest first.
# shellcheck source=infra/mounts.bash
source "$repo/infra/mounts.bash"
rootfs_real=$(realpath -m "$rootfs")
ours() {
	mounts_under "$rootfs_real" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-
}
declare -A stuck=()
for _ in $(seq 1000); do
	target=""
	while read -r m; do
		[ -z "${stuck[$m]:-}" ] || continue
		target=$m
		break
	done < <(ours)
	[ -n "$target" ] || break
	if umount -l "$target" 2>/dev/null; then
		echo "unmounted $target"
		removed=$((removed + 1))
	else
		stuck[$target]=1
		fail "could not unmount $target"
	fi
done

if [ "$failures" -gt 0 ]; then
	echo "reset.sh: $failures thing(s) could not be removed" >&2
	exit 1
fi
[ "$removed" -gt 0 ] || echo "nothing to clean"
