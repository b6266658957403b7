#!/bin/bash
# make diff STEP=N [OUTLINE=1]: what stepN adds to the step before it.
#
#   STEP     2, 02 and 002 name the same step (step02_...).
#   OUTLINE  1: not the diff but an outline of it: the functions the step
#            adds, each with the first sentence of the comment above it,
#            taken from the diff's added lines (no hand-kept list), and the
#            number of lines added and removed.
#   PAGER    when stdout is a terminal, the coloured diff goes through
#            DIFF_PAGER (default: less -RFX: colours kept, quits at once
#            when the diff fits the screen); DIFF_PAGER=cat turns it off.
#            Not a terminal (a pipe, a file, a test), or no TERM (or
#            TERM=dumb): plain diff, no pager.
#
# Usage: infra/step_diff.sh STEP [OUTLINE]
# Exits 0 (also when the files differ, which is the point here), 2 on a
# wrong STEP.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	echo "usage: make diff STEP=03 [OUTLINE=1]  (what step03 adds to step02)" >&2
	exit 2
}
step=${1:-}
outline=${2:-}
[[ $step =~ ^[0-9]+$ ]] || usage
n=$((10#$step))
new=$(printf 'step%02d' "$n")
old=$(printf 'step%02d' $((n - 1)))
new_dir=$(ls -d "$new"_* 2>/dev/null || true)
old_dir=$(ls -d "$old"_* 2>/dev/null || true)
if [ -z "$new_dir" ] || [ -z "$old_dir" ]; then
	echo "make diff: no step before $new" >&2
	exit 2
fi

# diff exits 1 when the files differ; 141 is SIGPIPE (piped into head).
run_diff() { # run_diff COLOR
	local s=0
	diff -up --color="$1" "$old_dir/main.c" "$new_dir/main.c" || s=$?
	[ "$s" -le 1 ] || [ "$s" -eq 141 ] || exit "$s"
}

if [ "$outline" = 1 ]; then
	run_diff never | awk -v title="$new_dir adds to $old_dir" '
	# A comment of added lines: collect it; a function definition right
	# after it (an added line at column 0 that ends in ")" with "(" in it)
	# gets the comment first sentence.
	/^\+\+\+ / || /^--- / { next }
	/^-/ { removed++; next }
	!/^\+/ { comment = ""; incomment = 0; next }
	{ added++; line = substr($0, 2) }
	line ~ /^\/\*/ { comment = ""; incomment = 1 }
	incomment {
		text = line
		sub(/^[ \t]*\/?\*+ ?/, "", text); sub(/ *\*\/.*$/, "", text)
		comment = comment (comment == "" ? "" : " ") text
		if (line ~ /\*\//) incomment = 0
		next
	}
	line ~ /^[a-z][a-z0-9_ \t*]*[ *][a-z_][a-z0-9_]*\(.*\)$/ && line !~ /;$/ {
		name = line
		sub(/\(.*/, "", name); sub(/.*[ *]/, "", name)
		first = comment
		if (match(first, /[.:?] [A-Z(]/)) first = substr(first, 1, RSTART)
		nf++; fname[nf] = name; fcomment[nf] = first
	}
	{ comment = "" }
	END {
		printf "%s: %d lines added, %d removed\n", title, added, removed
		if (nf == 0) { print "no new functions"; exit }
		printf "new functions (%d):\n", nf
		w = 0
		for (i = 1; i <= nf; i++) if (length(fname[i]) > w) w = length(fname[i])
		for (i = 1; i <= nf; i++) {
			if (fcomment[i] == "") printf "  %s\n", fname[i]
			else printf "  %-*s  %s\n", w, fname[i], fcomment[i]
		}
	}'
	exit 0
fi

# A terminal without TERM (or TERM=dumb) has no known size or colours:
# less would stop at "terminal is not fully functional", so no pager there.
if [ -t 1 ] && [ -n "${TERM:-}" ] && [ "$TERM" != dumb ]; then
	# shellcheck disable=SC2086 # DIFF_PAGER is a command line: split it.
	run_diff always | ${DIFF_PAGER:-less -RFX}
else
	run_diff never
fi
