#!/usr/bin/env bats
# step05_veth: + a veth pair: ws-A.B.C on the host (A.B.C.1/24) and eth0 in
# the container (A.B.C.2/24 by default, with a default route via .1).
# Commands for the container are single-quoted on purpose; bats's run sets $stderr.
# shellcheck disable=SC2016,SC2154

load helpers

RUN="$REPO/step05_veth/run"

# One HTTP response with busybox nc, which Alpine and the busybox rootfs
# both have (Alpine's busybox has no httpd). It serves one request, then exits.
HTTP='printf "HTTP/1.0 200 OK\r\nContent-Length: 21\r\n\r\nhello-from-container\n" | nc -l -p 8080'

setup() {
	require_root
	snapshot_host
}

teardown() {
	stop_container
}

@test "step05: the host gets an HTTP reply from nc in the container over veth" {
	require_cgroup_v2
	start_container nc "$RUN" sh -c "$HTTP"
	ip -o addr show dev ws-10.200.0 | grep -q 'inet 10.200.0.1/24'
	run http_get http://10.200.0.2:8080/
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
	run --separate-stderr "$RUN" --ip 10.200.7.9 sh -c 'ip -o -4 addr show eth0; ping -c 1 -W 5 10.200.7.1'
	[ "$status" -eq 0 ]
	[[ "$output" == *"inet 10.200.7.9/24"* ]]
	# The first container is untouched.
	[ "$(http_get http://10.200.0.2:8080/)" = hello-from-container ]
	[ "$RUNTIME_PID" = "$first" ]
	wait_container
	assert_host_unchanged
}

@test "step05: the same address twice fails clearly and leaves the first untouched" {
	require_cgroup_v2
	start_container nc "$RUN" sh -c "$HTTP"
	run --separate-stderr "$RUN" true
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"create veth ws-10.200.0: File exists: another container uses 10.200.0.0/24; choose another --ip"* ]]
	[ "$(http_get http://10.200.0.2:8080/)" = hello-from-container ]
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
