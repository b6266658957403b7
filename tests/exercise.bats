#!/usr/bin/env bats
# The exercise mode's make targets (infra/exercise.sh): what a learner sees.
# The copies go to a directory of the test's own (EXERCISES), never to
# exercises/. check-exercise itself: tests/exercise/guard.sh, fill_to_green.sh.
# shellcheck disable=SC2154

load helpers

setup() {
	export EXERCISES="$BATS_TEST_TMPDIR/exercises"
	cd "$REPO" || return 1
}

@test "exercise: make exercise takes STEP=3 and STEP=03, and keeps a copy unless FORCE=1" {
	run make -s exercise STEP=3
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "wrote "*"/step03_net/main.c: step03_net with these functions to write (TODO):" ]]
	[ "${lines[1]}" = "  start_container" ]
	echo "my work" >>"$EXERCISES/step03_net/main.c"
	run make -s exercise STEP=03
	[ "$status" -ne 0 ]
	[[ "$output" == *"exists (your work?): not overwritten; FORCE=1 starts it again"* ]]
	grep -qx "my work" "$EXERCISES/step03_net/main.c"
	run make -s exercise STEP=03 FORCE=1
	[ "$status" -eq 0 ]
	run ! grep -qx "my work" "$EXERCISES/step03_net/main.c"
}

@test "exercise: without STEP, or with a step that does not exist, it says how to use it" {
	run make -s exercise
	[ "$status" -ne 0 ]
	[[ "$output" == *"which step? e.g. make exercise STEP=05"* ]]
	run make -s exercise STEP=7
	[ "$status" -ne 0 ]
	[[ "$output" == *"no step '7' (try 01 to 06)"* ]]
}

@test "exercise: every step's copy builds warning-free with gcc and clang, with a Japanese TODO per function" {
	local n step cc
	for n in 1 2 3 4 5 6; do
		make -s exercise STEP=$n >/dev/null
		step=$(cd "$EXERCISES" && ls -d step0${n}_*)
		grep -q "TODO(演習 step0$n)" "$EXERCISES/$step/main.c"
		for cc in gcc clang; do
			command -v $cc >/dev/null || continue
			$cc -O2 -g -Wall -Wextra -Werror -o "$BATS_TEST_TMPDIR/run" "$EXERCISES/$step/main.c" ||
				{ echo "$step does not build with $cc" >&2; return 1; }
		done
	done
}

@test "exercise: a fresh copy fails loudly, with 125" {
	require_root
	make -s exercise STEP=01 >/dev/null
	gcc -O2 -Wall -Wextra -Werror -o "$EXERCISES/step01_pid/run" "$EXERCISES/step01_pid/main.c"
	run --separate-stderr "$EXERCISES/step01_pid/run" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "step01_pid: TODO: start_container() is not written yet (make hint STEP=01)" ]
}

@test "exercise: make hint shows the diff one hunk at a time; RESET=1 starts again" {
	local hunks
	hunks=$(diff -up step04_cgroup/main.c step05_veth/main.c | grep -c '^@@')
	run make -s hint STEP=5
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "== hint 1 of $hunks: step04_cgroup/main.c -> step05_veth/main.c" ]
	[[ "${lines[1]}" == "@@ "* ]]
	[ "$(grep -c '^@@' <<<"$output")" -eq 1 ]
	run make -s hint STEP=05
	[ "${lines[0]}" = "== hint 2 of $hunks: step04_cgroup/main.c -> step05_veth/main.c" ]
	run make -s hint STEP=05 RESET=1
	[ "${lines[0]}" = "hints of step05 start again from the first" ]
	[ "${lines[1]}" = "== hint 1 of $hunks: step04_cgroup/main.c -> step05_veth/main.c" ]
	# Each hunk once, in order: together they are the whole diff.
	local i all=""
	for ((i = 2; i <= hunks; i++)); do
		all+=$(make -s hint STEP=05 | tail -n +2)$'\n'
	done
	run make -s hint STEP=05
	[ "$output" = "all $hunks hints of step05 are shown (make hint STEP=05 RESET=1 starts again)" ]
	[ "$(diff -up step04_cgroup/main.c step05_veth/main.c | sed -n '/^@@/,$p' | awk '/^@@/ { h++ } h >= 2')" = "${all%$'\n'}" ]
}

@test "exercise: make solution is make diff" {
	run make -s solution STEP=6
	[ "$status" -eq 0 ]
	[ "$output" = "$(make -s diff STEP=06)" ]
	[[ "$output" == *"+	args.flags |= CLONE_NEWUTS;"* ]]
}

@test "exercise: filling the stubs with the step's code gives the step back, for every step" {
	local n step
	for n in 01 02 03 04 05 06; do
		make -s exercise STEP=$n >/dev/null
		step=$(cd "$EXERCISES" && ls -d step${n}_*)
		run ! cmp -s "$EXERCISES/$step/main.c" "$step/main.c"
		infra/exercise.sh solve $n >/dev/null
		cmp "$EXERCISES/$step/main.c" "$step/main.c"
	done
}
