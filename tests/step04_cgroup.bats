#!/usr/bin/env bats
# step04_cgroup: + cgroup v2 limits (memory, CPU, number of processes) in
# /sys/fs/cgroup/workshop/ws-<runtime PID>-<random>, removed when the container exits.
# Commands for the container are single-quoted on purpose; bats's run sets $stderr.
# shellcheck disable=SC2016,SC2154

# The cgroup v2 VM runs this whole file (bats tag vm, make test-ci-vm).
# bats file_tags=vm

load helpers

# The program under test: STEP_BIN runs these tests against another build
# (the previous step, tests/exercise/prev_step.sh; a learner's exercise copy,
# make check-exercise).
RUN="${STEP_BIN:-$REPO/step04_cgroup/run}"

# Limits a learner could hard-code vary from run to run (a choice by this
# shell's PID: the same within a run, printed when a test fails).
PICK=$(($$ % 3))

setup() {
	require_root
	snapshot_host
}

teardown() {
	# A runtime under unshare --fork: unshare passes no SIGTERM on.
	[ -z "${INNER_RUNTIME:-}" ] || kill -TERM "$INNER_RUNTIME" 2>/dev/null || true
	stop_container
}

@test "step04: refuses a host without cgroup v2 controllers, runs on one" {
	# On cgroup v2, "runs" means in a cgroup of its own: status 0 alone
	# would pass for step03 as well, which has no cgroup.
	run --separate-stderr "$RUN" cat /proc/self/cgroup
	if cgroup_v2_ready; then
		[ "$status" -eq 0 ]
		[[ "$output" =~ ^0::/workshop/ws-[0-9]+-[0-9a-f]{8}/container$ ]]
	else
		[ "$status" -eq 125 ]
		[[ "$stderr" == "step04_cgroup: /sys/fs/cgroup is not cgroup v2"*"see sudo make doctor" ]]
	fi
	assert_host_unchanged
}

@test "step04: bad limits exit 125 before the host is touched" {
	local args
	for args in "--memory abc" "--memory 0" "--memory -1" "--memory 12x" \
		"--cpus 0" "--cpus -1" "--cpus x" "--pids-limit 0" "--pids-limit x" "--pids-limit -5"; do
		# shellcheck disable=SC2086 # split "--option value" on purpose
		run --separate-stderr "$RUN" $args true
		[ "$status" -eq 125 ] || { echo "$args -> $status" >&2; return 1; }
		[[ "$stderr" == "step04_cgroup: ${args%% *}: "* ]] || { echo "$args -> $stderr" >&2; return 1; }
	done
	assert_host_unchanged
}

@test "step04: the limits are written to the container's cgroup" {
	require_cgroup_v2
	local -a mib=(24 32 48) cpus=(0.3 0.5 0.7) quota=(30000 50000 70000) pids=(20 25 30)
	echo "chosen: --memory ${mib[PICK]}M --cpus ${cpus[PICK]} --pids-limit ${pids[PICK]}"
	start_container sleep "$RUN" --memory "${mib[PICK]}M" --cpus "${cpus[PICK]}" --pids-limit "${pids[PICK]}" sleep 1000
	local cg
	cg=$(run_cgroup "$RUNTIME_PID")
	[ "$(cat "$cg/memory.max")" = $((mib[PICK] * 1024 * 1024)) ]
	[ "$(cat "$cg/memory.swap.max")" = 0 ]
	[ "$(cat "$cg/cpu.max")" = "${quota[PICK]} 100000" ]
	[ "$(cat "$cg/pids.max")" = "${pids[PICK]}" ]
	# The limits are on ws-…, the container is in its leaf below.
	[ -z "$(cat "$cg/cgroup.procs")" ]
	grep -qx "$CONTAINER_PID" "$cg/container/cgroup.procs"
	kill -TERM "$RUNTIME_PID"
	wait_container
	[ "$status" -eq 137 ]	# sleep ignores SIGTERM as PID 1: SIGKILL after the grace period
	assert_host_unchanged
}

@test "step04: the command is in its cgroup from its first instruction" {
	require_cgroup_v2
	run --separate-stderr "$RUN" cat /proc/self/cgroup
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^0::/workshop/ws-[0-9]+-[0-9a-f]{8}/container$ ]]
	assert_host_unchanged
}

@test "step04: allocating past --memory is OOM-killed: exit 137" {
	require_cgroup_v2
	# dd allocates its block size up front: 64 MiB against a smaller limit,
	# then against a larger one.
	local -a small=(16 24 32) large=(96 128 160)
	echo "chosen: --memory ${small[PICK]}M (killed), ${large[PICK]}M (not)"
	run "$RUN" --memory "${small[PICK]}M" dd if=/dev/zero of=/dev/null bs=64M count=1
	[ "$status" -eq 137 ]
	run "$RUN" --memory "${large[PICK]}M" dd if=/dev/zero of=/dev/null bs=64M count=1
	[ "$status" -eq 0 ]
	assert_host_unchanged
}

