#!/usr/bin/env bash
# Check that this machine can run the workshop, and say how to fix what is missing.
# Exit 0 only when every needed check passes (! lines are advice, - not checked).
# WORKSHOP_ROOTFS: check this rootfs instead of rootfs/ at the repo top.
# The last line is the one to send to the instructor before the session.
# For tests only (a way to fake what cannot be changed on a test host):
#   WORKSHOP_FSTYPE="PATH=TYPE ..."  report TYPE as the filesystem of PATH
#                                    (as stat -f -c %T names it, e.g. v9fs)
#   WORKSHOP_PROC_CGROUP=FILE        read FILE instead of /proc/self/cgroup
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
rootfs=${WORKSHOP_ROOTFS:-$repo/rootfs}
# ip, modprobe live in sbin, which ordinary users' PATH often lacks.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	green=$'\e[32m' red=$'\e[31m' yellow=$'\e[33m' reset=$'\e[0m'
else
	green="" red="" yellow="" reset=""
fi

# This distribution's name for a package of infra/packages.sh, the one list.
pkg() {
	"$repo/infra/packages.sh" name "$1"
}

# The filesystem type of PATH (stat -f -c %T), or WORKSHOP_FSTYPE's fake.
fstype() {
	local pair
	for pair in ${WORKSHOP_FSTYPE:-}; do
		[ "${pair%%=*}" != "$1" ] || {
			echo "${pair#*=}"
			return
		}
	done
	stat -f -c %T "$1" 2>/dev/null || echo none
}

failed=() # needed checks that failed
is_root=0
[ "$(id -u)" -ne 0 ] || is_root=1

# row SYMBOL NAME TEXT [DETAIL...]: one aligned line, details indented below.
row() {
	local sym=$1 name=$2 text=$3 color
	shift 3
	case $sym in
	✓) color=$green ;;
	✗) color=$red ;;
	*) color=$yellow ;;
	esac
	printf '%s%s%s %-12s %s\n' "$color" "$sym" "$reset" "$name" "$text"
	local line
	for line in "$@"; do
		printf '  %-12s %s\n' "" "$line"
	done
}
ok() { row ✓ "$@"; }
# The one-line fix in Japanese for the checks whose details give it in English.
declare -A fix_ja=(
	[root]="sudo make doctor のように sudo を付けて実行してください"
	[kernel]="Ubuntu 22.04 以降など、カーネル 5.11 以上の VM を使ってください (付録 A)"
	[namespaces]="コンテナの中ではなく、VM か実機で実行してください"
	["cgroup v2"]="cgroup v2 だけのホストにするか (付録 A.2)、Ubuntu 24.04 の VM を使ってください"
	[veth]="sudo modprobe veth を実行するか、ディストリビューション標準のカーネルを使ってください"
	[cc]="sudo make deps を実行してください"
	[make]="次を実行してください: sudo apt-get install make"
	[ip]="sudo make deps を実行してください"
	[bats]="sudo make deps を実行してください"
	[podman]="sudo make deps を実行してください (オフラインなら busybox-static)"
	[rootfs]="sudo make rootfs を実行してください (3 章)"
)
bad() {
	failed+=("$1")
	row ✗ "$@"
	[[ "$*" == *修正:* || -z "${fix_ja[$1]:-}" ]] || printf '  %-12s %s\n' "" "修正: ${fix_ja[$1]}"
}
# Recommended or optional: shown with its fix, but not a failure.
warn() { row ! "$@"; }
skipped() { row - "$1" "not checked: needs root"; }

check_root() {
	if [ "$is_root" -eq 1 ]; then
		ok root "running as root"
	else
		bad root "running as uid $(id -u): namespaces, mounts and cgroups need root" \
			"fix: sudo make doctor (and sudo for every step)"
	fi
}

