#!/usr/bin/env bats
# sudo make vm-shell (付録 A.2), driven through tmux as a person would: the
# shell comes up in the cgroup v2 VM, chapter 7's first commands and step04's
# memory limit work there, exit leaves it, and nothing of it stays on the host.
# It boots a VM of its own (minutes under TCG), so it runs when asked,
# WORKSHOP_VM_SHELL_TEST=1, as .ci/run does once its native stages are done,
# beside one other VM at most (each keeps about one core busy).
# shellcheck disable=SC2016 # (what is typed into the VM's shell)

load helpers

setup() {
	require_root
	[ -n "${WORKSHOP_VM_SHELL_TEST:-}" ] ||
		skip "boots a VM of its own: WORKSHOP_VM_SHELL_TEST=1 bats tests/vm_shell.bats (.ci/run runs it)"
	snapshot_host
	TMUX_SOCKET="ws-vm-shell-$$"
}

teardown() {
	tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true
}

# Wait up to $2 seconds until the pane shows text matching the regex $1.
screen_shows() {
	local _
	for _ in $(seq $(($2 * 2))); do
		tmux -L "$TMUX_SOCKET" capture-pane -p -S -100 | grep -qE -- "$1" && return 0
		sleep 0.5
	done
	echo "the screen, without '$1':" >&2
	tmux -L "$TMUX_SOCKET" capture-pane -p -S -100 >&2
	return 1
}

type_line() {
	tmux -L "$TMUX_SOCKET" send-keys -l "$1"
	tmux -L "$TMUX_SOCKET" send-keys Enter
}

@test "vm-shell: chapter 7 and step04's memory limit work in the VM's shell; exit leaves nothing behind" {
	tmux -L "$TMUX_SOCKET" new-session -d -x 150 -y 40 \
		"make -s -C '$REPO' vm-shell; echo \"vm-shell exited \$?\"; sleep 600" 3>&-
	# It says which accelerator it took, and why.
	screen_shows '^run-in-vm: (kvm|tcg) \(' 120
	screen_shows '^\[cgroup v2 VM\] .*#' 300
	type_line 'cd /sys/fs/cgroup && stat -f -c %T . && echo "+cpu +memory +pids" > cgroup.subtree_control && mkdir -p workshop'
	screen_shows '^cgroup2fs$' 60
	type_line 'echo "+cpu +memory +pids" > workshop/cgroup.subtree_control && mkdir workshop/demo && cat workshop/demo/memory.max && cd -'
	screen_shows '^max$' 60
	# The terminal is the VM's console: Ctrl-C reaches the program there.
	type_line 'sleep 1000'
	sleep 2
	tmux -L "$TMUX_SOCKET" send-keys C-c
	type_line 'echo "sleep ended $?"'
	screen_shows '^sleep ended 130$' 60
	type_line './step04_cgroup/run --memory 32M dd if=/dev/zero of=/dev/null bs=64M count=1; echo "step04 exited $?"'
	screen_shows '^step04 exited 137$' 120
	# Its qemu, in the pane's session (another VM may run beside it).
	local sid qemu
	sid=$(tmux -L "$TMUX_SOCKET" display-message -p '#{pane_pid}')
	qemu=$(pgrep -s "$sid" qemu-system)
	[ -n "$qemu" ]
	type_line 'exit'
	screen_shows '^vm-shell exited 0$' 60
	tmux -L "$TMUX_SOCKET" capture-pane -p -S -100 | grep -q 'nothing of it is left on this host'
	run ! kill -0 "$qemu"
	run ! pgrep -s "$sid" qemu-system
	assert_host_unchanged
}
