#!/usr/bin/env bash
# Build the root filesystem the workshop's containers run in.
set -euo pipefail

readonly DEFAULT_IMAGE=docker.io/library/alpine:3.20
# Required by the workshop steps; the busybox build fails without them.
readonly NEEDED_APPLETS="sh ps ip ping httpd nc wget dd hostname mount top cat sleep"

prog=${0##*/}
given_args="$*"
script_dir=$(cd "$(dirname "$0")" && pwd)

usage() {
	cat <<EOF
usage: $prog [--from podman|docker|busybox] [--image IMAGE] [--force] [DIR]
       $prog --archive FILE [--from podman|docker] [--image IMAGE] [--force] [DIR]

Build the container root filesystem into DIR (default: $script_dir/rootfs).

  --from podman   podman create + podman export of IMAGE (what the workshop teaches)
  --from docker   the same with docker
  --from busybox  offline: a minimal tree from Debian's busybox-static (/bin/busybox)
  (no --from)     podman if it has IMAGE or can pull it, else busybox
  --archive FILE  load IMAGE from FILE (made with podman save or docker save)
                  instead of pulling it: an instructor pulls once and hands out
                  FILE; without --image, the image named in FILE is used
  --image IMAGE   image for podman/docker (default: $DEFAULT_IMAGE,
                  or \$ROOTFS_IMAGE); without --from it means --from podman
  --force         replace DIR if it is not empty
  -h, --help      show this help

Needs root: the tree must keep root ownership, setuid bits and device nodes
from the image, and it is checked with chroot. The image (podman and docker
pull this machine's architecture) or busybox must be for this machine's
architecture ($(uname -m)): one for another is refused.
Environment: ROOTFS_IMAGE (default image), ROOTFS_PULL_TIMEOUT (seconds the
automatic choice waits for a pull, default 30), BUSYBOX (default /bin/busybox).
EOF
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

say() {
	echo "$prog: $*" >&2
}

from=""
image=""
archive=""
force=0
dir=""
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--from)
		[ $# -ge 2 ] || die "--from needs an argument (podman, docker or busybox)"
		from=$2
		shift 2
		;;
	--from=*)
		from=${1#--from=}
		shift
		;;
	--image)
		[ $# -ge 2 ] || die "--image needs an argument"
		image=$2
		shift 2
		;;
	--image=*)
		image=${1#--image=}
		shift
		;;
	--archive)
		[ $# -ge 2 ] || die "--archive needs an argument (a podman save tarball)"
		archive=$2
		shift 2
		;;
	--archive=*)
		archive=${1#--archive=}
		shift
		;;
	--force)
		force=1
		shift
		;;
	--)
		shift
		break
		;;
	-*)
		usage >&2
		exit 2
		;;
	*)
		[ -z "$dir" ] || die "only one DIR allowed (got '$dir' and '$1')"
		dir=$1
		shift
		;;
	esac
done
if [ $# -gt 1 ] || { [ $# -eq 1 ] && [ -n "$dir" ]; }; then
	die "only one DIR allowed"
fi
dir=${1:-$dir}

case $from in
"" | podman | docker | busybox) ;;
*) die "--from must be podman, docker or busybox (got '$from')" ;;
esac
if [ -n "$image" ]; then
	[ "$from" != busybox ] || die "--image does not apply to --from busybox"
	# An explicitly requested image must not be silently replaced by busybox.
	[ -n "$from" ] || from=podman
fi
if [ -n "$archive" ]; then
	[ "$from" != busybox ] || die "--archive does not apply to --from busybox"
	[ -n "$from" ] || from=podman
	if [ ! -f "$archive" ] || [ ! -r "$archive" ]; then
		die "--archive $archive: no such readable file"
	fi
fi
image_given=$image
image=${image:-${ROOTFS_IMAGE:-$DEFAULT_IMAGE}}

if [ "$(id -u)" -ne 0 ]; then
	die "needs root: the rootfs must keep the image's root-owned files, setuid bits and device nodes, and is checked with chroot. Run: sudo $0 $given_args"
fi

