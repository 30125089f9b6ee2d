#!/bin/sh
# make check: every test, on this machine's kernel and in QEMU guests.
#
# Each guest runs what its kernel adds, not every method again.  The
# end-to-end suites run every case for every method where it runs ("the
# full pass"), and elsewhere only the cases whose path differs by method
# (the others are FULL_PASS_ONLY: selftests/lib/vtest.h).
#
#   host       every suite, every method the running kernel has (read and
#              the parasite on 6.18: PAGEMAP_SCAN, uffd-wp), in full
#   guest-6.1  Debian's 6.1 kernel: soft-dirty, the pagemap walk, criu,
#              the module built for it, swap.  The end-to-end suites with
#              read as the full pass (MEMSPLICE_TEST_FULL=read), the device
#              and the parasite for what differs; the parasite's and the
#              module's suites; lazy_test (criu lazy-pages and restore
#              --lazy-pages run there), its fault cases with read;
#              receive_test's and restore_test's criu cases
#   guest-6.12 Debian's 6.12 kernel: the module's post-6.1 API paths,
#              soft-dirty read through PAGEMAP_SCAN, uffd-wp under criu.
#              The module's suites, track_test, and dump, predump and
#              pipeline for what differs by method, on the device only
#              (MEMSPLICE_TEST_METHODS=device MEMSPLICE_TEST_FULL=none)
#   guest-patched  Debian's 6.12 source with kernel/patches/ (the syscall),
#              kernel/patches/proc-mem-splice/ (splice from /proc/PID/mem)
#              and kernel/patches/uffd-wp-thp/ (huge pages kept whole under
#              uffd-wp), built by scripts/build-kernel.sh: ~7 min the first
#              time, then cached outside the checkout (build/patched links
#              to it).  The end-to-end suites for what differs by method and
#              the splice_process_vm suites, lazy_test's migrations, on the
#              syscall and procmem only (MEMSPLICE_TEST_METHODS="syscall
#              procmem" MEMSPLICE_TEST_FULL=none: the device ran them on
#              6.12 and 6.1), track_test's huge-page cases
#              (MEMSPLICE_TEST_CASES=huge), the series' in-tree selftests
#              (selftests/mm); fails unless `memsplice check` finds the
#              syscall and procmem there (label guest-patched:syscall).
#   guest-i386 the series built for i386 (scripts/build-kernel.sh -a i386,
#              ~3 min the first time, then cached), booted with
#              selftests/spvm_i386_test as /init: 64-bit values that do
#              not fit a 32-bit kernel's unsigned long are refused, never
#              cut (selftests/vm/run-i386.sh; seconds).
#   fresh-root `make demo` as on a fresh machine: a clean clone in a
#              pristine Debian 12 root, then the Debian packages
#              installed there, the module dkms built loaded in two short
#              6.1 and 6.12 boots, the packages purged
#              (selftests/fresh-root.sh; 5-7 min).
#
# Tests that need what a kernel lacks (soft-dirty, the module, the
# syscall) skip themselves there.  Each stage's time (kernel builds
# included) goes to build/stages.txt and is printed in a table before the
# last line, "N passed, N failed, N skipped"; every case's time is in
# build/times-LABEL.txt (selftests/run.sh).
#
# Environment: MEMSPLICE_GUESTS="6.1 6.12 patched i386" (which guests; "" for
# none); MEMSPLICE_FRESH_ROOT=0 skips the fresh-root stage.
set -u
cd "$(dirname "$0")/.."
top=$PWD
results=$top/build/results.txt
stages=$top/build/stages.txt
mkdir -p build
rm -f "$results" "$stages" build/failed.txt build/times-*.txt
export MEMSPLICE_RESULTS="$results"
t_check=$(date +%s)
t_stage=$t_check
# the time since the last call (or the start) is STAGE's
staged() {
	local now
	now=$(date +%s)
	echo "$1 $((now - t_stage))" >>"$stages"
	t_stage=$now
}
# per test binary: a hang ends there (run.sh); under QEMU TCG dump_test takes
# ~4 min in a guest and freeze_test took ~10 min when one guest ran it for
# four methods (every run of it bounded at 10 s), so a tighter limit would
# judge speed, not hangs
export MEMSPLICE_TEST_TIMEOUT="${MEMSPLICE_TEST_TIMEOUT:-900}"
guests=${MEMSPLICE_GUESTS-6.1 6.12 patched i386}

# the suites of each stage (the header says why), as names of selftests/*
e2e="dump_test errors_test predump_test tree_test freeze_test footprint_test pipeline_test migrate_test"
module="spvm_abi_test spvm_stable_test spvm_wait_test spvm_populate_test spvm_review_test spvm_race_test spvm_fuzz"
host_suites="$e2e track_test sync_test store_test receive_test restore_test front_test parasite_test $module"
suites_61="$e2e parasite_test lazy_test receive_test restore_test front_test $module"
suites_612="dump_test predump_test pipeline_test track_test $module"
suites_patched="dump_test predump_test tree_test freeze_test footprint_test pipeline_test migrate_test lazy_test track_test $module"
# paths of the built ones
paths() {
	for t in "$@"; do
		[ ! -x "selftests/$t" ] || printf ' selftests/%s' "$t"
	done
}

