#!/usr/bin/env bash
# CI, natively (no cgroup v2 needed): each of steps 01-03's tests against the
# step before (prev_step.sh), the exercise guard for steps 01-03 (guard.sh),
# and one exercise driven to green (fill_to_green.sh). Steps 04-06:
# tests/exercise/ci-vm.sh, in the cgroup v2 VM. Prints each part's wall time.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$here/../.." && pwd)
# shellcheck source=tests/exercise/lib.bash
source "$here/lib.bash"
rc=0
start=${EPOCHREALTIME/./}
for step in 01 02 03; do ci_part "$here/prev_step.sh" "$step"; done
for step in 01 02 03; do ci_part "$here/guard.sh" "$step"; done
ci_part "$here/fill_to_green.sh" 02
echo "== exercise checks (native): $( ((rc == 0)) && echo ok || echo FAILED) in $(( (${EPOCHREALTIME/./} - start) / 1000000 )) s"
exit "$rc"
