#!/usr/bin/env bats
# infra/cloud-init.yaml: valid cloud-init user-data whose packages are exactly
# infra/packages.sh's goal "doc" under Ubuntu's names.

load helpers

FILE="$BATS_TEST_DIRNAME/../infra/cloud-init.yaml"

@test "cloud-init: starts with #cloud-config and parses as YAML" {
	[ "$(head -n 1 "$FILE")" = "#cloud-config" ]
	if python3 -c 'import yaml' 2>/dev/null; then
		run -0 python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert isinstance(d, dict), d; assert d["package_update"] is True; assert all(isinstance(p, str) for p in d["packages"]); print(len(d["packages"]))' "$FILE"
		[ "$output" -gt 0 ]
	else
		# A strict check of our own: comments, two keys, then "  - name" lines only.
		# shellcheck disable=SC2016 # an awk program
		run -0 awk 'NR > 1 && !/^#/ && !/^package_update: true$/ && !/^packages:$/ && !/^  - [a-z0-9.+-]+$/ { print NR ": " $0; bad = 1 } END { exit bad }' "$FILE"
	fi
}

@test "cloud-init: its packages are infra/packages.sh's for the document, Ubuntu's names" {
	printf 'ID=ubuntu\nID_LIKE=debian\n' >"$BATS_TEST_TMPDIR/os-release"
	local want have
	want=$(WORKSHOP_OS_RELEASE="$BATS_TEST_TMPDIR/os-release" "$REPO/infra/packages.sh" list doc)
	have=$(sed -n 's/^  - //p' "$FILE")
	[ -n "$want" ]
	if [ "$have" != "$want" ]; then
		diff <(echo "$want") <(echo "$have") || true
		return 1
	fi
}
