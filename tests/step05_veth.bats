#!/usr/bin/env bats
# step05_veth: + a veth pair: ws-A.B.C on the host (A.B.C.1/24) and eth0 in
# the container (A.B.C.2/24 by default, with a default route via .1).
# Commands for the container are single-quoted on purpose; bats's run sets $stderr.
# shellcheck disable=SC2016,SC2154

# The cgroup v2 VM runs this whole file (bats tag vm, make test-ci-vm).
# bats file_tags=vm

load helpers

# The program under test: STEP_BIN runs these tests against another build
# (the previous step, tests/exercise/prev_step.sh; a learner's exercise copy,
# make check-exercise).
RUN="${STEP_BIN:-$REPO/step05_veth/run}"

# Values a learner could hard-code vary from run to run (derived from this
# shell's PID: the same within a run, printed when a test fails): the port
# of the server, and the address of a second container.
PORT=$((8000 + $$ % 1000))
SECOND_NET=10.200.$((7 + $$ % 50))
SECOND_IP=$SECOND_NET.$((2 + $$ % 200))

# One HTTP response with busybox nc, which Alpine and the busybox rootfs
# both have (Alpine's busybox has no httpd). It serves one request, then exits.
HTTP='printf "HTTP/1.0 200 OK\r\nContent-Length: 21\r\n\r\nhello-from-container\n" | nc -l -p '$PORT

setup() {
	require_root
	snapshot_host
}

teardown() {
	stop_container
}

@test "step05: the host gets an HTTP reply from nc in the container over veth" {
	require_cgroup_v2
	echo "chosen: port $PORT"
	start_container nc "$RUN" sh -c "$HTTP"
	ip -o addr show dev ws-10.200.0 | grep -q 'inet 10.200.0.1/24'
	run http_get http://10.200.0.2:$PORT/
	[ "$status" -eq 0 ]
	[ "$output" = hello-from-container ]
	# nc has answered and exits: so do the shell and the container.
	wait_container
	[ "$status" -eq 0 ]
	assert_host_unchanged
}

@test "step05: the container pings the host's end" {
	require_cgroup_v2
	run --separate-stderr "$RUN" ping -c 1 -W 5 10.200.0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *"1 packets received"* ]]
	assert_host_unchanged
}

@test "step05: inside, lo and eth0 are up with the address and a default route" {
	require_cgroup_v2
	run --separate-stderr "$RUN" sh -c 'ip -o link; ip -o -4 addr; ip route'
	[ "$status" -eq 0 ]
	[[ "$output" == *"1: lo: <LOOPBACK,UP,LOWER_UP>"* ]]
	[[ "$output" =~ eth0@if[0-9]+:\ \<BROADCAST,MULTICAST,UP,LOWER_UP ]]
	[[ "$output" == *"eth0    inet 10.200.0.2/24"* ]]
	[[ "$output" == *"default via 10.200.0.1 dev eth0"* ]]
	assert_host_unchanged
}

@test "step05: --ip gives a second container its own /24 while the first runs" {
	require_cgroup_v2
	start_container nc "$RUN" sh -c "$HTTP"
	local first=$RUNTIME_PID
	echo "chosen: --ip $SECOND_IP, port $PORT"
	run --separate-stderr "$RUN" --ip "$SECOND_IP" sh -c 'ip -o -4 addr show eth0; ping -c 1 -W 5 "$1.1"' sh "$SECOND_NET"
	[ "$status" -eq 0 ]
	[[ "$output" == *"inet $SECOND_IP/24"* ]]
	# The first container is untouched.
	[ "$(http_get http://10.200.0.2:$PORT/)" = hello-from-container ]
	[ "$RUNTIME_PID" = "$first" ]
	wait_container
	assert_host_unchanged
}

@test "step05: the same address twice fails clearly and leaves the first untouched" {
	require_cgroup_v2
	start_container nc "$RUN" sh -c "$HTTP"
	run --separate-stderr "$RUN" true
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"--ip 10.200.0.2: 10.200.0.0/24 overlaps 10.200.0.1/24 on ws-10.200.0, a network this host already has (another container's); choose another --ip"* ]]
	[ "$(http_get http://10.200.0.2:$PORT/)" = hello-from-container ]
	wait_container
	assert_host_unchanged
}

@test "step05: a bad --ip exits 125 before the host is touched" {
	local ip
	for ip in x 10.200.0 10.200.0.1 10.200.0.255 10.200.0.0 300.1.1.2; do
		run --separate-stderr "$RUN" --ip "$ip" true
		[ "$status" -eq 125 ] || { echo "--ip $ip -> $status" >&2; return 1; }
		[[ "$stderr" == "step05_veth: --ip: '$ip' "* ]]
	done
	assert_host_unchanged
}

@test "step05: limits still apply: OOM exits 137" {
	require_cgroup_v2
	run "$RUN" --memory 32M dd if=/dev/zero of=/dev/null bs=64M count=1
	[ "$status" -eq 137 ]
	assert_host_unchanged
}

