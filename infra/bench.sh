#!/usr/bin/env bash
# Start latency of each step (`run /bin/true`) next to reference runtimes on
# the same rootfs: unshare+chroot (namespaces only), runc and crun (OCI).
#
#   sudo infra/bench.sh [-n N] [--suite]        (make bench / make bench-vm)
#
#   -n N     runs per runtime (default 200); CI uses a few as a smoke test
#   --suite  also time `make test` and, outside the VM, `make test-vm`
#
# Runs are interleaved (one of each runtime per round, the order rotating
# each round) so that load drift hits every runtime alike. Each run is timed
# by a tiny C helper around posix_spawn + wait4, so bash's own fork/exec is
# not counted, and wait4 also gives the peak RSS. Steps that need cgroup v2
# exit 125 on hybrid hosts: they are listed, and `make bench-vm` measures
# them in a cgroup v2 VM (TCG there: only the ratios mean something).
# Everything is created under one temp dir and undone on exit or interrupt.
set -euo pipefail

prog=bench.sh
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
rootfs=$repo/rootfs
n=200
suite=

usage() {
	sed -n '4,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}
die() {
	echo "$prog: $*" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	-n) [ $# -ge 2 ] || die "-n needs a number"; n=$2; shift 2 ;;
	-n*) n=${1#-n}; shift ;;
	--suite) suite=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ $n =~ ^[1-9][0-9]*$ ]] || die "-n: '$n' is not a positive number"
[ "$(id -u)" -eq 0 ] || die "must run as root (containers need it): sudo make bench"
[ -x "$rootfs/bin/true" ] || die "no $rootfs/bin/true: sudo make rootfs"
[[ $rootfs != *[\"\\]* ]] || die "rootfs path $rootfs cannot go into JSON as is"
command -v "${CC:-cc}" >/dev/null || die "no C compiler (${CC:-cc}) for the timer"

# --- Everything we create lives in $tmp or is a runc/crun container whose
# state is under $tmp; cleanup() removes both. ---
tmp=''
# shellcheck disable=SC2317 # (called from traps)
cleanup() {
	[ -n "$tmp" ] || return 0
	local rt id
	for rt in runc crun; do
		[ -d "$tmp/$rt-state" ] || continue
		# runc run deletes its container when it ends; only an interrupted
		# run can leave one.
		while read -r id; do
			[ -z "$id" ] || "$rt" --root "$tmp/$rt-state" delete -f "$id" >/dev/null 2>&1 || true
		done < <("$rt" --root "$tmp/$rt-state" list -q 2>/dev/null || true)
	done
	# A runtime killed between creating its cgroup and saving its state
	# leaves an empty cgroup named after our container IDs (any depth: on a
	# hybrid host runc nests some controllers under the caller's cgroup).
	find /sys/fs/cgroup -depth -type d -name "wsbench-$$-*" -exec rmdir {} + 2>/dev/null || true
	rm -rf "$tmp"
	tmp=''
}
trap cleanup EXIT
trap 'echo "$prog: interrupted" >&2; exit 130' INT
trap 'echo "$prog: terminated" >&2; exit 143' TERM
trap 'exit 129' HUP
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")

# --- The timer: spawn, wait4, print "nanoseconds maxrss_KiB status" on fd 3.
# The command's own stdout/stderr stay those of the timer. ---
cat >"$tmp/timer.c" <<'EOF'
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
extern char **environ;
int main(int argc, char *argv[])
{
	struct timespec start, end;
	struct rusage usage;
	pid_t pid;
	int status, error;

	if (argc < 2)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &start);
	error = posix_spawnp(&pid, argv[1], NULL, NULL, argv + 1, environ);
	if (error != 0) {
		fprintf(stderr, "timer: %s: %s\n", argv[1], strerror(error));
		return 2;
	}
	if (wait4(pid, &status, 0, &usage) < 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &end);
	dprintf(3, "%lld %ld %d\n",
		(end.tv_sec - start.tv_sec) * 1000000000LL + end.tv_nsec - start.tv_nsec,
		usage.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
EOF
"${CC:-cc}" -O2 -o "$tmp/timer" "$tmp/timer.c"

# --- The OCI bundle, equivalent to step06: same rootfs (read-write), the
# same five namespaces (no user namespace), /proc, a tmpfs /dev with devpts,
# and step06's default limits. runc/crun add their usual extras (default
# device nodes, capabilities); neither has a veth. ---
mkdir "$tmp/bundle"
cat >"$tmp/bundle/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": { "uid": 0, "gid": 0 },
    "args": [ "/bin/true" ],
    "env": [ "PATH=/usr/sbin:/usr/bin:/sbin:/bin" ],
    "cwd": "/"
  },
  "root": { "path": "$rootfs", "readonly": false },
  "hostname": "container",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc", "options": [ "nosuid", "noexec", "nodev" ] },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid", "noexec", "mode=755", "size=64k" ] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" ] }
  ],
  "linux": {
    "resources": {
      "memory": { "limit": 67108864 },
      "cpu": { "quota": 50000, "period": 100000 },
      "pids": { "limit": 64 }
    },
    "namespaces": [ { "type": "pid" }, { "type": "mount" }, { "type": "network" }, { "type": "uts" }, { "type": "ipc" } ]
  }
}
EOF

