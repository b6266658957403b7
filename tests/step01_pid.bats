#!/usr/bin/env bats
# step01_pid: a new PID namespace. The command is PID 1, but it still sees
# the host's filesystem, so ps (which reads /proc) lists the host's processes.
# Commands for the container are single-quoted on purpose; bats's run sets $stderr.
# shellcheck disable=SC2016,SC2154

load helpers
load nobody

# The program under test: STEP_BIN runs these tests against another build
# (the previous step, tests/exercise/prev_step.sh; a learner's exercise copy,
# make check-exercise).
RUN="${STEP_BIN:-$REPO/step01_pid/run}"

setup() {
	require_root
	snapshot_host
}

teardown() {
	stop_container
}

@test "step01: the command runs as PID 1" {
	run --separate-stderr "$RUN" sh -c 'echo $$'
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
	assert_host_unchanged
}

@test "step01: ps inside still lists the host's processes (same /proc)" {
	run --separate-stderr "$RUN" ps -e -o pid=
	[ "$status" -eq 0 ]
	# The PID of this test's shell, a host process, shows up inside.
	grep -qx " *$$" <<<"$output"
}

@test "step01: host processes cannot be signalled from inside" {
	sleep 1000 3>&- &
	local host_sleep=$!
	run --separate-stderr "$RUN" kill "$host_sleep"
	kill "$host_sleep"
	# The runtime ran kill, and kill found no such PID (not some failure
	# of the runtime's own).
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"No such process"* ]]
}

@test "step01: the runtime writes nothing to stdout" {
	run --separate-stderr "$RUN" echo hello
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
	[ -z "$stderr" ]
}

@test "step01: the command's exit status is the runtime's" {
	run "$RUN" sh -c 'exit 42'
	[ "$status" -eq 42 ]
}

@test "step01: a command that is not found exits 127" {
	run -127 --separate-stderr "$RUN" no-such-command
	[ "$status" -eq 127 ]
	[[ "$stderr" == "step01_pid: cannot run no-such-command: No such file or directory" ]]
}

@test "step01: a command that cannot be invoked exits 126" {
	run -126 --separate-stderr "$RUN" /etc
	[ "$status" -eq 126 ]
	[[ "$stderr" == *"cannot run /etc: Permission denied"* ]]
}

@test "step01: a command killed from the host exits 128+9" {
	start_container sleep "$RUN" sleep 1000
	kill -KILL "$CONTAINER_PID"
	wait_container
	[ "$status" -eq 137 ]
	assert_host_unchanged
}

@test "step01: the command is /bin/sh when none is given" {
	run --separate-stderr "$RUN" <<<'echo shell-$$'
	[ "$status" -eq 0 ]
	[ "$output" = shell-1 ]
}

@test "step01: not root exits 125 and says to use sudo" {
	run --separate-stderr as_nobody "$RUN" true
	[ "$status" -eq 125 ]
	[[ "$stderr" == "step01_pid: must be run as root"*"try sudo"* ]]
}

@test "step01: an unknown option exits 125" {
	run --separate-stderr "$RUN" --no-such-option true
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"--no-such-option"* ]]
}

@test "step01: --help prints the usage on stdout" {
	run --separate-stderr "$RUN" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: sudo"*"[COMMAND [ARG...]]"* ]]
	[[ "$output" == *"-h, --help"* ]]
}
