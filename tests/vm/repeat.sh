#!/bin/bash
# Run the tests of one bats file whose names match a regex N times over, and
# count the runs that failed: how a flaky test is shown to hold (issue 22).
#
#   tests/vm/repeat.sh N REGEX FILE
#   tests/vm/run-in-vm.sh tests/vm/repeat.sh 50 'killed during setup' tests/faults.bats
#
# A run counts as passed only when it ran at least one test, every test
# passed, and none skipped. The last line: "repeat: N runs, F failed".
# Exits 0 when no run failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2

if [ $# -ne 3 ] || [[ ! $1 =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: $0 N REGEX FILE" >&2
	exit 2
fi
n=$1 regex=$2 file=$3
failed=0
for ((i = 1; i <= n; i++)); do
	out=$(bats -T -f "$regex" "$file" 2>&1)
	if grep -q '^ok ' <<<"$out" && ! grep -q -e '^not ok ' -e '^ok .* # skip' <<<"$out"; then
		echo "run $i: $(grep '^ok ' <<<"$out" | sed 's/^ok [0-9]* //' | paste -sd ';')"
	else
		failed=$((failed + 1))
		echo "run $i FAILED:"
		printf '%s\n' "$out"
	fi
done
echo "repeat: $n runs, $failed failed"
((failed == 0))
