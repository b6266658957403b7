#!/usr/bin/env bats
# step06_full: + UTS and IPC namespaces: the complete runtime.
# Commands for the container are single-quoted on purpose; bats's run sets $stderr.
# shellcheck disable=SC2016,SC2154

# The cgroup v2 VM runs this whole file (bats tag vm, make test-ci-vm).
# bats file_tags=vm

load helpers

# The program under test: STEP_BIN runs these tests against another build
# (the previous step, tests/exercise/prev_step.sh; a learner's exercise copy,
# make check-exercise).
RUN="${STEP_BIN:-$REPO/step06_full/run}"

# A name a learner could hard-code varies from run to run (derived from this
# shell's PID: the same within a run, printed when a test fails).
NAME=web-$(($$ % 1000)).example

setup() {
	require_root
	snapshot_host
}

# The nsdelegate test changes the hierarchy's options: put them back (a
# mount from the host's cgroup namespace sets its options on the one cgroup2
# superblock). The test does it before it compares the host; teardown, when
# the test failed before that.
restore_cgroup2_opts() {
	[ -e "$BATS_TEST_TMPDIR/cgroup2.opts" ] || return 0
	mount -t cgroup2 -o "$(cat "$BATS_TEST_TMPDIR/cgroup2.opts")" none "$BATS_TEST_TMPDIR/cgroup2"
	umount "$BATS_TEST_TMPDIR/cgroup2"
	rm "$BATS_TEST_TMPDIR/cgroup2.opts"
}

teardown() {
	restore_cgroup2_opts
}

@test "step06: the hostname inside is 'container'; the host's is unchanged" {
	require_cgroup_v2
	local host_name
	host_name=$(hostname)
	run --separate-stderr "$RUN" hostname
	[ "$status" -eq 0 ]
	[ "$output" = container ]
	[ "$(hostname)" = "$host_name" ]
}

@test "step06: --hostname sets another name" {
	require_cgroup_v2
	echo "chosen: --hostname $NAME"
	run --separate-stderr "$RUN" --hostname "$NAME" cat /proc/sys/kernel/hostname
	[ "$status" -eq 0 ]
	[ "$output" = "$NAME" ]
}

@test "step06: a bad --hostname exits 125 before the host is touched" {
	local long
	long=$(printf 'a%.0s' $(seq 100))
	for name in "$long" "bad_name" "with space" "-leading" ""; do
		run --separate-stderr "$RUN" --hostname "$name" true
		[ "$status" -eq 125 ] || { echo "'$name' -> $status" >&2; return 1; }
		[[ "$stderr" == "step06_full: --hostname: "* ]]
	done
	assert_host_unchanged
}

@test "step06: every namespace differs from the host's" {
	require_cgroup_v2
	run --separate-stderr "$RUN" sh -c 'for ns in pid mnt net uts ipc; do readlink /proc/self/ns/$ns; done'
	[ "$status" -eq 0 ]
	local i=0 ns
	for ns in pid mnt net uts ipc; do
		[[ "${lines[$i]}" == "$ns:["* ]]
		[ "${lines[$i]}" != "$(readlink /proc/self/ns/$ns)" ]
		i=$((i + 1))
	done
}

@test "step06: the complete runtime: PID 1, own root, network, limits, hostname" {
	require_cgroup_v2
	echo "chosen: --hostname $NAME"
	run --separate-stderr "$RUN" --memory 48M --hostname "$NAME" sh -c '
		echo "pid=$$"
		echo "hostname=$(hostname)"
		echo "cgroup=$(cat /proc/self/cgroup)"
		ip -o -4 addr show eth0 | grep -o "inet [0-9./]*"
		ping -c 1 -W 5 10.200.0.1 >/dev/null && echo ping=ok
		ps -o pid,comm; true'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = pid=1 ]
	[ "${lines[1]}" = "hostname=$NAME" ]
	[ "${lines[2]}" = "cgroup=0::/" ]	# its own cgroup namespace
	[ "${lines[3]}" = "inet 10.200.0.2/24" ]
	[ "${lines[4]}" = ping=ok ]
	# ps lists the shell as PID 1 and itself: nothing of the host.
	[ "${#lines[@]}" -eq 8 ]
	[[ "${lines[6]}" =~ ^\ *1\ sh$ ]]
	[[ "${lines[7]}" =~ ^\ *[0-9]+\ ps$ ]]
	assert_host_unchanged
}

@test "step06: OOM inside exits 137 and nothing is left behind" {
	require_cgroup_v2
	run "$RUN" --memory 32M dd if=/dev/zero of=/dev/null bs=64M count=1
	[ "$status" -eq 137 ]
	assert_host_unchanged
}

@test "step06: its own cgroup namespace: /proc/self/cgroup says /" {
	require_cgroup_v2
	run --separate-stderr "$RUN" cat /proc/self/cgroup
	[ "$status" -eq 0 ]
	[ "$output" = "0::/" ]
	assert_host_unchanged
}

@test "step06: without nsdelegate, root in the container still cannot lift its limits" {
	require_cgroup_v2
	local opts
	opts=$(findmnt -no FS-OPTIONS /sys/fs/cgroup)
	[[ ,$opts, == *,nsdelegate,* ]] || skip "cgroup2 here is mounted without nsdelegate already ($opts)"
	# What the document warns of: one bare mount of cgroup2 from the host's
	# cgroup namespace drops nsdelegate for the whole hierarchy.
	echo "$opts" >"$BATS_TEST_TMPDIR/cgroup2.opts"
	mkdir "$BATS_TEST_TMPDIR/cgroup2"
	mount -t cgroup2 none "$BATS_TEST_TMPDIR/cgroup2"
	umount "$BATS_TEST_TMPDIR/cgroup2"
	[[ ,$(findmnt -no FS-OPTIONS /sys/fs/cgroup), != *,nsdelegate,* ]]
	# Inside, the mounted cgroup2 starts at the container's own cgroup (the
	# leaf): whatever it writes there, the limits are one level up, out of
	# its sight, and the dd is still OOM-killed.
	local lift='mount -t cgroup2 none /mnt || exit 3
		for f in memory.max pids.max; do echo max 2>/dev/null >/mnt/$f && echo "wrote $f"; done
		dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo "dd exited $?"'
	run --separate-stderr "$RUN" --memory 32M sh -c "$lift"
	echo "inside: $output $stderr"
	[ "$status" -eq 0 ] && [ "${lines[-1]}" = "dd exited 137" ]
	restore_cgroup2_opts
	assert_host_unchanged
}
