#!/usr/bin/env bash
# CI: README.md's quick start, as a new learner runs it on a fresh machine.
#
#   sudo tests/fresh/quickstart.sh
#
# debootstrap makes a minimal Debian 12 (minbase + sudo, git, ca-certificates)
# with this host's apt configuration. It is entered the way chapter 5 of the
# document teaches: a private mount namespace, pivot_root into it, the old
# root detached, /proc, /sys and /dev mounted; and a new PID namespace, so
# that its PID 1 has the new root (the runtime refuses to run when its / is
# not PID 1's). There a user with sudo, whose home has mode 0750 as on
# Ubuntu, clones this repository's committed HEAD into its home and runs the
# lines of README.md's quick-start block as written: `sudo make run` gets a
# few shell commands on stdin and must show the container's shell as PID 1,
# and `sudo make test` must pass.
#
# Everything is made under one directory in /var/tmp; all mounts live in the
# namespace, which dies with its PID 1, and the directory is removed at the
# end, also on failure or timeout.
#
# Environment: FRESH_MIRROR (default http://deb.debian.org/debian),
# FRESH_TIMEOUT (seconds for the part inside, default 1800),
# FRESH_KEEP=1 (keep the directory, to look at it).
set -euo pipefail

prog=fresh-quickstart
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)

say() { echo "$prog: $*" >&2; }
die() {
	say "$*"
	exit 1
}

# --- Inside: PID 1 of the new namespaces, before and after pivot_root. ---
if [ "${1:-}" = --inside ]; then
	root=$2
	# A mount point of its own (pivot_root wants one), then what a booted
	# system has: the kernel's views and a tmpfs /run.
	mount --bind "$root" "$root"
	mount -t proc proc "$root/proc"
	mount --rbind /sys "$root/sys"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs -o mode=755 tmpfs "$root/run"
	cd "$root"
	mkdir -p .old-root
	pivot_root . .old-root
	cd /
	umount --lazy /.old-root
	rmdir /.old-root
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	[ "$(stat -c %d:%i /)" = "$(stat -c %d:%i /proc/1/root/)" ] || die "/ is not PID 1's root"

	useradd --create-home --shell /bin/bash --groups sudo learner
	chmod 0750 /home/learner
	echo 'learner ALL=(ALL:ALL) NOPASSWD: ALL' >/etc/sudoers.d/learner
	chmod 0440 /etc/sudoers.d/learner
	# Its own, as a clone from a server would be (git refuses a repository
	# owned by another user).
	chown -R learner: /srv/workshop.git

	# The learner's session: clone, then the README's lines, one by one.
	# shellcheck disable=SC2016 # the script is for the learner's shell
	runuser -u learner -- env -i HOME=/home/learner USER=learner LOGNAME=learner \
		PATH=/usr/local/bin:/usr/bin:/bin TERM=dumb LANG=C.UTF-8 bash -euo pipefail -c '
		cd ~
		git clone -q /srv/workshop.git container-workshop
		cd container-workshop
		# The quick-start block: the fenced block after its marker comment.
		awk "/^<!-- quickstart/ { m = 1; next } m && /^\`\`\`sh/ { on = 1; next } on && /^\`\`\`/ { exit } on" README.md >"$HOME/quickstart"
		n=0
		while IFS= read -r line; do
			[[ ! $line =~ ^[[:space:]]*(#|$) ]] || continue
			n=$((n + 1))
			start=$SECONDS
			echo "== learner\$ $line"
			if [[ $line == *"make run"* ]]; then
				printf "%s\n" "echo \"container pid \$\$\"" "cat /etc/os-release | head -n 2" "exit 0" |
					bash -c "$line" 2>&1 | tee "$HOME/run.out"
				grep -qx "container pid 1" "$HOME/run.out" || { echo "make run: the shell is not PID 1" >&2; exit 1; }
			else
				bash -c "$line" </dev/null 2>&1 | tee "$HOME/line$n.out"
			fi
			echo "== ($((SECONDS - start)) s)"
		done <"$HOME/quickstart"
		[ "$n" -ge 3 ] || { echo "the quick start has only $n lines" >&2; exit 1; }
		grep -q "make run" "$HOME/quickstart" && grep -q "make test" "$HOME/quickstart"
	' </dev/null
	exit 0
fi

# --- Outside: build the root filesystem, enter it, clean up. ---
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, namespaces, mounts): sudo $0"
command -v debootstrap >/dev/null || die "debootstrap not found: sudo make deps GOALS=ci"
mirror=${FRESH_MIRROR:-http://deb.debian.org/debian}
timeout_s=${FRESH_TIMEOUT:-1800}

work=$(mktemp -d /var/tmp/ws-fresh.XXXXXX)
root=$work/root
# shellcheck disable=SC2317 # (called from the EXIT trap)
cleanup() {
	local rc=$? m
	# The namespace's mounts die with it; unmount anything that did not
	# (deepest first), never following a path outside $work.
	while read -r m; do
		umount --recursive --lazy "$m" 2>/dev/null || true
	done < <(awk -v w="$work" '$5 == w || index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	if [ -n "${FRESH_KEEP:-}" ]; then
		say "kept $work"
	else
		rm -rf --one-file-system "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$SECONDS
say "debootstrap bookworm (minbase, sudo git ca-certificates) into $root"
# In a mount namespace of its own: the /proc and /sys it mounts in the new
# root stay out of the host's mount table.
unshare --mount --propagation private \
	debootstrap --variant=minbase --include=sudo,git,ca-certificates bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	{
		tail -n 20 "$work/debootstrap.log" >&2
		die "debootstrap failed"
	}
say "debootstrap done in $((SECONDS - t0)) s"

# The host's apt configuration (sources, proxies, keys) replaces the
# debootstrap one; the name resolution and host name of the host.
rm -f "$root/etc/apt/sources.list"
cp -a /etc/apt/. "$root/etc/apt/"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
echo "127.0.1.1 $(hostname)" >>"$root/etc/hosts"
# What the learner clones: this repository's committed HEAD.
git clone -q --bare "$repo" "$root/srv/workshop.git"

t1=$SECONDS
say "entering it (mount + PID namespaces, pivot_root) as PID 1; timeout $timeout_s s"
rc=0
timeout --kill-after=30 "$timeout_s" \
	unshare --mount --pid --fork --kill-child --propagation private -- "$here/quickstart.sh" --inside "$root" </dev/null || rc=$?
say "the learner's part took $((SECONDS - t1)) s; $((SECONDS - t0)) s in all"
[ "$rc" -ne 124 ] || die "TIMEOUT after $timeout_s s"
[ "$rc" -eq 0 ] || die "failed (exit $rc)"
say "passed: the README's quick start works on a fresh Debian 12"
