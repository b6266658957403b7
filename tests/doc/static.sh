#!/usr/bin/env bash
# The document test's static half (no root, no terminals):
#   markers  every fenced block carries a valid marker (tests/doc/README.md)
#   excerpts every ```c block is found verbatim in the file its marker names
#   names    every make target, ./path, stepNN directory, infra/ and tests/
#            path, and every file in the repository tree diagram exists
# Prints one line per check and per failure (naming section and line);
# exits 1 if anything failed.
set -euo pipefail

# shellcheck source=tests/doc/lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
cd "$DOC_REPO"
doc=${DOC_FILE#"$DOC_REPO"/}
failed=0

nfail=0 # failures of the current check
fail() { # fail LINE SECTION MESSAGE
	echo "FAIL  $doc:$1 [$2] $3"
	nfail=$((nfail + 1))
	failed=1
}

# verdict NAME SUMMARY: the check's closing line.
verdict() {
	if ((nfail)); then
		echo "FAIL  $1: $nfail problems; $2"
	else
		echo "ok    $1: $2"
	fi
	nfail=0
}

# --- markers ---
doc_parse
doc_lint
for e in "${DOC_ERRORS[@]}"; do
	fail "${e%%:*}" "" "${e#*: }"
done
verdict markers "$DOC_NBLOCKS fenced blocks"

# --- excerpts ---
# A line that is only "..." or "/* ... */" (any indentation) elides lines:
# the pieces around it must each be in the file, in this order.
is_elision() {
	[[ $1 =~ ^[[:space:]]*(\.\.\.|/\*\ \.\.\.\ \*/)[[:space:]]*$ ]]
}

# excerpt_in_file TEXT FILE: every piece of TEXT occurs in FILE, in order.
excerpt_in_file() {
	local rest piece='' line
	rest=$(<"$2")
	while IFS= read -r line; do
		if is_elision "$line"; then
			excerpt_piece "$piece" || return 1
			piece=''
		else
			piece+=$line$'\n'
		fi
	done <<<"$1"
	excerpt_piece "$piece"
}

# Find PIECE (whole lines) in $rest and cut $rest after it.
excerpt_piece() {
	local piece=${1%$'\n'}
	[ -n "$piece" ] || return 0
	rest=$'\n'$rest$'\n'
	case $rest in
	*$'\n'"$piece"$'\n'*)
		rest=${rest#*$'\n'"$piece"$'\n'}
		;;
	*) return 1 ;;
	esac
}

n_excerpts=0
for ((i = 0; i < DOC_NBLOCKS; i++)); do
	[ "${B_KIND[i]}" = c ] || continue
	n_excerpts=$((n_excerpts + 1))
	path=${B_ARG[i]}
	if [ ! -f "$path" ]; then
		fail "${B_LINE[i]}" "${B_SEC[i]}" "excerpt of $path: no such file"
	elif ! excerpt_in_file "${B_TEXT[i]}" "$path"; then
		fail "${B_LINE[i]}" "${B_SEC[i]}" "the C excerpt is not verbatim in $path (whitespace counts; '...' or '/* ... */' alone on a line elides)"
		# Point at the first line that is nowhere in the file, if any.
		k=0
		while IFS= read -r line; do
			k=$((k + 1))
			is_elision "$line" || [ -z "$line" ] || grep -qxF -- "$line" "$path" || {
				echo "        line $((B_LINE[i] + k)) is not in $path: $line"
				break
			}
		done <<<"${B_TEXT[i]}"
	fi
done
verdict excerpts "$n_excerpts C blocks"

# --- names ---
# Collected as "KIND NAME LINE SECTION" records, then checked once per name.
declare -A seen=()
names=()
add_name() { # add_name KIND NAME LINE SECTION
	[ -z "${seen[$1 $2]:-}" ] || return 0
	seen[$1 $2]=1
	names+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4")
}

