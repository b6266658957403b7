#!/usr/bin/env bats
# infra/doctor.sh: the checklist reflects this host, and every ✗ comes with a fix.
# Some tests set $output themselves (a run in a namespace of their own).
# Tests tagged vm take another path where cgroup v2 works: the cgroup v2 VM
# runs them too (make test-ci-vm).
# shellcheck disable=SC2030,SC2031

load helpers
load nobody

setup() {
	require_root
	# A minimal rootfs so the rootfs check does not depend on the repo's.
	FAKE_ROOTFS="$BATS_TEST_TMPDIR/rootfs"
	mkdir -p "$FAKE_ROOTFS/bin" "$FAKE_ROOTFS/dev" "$FAKE_ROOTFS/proc"
	ln -s busybox "$FAKE_ROOTFS/bin/sh"
}

doctor() {
	WORKSHOP_ROOTFS=${WORKSHOP_ROOTFS:-$FAKE_ROOTFS} "$REPO/infra/doctor.sh" "$@"
}

# The summary: the line before "send this line ..." and the send line.
summary() {
	echo "${lines[-3]}"
}

# The line for one check, e.g. `has_line ✓ root`.
has_line() {
	grep -qE "^$1 $2 +" <<<"$output" || {
		echo "no '$1 $2' line in:"
		echo "$output"
		return 1
	}
}

@test "as root: ✓ root, namespaces and each tool that is installed" {
	run doctor
	has_line ✓ root
	if unshare --pid --fork --mount --net --uts --ipc true; then
		has_line ✓ namespaces
	else
		has_line ✗ namespaces
	fi
	local tool
	for tool in make ip bats; do
		if command -v "$tool" >/dev/null; then
			has_line ✓ "$tool"
		else
			has_line ✗ "$tool"
			[[ $output == *"fix: sudo apt-get install"* ]]
		fi
	done
	if command -v gcc >/dev/null || command -v clang >/dev/null || command -v cc >/dev/null; then
		has_line ✓ cc
	else
		has_line ✗ cc
		[[ $output == *"fix: sudo apt-get install gcc"* ]]
	fi
	has_line ✓ rootfs
}

