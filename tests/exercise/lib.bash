# shellcheck shell=bash
# Shared by tests/exercise/*.sh and infra/exercise.sh: steps by number.

# step_dir N: "step05_veth" for 5 or 05 (fails for a step that does not exist).
step_dir() {
	local n=${1#0} dir
	[[ $n =~ ^[1-9]$ ]] || { echo "no step '$1' (try 01 to 06)" >&2; return 1; }
	for dir in "$REPO"/step0"$n"_*/; do
		[ -d "$dir" ] || { echo "no step '$1' (try 01 to 06)" >&2; return 1; }
		dir=${dir%/}
		echo "${dir##*/}"
		return 0
	done
}

# bats_results FILE: TAP results as "pass NAME", "skip NAME", "fail NAME".
bats_results() {
	sed -nE -e 's/^ok [0-9]+ (.*) # skip.*$/skip \1/p; t' -e 's/^ok [0-9]+ (.*)$/pass \1/p; t' \
		-e 's/^not ok [0-9]+ (.*)$/fail \1/p' "$1"
}

# tap_block FILE NAME: bats's diagnostics ("# ..." lines) of a failed test.
tap_block() {
	awk -v name="$2" '
		/^(not )?ok [0-9]+ / { show = 0; t = $0; sub(/^(not )?ok [0-9]+ /, "", t); if (t == name) show = 1; next }
		show && /^#/ { print "    " $0 }' "$1"
}

# ci_part COMMAND...: run one part of a CI script, print its status and wall
# time, and set rc=1 (the caller's) when it failed; $here is taken off its name.
ci_part() {
	local start=${EPOCHREALTIME/./} status=0
	"$@" || status=$?
	# shellcheck disable=SC2034 # (the caller's rc)
	[ "$status" -eq 0 ] || rc=1
	echo "== ${*#"$here"/}: $( ((status == 0)) && echo ok || echo FAILED) in $(( (${EPOCHREALTIME/./} - start) / 1000 )) ms"
}
