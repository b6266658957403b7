#!/usr/bin/env bats
# infra/reset.sh: removes our leftover veths, mounts and cgroups, and nothing else.
#
# reset.sh runs in a throwaway network + mount namespace (see sandbox) with a
# scratch rootfs, so it can never remove another run's interfaces or mounts on
# a shared host, and whatever a failed test made disappears with the namespace.
# Cgroups cannot be sandboxed that way: those tests use the real cgroup root,
# need cgroup v2 and are tagged vm (make test-ci-vm runs them in the VM).

# Single-quoted scripts are meant for the inner shells that run them.
# shellcheck disable=SC2016,SC2030,SC2031 # (and each test is a subshell: its exports stay in it)

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

# An orphan as a dead runtime leaves it: a sleep whose parent has exited, so
# that the kernel reparents it to PID 1. Prints its PID.
orphan_sleep() {
	bash -c 'sleep 1000 3>&- >/dev/null 2>&1 & echo $!'
}

# bats test_tags=vm
@test "kills and removes a leftover cgroup (its process orphaned: the runtime died)" {
	require_cgroup_v2
	CGROUP=/sys/fs/cgroup/ws-999999
	mkdir "$CGROUP"
	SLEEP_PID=$(orphan_sleep)
	echo "$SLEEP_PID" >"$CGROUP/cgroup.procs"
	run -0 sandbox '"$RESET"'
	[[ $output == *"removed cgroup $CGROUP"* ]]
	[ ! -e "$CGROUP" ]
	run ! kill -0 "$SLEEP_PID"
	SLEEP_PID=""
}

# bats test_tags=vm
@test "kills and removes a leftover cgroup under workshop, children first, then workshop" {
	require_cgroup_v2
	CGROUP=/sys/fs/cgroup/workshop/ws-999998
	mkdir -p "$CGROUP/inner"
	SLEEP_PID=$(orphan_sleep)
	echo "$SLEEP_PID" >"$CGROUP/inner/cgroup.procs"
	run -0 sandbox '"$RESET"'
	[[ $output == *"removed cgroup $CGROUP/inner"*"removed cgroup $CGROUP"*"removed cgroup /sys/fs/cgroup/workshop"* ]]
	[ ! -e /sys/fs/cgroup/workshop ]
	run ! kill -0 "$SLEEP_PID"
	SLEEP_PID=""
}

# bats test_tags=vm
@test "skips the cgroup and veth of a run that is still going, and says so" {
	require_cgroup_v2
	start_container sleep "$REPO/step05_veth/run" sleep 1000
	# Not in the sandbox: the veth lives in this network namespace.
	run -0 "$RESET"
	echo "$output"
	[[ $output == *"skipped cgroup /sys/fs/cgroup/workshop/ws-"*": still in use: PID $CONTAINER_PID (parent PID $RUNTIME_PID, run)"* ]]
	[[ $output == *"skipped veth ws-10.200.0: still in use: its other end is in a live network namespace"* ]]
	kill -0 "$CONTAINER_PID"
	compgen -G "/sys/fs/cgroup/workshop/ws-*"
	ip link show ws-10.200.0 >/dev/null
	stop_container
}

# bats test_tags=vm
@test "a live run of a runtime copied elsewhere, started in its own PID namespace, is not killed (issue 18)" {
	require_cgroup_v2
	cp "$REPO/step04_cgroup/run" "$BATS_TEST_TMPDIR/minirun"
	# As step02's chroot message recommends: in its own PID namespace, where the runtime is PID 1.
	start_container sleep unshare --pid --fork --mount-proc "$BATS_TEST_TMPDIR/minirun" --rootfs "$REPO/rootfs" sleep 1000
	local sleep_pid
	sleep_pid=$(pgrep -n -x sleep)
	run -0 "$RESET"
	[[ $output == *"skipped cgroup /sys/fs/cgroup/workshop/ws-"* ]]
	[[ $output != *"removed cgroup /sys/fs/cgroup/workshop/ws-"* ]]
	kill -0 "$sleep_pid"
	# unshare --fork passes no SIGTERM on: the runtime (its child) gets it.
	# sleep catches none, so it ends as docker stop's SIGKILL (137), and the
	# run leaves nothing behind for the next test.
	kill -TERM "$CONTAINER_PID"
	wait_container
	[ "$status" -eq 137 ]
	run -0 "$RESET" --status
	[[ $output != *"/sys/fs/cgroup/workshop/ws-"* ]]
}

