#!/usr/bin/env bats
# infra/bench.sh (make bench): a smoke run with one round prints the table,
# measures every step this host can run, and leaves nothing behind.
# The first test is tagged vm: the cgroup v2 VM measures steps 04-06 with it.
# shellcheck disable=SC2154

load helpers

setup() {
	require_root
	snapshot_host
}

# bats test_tags=vm
@test "bench: one round prints a row for every step and the references" {
	run --separate-stderr "$REPO/infra/bench.sh" -n 1
	[ "$status" -eq 0 ]
	grep -q '^runtime  *median ms  *p90 ms' <<<"$output"
	grep -Eq '^kernel .*; (cgroup v2|hybrid|cgroup v1)' <<<"$output"
	local step
	for step in "$REPO"/step0[1-9]_*/; do
		step=$(basename "$step")
		grep -q "^$step " <<<"$output"
	done
	# Steps that need cgroup v2 are measured where it is, listed elsewhere.
	grep -Eq '^step01_pid +[0-9]+\.[0-9]+ ' <<<"$output"
	if cgroup_v2_ready; then
		grep -Eq '^step06_full +[0-9]+\.[0-9]+ ' <<<"$output"
	else
		grep -q '^step06_full .*needs cgroup v2: make bench-vm' <<<"$output"
	fi
	# unshare needs nothing but util-linux: it is always measured.
	grep -Eq '^unshare +[0-9]+\.[0-9]+ ' <<<"$output"
	grep -q '^runc ' <<<"$output"
	grep -q '^crun ' <<<"$output"
	# The kernel's own cost of a veth pair, beside step05's +prev.
	grep -Eq "^Kernel cost of step05's feature alone: .* -?[0-9]+\.[0-9]+ ms$" <<<"$output"
	assert_host_unchanged
}

@test "bench: a bad option is refused before anything runs" {
	run --separate-stderr "$REPO/infra/bench.sh" -n 0
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"not a positive number"* ]]
}
