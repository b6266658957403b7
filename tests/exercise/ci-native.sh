#!/usr/bin/env bash
# CI, natively (no cgroup v2 needed): each of steps 01-03's tests against the
# step before (prev_step.sh), the exercise guard for steps 01-03 (guard.sh),
# and one exercise driven to green (fill_to_green.sh). Steps 04-06:
# tests/exercise/ci-vm.sh, in the cgroup v2 VM. Prints each part's wall time.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rc=0
part() {
	local start=${EPOCHREALTIME/./} status=0
	"$@" || status=$?
	[ "$status" -eq 0 ] || rc=1
	echo "== ${*#"$here"/}: $( ((status == 0)) && echo ok || echo FAILED) in $(( (${EPOCHREALTIME/./} - start) / 1000 )) ms"
}
start=${EPOCHREALTIME/./}
for step in 01 02 03; do part "$here/prev_step.sh" "$step"; done
for step in 01 02 03; do part "$here/guard.sh" "$step"; done
part "$here/fill_to_green.sh" 02
echo "== exercise checks (native): $( ((rc == 0)) && echo ok || echo FAILED) in $(( (${EPOCHREALTIME/./} - start) / 1000000 )) s"
exit "$rc"
