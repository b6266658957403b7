#!/bin/bash
# make doc-time: how long the workshop document takes an attendee, by a
# simple model (issue 14), per chapter (## heading) of the main path and of
# the appendix (## 付録 ...), and the totals.
#
#   prose   every character outside fenced blocks and HTML comments
#           (headings and tables included), read at PROSE_CPM a minute;
#   term    each non-blank line of a <!-- term: N --> block is typed and its
#           output read: TERM_S seconds (its <!-- output --> block counts
#           within those seconds);
#   c       each line of a <!-- c: ... --> excerpt: C_LPM lines a minute;
#   diagram each line: DIAGRAM_S seconds;
#   other   any other block shown, not typed (notest): OTHER_S a line.
#
# Instructor talk, questions and breaks are not in the model.
#
# Usage: infra/doc_time.sh [FILE]   (default: infra/container_runtime_ja.md)
#        infra/doc_time.sh --tsv [FILE]   one "chapter<TAB>minutes" a line
#        and "main<TAB>..." / "appendix<TAB>..." totals, for tests.
set -euo pipefail

PROSE_CPM=450 # Japanese prose, characters a minute
C_LPM=15      # C excerpts, lines a minute
TERM_S=25     # a command line typed, its output read
DIAGRAM_S=3   # a line of a diagram
OTHER_S=4     # a line of other code shown but not typed

tsv=''
if [ "${1:-}" = --tsv ]; then
	tsv=1
	shift
fi
doc=${1:-$(dirname "$0")/container_runtime_ja.md}
[ -r "$doc" ] || {
	echo "doc_time.sh: cannot read $doc" >&2
	exit 2
}

# LC_ALL=C: awk counts bytes; a UTF-8 character is the bytes that are not
# continuation bytes (0x80-0xBF), which works in mawk and gawk alike.
LC_ALL=C awk -v tsv="$tsv" -v cpm="$PROSE_CPM" -v clpm="$C_LPM" \
	-v term_s="$TERM_S" -v diag_s="$DIAGRAM_S" -v other_s="$OTHER_S" '
function chars(s) { gsub(/[\200-\277]/, "", s); return length(s) }
function start(name) {
	n++; name_[n] = name; prose[n] = 0; secs[n] = 0
	appendix[n] = (name ~ /^付録/) || (n > 1 && appendix[n - 1])
}
BEGIN { start("(前書き)") }
# An HTML comment: a marker before a fence, or a note to editors.
in_comment { if ($0 ~ /-->/) in_comment = 0; next }
!in_fence && /^<!--/ {
	if ($0 !~ /-->/) { in_comment = 1; next }
	kind = $0
	sub(/^<!-- */, "", kind); sub(/[: ].*/, "", kind)
	next
}
!in_fence && /^```/ { in_fence = 1; next }
in_fence && /^```$/ { in_fence = 0; kind = ""; next }
in_fence {
	if (kind == "term") { if ($0 ~ /[^ \t]/) secs[n] += term_s }
	else if (kind == "output") { }
	else if (kind == "c") secs[n] += 60 / clpm
	else if (kind == "diagram") secs[n] += diag_s
	else secs[n] += other_s
	next
}
/^## / { start(substr($0, 4)) }
{ prose[n] += chars($0) }
END {
	for (i = 1; i <= n; i++) {
		m[i] = prose[i] / cpm + secs[i] / 60
		if (appendix[i]) { ta += m[i]; pa += prose[i] } else { tm += m[i]; pm += prose[i] }
	}
	if (tsv) {
		for (i = 1; i <= n; i++) printf "%s\t%.1f\n", name_[i], m[i]
		printf "main\t%.1f\nappendix\t%.1f\n", tm, ta
		exit
	}
	printf "attendee-minutes: prose %d chars/min, C %d lines/min, %d s a typed line,\n", cpm, clpm, term_s
	printf "%d s a diagram line, %d s a line of other code shown (no instructor talk, no breaks)\n\n", diag_s, other_s
	printf "%7s %8s  %s\n", "minutes", "prose", "chapter"
	for (i = 1; i <= n; i++) {
		if (appendix[i] && !shown) { printf "%7.1f %8d  main path total\n\n", tm, pm; shown = 1 }
		printf "%7.1f %8d  %s\n", m[i], prose[i], name_[i]
	}
	if (!shown) printf "%7.1f %8d  main path total\n", tm, pm
	else printf "%7.1f %8d  appendix total\n", ta, pa
}' "$doc"
