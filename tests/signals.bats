#!/usr/bin/env bats
# The signal and terminal contract of every step, as docker run keeps it: a
# signal reaches PID 1 once it catches it, only SIGTERM (and a closed
# terminal) end in SIGKILL, the caller's signal state cannot break the
# runtime, and on a terminal the container is a proper foreground job
# (Ctrl-C, Ctrl-Z then fg, exit, closing the terminal), driven through tmux.
# Steps 04-06 run where cgroup v2 works (make test-vm), 01-03 everywhere.
# Commands for the container are single-quoted on purpose; bats's run sets $stderr.
# shellcheck disable=SC2016,SC2154

# The cgroup v2 VM runs this whole file, for steps 04-06 (bats tag vm, make test-ci-vm).
# bats file_tags=vm

load helpers

setup() {
	require_root
	snapshot_host
	STEPS=(step01_pid step02_mount step03_net)
	if cgroup_v2_ready; then
		STEPS+=(step04_cgroup step05_veth step06_full)
	fi
	# CI runs this file natively and in the TCG VM: there, where each test
	# takes a minute for six steps, only the steps that need cgroup v2.
	if [ -n "${WORKSHOP_TEST_VM:-}" ] && [ -n "${WORKSHOP_CGROUP_STEPS_ONLY:-}" ]; then
		STEPS=(step04_cgroup step05_veth step06_full)
	fi
	TMUX_SOCKET="ws-signals-$$"
}

teardown() {
	stop_container
	tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true
}

# Wait (bounded, 5 s) until the container's output file has LINE.
wait_output() {
	local _
	for _ in $(seq 100); do
		grep -qx -- "$1" "$BATS_TEST_TMPDIR/out" && return 0
		sleep 0.05
	done
	echo "no '$1' in the output:" >&2
	cat "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err" >&2
	return 1
}

@test "signals: a caught SIGHUP or a slow SIGTERM shutdown is never followed by SIGKILL" {
	local step start
	for step in "${STEPS[@]}"; do
		start_container ready "$REPO/$step/run" sh -c 'trap "echo got HUP" HUP; echo ready; sleep 3; echo survived'
		wait_output ready
		start=$SECONDS
		kill -HUP "$RUNTIME_PID"
		wait_container
		echo "$step HUP -> $status after $((SECONDS - start)) s: $(tr '\n' ' ' <"$BATS_TEST_TMPDIR/out")"
		[ "$status" -eq 0 ]
		[ "$(cat "$BATS_TEST_TMPDIR/out")" = "$(printf 'ready\ngot HUP\nsurvived')" ]
		# A shutdown that takes longer than the grace period is the command's own.
		start_container ready "$REPO/$step/run" sh -c 'trap "sleep 3; exit 4" TERM; echo ready; while :; do sleep 0.1; done'
		wait_output ready
		kill -TERM "$RUNTIME_PID"
		wait_container
		echo "$step slow TERM -> $status"
		[ "$status" -eq 4 ]
	done
	assert_host_unchanged
}

@test "signals: every other signal reaches a PID 1 that catches it; one it does not catch leaves the runtime running" {
	local step sig code
	for step in "${STEPS[@]}"; do
		code=10
		for sig in USR1 USR2 ALRM PWR XCPU INT QUIT; do
			code=$((code + 1))
			start_container ready "$REPO/$step/run" sh -c "trap 'exit $code' $sig; echo ready; while :; do sleep 0.1; done"
			wait_output ready
			kill -s "$sig" "$RUNTIME_PID"
			wait_container
			echo "$step SIG$sig -> $status"
			[ "$status" -eq "$code" ]
		done
		# sleep, PID 1, catches none: the runtime and the container go on
		# (before, SIGUSR1 killed the runtime and left its cgroup behind).
		start_container sleep "$REPO/$step/run" sleep 1000
		for sig in USR1 USR2 ALRM PWR RTMIN+3 HUP INT; do
			kill -s "$sig" "$RUNTIME_PID"
		done
		sleep 2.5	# longer than the grace period
		kill -0 "$RUNTIME_PID"
		kill -0 "$CONTAINER_PID"
		kill -TERM "$RUNTIME_PID"
		wait_container
		echo "$step TERM after the rest -> $status"
		[ "$status" -eq 137 ]	# SIGTERM is the one that ends in SIGKILL
		assert_host_unchanged
	done
}

