#!/usr/bin/env bash
# The document test's dynamic half: type every command block of the workshop
# document into real terminals (tmux), line by line and in document order,
# read the screen back (capture-pane), and check it: the output blocks, no
# error messages, no hung line, and each chapter leaves the host as it found
# it. See tests/doc/README.md for the marker convention and the rules.
#
#   sudo tests/doc/terminal.sh        (tests/doc/run.sh runs it after the
#                                      static checks; make test-doc runs
#                                      that in the cgroup v2 VM)
#
# Environment: DOC_LINE_TIMEOUT (seconds a block may take; default 30, in the
# VM 240: TCG is slow and podman slower), DOC_SETTLE (seconds of a quiet
# screen after which a line still running is taken to wait for the other
# terminal, default 8: longer than the document's own waits), DOC_ONLY (regex of
# chapter numbers to run, e.g. '^[58]\.': the rest is not run, and counted
# apart from skips, which the VM allows none of; --vm-chapters prints the
# DOC_ONLY of the chapters that a native run here skips), DOC_VERBOSE=1
# (print every line's screen output), DOC_BLOCK_LINES=1 (end with the
# document lines of the command blocks run and skipped, for .ci/run).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=tests/doc/lib.bash
source "$here/lib.bash"
# shellcheck source=tests/cgroup_v2.bash
source "$here/../cgroup_v2.bash"

in_vm=${WORKSHOP_TEST_VM:-}
LINE_TIMEOUT=${DOC_LINE_TIMEOUT:-$([ -n "$in_vm" ] && echo 240 || echo 30)}
SETTLE=${DOC_SETTLE:-8}
ONLY=${DOC_ONLY:-}
VERBOSE=${DOC_VERBOSE:-}
prog=test-doc

die() {
	echo "$prog: $*" >&2
	exit 2
}

# --- Skips ---
# In the VM nothing is skipped. On a host without a pure cgroup v2 hierarchy
# the cgroup parts cannot work, and a native run must not rebuild the
# rootfs/ or touch podman storage that others on this machine share: from
# the first such block, the rest of its chapter is skipped, with the reason.
native_skip_reason() { # native_skip_reason TEXT
	[ -z "$in_vm" ] || return 0
	if ! cgroup_v2_ready && [[ $1 =~ cgroup|step0[4-9]|make\ (doctor|run) ]]; then
		echo "needs a pure cgroup v2 host (this one is not); make test-doc runs it in the VM"
	elif [[ $1 =~ podman|rootfs\.sh\ (--archive|--force)|rootfs\.sh$ ]]; then
		echo "uses podman storage, shared on this host; make test-doc runs it in the VM"
	elif [[ $1 =~ make\ rootfs ]] && [ ! -e "$DOC_REPO/rootfs/bin/sh" ]; then
		echo "no rootfs/ here: make rootfs would build one with podman; make test-doc runs it in the VM"
	fi
	# (The sandbox's rootfs/ and /tmp are its own copies: make rootfs with a
	# rootfs/ there, and rootfs.sh --from busybox, run natively.)
}

