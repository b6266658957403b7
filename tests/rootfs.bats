#!/usr/bin/env bats
# rootfs.sh: the busybox and podman paths, refusing/replacing DIR, and never
# leaving a half-made DIR (or a podman container) behind.

# Single-quoted scripts are meant for the inner shells that run them.
# shellcheck disable=SC2016

load helpers
load nobody

setup_file() {
	# One busybox tree, reused as the source of the test images.
	SRC="$BATS_FILE_TMPDIR/src"
	export SRC
	"$BATS_TEST_DIRNAME/../rootfs.sh" --from busybox "$SRC" >/dev/null 2>&1
	echo "made by tests/rootfs.bats" >"$SRC/etc/ws-test-marker"
}

setup() {
	require_root
	WORK="$BATS_TEST_TMPDIR/work"
	DIR="$WORK/rootfs"
	mkdir -p "$WORK"
	IMAGE=""
}

teardown() {
	if [ -n "$IMAGE" ] && command -v podman >/dev/null; then
		local c
		for c in $(podman ps -aq --filter "ancestor=$IMAGE"); do
			podman rm -f "$c" >/dev/null || true
		done
		podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
	fi
	rm -rf --one-file-system "$WORK"
}

# WORK must hold exactly the given entries: no temp dir left next to DIR.
assert_work_holds() {
	local got
	got=$(find "$WORK" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tr '\n' ' ')
	[ "$got" = "$*${*:+ }" ] || {
		echo "expected in $WORK: '$*', got: '$got'"
		return 1
	}
}

import_test_image() {
	command -v podman >/dev/null || skip "podman is not installed"
	IMAGE="localhost/ws-test-rootfs:$$-$BATS_TEST_NUMBER"
	tar -C "$SRC" -c . | podman import -q - "$IMAGE" >/dev/null
}

@test "--help prints the usage" {
	run -0 "$REPO/rootfs.sh" --help
	[[ $output == *"usage: rootfs.sh [--from podman|docker|busybox] [--image IMAGE] [--force] [DIR]"* ]]
}

@test "an unknown option is a usage error" {
	run -2 "$REPO/rootfs.sh" --bogus "$DIR"
	[[ $output == *usage:* ]]
	assert_work_holds
}

@test "--image does not go with --from busybox" {
	run -1 "$REPO/rootfs.sh" --from busybox --image foo "$DIR"
	[[ $output == *"--image does not apply to --from busybox"* ]]
	assert_work_holds
}

@test "needs root, and says why" {
	run -1 as_nobody "$REPO/rootfs.sh" --from busybox "$DIR"
	[[ $output == *"needs root"* ]]
	[[ $output == *sudo* ]]
	assert_work_holds
}

@test "busybox: a tree whose /bin/sh runs the workshop's applets" {
	run -0 "$REPO/rootfs.sh" --from busybox "$DIR"
	[[ $output == *"rootfs from busybox ready in $DIR"* ]]
	assert_work_holds rootfs

	run -0 chroot "$DIR" /bin/sh -c 'echo hello from $0'
	[ "$output" = "hello from /bin/sh" ]
	local a
	for a in sh ps ip ping httpd nc wget dd hostname mount top cat sleep; do
		run -0 chroot "$DIR" /bin/sh -c "command -v $a"
	done
	# The runtime mounts on dev/ and proc/.
	[ -d "$DIR/dev" ] && [ -d "$DIR/proc" ] && [ -d "$DIR/sys" ]
	[ "$(stat -c %a "$DIR/tmp")" = 1777 ]
	grep -q '^root:x:0:0:' "$DIR/etc/passwd"
	grep -q '^nobody:x:65534:' "$DIR/etc/passwd"
	grep -q '^nobody:x:65534:' "$DIR/etc/group"
	grep -q 'ID=busybox' "$DIR/etc/os-release"
}

@test "busybox: ps, ip, httpd and wget work inside namespaces" {
	"$REPO/rootfs.sh" --from busybox "$DIR"
	# Private mount/pid/net namespaces: nothing here reaches the host.
	run -0 unshare --mount --pid --fork --mount-proc="$DIR/proc" chroot "$DIR" ps
	[[ $output == *PID* ]]
	# Like the runtime: a tmpfs /dev (ash needs /dev/null for "&").
	run -0 unshare --mount --net --pid --fork bash -c '
		mount -t tmpfs dev "$1/dev" && mknod -m 666 "$1/dev/null" c 1 3 &&
		exec chroot "$1" /bin/sh -c "$2"' _ "$DIR" '
		ip link set lo up
		httpd -f -p 127.0.0.1:8080 -h /var/www &
		for i in 1 2 3 4 5 6 7 8 9 10; do
			wget -qO- http://127.0.0.1:8080/ && exit 0
			sleep 0.3
		done
		exit 1'
	[[ $output == *"hello from inside the container"* ]]
}

