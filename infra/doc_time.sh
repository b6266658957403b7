#!/bin/bash
# make doc-time: how long the workshop document takes an attendee, by a
# model calibrated against a measured run (issue 14, recalibrated in issue
# 20 §5), per chapter (## heading) of the main path and of the appendix
# (## 付録 ...), and the run-of-show of a 4-hour and a 3-hour session
# derived from it (issue 20 §5, issue 21 §6).
#
# The model, attendee-seconds:
#   prose   every character outside fenced blocks and HTML comments
#           (headings and tables included), read at PROSE_CPM a minute;
#   term    each non-blank line of a <!-- term: N --> block: TERM_S to paste
#           it and read a short output;
#   output  each line of its <!-- output --> block past the first
#           OUTPUT_FREE lines: OUTPUT_S (a long output is read line by line);
#   diff    a `make diff STEP=N` line: what the command prints, counted by
#           running infra/step_diff.sh, DIFF_S a line (OUTLINE=1: OUTPUT_S
#           a line); the output block after it is then not counted again;
#   switch  a term block in the other terminal than the term block before
#           it: SWITCH_S (find the other window, see where its shell is);
#   read    a prose instruction to read a file ("`x/main.c` を ... 読んで"):
#           READ_S;
#   c       each line of a <!-- c: ... --> excerpt: C_LPM lines a minute;
#   diagram each line: DIAGRAM_S;
#   demo    a <!-- notest: demo ... --> block is what the instructor shows
#           on the projector: not attendee time; its lines (a `make diff`:
#           the lines it prints) cost DEMO_S each of instructor time;
#   other   any other block shown, not typed (notest): OTHER_S a line.
#
# Calibration data (issue 20 §5): an attendee who pasted every block on a
# cgroup v2 host and read every output (chapters 2-3 done before) took about
# 165 minutes, where the old model (prose, term, c, diagram, other only)
# said 143; the document at ecf44da is taken as the one measured (the old
# model gives it 143.9). A careful estimate that reads each diff line at
# 1-2.5 s gives 175-210; the measured attendee skimmed the diffs.
#   PROSE_CPM, C_LPM, TERM_S, DIAGRAM_S, OTHER_S: issue 14, unchanged
#   (Japanese technical prose 400-600 characters a minute; 15 lines of C a
#   minute for code one reads to understand; 25 s a pasted line).
#   DIFF_S 0.7: the measured gap (165 - 143.9 = 21.1 min) less the other new
#   terms (4.0 min on that document) is 17.1 min over the 1509 lines the
#   five diffs printed (298/27/475/575/134 for STEP=02..06, measured with
#   make diff STEP=N | wc -l; the issue's 238/27/449/563/124 were an earlier
#   state of the steps): 0.68 s a line, rounded to 0.7. With it, ecf44da's
#   document comes out at 165.5.
#   OUTPUT_FREE 5, OUTPUT_S 2, SWITCH_S 10, READ_S 240: estimates, not
#   measured one by one; together they are the 4.0 minutes above. A 5-line
#   output is read within TERM_S, a longer one (ip link, ps, /proc/mounts)
#   at 2 s a line; a change of terminal is a few seconds to find the window
#   and its prompt (ecf44da: 22 on the main path); step01's "read main.c from main"
#   was four minutes to open the file and follow main (chapter 9 now shows
#   main as an excerpt, so the main path has no such instruction left).
#   DEMO_S 0.3, DEMO_FACTOR 0.5, TALK, PREWORK_CHECK: the instructor's side,
#   estimates too: paging through a diff, stopping at the functions the
#   outline names (575 lines of step05: about 3 minutes).
#
# The run-of-show adds what the model leaves out: instructor talk and
# questions (TALK, minutes per chapter; 55 in all, the issue's "talk,
# questions and two breaks add about 75 minutes" less two 10-minute
# breaks), the day's check of the pre-work (PREWORK_CHECK), the breaks, and
# for the 3-hour cut the sections that become an instructor demo (their
# attendee time x DEMO_FACTOR as instructor time) or homework (no time).
#
# Usage: infra/doc_time.sh [FILE]   (default: infra/container_runtime_ja.md)
#        infra/doc_time.sh --tsv [FILE]   one "chapter<TAB>minutes" a line,
#          then "main", "appendix", "plan4", "plan3" totals, for tests
#        infra/doc_time.sh --plan [FILE]  the run-of-show tables (Markdown),
#          as the document's 時間配分 and infra/instructor_ja.md show them
# The run-of-show's own table in the document (between <!-- doc-time plan -->
# and <!-- doc-time plan end -->) is not counted, so that it can hold the
# numbers it is made from.
set -euo pipefail

