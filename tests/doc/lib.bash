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
B_WHERE=() # where that label says the block starts: "ホスト", "コンテナ内の busybox sh", ...
DOC_ERRORS=() # marker problems found while parsing: "LINE: message"

doc_parse() {
	local n=0 line in_fence=0 marker='' marker_line=0
	local chap="" sec="" label="" where="" text="" lang="" fence_line=0
	DOC_NBLOCKS=0 B_KIND=() B_ARG=() B_LANG=() B_LINE=() B_TEXT=()
	B_SEC=() B_CHAP=() B_LABEL=() B_WHERE=() DOC_ERRORS=()
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		if ((in_fence)); then
			if [[ $line == '```' ]]; then
				doc_add_block "$marker" "$marker_line" "$lang" "$fence_line" "$text" "$sec" "$chap" "$label" "$where"
				in_fence=0 marker='' label='' where=''
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
			if [[ $line =~ ^\*\*ターミナル\ ([0-9]+)(\ —\ ([^*（]*))? ]]; then
				label=${BASH_REMATCH[1]} where=${BASH_REMATCH[3]}
			fi
			;;
		esac
	done <"$DOC_FILE"
	((in_fence == 0)) || DOC_ERRORS+=("$fence_line: fenced block never closed")
	return 0
}

# doc_add_block MARKER MARKER_LINE LANG FENCE_LINE TEXT SECTION CHAPTER LABEL WHERE
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
	B_TEXT[i]=$5 B_SEC[i]=$6 B_CHAP[i]=$7 B_LABEL[i]=$8 B_WHERE[i]=${9:-}
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
	doc_paste_lint
}

# Split block I's lines into units: one command line each, except that a
# heredoc (<<EOF ... EOF) or a trailing backslash keeps lines together.
# Sets UNITS[] (lines joined by \n) and UNIT_LINE[] (document line).
doc_units() {
	local i=$1 line k=0 cur='' first=0 delim=''
	UNITS=() UNIT_LINE=()
	while IFS= read -r line; do
		k=$((k + 1))
		[ -n "$cur" ] || first=$((B_LINE[i] + k))
		cur+=${cur:+$'\n'}$line
		if [ -n "$delim" ]; then
			[ "$line" != "$delim" ] || delim=''
		elif [[ $line =~ \<\<-?[[:space:]]*[\'\"]?([A-Za-z_][A-Za-z0-9_]*) ]]; then
			delim=${BASH_REMATCH[1]}
		fi
		if [ -z "$delim" ] && [[ $line != *\\ ]]; then
			UNITS+=("$cur")
			UNIT_LINE+=("$first")
			cur=''
		fi
	done <<<"${B_TEXT[i]}"
	[ -z "$cur" ] || {
		UNITS+=("$cur")
		UNIT_LINE+=("$first")
	}
}

# doc_starts_shell UNIT: the unit's line starts an interactive shell (sudo
# unshare ... /bin/bash, sudo chroot rootfs /bin/sh, exec /bin/sh, sudo -i, a
# step's run with no command, which starts the container's shell).
doc_starts_shell() {
	local l=${1%%$'\n'*} w=()
	read -r -a w <<<"$l"
	((${#w[@]})) || return 1
	case $l in
	'sudo -i' | 'sudo -s' | 'sudo make run' | 'sudo make run '*) return 0 ;;
	esac
	if [[ ${w[-1]} =~ ^(/usr)?(/bin/)?(ba|da)?sh$ ]] &&
		[[ ${w[0]} =~ ^(sudo|unshare|chroot|exec|nsenter|env|bash|sh|dash)$ ]]; then
		return 0
	fi
	# A runtime with options only: its default command is a shell.
	[[ $l =~ ^(sudo\ )?\./step[0-9]{2}_[a-z]+/run(\ +--?[a-z-]+(\ +[^-\ ][^\ ]*)?)*$ ]]
}

# The paste rule (tests/doc/README.md): a block is pasted whole, and bash
# reads a whole paste before it runs it, so a line that starts a shell, or
# an exit that leaves one, must be the last line of its block; the lines
# after it would run in the shell the block started in, not in the new one.
# Every term block says where it starts (ターミナル N — WHERE).
doc_paste_lint() {
	local i k last
	for ((i = 0; i < DOC_NBLOCKS; i++)); do
		[ "${B_KIND[i]}" = term ] || continue
		[ -n "${B_WHERE[i]}" ] ||
			DOC_ERRORS+=("${B_LINE[i]}: a command block needs a label above it: **ターミナル N — WHERE** (WHERE: ホスト, or the shell it runs in)")
		doc_units "$i"
		last=$((${#UNITS[@]} - 1))
		for ((k = 0; k < last; k++)); do
			if [[ ${UNITS[k]} =~ ^exit([[:space:]]|$) ]]; then
				DOC_ERRORS+=("${UNIT_LINE[k]}: \`${UNITS[k]}\` leaves a shell, so it must be the last line of its block (pasted, the lines after it run in the shell it returns to only after it)")
			elif doc_starts_shell "${UNITS[k]}"; then
				DOC_ERRORS+=("${UNIT_LINE[k]}: \`${UNITS[k]%%$'\n'*}\` starts a shell, so it must be the last line of its block (pasted whole, the lines after it would run in this shell after the new one exits)")
			fi
		done
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
