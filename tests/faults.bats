#!/usr/bin/env bats
# Faults and bad input: clear errors, docker-style exit statuses, and nothing
# left on the host. Tests that need cgroup v2 run the complete runtime
# (step06) and skip on hosts without it; the rest run the newest step this
# host supports (step06 with cgroup v2, else step03).
# Commands for the container are single-quoted on purpose; bats's run sets $stderr.
# shellcheck disable=SC2016,SC2154

# make test-ci-vm runs the tests tagged vm with step06: those whose code
# path differs with cgroup v2 (limits, the cgroup's removal on a signal or a
# failure, a loop over the steps, step06's options or fds). The others run
# code that steps 02-06 share word for word; they pass natively with step03.

load helpers

setup() {
	require_root
	snapshot_host
	if cgroup_v2_ready; then
		RUN="$REPO/step06_full/run"
	else
		RUN="$REPO/step03_net/run"
	fi
	TMUX_SOCKET="ws-faults-$$"
}

teardown() {
	stop_container
	tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true
}

# Wait (bounded) until process PID is gone.
wait_gone() {
	local _
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# A fresh copy again, for a test that breaks one per case.
scratch_rootfs_again() {
	rm -rf "$SCRATCH"
	scratch_rootfs
}

# A copy of the rootfs that a test may change, with the static test helpers.
scratch_rootfs() {
	SCRATCH="$BATS_TEST_TMPDIR/rootfs"
	cp -a "$ROOTFS" "$SCRATCH"
	cp "$REPO/tests/helpers/chroot_escape" "$SCRATCH/"
}

# bats test_tags=vm
@test "faults: bad input exits 125 with a message, before the host is touched" {
	local run="$REPO/step06_full/run" long
	long=$(printf 'h%.0s' $(seq 100))
	local -a cases=(
		"--memory abc" "--memory 0" "--memory -1"
		"--cpus 0" "--cpus -1" "--cpus x"
		"--pids-limit 0" "--pids-limit x"
		"--no-such-option" "--memory"
		"--hostname $long" "--hostname bad_name!"
		"--rootfs /nonexistent" "--rootfs /etc/hostname" "--rootfs /"
		"--ip 224.0.0.2" "--ip 0.0.0.2" "--ip 240.0.0.2" "--ip 127.0.0.2" "--ip 255.255.255.255"
		"--pids-limit 5000000"
	)
	local args
	for args in "${cases[@]}"; do
		# shellcheck disable=SC2086 # "--option value" is split on purpose
		run --separate-stderr "$run" $args true
		echo "$args -> $status: $stderr"
		[ "$status" -eq 125 ]
		[[ "$stderr" == "step06_full: "?* ]]
	done
	assert_host_unchanged
}

# bats test_tags=vm
@test "faults: --rootfs . is the directory it names; a rootfs whose /dev or /proc is a symlink is refused" {
	scratch_rootfs
	local step point
	echo "the scratch rootfs" >"$SCRATCH/ws-marker"
	for step in step02_mount step03_net step04_cgroup step05_veth step06_full; do
		case $step in step0[456]_*) cgroup_v2_ready || continue ;; esac
		run --separate-stderr bash -c 'cd "$1" && exec "$2" --rootfs . cat /ws-marker' bash "$SCRATCH" "$REPO/$step/run"
		echo "$step --rootfs . -> $status: $output / $stderr"
		[ "$status" -eq 0 ] && [ "$output" = "the scratch rootfs" ]
	done
	for point in dev proc; do
		scratch_rootfs_again
		rm -rf "${SCRATCH:?}/$point"
		ln -s /tmp "$SCRATCH/$point"	# would mount over the host's /tmp
		run --separate-stderr "$REPO/step02_mount/run" --rootfs "$SCRATCH" true
		echo "/$point -> $status: $stderr"
		[ "$status" -eq 125 ]
		[ "$stderr" = "step02_mount: rootfs $SCRATCH: /$point is not a directory (a symlink would lead the mount out of the rootfs)" ]
	done
	assert_host_unchanged
}