# bats test_tags=vm
@test "chapter 7: the demo cgroup is listed and removed when empty, kept while a shell is in it" {
	require_cgroup_v2
	mkdir -p /sys/fs/cgroup/workshop/demo
	sleep 1000 3>&- &
	SLEEP_PID=$!
	echo "$SLEEP_PID" >/sys/fs/cgroup/workshop/demo/cgroup.procs
	run -0 sandbox '"$RESET" --status'
	[[ $output == *"chapter 7: cgroup /sys/fs/cgroup/workshop/demo is in use (PID $SLEEP_PID"* ]]
	run -0 sandbox '"$RESET"'
	[[ $output == *"skipped cgroup /sys/fs/cgroup/workshop/demo: still in use: PID $SLEEP_PID"* ]]
	kill -0 "$SLEEP_PID"
	kill -KILL "$SLEEP_PID"
	wait "$SLEEP_PID" || true
	SLEEP_PID=""
	mkdir /sys/fs/cgroup/workshop/demo/child # 付録 E
	run -0 sandbox '"$RESET" --status'
	[[ $output == *"chapter 7: cgroup /sys/fs/cgroup/workshop/demo"* ]]
	[ -d /sys/fs/cgroup/workshop/demo/child ]
	run -0 sandbox '"$RESET"'
	[[ $output == *"removed cgroup /sys/fs/cgroup/workshop/demo/child"*"removed cgroup /sys/fs/cgroup/workshop/demo"*"removed cgroup /sys/fs/cgroup/workshop"* ]]
	[ ! -e /sys/fs/cgroup/workshop ]
}

# A script in fresh PID (with its own /proc), network and mount namespaces:
# the process scan sees only what the script started.
pid_sandbox() {
	unshare --pid --fork --mount-proc --net -- bash -euo pipefail -c "$1"
}

@test "chapter 4: the orphaned sleep 1000 of Ctrl-C in 4.3 is listed and killed; a live one and a plain sleep are not" {
	run -0 pid_sandbox '
		env --default-signal=INT unshare --pid sh -c "sleep 1000 & wait" &
		sh_pid=$!
		unshare --pid --fork sleep 1000 &
		sleep 1000 &
		plain=$!
		ns_sleeps() { # sleeps that are PID 1 of a PID namespace, children of $1
			pgrep -P "$1" -x sleep | while read -r p; do grep -q "NSpid:.*[[:space:]]1$" /proc/$p/status && echo $p; done
		}
		# (polled, not slept: the machine may be loaded)
		for _ in $(seq 100); do [ -n "$(ns_sleeps "$sh_pid")" ] && pgrep -x unshare >/dev/null && break; sleep 0.1; done
		kill -INT "$sh_pid"     # Ctrl-C: sh dies, its background sleep does not
		wait "$sh_pid" || true
		orphan=""
		for _ in $(seq 100); do orphan=$(ns_sleeps 1); [ -n "$orphan" ] && break; sleep 0.1; done
		echo "orphan=$orphan"
		echo "## status"
		"$RESET" --status
		echo "## reset"
		"$RESET"
		echo "## after"
		for _ in $(seq 100); do [ -z "$(ns_sleeps 1)" ] && break; sleep 0.1; done
		kill -0 "$plain" && echo "plain alive"
		[ -z "$(ns_sleeps 1)" ] && echo "no orphan"
		pgrep -x unshare >/dev/null && echo "live one alive"'
	echo "$output"
	local orphan
	orphan=$(sed -n 's/^orphan=//p' <<<"$output")
	[ -n "$orphan" ]
	[[ $output == *"## status"*"chapter 4: orphaned sleep 1000, PID $orphan (PID 1 of its own PID namespace)"*"## reset"* ]]
	[[ $output == *"## reset"*"killed orphaned sleep 1000 (PID $orphan, PID 1 of its own PID namespace)"*"## after"* ]]
	[ "$(grep -c 'chapter 4:' <<<"$output")" -eq 1 ]
	[[ $output == *"plain alive"*"no orphan"*"live one alive"* ]]
}

