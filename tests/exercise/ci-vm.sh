#!/usr/bin/env bash
# CI, in the cgroup v2 VM:
#   flock /tmp/ws-vm.lock tests/vm/run-in-vm.sh tests/exercise/ci-vm.sh [--prev STEPS] [--guard STEPS]
# Each of steps 04-06's tests against the step before (prev_step.sh), and the
# exercise guard for steps 04-06 (guard.sh --exercise-only: the real steps'
# own tests run in make test-ci-vm already; GUARD_REAL=1 runs them here too).
# EXERCISE_BUILT=DIR: the copies guard.sh --build made there (natively, as
# make test-ci-vm does), not generated and compiled again here.
# --prev and --guard take the steps of each half ("04 05 06" when left out,
# "" for none): CI shares them out between its two cgroup v2 VMs.
# Steps 01-03: tests/exercise/ci-native.sh. Prints each part's wall time.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ -n "${WORKSHOP_TEST_VM:-}" ] || echo "note: not in the test VM: tests that need cgroup v2 skip (not checked here)"
REPO=$(cd "$here/../.." && pwd)
# shellcheck source=tests/exercise/lib.bash
source "$here/lib.bash"
prev_steps='04 05 06' guard_steps='04 05 06'
while [ $# -gt 0 ]; do
	case $1 in
	--prev) prev_steps=$2 ;;
	--guard) guard_steps=$2 ;;
	*) echo "usage: $0 [--prev STEPS] [--guard STEPS]" >&2; exit 2 ;;
	esac
	shift 2
done
rc=0
start=${EPOCHREALTIME/./}
only=--exercise-only
[ "${GUARD_REAL:-}" != 1 ] || only=
for step in $prev_steps; do ci_part "$here/prev_step.sh" "$step"; done
built=()
[ -z "${EXERCISE_BUILT:-}" ] || built=(--built "$EXERCISE_BUILT")
for step in $guard_steps; do ci_part "$here/guard.sh" "$step" $only "${built[@]}"; done
echo "== exercise checks (VM): $( ((rc == 0)) && echo ok || echo FAILED) in $(( (${EPOCHREALTIME/./} - start) / 1000000 )) s"
exit "$rc"
