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

# True when /sys/fs/cgroup is a pure cgroup v2 mount with the controllers
# that step04 and later need.
cgroup_v2_ready() {
	[ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] || return 1
	local c
	for c in memory cpu pids; do
		grep -qw "$c" /sys/fs/cgroup/cgroup.controllers || return 1
	done
}

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
# interfaces, and processes in PID namespaces other than the host's.
host_state() {
	echo "## mounts"
	cat /proc/self/mountinfo
	echo "## cgroups"
	find /sys/fs/cgroup -maxdepth 2 -name 'ws-*' 2>/dev/null | sort
	echo "## links"
	ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
	echo "## pid namespaces"
	local p
	for p in /proc/[0-9]*; do
		readlink "$p/ns/pid" 2>/dev/null
	done | sort -u
}

snapshot_host() {
	host_state >"$BATS_TEST_TMPDIR/host.before"
}

assert_host_unchanged() {
	host_state >"$BATS_TEST_TMPDIR/host.after"
	diff -u "$BATS_TEST_TMPDIR/host.before" "$BATS_TEST_TMPDIR/host.after"
}