@test "an existing empty DIR is filled" {
	mkdir "$DIR"
	run -0 "$REPO/rootfs.sh" --from busybox "$DIR"
	[ -e "$DIR/bin/sh" ]
	assert_work_holds rootfs
}

@test "refuses a non-empty DIR without --force and leaves it alone" {
	mkdir "$DIR"
	echo keep >"$DIR/keep"
	run -1 "$REPO/rootfs.sh" --from busybox "$DIR"
	[[ $output == *"$DIR is not empty: use --force to replace it"* ]]
	[ "$(cat "$DIR/keep")" = keep ]
	[ ! -e "$DIR/bin" ]
	assert_work_holds rootfs
}

@test "--force replaces a non-empty DIR" {
	mkdir "$DIR"
	echo keep >"$DIR/keep"
	run -0 "$REPO/rootfs.sh" --force --from busybox "$DIR"
	[ ! -e "$DIR/keep" ]
	run -0 chroot "$DIR" /bin/sh -c 'echo ok'
	[ "$output" = ok ]
	assert_work_holds rootfs
}

@test "--force refuses a DIR with something mounted under it" {
	"$REPO/rootfs.sh" --from busybox "$DIR"
	# The mount lives in a private mount namespace only.
	run -1 unshare --mount bash -c 'mount -t tmpfs ws-test "$1/proc" && "$2" --force --from busybox "$1"' _ "$DIR" "$REPO/rootfs.sh"
	[[ $output == *"has mounts under it"* ]]
	[[ $output == *"make reset"* ]]
	[ -e "$DIR/bin/sh" ]
	assert_work_holds rootfs
}

@test "docker failure (no docker, no daemon or no image) leaves no DIR" {
	run -1 "$REPO/rootfs.sh" --from docker --image "localhost/ws-no-such-image:$$" "$DIR"
	[[ $output == *docker* ]]
	[ ! -e "$DIR" ]
	assert_work_holds
}

@test "--force keeps the old DIR when the build fails" {
	mkdir "$DIR"
	echo keep >"$DIR/keep"
	run -1 "$REPO/rootfs.sh" --force --from docker --image "localhost/ws-no-such-image:$$" "$DIR"
	[ "$(cat "$DIR/keep")" = keep ]
	assert_work_holds rootfs
}

@test "podman: a bogus image fails and leaves neither DIR nor a container" {
	command -v podman >/dev/null || skip "podman is not installed"
	local before
	before=$(podman ps -aq | sort)
	run -1 "$REPO/rootfs.sh" --from podman --image "localhost/ws-no-such-image:$$" "$DIR"
	[[ $output == *"podman cannot pull localhost/ws-no-such-image:$$"* ]]
	[ ! -e "$DIR" ]
	assert_work_holds
	[ "$(podman ps -aq | sort)" = "$before" ]
}

@test "podman: exports a locally imported image and removes its container" {
	import_test_image
	run -0 "$REPO/rootfs.sh" --from podman --image "$IMAGE" "$DIR"
	[[ $output == *"rootfs from podman ready in $DIR"* ]]
	[ "$(cat "$DIR/etc/ws-test-marker")" = "made by tests/rootfs.bats" ]
	[ -d "$DIR/dev" ] && [ -d "$DIR/proc" ]
	run -0 chroot "$DIR" /bin/sh -c 'echo ok'
	[ "$output" = ok ]
	assert_work_holds rootfs
	[ -z "$(podman ps -aq --filter "ancestor=$IMAGE")" ]
	# rmi without -f fails while any container still uses the image.
	run -0 podman rmi "$IMAGE"
}

@test "--image without --from means podman" {
	import_test_image
	run -0 "$REPO/rootfs.sh" --image "$IMAGE" "$DIR"
	[[ $output == *"rootfs from podman ready"* ]]
	[ -f "$DIR/etc/ws-test-marker" ]
}

@test "default: uses podman when it has the image, and says so" {
	import_test_image
	ROOTFS_IMAGE=$IMAGE run -0 "$REPO/rootfs.sh" "$DIR"
	[[ $output == *"using podman: $IMAGE is available"* ]]
	[ -f "$DIR/etc/ws-test-marker" ]
	[ -z "$(podman ps -aq --filter "ancestor=$IMAGE")" ]
}

@test "default: falls back to busybox when podman cannot get the image, and says why" {
	ROOTFS_IMAGE="localhost/ws-no-such-image:$$" run -0 "$REPO/rootfs.sh" "$DIR"
	[[ $output == *"using busybox: podman "* ]]
	grep -q 'ID=busybox' "$DIR/etc/os-release"
	assert_work_holds rootfs
}