@test "step05: an --ip on a network the host already has is refused (125), naming it" {
	require_cgroup_v2
	# A network namespace of the test's own stands in for the host, with a
	# network on wst0 and a route (unshare: gone with the command).
	in_test_netns() {
		unshare --net bash -euc '
			ip link set lo up
			ip link add wst0 type veth peer name wst1
			ip address add 10.77.0.5/24 dev wst0
			ip link set wst0 up
			ip route add 10.200.0.0/16 dev wst0
			exec "$@"' bash "$@"
	}
	local -a cases=(
		"10.77.0.2|10.77.0.0/24 overlaps 10.77.0.5/24 on wst0"
		"10.200.0.2|10.200.0.0/24 overlaps 10.200.0.0/16 on wst0"
	)
	local case ip
	for case in "${cases[@]}"; do
		ip=${case%%|*}
		run --separate-stderr in_test_netns "$RUN" --ip "$ip" true
		echo "$ip -> $status: $stderr"
		[ "$status" -eq 125 ]
		[[ "$stderr" == "step05_veth: --ip $ip: ${case#*|}, a network this host already has; choose another --ip" ]]
	done
	# Elsewhere the same host is fine.
	run --separate-stderr in_test_netns "$RUN" --ip 10.78.0.2 true
	[ "$status" -eq 0 ]
	assert_host_unchanged
}

@test "step05: both ends get a fixed, locally administered MAC that udev leaves alone" {
	require_cgroup_v2
	start_container sleep "$RUN" sh -c 'ip -o link show eth0; exec sleep 1000'
	local _
	for _ in $(seq 50); do grep -q link/ether "$BATS_TEST_TMPDIR/out" && break; sleep 0.1; done
	[ "$(cat /sys/class/net/ws-10.200.0/address)" = 02:00:0a:c8:00:01 ]
	# 3: NET_ADDR_SET, given at creation; udev replaces only 1, random.
	[ "$(cat /sys/class/net/ws-10.200.0/addr_assign_type)" = 3 ]
	grep -q 'link/ether 02:00:0a:c8:00:02 ' "$BATS_TEST_TMPDIR/out"
	[ "$(cat /sys/class/net/ws-10.200.0/ifalias)" = "step05_veth pid $RUNTIME_PID" ]
	stop_container
	assert_host_unchanged
}

@test "step05: at exit the runtime deletes its own veth, not a newer one of the same name" {
	require_cgroup_v2
	start_container sleep "$RUN" sleep 1000
	# Another veth takes the name while the first run still goes on.
	ip link set ws-10.200.0 down
	ip link set ws-10.200.0 name ws-moved
	ip link add ws-10.200.0 type veth peer name ws-newer-peer
	stop_container
	local newer=0
	ip link show ws-10.200.0 >/dev/null 2>&1 && newer=1
	ip link del ws-10.200.0 2>/dev/null || true
	[ "$newer" -eq 1 ]
	run ! ip link show ws-moved
	assert_host_unchanged
}

@test "step05: root in the container can leave its cgroup and its memory limit; step06 cannot" {
	require_cgroup_v2
	# With the host's own options: cgroup2 has one superblock, and a mount
	# without them would change the host's (nsdelegate, memory_recursiveprot).
	local escape='mount -t cgroup2 -o "$1" none /mnt && echo $$ >/mnt/cgroup.procs && dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo "dd exited $?"'
	local opts
	opts=$(findmnt -no FS-OPTIONS /sys/fs/cgroup)
	run --separate-stderr "$RUN" --memory 32M sh -c "$escape" sh "$opts"
	echo "step05: $output $stderr"
	[ "$status" -eq 0 ] && [ "$output" = "dd exited 0" ]
	# step06's cgroup namespace: the mounted cgroup2 starts at its own cgroup.
	run --separate-stderr "$REPO/step06_full/run" --memory 32M sh -c "$escape" sh "$opts"
	echo "step06: $output $stderr"
	[ "$status" -eq 0 ] && [ "$output" = "dd exited 137" ]
	assert_host_unchanged
}

@test "step05: without cgroup.kill (kernels before 5.14), a setup failure ends at once and leaves nothing" {
	require_cgroup_v2
	[ -e "$REPO/tests/helpers/no_cgroup_kill.so" ] || skip "tests/helpers/no_cgroup_kill.so is not built (make .prereqs-test)"
	# Such a kernel, simulated: the preloaded shim makes open() of any
	# cgroup.kill fail with ENOENT. The veth's host end fails after the
	# container exists: in a network namespace of the test's own, a link
	# has its name already. The container, held in its setup, must be
	# killed process by process, not waited for (that took 105 s).
	local start=$SECONDS
	run --separate-stderr timeout 60 unshare --net sh -c \
		'ip link add ws-10.200.0 type dummy && exec env LD_PRELOAD="$1" "$2" true' sh \
		"$REPO/tests/helpers/no_cgroup_kill.so" "$RUN"
	echo "status $status after $((SECONDS - start)) s: $stderr"
	[ "$status" -eq 125 ]
	[[ $stderr == *"File exists"* ]]
	[[ $stderr != *"remove "* ]]
	((SECONDS - start < 20))
	assert_host_unchanged
}