@test "signals: SIGTERM sent during setup waits for the command's trap" {
	command -v strace >/dev/null || skip "strace is not installed (make test installs it)"
	local step tracer rc _
	for step in "${STEPS[@]}"; do
		# strace holds the child in its setup (at prctl) for 1 s; the
		# SIGTERM comes meanwhile, long before the shell sets its trap.
		strace -f -o /dev/null -e trace=prctl -e inject=prctl:delay_enter=1000000 \
			"$REPO/$step/run" sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done' 3>&- &
		tracer=$!
		for _ in $(seq 100); do
			[ "$(pgrep -cf "^$REPO/$step/run sh -c")" -eq 2 ] && break
			sleep 0.05
		done
		kill -TERM "$(pgrep -of "^$REPO/$step/run sh -c")"
		rc=0
		wait "$tracer" || rc=$?
		echo "$step -> $rc"
		[ "$rc" -eq 3 ]	# not 137: PID 1 never had the chance to drop it
	done
	assert_host_unchanged
}

@test "signals: the caller's signal state does not change the statuses (SIGCHLD ignored, SIGALRM blocked, nohup)" {
	local step start
	for step in "${STEPS[@]}"; do
		# An ignored SIGCHLD would let the kernel reap the container unseen.
		run --separate-stderr bash -c "trap '' CHLD; exec '$REPO/$step/run' sh -c 'exit 3'"
		echo "$step CHLD ignored -> $status: $stderr"
		[ "$status" -eq 3 ]
		# A blocked SIGALRM (the old grace timer) does not stop the SIGKILL.
		start_container sleep perl -MPOSIX -e 'sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGALRM)); exec @ARGV' \
			"$REPO/$step/run" sleep 1000
		start=$SECONDS
		kill -TERM "$RUNTIME_PID"
		wait_container
		echo "$step ALRM blocked -> $status after $((SECONDS - start)) s"
		[ "$status" -eq 137 ] && [ $((SECONDS - start)) -le 6 ]
		# nohup: the hangup stays ignored, by the runtime and the command.
		# (5 s: the hangup must come while it runs, also in a slow VM.)
		start_container ready nohup "$REPO/$step/run" sh -c 'echo ready; sleep 5; echo survived'
		wait_output ready
		kill -HUP "$RUNTIME_PID"
		wait_container
		echo "$step nohup HUP -> $status"
		[ "$status" -eq 0 ]
		grep -qx survived "$BATS_TEST_TMPDIR/out"
	done
	assert_host_unchanged
}

# ---- On a terminal: tmux gives a real pty; the host shell is bash. ----

# Start a bash on a new tmux pty, with a prompt the tests can wait for.
start_terminal() {
	tmux -L "$TMUX_SOCKET" new-session -d -x 150 -y 40 "env PS1='host\$ ' bash --norc --noprofile -i" 3>&-
	screen_shows 'host\$'
	our_session "$(tmux -L "$TMUX_SOCKET" display-message -p '#{pane_pid}')"
}

type_line() {
	tmux -L "$TMUX_SOCKET" send-keys -l -- "$1"
	tmux -L "$TMUX_SOCKET" send-keys Enter
}

# Wait (bounded, 10 s) until the screen has a line matching the ERE.
screen_shows() {
	local _
	for _ in $(seq 100); do
		tmux -L "$TMUX_SOCKET" capture-pane -p -S -100 | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	tmux -L "$TMUX_SOCKET" capture-pane -p -S -100 >&2
	return 1
}

