#!/usr/bin/env bash
# tests/exercise/guard.sh STEP [--exercise-only] [--built DIR]: the exercise
# mode holds for one step:
#   - the real step passes its tests (skipped without --exercise-only when
#     the caller runs them elsewhere; a skip for want of cgroup v2 is "not
#     checked here");
#   - a freshly generated exercise copy builds warning-free (-Wall -Wextra
#     -Werror, with gcc and with clang when present), fails loudly (125 and
#     "TODO:") and fails every test that tests/prev_step_failures.txt lists
#     for the step, but those marked [early] (checks before any container
#     starts, which the copy keeps): with its stubs, it has none of the new
#     feature.
# The copy goes to a directory of its own, never to a learner's exercises/.
# guard.sh STEP --build DIR makes only the copy and its two builds, in
# DIR/stepNN_x (no cgroup v2 needed); --built DIR then tests that copy, so
# that the VM, where a compile costs seconds, compiles nothing (.ci/run).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
# shellcheck source=tests/exercise/lib.bash
source tests/exercise/lib.bash

[ $# -ge 1 ] || { echo "usage: $0 STEP [--exercise-only]" >&2; exit 2; }
step=$(step_dir "$1") || exit 2
n=${step:4:2}
real_too=1 build='' built=''
shift
while [ $# -gt 0 ]; do
	case $1 in
	--exercise-only) real_too=0 ;;
	--build) build=$2 && shift ;;
	--built) built=$2 && shift ;;
	*) echo "usage: $0 STEP [--exercise-only] [--build DIR | --built DIR]" >&2; exit 2 ;;
	esac
	shift
done
# shellcheck source=tests/cgroup_v2.bash
source tests/cgroup_v2.bash
if [ -z "$build" ] && [ "$((10#$n))" -ge 4 ] && ! cgroup_v2_ready; then
	# Here the copy stops at the cgroup v2 check, before any stub: nothing
	# of the guard can be checked. Not a pass: say where it runs.
	echo "guard: $step needs cgroup v2 controllers, which this host lacks: run it in the VM (tests/exercise/ci-vm.sh)" >&2
	exit 1
fi
bad=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"	# as_nobody's tests reach the copy through it

if [ "$real_too" = 1 ] && [ -z "$build" ]; then
	make -s "$step/run"
	bats --tap "tests/$step.bats" >"$work/real.tap" 2>&1 || true
	while read -r result name; do
		case $result in
		pass) ;;
		skip) echo "--   real $step: skipped, not checked here (no cgroup v2): $name" ;;
		*) bad=$((bad + 1)); echo "BAD  real $step fails its own test: $name"; tap_block "$work/real.tap" "$name" ;;
		esac
	done < <(bats_results "$work/real.tap")
	echo "== real $step: $(bats_results "$work/real.tap" | grep -c '^pass') passed"
fi

base=$work	# the copy: $base/stepNN_x, the rootfs it finds: $base/rootfs
if [ -n "$built" ]; then
	base=$built
	[ -x "$base/$step/run" ] || { echo "BAD  no exercise copy built in $base/$step (guard.sh $n --build $base)"; exit 1; }
else
	if [ -n "$build" ]; then
		base=$build
		rm -rf "${base:?}/$step"
		mkdir -p "$base"
		chmod 755 "$base"
	fi
	EXERCISES=$base infra/exercise.sh new "$n" >/dev/null
	for cc in gcc clang; do
		command -v "$cc" >/dev/null || { echo "--   no $cc here: the copy is not built with it"; continue; }
		if ! "$cc" -O2 -g -Wall -Wextra -Werror -o "$base/$step/run-$cc" "$base/$step/main.c"; then
			bad=$((bad + 1)); echo "BAD  the exercise copy of $step does not build warning-free with $cc"
		fi
	done
	# Where the step looks for rootfs/ from its own path (.../stepNN_x/run).
	ln -sfn "$REPO/rootfs" "$base/rootfs"
	# The gcc build above is the program under test (a compile costs seconds
	# in the VM); without gcc, cc builds it.
	if [ -x "$base/$step/run-gcc" ]; then
		cp "$base/$step/run-gcc" "$base/$step/run"
	else
		"${CC:-cc}" -O2 -g -Wall -Wextra -Werror -o "$base/$step/run" "$base/$step/main.c" ||
			{ echo "BAD  the exercise copy did not build"; exit 1; }
	fi
	if [ -n "$build" ]; then
		echo "== exercise $step: built in $base/$step, $bad wrong"
		[ "$bad" -eq 0 ]
		exit
	fi
fi
copy=$base/$step
status=0
"$copy/run" true 2>"$work/stderr" || status=$?
if [ "$status" -ne 125 ] || ! grep -q 'TODO: .* is not written yet' "$work/stderr"; then
	bad=$((bad + 1)); echo "BAD  the fresh exercise does not fail loudly (status $status): $(head -n 1 "$work/stderr")"
else
	echo "ok   the fresh exercise fails loudly: $(head -n 1 "$work/stderr")"
fi
# The listed tests, but those marked [early] (the copy keeps that code).
mapfile -t expected < <(awk -v p="step$n: " '
	/^[^ \t#]/ { name = index($0, p) == 1 ? $0 : ""; next }
	name != "" && /^[ \t]/ { if ($0 !~ /^[ \t]+\[early\]/) print name; name = "" }' tests/prev_step_failures.txt)
[ ${#expected[@]} -gt 0 ] || { echo "BAD  tests/prev_step_failures.txt lists no test for $step"; exit 1; }
# Only those run against the copy (bats -f with their names, quoted as a
# regex): the others are not checked here, and each costs seconds in the VM.
# shellcheck disable=SC2016 # (a sed script)
filter=$(printf '%s\n' "${expected[@]}" | sed 's/[][\.*^$()+?{}|]/\\&/g' | paste -sd '|')
STEP_BIN=$copy/run bats --tap -f "^($filter)\$" "tests/$step.bats" >"$work/exercise.tap" 2>&1 || true
declare -A result=()
while read -r r name; do result[$name]=$r; done < <(bats_results "$work/exercise.tap")
[ ${#result[@]} -gt 0 ] || { bad=$((bad + 1)); echo "BAD  no test ran against the exercise:"; cat "$work/exercise.tap"; }
fails=0 unchecked=0
for name in "${expected[@]}"; do
	case ${result[$name]:-missing} in
	fail) fails=$((fails + 1)) ;;
	skip) unchecked=$((unchecked + 1)); echo "--   exercise: skipped, not checked here (no cgroup v2): $name" ;;
	*) bad=$((bad + 1)); echo "BAD  the fresh exercise of $step does not fail (${result[$name]:-missing}): $name" ;;
	esac
done
echo "== exercise $step: $fails of ${#expected[@]} listed tests fail on the fresh copy, $unchecked not checked here, $bad wrong"
[ "$bad" -eq 0 ]