PROSE_CPM=450   # Japanese prose, characters a minute (issue 14)
C_LPM=15        # C excerpts, lines a minute (issue 14)
TERM_S=25       # a command line pasted, a short output read (issue 14)
DIAGRAM_S=3     # a line of a diagram (issue 14)
OTHER_S=4       # a line of other code shown but not typed (issue 14)
OUTPUT_FREE=5   # output lines read within TERM_S (issue 20 §5 calibration)
OUTPUT_S=2      # each output line past those (issue 20 §5 calibration)
DIFF_S=0.7      # a line `make diff` prints, skimmed (issue 20 §5 calibration)
SWITCH_S=10     # a change of terminal (issue 20 §5 calibration)
READ_S=240      # "read this file" in the prose (issue 20 §5 calibration)
DEMO_S=0.3      # a line the instructor pages through on the projector
DEMO_FACTOR=0.5 # a section the instructor demonstrates instead: half its
#                 attendee time (one person types, nobody waits for a room)
PREWORK_CHECK=5 # chapters 2-3 are pre-work: on the day, doctor's line and rootfs/
BREAK=10        # minutes a break
START=13:00     # the session's first minute, for the clock column
# Instructor talk and questions, minutes, by chapter number (1..10).
TALK=(0 5 0 0 7 8 5 8 6 10 6)
# The 3-hour cut: "### section title regex<TAB>demo|homework".
CUT3=$'^リポジトリの構成\thomework
^4\\.2 \tdemo
^4\\.3 \tdemo
^5\\.2 \thomework
^5\\.3 \tdemo
^6\\.2 \thomework
^7\\.5 \thomework
^8\\.[1-6] \tdemo
^9\\.[2-6] \tdemo
^このコンテナの root\thomework
^次のステップ\thomework'