# A fake podman whose export breaks or hangs, to exercise the cleanup paths.
fake_podman() {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	cat >"$BATS_TEST_TMPDIR/bin/podman" <<EOF
#!/usr/bin/env bash
echo "\$*" >>"$BATS_TEST_TMPDIR/podman.log"
case \$1 in
create) echo fakecid ;;
export)
	if [ "$1" = hang ]; then exec sleep 60; fi
	tar -C "$SRC" -c . | head -c 30000
	exit 1 ;;
esac
EOF
	chmod +x "$BATS_TEST_TMPDIR/bin/podman"
}

@test "an export that breaks half-way leaves no DIR and removes the container" {
	fake_podman break
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run -1 "$REPO/rootfs.sh" --from podman --image fake "$DIR"
	[[ $output == *"podman export of fake failed"* ]]
	[ ! -e "$DIR" ]
	assert_work_holds
	grep -qx 'rm -f fakecid' "$BATS_TEST_TMPDIR/podman.log"
}

@test "an interrupted build leaves no DIR and removes the container" {
	fake_podman hang
	# Its own process group, like a terminal's foreground job on Ctrl-C.
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" setsid "$REPO/rootfs.sh" --from podman --image fake "$DIR" 3>&- &
	local pid=$! rc=0
	for _ in $(seq 50); do
		grep -q '^export' "$BATS_TEST_TMPDIR/podman.log" 2>/dev/null && break
		sleep 0.1
	done
	compgen -G "$WORK/.rootfs.tmp.*" >/dev/null # mid-build
	kill -TERM -- "-$pid"
	wait "$pid" || rc=$?
	[ "$rc" -eq 143 ]
	[ ! -e "$DIR" ]
	assert_work_holds
	grep -qx 'rm -f fakecid' "$BATS_TEST_TMPDIR/podman.log"
}

@test "--archive: loads a podman save tarball instead of pulling, and uses the image it names" {
	import_test_image
	podman save -q -o "$WORK/image.tar" "$IMAGE"
	podman rmi -f "$IMAGE" >/dev/null
	run -0 "$REPO/rootfs.sh" --archive "$WORK/image.tar" "$DIR"
	[[ $output == *"loaded $IMAGE from $WORK/image.tar"* ]]
	[[ $output == *"rootfs from podman ready in $DIR"* ]]
	[[ $output != *pulling* ]]
	[ "$(cat "$DIR/etc/ws-test-marker")" = "made by tests/rootfs.bats" ]
	[ -z "$(podman ps -aq --filter "ancestor=$IMAGE")" ]
	rm "$WORK/image.tar"
	assert_work_holds rootfs
}

@test "--archive: a missing file fails before anything is made" {
	run -1 "$REPO/rootfs.sh" --archive "$WORK/no-such.tar" "$DIR"
	[[ $output == *"--archive $WORK/no-such.tar: no such readable file"* ]]
	[ ! -e "$DIR" ]
	assert_work_holds
}

@test "--archive does not go with --from busybox" {
	run -1 "$REPO/rootfs.sh" --from busybox --archive "$WORK/x.tar" "$DIR"
	[[ $output == *"--archive does not apply to --from busybox"* ]]
}

# The other architecture of the two the workshop runs on.
other_arch() { # other_arch image|uname
	case $(uname -m):$1 in
	x86_64:image) echo arm64 ;;
	x86_64:uname) echo aarch64 ;;
	*:image) echo amd64 ;;
	*) echo x86_64 ;;
	esac
}

@test "podman: an image for another architecture is refused, naming both, and leaves nothing" {
	command -v podman >/dev/null || skip "podman is not installed"
	IMAGE="localhost/ws-test-rootfs:$$-$BATS_TEST_NUMBER"
	tar -C "$SRC" -c . | podman import -q --arch "$(other_arch image)" - "$IMAGE" >/dev/null
	local before
	before=$(podman ps -aq | sort)
	run -1 "$REPO/rootfs.sh" --from podman --image "$IMAGE" "$DIR"
	[[ $output == *"$IMAGE is for $(other_arch image), this machine is "*" ($(uname -m)): its programs cannot run here;"* ]]
	[[ $output == *"--arch "* ]]
	assert_work_holds
	[ "$(podman ps -aq | sort)" = "$before" ]
}

@test "busybox: a busybox for another architecture is refused, naming both" {
	# An ELF header that says the other machine (e_machine at offset 18).
	local fake="$BATS_TEST_TMPDIR/busybox" machine
	case $(other_arch uname) in aarch64) machine='\267\000' ;; *) machine='\076\000' ;; esac
	{ printf '\177ELF\002\001\001'; head -c 11 /dev/zero; printf '%b' "$machine"; head -c 100 /dev/zero; } >"$fake"
	chmod +x "$fake"
	run -1 env BUSYBOX="$fake" "$REPO/rootfs.sh" --from busybox "$DIR"
	[ "$output" = "rootfs.sh: $fake is built for $(other_arch uname), not for this machine ($(uname -m)): sudo apt-get install busybox-static" ]
	assert_work_holds
}