@test "faults: the container has its own /dev/shm tmpfs and a /dev/full" {
	run --separate-stderr "$RUN" sh -c 'grep " /dev/shm " /proc/self/mountinfo; echo data >/dev/shm/x && cat /dev/shm/x; echo full >/dev/full'
	echo "$status: $output / $stderr"
	[ "$status" -ne 0 ]	# the write to /dev/full fails: ENOSPC
	[[ "${lines[0]}" == *" /dev/shm "*" - tmpfs shm rw"* ]]
	[ "${lines[1]}" = data ]
	[[ "$stderr" == *"No space left on device"* ]]
	assert_host_unchanged
}

@test "faults: option errors name the option as typed (-Zh, --help=x, a missing value)" {
	local step
	for step in step01_pid step02_mount step03_net step04_cgroup step05_veth step06_full; do
		run --separate-stderr "$REPO/$step/run" -Zh
		[ "$status" -eq 125 ] && [[ "$stderr" == "$step: unknown option '-Z' "* ]]
		run --separate-stderr "$REPO/$step/run" --help=x
		[ "$status" -eq 125 ] && [[ "$stderr" == "$step: option '--help' takes no value "* ]]
		run --separate-stderr "$REPO/$step/run" --no-such-option
		[ "$status" -eq 125 ] && [[ "$stderr" == "$step: unknown option '--no-such-option' "* ]]
	done
	run --separate-stderr "$REPO/step02_mount/run" -r
	[ "$status" -eq 125 ] && [[ "$stderr" == "step02_mount: option '-r' needs a value "* ]]
	run --separate-stderr "$REPO/step02_mount/run" --rootfs
	[ "$status" -eq 125 ] && [[ "$stderr" == "step02_mount: option '--rootfs' needs a value "* ]]
}

# bats test_tags=vm
@test "faults: the command gets PATH, HOME and TERM, none of the caller's environment" {
	local step want
	for step in step01_pid step02_mount step03_net step04_cgroup step05_veth step06_full; do
		case $step in step0[456]_*) cgroup_v2_ready || continue ;; esac
		want="HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=ws-test-term"
		[ "$step" != step06_full ] || want="HOME=/root HOSTNAME=container ${want#HOME=/root }"
		# env -i: exactly these, so the test does not depend on the caller's.
		run --separate-stderr env -i SUDO_USER=someone PS1='host$ ' DBUS_SESSION_BUS_ADDRESS=x TERM=ws-test-term \
			"$REPO/$step/run" /usr/bin/env
		echo "$step: $output"
		[ "$status" -eq 0 ]
		[ "$(sort <<<"$output" | tr '\n' ' ')" = "$want " ]
	done
	assert_host_unchanged
}

@test "faults: a rootfs without /bin/sh and no command exits 127" {
	mkdir -p "$BATS_TEST_TMPDIR/empty/dev" "$BATS_TEST_TMPDIR/empty/proc"
	run -127 --separate-stderr "$RUN" --rootfs "$BATS_TEST_TMPDIR/empty"
	[[ "$stderr" == *"cannot run /bin/sh: No such file or directory" ]]
	assert_host_unchanged
}

@test "faults: a command that is not executable exits 126" {
	run -126 --separate-stderr "$RUN" /etc/passwd
	[[ "$stderr" == *"cannot run /etc/passwd: Permission denied" ]]
	assert_host_unchanged
}

# bats test_tags=vm
@test "faults: OOM of a process inside kills it (137); the container goes on" {
	require_cgroup_v2
	run --separate-stderr "$RUN" --memory 32M sh -c 'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo "dd exited $?"'
	[ "$status" -eq 0 ]
	[ "$output" = "dd exited 137" ]
	assert_host_unchanged
}

# bats test_tags=vm
@test "faults: a fork bomb stops at the pids limit; the runtime stays responsive" {
	require_cgroup_v2
	# exec: PID 1 itself must not need a fork once the bomb has used them up.
	start_container sleep "$RUN" --pids-limit 32 sh -c 'bomb() { bomb | bomb & }; bomb; exec sleep 1000'
	sleep 2
	local cg
	cg=$(run_cgroup "$RUNTIME_PID")
	[ "$(cat "$cg/pids.current")" -le 32 ]
	grep -q '^max [1-9]' "$cg/pids.events"	# forks were refused
	kill -TERM "$RUNTIME_PID"
	wait_gone "$RUNTIME_PID"
	wait_container
	[ "$status" -eq 137 ]	# sleep, PID 1, ignores SIGTERM: SIGKILL after the grace period
	assert_host_unchanged
}

