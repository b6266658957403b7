# Shared helpers for the bats suite: `load helpers` at the top of a .bats file.
# shellcheck shell=bash

bats_require_minimum_version 1.5.0

REPO="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
ROOTFS="$REPO/rootfs"
export REPO ROOTFS

# The whole suite runs the real binaries as root; say so instead of failing
# in confusing ways.
require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "the test suite needs root: sudo make test" >&2
		return 1
	fi
}

# shellcheck source=tests/cgroup_v2.bash
source "$REPO/tests/cgroup_v2.bash"

# Tests that need cgroup v2 controllers skip on hosts without them (the VM
# run covers them); inside the VM (WORKSHOP_TEST_VM=1) they must never skip.
require_cgroup_v2() {
	cgroup_v2_ready && return 0
	if [ -n "${WORKSHOP_TEST_VM:-}" ]; then
		echo "cgroup v2 controllers missing inside the test VM" >&2
		return 1
	fi
	skip "no cgroup v2 memory/cpu/pids controllers on this host (hybrid hierarchy); make test-vm runs this"
}

# What a container could leave behind on the host: mounts, our cgroups, network
# interfaces, and processes of our containers.
host_state() {
	echo "## mounts"
	cat /proc/self/mountinfo
	echo "## cgroups"
	{ find /sys/fs/cgroup -maxdepth 1 -name 'ws-*'; find /sys/fs/cgroup/workshop; } 2>/dev/null | sort
	echo "## links"
	ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
	echo "## processes of our containers"
	# The command gets none of the caller's environment, so a container's
	# processes are told by two things they keep even when their runtime
	# is gone: a PID namespace that was not there when the test began, and
	# the session of this test or of a terminal it made (our_session). One
	# find and one grep: an exec per process is slow in the VM.
	# A zombie whose runtime has exited (its parent now a reaper outside
	# our sessions) holds nothing but its PID, and is the reaper's to take
	# (the runtime waits with WNOWAIT and leaves the reaping to its exit):
	# under load the snapshot can see it for a moment.
	local proc ns stat sid state ppid pstat
	while read -r proc ns; do
		read -r stat 2>/dev/null <"$proc/stat" || continue
		stat=${stat##*) }
		read -r state ppid _ sid _ <<<"$stat"
		grep -qxF "$sid" "$BATS_TEST_TMPDIR/sessions" || continue
		if [ "$state" = Z ]; then
			pstat=''
			read -r pstat 2>/dev/null <"/proc/$ppid/stat" || true
			pstat=${pstat##*) }
			read -r _ _ _ sid _ <<<"${pstat:-x x x none}"
			grep -qxF "$sid" "$BATS_TEST_TMPDIR/sessions" || continue
		fi
		echo "$ns"
	done < <(find /proc/[0-9]*/ns/pid -maxdepth 0 -printf '%h %l\n' 2>/dev/null |
		grep -vF -f "$BATS_TEST_TMPDIR/pidns.before" | sed 's#/ns # #') | sort | uniq -c
}

# Count the processes of session SID (a terminal's shell) as ours too.
our_session() {
	echo "$1" >>"$BATS_TEST_TMPDIR/sessions"
}

snapshot_host() {
	find /proc/[0-9]*/ns/pid -maxdepth 0 -printf ' %l\n' 2>/dev/null | sort -u >"$BATS_TEST_TMPDIR/pidns.before"
	ps -o sid= -p $$ | tr -d ' ' >"$BATS_TEST_TMPDIR/sessions"
	host_state >"$BATS_TEST_TMPDIR/host.before"
}

assert_host_unchanged() {
	host_state >"$BATS_TEST_TMPDIR/host.after"
	diff -u "$BATS_TEST_TMPDIR/host.before" "$BATS_TEST_TMPDIR/host.after"
}

# One line that says which cgroup setup the suite runs on.
cgroup_setup() {
	if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
		echo "cgroup v2: $(cat /sys/fs/cgroup/cgroup.controllers)"
	elif [ -d /sys/fs/cgroup/unified ]; then
		echo "hybrid: cgroup v1 controllers, cgroup v2 at /sys/fs/cgroup/unified without them"
	else
		echo "cgroup v1"
	fi
}

# Start a step in the background (its output in $BATS_TEST_TMPDIR/out and
# err) and wait until the container runs COMMAND_WORD. Sets RUNTIME_PID (the
# runtime) and CONTAINER_PID (the container's PID 1, as the host sees it).
start_container() {
	local word=$1 _
	shift
	# fd 3 closed: bats waits for every process holding it. A script's
	# background job starts with SIGINT and SIGQUIT ignored, which the
	# runtime keeps (as any program does): start it as a foreground job would be.
	env --default-signal=INT,QUIT "$@" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	RUNTIME_PID=$!
	CONTAINER_PID=
	for _ in $(seq 200); do
		CONTAINER_PID=$(pgrep -P "$RUNTIME_PID" | head -n 1)
		# Until it execs, a forked child has its parent's command line,
		# which names the word too (run sleep 1000): wait for its own.
		if [ -n "$CONTAINER_PID" ] && grep -q -- "$word" "/proc/$CONTAINER_PID/cmdline" 2>/dev/null &&
			! cmp -s "/proc/$CONTAINER_PID/cmdline" "/proc/$RUNTIME_PID/cmdline"; then
			return 0
		fi
		kill -0 "$RUNTIME_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "container did not start '$word'; stderr:" >&2
	cat "$BATS_TEST_TMPDIR/err" >&2
	return 1
}

# Wait for the background runtime and put its exit status in $status, as
# bats's run does.
# shellcheck disable=SC2034
wait_container() {
	status=0
	wait "$RUNTIME_PID" || status=$?
	RUNTIME_PID=
}

# teardown: never leave a runtime of ours behind, even when a test failed.
# SIGTERM lets it clean up the host (within its grace period); SIGKILL is
# the last resort.
stop_container() {
	local _
	[ -n "${RUNTIME_PID:-}" ] || return 0
	kill -TERM "$RUNTIME_PID" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$RUNTIME_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$RUNTIME_PID" 2>/dev/null || true
	wait "$RUNTIME_PID" 2>/dev/null || true
	RUNTIME_PID=
}

# The cgroup of the run whose runtime has PID $1 (steps 04-06):
# /sys/fs/cgroup/workshop/ws-<PID>-<random>.
run_cgroup() {
	local cg
	for cg in /sys/fs/cgroup/workshop/ws-"$1"-*; do
		[ -d "$cg" ] && echo "$cg" && return 0
	done
	echo "runtime PID $1 has no cgroup /sys/fs/cgroup/workshop/ws-$1-*" >&2
	return 1
}

# Fetch URL from the host with wget, retrying while the server starts
# (bounded: about 10 s).
http_get() {
	local _
	for _ in $(seq 40); do
		wget -qO- -T 2 --tries=1 "$1" 2>/dev/null && return 0
		sleep 0.25
	done
	return 1
}
