#!/usr/bin/env bash
# The exercise mode (make exercise / check-exercise / hint / solution):
#
#   infra/exercise.sh new STEP       exercises/stepNN_x/main.c: the step with the
#                                    bodies infra/exercises.txt names replaced by
#                                    TODO stubs (FORCE=1 overwrites a copy)
#   infra/exercise.sh check STEP     build that copy, run tests/stepNN_x.bats
#                                    against it (STEP_BIN), a hint per failure
#                                    (VERBOSE=1: and what bats says)
#   infra/exercise.sh hint STEP      the next hunk of the real diff (RESET=1:
#                                    from the first again)
#   infra/exercise.sh solution STEP  the step itself: make diff STEP=NN
#   infra/exercise.sh solve STEP     (for the tests) put the step's own code
#                                    back into the copy's stubs
#
# STEP is 5 or 05. EXERCISES (default: exercises/ at the top of the
# repository, ignored by git) is where the copies go; the guard scripts in
# tests/exercise/ use another, so that they never touch a learner's copy.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/exercise/lib.bash
source "$REPO/tests/exercise/lib.bash"
EXERCISES=${EXERCISES:-$REPO/exercises}
CC=${CC:-cc}
CFLAGS=${CFLAGS:--O2 -g}
WARNINGS="-Wall -Wextra -Werror"
STUBS=$REPO/infra/exercises.txt
HINTS=$REPO/infra/exercise_hints.txt

die() {
	echo "exercise: $*" >&2
	exit 2
}

