#!/usr/bin/env bash
# What the workshop's chapters and crashed runs left on this host, chapter by
# chapter: `sudo make status` lists it (reset.sh --status), `sudo make reset`
# removes it and says what it removed. Only what the document or a runtime
# makes, and nothing that is still in use:
#   4    an orphaned `sleep 1000` that is PID 1 of its own PID namespace
#        (Ctrl-C in 4.3 kills unshare, not the sleep)
#   5    rootfs/oldroot (empty) and mounts at or under the rootfs
#   7/E  /sys/fs/cgroup/workshop/demo (and its child), when no process is in it
#   8    veth-host/veth-ctr when both ends are still on the host
#   9    the runtimes' cgroups (/sys/fs/cgroup/workshop/ws-*, and
#        /sys/fs/cgroup/ws-* of older versions) and host veths (ws-*)
# "In use" is what the host kernel says, not a name or a program's path: a
# cgroup is a live run's while a process in it has a parent outside it that
# has not died (the parent is not PID 1 nor a systemd that reaped the
# orphan); a veth is in use while its other
# end is in another network namespace (the kernel deletes the pair with it).
# A leftover that vanishes meanwhile (a run ending) is not an error.
# Left as it is: the controllers a run enabled in the root's
# cgroup.subtree_control (who enabled them is not recorded, and others may
# use them; enabled, they limit nothing).
# WORKSHOP_ROOTFS: the rootfs whose mounts to remove (default: rootfs/ at the repo top).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
rootfs=${WORKSHOP_ROOTFS:-$repo/rootfs}
cgroup_root=/sys/fs/cgroup
PATH=$PATH:/usr/sbin:/sbin
status_only=0
[ "${1:-}" != --status ] || status_only=1

if [ "$(id -u)" -ne 0 ]; then
	if [ "$status_only" -eq 1 ]; then
		echo "reset.sh: must run as root (it reads every process and cgroup): sudo make status" >&2
	else
		echo "reset.sh: must run as root (it removes cgroups, network interfaces and mounts): sudo make reset" >&2
	fi
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
	elif [ -d "$cg" ]; then
		fail "could not remove cgroup $cg (still populated: $(tr '\n' ' ' <"$cg/cgroup.procs" 2>/dev/null))"
	fi # else: gone meanwhile (its run removed it)
}

# found CHAPTER WHAT: list it (status) or say it is about to go (reset).
listed=0
found() {
	listed=$((listed + 1))
	[ "$status_only" -eq 0 ] || echo "chapter $1: $2"
}

# A cgroup tree in use: some process in it has a living parent outside the
# tree that is not PID 1 (a dead runtime's container is reparented to PID 1).
# Prints "PID N (parent PID M, COMM)".
tree_in_use() {
	local top=$1 cg pid ppid
	while read -r cg; do
		while read -r pid; do
			ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
			if [ -z "$ppid" ] || [ "$ppid" -le 1 ]; then
				continue
			fi
			# The parent inside the same tree: not the run's own parent.
			grep -q "^0::${top#"$cgroup_root"}\(/\|$\)" "/proc/$ppid/cgroup" 2>/dev/null && continue
			[ -d "/proc/$ppid" ] || continue
			# Reparented to a subreaper (systemd --user on desktops): orphaned too.
			[ "$(cat "/proc/$ppid/comm" 2>/dev/null)" != systemd ] || continue
			echo "PID $pid (parent PID $ppid, $(cat "/proc/$ppid/comm" 2>/dev/null))"
			return 0
		done < <(cat "$cg/cgroup.procs" 2>/dev/null)
	done < <(find "$top" -depth -type d 2>/dev/null)
	return 1
}

skipped() {
	echo "skipped $1: still in use: $2"
}