# The state letter (R, S, T...) of process PID, from /proc/PID/stat.
state_of() {
	local stat
	stat=$(<"/proc/$1/stat")
	stat=${stat##*) }
	echo "${stat%% *}"
}

@test "terminal: an interactive shell in the container exits with status 0 and no message" {
	local step
	start_terminal
	for step in "${STEPS[@]}"; do
		type_line "clear; $REPO/$step/run"
		type_line "echo \"$step inside as \$\$\""
		# Typed before the container's shell has started, the line shows
		# as the terminal echoed it, and the output follows the prompt.
		screen_shows "(^|# )$step inside as 1$"
		type_line 'exit'
		type_line "echo \"$step status \$?\""
		screen_shows "^$step status 0$"
		run ! grep -Eqi 'process group|cannot set' <(tmux -L "$TMUX_SOCKET" capture-pane -p -S -100)
	done
	assert_host_unchanged
}

@test "terminal: Ctrl-Z stops the runtime and the whole container, fg continues both, Ctrl-C reaches the command" {
	local step runtime pid1
	start_terminal
	for step in "${STEPS[@]}"; do
		type_line "clear; $REPO/$step/run sh -c 'trap \"exit 5\" INT; echo ready; while :; do sleep 0.1; done'"
		screen_shows '^ready$'
		runtime=$(pgrep -nxf "$REPO/$step/run sh -c .*")
		pid1=$(pgrep -P "$runtime")
		tmux -L "$TMUX_SOCKET" send-keys C-z
		screen_shows 'Stopped'
		sleep 0.5
		echo "$step stopped: runtime $(state_of "$runtime"), PID 1 $(state_of "$pid1")"
		[ "$(state_of "$runtime")" = T ]
		case $step in
		step0[123]_*) [ "$(state_of "$pid1")" = T ] ;;	# SIGSTOP from the parent namespace
		*) grep -qx 'frozen 1' "$(run_cgroup "$runtime")/cgroup.events" ;;
		esac
		type_line 'fg'
		sleep 0.5
		[ "$(state_of "$runtime")" != T ] && [ "$(state_of "$pid1")" != T ]
		case $step in step0[456]_*) grep -qx 'frozen 0' "$(run_cgroup "$runtime")/cgroup.events" ;; esac
		tmux -L "$TMUX_SOCKET" send-keys C-c
		type_line "echo \"$step status \$?\""
		screen_shows "^$step status 5$"
	done
	assert_host_unchanged
}

@test "terminal: Ctrl-C before the command has started cancels the run with 130" {
	command -v strace >/dev/null || skip "strace is not installed (make test installs it)"
	local step
	start_terminal
	for step in "${STEPS[@]}"; do
		# strace holds the child in its setup (at prctl) for 3 s.
		type_line "clear; strace -f -o /dev/null -e trace=prctl -e inject=prctl:delay_enter=3000000 $REPO/$step/run sh -c 'echo command started'"
		sleep 1
		tmux -L "$TMUX_SOCKET" send-keys C-c
		screen_shows "$step: SIGINT before the command started: the run is cancelled"
		type_line "echo \"$step status \$?\""
		screen_shows "^$step status 130$"
		sleep 2.5	# past strace's hold: the command must not start late
		run ! grep -q '^command started' <(tmux -L "$TMUX_SOCKET" capture-pane -p -S -100)
	done
	assert_host_unchanged
}

@test "terminal: closing the terminal ends the container; nothing is left" {
	local step
	for step in "${STEPS[@]}"; do
		start_terminal
		type_line "$REPO/$step/run sleep 7334"
		local _
		for _ in $(seq 50); do pgrep -xf 'sleep 7334' >/dev/null && break; sleep 0.1; done
		pgrep -xf 'sleep 7334' >/dev/null
		tmux -L "$TMUX_SOCKET" kill-server
		# sleep, PID 1, does not catch SIGHUP: SIGKILL after the grace period.
		for _ in $(seq 60); do pgrep -f "$REPO/$step/run sleep 7334|^sleep 7334" >/dev/null || break; sleep 0.1; done
		run ! pgrep -f "$REPO/$step/run sleep 7334|^sleep 7334"
	done
	assert_host_unchanged
}