expected="host"
selftests/run.sh --name host $(paths $host_suites)
staged host

for k in $guests; do
	if [ "$k" = i386 ]; then
		expected="$expected guest-i386"
		if scripts/build-kernel.sh -a i386 && make -s selftests/spvm_i386_test; then
			staged build-i386
			selftests/vm/run-i386.sh --name guest-i386 build/patched-i386/bzImage \
				selftests/spvm_i386_test
		else
			echo "check: the i386 kernel or test did not build: no guest-i386" >&2
		fi
		staged guest-i386
		continue
	fi
	# one version for the guest and its module (scripts/kver.sh)
	v=$k
	[ "$k" = patched ] || v=$(scripts/kver.sh "$k") || v=$k
	echo "check: guest-$k boots $v"
	kernel="-k $v" kmake="KVER=$v" extra="" probe=":" cases=
	case $k in
	6.1) run=$(paths $suites_61) methods= full=read ;;
	6.12) run=$(paths $suites_612) methods=device full=none ;;
	patched) run=$(paths $suites_patched) methods="syscall procmem" full=none cases=huge ;;
	*) echo "check: unknown guest '$k' (MEMSPLICE_GUESTS)" >&2; expected="$expected guest-$k"; continue ;;
	esac
	export MEMSPLICE_TEST_METHODS="$methods" MEMSPLICE_TEST_FULL="$full" MEMSPLICE_TEST_CASES="$cases"
	if [ "$k" = patched ]; then
		expected="$expected guest-patched guest-patched:syscall"
		if ! scripts/build-kernel.sh; then
			echo "check: the patched kernel did not build: no guest-patched" >&2
			staged build-patched
			continue
		fi
		staged build-patched
		kernel="-K build/patched/bzImage" kmake="KDIR=$top/build/patched/obj"
		extra="build/patched/selftests/splice_process_vm build/patched/selftests/proc-pid-mem-splice
			build/patched/selftests/uffd-wp-thp"
		# the syscall and the /proc/PID/mem splice must be found there, or
		# their variants would all skip
		probe='if user/memsplice check --method syscall >/dev/null 2>&1 &&
			user/memsplice check --method procmem >/dev/null 2>&1; then r="pass=1 fail=0";
			else echo "check: memsplice finds no syscall or procmem in the patched guest" >&2;
			r="pass=0 fail=1"; fi; echo "guest-patched:syscall $r skip=0" >>"$MEMSPLICE_RESULTS"'
	else
		expected="$expected guest-$k"
	fi
	mods=""
	# the module, built against this guest kernel's headers, where the device
	# is tested; the rmmod test reloads it from MEMSPLICE_SPVM_KO
	case " ${methods:-device} " in
	*" device "*)
		ko=$(make -s --no-print-directory -C kernel $kmake ko-path 2>/dev/null) &&
			make -s -C kernel $kmake W=1 >/dev/null && [ -f "$ko" ] && mods="-i $ko"
		[ -n "$mods" ] || echo "check: module not built for $k: its tests skip" >&2
		;;
	esac
	if [ -n "$mods" ]; then
		export MEMSPLICE_SPVM_KO="$ko"
	else
		unset MEMSPLICE_SPVM_KO
	fi
	# -t: a bound for a hung guest, not a speed limit (TCG)
	# its own complaints (a guest that stopped before its tests: why, and
	# the console's last lines) also go to failed.txt, for the log's end
	rc=0
	selftests/vm/run-guest.sh $kernel -t 2400 -o "$top/build" $mods -d "$top/build/dmesg-$k.txt" -- \
		"$probe;" selftests/run.sh --name "guest-$k" $run $extra 2>"$top/build/run-guest-$k.err" || rc=$?
	cat "$top/build/run-guest-$k.err" >&2
	case $rc in
	2 | 124 | 125)
		{
			echo "guest-$k run-guest.sh: exit $rc, its last lines:"
			tail -n 12 "$top/build/run-guest-$k.err" | sed 's/^/  /'
		} >>build/failed.txt
		;;
	esac
	if grep -Eq 'BUG:|WARNING:|Oops|general protection|leak' "$top/build/dmesg-$k.txt" 2>/dev/null; then
		echo "check: guest $k: the kernel log shows a problem:" >&2
		grep -E 'BUG:|WARNING:|Oops|general protection|leak' "$top/build/dmesg-$k.txt" | head -5 >&2
		echo "dmesg-$k pass=0 fail=1 skip=0" >>"$results"
	fi
	staged "guest-$k"
done
unset MEMSPLICE_TEST_METHODS MEMSPLICE_TEST_FULL

expected="$expected fresh-root"
selftests/fresh-root.sh
staged fresh-root
echo "total $(($(date +%s) - t_check))" >>"$stages"

exec selftests/summary.sh -t "$stages" "$results" $expected
