# cgroup_v2_ready: true when /sys/fs/cgroup is a pure cgroup v2 mount with
# the controllers that step04 and later need. Shared by the bats suite
# (helpers.bash) and make test-doc (tests/doc/terminal.sh).
# shellcheck shell=bash

cgroup_v2_ready() {
	[ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] || return 1
	local c
	for c in memory cpu pids; do
		grep -qw "$c" /sys/fs/cgroup/cgroup.controllers || return 1
	done
}
