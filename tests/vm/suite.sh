#!/bin/bash
# Inside the cgroup v2 VM (run by run-in-vm.sh): one boot for both halves of
# what CI runs there, the bats files that need cgroup v2 and the document's
# chapters that a native run skips. Each part is announced and timed on lines
# of its own, so that .ci/run can cut the log into parts:
#
#   == vm-part bats
#   ...its TAP output...
#   == vm-part bats: status S, T s
#   == vm-part doc
#   ...
#   == vm-part doc: status S, T s
#
#   tests/vm/suite.sh [--exercise [--built DIR] [--prev STEPS] [--guard STEPS]]
#                     [--doc DOC_ONLY] [BATS_ARG...]
#
# Without --doc the document is not run; without BATS_ARGs (files, and
# options such as --filter-tags vm), bats is not;
# --exercise adds the exercise mode's checks of steps 04-06
# (tests/exercise/ci-vm.sh), with --built the exercise copies made in DIR
# before the boot (guard.sh --build), with --prev and --guard only those
# steps of each half. Exits 0 when every part passed, else 1.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2

doc='' exercise='' built='' exercise_args=()
if [ "${1:-}" = --exercise ]; then
	exercise=1
	shift
	if [ "${1:-}" = --built ]; then
		built=$2
		shift 2
	fi
	while [ "${1:-}" = --prev ] || [ "${1:-}" = --guard ]; do
		exercise_args+=("$1" "$2")
		shift 2
	done
fi
if [ "${1:-}" = --doc ]; then
	doc=$2
	shift 2
fi
rc=0

part() { # part NAME COMMAND...: run it, then print its status and time
	local name=$1 start status=0 now
	shift
	echo "== vm-part $name"
	start=${EPOCHREALTIME/./}
	"$@" || status=$?
	now=${EPOCHREALTIME/./}
	echo "== vm-part $name: status $status, $(((now - start) / 1000000)) s"
	((status == 0)) || rc=1
}

if (($#)); then
	# signals.bats runs steps 01-03 in CI's native stage; here only 04-06.
	part bats env WORKSHOP_CGROUP_STEPS_ONLY=1 bats -T "$@"
fi
if [ -n "$exercise" ]; then
	part exercise env EXERCISE_BUILT="$built" tests/exercise/ci-vm.sh "${exercise_args[@]}"
fi
if [ -n "$doc" ]; then
	part doc env DOC_ONLY="$doc" DOC_BLOCK_LINES=1 tests/doc/terminal.sh
fi
exit "$rc"
