#!/usr/bin/env bats
# make diff (infra/step_diff.sh) as chapter 9 uses it live: STEP=2 is
# STEP=02, a pager that keeps the colours on a terminal only, and
# OUTLINE=1: the new functions of a step, taken from the diff.

load helpers

@test "make diff STEP=2 prints the same diff as STEP=02" {
	run -0 make -s -C "$REPO" diff STEP=02
	local two=$output
	[[ $two == *"+static void enter_rootfs(const char *rootfs)"* ]]
	run -0 make -s -C "$REPO" diff STEP=2
	[ "$output" = "$two" ]
}

@test "make diff: not a terminal, plain text and no pager" {
	run -0 env DIFF_PAGER=false make -s -C "$REPO" diff STEP=03
	[[ $output == *"+	args.flags |= CLONE_NEWNET;"* ]]
	[[ $output != *$'\e['* ]]
}

@test "make diff: on a terminal, the coloured diff goes through the pager" {
	command -v script >/dev/null || skip "script (util-linux) is missing"
	# The pager stand-in marks what it was given and shows escapes as ^[.
	local pager="$BATS_TEST_TMPDIR/pager"
	printf '#!/bin/sh\necho PAGER "$@"\ncat -v\n' >"$pager"
	chmod +x "$pager"
	run -0 script -qec "TERM=xterm DIFF_PAGER='$pager -R' make -s -C '$REPO' diff STEP=03" /dev/null
	[[ $output == *"PAGER -R"* ]]
	[[ $output == *'^[['*'+	args.flags |= CLONE_NEWNET;'* ]]
}

@test "make diff: the default pager is less -R (colours kept)" {
	grep -q 'DIFF_PAGER:-less -RFX' "$REPO/infra/step_diff.sh"
	command -v less >/dev/null || skip "less is missing"
	command -v script >/dev/null || skip "script (util-linux) is missing"
	# less -F quits at once when the diff fits the screen: 27 lines of
	# STEP=03 on a 40-line terminal.
	run -0 script -qec "stty rows 40 cols 120; TERM=xterm make -s -C '$REPO' diff STEP=03" /dev/null
	[[ $output == *'CLONE_NEWNET'* ]]
	[[ $output == *$'\e['* ]]
}

@test "make diff STEP=05 OUTLINE=1 lists the functions step05 adds, with their comments" {
	run -0 make -s -C "$REPO" diff STEP=05 OUTLINE=1
	[[ ${lines[0]} =~ ^'step05_veth adds to step04_cgroup: '[0-9]+' lines added, 1 removed'$ ]]
	[ "${lines[1]}" = "new functions (24):" ]
	# Every function the diff adds at column 0, no more, no less.
	local want got
	want=$(diff -u "$REPO/step04_cgroup/main.c" "$REPO/step05_veth/main.c" |
		sed -n 's/^+static [^(]*[ *]\([a-z_][a-z0-9_]*\)(.*)$/\1/p')
	got=$(printf '%s\n' "${lines[@]:2}" | awk '{ print $1 }')
	[ "$got" = "$want" ] || { diff <(echo "$want") <(echo "$got"); false; }
	[[ $output == *"  link_up "*" ip link set NAME up"* ]]
	[[ $output == *"  create_veth "*" ip link add ws-A.B.C type veth peer name eth0 netns <container PID>: one end on the host, the other created directly inside the container."* ]]
}

@test "make diff STEP=03 OUTLINE=1: a step that adds no function says so" {
	run -0 make -s -C "$REPO" diff STEP=3 OUTLINE=1
	[ "${lines[0]}" = "step03_net adds to step02_mount: 3 lines added, 1 removed" ]
	[ "${lines[1]}" = "no new functions" ]
}

@test "make diff: a terminal without TERM (as tests/doc types into) gets the plain diff, no pager" {
	command -v script >/dev/null || skip "script (util-linux) is missing"
	run -0 timeout 10 script -qec "env -u TERM DIFF_PAGER=false make -s -C '$REPO' diff STEP=03" /dev/null
	[[ $output == *"+	args.flags |= CLONE_NEWNET;"* ]]
	[[ $output != *$'\e['* ]]
	run -0 timeout 10 script -qec "TERM=dumb DIFF_PAGER=false make -s -C '$REPO' diff STEP=03" /dev/null
	[[ $output == *"+	args.flags |= CLONE_NEWNET;"* ]]
}
