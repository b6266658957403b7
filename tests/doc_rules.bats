#!/usr/bin/env bats
# The document test's own rules, on small sample documents (DOC_FILE): the
# paste rule of the static check, and the terminal run's check that a block
# starts where its label says (tests/doc/README.md).
# The fenced blocks of the sample documents are literal text.
# shellcheck disable=SC2016

load helpers

# The sample documents live outside /tmp: natively terminal.sh runs in a
# sandbox with a /tmp of its own.
setup() {
	samples=$(mktemp -d /var/tmp/doc-rules.XXXXXX)
}

teardown() {
	rm -rf "$samples"
}

# sample NAME BODY: a one-chapter document with BODY, into $doc.
sample() {
	doc="$samples/$1.md"
	printf '# sample\n\n## 4. sample\n\n%s\n' "$2" >"$doc"
}

fence() { # fence TERM LABEL LINE...: a labelled command block
	local n=$1 label=$2
	shift 2
	printf '**ターミナル %s — %s**\n\n<!-- term: %s -->\n```bash\n' "$n" "$label" "$n"
	printf '%s\n' "$@"
	printf '```\n\n'
}

@test "doc rules: a line that starts a shell in the middle of a block is refused" {
	sample shell "$(fence 1 ホスト 'sudo unshare --mount /bin/bash' 'mount -t tmpfs tmpfs /mnt')"
	run env DOC_FILE="$doc" "$REPO/tests/doc/static.sh"
	[ "$status" -eq 1 ]
	grep -F 'sudo unshare --mount /bin/bash` starts a shell, so it must be the last line of its block' <<<"$output"
}

@test "doc rules: an exit followed by more lines is refused, and so is a block without a label" {
	sample exit "$(fence 1 '名前空間の中の bash' 'exit' 'echo back')
<!-- term: 1 -->
\`\`\`bash
echo unlabelled
\`\`\`"
	run env DOC_FILE="$doc" "$REPO/tests/doc/static.sh"
	[ "$status" -eq 1 ]
	grep -F '`exit` leaves a shell, so it must be the last line of its block' <<<"$output"
	grep -F 'a command block needs a label above it' <<<"$output"
}

@test "doc rules: the same blocks split at the shell pass the static check" {
	sample split "$(fence 1 'ホスト（この行で名前空間の中の bash に入る）' 'sudo unshare --mount /bin/bash')
$(fence 1 '名前空間の中の bash' 'mount -t tmpfs tmpfs /mnt' 'exit')"
	run env DOC_FILE="$doc" "$REPO/tests/doc/static.sh"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "doc rules: pasted as a sudo user, a block that runs elsewhere than its label says fails" {
	require_root
	command -v tmux >/dev/null || skip "tmux is not installed (make test installs it)"
	# The second block is labelled ホスト, but it runs in the bash that the
	# first one started.
	sample where "$(fence 1 'ホスト（この行で名前空間の中の bash に入る）' 'sudo unshare --mount /bin/bash')
$(fence 1 ホスト 'id -un')
$(fence 1 '名前空間の中の bash' 'exit')"
	run env DOC_FILE="$doc" "$REPO/tests/doc/terminal.sh"
	echo "$output"
	[ "$status" -eq 1 ]
	grep -F "the label says ホスト, but terminal 1 is in a shell started inside it" <<<"$output"
}

@test "doc rules: pasted as a sudo user, blocks run where their labels say, and a failure mid-block shows" {
	require_root
	command -v tmux >/dev/null || skip "tmux is not installed (make test installs it)"
	sample good "$(fence 1 ホスト 'id -un' 'sudo id -un')
<!-- output -->
\`\`\`text
doc-attendee
root
\`\`\`

$(fence 1 ホスト 'false' 'true')"
	run env DOC_FILE="$doc" "$REPO/tests/doc/terminal.sh"
	echo "$output"
	[ "$status" -eq 1 ]
	# The first block passed: the attendee is not root, and sudo works.
	grep -E '^ok +4\. sample: host state unchanged' <<<"$output"
	grep -F 'a command of the block failed (and the document shows no output for it): 1: false' <<<"$output"
}

@test "doc rules: a block pasted into dash (sudo sh), which reads it line by line, shows its own output" {
	require_root
	command -v tmux >/dev/null || skip "tmux is not installed (make test installs it)"
	sample dash "$(fence 2 'ホスト（この行で root の sh に入る）' 'sudo sh')
$(fence 2 'root の sh' 'echo one' 'cat /proc/self/cgroup >/dev/null' 'echo two')
<!-- output -->
\`\`\`text
one
two
\`\`\`

$(fence 2 'root の sh（この行でホストに戻る）' 'exit')"
	run env DOC_FILE="$doc" "$REPO/tests/doc/terminal.sh"
	echo "$output"
	[ "$status" -eq 0 ]
}
