#!/usr/bin/env bats
# step03_net: + a network namespace. Inside, only lo exists, and it is down.
# Commands for the container are single-quoted on purpose; bats's run sets $stderr.
# shellcheck disable=SC2016,SC2154

load helpers

# The program under test: STEP_BIN runs these tests against another build
# (the previous step, tests/exercise/prev_step.sh; a learner's exercise copy,
# make check-exercise).
RUN="${STEP_BIN:-$REPO/step03_net/run}"

setup() {
	require_root
	snapshot_host
}

@test "step03: only lo exists inside, and it is down" {
	run --separate-stderr "$RUN" ip -o link
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "1: lo: <LOOPBACK> "* ]]
	[[ "${lines[0]}" != *UP* ]]
}

@test "step03: none of the host's interfaces is visible inside" {
	run --separate-stderr "$RUN" cat /proc/net/dev
	[ "$status" -eq 0 ]
	local name
	for name in $(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
		[ "$name" = lo ] && continue
		# Not "! grep": bats does not fail a test on a "!" command's status.
		if grep -q "^ *$name:" <<<"$output"; then
			echo "the host's $name is visible inside" >&2
			return 1
		fi
	done
	grep -q '^ *lo:' <<<"$output"
}

@test "step03: still PID 1 with its own root" {
	run --separate-stderr "$RUN" sh -c 'echo $$; cat /etc/os-release'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	assert_host_unchanged
}

@test "step03: the network namespace is not the host's" {
	run --separate-stderr "$RUN" readlink /proc/self/ns/net
	[ "$status" -eq 0 ]
	[ "$output" != "$(readlink /proc/self/ns/net)" ]
}