@test "faults: when PID 1 exits, the processes it left behind die too" {
	run "$RUN" sh -c 'sleep 7331 & sleep 7331 & exit 3'
	[ "$status" -eq 3 ]
	run ! pgrep -f 'sleep 7331'
	assert_host_unchanged
}

@test "faults: SIGINT, SIGTERM and SIGHUP reach a PID 1 that handles them; its own status counts" {
	local sig _
	for sig in INT TERM HUP; do
		start_container trap "$RUN" sh -c 'trap "exit 0" TERM HUP; trap "exit 3" INT; echo ready; while :; do sleep 0.1; done'
		# Only once the traps are set: PID 1 drops a signal it has no handler for.
		for _ in $(seq 100); do grep -q ready "$BATS_TEST_TMPDIR/out" && break; sleep 0.05; done
		kill -s "$sig" "$RUNTIME_PID"
		wait_container
		echo "SIG$sig -> $status"
		# As docker run: the container's own status, not 128+N.
		if [ "$sig" = INT ]; then [ "$status" -eq 3 ]; else [ "$status" -eq 0 ]; fi
		! grep -q . "$BATS_TEST_TMPDIR/err"
	done
	assert_host_unchanged
}

# bats test_tags=vm
@test "faults: a PID 1 that ignores the signal is killed after the grace period: 137" {
	start_container sleep "$RUN" sleep 1000
	local start=$SECONDS
	kill -TERM "$RUNTIME_PID"
	wait_container
	[ "$status" -eq 137 ]
	# PID 1 ignores SIGTERM without a handler; SIGKILL came after ~2 s.
	[ $((SECONDS - start)) -ge 1 ] && [ $((SECONDS - start)) -le 6 ]
	assert_host_unchanged
}

# bats test_tags=vm
@test "faults: SIGKILL of the runtime takes the container with it; make reset cleans up" {
	start_container sleep "$RUN" sleep 1000
	local runtime=$RUNTIME_PID container=$CONTAINER_PID
	kill -KILL "$RUNTIME_PID"
	wait_container
	wait_gone "$container"
	run make -s -C "$REPO" reset
	[ "$status" -eq 0 ]
	if cgroup_v2_ready; then
		# The runtime had no chance to clean up: reset finds its cgroup. (The
		# veth went away with the container's network namespace.)
		[[ "$output" == *"removed cgroup /sys/fs/cgroup/workshop/ws-$runtime-"* ]]
	else
		[[ "$output" == *"nothing to clean"* ]]
	fi
	# No process of the container's PID namespace is left, nor anything else.
	assert_host_unchanged
	run make -s -C "$REPO" reset
	[ "$status" -eq 0 ]
	[[ "$output" == *"nothing to clean"* ]]
}

# bats test_tags=vm
@test "faults: Ctrl-C at the container's shell interrupts only the foreground program" {
	tmux -L "$TMUX_SOCKET" new-session -d -x 100 -y 20 "$RUN" 3>&-
	our_session "$(tmux -L "$TMUX_SOCKET" display-message -p '#{pane_pid}')"
	screen_shows() {
		local _
		for _ in $(seq 100); do
			tmux -L "$TMUX_SOCKET" capture-pane -p | grep -q -- "$1" && return 0
			sleep 0.1
		done
		tmux -L "$TMUX_SOCKET" capture-pane -p >&2
		return 1
	}
	tmux -L "$TMUX_SOCKET" send-keys 'echo "shell $$ ready"' Enter
	screen_shows 'shell 1 ready'
	tmux -L "$TMUX_SOCKET" send-keys 'sleep 1000' Enter
	sleep 1
	tmux -L "$TMUX_SOCKET" send-keys C-c
	sleep 3	# longer than the grace period: a forwarded SIGINT would have killed the shell
	# sleep died of SIGINT (130); the shell, PID 1, is still there.
	tmux -L "$TMUX_SOCKET" send-keys 'echo "interrupted $? in $$"' Enter
	screen_shows 'interrupted 130 in 1'
	tmux -L "$TMUX_SOCKET" send-keys 'exit' Enter
	local _
	for _ in $(seq 50); do
		tmux -L "$TMUX_SOCKET" has-session 2>/dev/null || break
		sleep 0.1
	done
	run ! tmux -L "$TMUX_SOCKET" has-session
	assert_host_unchanged
}

