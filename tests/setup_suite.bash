# shellcheck shell=bash
# Runs once before the whole suite: say where it runs.

setup_suite() {
	load helpers
	require_root
	echo "# $(cgroup_setup)" >&3
}