check_kernel() {
	local rel major minor
	rel=$(uname -r)
	IFS=. read -r major minor _ <<<"$rel"
	minor=${minor%%[!0-9]*}
	if [ "$major" -lt 5 ] || { [ "$major" -eq 5 ] && [ "${minor:-0}" -lt 11 ]; }; then
		bad kernel "$rel: older than 5.11; every step closes inherited fds with close_range(CLOSE_RANGE_CLOEXEC) (5.11)" \
			"and starts the container with clone3 (5.3); step04 on with CLONE_INTO_CGROUP (5.7)" \
			"fix: a newer kernel, e.g. Ubuntu 22.04 or later; or: sudo make test-vm"
	elif [ "$major" -gt 5 ] || [ "${minor:-0}" -ge 14 ]; then
		ok kernel "$rel (>= 5.14: cgroup.kill stops a whole container at once)"
	else
		warn kernel "$rel: older than 5.14, no cgroup.kill; processes are killed one by one, which races with fork" \
			"fix (recommended): a newer kernel, e.g. sudo apt-get install $(pkg linux-image-amd64)"
	fi
}

check_namespaces() {
	if [ "$is_root" -ne 1 ]; then
		skipped namespaces
		return
	fi
	if unshare --pid --fork --mount --net --uts --ipc true 2>/dev/null; then
		ok namespaces "pid, mount, net, uts, ipc usable (unshare)"
		return
	fi
	local ns missing=()
	for ns in pid mount net uts ipc; do
		if [ "$ns" = pid ]; then
			unshare --pid --fork true 2>/dev/null || missing+=("$ns")
		else
			unshare "--$ns" true 2>/dev/null || missing+=("$ns")
		fi
	done
	bad namespaces "unshare fails for: ${missing[*]:-the combination}" \
		"fix: run on a VM or bare-metal host (not inside an unprivileged container)," \
		"     with a kernel built with CONFIG_{PID,UTS,IPC,NET}_NS; or: sudo make test-vm"
}

