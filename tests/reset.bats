#!/usr/bin/env bats
# infra/reset.sh: removes our leftover veths, mounts and cgroups, and nothing else.
#
# reset.sh runs in a throwaway network + mount namespace (see sandbox) with a
# scratch rootfs, so it can never remove another run's interfaces or mounts on
# a shared host, and whatever a failed test made disappears with the namespace.
# Cgroups cannot be sandboxed that way: that test uses the real cgroup root.

# Single-quoted scripts are meant for the inner shells that run them.
# shellcheck disable=SC2016

load helpers
load nobody

setup() {
	require_root
	SCRATCH="$BATS_TEST_TMPDIR/scratch"
	WORKSHOP_ROOTFS="$SCRATCH/rootfs"
	RESET="$REPO/infra/reset.sh"
	export SCRATCH WORKSHOP_ROOTFS RESET
	mkdir -p "$WORKSHOP_ROOTFS"/{dev,proc,tmp}
	CGROUP=""
	SLEEP_PID=""
}

teardown() {
	stop_container
	if [ -n "$SLEEP_PID" ]; then
		kill -KILL "$SLEEP_PID" 2>/dev/null || true
		wait "$SLEEP_PID" 2>/dev/null || true
	fi
	if [ -n "$CGROUP" ] && [ -d "$CGROUP" ]; then
		rmdir "$CGROUP" || true
	fi
}

# Run a bash script in fresh network and (private) mount namespaces.
sandbox() {
	unshare --net --mount -- bash -euo pipefail -c "$1"
}

@test "needs root, and says so" {
	run -1 as_nobody "$RESET"
	[[ $output == *"must run as root"*"sudo make reset"* ]]
}

@test "on a clean machine: nothing to clean, twice" {
	run -0 sandbox '"$RESET"; echo "## again"; "$RESET"'
	[ "${lines[0]}" = "nothing to clean" ]
	[ "${lines[1]}" = "## again" ]
	[ "${lines[2]}" = "nothing to clean" ]
	[ "${#lines[@]}" -eq 3 ]
}

@test "removes a leftover ws- veth, keeps an unrelated veth and a non-veth ws- link" {
	run -0 sandbox '
		ip link add ws-10.199.9 type veth peer name wstmp0
		ip link add other0 type veth peer name other1
		ip link add ws-br0 type bridge
		"$RESET"
		echo "## links left"
		ip -o link show | cut -d" " -f2
		echo "## again"
		"$RESET"'
	[ "${lines[0]}" = "removed veth ws-10.199.9" ]
	[ "${lines[1]}" = "## links left" ]
	local left=${output#*"## links left"}
	left=${left%"## again"*}
	[[ $left != *ws-10.199.9* && $left != *wstmp0* ]]
	[[ $left == *other0@other1:* && $left == *other1@other0:* ]]
	[[ $left == *ws-br0:* ]]
	[ "${lines[-1]}" = "nothing to clean" ]
}

@test "unmounts leftover mounts under the rootfs, deepest first, and no others" {
	run -0 sandbox '
		R=$WORKSHOP_ROOTFS
		mkdir "$SCRATCH/src" "${R}2"
		mount -t tmpfs ws-test "$SCRATCH/src"
		mount --bind "$SCRATCH/src" "$R/tmp"
		mount -t tmpfs ws-test "$R/dev"
		mkdir "$R/dev/shm"
		mount -t tmpfs ws-test "$R/dev/shm"
		mount -t proc proc "$R/proc"
		mount -t tmpfs ws-test "${R}2"   # same prefix, not under the rootfs
		"$RESET"
		echo "## mounts left"
		awk "{ print \$5 }" /proc/self/mountinfo | grep "^$SCRATCH" || true'
	local R=$WORKSHOP_ROOTFS
	[ "${lines[0]}" = "unmounted $R/dev/shm" ]
	[[ $output == *"unmounted $R/dev"$'\n'* ]]
	[[ $output == *"unmounted $R/proc"* ]]
	[[ $output == *"unmounted $R/tmp"* ]]
	local left=${output#*"## mounts left"}
	[ "$left" = $'\n'"$SCRATCH/src"$'\n'"${R}2" ]
}

@test "handles a rootfs path with a space (escaped in mountinfo)" {
	export WORKSHOP_ROOTFS="$SCRATCH/my rootfs"
	mkdir -p "$WORKSHOP_ROOTFS/proc"
	run -0 sandbox '
		mount -t proc proc "$WORKSHOP_ROOTFS/proc"
		"$RESET"
		grep -c "my\\\\040rootfs" /proc/self/mountinfo || true'
	[ "${lines[0]}" = "unmounted $WORKSHOP_ROOTFS/proc" ]
	[ "${lines[1]}" = 0 ]
}

@test "kills and removes a leftover cgroup" {
	require_cgroup_v2
	CGROUP=/sys/fs/cgroup/ws-999999
	mkdir "$CGROUP"
	sleep 1000 3>&- &
	SLEEP_PID=$!
	echo "$SLEEP_PID" >"$CGROUP/cgroup.procs"
	run -0 sandbox '"$RESET"'
	[[ $output == *"removed cgroup $CGROUP"* ]]
	[ ! -e "$CGROUP" ]
	local rc=0
	wait "$SLEEP_PID" || rc=$?
	SLEEP_PID=""
	[ "$rc" -eq 137 ] # SIGKILL
}

@test "kills and removes a leftover cgroup under workshop, children first, then workshop" {
	require_cgroup_v2
	CGROUP=/sys/fs/cgroup/workshop/ws-999998
	mkdir -p "$CGROUP/inner"
	sleep 1000 3>&- &
	SLEEP_PID=$!
	echo "$SLEEP_PID" >"$CGROUP/inner/cgroup.procs"
	run -0 sandbox '"$RESET"'
	[[ $output == *"removed cgroup $CGROUP/inner"*"removed cgroup $CGROUP"*"removed cgroup /sys/fs/cgroup/workshop"* ]]
	[ ! -e /sys/fs/cgroup/workshop ]
	local rc=0
	wait "$SLEEP_PID" || rc=$?
	SLEEP_PID=""
	[ "$rc" -eq 137 ]
}

@test "skips the cgroup and veth of a run that is still going, and says so" {
	require_cgroup_v2
	start_container sleep "$REPO/step05_veth/run" sleep 1000
	# Not in the sandbox: the veth lives in this network namespace.
	run -0 "$RESET"
	echo "$output"
	[[ $output == *"skipped cgroup /sys/fs/cgroup/workshop/ws-$RUNTIME_PID: its runtime (PID $RUNTIME_PID, $REPO/step05_veth/run) is still running"* ]]
	[[ $output == *"skipped veth ws-10.200.0: its runtime (PID $RUNTIME_PID, $REPO/step05_veth/run) is still running"* ]]
	kill -0 "$CONTAINER_PID"
	[ -d "/sys/fs/cgroup/workshop/ws-$RUNTIME_PID" ]
	ip link show ws-10.200.0 >/dev/null
	stop_container
}
