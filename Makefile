# Container runtime workshop: build the steps, prepare the rootfs, run the tests.
# See README.md; `make help` lists the targets.

SHELL := /bin/bash
CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS := -Wall -Wextra -Werror

STEPS := $(sort $(wildcard step0[1-9]_*))
NEWEST := $(lastword $(STEPS))

.PHONY: all help $(foreach s,$(STEPS),$(firstword $(subst _, ,$(s)))) \
	diff rootfs doctor run test test-vm test-ci-vm test-ci-vm-doc test-arm64 reset status clean bench bench-vm deps

all: $(addsuffix /run,$(STEPS))

help:
	@echo "make                build every step (stepNN_x/run)"
	@echo "make step03         build one step"
	@echo "make diff STEP=03   show what step03 adds to step02 (OUTLINE=1: its new functions)"
	@echo "sudo make rootfs    prepare rootfs/ (./rootfs.sh)"
	@echo "sudo make doctor    check this machine's prerequisites"
	@echo "sudo make run       build, prepare rootfs/, start $(NEWEST) with a shell (STEP=03: another)"
	@echo "sudo make test      run the test suite (bats)"
	@echo "sudo make vm-shell  a shell in a cgroup v2 VM, for hosts without cgroup v2"
	@echo "sudo make test-vm   run the test suite in a cgroup v2 VM"
	@echo "sudo make test-doc  type the document's commands in tmux (cgroup v2 VM)"
	@echo "sudo make test-ci-vm  (CI) one VM boot: the cgroup v2 bats files and exercise checks"
	@echo "sudo make test-ci-vm-doc  (CI) another: the doc chapters a native run skips, two exercise checks"
	@echo "sudo make test-arm64  the steps, cross-compiled, in an aarch64 VM (Apple Silicon)"
	@echo "make doc-time       attendee-minutes per chapter of the document (PLAN=1: the run-of-show)"
	@echo "sudo make bench     start latency of each step next to unshare, runc, crun"
	@echo "sudo make bench-vm  the same in the cgroup v2 VM (steps 04-06; ratios)"
	@echo "sudo make status    list what the chapters and crashed runs left on this host"
	@echo "sudo make reset     remove what crashed runs left behind"
	@echo "sudo make deps      install the packages (GOALS=\"$(DEPS_GOALS)\"; see infra/packages.sh)"
	@echo "make exercise STEP=05        exercises/step05_veth/main.c: step05 with TODOs (FORCE=1: anew)"
	@echo "sudo make check-exercise STEP=05  build it, run step05's tests on it, a hint per failure"
	@echo "make hint STEP=05            the next hunk of step05's diff (RESET=1: from the first)"
	@echo "make solution STEP=05        the answer: the same as make diff STEP=05"
	@echo "make clean          remove the built programs"

%/run: %/main.c
	$(CC) $(CFLAGS) $(WARNINGS) -o $@ $<

# A static test helper, so that it runs inside any rootfs; and a shim that
# tests preload into a runtime on the host.
TEST_HELPERS := tests/helpers/chroot_escape tests/helpers/no_cgroup_kill.so
tests/helpers/%.so: tests/helpers/%.c
	$(CC) $(CFLAGS) $(WARNINGS) -shared -fPIC -o $@ $<
tests/helpers/%: tests/helpers/%.c
	$(CC) $(CFLAGS) $(WARNINGS) -static -o $@ $<

# step01 -> step01_pid/run, and so on for every step directory.
$(foreach s,$(STEPS),$(eval $(firstword $(subst _, ,$(s))): $(s)/run))

# What stepNN adds to the step before it (infra/step_diff.sh): STEP=2 is
# STEP=02; OUTLINE=1 lists the new functions instead; a pager on a terminal.
diff:
	@infra/step_diff.sh "$(STEP)" "$(OUTLINE)"