# bats test_tags=vm
@test "faults: 25 sequential runs of step06 leave nothing behind" {
	require_cgroup_v2
	local i
	for i in $(seq 25); do
		run "$REPO/step06_full/run" true
		[ "$status" -eq 0 ] || { echo "run $i -> $status: $output" >&2; return 1; }
	done
	assert_host_unchanged
}

# bats test_tags=vm
@test "faults: 5 concurrent runs of step04 leave nothing behind" {
	require_cgroup_v2
	local pids=() pid failed=0
	for _ in 1 2 3 4 5; do
		"$REPO/step04_cgroup/run" sh -c 'sleep 1; [ "$(cat /proc/self/cgroup)" != "" ]' 3>&- &
		pids+=("$!")
	done
	for pid in "${pids[@]}"; do
		wait "$pid" || failed=$((failed + 1))
	done
	[ "$failed" -eq 0 ]
	assert_host_unchanged
}

@test "faults: no host process is visible inside" {
	sleep 1000 3>&- &
	local host_sleep=$!
	run --separate-stderr "$RUN" ps -o pid,comm
	kill "$host_sleep"
	[ "$status" -eq 0 ]
	[[ "$output" != *sleep* ]]
	[ "${#lines[@]}" -eq 2 ]
}

# bats test_tags=vm
@test "faults: the classic chroot escape works against chroot, not inside a container" {
	scratch_rootfs
	local marker="$BATS_TEST_TMPDIR/host-only-marker"
	touch "$marker"
	# Against a plain chroot, the escape reaches the host's root.
	run chroot "$SCRATCH" /chroot_escape "$marker"
	[ "$status" -eq 0 ]
	local step
	for step in step02_mount step03_net step04_cgroup step05_veth step06_full; do
		case $step in step0[456]_*) cgroup_v2_ready || continue ;; esac
		run "$REPO/$step/run" --rootfs "$SCRATCH" /chroot_escape "$marker"
		echo "$step -> $status"
		[ "$status" -eq 1 ]
	done
	assert_host_unchanged
}

@test "faults: mounts made inside never appear in the host's mount table" {
	scratch_rootfs
	mkdir -p "$SCRATCH/mnt"
	start_container sleep "$RUN" --rootfs "$SCRATCH" sh -c 'mount -t tmpfs inside /mnt && exec sleep 1000'
	local _
	for _ in $(seq 100); do	# until the shell has mounted it and exec'd sleep
		grep -q ' /mnt .* tmpfs inside ' "/proc/$CONTAINER_PID/mountinfo" && break
		sleep 0.1
	done
	grep -q ' /mnt .* tmpfs inside ' "/proc/$CONTAINER_PID/mountinfo"
	# While it runs, the host's mount table is what it was before.
	diff <(sed -n '/^## mounts/,/^## cgroups/p' "$BATS_TEST_TMPDIR/host.before") \
		<(host_state | sed -n '/^## mounts/,/^## cgroups/p')
	stop_container
	assert_host_unchanged
}

@test "faults: /proc inside is nosuid, nodev and noexec" {
	run --separate-stderr "$RUN" grep ' /proc ' /proc/self/mountinfo
	[ "$status" -eq 0 ]
	[[ "$output" == *rw,nosuid,nodev,noexec* ]]
}

