# mounts_under DIR: print every mount point at or under DIR, one a line.
# Shared by rootfs.sh (refuse to delete a tree with mounts in it) and
# infra/reset.sh (unmount what crashed runtimes left under the rootfs).
# shellcheck shell=bash

mounts_under() {
	local target
	# mountinfo's fifth field; spaces and the like come escaped as octal (\040).
	while read -r _ _ _ _ target _; do
		target=$(printf '%b' "$target")
		case $target in
		"$1" | "$1"/*) echo "$target" ;;
		esac
	done </proc/self/mountinfo
}