@test "step04: a fork loop stops at --pids-limit" {
	require_cgroup_v2
	local -a limit=(8 10 12)
	echo "chosen: --pids-limit ${limit[PICK]}"
	run --separate-stderr "$RUN" --pids-limit "${limit[PICK]}" sh -c \
		'i=0; while [ $i -lt 50 ]; do sleep 100 & i=$((i + 1)); echo $i; done'
	# The shell cannot fork the Nth process (it is the 1st) and gives up.
	[ "$status" -ne 0 ]
	[ "${lines[-1]}" -eq $((limit[PICK] - 1)) ]
	[[ "$stderr" == *"can't fork"* ]]
	assert_host_unchanged
}

@test "step04: a busy loop with --cpus 0.2 gets about a fifth of a CPU" {
	require_cgroup_v2
	start_container 'while' "$RUN" --cpus 0.2 sh -c 'while :; do :; done'
	local stat before after start end
	stat=$(run_cgroup "$RUNTIME_PID")/cpu.stat
	sleep 0.5
	before=$(awk '$1 == "usage_usec" { print $2 }' "$stat")
	start=$(date +%s%N)
	sleep 3
	after=$(awk '$1 == "usage_usec" { print $2 }' "$stat")
	end=$(date +%s%N)
	grep -q '^nr_throttled [1-9]' "$stat"
	kill -TERM "$RUNTIME_PID"
	wait_container
	# CPU time used per wall-clock time, in percent: about 20.
	local percent=$(( (after - before) * 100000 / (end - start) ))
	echo "busy loop got $percent% of a CPU" >&3
	[ "$percent" -ge 10 ] && [ "$percent" -le 30 ]
	assert_host_unchanged
}

@test "step04: still PID 1 with its own root and network" {
	require_cgroup_v2
	run --separate-stderr "$RUN" sh -c 'echo $$; ip -o link | wc -l'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = 1 ]
}

@test "step04: --help shows each limit with its default" {
	run --separate-stderr "$RUN" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"-m, --memory SIZE"*"(default: 64M)"* ]]
	[[ "$output" == *"--cpus N"*"(default: 0.5)"* ]]
	[[ "$output" == *"--pids-limit N"*"(default: 64)"* ]]
}

@test "step04: systemd's -cpu at the root is refused while a container runs; cpu.max stays" {
	require_cgroup_v2
	start_container 'while' "$RUN" --cpus 0.2 sh -c 'while :; do :; done'
	local cg
	cg=$(run_cgroup "$RUNTIME_PID")
	# What systemd writes on daemon-reload when no unit of its own needs cpu.
	run bash -c 'echo -cpu >/sys/fs/cgroup/cgroup.subtree_control'
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Device or resource busy"* ]]
	grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control
	[ "$(cat "$cg/cpu.max")" = "20000 100000" ]
	# The parents hold no process; the container's leaf does.
	[ -z "$(cat /sys/fs/cgroup/workshop/cgroup.procs)" ] && [ -z "$(cat "$cg/cgroup.procs")" ]
	grep -qx "$CONTAINER_PID" "$cg/container/cgroup.procs"
	stop_container
	assert_host_unchanged
}

@test "step04: cgroups the container made below its own are removed with it" {
	require_cgroup_v2
	local step opts
	# The host's own options: cgroup2 has one superblock, and a mount
	# without them would change the host's (nsdelegate, memory_recursiveprot).
	opts=$(findmnt -no FS-OPTIONS /sys/fs/cgroup)
	local -A expect=(["$RUN"]='^made in /workshop/ws-[0-9]+-[0-9a-f]{8}/container$' ["$REPO/step06_full/run"]='^made in /$')
	for step in "$RUN" "$REPO/step06_full/run"; do
		# Root inside can mount cgroup2 and mkdir; rmdir of ours then needs
		# the container's own gone first. The path says where: in step04 its
		# ws-<PID>-<random>/container (without a cgroup of its own, the mkdir would land in the
		# test's cgroup, which nothing removes); in step06's cgroup
		# namespace, "/". Anywhere else it makes nothing.
		run --separate-stderr "$step" sh -c '
			cg=$(cut -d: -f3 /proc/self/cgroup)
			case $cg in /workshop/ws-*|/) ;; *) echo "in $cg: not a cgroup of its own" >&2; exit 1 ;; esac
			mount -t cgroup2 -o "$1" none /mnt && mkdir -p "/mnt$cg/inner/deeper" && echo "made in $cg"' sh "$opts"
		echo "$step -> $status: $output $stderr"
		[ "$status" -eq 0 ] && [ -z "$stderr" ]
		[[ "$output" =~ ${expect[$step]} ]]
	done
	assert_host_unchanged
}

