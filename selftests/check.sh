#!/bin/sh
# make check: every test, on this machine's kernel and in QEMU guests.
#
#   host       the end-to-end and bad-input tests on the running kernel
#   guest-6.1  Debian's 6.1 kernel (soft-dirty, the module built for it)
#   guest-6.12 Debian's 6.12 kernel (the module's post-6.1 API paths)
#   guest-patched  Debian's 6.12 source with kernel/patches/ (the syscall),
#              built by scripts/build-kernel.sh: ~7 min the first time,
#              cached in build/patched/ afterwards.  The end-to-end suites
#              run there for the syscall method only (the other methods ran
#              in the stock guests: MEMSPLICE_TEST_METHODS=syscall), the
#              splice_process_vm suites in full.  Also runs the series'
#              in-tree selftest, and fails unless `memsplice check` finds
#              the syscall there (label guest-patched:syscall).
#   guest-i386 the series built for i386 (scripts/build-kernel.sh -a i386,
#              ~5 min the first time, cached in build/patched-i386/), booted
#              with selftests/spvm_i386_test as /init: 64-bit values that do
#              not fit a 32-bit kernel's unsigned long are refused, never
#              cut (selftests/vm/run-i386.sh; seconds).
#   fresh-root `make demo` as on a fresh machine: a clean clone in a
#              pristine Debian 12 root (selftests/fresh-root.sh; 3-6 min).
#
# Tests that need what a kernel lacks (soft-dirty, the module, the
# syscall) skip themselves there.  The last line is "N passed, N failed,
# N skipped".
#
# Environment: MEMSPLICE_GUESTS="6.1 6.12 patched i386" (which guests; "" for
# none); MEMSPLICE_FRESH_ROOT=0 skips the fresh-root stage.
set -u
cd "$(dirname "$0")/.."
top=$PWD
results=$top/build/results.txt
mkdir -p build
rm -f "$results"
export MEMSPLICE_RESULTS="$results"
# per test binary: a hang ends there (run.sh); under QEMU TCG dump_test takes
# ~4 min in a guest and freeze_test took ~10 min when one guest ran it for
# four methods (every run of it bounded at 10 s), so a tighter limit would
# judge speed, not hangs
export MEMSPLICE_TEST_TIMEOUT="${MEMSPLICE_TEST_TIMEOUT:-900}"
guests=${MEMSPLICE_GUESTS-6.1 6.12 patched i386}

e2e_tests="selftests/dump_test selftests/errors_test selftests/predump_test selftests/tree_test selftests/freeze_test selftests/footprint_test selftests/track_test selftests/pipeline_test selftests/migrate_test"
module_tests="selftests/spvm_abi_test selftests/spvm_stable_test selftests/spvm_wait_test selftests/spvm_populate_test selftests/spvm_review_test selftests/spvm_race_test selftests/spvm_fuzz"
parasite_tests="selftests/parasite_test"
tests=""
for t in $e2e_tests $parasite_tests $module_tests; do
	[ -x "$t" ] && tests="$tests $t"
done

expected="host"
selftests/run.sh --name host $tests

for k in $guests; do
	if [ "$k" = i386 ]; then
		expected="$expected guest-i386"
		if scripts/build-kernel.sh -a i386 && make -s selftests/spvm_i386_test; then
			selftests/vm/run-i386.sh --name guest-i386 build/patched-i386/bzImage \
				selftests/spvm_i386_test
		else
			echo "check: the i386 kernel or test did not build: no guest-i386" >&2
		fi
		continue
	fi
	kernel="-k $k" kmake="KVER=$k" extra="" probe=":" run=$tests
	unset MEMSPLICE_TEST_METHODS
	if [ "$k" = patched ]; then
		expected="$expected guest-patched guest-patched:syscall"
		if ! scripts/build-kernel.sh; then
			echo "check: the patched kernel did not build: no guest-patched" >&2
			continue
		fi
		kernel="-K build/patched/bzImage" kmake="KDIR=$top/build/patched/obj"
		extra=build/patched/selftests/splice_process_vm_test
		export MEMSPLICE_TEST_METHODS=syscall
		run=$(echo "$tests" | sed 's, *selftests/parasite_test,,')
		# the syscall must be found there, or its variants would all skip
		probe='if user/memsplice check --method syscall >/dev/null 2>&1; then r="pass=1 fail=0";
			else echo "check: memsplice finds no syscall in the patched guest" >&2;
			r="pass=0 fail=1"; fi; echo "guest-patched:syscall $r skip=0" >>"$MEMSPLICE_RESULTS"'
	else
		expected="$expected guest-$k"
	fi
	mods=""
	# the module, built against this guest kernel's headers; the rmmod test
	# reloads it from MEMSPLICE_SPVM_KO
	ko=$(make -s --no-print-directory -C kernel $kmake ko-path 2>/dev/null) &&
		make -s -C kernel $kmake W=1 >/dev/null && [ -f "$ko" ] && mods="-i $ko"
	if [ -n "$mods" ]; then
		export MEMSPLICE_SPVM_KO="$ko"
	else
		unset MEMSPLICE_SPVM_KO
		echo "check: module not built for $k: its tests skip" >&2
	fi
	# -t: a bound for a hung guest, not a speed limit (TCG)
	selftests/vm/run-guest.sh $kernel -t 2400 -o "$top/build" $mods -d "$top/build/dmesg-$k.txt" -- \
		"$probe;" selftests/run.sh --name "guest-$k" $run $extra
	if grep -Eq 'BUG:|WARNING:|Oops|general protection|leak' "$top/build/dmesg-$k.txt" 2>/dev/null; then
		echo "check: guest $k: the kernel log shows a problem:" >&2
		grep -E 'BUG:|WARNING:|Oops|general protection|leak' "$top/build/dmesg-$k.txt" | head -5 >&2
		echo "dmesg-$k pass=0 fail=1 skip=0" >>"$results"
	fi
done
unset MEMSPLICE_TEST_METHODS

expected="$expected fresh-root"
selftests/fresh-root.sh

exec selftests/summary.sh "$results" $expected