# --- The host ---
if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
	cgmode="cgroup v2 ($(cat /sys/fs/cgroup/cgroup.controllers))"
elif [ -d /sys/fs/cgroup/unified ]; then
	cgmode="hybrid (cgroup v1 controllers; v2 at /sys/fs/cgroup/unified)"
else
	cgmode="cgroup v1"
fi
where=native
[ -z "${WORKSHOP_TEST_VM:-}" ] || where="cgroup v2 VM (TCG: compare ratios, not times)"

# --- The candidates: name, command, and why one is left out. ---
names=() skipped=() runc_seq=0
declare -A cmd=() why=() log=()

# Run one candidate once through the timer: sets run_ns, run_rss, run_rc.
# runc/crun get a fresh container ID every run.
run_once() {
	local name=$1 out argv
	mapfile -t argv <<<"${cmd[$name]}"
	case $name in
	runc | crun)
		runc_seq=$((runc_seq + 1))
		argv+=("wsbench-$$-$runc_seq")
		;;
	esac
	out=$("$tmp/timer" "${argv[@]}" 3>&1 </dev/null >>"${log[$name]}" 2>&1) || die "timer failed for $name"
	read -r run_ns run_rss run_rc <<<"$out"
}

# try NAME COMMAND...: keep a candidate if a trial run exits 0 (the trial
# also warms the caches). The command is kept one word a line.
try() {
	local name=$1
	shift
	cmd[$name]=$(printf '%s\n' "$@")
	log[$name]=$tmp/$name.log
	run_once "$name"
	if [ "$run_rc" -eq 0 ]; then
		names+=("$name")
		: >"$tmp/$name.samples"
		return 0
	fi
	local msg
	msg=$(grep -v '^$' "${log[$name]}" | tail -n 1 | cut -c1-100)
	if [ "$run_rc" -eq 125 ] && grep -q 'cgroup v2' "${log[$name]}"; then
		why[$name]="needs cgroup v2: make bench-vm"
	else
		why[$name]="trial run failed (exit $run_rc): $msg"
	fi
	skipped+=("$name")
}

for dir in "$repo"/step0[1-9]_*/; do
	step=$(basename "$dir")
	if [ -x "$dir/run" ]; then
		try "$step" "$dir/run" /bin/true
	else
		why[$step]="not built: make"
		skipped+=("$step")
	fi
done
steps=("${names[@]}" "${skipped[@]}")
try unshare unshare --pid --fork --mount --net --uts --ipc chroot "$rootfs" /bin/true
for rt in runc crun; do
	if command -v "$rt" >/dev/null; then
		mkdir "$tmp/$rt-state"
		try "$rt" "$rt" --root "$tmp/$rt-state" run --bundle "$tmp/bundle"
	else
		why[$rt]="not installed (apt-get install $rt)"
		skipped+=("$rt")
	fi
done

# --- What step05's feature costs the kernel alone, to compare with its +prev:
# `ip -batch` creating and deleting a veth pair, minus the same ip doing two
# no-op requests. Both run in a netns of their own that dies with unshare, so
# nothing reaches the host's network. ---
printf '%s\n' 'link add wsbench0 type veth peer name wsbench1' 'link del wsbench0' >"$tmp/veth.batch"
printf '%s\n' 'link set lo down' 'link set lo down' >"$tmp/noop.batch"
if command -v ip >/dev/null; then
	try veth unshare --net ip -batch "$tmp/veth.batch" || true
	try veth-base unshare --net ip -batch "$tmp/noop.batch" || true
else
	why[veth]="no ip (apt-get install iproute2)"
fi

