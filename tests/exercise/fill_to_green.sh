#!/usr/bin/env bash
# tests/exercise/fill_to_green.sh [STEP]: drive one exercise to green, as a
# learner would end: generate the copy (its tests fail), fill every stub with
# the step's own code (infra/exercise.sh solve), and check again: the copy is
# then the step's main.c byte for byte, and every test passes. Default: 02,
# whose three functions (one partly stubbed) run natively.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
# shellcheck source=tests/exercise/lib.bash
source tests/exercise/lib.bash
step=$(step_dir "${1:-02}") || exit 2
n=${step:4:2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
export EXERCISES=$work

infra/exercise.sh new "$n" >/dev/null
if infra/exercise.sh check "$n" >"$work/before.out" 2>&1; then
	cat "$work/before.out"
	echo "BAD  the fresh exercise of $step passes its tests"
	exit 1
fi
echo "ok   fresh exercise of $step: $(tail -n 1 "$work/before.out")"
infra/exercise.sh solve "$n" >/dev/null
if ! cmp -s "$work/$step/main.c" "$step/main.c"; then
	diff -u "$step/main.c" "$work/$step/main.c" | head -n 40
	echo "BAD  the filled copy is not $step/main.c"
	exit 1
fi
if ! infra/exercise.sh check "$n" >"$work/after.out" 2>&1; then
	cat "$work/after.out"
	echo "BAD  the filled exercise of $step fails its tests"
	exit 1
fi
if grep -q '^-- ' "$work/after.out"; then
	cat "$work/after.out"
	echo "BAD  tests were skipped: fill_to_green needs a step this host can run"
	exit 1
fi
echo "ok   filled exercise of $step: $(grep '^== .* passed' "$work/after.out")"
