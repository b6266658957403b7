#!/usr/bin/env bats
# infra/doc_time.sh (make doc-time): the attendee-minutes model of issue 14,
# and the budget of the workshop document: a main path of at most 165
# minutes, chapter 9 (the C steps) at most 55.
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

@test "the main path of the document is at most 165 attendee-minutes" {
	local m
	m=$(minutes '^main$')
	le "$m" 165 || {
		echo "main path: $m minutes (budget 165)"
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

@test "the document's 時間配分 table agrees with doc-time, chapter by chapter" {
	local doc="$REPO/infra/container_runtime_ja.md" chapter said want
	# The rows of the table: "| 4 | ... | 13 分 |"; 1〜3 is chapters 1-3 with
	# the title and the table of contents.
	while IFS='|' read -r _ chapter _ said _; do
		chapter=${chapter// /} said=${said// /}
		said=${said%分}
		case $chapter in
		1〜3) want=$(awk -F '\t' '$1 !~ /^([4-9]|10)\. / && $1 != "main" && $1 != "appendix" && $1 !~ /^付録/ { s += $2 } END { printf "%.0f", s }' <<<"$tsv") ;;
		[4-9] | 10) want=$(minutes "^$chapter\\. ") && want=$(printf '%.0f' "$want") ;;
		*) continue ;;
		esac
		echo "chapter $chapter: the table says $said, doc-time $want"
		[ "$said" -eq "$want" ]
	done < <(awk '/^\| 章 \| 内容 \| 目安 \|/ { on = 1; next } on && !/^\|/ { exit } on' "$doc")
}
