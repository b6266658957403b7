# Shared by the document tests: parse the workshop document into blocks.
# shellcheck shell=bash disable=SC2034 # (the B_* arrays are for the sourcing scripts)
#
# Every fenced block in the document has a marker, an HTML comment on the
# last non-blank line before its opening fence (see tests/doc/README.md):
#   <!-- term: N -->            commands typed into terminal N (1 or 2)
#   <!-- output -->             what the term block before it prints
#   <!-- notest: REASON -->     shown but not run (REASON is required)
#   <!-- diagram -->            a picture, not a command
#   <!-- c: PATH -->            an excerpt of the file PATH (repo-relative)

DOC_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
DOC_FILE=${DOC_FILE:-$DOC_REPO/infra/container_runtime_ja.md}

# One entry per fenced block, index 0..DOC_NBLOCKS-1 (used by the scripts
# that source this file).
DOC_NBLOCKS=0
B_KIND=()  # term, output, notest, diagram, c, or "" (no marker)
B_ARG=()   # term: the terminal number; c: the path; notest: the reason
B_LANG=()  # the fence's info string (bash, text, c, ...)
B_LINE=()  # document line number of the opening fence
B_TEXT=()  # the block's content, lines joined with \n (no final newline)
B_SEC=()   # the innermost heading above the block ("4.1 `unshare ...`")
B_CHAP=()  # the chapter heading above the block ("4. PID 名前空間（CLI）")
B_LABEL=() # "N" if the prose since the previous block says ターミナル N
DOC_ERRORS=() # marker problems found while parsing: "LINE: message"

doc_parse() {
	local n=0 line in_fence=0 marker='' marker_line=0
	local chap="" sec="" label="" text="" lang="" fence_line=0
	DOC_NBLOCKS=0 B_KIND=() B_ARG=() B_LANG=() B_LINE=() B_TEXT=()
	B_SEC=() B_CHAP=() B_LABEL=() DOC_ERRORS=()
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		if ((in_fence)); then
			if [[ $line == '```' ]]; then
				doc_add_block "$marker" "$marker_line" "$lang" "$fence_line" "$text" "$sec" "$chap" "$label"
				in_fence=0 marker='' label=''
			elif [ -z "$text" ] && ((n == fence_line + 1)); then
				text=$line
			else
				text+=$'\n'$line
			fi
			continue
		fi
		case $line in
		'```'*)
			in_fence=1 fence_line=$n lang=${line#'```'} text=''
			# The marker must be the last non-blank line before the fence.
			[ "$marker_line" -eq "$((n - 1))" ] || marker=''
			;;
		'## '*) chap=${line#'## '} sec=$chap marker='' ;;
		'### '*) sec=${line#'### '} marker='' ;;
		'<!--'*'-->')
			marker=$line marker_line=$n
			;;
		*)
			# The bold label above a command block: **ターミナル 2 — ホスト**
			[[ $line =~ ^\*\*ターミナル\ ([0-9]+) ]] && label=${BASH_REMATCH[1]}
			;;
		esac
	done <"$DOC_FILE"
	((in_fence == 0)) || DOC_ERRORS+=("$fence_line: fenced block never closed")
	return 0
}

# doc_add_block MARKER MARKER_LINE LANG FENCE_LINE TEXT SECTION CHAPTER LABEL
doc_add_block() {
	local m=$2 i=$DOC_NBLOCKS kind='' arg='' flags='' body
	if [ -n "$1" ]; then
		body=${1#'<!--'}
		body=${body%'-->'}
		body=$(doc_trim "$body")
		case $body in
		term:*)
			kind=term
			read -r arg flags <<<"${body#term:}"
			[[ $arg =~ ^[12]$ ]] || DOC_ERRORS+=("$m: term needs terminal 1 or 2: <!-- $body -->")
			[ -z "$flags" ] || DOC_ERRORS+=("$m: unknown words after the terminal number: '$flags'")
			;;
		output) kind=output ;;
		output:*) kind=output DOC_ERRORS+=("$m: '<!-- $body -->': write plain <!-- output -->") ;;
		notest:*)
			kind=notest arg=$(doc_trim "${body#notest:}")
			[ -n "$arg" ] || DOC_ERRORS+=("$m: notest needs a reason: <!-- notest: REASON -->")
			;;
		diagram) kind=diagram ;;
		c:*)
			kind=c arg=$(doc_trim "${body#c:}")
			[ -n "$arg" ] || DOC_ERRORS+=("$m: c needs a path: <!-- c: stepNN_x/main.c -->")
			;;
		*) DOC_ERRORS+=("$m: unknown marker <!-- $body -->") ;;
		esac
	fi
	[ -n "$kind" ] || DOC_ERRORS+=("$4: fenced block without a marker comment on the line before it")
	case $kind/$3 in
	term/bash | term/sh | output/text | notest/* | diagram/* | c/c | /*) ;;
	*) DOC_ERRORS+=("$4: a '$kind' block fenced as '\`\`\`$3'") ;;
	esac
	if [ "$3" = c ] && [ "$kind" != c ]; then
		DOC_ERRORS+=("$4: a \`\`\`c block needs <!-- c: PATH --> (the file it is an excerpt of)")
	fi
	B_KIND[i]=$kind B_ARG[i]=$arg B_LANG[i]=$3 B_LINE[i]=$4
	B_TEXT[i]=$5 B_SEC[i]=$6 B_CHAP[i]=$7 B_LABEL[i]=$8
	DOC_NBLOCKS=$((i + 1))
}

doc_trim() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	s=${s%"${s##*[![:space:]]}"}
	printf '%s' "$s"
}

# Cross-block rules of the convention, after doc_parse: an output block
# follows a term block (prose may sit between them), and a term block's
# label in the prose ("ターミナル 2 — ホスト") names the same terminal.
doc_lint() {
	local i prev=''
	for ((i = 0; i < DOC_NBLOCKS; i++)); do
		case ${B_KIND[i]} in
		output)
			[ "$prev" = term ] ||
				DOC_ERRORS+=("${B_LINE[i]}: output block not preceded by a term block")
			;;
		term)
			if [ -n "${B_LABEL[i]}" ] && [ "${B_LABEL[i]}" != "${B_ARG[i]}" ]; then
				DOC_ERRORS+=("${B_LINE[i]}: the prose says ターミナル ${B_LABEL[i]} but the marker says term: ${B_ARG[i]}")
			fi
			;;
		esac
		# notest after output (an example of another host) keeps the pairing.
		[ "${B_KIND[i]}" = notest ] || prev=${B_KIND[i]}
	done
}

# Print the parse errors; fail if there are any.
doc_report_errors() {
	local e
	((${#DOC_ERRORS[@]} == 0)) && return 0
	for e in "${DOC_ERRORS[@]}"; do
		echo "${DOC_FILE#"$DOC_REPO"/}:$e" >&2
	done
	return 1
}

# "4.1 `unshare`" -> "4.1"; used where a short section name reads better.
doc_secnum() {
	printf '%s' "${1%% *}"
}