# skip_text VAR I: the text that decides whether block I is skipped: its
# own, and when its last line starts a shell, the blocks that run in that
# shell too (the next block of its terminal in its chapter, and so on), so
# that a shell is not started when the blocks inside it would be skipped.
skip_text() {
	local -n out=$1
	local i=$2 j last
	out=${B_TEXT[i]}
	while :; do
		last=${B_TEXT[i]##*$'\n'}
		doc_starts_shell "$last" || return 0
		for ((j = i + 1; j < DOC_NBLOCKS; j++)); do
			[ "${B_CHAP[j]}" = "${B_CHAP[i]}" ] || return 0
			[ "${B_KIND[j]}" = term ] && [ "${B_ARG[j]}" = "${B_ARG[i]}" ] && break
		done
		((j < DOC_NBLOCKS)) || return 0
		out+=$'\n'${B_TEXT[j]}
		i=$j
	done
}

# section_label VAR SEC CHAP: the name a section is reported (and selected)
# by: its heading when numbered, else its chapter's number or letter first.
section_label() {
	if [[ $2 =~ ^[0-9] ]] || [[ $2 =~ ^[A-Z]\.[0-9] ]] || [ "$2" = "$3" ]; then
		printf -v "$1" '%s' "$2"
	elif [[ $3 =~ ^(付録\ [A-Z]) ]]; then
		printf -v "$1" '%s %s' "${BASH_REMATCH[1]}" "$2"
	else
		printf -v "$1" '%s %s' "${3%%.*}." "$2"
	fi
}

# DOC_ONLY selects a block when it matches the block's chapter heading or
# its section's label: B_SEL[I] is 1 for a selected block I.
B_SEL=()
doc_select() {
	local i label
	for ((i = 0; i < DOC_NBLOCKS; i++)); do
		section_label label "${B_SEC[i]}" "${B_CHAP[i]}"
		B_SEL[i]=''
		if [ -z "$ONLY" ] || [[ ${B_CHAP[i]} =~ $ONLY ]] || [[ $label =~ $ONLY ]]; then
			B_SEL[i]=1
		fi
	done
}

# --vm-chapters: print a DOC_ONLY regex of what a native run on this host
# skips, for the VM to run: a chapter whole when the skipping starts in its
# first section, else its sections from the one where it starts (the
# native run skips the rest of a chapter from its first skipped block on).
# Prints nothing when a native run skips nothing. Needs no root.
if [ "${1:-}" = --vm-chapters ]; then
	doc_parse
	declare -A vm_chap=()
	vm_keys=()
	# shellcheck disable=SC2001,SC2016 # (a bracket expression; $ is literal)
	regex_quote() { sed 's/[][\.*^$(){}+?|]/\\&/g' <<<"$1"; }
	for ((i = 0; i < DOC_NBLOCKS; i++)); do
		[ "${B_KIND[i]}" = term ] || continue
		[ -z "${vm_chap[${B_CHAP[i]}]:-}" ] || continue
		skip_text text "$i"
		[ -n "$(native_skip_reason "$text")" ] || continue
		vm_chap[${B_CHAP[i]}]=1
		from=''
		section_label from "${B_SEC[i]}" "${B_CHAP[i]}"
		first=''
		for ((j = 0; j < DOC_NBLOCKS; j++)); do
			if [ "${B_CHAP[j]}" = "${B_CHAP[i]}" ] && [ "${B_KIND[j]}" = term ]; then
				section_label first "${B_SEC[j]}" "${B_CHAP[j]}"
				break
			fi
		done
		if [ "$from" != "$first" ]; then
			label='' last=''
			for ((j = i; j < DOC_NBLOCKS; j++)); do
				[ "${B_CHAP[j]}" = "${B_CHAP[i]}" ] || break
				section_label label "${B_SEC[j]}" "${B_CHAP[j]}"
				[ "$label" = "$last" ] || vm_keys+=("^$(regex_quote "$label")\$")
				last=$label
			done
		elif [[ ${B_CHAP[i]} =~ ^([0-9]+)\. ]]; then
			vm_keys+=("^${BASH_REMATCH[1]}\\.")
		elif [[ ${B_CHAP[i]} =~ ^付録\ ([A-Z])(\ |$) ]]; then
			vm_keys+=("^付録 ${BASH_REMATCH[1]}( |\$)")
		else
			die "chapter '${B_CHAP[i]}' has neither a number nor an appendix letter"
		fi
	done
	if ((${#vm_keys[@]})); then
		(IFS='|' && echo "${vm_keys[*]}")
	fi
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "needs root, as the document's commands do: sudo $0"
for tool in tmux ps awk sudo setpriv; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

# --- Native runs: a sandbox ---
# Outside the VM, run inside fresh mount, network and PID namespaces: what
# the document mounts, the veths it makes and the processes it starts stay in
# there (and die with it), and processes of other users of this machine (an
# unshare, a run of theirs) cannot confuse the document's pgrep. See
# sandbox_setup for the rest.
if [ -z "$in_vm" ] && [ -z "${DOC_SANDBOXED:-}" ]; then
	export DOC_SANDBOXED=1
	# PID 1 of the sandbox is a plain sh, so that orphans are reparented to
	# it and not to this script (the state check lists PID 1's children).
	# shellcheck disable=SC2016 # ($0 and $@ are the inner sh's)
	exec unshare --mount --net --pid --fork --mount-proc --propagation private \
		sh -c '"$0" "$@" & wait $!' "$0" "$@"
fi

# In the sandbox: a private /tmp (the document writes /tmp/escape.c), and
# the document runs on a copy of the checkout mounted over it (it runs
# make clean and make, which must not touch a checkout others use). The
# root is made shared again, as systemd makes a real host's (5.2 shows it).
# A checkout that lives in /tmp itself (a CI clone) is read through a file
# descriptor opened before the new /tmp hides it, and its copy is mounted
# at the same path in the new /tmp.
sandbox_setup() {
	local src
	exec {src}<"$DOC_REPO"
	mount -t tmpfs -o mode=1777 test-doc-tmp /tmp
	mkdir /tmp/checkout
	tar -C "/proc/self/fd/$src" --exclude=./.git -c . | tar -C /tmp/checkout -x
	exec {src}<&-
	mkdir -p "$DOC_REPO"
	mount --bind /tmp/checkout "$DOC_REPO"
	mount --make-rshared /
	ip link set lo up
}
[ -z "${DOC_SANDBOXED:-}" ] || sandbox_setup

doc_parse
doc_select
doc_lint
doc_report_errors || die "fix the document's markers first (tests/doc/static.sh)"
cd "$DOC_REPO"

# --- Syscalls of a shell waiting for its next line (x86_64 / arm64) ---
# read(0, ...) for dash, poll([fd 0], 1, ...) for busybox ash, pselect6(1,
# ...) for bash's readline.
case $(uname -m) in
x86_64) idle_syscalls='0:0x0 7:* 23:0x1 270:0x1' ;;
aarch64) idle_syscalls='63:0x0 73:* 72:0x1' ;;
*) die "unsupported architecture $(uname -m) (add its read/poll/pselect6 numbers)" ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-doc.XXXXXX")
sock=$tmp/tmux.sock
httpd_pid=''
history_saved=''
# shellcheck disable=SC2317 # (called from the EXIT trap)
cleanup() {
	tmux -S "$sock" kill-server 2>/dev/null || true
	if [ -n "$httpd_pid" ]; then
		kill "$httpd_pid" 2>/dev/null || true
		wait "$httpd_pid" 2>/dev/null || true
	fi
	if [ -n "$history_saved" ]; then
		restore_root_history
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- The terminals ---
# Two tmux windows (t1, t2) on a private server, wide enough that the
# document's lines do not wrap. Each is what an attendee on Ubuntu 24.04
# has: the shell of a user who is not root, in the repository top, who runs
# sudo (with use_pty, Ubuntu's default; NOPASSWD here, where chapter 1 has
# the attendee run sudo -v first). No rc files of this host: the rc file
# below only has the ERR trap that reports a failed command; PS1 is only a
# label (completion is detected from the processes, not from the prompt).
cols=250 rows=50
tm() {
	tmux -S "$sock" "$@"
}

# The attendee: a user this test makes, in this test's own copies of
# /etc/passwd, group, shadow and sudoers (bind-mounted over the real ones in
# the sandbox's mount namespace natively; written in place in the VM, whose
# root is a throwaway overlay). The checkout is theirs, as a clone would be;
# rootfs/ stays root's, as sudo makes it.
attendee=doc-attendee
attendee_setup() {
	local f uid=4711 home=$tmp/home
	mkdir -p "$home"
	for f in passwd group shadow sudoers; do
		cp -p "/etc/$f" "$tmp/$f"
	done
	while getent passwd "$uid" >/dev/null || getent group "$uid" >/dev/null; do uid=$((uid + 1)); done
	grep -q "^$attendee:" "$tmp/passwd" || {
		echo "$attendee:x:$uid:$uid:workshop attendee (tests/doc):$home:/bin/bash" >>"$tmp/passwd"
		echo "$attendee:x:$uid:" >>"$tmp/group"
		echo "$attendee:*:19000:0:99999:7:::" >>"$tmp/shadow"
		printf '%s\n' "Defaults use_pty" "$attendee ALL=(ALL:ALL) NOPASSWD: ALL" >>"$tmp/sudoers"
	}
	for f in passwd group shadow sudoers; do
		if [ -n "$in_vm" ]; then
			cp -p "$tmp/$f" "/etc/$f"
		else
			mount --bind "$tmp/$f" "/etc/$f"
		fi
	done
	chown "$attendee:" "$home"
	find "$DOC_REPO" -xdev \( -path "$DOC_REPO/rootfs" -o -path "$DOC_REPO/.git" \) -prune -o \
		-exec chown -h "$attendee:" {} +
}

cat >"$tmp/bashrc" <<'RC'
# tests/doc/terminal.sh: a line for each command that failed.
trap '__e=$?; case $BASH_COMMAND in "__wr \$__ws" | "return \$1") ;; *) echo "__doc_err $__e: $BASH_COMMAND" ;; esac' ERR
RC
chmod 644 "$tmp/bashrc"
chmod 755 "$tmp"
term_env=(
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$tmp/home"
	USER="$attendee" LOGNAME="$attendee" SHELL=/bin/bash LANG="${LANG:-C.UTF-8}" HISTFILE=
	# A terminal that is not "dumb": readline turns bracketed paste off for
	# a missing TERM, and bash would then run a paste line by line.
	TERM=screen
	# make diff pages a long diff through less on a terminal; the test reads
	# the screen, it cannot page (an attendee presses q).
	DIFF_PAGER=cat
)

# remain-on-exit: a shell that exits (an `exit` too many) leaves a dead
# pane to report, not a vanished window.
cat >"$tmp/tmux.conf" <<EOF
set -g history-limit 100000
set -g remain-on-exit on
set -g status off
set -g default-size ${cols}x$rows
EOF

# No PS1 in the environment: an exported one would reach the shells that
# sudo starts (sudo keeps PS1), which an attendee's do not get.
shell_cmd() { # shell_cmd N: the command line of terminal N's shell
	printf 'exec env -i %s setpriv --reuid=%q --regid=%q --init-groups bash --rcfile %q -i' \
		"${term_env[*]@Q}" "$attendee" "$attendee" "$tmp/bashrc"
}

declare -A PANE_PID=() # per terminal: its shell's PID

term_start() { # term_start N
	local n=$1
	if [ "$n" = 1 ]; then
		tm -f "$tmp/tmux.conf" new-session -d -s doc -n t1 -x "$cols" -y "$rows" -c "$DOC_REPO" "$(shell_cmd 1)"
	else
		tm new-window -d -t doc -n "t$n" -c "$DOC_REPO" "$(shell_cmd "$n")"
	fi
	PANE_PID[$n]=$(tm display -p -t "doc:t$n" '#{pane_pid}')
	wait_idle "$n" "$LINE_TIMEOUT" || die "terminal $n: no shell prompt"
	term_sync "$n"
}

term_reset() { # term_reset N: kill what runs in terminal N, start a new shell
	local n=$1 pids
	pids=$(pane_tree "$n" | awk 'NR > 1 { print $1 }')
	# shellcheck disable=SC2086 # (a list of PIDs)
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
	tm respawn-pane -k -t "doc:t$n" -c "$DOC_REPO" "$(shell_cmd "$n")"
	tm clear-history -t "doc:t$n"
	PANE_PID[$n]=$(tm display -p -t "doc:t$n" '#{pane_pid}')
	wait_idle "$n" "$LINE_TIMEOUT" || die "terminal $n: no shell prompt after a reset"
	term_sync "$n"
}

pane_info() { # pane_info N: "history_size cursor_y cursor_x dead"
	tm display -p -t "doc:t$1" '#{history_size} #{cursor_y} #{cursor_x} #{pane_dead}'
}

# pane_alive N: terminal N's shell still runs (tmux keeps the dead pane).
pane_alive() {
	local state
	read -r _ _ state _ 2>/dev/null <"/proc/${PANE_PID[$1]}/stat" && [ "$state" != Z ]
}

# pane_tree N: "pid comm leaf" of the pane's shell and all its descendants,
# the shell first (leaf: 1 if the process has no children). Read from
# /proc/PID/task/*/children with builtins only: it is polled, and under
# TCG every fork counts.
pane_tree() {
	local queue=("${PANE_PID[$1]}") p f kids all comm
	while ((${#queue[@]})); do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		all=()
		for f in /proc/"$p"/task/*/children; do
			# The file has no final newline: read "fails" but fills kids.
			kids=()
			read -r -a kids 2>/dev/null <"$f" || true
			all+=("${kids[@]}")
		done
		comm=gone
		read -r comm 2>/dev/null <"/proc/$p/comm" || true
		printf '%s %s %d\n' "$p" "$comm" $((${#all[@]} == 0))
		queue+=("${all[@]}")
	done
}

# is_idle N: every process at the bottom of terminal N's process tree is a
# shell blocked reading its terminal, i.e. the line typed last has finished
# and the shell it left us in (maybe a new one: sudo unshare ... bash) waits.
is_idle() {
	local tree pid comm leaf leaves=0 call arg0 entry
	tree=$(pane_tree "$1")
	while read -r pid comm leaf; do
		[ "$leaf" = 1 ] || continue
		leaves=$((leaves + 1))
		case $comm in
		bash | sh | dash | ash | busybox) ;;
		*) return 1 ;;
		esac
		read -r call arg0 _ 2>/dev/null <"/proc/$pid/syscall" || return 1
		for entry in $idle_syscalls; do
			if [ "$call" = "${entry%%:*}" ] && { [ "${entry#*:}" = '*' ] || [ "$arg0" = "${entry#*:}" ]; }; then
				continue 2
			fi
		done
		return 1
	done <<<"$tree"
	((leaves > 0))
}

# wait_idle N SECONDS [SETTLE]: until terminal N is idle (0); 1 on timeout,
# 2 if its shell died; with SETTLE, 3 once the screen has not changed for
# SETTLE seconds while the line still runs.
wait_idle() {
	local n=$1 limit=$2 settle=${3:-} start=$SECONDS screen last='' quiet_since=$SECONDS
	while :; do
		pane_alive "$n" || return 2
		is_idle "$n" && return 0
		((SECONDS - start < limit)) || return 1
		if [ -n "$settle" ]; then
			screen=$(tm capture-pane -p -t "doc:t$n")
			if [ "$screen" != "$last" ]; then
				last=$screen quiet_since=$SECONDS
			elif ((SECONDS - quiet_since >= settle)); then
				return 3
			fi
		fi
		sleep 0.2
	done
}

# --- Pasting ---
# Each command block is pasted whole, as an attendee pastes it: tmux's
# paste-buffer -p sends it as a bracketed paste when the shell asked for one
# (bash does: it reads the whole paste, shows it, and runs it on Enter;
# busybox sh and dash do not, and run it line by line), and Enter follows.
# Then the test types a status line of its own, the sentinel:
#   __ws=$?; echo TOKEN SEQ $__ws; __wr() { return $1; }; __wr $__ws
# It prints "TOKEN SEQ STATUS" (the exit status of the block's last line) and
# leaves $? as it was, since the document's next block may start with `echo
# $?`. It forks nothing (a (exit N) subshell would take PIDs, and the
# document shows a container's PIDs), in bash, dash and busybox sh alike. A
# block's output is what the screen shows between the previous sentinel's
# output and its own, without the echo of the pasted lines and the prompt
# with the sentinel. Anchoring on those lines, not on screen coordinates,
# keeps the reading right while the screen scrolls. The sentinel is typed
# only once the shell waits for input again (is_idle): typed ahead, it would
# be eaten by whatever reads the terminal meanwhile (sudo's pty does).
# The terminals' own bash reports each failed command on a line of its own
# (an ERR trap, see shell_cmd), so that a failure in the middle of a block
# shows; the shells the document starts do not, and there only the last
# line's status and the error messages on the screen count.
seq=0
token="__doc_done_$$_$RANDOM"
declare -A LAST_SEQ=() # per terminal: the sentinel whose output the screen shows last
U_OUT='' U_STATUS='' U_WHY='' U_PREV=0 U_T0=0 U_MS=0 U_ERRS=''
slowest_ms=0 slowest=

# paste_block N TEXT: paste TEXT into terminal N, press Enter, and wait until
# the shell has taken it: the cursor has moved down a row for each pasted
# line (bash shows the whole paste before it runs it; the other shells show
# each line as they read it, after the output of the line before).
paste_block() {
	local n=$1 text=$2 hist cy dead end start=$SECONDS rows
	rows=$(grep -c '' <<<"$text")
	read -r hist cy _ dead < <(pane_info "$n")
	end=$((hist + cy + rows))
	printf '%s' "$text" >"$tmp/paste"
	tm load-buffer -b doc-paste "$tmp/paste" \; paste-buffer -p -d -b doc-paste -t "doc:t$n" \; \
		send-keys -t "doc:t$n" Enter
	while :; do
		read -r hist cy _ dead < <(pane_info "$n")
		[ "$dead" = 0 ] || return 2
		((hist + cy >= end)) && return 0
		((SECONDS - start < LINE_TIMEOUT)) || return 1
		sleep 0.05
	done
}

# wait_done N SECONDS [SETTLE]: wait_idle, and idle still a moment later: a
# shell that has the rest of a paste queued reads on without blocking, but
# one that has not been scheduled yet since the paste arrived may still look
# blocked for an instant.
wait_done() {
	local rc
	while :; do
		rc=0
		wait_idle "$@" || rc=$?
		((rc == 0)) || return "$rc"
		sleep 0.3
		is_idle "$1" && return 0
	done
}

# sentinel N: type the status line into terminal N and wait for its output;
# sets U_STATUS and SCREEN (the pane's whole history, wrapped lines joined,
# trailing blanks gone).
sentinel() {
	local n=$1 start=$SECONDS
	seq=$((seq + 1))
	SENTINEL="__ws=\$?; echo $token $seq \$__ws; __wr() { return \$1; }; __wr \$__ws"
	tm send-keys -t "doc:t$n" -l -- "$SENTINEL" \; send-keys -t "doc:t$n" Enter
	while :; do
		SCREEN=$(tm capture-pane -p -J -t "doc:t$n" -S - | sed 's/[[:space:]]*$//')
		if [[ $SCREEN =~ (^|$'\n')$token\ $seq\ ([0-9]+)($'\n'|$) ]]; then
			U_STATUS=${BASH_REMATCH[2]}
			LAST_SEQ[$n]=$seq
			return 0
		fi
		((SECONDS - start < LINE_TIMEOUT)) || return 1
		sleep 0.1
	done
}

# term_sync N: a first sentinel in a fresh terminal, for the first block to
# follow.
term_sync() {
	sentinel "$1" || die "terminal $1 does not run commands"
}

# block_finish N I: wait for block I, pasted last into terminal N, to
# finish, run the sentinel, and read the block's output into U_OUT, the
# exit status of its last line into U_STATUS, and the failures the ERR trap
# reported into U_ERRS ("STATUS: COMMAND" lines).
block_finish() {
	local n=$1 i=$2 rc=0 line state=prev shown=() cmds=() p=0 c
	wait_done "$n" "$LINE_TIMEOUT" || rc=$?
	case $rc in
	0) ;;
	2) U_WHY="the shell of terminal $n exited" && return 1 ;;
	*) U_WHY="still running after ${LINE_TIMEOUT} s (DOC_LINE_TIMEOUT)" && return 1 ;;
	esac
	U_MS=$(((${EPOCHREALTIME/./} - U_T0) / 1000))
	sentinel "$n" || {
		U_WHY="the shell did not run the test's status line within ${LINE_TIMEOUT} s"
		return 1
	}
	# Walk the screen: find the previous sentinel's output, collect until
	# this sentinel's output.
	while IFS= read -r line; do
		case $state in
		prev) [[ $line != "$token $U_PREV "* ]] || state=output ;;
		output)
			[ "$line" != "$token $seq $U_STATUS" ] || {
				state=found
				break
			}
			shown+=("$line")
			;;
		esac
	done <<<"$SCREEN"
	[ "$state" = found ] || {
		U_WHY="could not find the block's output on the screen (between status lines $U_PREV and $seq)"
		return 1
	}
	# The last line is the prompt with the sentinel typed on it.
	if ((${#shown[@]})) && [[ ${shown[-1]} == *"$SENTINEL"* ]]; then
		unset 'shown[-1]'
	fi
	# The echo of the pasted lines, in their order: a line that is the
	# command itself, or a prompt ("# ", "$ ", "> ") and the command.
	# A shell that reads a paste line by line (dash, busybox sh) prints its
	# prompt before each line it reads, and a line echoed already at paste
	# time has its output right after that prompt: the prompt, taken from
	# the first echo, comes off the start of an output line.
	mapfile -t cmds <<<"${B_TEXT[i]}"
	U_OUT='' U_ERRS=''
	local prompt='' bare
	for line in "${shown[@]}"; do
		while ((p < ${#cmds[@]})) && [ -z "${cmds[p]// /}" ]; do p=$((p + 1)); done
		c=${cmds[p]:-}
		c=${c%"${c##*[![:space:]]}"}
		if ((p == 0)) && [ -n "$c" ] && [[ $line == *'# '"$c" || $line == *'$ '"$c" ]]; then
			prompt=${line%"$c"}
		fi
		if [ -n "$prompt" ] && ((p > 0)); then
			bare=${prompt%"${prompt##*[![:space:]]}"}
			[ "$line" != "$bare" ] || continue
			while [[ $line == "$prompt"* && $line != "$prompt$c" ]]; do line=${line#"$prompt"}; done
		fi
		if ((p < ${#cmds[@]})) && { [ "$line" = "$c" ] || [[ $line == *'# '"$c" || $line == *'$ '"$c" || $line == *'> '"$c" ]]; }; then
			p=$((p + 1))
		elif [[ $line =~ ^__doc_err\ ([0-9]+:\ .*)$ ]]; then
			U_ERRS+=${U_ERRS:+$'\n'}${BASH_REMATCH[1]}
		else
			U_OUT+=${U_OUT:+$'\n'}$line
		fi
	done
	U_OUT=$(drop_shell_noise <<<"$U_OUT")
	return 0
}

# What shells say on their own is not a command's output: Debian's busybox
# sh greets with a banner when it starts interactively (Alpine's does not, so
# the document cannot show it).
drop_shell_noise() {
	grep -v -e "^BusyBox v.* built-in shell (ash)$" -e "^Enter 'help' for a list of built-in commands\.$" || true
}

# --- Comparing ---
# Whitespace runs become one space (column widths vary), typographic quotes
# become ' (coreutils uses them in some locales), blank lines go.
normalize() {
	sed -e "s/[‘’]/'/g" -e 's/[[:space:]]\+/ /g' -e 's/^ //' -e 's/ $//' | grep -v '^$' || true
}

# to_regex LINE: an expected line as an anchored ERE; placeholders match
# what the document says they stand for, everything else literally.
to_regex() {
	local s ph
	# shellcheck disable=SC2001 # (one sed for all the metacharacters)
	s=$(sed -e 's/[][\.*^$+?(){}|]/\\&/g' <<<"$1")
	for ph in "${!placeholder[@]}"; do
		s=${s//"<$ph>"/"${placeholder[$ph]}"}
	done
	printf '^%s$' "$s"
}
# shellcheck disable=SC2001 # (one sed for all the metacharacters)
declare -A placeholder=(
	[PID]='[0-9]+' [N]='[0-9]+' [INODE]='[0-9]+' [HEX]='[0-9a-f]+'
	[TIME]='[0-9]+(\.[0-9]+)?(ms)?'
	[MAC]='([0-9a-f]{2}:){5}[0-9a-f]{2}'
	[INIT]='.+' [HOSTNAME]='[^ ]+'
	[VERSION]='[0-9][0-9A-Za-z.+~-]*'
	[REPO]=$(sed -e 's/[][\.*^$+?(){}|]/\\&/g' <<<"$DOC_REPO")
)

# match_lines: do the actual lines A[] match the expected E[] ("..." = any
# number of lines)? Memoised on (i, j).
declare -A memo
match_from() { # match_from I J
	local i=$1 j=$2 key="$1,$2" r=1
	[ -z "${memo[$key]:-}" ] || return "${memo[$key]}"
	if ((i == ${#E[@]})); then
		((j == ${#A[@]})) && r=0
	elif [ "${E[i]}" = '...' ]; then
		if match_from $((i + 1)) "$j"; then
			r=0
		elif ((j < ${#A[@]})) && match_from "$i" $((j + 1)); then
			r=0
		fi
	elif ((j < ${#A[@]})) && [[ ${A[j]} =~ ${R[i]} ]] && match_from $((i + 1)) $((j + 1)); then
		r=0
	fi
	memo[$key]=$r
	return $r
}

# What counts as an error message on the screen (case-insensitive).
# Whole words: cc's -Werror is not an error.
err_re="(^|[^[:alpha:]])(no such file|not found|permission denied|invalid argument|rtnetlink answers|can't|cannot|errors?|usage:|not permitted|failed|fatal|does not exist|unable to|segmentation fault|killed|resource busy|unreachable|refused|timed out|no such|invalid|illegal|aborted|denied|warning|not supported|unknown (option|command))([^[:alpha:]]|$)"

# --- Host state ---
# What the document's commands could leave behind: mounts, the cgroups they
# make (workshop/ and below, the runtime's ws-*), network links, PID namespaces,
# and processes (PID 1's children catch orphans; the terminals' shells must
# have no children once a chapter is over).
host_state() {
	local n
	echo "## mounts"
	awk '{ for (i = 7; $i != "-"; i++); print $5, $(i + 1), $(i + 2) }' /proc/self/mountinfo | sort
	echo "## cgroups"
	# The workshop's parent cgroup and everything below it (chapter 7's demo,
	# the runtime's ws-<PID>-<HEX>), and a runtime's ws-* directly under the root.
	{
		find /sys/fs/cgroup/workshop -type d 2>/dev/null || true
		find /sys/fs/cgroup -maxdepth 1 -name 'ws-*' 2>/dev/null || true
	} | sort
	echo "## links"
	ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
	echo "## pid namespaces"
	# One find, not a readlink per process (every exec counts in the VM).
	{ find /proc/[0-9]*/ns/pid -maxdepth 0 -printf '%l\n' 2>/dev/null || true; } | grep . | sort -u
	echo "## processes"
	ps -o pid=,comm= --ppid 1 | sort -n
	for n in 1 2; do
		pane_tree "$n" | awk -v n="$n" 'NR > 1 { print "terminal " n ": " $1, $2 }'
	done
}

# --- VM setup ---
# The VM is throwaway (its root is a tmpfs overlay), so the test may set it
# up as a learner's fresh machine would be.
vm_setup() {
	# Refuse to do this anywhere but in the VM's overlay root.
	[ "$(stat -f -c %T /)" = overlayfs ] || die "WORKSHOP_TEST_VM is set but / is not the VM's overlay"
	# sudo resolves the host name and complains on every call if it cannot.
	getent hosts "$(hostname)" >/dev/null || echo "127.0.1.1 $(hostname)" >>/etc/hosts
	# root's rc files as Debian installs them, not this host's (which the
	# VM shares): the document's root shells (sudo bash) read them.
	local f
	for f in bashrc profile; do
		[ ! -e "/usr/share/base-files/dot.$f" ] || cp "/usr/share/base-files/dot.$f" "/root/.$f"
	done
	# A fresh clone has no rootfs/: chapter 3 makes it (sudo mkdir rootfs).
	# When DOC_ONLY leaves chapter 3 out, the later chapters get the
	# checkout's rootfs/ instead, as chapter 3 would have left it.
	! selects 'mkdir -p rootfs' || rm -rf --one-file-system rootfs
	podman_seed
}

# A fresh clone has not built the steps either: the document's first make
# (9.0) builds them (in the VM's overlay, or in the sandbox's copy of the
# checkout). When DOC_ONLY leaves that block out, the chapters after it get
# the steps as built before the run, even if a later make (an appendix's) is
# selected: 9.4 comes before 付録 J's make.
fresh_clone() {
	! first_make_selected || make -s clean >/dev/null
}
first_make_selected() {
	local i
	for ((i = 0; i < DOC_NBLOCKS; i++)); do
		if [ "${B_KIND[i]}" = term ] && [[ $'\n'${B_TEXT[i]}$'\n' == *$'\n'make$'\n'* ]]; then
			[ -n "${B_SEL[i]}" ]
			return
		fi
	done
	return 1
}

# selects TEXT: whether a selected command block contains TEXT.
selects() {
	local i
	for ((i = 0; i < DOC_NBLOCKS; i++)); do
		[ "${B_KIND[i]}" = term ] && [ -n "${B_SEL[i]}" ] && [[ ${B_TEXT[i]} == *"$1"* ]] && return 0
	done
	return 1
}

# podman pull always asks the registry (its --policy defaults to always, and
# no configuration changes that in podman 4.3), so being in local storage is
# not enough offline. The image the document names is imported into local
# storage from a tarball of a busybox rootfs, pushed to a directory, and
# served from there by busybox httpd on 127.0.0.1 as a registry mirror of
# docker.io (a registries.conf drop-in): the document's own podman pull,
# create and export then run unchanged, without network.
podman_seed() {
	local image repo_path tag mirror=127.0.0.1:5000 www="$tmp/registry" f manifest mtype
	local i
	image=''
	for ((i = 0; i < DOC_NBLOCKS; i++)); do
		if [ "${B_KIND[i]}" = term ] && [[ ${B_TEXT[i]} =~ podman\ pull\ ([^[:space:]]+) ]]; then
			image=${BASH_REMATCH[1]}
			break
		fi
	done
	[ -n "$image" ] || return 0
	[[ $image =~ ^docker\.io/([^:]+):([^:]+)$ ]] || die "cannot mirror image '$image' (want docker.io/NAME:TAG)"
	repo_path=${BASH_REMATCH[1]} tag=${BASH_REMATCH[2]}
	# busybox httpd picks the Content-Type by file extension: the tag must
	# have one (3.20 -> .20).
	[[ $tag == *.* ]] || die "cannot mirror tag '$tag' (busybox httpd needs an extension for the manifest type)"
	./rootfs.sh --from busybox "$tmp/seed-rootfs" >/dev/null 2>&1 || die "rootfs.sh --from busybox failed"
	# Alpine's image runs /bin/sh by default; podman create needs a command.
	tar -C "$tmp/seed-rootfs" -c . | podman import -q --change 'CMD ["/bin/sh"]' - "$image" >/dev/null ||
		die "podman import failed"
	rm -rf "$tmp/seed-rootfs"
	podman push -q "$image" "dir:$tmp/seed-dir" 2>/dev/null || die "podman push to dir: failed"
	mkdir -p "$www/v2/$repo_path/manifests" "$www/v2/$repo_path/blobs"
	echo '{}' >"$www/v2/index.html"
	for f in "$tmp/seed-dir"/*; do
		[[ ${f##*/} =~ ^[0-9a-f]{64}$ ]] && ln "$f" "$www/v2/$repo_path/blobs/sha256:${f##*/}"
	done
	manifest=$www/v2/$repo_path/manifests/$tag
	ln "$tmp/seed-dir/manifest.json" "$manifest"
	mtype=$(grep -o '"mediaType": *"[^"]*manifest[^"]*"' "$manifest" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/') || true
	if [ -z "$mtype" ]; then # OCI manifests may leave it out
		mtype=application/vnd.docker.distribution.manifest.v2+json
		! grep -q 'vnd.oci.image.config' "$manifest" || mtype=application/vnd.oci.image.manifest.v1+json
	fi
	echo ".${tag##*.}:$mtype" >"$tmp/httpd.conf"
	busybox httpd -f -p "$mirror" -h "$www" -c "$tmp/httpd.conf" &
	httpd_pid=$!
	mkdir -p /etc/containers/registries.conf.d
	cat >/etc/containers/registries.conf.d/zz-test-doc-mirror.conf <<EOF
# test-doc (tests/doc/terminal.sh): serve $image offline.
[[registry]]
prefix = "docker.io/$repo_path"
location = "docker.io/$repo_path"
[[registry.mirror]]
location = "$mirror/$repo_path"
insecure = true
EOF
}

# Natively with the real sudo, the document's root shells (sudo bash) save
# their history to root's; put it back as it was.
save_root_history() {
	local h=/root/.bash_history
	history_saved=absent
	if [ -e "$h" ]; then
		cp -p "$h" "$tmp/root_history"
		history_saved=present
	fi
}
restore_root_history() {
	local h=/root/.bash_history
	if [ "$history_saved" = present ]; then
		cmp -s "$tmp/root_history" "$h" || cp -p "$tmp/root_history" "$h"
	else
		rm -f "$h"
	fi
}

# --- Reporting ---
doc_name=${DOC_FILE#"$DOC_REPO"/}
n_blocks=0 n_lines=0 n_outputs=0 n_skipped=0 n_unselected=0 n_failed=0
ran_at=() skipped_at=() # document lines of the term blocks run and skipped
sec_name='' sec_blocks=0 sec_lines=0 sec_outputs=0 sec_fail=() sec_skip='' sec_t0=0

# A section's display name: numbered headings as they are, the others
# ("確認方法 / 期待される結果") after their chapter's number.
# An appendix chapter (## 付録 A ...) is a chapter too: its sections
# ("A.1 ...") are numbered with its letter, its others get "付録 A".
# (Into the variable VAR, not on stdout: a $(...) forks, and in the VM a fork
# of this large shell costs a lot; the same goes for the helpers below.)
fail_at() { # fail_at DOC_LINE MESSAGE [DETAIL...]
	local where="$doc_name:$1" msg=$2
	shift 2
	sec_fail+=("$where: $msg")
	local d line
	for d in "$@"; do
		while IFS= read -r line; do
			sec_fail+=("    $line")
		done <<<"$d"
	done
}

plural() { # plural N WORD: "1 block", "2 blocks"
	if [ "$1" = 1 ]; then echo "$1 $2"; else echo "$1 ${2}s"; fi
}

section_end() {
	[ -n "$sec_name" ] || return 0
	local counts f
	counts="$(plural "$sec_blocks" block), $(plural "$sec_lines" line), $(plural "$sec_outputs" output); $((SECONDS - sec_t0)) s"
	if [ -n "$sec_skip" ] && ((sec_blocks == 0)); then
		printf 'skip  %s: %s\n' "$sec_name" "$sec_skip"
	elif ((${#sec_fail[@]})); then
		printf 'FAIL  %s (%s)\n' "$sec_name" "$counts"
		for f in "${sec_fail[@]}"; do
			printf '        %s\n' "$f"
		done
		n_failed=$((n_failed + 1))
	elif ((sec_blocks)); then
		printf 'ok    %s (%s)\n' "$sec_name" "$counts"
	fi
	sec_name='' sec_blocks=0 sec_lines=0 sec_outputs=0 sec_fail=() sec_skip=''
}

# --- Running blocks ---
# P_*[N]: a block of terminal N still running while the other terminal acts.
declare -A P_BLOCK=() P_START=() P_T0=() # P_START: its U_PREV
broken="" # set when the chapter cannot go on (a command failed or hung)

# The block of expected output after term block I, if any ("" if none),
# into the variable VAR.
expected_of() { # expected_of VAR I
	local j
	printf -v "$1" '%s' ''
	for ((j = $2 + 1; j < DOC_NBLOCKS; j++)); do
		case ${B_KIND[j]} in
		output) printf -v "$1" '%s' "$j" && return 0 ;;
		term) return 0 ;;
		esac
	done
}

# The terminal of the next term block after I ("" if none), into VAR.
next_terminal() { # next_terminal VAR I
	local j
	printf -v "$1" '%s' ''
	for ((j = $2 + 1; j < DOC_NBLOCKS; j++)); do
		[ "${B_KIND[j]}" != term ] || {
			printf -v "$1" '%s' "${B_ARG[j]}"
			return 0
		}
	done
}

# check_block I [waited]: the status and error rules for finished block I
# (see README). Fails (returns 1) with the reason recorded. "waited": the
# block's last line waited for the other terminal, which usually ends it
# (kill): its status is not checked.
check_block() {
	local i=$1 waited=${2:-} exp first last l ok pat line
	line=$((B_LINE[i] + 1))
	expected_of exp "$i"
	first=${B_TEXT[i]%%$'\n'*}
	last=${B_TEXT[i]##*$'\n'}
	if ((U_MS > slowest_ms)) && [ -z "$waited" ]; then
		slowest_ms=$U_MS slowest="$doc_name:$line \`$first\`"
	fi
	if [ -n "$VERBOSE" ]; then
		printf '      $ %s   [status %s, %d.%d s]\n' "${B_TEXT[i]//$'\n'/$'\n'      $ }" "$U_STATUS" $((U_MS / 1000)) $((U_MS % 1000 / 100))
		[ -z "$U_OUT" ] || printf '        %s\n' "${U_OUT//$'\n'/$'\n'        }"
		[ -z "$U_ERRS" ] || printf '        (failed: %s)\n' "${U_ERRS//$'\n'/; }"
	fi
	# An exit line's "exit" is the shell saying goodbye.
	if [[ $last =~ ^exit([[:space:]]|$) ]]; then
		U_OUT=$(grep -vx -e exit -e logout <<<"$U_OUT" || true)
	fi
	# A last line that waited was usually killed by the other terminal.
	if [ -n "$waited" ] && [ -n "$U_ERRS" ]; then
		local e kept=''
		while IFS= read -r e; do
			[ "${e#*: }" = "$last" ] || kept+=${kept:+$'\n'}$e
		done <<<"$U_ERRS"
		U_ERRS=$kept
	fi
	# A shell the document started returns the status of its last command
	# when an exit leaves it: not a failure of the line that started it.
	if [ -n "$U_ERRS" ]; then
		local e2 kept2=''
		while IFS= read -r e2; do
			doc_starts_shell "${e2#*: }" || kept2+=${kept2:+$'\n'}$e2
		done <<<"$U_ERRS"
		U_ERRS=$kept2
	fi
	if [ -n "$U_ERRS" ] && [ -z "$exp" ]; then
		fail_at "$line" "a command of the block failed (and the document shows no output for it): ${U_ERRS//$'\n'/; }" \
			"${U_OUT:-(no output)}"
		return 1
	fi
	if [ "$U_STATUS" != 0 ] && [ -z "$exp" ] && [ -z "$waited" ] &&
		! [[ $last =~ ^(exit|exec)([[:space:]]|$) ]] &&
		! { [[ $last =~ ^timeout[[:space:]] ]] && [ "$U_STATUS" = 124 ]; }; then
		fail_at "$line" "\`$last\` exited with status $U_STATUS (and the document shows no output for it)" \
			"${U_OUT:-(no output)}"
		return 1
	fi
	# make diff shows source code, whose strings say "error" on purpose.
	[[ $'\n'${B_TEXT[i]} =~ $'\n'(sudo\ )?(make\ diff|diff)\  ]] && return 0
	local expected_lines=()
	[ -z "$exp" ] || mapfile -t expected_lines < <(normalize <<<"${B_TEXT[exp]}")
	shopt -s nocasematch
	while IFS= read -r l; do
		[[ $l =~ $err_re ]] || continue
		ok=''
		for pat in "${expected_lines[@]}"; do
			[ "$pat" != '...' ] || continue
			if [[ $l =~ $(to_regex "$pat") ]]; then
				ok=1
				break
			fi
		done
		if [ -z "$ok" ]; then
			shopt -u nocasematch
			fail_at "$line" "the block printed an error the document does not show: $l"
			return 1
		fi
	done < <(normalize <<<"$U_OUT")
	shopt -u nocasematch
	return 0
}

# check_output I OUT: block I's whole output against its output block.
check_output() {
	local i=$1 actual=$2 exp k
	expected_of exp "$i"
	[ -n "$exp" ] || return 0
	sec_outputs=$((sec_outputs + 1))
	n_outputs=$((n_outputs + 1))
	mapfile -t E < <(normalize <<<"${B_TEXT[exp]}")
	mapfile -t A < <(normalize <<<"$actual")
	R=()
	for ((k = 0; k < ${#E[@]}; k++)); do
		R[k]=$(to_regex "${E[k]}")
	done
	memo=()
	match_from 0 0 && return 0
	# A diff, whitespace normalised, of the document's lines (-) and the
	# screen's (+); lines with placeholders or "..." show up as well.
	local details=()
	mapfile -t details < <(diff -U1 <(printf '%s\n' "${E[@]}") <(printf '%s\n' "${A[@]}") | tail -n +3)
	fail_at "$((B_LINE[i] + 1))" "the output differs from the document's (line $((B_LINE[exp]))): -document +screen" "${details[@]}"
	return 1
}

# finish_pending N: collect the block of terminal N left running.
finish_pending() {
	local n=$1 i
	[ -n "${P_BLOCK[$n]:-}" ] || return 0
	i=${P_BLOCK[$n]}
	U_PREV=${P_START[$n]} U_T0=${P_T0[$n]}
	unset "P_BLOCK[$n]"
	if ! block_finish "$n" "$i"; then
		fail_at "$((B_LINE[i] + 1))" "\`${B_TEXT[i]##*$'\n'}\`: $U_WHY"
		broken=1
		return 1
	fi
	check_block "$i" waited || {
		broken=1
		return 1
	}
	check_output "$i" "$U_OUT"
}

# where_ok I: terminal N is where block I's label says it starts: its own
# shell for "ホスト", a shell started inside it for anything else.
where_ok() {
	local i=$1 n=${B_ARG[$1]} depth
	depth=$(pane_tree "$n" | wc -l)
	if [ "${B_WHERE[i]}" = ホスト ]; then
		((depth == 1)) && return 0
		U_WHY="the label says ホスト, but terminal $n is in a shell started inside it ($(pane_tree "$n" | awk 'NR > 1 { printf "%s ", $2 }'))"
	else
		((depth > 1)) && return 0
		U_WHY="the label says ${B_WHERE[i]}, but terminal $n is at its own shell on the host"
	fi
	return 1
}

# run_block I: paste term block I into its terminal.
run_block() {
	local i=$1 n nlines rc next_n
	n=${B_ARG[i]}
	finish_pending "$n" || return 1
	nlines=$(grep -c '' <<<"${B_TEXT[i]}")
	sec_blocks=$((sec_blocks + 1)) n_blocks=$((n_blocks + 1))
	sec_lines=$((sec_lines + nlines)) n_lines=$((n_lines + nlines))
	rc=0
	wait_done "$n" "$LINE_TIMEOUT" || rc=$?
	if ((rc == 0)) && ! where_ok "$i"; then
		fail_at "$((B_LINE[i] + 1))" "$U_WHY"
		broken=1
		return 1
	fi
	U_PREV=${LAST_SEQ[$n]} U_T0=${EPOCHREALTIME/./}
	((rc != 0)) || paste_block "$n" "${B_TEXT[i]}" || rc=$?
	case $rc in
	0) ;;
	2) U_WHY="the shell of terminal $n exited" ;;
	*) U_WHY="terminal $n did not take the block within ${LINE_TIMEOUT} s" ;;
	esac
	if ((rc != 0)); then
		fail_at "$((B_LINE[i] + 1))" "$U_WHY"
		broken=1
		return 1
	fi
	# The block's last line may wait for the other terminal (nc -l, sleep
	# 1000 until killed): if the next block is for the other terminal and
	# the screen has gone quiet, leave it running.
	next_terminal next_n "$i"
	if [ -n "$next_n" ] && [ "$next_n" != "$n" ]; then
		rc=0
		wait_done "$n" "$LINE_TIMEOUT" "$SETTLE" || rc=$?
		if ((rc == 3)); then
			P_BLOCK[$n]=$i P_START[$n]=$U_PREV P_T0[$n]=$U_T0
			return 0
		fi
	fi
	if ! block_finish "$n" "$i"; then
		fail_at "$((B_LINE[i] + 1))" "$U_WHY"
		broken=1
		return 1
	fi
	check_block "$i" || {
		broken=1
		return 1
	}
	check_output "$i" "$U_OUT"
}

# After a failure or at a chapter's end: terminals back to idle host shells.
recover_terminals() {
	local n
	for n in 1 2; do
		unset "P_BLOCK[$n]"
		term_reset "$n"
	done
}

# --- Main ---
start=$SECONDS
if [ -n "$in_vm" ]; then
	vm_setup
fi
fresh_clone
attendee_setup
if [ -z "$in_vm" ]; then
	save_root_history
fi
term_start 1
term_start 2

chap='' chap_label='' chap_state='' chap_skip='' chap_has_blocks='' chap_unselected=''
chapter_end() {
	[ -n "$chap" ] || return 0
	local n failed_here=''
	for n in 1 2; do
		if [ -n "${P_BLOCK[$n]:-}" ] && [ -z "$broken" ]; then
			finish_pending "$n" || failed_here=1
		fi
	done
	section_end
	[ -n "$chap_has_blocks" ] || return 0
	# Every terminal must be back at its own shell, with nothing running.
	for n in 1 2; do
		if [ -z "$broken" ] && [ "$(pane_tree "$n" | wc -l)" -gt 1 ]; then
			printf 'FAIL  %s: terminal %s did not return to the host shell (still running: %s)\n' \
				"$chap_label" "$n" "$(pane_tree "$n" | awk 'NR > 1 { printf "%s ", $2 }')"
			failed_here=1
			n_failed=$((n_failed + 1))
		fi
	done
	if [ -n "$failed_here$broken" ]; then
		recover_terminals
	fi
	if ! diff -u <(printf '%s\n' "$chap_state") <(host_state) >"$tmp/state.diff"; then
		printf 'FAIL  %s: the host is not as the chapter found it\n' "$chap_label"
		sed -n '3,$p' "$tmp/state.diff" | grep '^[-+]' | sed 's/^/        /'
		n_failed=$((n_failed + 1))
	else
		printf 'ok    %s: host state unchanged\n' "$chap_label"
	fi
}

for ((i = 0; i < DOC_NBLOCKS; i++)); do
	if [ "${B_CHAP[i]}" != "$chap" ]; then
		chapter_end
		chap=${B_CHAP[i]} chap_label=$chap chap_skip='' chap_has_blocks='' broken='' chap_unselected=1
		for ((j = i; j < DOC_NBLOCKS; j++)); do
			[ "${B_CHAP[j]}" = "$chap" ] || break
			[ -z "${B_SEL[j]}" ] || chap_unselected=''
		done
		if [ -n "$chap_unselected" ]; then
			chap_skip="not selected by DOC_ONLY=$ONLY"
		else
			chap_state=$(host_state)
			# Shorter screens to read back; the last status lines stay visible.
			tm clear-history -t doc:t1 \; clear-history -t doc:t2
		fi
	fi
	section_label label "${B_SEC[i]}" "$chap"
	if [ "$label" != "$sec_name" ]; then
		# A section ends with nothing left running in it.
		for n in 1 2; do
			if [ -n "${P_BLOCK[$n]:-}" ] && [ -z "$broken" ] && ! finish_pending "$n"; then
				broken=1
			fi
		done
		section_end
		sec_name=$label sec_t0=$SECONDS
	fi
	[ "${B_KIND[i]}" = term ] || continue
	if [ -z "$chap_skip" ] && [ -z "${B_SEL[i]}" ]; then
		# A section DOC_ONLY leaves out, in a chapter it selects sections of.
		sec_skip="not selected by DOC_ONLY=$ONLY"
		n_unselected=$((n_unselected + 1))
		continue
	fi
	if [ -z "$chap_skip" ] && [ -z "$in_vm" ]; then
		skip_text text "$i"
		chap_skip=$(native_skip_reason "$text")
	fi
	if [ -n "$chap_skip" ]; then
		sec_skip=$chap_skip
		# Chapters left out by DOC_ONLY are counted apart: the VM, where
		# nothing may skip, may still run only some chapters.
		if [ -n "$chap_unselected" ]; then
			n_unselected=$((n_unselected + 1))
		else
			n_skipped=$((n_skipped + 1))
			skipped_at+=("${B_LINE[i]}")
		fi
		continue
	fi
	chap_has_blocks=1
	if [ -n "$broken" ]; then
		# After a command failed or hung, the chapter's later blocks would
		# run in the wrong place (a container shell that never started, ...).
		# (A mere output difference does not stop the chapter.)
		[ -n "$sec_skip" ] || sec_skip="not run: an earlier block of this chapter failed"
		n_skipped=$((n_skipped + 1))
		skipped_at+=("${B_LINE[i]}")
		continue
	fi
	ran_at+=("${B_LINE[i]}")
	run_block "$i" || true
done
chapter_end

elapsed=$((SECONDS - start))
echo "$n_blocks blocks, $n_lines lines executed, $n_outputs outputs checked; $n_skipped blocks skipped${ONLY:+, $n_unselected not selected by DOC_ONLY}; $((elapsed / 60)) min $((elapsed % 60)) s"
if [ -n "${DOC_BLOCK_LINES:-}" ]; then
	echo "doc-blocks run: ${ran_at[*]}"
	echo "doc-blocks skipped: ${skipped_at[*]}"
fi
[ -z "$slowest" ] || echo "slowest block: $slowest, $((slowest_ms / 1000)).$((slowest_ms % 1000 / 100)) s (DOC_LINE_TIMEOUT=$LINE_TIMEOUT)"
if ((n_failed)); then
	echo "$prog: $n_failed sections failed" >&2
	exit 1
fi
if [ -n "$in_vm" ] && ((n_skipped)); then
	echo "$prog: $n_skipped blocks skipped in the VM, where every block must run" >&2
	exit 1
fi