# --- Measure: N rounds, one run of each candidate per round. ---
echo "$prog: $n rounds of ${#names[@]} runtimes (${names[*]}); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
load_before=$(cut -d' ' -f1 /proc/loadavg)
k=${#names[@]}
for ((i = 0; i < n; i++)); do
	for ((j = 0; j < k; j++)); do
		name=${names[(i + j) % k]}
		run_once "$name"
		[ "$run_rc" -eq 0 ] || die "$name failed in round $((i + 1)) (exit $run_rc); see its output above"
		echo "$run_ns $run_rss" >>"$tmp/$name.samples"
	done
	# A dot per tenth, so a long run shows it is alive.
	if ((n >= 10 && (i + 1) % (n / 10) == 0)); then printf . >&2; fi
done
((n < 10)) || echo >&2

# --- Statistics: median and p90 (nearest rank) in ns, max RSS in KiB. ---
declare -A med=() p90=() rss=()
for name in "${names[@]}"; do
	sort -n -k1,1 "$tmp/$name.samples" >"$tmp/$name.sorted"
	med[$name]=$(sed -n "$(((n + 1) / 2))p" "$tmp/$name.sorted" | cut -d' ' -f1)
	p90[$name]=$(sed -n "$(((9 * n + 9) / 10))p" "$tmp/$name.sorted" | cut -d' ' -f1)
	rss[$name]=$(sort -n -k2,2 "$tmp/$name.samples" | tail -n 1 | cut -d' ' -f2)
done

ms() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e6 }'; }
ratio() {
	if [ -n "${2:-}" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo -; fi
}

echo
echo "Start latency of \`RUNTIME /bin/true\` on $rootfs"
echo "kernel $(uname -r); $cgmode; $where"
echo "N=$n runs each, interleaved; load average $load_before before, $(cut -d' ' -f1 /proc/loadavg) after"
echo
fmt='%-14s %9s %9s %9s %9s %8s %10s  %s\n'
# shellcheck disable=SC2059 # (the format is ours)
printf "$fmt" runtime "median ms" "p90 ms" "+prev ms" "/unshare" "/runc" "peak RSS" note
prev=''
for name in "${steps[@]}" unshare runc crun; do
	if [ -z "${med[$name]:-}" ]; then
		# shellcheck disable=SC2059
		printf "$fmt" "$name" - - - - - - "${why[$name]}"
		prev=''
		continue
	fi
	delta=-
	if [[ $name == step* && -n $prev ]]; then
		delta=$(awk -v a="${med[$name]}" -v b="${med[$prev]}" 'BEGIN { printf "%+.2f", (a - b) / 1e6 }')
	fi
	[[ $name != step* ]] || prev=$name
	note=''
	case $name in
	step01_*) note="no rootfs yet: it runs the host's /bin/true" ;;
	unshare) note="namespaces + chroot only: no cgroup, no veth, no /proc or /dev" ;;
	runc) note="RSS: the Go binary (runc and its runc init child)" ;;
	crun) note="RSS: crun (C) and its container child" ;;
	esac
	# shellcheck disable=SC2059
	printf "$fmt" "$name" "$(ms "${med[$name]}")" "$(ms "${p90[$name]}")" "$delta" \
		"$(ratio "${med[$name]}" "${med[unshare]:-}")" "$(ratio "${med[$name]}" "${med[runc]:-}")" \
		"$((rss[$name] / 1024)).$((rss[$name] % 1024 * 10 / 1024)) MiB" "$note"
done
echo
echo "median/p90: wall time from spawn to reaped exit (the runtime's whole life, including cleanup);"
echo "+prev: median minus the previous step's (what the new feature costs); peak RSS: max ru_maxrss"
echo "from wait4 (the runtime process, or the largest of the children it reaped)."
echo
if [ -n "${med[veth]:-}" ] && [ -n "${med[veth-base]:-}" ]; then
	echo "Kernel cost of step05's feature alone: creating and deleting a veth pair takes" \
		"$(awk -v a="${med[veth]}" -v b="${med[veth-base]}" 'BEGIN { printf "%.2f", (a - b) / 1e6 }') ms"
	echo "(median of ip -batch add+del in a new netns, $(ms "${med[veth]}") ms, minus the same with two no-ops, $(ms "${med[veth-base]}") ms)."
else
	echo "Kernel cost of a veth pair: not measured (${why[veth]:-${why[veth-base]:-}})"
fi

# --- Optional: the wall time of the test suites. ---
if [ -n "$suite" ]; then
	echo
	targets=(test)
	if [ -z "${WORKSHOP_TEST_VM:-}" ]; then targets+=(test-vm); fi
	for target in "${targets[@]}"; do
		start=${EPOCHREALTIME/./}
		rc=0
		make -s -C "$repo" "$target" </dev/null >"$tmp/$target.log" 2>&1 || rc=$?
		end=${EPOCHREALTIME/./}
		# TAP: a skipped test is "ok N name # skip reason"; count it apart.
		printf 'make %-8s %6.1f s wall, exit %d, %s\n' "$target" \
			"$(awk -v us=$((end - start)) 'BEGIN { print us / 1e6 }')" "$rc" \
			"$(awk '/^ok .* # skip/ { s++; next } /^ok / { p++ } /^not ok / { f++ }
				END { printf "%d passed, %d failed, %d skipped", p, f, s }' "$tmp/$target.log")"
	done
	[ -n "${targets[1]:-}" ] || echo "make test-vm: not timed inside the VM (no nested VM)"
fi