check_cgroup() {
	local fstype c missing=() why
	fstype=$(fstype /sys/fs/cgroup)
	if [ "$fstype" = cgroup2fs ]; then
		for c in memory cpu pids; do
			grep -qw "$c" /sys/fs/cgroup/cgroup.controllers 2>/dev/null || missing+=("$c")
		done
		if [ ${#missing[@]} -eq 0 ]; then
			ok "cgroup v2" "/sys/fs/cgroup is cgroup2 with memory, cpu, pids"
			check_subtree
			return
		fi
		bad "cgroup v2" "cgroup2 at /sys/fs/cgroup lacks controllers: ${missing[*]}" \
			"means: steps 01-03 work here; steps 04-06 need these controllers" \
			"fix: they are held by a cgroup v1 mount or not built in; boot with kernel" \
			"     parameter cgroup_no_v1=all (GRUB_CMDLINE_LINUX in /etc/default/grub," \
			"     then: sudo update-grub && sudo reboot); or: sudo make test-vm"
		return
	fi
	if [ "$(fstype /sys/fs/cgroup/unified)" = cgroup2fs ]; then
		why="hybrid hierarchy: v1 controllers, v2 only at /sys/fs/cgroup/unified without controllers"
	else
		why="legacy cgroup v1 hierarchy (/sys/fs/cgroup is $fstype)"
	fi
	bad "cgroup v2" "$why" \
		"means: steps 01-03 work here; steps 04-06 need cgroup v2 (memory, cpu, pids)" \
		"fix: add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub," \
		"     then: sudo update-grub && sudo reboot" \
		"or:  sudo make test-vm (runs the tests in a VM with cgroup v2)"
}

# Below the root, as the runtime makes /sys/fs/cgroup/workshop: a throwaway
# cgroup must get memory, cpu and pids and pass them on (subtree_control).
check_subtree() {
	if [ "$is_root" -ne 1 ]; then
		skipped subtree
		return
	fi
	local cg=/sys/fs/cgroup/workshop-doctor.$$ c missing=()
	if ! mkdir "$cg" 2>/dev/null; then
		bad subtree "cannot create a cgroup below /sys/fs/cgroup" \
			"修正: cgroup v2 を読み書きできる VM か実機で実行してください (コンテナの中では動きません)"
		return
	fi
	for c in memory cpu pids; do
		grep -qw "$c" "$cg/cgroup.controllers" || missing+=("$c")
	done
	if [ ${#missing[@]} -ne 0 ]; then
		warn subtree "not yet enabled below the root: ${missing[*]}; step04's first run writes" \
			"+cpu +memory +pids into /sys/fs/cgroup/cgroup.subtree_control"
	elif echo "+memory +cpu +pids" >"$cg/cgroup.subtree_control" 2>/dev/null; then
		ok subtree "a cgroup below the root gets memory, cpu, pids and passes them on"
	else
		bad subtree "cannot write cgroup.subtree_control below the root" \
			"修正: cgroup v2 を委譲なしで使える VM か実機で実行してください; or: sudo make test-vm"
	fi
	rmdir "$cg" 2>/dev/null || true
}

# The commands the document types besides the steps: sudo, nc, ping.
check_commands() {
	local entry tool pkg why
	for entry in "sudo:sudo:every command of the document" "nc:netcat-openbsd:chapter 8 and 9's network checks" \
		"ping:iputils-ping:chapter 8's veth checks"; do
		IFS=: read -r tool pkg why <<<"$entry"
		if command -v "$tool" >/dev/null; then
			ok "$tool" "$(command -v "$tool")"
		elif [ "$tool" = sudo ]; then
			bad sudo "not found ($why)" "修正: root で次を実行し、usermod -aG sudo ユーザー名 で権限も付けてください: apt-get install $(pkg sudo)"
		else
			bad "$tool" "not found ($why)" "修正: 次を実行してください: sudo apt-get install $(pkg "$pkg")"
		fi
	done
}

# The CPU architecture: the steps are plain C for Linux; rootfs.sh picks
# the image or busybox of this architecture.
arch=$(uname -m)
check_arch() {
	case $arch in
	x86_64 | aarch64)
		ok arch "$arch" ;;
	*)
		bad arch "$arch: the workshop is made for x86_64 and aarch64 (arm64)" \
			"修正: x86_64 か aarch64 の Linux VM を用意してください (付録 A)" ;;
	esac
}

# WSL: WSL 1 has no Linux kernel (no namespaces, no cgroups); WSL 2 does.
wsl=no
check_wsl() {
	local rel
	rel=$(uname -r)
	case $rel in
	*microsoft-standard-WSL2* | *-WSL2)
		wsl=WSL2
		ok wsl "WSL 2 ($rel); the shell's cgroup is below: $(shell_cgroup)" ;;
	*[Mm]icrosoft*)
		wsl=WSL1
		bad wsl "WSL 1 ($rel): no Linux kernel, so no namespaces or cgroups" \
			"修正: PowerShell で wsl --set-version ディストリビューション名 2 を実行してください (付録 A)" ;;
	esac
}

# This shell's cgroup v2 path (0::PATH); WSL's newer builds put
# distributions under /wsl-user/..., so nothing may assume /.
shell_cgroup() {
	sed -n 's/^0:://p' "${WORKSHOP_PROC_CGROUP:-/proc/self/cgroup}" | head -n 1
}
check_shell_cgroup() {
	local path
	path=$(shell_cgroup)
	if [ -z "$path" ]; then
		warn "shell cgroup" "no cgroup v2 line (0::) in /proc/self/cgroup: cgroup v2 is not mounted"
	else
		ok "shell cgroup" "$path"
	fi
}

