#!/usr/bin/env bash
# The document test: infra/container_runtime_ja.md is run as a learner would
# run it. `make test-doc` runs this in a throwaway cgroup v2 VM; as root it
# also runs directly (the cgroup parts are then skipped, with the reason, on
# a host without cgroup v2). See tests/doc/README.md.
#
#   tests/doc/run.sh            static checks, then the terminals
#   tests/doc/run.sh --static   only the static checks (no root needed)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
start=${EPOCHREALTIME/./}
rc=0

echo "== static: markers, C excerpts, names"
"$here/static.sh" || rc=1
if [ "${1:-}" != --static ]; then
	echo "== terminals: every command block typed into tmux"
	"$here/terminal.sh" || rc=1
fi

now=${EPOCHREALTIME/./}
elapsed=$(((now - start) / 1000000))
if ((rc == 0)); then
	echo "test-doc: passed in $((elapsed / 60)) min $((elapsed % 60)) s"
else
	echo "test-doc: FAILED (after $((elapsed / 60)) min $((elapsed % 60)) s)"
fi
exit "$rc"