[ $# -eq 2 ] || die "usage: $0 new|check|hint|solution|solve STEP"
[ -n "$2" ] || die "which step? e.g. make $(case $1 in new) echo exercise ;; check) echo check-exercise ;; *) echo "$1" ;; esac) STEP=05"
action=$1
step=$(step_dir "$2") || exit 2
n=${step:4:2}
copy=$EXERCISES/$step
real=$REPO/$step/main.c

# The functions listed for this step, one "NAME MODE" a line.
functions() {
	awk -v n="$n" '$1 == n && /^[0-9]/ { print $2, ($3 == "" ? "fail" : $3) }' "$STUBS"
}

# The TODO text of one function (its indented lines).
todo_text() {
	awk -v n="$n" -v f="$1" '
		/^[0-9]/ { on = ($1 == n && $2 == f); next }
		/^[ \t]/ && on { sub(/^\t/, ""); print; next }
		{ on = 0 }' "$STUBS"
}

# func_range FILE NAME: "SIGNATURE BRACE END" line numbers of a function
# defined as in the steps: the signature on one line, "{" and "}" alone at
# the start of a line. Nothing when FILE has no such function.
func_range() {
	awk -v f="$2" '
		!start && index($0, " " f "(") && $0 !~ /;$/ && $0 ~ /^[a-z]/ { sig = NR; next }
		sig && !start { if ($0 == "{") start = NR; else sig = 0; next }
		start && $0 == "}" { print sig, start, NR; exit }' "$1"
}

# stub INDENT NAME MODE: the lines that stand where the code was.
stub() {
	local indent=$1 name=$2 mode=$3 line
	echo "$indent/*"
	echo "$indent * TODO(演習 step$n): $name"
	while IFS= read -r line; do
		echo "$indent * $line"
	done < <(todo_text "$name")
	echo "$indent * ヒント: make hint STEP=$n、確認: sudo make check-exercise STEP=$n"
	echo "$indent */"
	if [ "$mode" = cleanup ]; then
		printf '%sfprintf(stderr, STEP_NAME ": TODO: %s() is not written yet: what it removes stays on the host (sudo make reset)\\n");\n' "$indent" "$name"
	else
		echo "${indent}fail(EXIT_RUNTIME_FAILED, \"TODO: $name() is not written yet (make hint STEP=$n)\");"
	fi
}

# The header of an exercise copy, before its first #include; solve takes it
# out again (from its first line to the last #pragma).
header() {
	cat <<EOF
/* exercise copy of $step (make exercise STEP=$n)
 * 演習用のコピーです。「TODO(演習 step$n)」の所を書き、
 * sudo make check-exercise STEP=$n で確かめます。TODO の関数からしか
 * 使われない補助関数と変数は、書き終えるまで使われないので、その警告を
 * 次の 3 行で止めています。
 */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-parameter"
EOF
}

# Print the step's main.c with the stubs in place.
make_exercise() {
	local prev='' plan name mode range start end old_range
	[ "$n" = 01 ] || prev=$REPO/$(step_dir $((10#$n - 1)))/main.c
	plan=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: the directory of this call
	trap "rm -rf '$plan'" RETURN
	while read -r name mode; do
		range=$(func_range "$real" "$name")
		[ -n "$range" ] || die "$STUBS: no function $name in $step/main.c"
		read -r _ start end <<<"$range"
		old_range=
		[ -z "$prev" ] || old_range=$(func_range "$prev" "$name")
		if [ -z "$old_range" ]; then
			# New in this step: the whole body.
			stub $'\t' "$name" "$mode" >"$plan/$((start + 1))-$((end - 1))"
			continue
		fi
		# In the step before too: only the lines this step adds, run by run.
		local os oe first=1 line=$start from='' kind text
		read -r _ os oe <<<"$old_range"
		while IFS= read -r text; do
			kind=${text:0:1}
			line=$((line + 1))
			if [ "$kind" = + ]; then
				[ -n "$from" ] || from=$line
				continue
			fi
			if [ -n "$from" ]; then
				if [ "$first" = 1 ]; then
					stub "$(sed -n "${from}s/[^\t].*//p" "$real")" "$name" "$mode" >"$plan/$from-$((line - 1))"
					first=0
				else
					echo "$(sed -n "${from}s/[^\t].*//p" "$real")/* TODO(演習 step$n): $name の続き（上の TODO を見てください） */" \
						>"$plan/$from-$((line - 1))"
				fi
				from=
			fi
		done < <(diff --old-line-format='' --new-line-format='+%L' --unchanged-line-format='=%L' \
			<(sed -n "$((os + 1)),$((oe - 1))p" "$prev") <(sed -n "$((start + 1)),$((end - 1))p" "$real"); echo '=')
		[ "$first" = 0 ] || die "$STUBS: $name in $step adds no line to the step before"
	done < <(functions)
	[ -n "$(ls "$plan")" ] || die "$STUBS: no function listed for step $n"
	# Replace the planned ranges, and put the header before the first #include.
	local header_file
	header_file=$(mktemp)
	header >"$header_file"
	awk -v dir="$plan" -v header="$header_file" '
		BEGIN {
			ls = "ls " dir
			while ((ls | getline f) > 0) { split(f, r, "-"); from[r[1]] = r[2]; file[r[1]] = dir "/" f }
		}
		!done_header && /^#include/ { while ((getline l < header) > 0) print l; done_header = 1 }
		skip_to { if (NR == skip_to) skip_to = 0; next }
		NR in from { while ((getline l < file[NR]) > 0) print l; if (from[NR] > NR) skip_to = from[NR]; next }
		{ print }' "$real"
	rm -f "$header_file"
}

# Build the copy (warning-free, as the steps are), next to a link to the
# repository's rootfs: the step finds rootfs/ from its own path.
build_copy() {
	[ -f "$copy/main.c" ] || die "no exercise copy $copy/main.c: make exercise STEP=$n first"
	ln -sfn "$REPO/rootfs" "$EXERCISES/rootfs"
	echo "$CC $CFLAGS $WARNINGS -o ${copy#"$REPO"/}/run ${copy#"$REPO"/}/main.c" >&2
	# shellcheck disable=SC2086 # CFLAGS and WARNINGS are lists of options
	$CC $CFLAGS $WARNINGS -o "$copy/run" "$copy/main.c"
}

case $action in
new)
	if [ -e "$copy/main.c" ] && [ "${FORCE:-}" != 1 ]; then
		die "$copy/main.c exists (your work?): not overwritten; FORCE=1 starts it again"
	fi
	mkdir -p "$copy"
	make_exercise >"$copy/main.c.new"
	mv "$copy/main.c.new" "$copy/main.c"
	rm -f "$copy/run" "$copy/.hint"
	echo "wrote ${copy#"$REPO"/}/main.c: $step with these functions to write (TODO):"
	functions | awk '{ print "  " $1 }'
	echo "check it: sudo make check-exercise STEP=$n   hints: make hint STEP=$n"
	;;
check)
	[ "$(id -u)" -eq 0 ] || die "the tests run containers, as root: sudo make check-exercise STEP=$n"
	build_copy
	log=$(mktemp)
	trap 'rm -f "$log"' EXIT
	# What the copy says when a stub is still there (its first line).
	said=$("$copy/run" true 2>&1 >/dev/null | head -n 1) || true
	[ -z "$said" ] || echo "${copy#"$REPO"/}/run true: $said"
	echo "== tests/$step.bats against ${copy#"$REPO"/}/run"
	STEP_BIN=$copy/run bats --tap "$REPO/tests/$step.bats" >"$log" 2>&1 || true
	passed=0 failed=0 skipped=0
	while read -r result name; do
		case $result in
		pass) passed=$((passed + 1)); echo "ok   $name" ;;
		skip) skipped=$((skipped + 1)); echo "--   $name（cgroup v2 が無いので skip。VM で: sudo tests/vm/run-in-vm.sh make check-exercise STEP=$n）" ;;
		fail)
			failed=$((failed + 1))
			echo "NG   $name"
			hint=$(awk -v t="$name" '/^[^ \t#]/ { on = ($0 == t); next } on && /^[ \t]/ { sub(/^[ \t]+/, ""); print; exit }' "$HINTS")
			echo "     ヒント: ${hint:-（ヒントがありません: make hint STEP=$n）}"
			[ -z "${VERBOSE:-}" ] || tap_block "$log" "$name" | sed 's/^/ /'
			;;
		esac
	done < <(bats_results "$log")
	if [ $((passed + failed + skipped)) -eq 0 ]; then
		cat "$log"
		die "no test ran"
	fi
	echo "== $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ] || [ -n "${VERBOSE:-}" ] || echo "bats の詳しい出力: sudo make check-exercise STEP=$n VERBOSE=1"
	if [ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]; then
		echo "step$n のテストはすべて通りました。"
	elif [ "$failed" -eq 0 ]; then
		echo "確かめられたテストはすべて通りました（skip の分は cgroup v2 のホストで）。"
	fi
	[ "$failed" -eq 0 ]
	;;