# Chapter 4: `sudo unshare --pid sh -c 'sleep 1000 & wait'` stopped with
# Ctrl-C leaves the sleep, PID 1 of its PID namespace, reparented to PID 1.
for dir in /proc/[0-9]*; do
	pid=${dir#/proc/}
	[ "$({ tr '\0' ' ' <"$dir/cmdline"; } 2>/dev/null)" = "sleep 1000 " ] || continue
	nspid=$(awk '/^NSpid:/ { $1 = ""; print }' "$dir/status" 2>/dev/null) || continue
	# shellcheck disable=SC2086 # split the PIDs
	set -- $nspid
	if [ $# -lt 2 ] || [ "${!#}" != 1 ]; then
		continue
	fi
	[ "$(awk '/^PPid:/ { print $2 }' "$dir/status" 2>/dev/null)" = 1 ] || continue
	found 4 "orphaned sleep 1000, PID $pid (PID 1 of its own PID namespace)"
	[ "$status_only" -eq 0 ] || continue
	if kill -KILL "$pid" 2>/dev/null; then
		echo "killed orphaned sleep 1000 (PID $pid, PID 1 of its own PID namespace)"
		removed=$((removed + 1))
	elif [ -d "$dir" ]; then
		fail "could not kill PID $pid"
	fi
done

# On hybrid or v1 hosts neither the runtime nor chapter 7 can have created cgroups here.
killed_cgroup=0
if [ "$(stat -f -c %T "$cgroup_root" 2>/dev/null)" = cgroup2fs ]; then
	for top in "$cgroup_root"/workshop/ws-*/ "$cgroup_root"/ws-*/ "$cgroup_root"/workshop/demo/; do
		[ -d "$top" ] || continue
		top=${top%/}
		chapter=9
		[ "${top##*/}" != demo ] || chapter=7
		if user=$(tree_in_use "$top"); then
			if [ "$status_only" -eq 1 ]; then
				echo "chapter $chapter: cgroup $top is in use ($user): not a leftover"
			else
				skipped "cgroup $top" "$user"
			fi
			continue
		fi
		found "$chapter" "cgroup $top"
		[ "$status_only" -eq 0 ] || continue
		killed_cgroup=1
		# Children first: a container may have made cgroups of its own below
		# (16 levels at most, the runtime's cgroup.max.depth, so full paths stay
		# short; root in a step04/05 container can lift that bound, and a path
		# past PATH_MAX then fails here and is reported).
		while read -r cg; do
			remove_cgroup "$cg"
		done < <(find "$top" -depth -type d 2>/dev/null)
	done
	# The parent goes once nothing uses it (rmdir refuses while it has children).
	if [ -d "$cgroup_root/workshop" ] && [ -z "$(find "$cgroup_root/workshop" -mindepth 1 -maxdepth 1 -type d)" ]; then
		found 7 "cgroup $cgroup_root/workshop (empty)"
		if [ "$status_only" -eq 0 ] && rmdir "$cgroup_root/workshop" 2>/dev/null; then
			echo "removed cgroup $cgroup_root/workshop"
			removed=$((removed + 1))
		fi
	fi
fi

# A killed container's network namespace goes asynchronously, and its veth
# pair with it: give it a moment before looking at the veths.
if [ "$killed_cgroup" -eq 1 ]; then
	for _ in $(seq 20); do
		ip -o link show type veth | grep -q ' ws-[^:]*@if[0-9]*:' || break
		sleep 0.1
	done
fi

# Host veths of chapter 8 (veth-host, veth-ctr) and of the runtimes (ws-*);
# deleting one end deletes the pair. In use while the other end is in
# another network namespace ("link-netnsid": the kernel keeps the pair as
# long as that namespace lives).
while read -r name netns; do
	chapter=9
	case $name in
	veth-host | veth-ctr) chapter=8 ;;
	ws-*) ;;
	*) continue ;;
	esac
	if [ "$netns" = other ]; then
		if [ "$status_only" -eq 1 ]; then
			echo "chapter $chapter: veth $name is in use (its other end is in a live network namespace): not a leftover"
		else
			skipped "veth $name" "its other end is in a live network namespace"
		fi
		continue
	fi
	found "$chapter" "veth $name"
	[ "$status_only" -eq 0 ] || continue
	if ip link del dev "$name" 2>/dev/null; then
		echo "removed veth $name"
		removed=$((removed + 1))
	elif ip link show dev "$name" >/dev/null 2>&1; then
		fail "could not remove veth $name"
	fi # else: it was the peer of one already deleted
done < <(ip -o -d link show type veth | awk -F': ' '{ n = $2; sub(/@.*/, "", n); print n, ($0 ~ / link-netnsid [0-9]+/ ? "other" : "here") }' || true)

# Chapter 5: pivot_root's PUT_OLD, left when the chapter was not finished.
if [ -d "$rootfs/oldroot" ] && ! mountpoint -q "$rootfs/oldroot" && [ -z "$(ls -A "$rootfs/oldroot" 2>/dev/null)" ]; then
	found 5 "empty directory $rootfs/oldroot"
	if [ "$status_only" -eq 0 ]; then
		if rmdir "$rootfs/oldroot" 2>/dev/null; then
			echo "removed directory $rootfs/oldroot"
			removed=$((removed + 1))
		elif [ -d "$rootfs/oldroot" ]; then
			fail "could not remove $rootfs/oldroot"
		fi
	fi
fi

# Mount points at or under the rootfs, deepest first.
# shellcheck source=infra/mounts.bash
source "$repo/infra/mounts.bash"
rootfs_real=$(realpath -m "$rootfs")
ours() {
	mounts_under "$rootfs_real" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-
}
if [ "$status_only" -eq 1 ]; then
	while read -r m; do
		found 5 "mount $m"
	done < <(ours)
	[ "$listed" -gt 0 ] || echo "nothing left by the workshop"
	exit 0
fi
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
	elif ! mountpoint -q "$target"; then
		: # gone meanwhile
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