# The same rule as step05/06 (check_network): the container's /24 must not
# overlap any host address's network or any route but the default route and
# the local table's.
check_network() {
	local net=10.200.0 hit="" a line dst len
	if ! command -v ip >/dev/null; then
		row - network "not checked: needs ip (iproute2)"
		return
	fi
	overlaps() { # A/LEN overlaps 10.200.0.0/24: they agree on the shorter prefix
		local ip=${1%/*} len=${1#*/} o1 o2 o3 o4 n shorter mask
		[ "$len" != "$1" ] || len=32
		IFS=. read -r o1 o2 o3 o4 <<<"$ip"
		n=$(((o1 << 24) | (o2 << 16) | (o3 << 8) | ${o4:-0}))
		shorter=$((len < 24 ? len : 24))
		mask=$((shorter == 0 ? 0 : (0xffffffff << (32 - shorter)) & 0xffffffff))
		[ $(((n ^ (10 << 24 | 200 << 16)) & mask)) -eq 0 ]
	}
	while read -r a; do
		if overlaps "$a"; then
			hit="address $a"
			break
		fi
	done < <(ip -4 -o address show | awk '{ print $4 }')
	if [ -z "$hit" ]; then
		while read -r line; do
			[[ $line != *" table local "* ]] || continue
			read -r dst _ <<<"$line"
			case $dst in
			unicast | blackhole | unreachable | prohibit | throw | nat | anycast | multicast | local | broadcast)
				read -r _ dst _ <<<"$line" ;;
			esac
			[ "$dst" != default ] || continue
			len=${dst#*/}
			[ "$len" != "$dst" ] || dst+=/32
			if overlaps "$dst"; then
				hit="route $line"
				break
			fi
		done < <(ip -4 -o route show table all)
	fi
	if [ -z "$hit" ]; then
		ok network "$net.0/24 is free (steps 05-06 use it)"
	else
		bad network "$net.0/24 overlaps this host's $hit" \
			"修正: 第 8 章以降は --ip 10.201.0.2 のように空いている /24 を指定してください"
	fi
}

# The rootfs on a shared folder (9p, virtiofs, vboxsf, sshfs, SMB, NFS):
# mknod and chown fail there. Checked on the nearest existing directory.
check_rootfs_fs() {
	local dir=$rootfs type
	while [ ! -d "$dir" ] && [ "$dir" != / ]; do dir=$(dirname "$dir"); done
	type=$(fstype "$dir")
	case $type in
	v9fs | virtiofs | vboxsf | fuseblk | fuse | cifs | smb2 | nfs | *6a656a63* | *786f4256*)
		bad "rootfs fs" "$dir is on $type, a folder shared with another machine: mknod and chown fail there" \
			"修正: チェックアウトを VM 自身のディスク (例: ~/container-workshop) に置いてください (付録 A)" ;;
	*)
		ok "rootfs fs" "$dir is on $type" ;;
	esac
}

check_veth() {
	local fix
	fix="fix: sudo modprobe veth (module missing: the kernel needs CONFIG_VETH, e.g. sudo apt-get install $(pkg linux-image-amd64))"
	if [ "$is_root" -eq 1 ]; then
		# The real test, in a throwaway network namespace so the host is untouched.
		if unshare --net ip link add wsdoc0 type veth peer name wsdoc1 2>/dev/null; then
			ok veth "veth pairs can be created"
		else
			bad veth "cannot create a veth pair (ip link add ... type veth)" "$fix"
		fi
		return
	fi
	local config
	for config in /proc/config.gz "/boot/config-$(uname -r)"; do
		[ -r "$config" ] || continue
		if zgrep -q '^CONFIG_VETH=[ym]' "$config" 2>/dev/null; then
			ok veth "kernel has CONFIG_VETH ($config)"
			return
		fi
	done
	if [ -d /sys/module/veth ] || modprobe -n veth 2>/dev/null; then
		ok veth "veth module available"
		return
	fi
	skipped veth
}