# Targets that need packages install the missing ones first (infra/packages.sh:
# the one package list; apt-get, saying which and why), then build in a
# sub-make, so that nothing is built or made half-way when apt-get fails.
PACKAGES = infra/packages.sh install --label "make $@"
# The sub-make's goal: one, so that make says no "Nothing to be done for
# 'all'" when everything is built.
.PHONY: .prereqs .prereqs-test
.prereqs: all rootfs
.prereqs-test: all rootfs $(TEST_HELPERS)

# What `sudo make deps` installs: the document's commands and the test suite.
DEPS_GOALS := doc test
GOALS ?= $(DEPS_GOALS)
deps:
	@infra/packages.sh install --label "make deps" $(GOALS)

rootfs:
	@if [ -e rootfs/bin/sh ]; then echo "rootfs/ is ready (rebuild: ./rootfs.sh --force)"; \
	else $(PACKAGES) rootfs && ./rootfs.sh; fi

doctor:
	@infra/doctor.sh

# The newest step, or STEP=03 for another; steps 04-06 need cgroup v2, so a
# host without it gets the newest step it can run, and is told why.
run:
	@$(PACKAGES) run
	@$(MAKE) --no-print-directory .prereqs
	@if [ -n "$(STEP)" ]; then step=$$(ls -d step$(STEP)_*); \
	elif [ "$$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then step=$(NEWEST); \
	else step=$$(ls -d step03_*); echo "no cgroup v2 on this host: starting $$step (see sudo make doctor)" >&2; fi; \
	echo "./$$step/run" >&2; exec "./$$step/run"

# -T: each test's duration, to see where the time goes (the VM is slow).
test:
	@$(PACKAGES) test
	@$(MAKE) --no-print-directory .prereqs-test
	bats -T tests/

# tests/deps.bats checks the package list and its installer, nothing of the
# kernel, so it runs natively only: in the TCG VM each exec costs seconds
# and that file alone took minutes.
VM_TESTS = $(filter-out tests/deps.bats,$(wildcard tests/*.bats))
test-vm:
	@$(PACKAGES) test-vm
	@$(MAKE) --no-print-directory .prereqs-test
	VM_TIMEOUT=$${VM_TIMEOUT:-3600} tests/vm/run-in-vm.sh bats -T $(VM_TESTS)

# An interactive root shell in the same cgroup v2 VM, with this checkout in
# it, for hosts without cgroup v2 (chapter 7, steps 04-06; 付録 A.2). The
# steps are built here first: a compile is slow in a VM without KVM.
.PHONY: vm-shell
vm-shell:
	@$(PACKAGES) run vm
	@$(MAKE) --no-print-directory all
	@tests/vm/run-in-vm.sh --shell

# The workshop document typed into tmux as a learner would, checked against
# its output blocks, in the cgroup v2 VM (tests/doc/README.md).
.PHONY: test-doc
test-doc:
	@$(PACKAGES) test-doc
	@$(MAKE) --no-print-directory .prereqs-test
	tests/vm/run-in-vm.sh tests/doc/run.sh

# What .ci/run adds to the native runs (make test, tests/doc/run.sh), in two
# VM boots (tests/vm/suite.sh), which .ci/run starts one after the other and
# runs side by side once the native stages are done (each VM keeps about one
# core busy). test-ci-vm: the tests tagged vm (`# bats file_tags=vm` or
# `test_tags=vm`): those that need cgroup v2, and those whose code takes
# another path with it (faults.bats runs step06 there, step03 elsewhere;
# signals.bats adds steps 04-06 there; bench, doctor and reset tests that
# look at the cgroup setup); then the exercise mode's checks of steps 04-06
# (tests/exercise/ci-vm.sh) but two. test-ci-vm-doc: the document's chapters
# that a native run on this host skips (tests/doc/terminal.sh --vm-chapters:
# chapters, or the sections of a chapter from where the native run stops),
# and those two, step04's and step05's tests against the step before: they
# even out the two VMs (the first starts about 8 minutes before the second).
# Every other test passes natively. .ci/run checks that every test and every
# section of the document ran unskipped in one place at least.
VM_CI_TESTS = --filter-tags vm $(VM_TESTS)
.PHONY: test-ci-vm test-ci-vm-doc
test-ci-vm:
	@infra/packages.sh install --label "make $@" test-vm
	@$(MAKE) --no-print-directory .prereqs-test
	@# The exercise copies are built here, natively: a compile costs seconds in the VM.
	for step in 04 05 06; do tests/exercise/guard.sh $$step --build $(CURDIR)/.exercise-ci || exit 1; done
	VM_TIMEOUT=$${VM_TIMEOUT:-3600} tests/vm/run-in-vm.sh \
		tests/vm/suite.sh --exercise --built $(CURDIR)/.exercise-ci --prev 06 $(VM_CI_TESTS)
test-ci-vm-doc:
	@infra/packages.sh install --label "make $@" test-vm test-doc
	@$(MAKE) --no-print-directory .prereqs-test
	doc=$$(tests/doc/terminal.sh --vm-chapters) && \
	VM_TIMEOUT=$${VM_TIMEOUT:-3600} tests/vm/run-in-vm.sh \
		tests/vm/suite.sh --exercise --prev '04 05' --guard '' --doc "$$doc"

# The steps on aarch64, the CPU of Apple Silicon's Linux VMs: cross-compiled
# statically, run in a qemu-system-aarch64 VM with Debian's arm64 kernel and
# busybox (tests/arm64/run.sh): each step's core behaviour, not the suite.
.PHONY: test-arm64
test-arm64:
	@infra/packages.sh install --label "make $@" arm64
	tests/arm64/run.sh

status:
	@infra/reset.sh --status

reset:
	@infra/reset.sh

# Attendee-minutes per chapter of the workshop document (infra/doc_time.sh).
.PHONY: doc-time
# PLAN=1: the run-of-show tables (4 and 3 hours) that 時間配分 and
# infra/instructor_ja.md show.
doc-time:
	@infra/doc_time.sh $(if $(filter 1,$(PLAN)),--plan)

clean:
	rm -f $(addsuffix /run,$(STEPS)) $(TEST_HELPERS)
	rm -rf .exercise-ci

# The exercise mode (infra/exercise.sh; the document's 付録 M): a copy of a
# step with its new feature's functions as TODO stubs, in exercises/ (ignored
# by git), checked by that step's own tests. STEP=5 or STEP=05.
.PHONY: exercise check-exercise hint solution
EXERCISE = CC="$(CC)" CFLAGS="$(CFLAGS)" FORCE="$(FORCE)" RESET="$(RESET)" VERBOSE="$(VERBOSE)" infra/exercise.sh
exercise:
	@$(EXERCISE) new "$(STEP)"
check-exercise:
	@$(PACKAGES) test
	@$(MAKE) --no-print-directory .prereqs-test
	@$(EXERCISE) check "$(STEP)"
hint:
	@$(EXERCISE) hint "$(STEP)"
solution:
	@$(EXERCISE) solution "$(STEP)"

# Start latency of every step next to unshare, runc and crun (infra/bench.sh).
# bench-vm measures steps 04-06 in a cgroup v2 VM (TCG: ratios, not times);
# it takes BENCH_N only when given explicitly, else the smaller BENCH_VM_N.
BENCH_N ?= 200
BENCH_VM_N ?= $(if $(filter command line environment,$(origin BENCH_N)),$(BENCH_N),50)
bench:
	@$(PACKAGES) bench
	@$(MAKE) --no-print-directory .prereqs
	infra/bench.sh -n $(BENCH_N) $(BENCH_FLAGS)

bench-vm:
	@$(PACKAGES) bench-vm
	@$(MAKE) --no-print-directory .prereqs
	tests/vm/run-in-vm.sh infra/bench.sh -n $(BENCH_VM_N) $(BENCH_FLAGS)
