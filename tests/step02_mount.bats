#!/usr/bin/env bats
# step02_mount: + a mount namespace. The container's / is the rootfs
# (pivot_root), with its own /proc and a minimal /dev; nothing of the host's
# filesystem stays reachable, and the host's mount table does not change.
# Commands for the container are single-quoted on purpose; bats's run sets $stderr.
# shellcheck disable=SC2016,SC2154

load helpers

# The program under test: STEP_BIN runs these tests against another build
# (the previous step, tests/exercise/prev_step.sh; a learner's exercise copy,
# make check-exercise).
RUN="${STEP_BIN:-$REPO/step02_mount/run}"

setup() {
	require_root
	snapshot_host
}

teardown() {
	stop_container
}

@test "step02: the command runs as PID 1 and ps lists only the container" {
	run --separate-stderr "$RUN" ps -o pid,comm
	[ "$status" -eq 0 ]
	# The header, PID 1 (ps itself, exec'd by the runtime), nothing else.
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" =~ ^\ *1\ +ps$ ]]
	assert_host_unchanged
}

@test "step02: / inside is the rootfs" {
	run --separate-stderr "$RUN" ls -a /
	[ "$status" -eq 0 ]
	[ "$output" = "$(ls -a "$ROOTFS")" ]
	run --separate-stderr "$RUN" cat /etc/os-release
	[ "$output" = "$(cat "$ROOTFS/etc/os-release")" ]
}

@test "step02: no host path is reachable from inside" {
	local marker="$BATS_TEST_TMPDIR/host-only-marker"
	touch "$marker"
	run "$RUN" ls "$marker"
	[ "$status" -ne 0 ]
	run "$RUN" ls "$REPO/Makefile"
	[ "$status" -ne 0 ]
	# Only the container's own mounts: the rootfs, /dev, /dev/pts, /proc.
	run --separate-stderr "$RUN" cat /proc/self/mountinfo
	[ "$(cut -d' ' -f5 <<<"$output" | sort | tr '\n' ' ')" = "/ /dev /dev/pts /dev/shm /proc " ]
}

@test "step02: the host's mount table is unchanged after a run" {
	run "$RUN" true
	[ "$status" -eq 0 ]
	assert_host_unchanged
}

@test "step02: /proc is nosuid, nodev and noexec" {
	run --separate-stderr "$RUN" grep ' /proc ' /proc/self/mountinfo
	[ "$status" -eq 0 ]
	[[ "$output" == *nosuid* && "$output" == *nodev* && "$output" == *noexec* ]]
	# A /proc of its own (another superblock: another device number), not
	# the host's, which has these options too on many hosts (Ubuntu).
	local host_dev
	host_dev=$(awk '$5 == "/proc" { print $3 }' /proc/self/mountinfo)
	[ "$(cut -d' ' -f3 <<<"$output")" != "$host_dev" ]
}

@test "step02: /dev has working null, zero, random, urandom, tty and pts" {
	run --separate-stderr "$RUN" sh -c '
		echo discarded >/dev/null &&
		[ "$(head -c 4 /dev/zero | od -An -tx1 | tr -d " ")" = 00000000 ] &&
		[ "$(head -c 16 /dev/urandom | wc -c)" -eq 16 ] &&
		[ "$(head -c 16 /dev/random | wc -c)" -eq 16 ] &&
		[ -c /dev/tty ] && [ -L /dev/ptmx ] &&
		grep -q " /dev/pts .* devpts " /proc/self/mountinfo &&
		ls /dev'
	[ "$status" -eq 0 ]
	# Never the host's whole /dev: exactly these entries.
	[ "$(tr '\n' ' ' <<<"$output")" = "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero " ]
}

@test "step02: the default rootfs is found from the binary, from any directory" {
	cd "$BATS_TEST_TMPDIR"
	run --separate-stderr "$RUN" cat /etc/os-release
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$ROOTFS/etc/os-release")" ]
}

@test "step02: --rootfs picks another rootfs" {
	local copy="$BATS_TEST_TMPDIR/copy"
	cp -a "$ROOTFS" "$copy"
	echo "copied rootfs" >"$copy/marker"
	run --separate-stderr "$RUN" --rootfs "$copy" cat /marker
	[ "$status" -eq 0 ]
	[ "$output" = "copied rootfs" ]
	run --separate-stderr "$RUN" -r "$copy" cat /marker
	[ "$output" = "copied rootfs" ]
	assert_host_unchanged
}

@test "step02: a missing rootfs exits 125 and says how to make one" {
	run --separate-stderr "$RUN" --rootfs /nonexistent true
	[ "$status" -eq 125 ]
	[ "$stderr" = "step02_mount: rootfs /nonexistent: No such file or directory (make one with: make rootfs)" ]
	assert_host_unchanged
}

@test "step02: a rootfs that is not a directory exits 125" {
	run --separate-stderr "$RUN" --rootfs /etc/hostname true
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"not a directory"* ]]
}

@test "step02: the host's / as rootfs exits 125" {
	run --separate-stderr "$RUN" --rootfs / true
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"is the host's own /"* ]]
	assert_host_unchanged
}

@test "step02: a rootfs without /bin/sh and no command exits 127" {
	local empty="$BATS_TEST_TMPDIR/empty"
	mkdir -p "$empty/dev" "$empty/proc"
	run -127 --separate-stderr "$RUN" --rootfs "$empty"
	[[ "$stderr" == *"cannot run /bin/sh: No such file or directory"* ]]
	assert_host_unchanged
}

@test "step02: exit statuses 0, 42, 126 and 127 inside the rootfs" {
	run "$RUN" true
	[ "$status" -eq 0 ]
	run "$RUN" sh -c 'exit 42'
	[ "$status" -eq 42 ]
	run -126 "$RUN" /etc
	run -127 "$RUN" no-such-command
}

@test "step02: a command killed from the host exits 128+9, mounts gone" {
	start_container sleep "$RUN" sleep 1000
	kill -KILL "$CONTAINER_PID"
	wait_container
	[ "$status" -eq 137 ]
	assert_host_unchanged
}
