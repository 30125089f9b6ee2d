#!/bin/sh
# make check: every test, on this machine's kernel and in QEMU guests.
#
#   host       the end-to-end and bad-input tests on the running kernel
#   guest-6.1  Debian's 6.1 kernel (soft-dirty, the module built for it)
#   guest-6.12 Debian's 6.12 kernel (the module's post-6.1 API paths)
#
# Tests that need what a kernel lacks (soft-dirty, the module) skip
# themselves there.  The last line is "N passed, N failed, N skipped".
#
# Environment: MEMSPLICE_GUESTS="6.1 6.12" (which guests; "" for none).
set -u
cd "$(dirname "$0")/.."
top=$PWD
results=$top/build/results.txt
mkdir -p build
rm -f "$results"
export MEMSPLICE_RESULTS="$results"
guests=${MEMSPLICE_GUESTS-6.1 6.12}

e2e_tests="selftests/dump_test selftests/errors_test selftests/predump_test"
module_tests="selftests/spvm_abi_test selftests/spvm_fuzz"
parasite_tests="selftests/parasite_test"
tests=""
for t in $e2e_tests $parasite_tests $module_tests; do
	[ -x "$t" ] && tests="$tests $t"
done

expected="host"
selftests/run.sh --name host $tests

for k in $guests; do
	mods=""
	# the module, built against this guest kernel's headers; the rmmod test
	# reloads it from MEMSPLICE_SPVM_KO
	ko=$(make -s --no-print-directory -C kernel KVER="$k" ko-path 2>/dev/null) &&
		make -s -C kernel KVER="$k" W=1 >/dev/null && [ -f "$ko" ] && mods="-i $ko"
	if [ -n "$mods" ]; then
		export MEMSPLICE_SPVM_KO="$ko"
	else
		echo "check: module not built for $k: its tests skip" >&2
	fi
	expected="$expected guest-$k"
	selftests/vm/run-guest.sh -k "$k" -o "$top/build" $mods -d "$top/build/dmesg-$k.txt" -- \
		selftests/run.sh --name "guest-$k" $tests
	if grep -Eq 'BUG:|WARNING:|Oops|general protection|leak' "$top/build/dmesg-$k.txt" 2>/dev/null; then
		echo "check: guest $k: the kernel log shows a problem:" >&2
		grep -E 'BUG:|WARNING:|Oops|general protection|leak' "$top/build/dmesg-$k.txt" | head -5 >&2
		echo "dmesg-$k pass=0 fail=1 skip=0" >>"$results"
	fi
done

exec selftests/summary.sh "$results" $expected