umask 022
dir=${dir:-$script_dir/rootfs}
dir=${dir%/}
[ -n "$dir" ] || die "refusing to use / as DIR"
parent=$(dirname "$dir")
[ -d "$parent" ] || die "parent directory $parent does not exist"
parent=$(cd "$parent" && pwd -P)
dir=${parent%/}/$(basename "$dir")
parent=$(dirname "$dir")
# A typo like `--force /usr` must not wipe a system directory.
[ "$parent" != / ] || die "refusing to use a top-level directory ($dir) as DIR"

# Anything mounted at or under DIR belongs to a running or crashed container;
# deleting the tree would reach into those mounts.
# shellcheck source=infra/mounts.bash
source "$script_dir/infra/mounts.bash"

if [ -e "$dir" ] || [ -L "$dir" ]; then
	if [ -L "$dir" ] || [ ! -d "$dir" ]; then
		die "$dir exists and is not a directory"
	fi
	if [ -n "$(mounts_under "$dir")" ]; then
		die "$dir has mounts under it (a running or crashed container?): stop it or run: sudo make reset"
	fi
	if [ -n "$(ls -A "$dir")" ] && [ "$force" -ne 1 ]; then
		die "$dir is not empty: use --force to replace it"
	fi
fi

# Build next to DIR (same filesystem) so the final rename is atomic and a
# failure never leaves a half-made DIR.
work=$(mktemp -d "$parent/.$(basename "$dir").tmp.XXXXXX")
new=$work/new
engine=""
cid=""
cleanup() {
	if [ -n "$cid" ]; then
		"$engine" rm -f "$cid" >/dev/null 2>&1 || say "could not remove $engine container $cid: $engine rm -f $cid"
	fi
	if [ -n "$work" ] && [ -d "$work" ]; then
		rm -rf --one-file-system "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints why the engine cannot provide the image; succeeds when it can.
engine_has_image() {
	local eng=$1 img=$2 timeout_s=$3 out
	if ! command -v "$eng" >/dev/null 2>&1; then
		echo "$eng is not installed"
		return 1
	fi
	if [ "$eng" = docker ] && ! out=$(docker info 2>&1 >/dev/null); then
		echo "the docker daemon is not reachable (${out##*$'\n'}); start it: systemctl start docker"
		return 1
	fi
	"$eng" image inspect "$img" >/dev/null 2>&1 && return 0
	say "$img is not present locally; pulling it with $eng"
	local cmd=("$eng" pull "$img")
	[ -z "$timeout_s" ] || cmd=(timeout "$timeout_s" "${cmd[@]}")
	if ! out=$("${cmd[@]}" 2>&1 >/dev/null); then
		echo "$eng cannot pull $img (offline or no registry reachable?): ${out##*$'\n'}"
		return 1
	fi
}

# This machine's architecture as image manifests name it (Go's GOARCH).
image_arch() {
	case $(uname -m) in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	*) uname -m ;;
	esac
}

# The machine an ELF file is for, as uname -m names it (e_machine, the
# 16-bit field at offset 18, little-endian as on both architectures).
elf_arch() {
	local machine
	machine=$(od -An -tu2 -j18 -N2 "$1" 2>/dev/null | tr -d ' ')
	case $machine in
	62) echo x86_64 ;;
	183) echo aarch64 ;;
	*) echo "e_machine ${machine:-?}" ;;
	esac
}

# Load the image from a podman/docker save tarball into the engine's
# storage; without --image, use the (first) image the tarball names.
load_archive() {
	local out name
	out=$("$engine" load -i "$archive" 2>&1) || die "$engine load -i $archive failed: ${out##*$'\n'}"
	name=$(sed -n 's/^Loaded image[^:]*: *//p' <<<"$out" | head -n 1)
	name=${name%%,*}
	if [ -z "$image_given" ]; then
		[ -n "$name" ] || die "$archive names no image: give one with --image"
		image=$name
	fi
	say "loaded $image from $archive"
}