hint)
	[ "$n" != 01 ] || die "step01 is the first step: there is no diff to hint from; read step01_pid/main.c (make solution STEP=01)"
	prev=$REPO/$(step_dir $((10#$n - 1)))/main.c
	mkdir -p "$copy"
	[ "${RESET:-}" != 1 ] || { rm -f "$copy/.hint"; echo "hints of step$n start again from the first"; }
	shown=$(cat "$copy/.hint" 2>/dev/null || echo 0)
	hunks=$(diff -up "$prev" "$real" | grep -c '^@@' || true)
	if [ "$shown" -ge "$hunks" ]; then
		echo "all $hunks hints of step$n are shown (make hint STEP=$n RESET=1 starts again)"
		exit 0
	fi
	shown=$((shown + 1))
	echo "== hint $shown of $hunks: ${prev#"$REPO"/} -> $step/main.c"
	diff -up "$prev" "$real" | awk -v k="$shown" '/^@@/ { h++ } h == k' || true
	echo "$shown" >"$copy/.hint"
	;;
solution)
	exec make --no-print-directory -C "$REPO" diff STEP="$n"
	;;
solve)
	[ -f "$copy/main.c" ] || die "no exercise copy $copy/main.c"
	solved=$(mktemp)
	cp "$copy/main.c" "$solved"
	while read -r name _; do
		read -r csig _ cend <<<"$(func_range "$solved" "$name")"
		read -r rsig _ rend <<<"$(func_range "$real" "$name")"
		{ head -n $((csig - 1)) "$solved"; sed -n "${rsig},${rend}p" "$real"; tail -n +$((cend + 1)) "$solved"; } >"$solved.new"
		mv "$solved.new" "$solved"
	done < <(functions)
	awk '/^\/\* exercise copy of / { skip = 1 } skip && /^#pragma GCC diagnostic/ { last = NR } { line[NR] = $0 }
		END { for (i = 1; i <= NR; i++) if (!(skip && i >= first && i <= last)) print line[i] }
		/^\/\* exercise copy of / && !first { first = NR }' "$solved" >"$copy/main.c"
	rm -f "$solved"
	echo "solved ${copy#"$REPO"/}/main.c with the code of $step"
	;;
*)
	die "unknown action '$action' (new, check, hint, solution, solve)"
	;;
esac
