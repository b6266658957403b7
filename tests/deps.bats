#!/usr/bin/env bats
# infra/packages.sh, the one package list: what `sudo make run`, `make test`
# and the others install, in which distribution's names, and what they say
# when they cannot. A fake apt-get on PATH records its calls: nothing here
# installs anything. And no file that tells a learner what to install names
# a package that the list does not have.

load helpers
load nobody

setup() {
	require_root
	BIN="$BATS_TEST_TMPDIR/bin"
	LOG="$BATS_TEST_TMPDIR/apt.log"
	mkdir -p "$BIN"
	PKGS="$REPO/infra/packages.sh"
}

# An apt-get that logs its arguments; `install` fails when APT_FAILS is set,
# else it "installs" clang, tmux and wget by putting a command into $BIN.
fake_apt() {
	cat >"$BIN/apt-get" <<-END
		#!/bin/sh
		echo "\$*" >>"$LOG"
		case " \$* " in
		*" install "*)
			[ -z "\${APT_FAILS:-}" ] || { echo "E: Unable to fetch some archives" >&2; exit 100; }
			for p in "\$@"; do
				case \$p in
				clang|tmux|wget) printf '#!/bin/sh\n' >"$BIN/\$p" && chmod +x "$BIN/\$p" ;;
				esac
			done ;;
		esac
	END
	chmod +x "$BIN/apt-get"
}

# The commands the scripts under test run, and every command the list checks
# for: what a PATH of our own must offer.
setup_file() {
	TOOLS="bash sh env id grep awk sort chmod setpriv $(grep -o 'cmd:[^ ]*' "$BATS_TEST_DIRNAME/../infra/packages.sh" | cut -c5- | tr '\n' ' ')"
	export TOOLS
}

# Make $BIN a PATH of its own with links to this machine's $TOOLS but the
# ones given (the list also looks in the sbin directories), and the fake
# apt-get. A few links, not all of /usr/bin: the VM's 9p is slow.
hide() {
	local c keep=() targets=()
	for c in $TOOLS; do
		[[ " $* " == *" $c "* ]] || keep+=("$c")
	done
	# type -P: the paths of those found, in one go.
	mapfile -t targets < <(type -P "${keep[@]}")
	ln -s "${targets[@]}" "$BIN/"
	fake_apt
}

os_release() {
	printf '%s\n' "$@" >"$BATS_TEST_TMPDIR/os-release"
	export WORKSHOP_OS_RELEASE="$BATS_TEST_TMPDIR/os-release"
}

# hide needs the real command first, to be able to take it away.
need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || {
			echo "$c is not installed: run the suite with sudo make test, which installs it" >&2
			return 1
		}
	done
}

@test "deps: after make test installed them, nothing is missing and nothing is installed" {
	run -0 "$PKGS" missing test
	[ "$output" = "" ] || {
		echo "missing for make test (run the suite with: sudo make test): $output"
		return 1
	}
	fake_apt
	PATH="$BIN:$PATH" run -0 "$PKGS" install --label "make test" test
	[ "$output" = "" ]
	[ ! -e "$LOG" ]
}

@test "deps: installs only what is missing, saying which and why" {
	need clang tmux wget
	hide clang tmux wget
	PATH="$BIN" run -0 "$PKGS" install --label "make test" test
	[ "$output" = "make test: installing clang (clang build check), tmux (terminal tests), wget (HTTP checks)" ]
	grep -qx -- '-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 -qq update' "$LOG"
	grep -qx -- '-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 -qq -y install clang tmux wget' "$LOG"
	[ "$(wc -l <"$LOG")" -eq 2 ]
	# Now all is there: a second run does nothing.
	: >"$LOG"
	PATH="$BIN" run -0 "$PKGS" install --label "make test" test
	[ "$output" = "" ]
	[ ! -s "$LOG" ]
}

@test "deps: apt-get failing: names the packages and the command, exits 1, builds nothing" {
	need clang
	hide clang
	APT_FAILS=1 PATH="$BIN" run -1 "$PKGS" install --label "make test" test
	[[ $output == *"make test: installing clang (clang build check)"* ]]
	[[ $output == *"make test: apt-get could not install clang (offline, or no package source reachable?)"* ]]
	[[ $output == *"  sudo apt-get update && sudo apt-get install -y clang"* ]]

	# Through make: it stops before building anything.
	local copy="$BATS_TEST_TMPDIR/repo" s
	mkdir "$copy"
	mkdir "$copy/infra"
	cp "$REPO/Makefile" "$copy/"
	cp "$REPO/infra/packages.sh" "$copy/infra/"
	for s in "$REPO"/step0[1-9]_*; do
		mkdir "$copy/${s##*/}"
		cp "$s/main.c" "$copy/${s##*/}/"
	done
	APT_FAILS=1 PATH="$BIN" run -2 make -C "$copy" test
	[[ $output == *"make test: apt-get could not install clang"* ]]
	[ -z "$(find "$copy" -name run)" ]
	[ ! -e "$copy/rootfs" ]
}

@test "deps: not root: the sudo message, before apt-get is called" {
	need clang
	hide clang
	PATH="$BIN" run -1 as_nobody "$PKGS" install --label "make run" test
	[ "$output" = "make run: needs root, to install clang and to run: sudo make run" ]
	[ ! -e "$LOG" ]
}

# lacks TEXT LINE: TEXT has no line LINE (a function: a bare `! cmd` never
# fails a test).
lacks() {
	! grep -qx -- "$2" <<<"$1"
}