from_engine() {
	engine=$1
	local why
	[ -z "$archive" ] || load_archive
	why=$(engine_has_image "$engine" "$image" "") || die "$why"
	# A tar made for another machine loads, and its programs fail later
	# with "Exec format error": refuse it here, saying what to get instead.
	local arch
	arch=$("$engine" image inspect --format '{{.Architecture}}' "$image" 2>/dev/null) || arch=''
	if [ -n "$arch" ] && [ "$arch" != "$(image_arch)" ]; then
		die "$image is for $arch, this machine is $(image_arch) ($(uname -m)): its programs cannot run here;" \
			"get the $(image_arch) one ($engine pull --arch $(image_arch) $image; for --archive, a tar saved after that)"
	fi
	# The container is never started: create only gives export a filesystem.
	cid=$("$engine" create "$image" /bin/sh) || die "$engine create $image failed"
	# --numeric-owner: keep the image's uids even where the host's names differ.
	"$engine" export "$cid" | tar -x --numeric-owner -C "$new" ||
		die "$engine export of $image failed"
	"$engine" rm "$cid" >/dev/null || die "$engine rm $cid failed"
	cid=""
}

from_busybox() {
	local bb=${BUSYBOX:-/bin/busybox} a applets path target
	[ -x "$bb" ] || die "$bb not found: sudo apt-get install busybox-static"
	[ "$(elf_arch "$bb")" = "$(uname -m)" ] ||
		die "$bb is built for $(elf_arch "$bb"), not for this machine ($(uname -m)): sudo apt-get install busybox-static"
	if ldd "$bb" >/dev/null 2>&1; then
		die "$bb is dynamically linked and cannot run inside the rootfs: sudo apt-get install busybox-static"
	fi
	# Listed once: grep -q on a live pipe would SIGPIPE busybox under pipefail.
	applets=$("$bb" --list)
	for a in $NEEDED_APPLETS; do
		grep -qx "$a" <<<"$applets" || die "$bb lacks the $a applet"
	done
	mkdir -p "$new"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,root,mnt,var/www}
	chmod 1777 "$new/tmp"
	chmod 0700 "$new/root"
	cp "$bb" "$new/bin/busybox"
	# Relative links so the tree also makes sense when inspected from the host.
	while read -r path; do
		case $path in
		*/*) ;;
		*) continue ;; # linuxrc: only for initrds
		esac
		[ "$path" != bin/busybox ] || continue
		case $path in
		bin/*) target=busybox ;;
		*/*/*) target=../../bin/busybox ;;
		*) target=../bin/busybox ;;
		esac
		ln -sf "$target" "$new/$path"
	done < <("$bb" --list-full)

	# "BusyBox v1.35.0 (Debian ...) multi-call binary." (no pipe into head:
	# busybox would die of SIGPIPE under pipefail).
	local version banner
	banner=$("$bb" 2>&1 || true)
	read -r _ version _ <<<"$banner"
	cat >"$new/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
	cat >"$new/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
EOF
	cat >"$new/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost
EOF
	echo workshop >"$new/etc/hostname"
	: >"$new/etc/resolv.conf"
	cat >"$new/etc/os-release" <<EOF
NAME="BusyBox workshop rootfs"
ID=busybox
VERSION_ID=${version#v}
PRETTY_NAME="BusyBox $version workshop rootfs (built by rootfs.sh)"
EOF
	echo '<h1>hello from inside the container</h1>' >"$new/var/www/index.html"
}

if [ -z "$from" ]; then
	if why=$(engine_has_image podman "$image" "${ROOTFS_PULL_TIMEOUT:-30}"); then
		from=podman
		say "using podman: $image is available"
	else
		from=busybox
		say "using busybox: $why"
	fi
fi

mkdir "$new"
case $from in
podman | docker) from_engine "$from" ;;
busybox) from_busybox ;;
esac

# The runtime mounts tmpfs on dev/ and proc on proc/, so they must exist.
mkdir -p "$new/dev" "$new/proc" "$new/sys" "$new/tmp"
[ -e "$new/bin/sh" ] || [ -L "$new/bin/sh" ] || die "the $from rootfs has no /bin/sh"
if ! out=$(chroot "$new" /bin/sh -c 'echo ok' 2>&1) || [ "$out" != ok ]; then
	die "/bin/sh does not run inside the new rootfs: $out"
fi

# Swap in the new tree; put the old one back if the swap fails half-way.
if [ -d "$dir" ]; then
	mv -T "$dir" "$work/old"
	if ! mv -T "$new" "$dir"; then
		mv -T "$work/old" "$dir"
		die "could not move the new rootfs to $dir"
	fi
else
	mv -T "$new" "$dir"
fi
say "rootfs from $from ready in $dir (chroot $dir /bin/sh works)"