# bats test_tags=vm
@test "faults: an fd the caller left open does not reach the container" {
	local step
	for step in step01_pid step02_mount step03_net step04_cgroup step05_veth step06_full; do
		case $step in step0[456]_*) cgroup_v2_ready || continue ;; esac
		# fd 3: the host's /; fd 4: a file of the host.
		run --separate-stderr "$REPO/$step/run" sh -c 'ls /proc/self/fd; cat /proc/self/fd/3/etc/hostname /proc/self/fd/4' 3</ 4</etc/hostname
		echo "$step -> $status: $output / $stderr"
		[ "$status" -ne 0 ]
		[[ "$output" != *"$(cat /etc/hostname)"* ]]
		# Only stdin, stdout, stderr, and ls's own directory.
		[ "${lines[*]:0:4}" = "0 1 2 3" ] && [ "${lines[4]:-}" = "" ]
	done
	assert_host_unchanged
}

# bats test_tags=vm
@test "faults: closed stdin, stdout and stderr at start: the statuses stay right" {
	local step rc
	for step in step01_pid step02_mount step03_net step04_cgroup step05_veth step06_full; do
		case $step in step0[456]_*) cgroup_v2_ready || continue ;; esac
		rc=0
		"$REPO/$step/run" /no/such/cmd <&- 1>&- 2>&- || rc=$?
		echo "$step not found -> $rc"
		[ "$rc" -eq 127 ]
		rc=0
		"$REPO/$step/run" sh -c 'exit 7' 1>&- 2>&- || rc=$?
		echo "$step exit 7 -> $rc"
		[ "$rc" -eq 7 ]
	done
	assert_host_unchanged
}

# bats test_tags=vm
@test "faults: SIGTERM sent at once is never a setup failure nor a made-up 143" {
	local i rc runtime statuses=()
	for i in $(seq 10); do
		"$RUN" sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done' 3>&- &
		runtime=$!
		# As soon as the child exists: it may still be setting up.
		for _ in $(seq 500); do
			pgrep -P "$runtime" >/dev/null && break
		done
		kill -TERM "$runtime"
		rc=0
		wait "$runtime" || rc=$?
		statuses+=("$rc")
	done
	echo "statuses: ${statuses[*]}"
	# 3: the runtime held the signal until the trap existed (never dropped
	# by PID 1, which would have ended in SIGKILL: 137).
	for i in "${statuses[@]}"; do
		[ "$i" -eq 3 ]
	done
	assert_host_unchanged
}

# bats test_tags=vm
@test "faults: a runtime killed before the child arms its death signal takes the container along" {
	command -v strace >/dev/null || skip "strace is not installed (make test installs it)"
	# strace holds the child at prctl(PR_SET_PDEATHSIG) for 2 s; meanwhile
	# the runtime is SIGKILLed. Without the check after prctl, the command
	# would start and outlive it.
	strace -f -o /dev/null -e trace=prctl -e inject=prctl:delay_enter=2000000 \
		"$RUN" sleep 7332 3>&- &
	local tracer=$! runtime='' _
	for _ in $(seq 50); do
		# The oldest process with the runtime's command line is the runtime;
		# wait until its child exists too.
		[ "$(pgrep -cxf "$RUN sleep 7332")" -eq 2 ] && runtime=$(pgrep -oxf "$RUN sleep 7332") && break
		sleep 0.1
	done
	[ -n "$runtime" ]
	kill -KILL "$runtime"
	sleep 3	# the delay ends; the child finds the runtime gone
	run pgrep -f '^sleep 7332'
	pkill -KILL -f '^sleep 7332' || true	# the container outlived its runtime (the bug): end it
	wait "$tracer" || true
	[ "$status" -eq 1 ]	# no such process
	run make -s -C "$REPO" reset	# the cgroup of a killed step04-06 run
	assert_host_unchanged
}

