#!/usr/bin/env bats
# step04_cgroup: + cgroup v2 limits (memory, CPU, number of processes) in
# /sys/fs/cgroup/workshop/ws-<runtime PID>, removed when the container exits.
# Commands for the container are single-quoted on purpose; bats's run sets $stderr.
# shellcheck disable=SC2016,SC2154

load helpers

RUN="$REPO/step04_cgroup/run"

setup() {
	require_root
	snapshot_host
}

teardown() {
	stop_container
}

@test "step04: refuses a host without cgroup v2 controllers, runs on one" {
	run --separate-stderr "$RUN" true
	if cgroup_v2_ready; then
		[ "$status" -eq 0 ]
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
	start_container sleep "$RUN" --memory 32M --cpus 0.5 --pids-limit 20 sleep 1000
	local cg="/sys/fs/cgroup/workshop/ws-$RUNTIME_PID"
	[ "$(cat "$cg/memory.max")" = 33554432 ]
	[ "$(cat "$cg/memory.swap.max")" = 0 ]
	[ "$(cat "$cg/cpu.max")" = "50000 100000" ]
	[ "$(cat "$cg/pids.max")" = 20 ]
	grep -qx "$CONTAINER_PID" "$cg/cgroup.procs"
	kill -TERM "$RUNTIME_PID"
	wait_container
	[ "$status" -eq 137 ]	# sleep ignores SIGTERM as PID 1: SIGKILL after the grace period
	assert_host_unchanged
}

@test "step04: the command is in its cgroup from its first instruction" {
	require_cgroup_v2
	run --separate-stderr "$RUN" cat /proc/self/cgroup
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^0::/workshop/ws-[0-9]+$ ]]
	assert_host_unchanged
}

@test "step04: allocating past --memory is OOM-killed: exit 137" {
	require_cgroup_v2
	# dd allocates its block size up front: 64 MiB against a 32 MiB limit.
	run "$RUN" --memory 32M dd if=/dev/zero of=/dev/null bs=64M count=1
	[ "$status" -eq 137 ]
	run "$RUN" --memory 128M dd if=/dev/zero of=/dev/null bs=64M count=1
	[ "$status" -eq 0 ]
	assert_host_unchanged
}

@test "step04: a fork loop stops at --pids-limit" {
	require_cgroup_v2
	run --separate-stderr "$RUN" --pids-limit 10 sh -c \
		'i=0; while [ $i -lt 50 ]; do sleep 100 & i=$((i + 1)); echo $i; done'
	# The shell cannot fork the 10th process (it is the 1st) and gives up.
	[ "$status" -ne 0 ]
	[ "${lines[-1]}" -eq 9 ]
	[[ "$stderr" == *"can't fork"* ]]
	assert_host_unchanged
}

@test "step04: a busy loop with --cpus 0.2 gets about a fifth of a CPU" {
	require_cgroup_v2
	start_container 'while' "$RUN" --cpus 0.2 sh -c 'while :; do :; done'
	local stat="/sys/fs/cgroup/workshop/ws-$RUNTIME_PID/cpu.stat" before after start end
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
	local cg="/sys/fs/cgroup/workshop/ws-$RUNTIME_PID"
	# What systemd writes on daemon-reload when no unit of its own needs cpu.
	run bash -c 'echo -cpu >/sys/fs/cgroup/cgroup.subtree_control'
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Device or resource busy"* ]]
	grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control
	[ "$(cat "$cg/cpu.max")" = "20000 100000" ]
	# The parent holds no process; the container's cgroup does.
	[ -z "$(cat /sys/fs/cgroup/workshop/cgroup.procs)" ]
	grep -qx "$CONTAINER_PID" "$cg/cgroup.procs"
	stop_container
	assert_host_unchanged
}

@test "step04: cgroups the container made below its own are removed with it" {
	require_cgroup_v2
	local step opts
	# The host's own options: cgroup2 has one superblock, and a mount
	# without them would change the host's (nsdelegate, memory_recursiveprot).
	opts=$(findmnt -no FS-OPTIONS /sys/fs/cgroup)
	for step in step04_cgroup step06_full; do
		# Root inside can mount cgroup2 and mkdir; rmdir of ours then needs
		# the container's own gone first.
		run --separate-stderr "$REPO/$step/run" sh -c \
			'mount -t cgroup2 -o "$1" none /mnt && mkdir -p "/mnt$(cut -d: -f3 /proc/self/cgroup)/inner/deeper" && echo made' sh "$opts"
		echo "$step -> $status: $output $stderr"
		[ "$status" -eq 0 ] && [ "$output" = made ] && [ -z "$stderr" ]
	done
	assert_host_unchanged
}

@test "step04: a ws-<PID> left by a killed run with the same PID is removed and reused" {
	require_cgroup_v2
	# exec keeps the shell's PID, so the runtime finds "its" cgroup there.
	run --separate-stderr sh -c 'mkdir -p /sys/fs/cgroup/workshop/ws-$$/left && exec "$1" true' sh "$RUN"
	echo "$status: $stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == "step04_cgroup: removing /sys/fs/cgroup/workshop/ws-"*", left by a run that was killed" ]]
	assert_host_unchanged
}