@test "deps: names per distribution, from /etc/os-release" {
	os_release 'ID=debian' 'VERSION_ID="12"'
	run -0 "$PKGS" list test-vm
	grep -qx linux-image-amd64 <<<"$output"
	lacks "$output" linux-image-generic
	lacks "$output" zstd # Debian's modules are not compressed

	os_release 'ID=ubuntu' 'ID_LIKE=debian' 'VERSION_ID="24.04"'
	run -0 "$PKGS" list test-vm
	grep -qx linux-image-generic <<<"$output"
	grep -qx zstd <<<"$output" # Ubuntu's modules are .ko.zst
	lacks "$output" linux-image-amd64
	run -0 "$PKGS" name linux-image-amd64
	[ "$output" = linux-image-generic ]

	# A derivative goes by ID_LIKE.
	os_release 'ID=linuxmint' 'ID_LIKE="ubuntu debian"'
	run -0 "$PKGS" name linux-image-amd64
	[ "$output" = linux-image-generic ]
	os_release 'ID=raspbian' 'ID_LIKE=debian'
	run -0 "$PKGS" name linux-image-amd64
	[ "$output" = linux-image-amd64 ]
}

@test "deps: an unknown distribution gets the list of what is missing and no apt-get call" {
	need clang
	hide clang
	os_release 'ID=fedora' 'VERSION_ID=41'
	PATH="$BIN" run -1 "$PKGS" install --label "make test" test
	[[ $output == *"make test: missing: clang (clang build check)"* ]]
	[[ $output == *"not Debian or Ubuntu (ID fedora), so nothing was installed"* ]]
	[ ! -e "$LOG" ]
}

@test "deps: make run needs the build and the rootfs; test-vm and test-doc add the VM's packages" {
	run -0 "$PKGS" list run
	[ "$(tr '\n' ' ' <<<"$output")" = "make gcc libc6-dev busybox-static podman " ]
	local goal
	for goal in test-vm test-doc; do
		run -0 "$PKGS" list "$goal"
		grep -qx qemu-system-x86 <<<"$output"
		grep -qx cpio <<<"$output"
		grep -qx kmod <<<"$output"
		grep -qx busybox-static <<<"$output"
	done
	grep -qx tmux <<<"$output" # test-doc's
	run -2 "$PKGS" list no-such-goal
	[[ $output == *"unknown goal 'no-such-goal'"* ]]
}

# The package names after "apt-get install" (options skipped) on each line of
# stdin, one a line. A name ends at a space, a backtick, a quote or ")", the
# command at ; & | or >;
# "..." (a placeholder in prose) and "$(pkg NAME)" (doctor's look-up in the
# list, checked apart) are not names.
apt_names() {
	grep -o 'apt-get install[^`")]*' | sed -e 's/^apt-get install//' -e 's/[;&|>].*//' | tr ' ' '\n' |
		grep -v -e '^-' -e '^\.\.\.$' -e '^\$' | grep . || true
}

# Fails, naming them, when a name is not in the list ($KNOWN: its names).
all_in_list() {
	local where=$1 names=$2 n bad=()
	while read -r n; do
		[ -n "$n" ] || continue
		grep -qxF -- "$n" <<<"$KNOWN" || bad+=("$n")
	done <<<"$names"
	[ ${#bad[@]} -eq 0 ] || {
		echo "$where names packages that infra/packages.sh does not have: ${bad[*]}"
		return 1
	}
}

# The 前提条件 chapter of the document, up to the next chapter.
prerequisites() {
	awk '/^## 2\. 前提条件/ { on = 1; next } /^## / { on = 0 } on' "$REPO/infra/container_runtime_ja.md"
}

# The first column of its package table (the one headed パッケージ).
package_table() {
	prerequisites | awk '/^\| パッケージ \|/ { on = 1; next } on && !/^\|/ { exit } on' |
		grep -v '^| ---' | cut -d'|' -f2 | grep -o "\`[^\`]*\`" | tr -d "\`"
}

@test "deps: README, the document's 前提条件, doctor, tests/vm and .ci/run name only packages of the list" {
	local f names
	KNOWN=$("$PKGS" names)
	# The check itself must catch a stranger.
	run all_in_list test "$(printf 'make\nno-such-package\n')"
	[ "$status" -eq 1 ] && [[ $output == *no-such-package* ]]

	all_in_list README.md "$(apt_names <"$REPO/README.md")"
	# The document: its install lines and the package table's first column.
	prerequisites >"$BATS_TEST_TMPDIR/prereq"
	names=$(apt_names <"$BATS_TEST_TMPDIR/prereq")
	[ -n "$names" ]
	all_in_list "the document's 前提条件" "$names"
	names=$(package_table)
	[ -n "$names" ]
	all_in_list "the document's package table" "$names"
	# doctor's fix lines take their names through its pkg function.
	names=$(grep -o '(pkg "\?[a-z0-9.+-]*' "$REPO/infra/doctor.sh" | sed 's/^(pkg "\?//' | grep . || true)
	[ -n "$names" ]
	all_in_list infra/doctor.sh "$names"
	for f in infra/doctor.sh tests/vm/run-in-vm.sh .ci/run; do
		all_in_list "$f" "$(apt_names <"$REPO/$f")"
	done
}

@test "deps: the document installs exactly the list's packages for it, README only make" {
	prerequisites >"$BATS_TEST_TMPDIR/prereq"
	local want
	want=$(WORKSHOP_OS_RELEASE=/dev/null "$PKGS" list doc | sort)
	# The install line of its code block, and its table.
	[ "$(grep '^sudo apt-get install' "$BATS_TEST_TMPDIR/prereq" | apt_names | sort)" = "$want" ]
	[ "$(package_table | sort)" = "$want" ]
	[ "$(apt_names <"$REPO/README.md" | sort -u)" = make ]
	# .ci/run installs through the list (make deps), not a list of its own.
	grep -q '^make -s deps GOALS=ci' "$REPO/.ci/run"
}
