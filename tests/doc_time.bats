#!/usr/bin/env bats
# infra/doc_time.sh (make doc-time): the attendee-minutes model of issue 14,
# recalibrated in issue 20 §5, the budget of the workshop document (a main
# path of at most 170 minutes with the pre-work, chapter 9 at most 55), and the run-of-show
# derived from it: 4 hours and a 3-hour cut, in the document's 時間配分 and
# the facilitator's guide exactly as make doc-time PLAN=1 prints them.
# The fenced blocks of the sample document are literal text.
# shellcheck disable=SC2016

load helpers

# minutes NAME_REGEX: the minutes of the one row of --tsv whose name matches.
minutes() {
	awk -F '\t' -v re="$1" '$1 ~ re { print $2; n++ } END { exit n != 1 }' <<<"$tsv"
}

# le A B: A <= B for decimals.
le() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'
}

setup() {
	tsv=$("$REPO/infra/doc_time.sh" --tsv)
}

@test "doc-time: the model counts prose, typed lines, C, diagrams and other code" {
	local doc="$BATS_TEST_TMPDIR/doc.md"
	# 450 characters of prose (a minute), 2 typed lines with an output block
	# (50 s), 15 lines of C (a minute), 10 diagram lines (30 s), 15 lines of
	# other code (60 s): 4.3 minutes, and an appendix of 4 typed lines.
	{
		echo '## 1. x'
		printf 'あ%.0s' $(seq 446)
		echo
		echo '<!-- term: 1 -->'
		printf '```bash\necho a\necho b\n```\n'
		echo '<!-- output -->'
		printf '```text\na\nb\n```\n'
		echo '<!-- c: step01_pid/main.c -->'
		echo '```c'
		seq 15
		echo '```'
		echo '<!-- diagram -->'
		echo '```text'
		seq 10
		echo '```'
		echo '<!-- notest: shown -->'
		echo '```bash'
		seq 15
		echo '```'
		echo '## 付録 A y'
		echo '<!-- term: 1 -->'
		printf '```bash\n1\n2\n3\n4\n```\n'
	} >"$doc"
	run -0 "$REPO/infra/doc_time.sh" --tsv "$doc"
	[ "${lines[1]}" = "$(printf '1. x\t4.3')" ] || { echo "$output"; false; }
	[[ $output == *"$(printf 'main\t4.3')"* ]]
	[[ $output == *"$(printf 'appendix\t1.7')"* ]]
}

@test "make doc-time prints every chapter and both totals" {
	run -0 make -s -C "$REPO" doc-time
	[[ $output == *"9. C で再実装"* ]]
	[[ $output == *"main path total"* ]]
	[[ $output == *"appendix total"* ]]
}

# The main path includes the pre-work (chapters 2-3, about 11 minutes, done
# before the day); what must fit the session is the run-of-show below.
@test "the main path of the document is at most 170 attendee-minutes" {
	local m
	m=$(minutes '^main$')
	le "$m" 170 || {
		echo "main path: $m minutes (budget 170)"
		false
	}
}

@test "chapter 9 (the C steps) is at most 55 attendee-minutes" {
	local m
	m=$(minutes '^9\. ')
	le "$m" 55 || {
		echo "chapter 9: $m minutes (budget 55)"
		false
	}
}

@test "doc-time: the recalibration counts diff lines, long outputs, terminal switches, files to read, demos" {
	local doc="$BATS_TEST_TMPDIR/doc.md" diff_lines outline_lines want
	diff_lines=$("$REPO/infra/step_diff.sh" 3 | wc -l)
	outline_lines=$("$REPO/infra/step_diff.sh" 3 1 | wc -l)
	{
		echo '## 9. x'
		# A 7-line output: 2 lines past the 5 free ones, 2 s each.
		printf '<!-- term: 1 -->\n```bash\nls\n```\n<!-- output -->\n```text\n1\n2\n3\n4\n5\n6\n7\n```\n'
		# Terminal 2 after terminal 1: a switch (10 s).
		printf '<!-- term: 2 -->\n```bash\nls\n```\n'
		# make diff: its lines at 0.7 s; its output block is not counted again.
		printf '<!-- term: 2 -->\n```bash\nmake diff STEP=3\n```\n<!-- output -->\n```text\n1\n2\n3\n4\n5\n6\n7\n8\n9\n```\n'
		# OUTLINE=1: its lines at 2 s.
		printf '<!-- term: 2 -->\n```bash\nmake diff STEP=03 OUTLINE=1\n```\n'
		# The instructor's demo: not attendee time.
		printf '<!-- notest: demo: on the projector -->\n```bash\nmake diff STEP=5\n```\n'
		# An instruction to read a file: 240 s (and its 1 character of prose).
		echo '`a/main.c` を読んでください'
	} >"$doc"
	want=$(awk -v d="$diff_lines" -v o="$outline_lines" 'BEGIN {
		s = 25 + 2 * 2 + 25 + 10 + 25 + d * 0.7 + 25 + o * 2 + 240
		c = 4 + 16   # "9. x" and the read line, in characters
		printf "%.1f", c / 450 + s / 60 }')
	run -0 "$REPO/infra/doc_time.sh" --tsv "$doc"
	[ "${lines[1]}" = "$(printf '9. x\t%s' "$want")" ] || { echo "want $want: $output"; false; }
}