mode=''
case ${1:-} in
--tsv | --plan)
	mode=${1#--}
	shift
	;;
esac
here=$(cd "$(dirname "$0")" && pwd)
doc=${1:-$here/container_runtime_ja.md}
[ -r "$doc" ] || {
	echo "doc_time.sh: cannot read $doc" >&2
	exit 2
}

# The lines each `make diff STEP=N [OUTLINE=1]` prints, for the awk below.
diff_lines=''
for s in 2 3 4 5 6; do
	full=$("$here/step_diff.sh" "$s" </dev/null | wc -l)
	outline=$("$here/step_diff.sh" "$s" 1 </dev/null | wc -l)
	diff_lines+="$s $full $outline;"
done

# LC_ALL=C: awk counts bytes; a UTF-8 character is the bytes that are not
# continuation bytes (0x80-0xBF), which works in mawk and gawk alike.
LC_ALL=C awk -v mode="$mode" -v cpm="$PROSE_CPM" -v clpm="$C_LPM" \
	-v term_s="$TERM_S" -v diag_s="$DIAGRAM_S" -v other_s="$OTHER_S" \
	-v out_free="$OUTPUT_FREE" -v out_s="$OUTPUT_S" -v diff_s="$DIFF_S" \
	-v switch_s="$SWITCH_S" -v read_s="$READ_S" -v demo_s="$DEMO_S" \
	-v demo_factor="$DEMO_FACTOR" -v prework="$PREWORK_CHECK" \
	-v brk="$BREAK" -v start_clock="$START" -v talk_list="${TALK[*]}" \
	-v cut3="$CUT3" -v diff_lines="$diff_lines" '
function chars(s) { gsub(/[\200-\277]/, "", s); return length(s) }
function start(name) {
	n++; name_[n] = name; prose[n] = 0; secs[n] = 0; demo[n] = 0
	appendix[n] = (name ~ /^付録/) || (n > 1 && appendix[n - 1])
	num[n] = (name ~ /^[0-9]+\. /) ? name + 0 : 0
	section("")
}
# A section: the ### heading within chapter n (its prose and blocks, for the
# 3-hour cut); "" is the chapter text before its first ###.
function section(title) {
	ns++; schap[ns] = n; sname[ns] = title; ssecs[ns] = 0
}
function add(s) { secs[n] += s; ssecs[ns] += s }
function add_prose(c) { prose[n] += c; ssecs[ns] += c / cpm * 60 }
function clock(m,   h) { h = int(m / 60); return sprintf("%d:%02d", h, m - h * 60) }
BEGIN {
	start("(前書き)")
	split(diff_lines, d, ";")
	for (i in d) if (split(d[i], f, " ") == 3) { full[f[1]] = f[2]; outl[f[1]] = f[3] }
	split(talk_list, talk, " ")
	split(start_clock, sc, ":"); t0 = sc[1] * 60 + sc[2]
	ncut = split(cut3, cl, "\n")
	for (i = 1; i <= ncut; i++) { split(cl[i], f, "\t"); cut_re[i] = f[1]; cut_kind[i] = f[2] }
}
# The run-of-show table itself: not counted.
/^<!-- doc-time plan -->/ { skip = 1; next }
/^<!-- doc-time plan end -->/ { skip = 0; next }
skip { next }
# An HTML comment: a marker before a fence, or a note to editors.
in_comment { if ($0 ~ /-->/) in_comment = 0; next }
!in_fence && /^<!--/ {
	if ($0 !~ /-->/) { in_comment = 1; next }
	kind = $0; arg = $0
	sub(/^<!-- */, "", kind); sub(/[: ].*/, "", kind)
	sub(/^<!-- *[a-z]+:? */, "", arg); sub(/ *-->.*/, "", arg)
	if (kind == "notest" && arg ~ /^demo/) kind = "demo"
	if (kind == "term") {
		if (last_term != "" && arg != last_term) add(switch_s)
		last_term = arg
	}
	next
}
!in_fence && /^```/ { in_fence = 1; out_n = 0; next }
in_fence && /^```$/ {
	in_fence = 0
	if (kind == "output" && !after_diff && out_n > out_free) add((out_n - out_free) * out_s)
	if (kind == "term") after_diff = term_diff
	else if (kind == "output") after_diff = 0
	term_diff = 0; kind = ""; next
}
in_fence {
	if (kind == "term") {
		if ($0 ~ /[^ \t]/) add(term_s)
		if (match($0, /make diff STEP=[0-9]+/)) {
			s = substr($0, RSTART + 15, RLENGTH - 15) + 0
			if ($0 ~ /OUTLINE=1/) add(outl[s] * out_s)
			else add(full[s] * diff_s)
			term_diff = 1
		}
	}
	else if (kind == "output") out_n++
	else if (kind == "demo") {
		if (match($0, /make diff STEP=[0-9]+/) && $0 !~ /OUTLINE=1/)
			demo[n] += full[substr($0, RSTART + 15, RLENGTH - 15) + 0] * demo_s
		else demo[n] += demo_s
	}
	else if (kind == "c") add(60 / clpm)
	else if (kind == "diagram") add(diag_s)
	else add(other_s)
	next
}
/^## / { start(substr($0, 4)) }
/^### / { section(substr($0, 5)) }
/`[^`]*\/[^`]*`[^`]*を[^。]*読んで/ { add(read_s) }
{ add_prose(chars($0)) }
# short("5.2 マウントの伝播（propagation）"): "5.2 マウントの伝播", and a
# chapter "4. PID 名前空間（CLI）": "4 PID 名前空間".
function short(t) {
	sub(/（[^）]*）$/, "", t); sub(/: .*/, "", t); sub(/^[0-9]+\. /, substr(t, 1, index(t, ".") - 1) " ", t)
	return t
}
function row(clk, what, att, ins, m) {
	printf "| %s | %s | %s | %s | %d 分 |\n", clk, what, att, ins, m
}
# plan(hours, breaks): the run-of-show; prints it in mode plan, returns the
# total minutes.
function plan(hours, cut,   i, c, t, a, dm, m, total, att, ins, s, k, moved, hw, nd, dl) {
	if (mode == "plan") {
		printf "| 時刻 | 章 | 受講者が手を動かす | 講師が話す・見せる | 分 |\n"
		printf "| --- | --- | --- | --- | --- |\n"
	}
	t = t0
	for (i = 1; i <= n; i++) {
		c = num[i]
		if (c < 1 || c > 10 || appendix[i] || c == 3) continue
		a = prose[i] / cpm + secs[i] / 60; dm = demo[i] / 60; moved = ""; hw = ""; nd = 0
		if (cut) for (s = 1; s <= ns; s++) {
			if (schap[s] != i) continue
			for (k = 1; k <= ncut; k++) if (sname[s] ~ cut_re[k]) {
				a -= ssecs[s] / 60
				if (cut_kind[k] == "demo") { dm += ssecs[s] / 60 * demo_factor; nd++; dl[nd] = short(sname[s]) }
				else hw = hw (hw == "" ? "" : "、") short(sname[s])
			}
		}
		# Three demo sections or more: "8.1〜8.6" (the section numbers).
		if (nd >= 3) moved = substr(dl[1], 1, index(dl[1], " ") - 1) "〜" substr(dl[nd], 1, index(dl[nd], " ") - 1)
		else for (k = 1; k <= nd; k++) moved = moved (moved == "" ? "" : "、") dl[k]
		if (demo[i] > 0 && moved == "") moved = "`make diff` の全体"
		if (c == 1) { ins = "導入（1 章を話す）"; m = a + talk[c + 1]; att = "聞く" (hw == "" ? "" : "（宿題: " hw "）"); a = 0 }
		else if (c == 2) { ins = "事前課題で困っている受講者に付く"; att = "`sudo make doctor` の最後の行と `rootfs/` を確かめる"; m = prework }
		else {
			att = sprintf("手を動かす %.0f 分", a)
			ins = sprintf("説明と質疑 %d 分", talk[c + 1])
			if (dm > 0) ins = ins sprintf("、デモ %.0f 分", dm)
			if (moved != "") ins = ins "（デモ: " moved "）"
			if (hw != "") att = att "（宿題: " hw "）"
			m = a + talk[c + 1] + dm
		}
		m = int(m + 0.5)
		if (mode == "plan") row(clock(t), c == 2 ? "2〜3 事前課題" : short(name_[i]), att, ins, m)
		t += m
		if (c == 5 && hours == 4 || c == 7 && hours == 3 || c == 8 && hours == 4) {
			if (mode == "plan") row(clock(t), "", "休憩", "", brk)
			t += brk
		}
	}
	total = t - t0
	if (mode == "plan") {
		row(clock(t), "", "質疑、予備", "", hours * 60 - total)
		printf "| %s | | 終了（%d 時間） | | |\n", clock(t0 + hours * 60), hours
	}
	return total
}
END {
	for (i = 1; i <= n; i++) {
		m[i] = prose[i] / cpm + secs[i] / 60
		if (appendix[i]) { ta += m[i]; pa += prose[i] } else { tm += m[i]; pm += prose[i] }
	}
	if (mode == "plan") {
		print "4 時間（休憩 2 回）:"
		print ""
		plan(4, 0)
		print ""
		print "3 時間（休憩 1 回。デモと宿題に回す節は表の中に書いてあります）:"
		print ""
		plan(3, 1)
		exit
	}
	if (mode == "tsv") {
		for (i = 1; i <= n; i++) printf "%s\t%.1f\n", name_[i], m[i]
		printf "main\t%.1f\nappendix\t%.1f\n", tm, ta
		printf "plan4\t%d\nplan3\t%d\n", plan(4, 0), plan(3, 1)
		exit
	}
	printf "attendee-minutes: prose %d chars/min, C %d lines/min, %d s a pasted line,\n", cpm, clpm, term_s
	printf "%s s a diff line, %d s an output line past %d, %d s a terminal switch, %d s a file to read,\n", diff_s, out_s, out_free, switch_s, read_s
	printf "%d s a diagram line, %d s a line of other code shown (no instructor talk, no breaks)\n\n", diag_s, other_s
	printf "%7s %8s  %s\n", "minutes", "prose", "chapter"
	for (i = 1; i <= n; i++) {
		if (appendix[i] && !shown) { printf "%7.1f %8d  main path total\n\n", tm, pm; shown = 1 }
		printf "%7.1f %8d  %s\n", m[i], prose[i], name_[i]
	}
	if (!shown) printf "%7.1f %8d  main path total\n", tm, pm
	else printf "%7.1f %8d  appendix total\n", ta, pa
	printf "\nsession: 4 hours planned %d minutes, 3 hours %d (make doc-time PLAN=1: the tables)\n", plan(4, 0), plan(3, 1)
}' "$doc"