check_tools() {
	if command -v gcc >/dev/null || command -v clang >/dev/null || command -v cc >/dev/null; then
		ok cc "$(command -v gcc || command -v clang || command -v cc)"
	else
		bad cc "no C compiler (gcc, clang, cc)" "fix: sudo apt-get install $(pkg gcc) $(pkg libc6-dev)"
	fi
	local tool pkg
	for tool in make:make ip:iproute2 bats:bats; do
		pkg=${tool#*:} tool=${tool%%:*}
		if command -v "$tool" >/dev/null; then
			ok "$tool" "$(command -v "$tool")"
		else
			bad "$tool" "not found" "fix: sudo apt-get install $(pkg "$pkg")"
		fi
	done
	if command -v podman >/dev/null; then
		ok "podman" "$(command -v podman) (rootfs.sh --from podman)"
	elif [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
		ok "busybox" "/bin/busybox, static (rootfs.sh --from busybox)"
	else
		bad "podman" "neither podman nor a static /bin/busybox to build the rootfs" \
			"fix: sudo apt-get install $(pkg busybox-static) (offline) or $(pkg podman)"
	fi
	if command -v tmux >/dev/null; then
		ok tmux "$(command -v tmux) (optional)"
	else
		warn tmux "not found (optional: split-screen demos)" "fix: sudo apt-get install $(pkg tmux)"
	fi
}

check_rootfs() {
	local fix="fix: sudo make rootfs (or: sudo $repo/rootfs.sh)"
	[ -z "${WORKSHOP_ROOTFS:-}" ] || fix="fix: sudo $repo/rootfs.sh $rootfs"
	if [ ! -e "$rootfs/bin/sh" ] && [ ! -L "$rootfs/bin/sh" ]; then
		bad rootfs "$rootfs/bin/sh missing" "$fix"
	elif [ ! -d "$rootfs/dev" ] || [ ! -d "$rootfs/proc" ]; then
		bad rootfs "$rootfs lacks dev/ or proc/ (the runtime mounts on them)" "$fix --force"
	else
		ok rootfs "$rootfs"
	fi
}

check_root
check_kernel
check_arch
check_wsl
check_namespaces
check_cgroup
check_shell_cgroup
check_veth
check_network
check_tools
check_commands
check_rootfs
check_rootfs_fs

# Which steps this host can run: 01-03 need the basics, 04 adds cgroup v2,
# 05-06 add veth.
has_failed() {
	local f want
	for f in "${failed[@]}"; do
		for want in "$@"; do
			[ "$f" != "$want" ] || return 0
		done
	done
	return 1
}
# The line to send to the instructor: one line a room of 30 can be triaged
# from in a chat channel.
send_line() {
	local status=OK
	[ ${#failed[@]} -eq 0 ] || status=NG
	printf 'preflight status=%s host=%s kernel=%s arch=%s wsl=%s cgroup=%s failed=%s will-not-work=%s\n' \
		"$status" "$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)" "$(uname -r)" "$arch" "$wsl" \
		"$(fstype /sys/fs/cgroup | sed 's/^cgroup2fs$/v2/; s/^tmpfs$/hybrid-or-v1/')" \
		"$(IFS=,; echo "${failed[*]:-none}" | tr ' ' '_')" "$1"
}
echo
if [ ${#failed[@]} -eq 0 ]; then
	echo "${green}all steps (01-06) work on this host${reset}"
	echo "send this line to the instructor (講師に送ってください):"
	send_line none
	exit 0
fi
if has_failed root kernel arch wsl namespaces cc make ip rootfs "rootfs fs"; then
	summary="no step works yet: fix the ✗ items above ($(printf '%s, ' "${failed[@]}" | sed 's/, $//'))"
	broken=all
elif has_failed "cgroup v2" subtree; then
	summary="steps 01-03 work on this host; steps 04-06 need cgroup v2"
	broken=steps04-06
	! has_failed veth || summary+=" and veth"
elif has_failed veth; then
	summary="steps 01-04 work on this host; steps 05-06 need veth"
	broken=steps05-06
else
	summary="steps 01-06 work on this host"
	broken=none
fi
! has_failed network || {
	summary+="; steps 05-06 need another --ip (10.200.0.0/24 is taken)"
	[ "$broken" != none ] || broken=default-ip
}
# Not needed by the steps themselves, but by the tests, the document and the rootfs build.
for f in bats podman sudo nc ping; do
	! has_failed "$f" || summary+="; missing $f"
done
echo "${red}${summary}${reset}"
echo "send this line to the instructor (講師に送ってください):"
send_line "$broken"
exit 1
