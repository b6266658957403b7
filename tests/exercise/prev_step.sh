#!/usr/bin/env bash
# tests/exercise/prev_step.sh STEP: run tests/stepNN_x.bats against the step
# before it (STEP_BIN; for step01, tests/exercise/plain_exec.sh, no runtime)
# and check the outcome against tests/prev_step_failures.txt: the tests listed
# there for step NN must fail, every other test must pass.
#   - a listed test that passes cannot fail: it does not test the new feature;
#   - an unlisted test that fails depends on something else than the feature.
# Tests skipped because this host has no cgroup v2 are "not checked here": the
# VM run (tests/exercise/ci-vm.sh) checks them, where nothing may skip.
# Exit status: 0 when everything checked holds, 1 otherwise, 2 on bad usage.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
# shellcheck source=tests/exercise/lib.bash
source tests/exercise/lib.bash

[ $# -eq 1 ] || { echo "usage: $0 STEP   (01 to 06)" >&2; exit 2; }
step=$(step_dir "$1") || exit 2
n=${step:4:2}
if [ "$n" = 01 ]; then
	prev=tests/exercise/plain_exec.sh
	prev_name="a plain exec (tests/exercise/plain_exec.sh)"
else
	prev_name=$(step_dir $((10#$n - 1)))
	prev=$prev_name/run
	make -s "$prev"
fi
list=tests/prev_step_failures.txt

# The names listed for this step, checked for a justification each.
mapfile -t expected < <(awk -v p="step$n: " '
	/^#/ || /^$/ { next }
	/^[^ \t]/ { if (name != "" && !why) bad = bad name "\n"; name = $0; why = 0; if (index($0, p) == 1) print; next }
	{ why = 1 }
	END { if (name != "" && !why) bad = bad name "\n"; if (bad != "") { printf "no justification: %s", bad > "/dev/stderr"; exit 1 } }' "$list")

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== $step's tests against $prev_name"
STEP_BIN="$REPO/$prev" bats --tap "tests/$step.bats" >"$log" 2>&1 || true

declare -A listed=() seen=()
for name in "${expected[@]}"; do listed[$name]=1; done
bad=0 fails=0 passes=0 unchecked=0
while read -r result name; do
	seen[$name]=1
	case $result/${listed[$name]:+listed} in
	fail/listed) fails=$((fails + 1)); echo "ok   fails as listed: $name" ;;
	pass/) passes=$((passes + 1)); echo "ok   passes, not listed: $name" ;;
	pass/listed) bad=$((bad + 1)); echo "BAD  passes on $prev_name, but is listed to fail (a test that cannot fail): $name" ;;
	fail/) bad=$((bad + 1)); echo "BAD  fails on $prev_name, not listed (it depends on something else): $name"
		tap_block "$log" "$name" ;;
	skip/*) unchecked=$((unchecked + 1)); echo "--   skipped, not checked here (no cgroup v2; the VM run checks it): $name" ;;
	esac
done < <(bats_results "$log")
for name in "${expected[@]}"; do
	[ -n "${seen[$name]:-}" ] && continue
	bad=$((bad + 1))
	echo "BAD  listed in $list but not a test of tests/$step.bats: $name"
done
if [ ${#seen[@]} -eq 0 ]; then
	echo "BAD  no test ran; bats said:"
	cat "$log"
	bad=$((bad + 1))
fi
echo "== $step against $prev_name: $fails fail as listed, $passes pass, $unchecked not checked here (skipped), $bad wrong"
[ "$bad" -eq 0 ]
