#!/usr/bin/env bats
# The shape of the workshop: each step is its predecessor plus one feature,
# so that `make diff STEP=0N` shows only what is new.

load helpers

# Lines removed by `diff -u` from step N-1 to step N (without the --- header).
removed_lines() {
	diff -u "$1/main.c" "$2/main.c" | grep '^-' | grep -v '^---' || true
}

@test "steps: each step only adds lines to its predecessor, except its name" {
	local steps=("$REPO"/step0[1-9]_*) i old new
	[ "${#steps[@]}" -eq 6 ]
	for ((i = 1; i < ${#steps[@]}; i++)); do
		old=${steps[i - 1]} new=${steps[i]}
		run removed_lines "$old" "$new"
		echo "${old##*/} -> ${new##*/}: $output"
		[ "$output" = "-#define STEP_NAME \"${old##*/}\"" ]
	done
}

@test "steps: make diff STEP=03 shows the network namespace and nothing else" {
	run make -s -C "$REPO" diff STEP=03
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "--- step02_mount/main.c" ] || [[ "${lines[0]}" == "--- step02_mount/main.c"$'\t'* ]]
	local added
	added=$(grep '^+' <<<"$output" | grep -v '^+++')
	[ "$added" = "$(printf '%s\n' \
		'+ *   step03_net     + a network namespace: its own interfaces, only lo' \
		'+#define STEP_NAME "step03_net"' \
		'+	args.flags |= CLONE_NEWNET;	/* its own network interfaces */')" ]
}

@test "steps: make diff STEP=06 adds the UTS and IPC namespaces and --hostname" {
	run make -s -C "$REPO" diff STEP=06
	[ "$status" -eq 0 ]
	[[ "$output" == *"+	args.flags |= CLONE_NEWUTS;"* ]]
	[[ "$output" == *"+	args.flags |= CLONE_NEWIPC;"* ]]
	[[ "$output" == *'+		{ "hostname", required_argument, NULL, OPT_HOSTNAME },'* ]]
	[[ "$output" == *"+	if (sethostname(hostname, strlen(hostname)) < 0)"* ]]
}

@test "steps: make diff needs STEP and a step before it" {
	run make -s -C "$REPO" diff
	[ "$status" -ne 0 ]
	[[ "$output" == *"usage: make diff STEP=03"* ]]
	run make -s -C "$REPO" diff STEP=01
	[ "$status" -ne 0 ]
	[[ "$output" == *"no step before step01"* ]]
}

@test "steps: every step builds warning-free with gcc and clang" {
	local cc step
	for cc in gcc clang; do
		command -v "$cc" >/dev/null || { echo "$cc missing" >&2; return 1; }
		for step in "$REPO"/step0[1-9]_*; do
			run "$cc" -Wall -Wextra -Werror -O2 -o "$BATS_TEST_TMPDIR/run" "$step/main.c"
			echo "$cc ${step##*/}: $output"
			[ "$status" -eq 0 ] && [ -z "$output" ]
		done
	done
}

@test "steps: no step includes a header twice" {
	local step
	for step in "$REPO"/step0[1-9]_*; do
		run sh -c 'grep "^#include" "$1" | sort | uniq -d' sh "$step/main.c"
		echo "${step##*/}: $output"
		[ -z "$output" ]
	done
}