@test "chapter 5: an empty rootfs/oldroot is listed and removed; one with files is not" {
	mkdir "$WORKSHOP_ROOTFS/oldroot"
	run -0 sandbox '"$RESET" --status'
	[ "$output" = "chapter 5: empty directory $WORKSHOP_ROOTFS/oldroot" ]
	[ -d "$WORKSHOP_ROOTFS/oldroot" ]
	run -0 sandbox '"$RESET"'
	[ "$output" = "removed directory $WORKSHOP_ROOTFS/oldroot" ]
	[ ! -e "$WORKSHOP_ROOTFS/oldroot" ]
	mkdir "$WORKSHOP_ROOTFS/oldroot"
	touch "$WORKSHOP_ROOTFS/oldroot/keep"
	run -0 sandbox '"$RESET"'
	[ "$output" = "nothing to clean" ]
	[ -e "$WORKSHOP_ROOTFS/oldroot/keep" ]
}

@test "chapter 5: status lists the mounts under the rootfs and leaves them" {
	run -0 sandbox '
		mount --make-rprivate /
		mount --bind "$WORKSHOP_ROOTFS" "$WORKSHOP_ROOTFS"
		"$RESET" --status
		grep -c " $WORKSHOP_ROOTFS " /proc/self/mountinfo'
	[ "${lines[0]}" = "chapter 5: mount $WORKSHOP_ROOTFS" ]
	[ "${lines[1]}" = 1 ]
}

@test "chapter 8: veth-host/veth-ctr both on the host are listed and removed; with veth-ctr in a live namespace, kept" {
	run -0 sandbox '
		ip link add veth-host type veth peer name veth-ctr
		ip link add other0 type veth peer name other1
		echo "## status"; "$RESET" --status
		echo "## reset"; "$RESET"
		echo "## links"; ip -o link show | cut -d" " -f2
		ip link add veth-host type veth peer name veth-ctr
		unshare --net sleep 1000 &
		ns=$!
		sleep 0.3
		ip link set veth-ctr netns "$ns"
		echo "## live"; "$RESET"
		ip link show veth-host >/dev/null && echo "veth-host kept"
		kill "$ns"'
	echo "$output"
	# Both ends are on the host, so both are listed; deleting one deletes the pair.
	[[ $output == *"## status"$'\n'"chapter 8: veth veth-ctr"$'\n'"chapter 8: veth veth-host"$'\n'"## reset"* ]]
	[[ $output == *"## reset"$'\n'"removed veth veth-ctr"$'\n'"## links"* ]]
	local links=${output#*"## links"}
	links=${links%"## live"*}
	[[ $links != *veth-* && $links == *other0@other1:* ]]
	[[ $output == *"## live"$'\n'"skipped veth veth-host: still in use: its other end is in a live network namespace"* ]]
	[[ $output == *"veth-host kept"* ]]
}

@test "status on a clean machine: nothing left, and it changes nothing" {
	run -0 sandbox '"$RESET" --status'
	[ "$output" = "nothing left by the workshop" ]
}

# bats test_tags=vm
@test "a leftover that vanishes meanwhile is not an error (ENOENT: exit 0)" {
	require_cgroup_v2
	CGROUP=/sys/fs/cgroup/workshop/ws-999997
	mkdir -p "$CGROUP"
	# rmdir it while reset.sh runs: a live run removing its own cgroup.
	( for _ in $(seq 200); do rmdir "$CGROUP" 2>/dev/null && break; sleep 0.005; done ) &
	run sandbox '"$RESET"'
	wait
	[ "$status" -eq 0 ]
	[[ $output != *"No such file or directory"* ]]
	[ ! -e "$CGROUP" ]
	rmdir /sys/fs/cgroup/workshop 2>/dev/null || true
}