@test "the 4-hour run-of-show fits 240 minutes with two breaks, the 3-hour cut 180" {
	local p4 p3
	p4=$(awk -F '\t' '$1 == "plan4" { print $2 }' <<<"$tsv")
	p3=$(awk -F '\t' '$1 == "plan3" { print $2 }' <<<"$tsv")
	echo "4 hours: $p4 minutes planned, 3 hours: $p3"
	[ -n "$p4" ] && [ "$p4" -le 240 ]
	[ -n "$p3" ] && [ "$p3" -le 180 ]
	run -0 "$REPO/infra/doc_time.sh" --plan
	# Two breaks in the 4-hour table, one in the 3-hour one; each ends on time.
	[ "$(sed -n '/^4 時間/,/^3 時間/p' <<<"$output" | grep -c '| 休憩 |')" -eq 2 ]
	[ "$(sed -n '/^3 時間/,$p' <<<"$output" | grep -c '| 休憩 |')" -eq 1 ]
	[[ $output == *"| 17:00 | | 終了（4 時間） | | |"* ]]
	[[ $output == *"| 16:00 | | 終了（3 時間） | | |"* ]]
	# The 3-hour cut names what moves to the instructor's demo and to homework.
	[[ $output == *"デモ: 9.2〜9.6"* ]]
	[[ $output == *"宿題: "* ]]
	# No row has negative minutes (the reserve at the end included).
	if grep '| -[0-9]* 分 |' <<<"$output"; then false; fi
}

# plan_in FILE: the lines between <!-- doc-time plan --> and its end.
plan_in() {
	awk '/^<!-- doc-time plan end -->/ { on = 0 } on; /^<!-- doc-time plan -->/ { on = 1 }' "$1"
}

# plan_is_current FILE: its plan is what make doc-time PLAN=1 prints now.
plan_is_current() {
	local want got
	want=$(make -s -C "$REPO" doc-time PLAN=1)
	got=$(plan_in "$1")
	[ -n "$got" ]
	[ "$got" = "$want" ] || {
		diff <(echo "$want") <(echo "$got")
		echo "regenerate: make -s doc-time PLAN=1, between the doc-time plan comments of $1"
		false
	}
}

@test "the document's 時間配分 is what make doc-time PLAN=1 prints" {
	plan_is_current "$REPO/infra/container_runtime_ja.md"
}

@test "the facilitator's guide's run-of-show is what make doc-time PLAN=1 prints" {
	plan_is_current "$REPO/infra/instructor_ja.md"
}

@test "the facilitator's guide passes the document's static check (markers, make targets, paths)" {
	run env DOC_FILE="$REPO/infra/instructor_ja.md" "$REPO/tests/doc/static.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"ok    names:"* ]]
}

@test "the facilitator's guide: the pre-work line attendees send back is doctor's one line" {
	local line
	line=$(sed -n 's/^ *\(sudo make -s doctor .*tail -n 1\)$/\1/p' "$REPO/infra/instructor_ja.md")
	[ -n "$line" ]
	# The suite runs as root; a host without sudo runs the line without it.
	command -v sudo >/dev/null || line=${line//sudo /}
	cd "$REPO"
	run -0 bash -c "$line"
	echo "$output"
	[ "${#lines[@]}" -eq 1 ]
	[[ $output =~ ^preflight\ status=(OK|NG)\ host=[^\ ]+\ kernel=$(uname -r)\ arch=$(uname -m)\  ]]
	[[ $output != *"make: ***"* ]]
}

@test "the facilitator's guide's pre-work mail installs what the document's 前提条件 installs" {
	# The document's line is checked against infra/packages.sh by deps.bats.
	local want got
	want=$(grep -o '^sudo apt-get install -y .*' "$REPO/infra/container_runtime_ja.md" | head -n 1)
	got=$(grep -o 'sudo apt-get install -y .*' "$REPO/infra/instructor_ja.md")
	[ -n "$want" ]
	[ "$got" = "$want" ] || { diff <(echo "$want") <(echo "$got"); false; }
}