# bats test_tags=vm
@test "the cgroup v2 line matches this host's cgroup mode" {
	run doctor
	if cgroup_v2_ready; then
		has_line ✓ "cgroup v2"
		[[ $output != *unified_cgroup_hierarchy* ]]
	elif [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		[ "$status" -ne 0 ]
		has_line ✗ "cgroup v2"
		[[ $output == *"✗ cgroup v2    hybrid hierarchy: v1 controllers, v2 only at /sys/fs/cgroup/unified"* ]]
		[[ $output == *"means: steps 01-03 work here; steps 04-06 need cgroup v2"* ]]
		[[ $output == *"fix: add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub"* ]]
		[[ $output == *"then: sudo update-grub && sudo reboot"* ]]
		[[ $output == *"sudo make test-vm"* ]]
	else
		[ "$status" -ne 0 ]
		has_line ✗ "cgroup v2"
		[[ $output == *"fix: "* ]]
	fi
}

# bats test_tags=vm
@test "the summary says which steps work on this host" {
	run doctor
	local last
	last=$(summary)
	if grep -qE '^✗ (root|namespaces|cc|make|ip|rootfs) ' <<<"$output"; then
		[[ $last == "no step works yet: fix the ✗ items above"* ]]
	elif cgroup_v2_ready; then
		[[ $last != *"need cgroup v2"* ]]
	else
		[[ $last == "steps 01-03 work on this host; steps 04-06 need cgroup v2"* ]]
	fi
}

# bats test_tags=vm
@test "exits 0 exactly when no needed check fails" {
	run doctor
	if grep -q '^✗' <<<"$output"; then
		[ "$status" -eq 1 ]
	else
		[ "$status" -eq 0 ]
		cgroup_v2_ready # (no ✗ at all: only where cgroup v2 works)
		[ "$(summary)" = "all steps (01-06) work on this host" ]
	fi
}

@test "the kernel line says why 5.14 matters" {
	run doctor
	local major minor
	IFS=. read -r major minor _ <<<"$(uname -r)"
	minor=${minor%%[!0-9]*}
	if [ "$major" -gt 5 ] || { [ "$major" -eq 5 ] && [ "$minor" -ge 14 ]; }; then
		has_line ✓ kernel
	else
		has_line ! kernel
	fi
	[[ $output == *cgroup.kill* ]]
}

# A uname on PATH that reports another kernel release.
fake_uname() {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	# shellcheck disable=SC2016 # $1 is the fake's argument
	printf '#!/bin/sh\nif [ "$1" = -m ]; then echo %s; else echo %s; fi\n' "${2:-$(uname -m)}" "$1" >"$BATS_TEST_TMPDIR/bin/uname"
	chmod +x "$BATS_TEST_TMPDIR/bin/uname"
}

@test "a kernel older than 5.11 is ✗, naming close_range, clone3 and CLONE_INTO_CGROUP" {
	fake_uname 5.10.0-28-amd64
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run doctor
	[ "$status" -eq 1 ]
	has_line ✗ kernel
	[[ $output == *"5.10.0-28-amd64: older than 5.11"* ]]
	[[ $output == *"close_range(CLOSE_RANGE_CLOEXEC) (5.11)"* ]]
	[[ $output == *"clone3 (5.3)"* && $output == *"CLONE_INTO_CGROUP (5.7)"* ]]
	[[ $(summary) == "no step works yet"*kernel* ]]
}

@test "5.11 to 5.13 is enough (! for cgroup.kill), 5.14 is ✓" {
	fake_uname 5.11.0
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run doctor
	has_line ! kernel
	[[ $output == *"5.11.0: older than 5.14, no cgroup.kill"* ]]
	[[ $(summary) != *kernel* ]]
	fake_uname 5.14.0
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run doctor
	has_line ✓ kernel
}

@test "fix lines name this distribution's package (Ubuntu: linux-image-generic)" {
	fake_uname 5.13.0
	printf 'ID=ubuntu\nID_LIKE=debian\n' >"$BATS_TEST_TMPDIR/os-release"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" WORKSHOP_OS_RELEASE="$BATS_TEST_TMPDIR/os-release" run doctor
	[[ $output == *"e.g. sudo apt-get install linux-image-generic"* ]]
	printf 'ID=debian\n' >"$BATS_TEST_TMPDIR/os-release"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" WORKSHOP_OS_RELEASE="$BATS_TEST_TMPDIR/os-release" run doctor
	[[ $output == *"e.g. sudo apt-get install linux-image-amd64"* ]]
}

@test "as nobody: ✗ root with the sudo fix, root-only checks not run" {
	run as_nobody env WORKSHOP_ROOTFS="$FAKE_ROOTFS" "$REPO/infra/doctor.sh"
	[ "$status" -eq 1 ]
	has_line ✗ root
	[[ $output == *"fix: sudo make doctor"* ]]
	has_line - namespaces
	[[ $(summary) == "no step works yet"*root* ]]
}

@test "as nobody, from a checkout in a 0750 home directory (Ubuntu's default)" {
	local home="$BATS_TEST_TMPDIR/home/learner"
	mkdir -p "$home/ws"
	chmod 0750 "$home"
	cp -r "$REPO/infra" "$home/ws/"
	# A plain nobody cannot even start the script there...
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$home/ws/infra/doctor.sh"
	[ "$status" -eq 126 ]
	# ...so the needs-root tests run it with as_nobody, and get the message.
	run as_nobody env WORKSHOP_ROOTFS="$FAKE_ROOTFS" "$home/ws/infra/doctor.sh"
	[ "$status" -eq 1 ]
	has_line ✗ root
	[[ $output == *"fix: sudo make doctor"* ]]
}

@test "a missing rootfs is ✗ with the command that builds it" {
	WORKSHOP_ROOTFS=/nonexistent run doctor
	[ "$status" -eq 1 ]
	has_line ✗ rootfs
	[[ $output == *"/nonexistent/bin/sh missing"* ]]
	[[ $output == *"fix: sudo $REPO/rootfs.sh /nonexistent"* ]]
}

@test "a rootfs without dev/ or proc/ is ✗ (the runtime mounts on them)" {
	rmdir "$FAKE_ROOTFS/proc"
	run doctor
	[ "$status" -eq 1 ]
	has_line ✗ rootfs
	[[ $output == *"--force"* ]]
}

@test "no colour codes when stdout is not a terminal" {
	run doctor
	[[ $output != *$'\e['* ]]
}

# A PATH with every command of /usr/bin but the ones named.
# (One ln for all: an ln per command took 6 minutes in the TCG VM, where
# every exec costs.)
path_without() {
	local dir="$BATS_TEST_TMPDIR/path" f more=()
	mkdir -p "$dir"
	ln -s -t "$dir" /usr/bin/*
	for f in /usr/local/bin/*; do
		[ -e "$f" ] && [ ! -e "$dir/${f##*/}" ] && [ ! -L "$dir/${f##*/}" ] && more+=("$f")
	done
	((${#more[@]} == 0)) || ln -s -t "$dir" "${more[@]}"
	rm -f "${@/#/$dir/}"
	echo "$dir"
}

@test "no sudo, nc or ping: each is ✗ with its Japanese fix, and the send line names them" {
	PATH=$(path_without sudo nc ping) run doctor
	[ "$status" -eq 1 ]
	has_line ✗ sudo
	has_line ✗ nc
	has_line ✗ ping
	[[ $output == *"修正: root で次を実行し、usermod -aG sudo ユーザー名 で権限も付けてください: apt-get install sudo"* ]]
	[[ $output == *"修正: 次を実行してください: sudo apt-get install netcat-openbsd"* ]]
	[[ $output == *"修正: 次を実行してください: sudo apt-get install iputils-ping"* ]]
	[[ $(summary) == *"; missing sudo; missing nc; missing ping" ]]
	[[ ${lines[-1]} == "preflight status=NG "*failed=*sudo,nc,ping* ]]
}

@test "with sudo, nc and ping on PATH: ✓ for each" {
	# Stand-ins, so that the test does not depend on what this host has (a
	# fresh machine's make test does not install nc and ping).
	local bin="$BATS_TEST_TMPDIR/bin" tool
	mkdir "$bin"
	for tool in sudo nc ping; do
		command -v "$tool" >/dev/null || printf '#!/bin/sh\nexit 0\n' >"$bin/$tool"
	done
	chmod -R 755 "$bin"
	PATH="$bin:$PATH" run doctor
	has_line ✓ sudo
	has_line ✓ nc
	has_line ✓ ping
}

@test "a hybrid cgroup hierarchy (faked fs types) is ✗ and the send line says steps 04-06 will not work" {
	WORKSHOP_FSTYPE="/sys/fs/cgroup=tmpfs /sys/fs/cgroup/unified=cgroup2fs" run doctor
	[ "$status" -eq 1 ]
	[[ $output == *"✗ cgroup v2    hybrid hierarchy"* ]]
	[[ ${lines[-1]} == *" cgroup=hybrid-or-v1 "* ]]
	[[ ${lines[-1]} == *" will-not-work=steps04-06" ]] || [[ ${lines[-1]} == *" will-not-work=all" ]]
}

# bats test_tags=vm
@test "on cgroup v2, a cgroup below the root gets memory, cpu and pids (and doctor leaves none)" {
	cgroup_v2_ready || skip "no cgroup v2 with memory, cpu, pids on this host (hybrid); the VM run covers it"
	run doctor
	has_line ✓ subtree
	[[ $output != *"✗ subtree"* ]]
	run compgen -G "/sys/fs/cgroup/workshop-doctor.*"
	[ "$status" -ne 0 ]
}

@test "10.200.0.0/24 overlapping a route or an address is ✗ (the runtime's rule), another /24 is not" {
	unshare --net bash -c 'ip link set lo up && ip route add 10.200.0.0/16 dev lo && "$@"' _ \
		env WORKSHOP_ROOTFS="$FAKE_ROOTFS" "$REPO/infra/doctor.sh" >"$BATS_TEST_TMPDIR/out" || true
	output=$(cat "$BATS_TEST_TMPDIR/out")
	[[ $output == *"✗ network      10.200.0.0/24 overlaps this host's route 10.200.0.0/16 dev lo"* ]]
	[[ $output == *"修正: 第 8 章以降は --ip 10.201.0.2 のように"* ]]
	[[ $output == *"steps 05-06 need another --ip"* ]]
	unshare --net bash -c 'ip link set lo up && ip address add 10.200.0.77/28 dev lo && "$@"' _ \
		env WORKSHOP_ROOTFS="$FAKE_ROOTFS" "$REPO/infra/doctor.sh" >"$BATS_TEST_TMPDIR/out" || true
	output=$(cat "$BATS_TEST_TMPDIR/out")
	[[ $output == *"✗ network      10.200.0.0/24 overlaps this host's address 10.200.0.77/28"* ]]
	unshare --net bash -c 'ip link set lo up && ip route add 10.201.0.0/24 dev lo && ip route add 10.199.0.0/24 dev lo && "$@"' _ \
		env WORKSHOP_ROOTFS="$FAKE_ROOTFS" "$REPO/infra/doctor.sh" >"$BATS_TEST_TMPDIR/out" || true
	output=$(cat "$BATS_TEST_TMPDIR/out")
	[[ $output == *"✓ network      10.200.0.0/24 is free"* ]]
}

@test "a rootfs directory on 9p, virtiofs, vboxsf or sshfs (faked) is ✗ with the fix" {
	local type
	for type in v9fs virtiofs vboxsf fuseblk; do
		WORKSHOP_FSTYPE="$FAKE_ROOTFS=$type" run doctor
		[ "$status" -eq 1 ]
		[[ $output == *"✗ rootfs fs    $FAKE_ROOTFS is on $type, a folder shared with another machine"* ]]
		[[ $output == *"修正: チェックアウトを VM 自身のディスク"* ]]
		[[ $(summary) == "no step works yet"*"rootfs fs"* ]]
	done
	run doctor
	has_line ✓ "rootfs fs"
}

@test "aarch64 is ✓ and named in the send line; another architecture is ✗" {
	fake_uname "$(uname -r)" aarch64
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run doctor
	has_line ✓ arch
	[[ $output == *"✓ arch         aarch64"* ]]
	[[ ${lines[-1]} == *" arch=aarch64 "* ]]
	fake_uname "$(uname -r)" riscv64
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run doctor
	[ "$status" -eq 1 ]
	has_line ✗ arch
	[[ $output == *"修正: x86_64 か aarch64 の Linux VM"* ]]
}

@test "WSL 2 is named with the shell's cgroup (/wsl-user/...); WSL 1 is ✗" {
	fake_uname 5.15.153.1-microsoft-standard-WSL2
	printf '0::/wsl-user/1000/session\n' >"$BATS_TEST_TMPDIR/cgroup"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" WORKSHOP_PROC_CGROUP="$BATS_TEST_TMPDIR/cgroup" run doctor
	[[ $output == *"✓ wsl          WSL 2 (5.15.153.1-microsoft-standard-WSL2); the shell's cgroup is below: /wsl-user/1000/session"* ]]
	[[ $output == *"✓ shell cgroup /wsl-user/1000/session"* ]]
	[[ ${lines[-1]} == *" wsl=WSL2 "* ]]
	fake_uname 4.4.0-19041-Microsoft
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run doctor
	[ "$status" -eq 1 ]
	has_line ✗ wsl
	[[ $output == *"修正: PowerShell で wsl --set-version"* ]]
}

@test "the last line is the one to send: status, host, kernel, arch, what will not work" {
	run doctor
	[ "${lines[-2]}" = "send this line to the instructor (講師に送ってください):" ]
	local re
	re="^preflight status=(OK|NG) host=$(hostname) kernel=$(uname -r) arch=$(uname -m) wsl=no cgroup=[a-z0-9-]+ failed=[^ ]+ will-not-work=[a-z0-9-]+$"
	[[ ${lines[-1]} =~ $re ]]
	if [ "$status" -eq 0 ]; then
		[[ ${lines[-1]} == *"status=OK "*"failed=none will-not-work=none" ]]
	else
		[[ ${lines[-1]} == *"status=NG "* ]]
	fi
}

# Every ✗ block (the ✗ line and its indented details) has a 修正: line.
each_bad_has_japanese_fix() {
	awk '/^✗/ { if (open && !ja) { print "no 修正: for " name; bad = 1 } open = 1; ja = 0; name = $0; next }
		/^ / { if ($0 ~ /修正:/) ja = 1; next }
		{ if (open && !ja) { print "no 修正: for " name; bad = 1 } open = 0 }
		END { if (open && !ja) { print "no 修正: for " name; bad = 1 } exit bad }' <<<"$output"
}

@test "every ✗ comes with a one-line fix in Japanese (修正:)" {
	fake_uname 4.4.0-19041-Microsoft riscv64
	rmdir "$FAKE_ROOTFS/proc"
	PATH="$BATS_TEST_TMPDIR/bin:$(path_without sudo nc ping make bats podman)" \
		WORKSHOP_FSTYPE="/sys/fs/cgroup=tmpfs $FAKE_ROOTFS=v9fs" run doctor
	[ "$status" -eq 1 ]
	[ "$(grep -c '^✗' <<<"$output")" -ge 10 ]
	each_bad_has_japanese_fix
	run as_nobody env WORKSHOP_ROOTFS=/nonexistent "$REPO/infra/doctor.sh"
	has_line ✗ root
	each_bad_has_japanese_fix
}