# Prose and command blocks, not C excerpts (their strings are not commands,
# and the excerpt check already ties them to the sources). Headings give the
# section.
lineno=0 sec='' in_c=0
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	case $line in
	'```c') in_c=1 ;;
	'```') in_c=0 ;;
	'## '*) sec=${line#'## '} ;;
	'### '*) sec=${line#'### '} ;;
	esac
	((in_c == 0)) || continue
	# "stepNN_x" is the document's name for any step, not a path.
	s=${line//stepNN_x/}
	line=$s
	# make TARGET, where make starts a command: line start, `, sudo, && ...
	# (so "apt-get install ... make iproute2" is not taken for a target).
	while [[ $s =~ (^|\`|sudo\ |\&\&\ |\;\ )make\ +([a-z][a-z0-9_.-]*)(.*) ]]; do
		add_name target "${BASH_REMATCH[2]}" "$lineno" "$sec"
		s=${BASH_REMATCH[3]}
	done
	s=$line
	while [[ $s =~ (^|[^A-Za-z0-9_.$/-])\./([A-Za-z0-9_][A-Za-z0-9_./-]*)(.*) ]]; do
		add_name path "${BASH_REMATCH[2]%/}" "$lineno" "$sec"
		s=${BASH_REMATCH[3]}
	done
	s=$line
	while [[ $s =~ (^|[^A-Za-z0-9_./$-])((infra|tests)(/[A-Za-z0-9_.-]+)*/?)(.*) ]]; do
		add_name path "${BASH_REMATCH[2]%/}" "$lineno" "$sec"
		s=${BASH_REMATCH[5]}
	done
	s=$line
	while [[ $s =~ (^|[^A-Za-z0-9_])(step[0-9][0-9])(_[a-z]+)?(.*) ]]; do
		if [ -n "${BASH_REMATCH[3]}" ]; then
			add_name path "${BASH_REMATCH[2]}${BASH_REMATCH[3]}" "$lineno" "$sec"
		else
			add_name step "${BASH_REMATCH[2]}" "$lineno" "$sec"
		fi
		s=${BASH_REMATCH[4]}
	done
done <"$DOC_FILE"

# The repository tree diagram ("|-- name", "`-- name", 4 columns a level)
# under a first line "container-workshop/".
for ((i = 0; i < DOC_NBLOCKS; i++)); do
	[ "${B_KIND[i]}" = diagram ] || continue
	[[ ${B_TEXT[i]} == container-workshop/$'\n'* ]] || continue
	stack=() k=0
	while IFS= read -r line; do
		k=$((k + 1))
		[[ $line =~ ^(([|\ ]\ \ \ )*)(\|--|\`--)\ ([^ ]+) ]] || continue
		depth=$((${#BASH_REMATCH[1]} / 4))
		stack[depth]=${BASH_REMATCH[4]%/}
		stack=("${stack[@]:0:depth+1}")
		path=$(IFS=/ && echo "${stack[*]}")
		add_name path "$path" $((B_LINE[i] + k)) "${B_SEC[i]}"
	done <<<"${B_TEXT[i]}"
done

# A make target exists if make can plan it (this also covers built files
# like step03_net/run before they are built).
make_knows() {
	make -n "$1" >/dev/null 2>&1
}

n_names=0
[ -z "${DOC_DEBUG:-}" ] || printf "%s\n" "${names[@]}" >&2
for rec in "${names[@]}"; do
	IFS=$'\t' read -r kind name line sec <<<"$rec"
	n_names=$((n_names + 1))
	case $kind in
	target)
		make_knows "$name" || fail "$line" "$sec" "make $name: no such make target"
		;;
	path)
		[ -e "$name" ] || make_knows "$name" || fail "$line" "$sec" "$name: no such file or directory in the repository"
		;;
	step)
		compgen -G "${name}_*/main.c" >/dev/null || fail "$line" "$sec" "$name: no ${name}_*/ step directory"
		;;
	esac
done
verdict names "$n_names distinct make targets, paths and step names"

exit "$failed"