@test "step04: a cgroup of another run with the same PID is left alone; the run takes a name of its own" {
	require_cgroup_v2
	# A run in another PID namespace can have the runtime's PID: here a
	# live process in workshop/ws-<PID>, and the runtime exec'd with that PID.
	run --separate-stderr sh -c '
		mkdir -p /sys/fs/cgroup/workshop/ws-$$ || exit 1
		sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
		echo $! >/sys/fs/cgroup/workshop/ws-$$/cgroup.procs && echo "$$ $!" >"$2" || exit 1
		exec "$1" cat /proc/self/cgroup' sh "$RUN" "$BATS_TEST_TMPDIR/other"
	echo "$status: $output $stderr"
	local pid sleeper alive=0 _
	read -r pid sleeper <"$BATS_TEST_TMPDIR/other"
	local other=/sys/fs/cgroup/workshop/ws-$pid
	grep -qx "$sleeper" "$other/cgroup.procs" 2>/dev/null && alive=1
	# Take the other run away before judging, so that nothing is left.
	kill -KILL "$sleeper" 2>/dev/null || true
	for _ in $(seq 50); do [ -n "$(cat "$other/cgroup.procs" 2>/dev/null)" ] || break; sleep 0.1; done
	rmdir "$other" 2>/dev/null || true
	rmdir /sys/fs/cgroup/workshop 2>/dev/null || true
	[ "$alive" -eq 1 ]
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[[ "$output" =~ ^0::/workshop/ws-$pid-[0-9a-f]{8}/container$ ]]
	assert_host_unchanged
}

@test "step04: two runs in PID namespaces of their own (both PID 1) do not touch each other's cgroup" {
	require_cgroup_v2
	# As step02's chroot message recommends. unshare --fork passes no
	# SIGTERM on: the runtime, its child, is the one to stop.
	start_container sleep unshare --pid --fork --mount-proc "$RUN" --rootfs "$ROOTFS" sleep 1000
	local runtime=$CONTAINER_PID first='' _
	INNER_RUNTIME=$runtime
	for _ in $(seq 100); do
		first=$(pgrep -P "$runtime" -x sleep) && break
		sleep 0.05
	done
	[ -n "$first" ]
	local first_cg
	first_cg=$(cut -d: -f3 "/proc/$first/cgroup")
	echo "first: $first_cg"
	[[ "$first_cg" =~ ^/workshop/ws-1-[0-9a-f]{8}/container$ ]]
	run --separate-stderr unshare --pid --fork --mount-proc "$RUN" --rootfs "$ROOTFS" cat /proc/self/cgroup
	echo "second: $status: $output $stderr"
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[[ "$output" =~ ^0::/workshop/ws-1-[0-9a-f]{8}/container$ ]]
	[ "$output" != "0::$first_cg" ]
	# The first run's container lives on, in its cgroup.
	kill -0 "$first"
	grep -qx "$first" "/sys/fs/cgroup$first_cg/cgroup.procs"
	kill -TERM "$runtime"
	wait_container
	INNER_RUNTIME=
	[ "$status" -eq 137 ]	# sleep ignores SIGTERM as PID 1: SIGKILL after the grace period
	assert_host_unchanged
}

@test "step04: the container can make cgroups only so deep and so many below its own; none is left" {
	require_cgroup_v2
	local opts
	# The host's own options, as in the test above.
	opts=$(findmnt -no FS-OPTIONS /sys/fs/cgroup)
	run --separate-stderr "$RUN" sh -c '
		cg=$(cut -d: -f3 /proc/self/cgroup)
		case $cg in /workshop/ws-*) ;; *) echo "in $cg: not a cgroup of its own" >&2; exit 1 ;; esac
		mount -t cgroup2 -o "$1" none /mnt && cd "/mnt$cg" || exit 1
		depth=0
		while [ $depth -lt 100 ] && mkdir d 2>/dev/null && cd d; do depth=$((depth + 1)); done
		cd "/mnt$cg" || exit 1
		wide=0
		while [ $wide -lt 1000 ] && mkdir w$wide 2>/dev/null; do wide=$((wide + 1)); done
		echo "$depth deep, $((depth + wide)) in all"' sh "$opts"
	echo "$status: $output $stderr"
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	# cgroup.max.depth and cgroup.max.descendants of ws-…, whose first
	# level and first descendant is the container's leaf.
	[ "$output" = "15 deep, 255 in all" ]
	assert_host_unchanged
}