# Killed during setup, the container never ran its command: 125, whatever
# killed it. (--memory 4k alone was not enough: the OOM kill can land after
# the exec, in the command's own first page faults, and then 137 is right.
# So the test holds the child in its setup, and kills it there.)
# bats test_tags=vm
@test "faults: a container killed during setup is a runtime failure (125), not its command's 137" {
	command -v strace >/dev/null || skip "strace is not installed (make test installs it)"
	local step args tracer runtime child rc _
	for step in step01_pid step02_mount step03_net step04_cgroup step05_veth step06_full; do
		args=true
		case $step in step0[456]_*) cgroup_v2_ready || continue; args="--memory 32M true" ;; esac
		# strace stops the child with SIGSTOP at prctl, the first step of its
		# setup, and it stays stopped until it is killed. (A timed hold,
		# inject=...:delay_enter, was not certain: in the TCG VM the kill
		# sometimes came after the delay, once the command ran; and strace 6.1
		# lost track of a tracee killed during a delay.)
		# shellcheck disable=SC2086 # "--memory 32M true" is split on purpose
		strace -f -o /dev/null -e trace=prctl -e inject=prctl:signal=SIGSTOP \
			"$REPO/$step/run" $args >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
		tracer=$! runtime='' child=''
		for _ in $(seq 200); do
			if [ "$(pgrep -cxf "$REPO/$step/run $args")" -eq 2 ]; then
				runtime=$(pgrep -oxf "$REPO/$step/run $args")
				child=$(pgrep -nxf "$REPO/$step/run $args")
				# stopped (T, or t while strace looks at it): held at prctl
				[[ $(awk '{ print $3 }' "/proc/$child/stat" 2>/dev/null) = [Tt] ]] && break
				child=''
			fi
			sleep 0.05
		done
		[ -n "$child" ]
		case $step in
		step0[123]_*) kill -KILL "$child" ;;
		*)
			echo 0 >"$(run_cgroup "$runtime")/memory.max"	# the OOM killer, now
			# If it did not take the stopped child at once, let the child
			# go on: its next page in setup is charged against 0 bytes.
			for _ in $(seq 50); do
				[[ $(awk '{ print $3 }' "/proc/$child/stat" 2>/dev/null) = [TtS] ]] || break
				sleep 0.1
			done
			kill -CONT "$child" 2>/dev/null || true
			;;
		esac
		# The run must end; a hang is a failure, not a stuck suite.
		for _ in $(seq 300); do
			[[ $(awk '{ print $3 }' "/proc/$tracer/stat" 2>/dev/null) = [TtSRD] ]] || break
			sleep 0.1
		done
		if [[ $(awk '{ print $3 }' "/proc/$tracer/stat" 2>/dev/null) = [TtSRD] ]]; then
			echo "$step: the run did not end within 30 s of the kill" >&2
			pkill -KILL -P "$tracer" || true
			kill -KILL "$tracer" || true
			return 1
		fi
		rc=0
		wait "$tracer" || rc=$?
		echo "$step -> $rc: $(cat "$BATS_TEST_TMPDIR/err")"
		[ "$rc" -eq 125 ]
		case $step in
		step0[123]_*) grep -qx "$step: the container was killed by SIGKILL during setup" "$BATS_TEST_TMPDIR/err" ;;
		*) grep -qx "$step: the container was killed by SIGKILL during setup: out of memory (--memory 33554432 bytes is too little)" "$BATS_TEST_TMPDIR/err" ;;
		esac
	done
	assert_host_unchanged
}

@test "faults: started inside a chroot, the runtime refuses (125) and says why, even where PID 1 is hidden" {
	scratch_rootfs
	# The chroot: the scratch rootfs, with a static runtime and a rootfs inside.
	cc -static -O2 -o "$SCRATCH/run" "$REPO/step02_mount/main.c"
	mkdir "$SCRATCH/inner"
	cp -a "$ROOTFS/." "$SCRATCH/inner/"
	cp "$REPO/tests/helpers/chroot_escape" "$SCRATCH/inner/"
	local marker="$BATS_TEST_TMPDIR/host-only-marker" how
	touch "$marker"
	# The chroot's directory a mount point, as the escape needs; first with
	# the host's /proc/1 seen, then with PID 1 the chroot itself (a fresh
	# PID namespace): /proc/1/root cannot tell, the climb in the child can.
	for how in "" "--pid --fork"; do
		# shellcheck disable=SC2086 # $how is split on purpose
		run --separate-stderr unshare --mount $how sh -c \
			'mount --bind "$1" "$1" && mount -t proc proc "$1/proc" && exec chroot "$1" /run --rootfs /inner /chroot_escape "$2"' \
			sh "$SCRATCH" "$marker"
		echo "unshare --mount $how: $status: $stderr"
		[ "$status" -eq 125 ]
		[[ "$stderr" == *"running inside a chroot"*"pivot_root"* ]]
	done
	assert_host_unchanged
}
