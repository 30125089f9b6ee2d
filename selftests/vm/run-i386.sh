#!/bin/sh
# Run one static i386 test program as /init of an initramfs, under a 32-bit
# kernel in QEMU (TCG), and count its TAP results like selftests/run.sh.
#
#   selftests/vm/run-i386.sh [--name LABEL] [-t TIMEOUT_S] BZIMAGE TEST
#
# BZIMAGE: a 32-bit kernel (scripts/build-kernel.sh -a i386).  TEST: a
# static i386 executable that prints TAP on the console and powers the
# guest off (selftests/spvm_i386_test).  Prints the console output, then
# "LABEL: N passed, N failed, N skipped", and appends "LABEL pass=N fail=N
# skip=N" to $MEMSPLICE_RESULTS if that names a file.  No result line at
# all (boot failure, panic), fewer results than the plan, or a guest still
# running at the timeout counts as one failure.  Exit status: 0 iff no
# failure.
set -eu

label=guest-i386
timeout_s=300
while [ $# -gt 0 ]; do
	case $1 in
	--name) label=$2; shift 2 ;;
	-t) timeout_s=$2; shift 2 ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || { echo "usage: $0 [--name LABEL] [-t TIMEOUT_S] BZIMAGE TEST" >&2; exit 2; }
kernel=$1 test=$2
[ -f "$kernel" ] || { echo "run-i386: $kernel: no kernel" >&2; exit 2; }
[ -x "$test" ] || { echo "run-i386: $test: not an executable" >&2; exit 2; }
command -v qemu-system-i386 >/dev/null ||
	{ echo "run-i386: qemu-system-i386 missing (scripts/deps.sh --guest)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-i386.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/root"
cp "$test" "$tmp/root/init"
(cd "$tmp/root" && echo init | cpio -o -H newc --quiet | gzip -1) >"$tmp/initrd.gz"

rc=0
timeout --foreground -k 5 "$timeout_s" qemu-system-i386 \
	-accel tcg -m 256M -nographic -no-reboot -no-user-config -net none \
	-kernel "$kernel" -initrd "$tmp/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet" </dev/null >"$tmp/console" 2>&1 || rc=$?
tr -d '\r' <"$tmp/console" | tee "$tmp/out"

counts=$(awk '
	/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; if ($0 ~ /# SKIP/) whole = 1 }
	/^not ok [0-9]+/ { f++; next }
	/^ok [0-9]+/ { if ($0 ~ /# [Ss][Kk][Ii][Pp]/) s++; else p++ }
	END {
		if (plan == "" ) f++
		else if (whole) s++
		else if (p + f + s < plan) f++
		printf "%d %d %d\n", p, f, s
	}' "$tmp/out")
set -- $counts
pass=$1 fail=$2 skip=$3
if [ "$rc" = 124 ]; then
	echo "# run-i386: timed out after ${timeout_s}s"
	fail=$((fail + 1))
fi
echo "$label: $pass passed, $fail failed, $skip skipped"
if [ -n "${MEMSPLICE_RESULTS-}" ]; then
	echo "$label pass=$pass fail=$fail skip=$skip" >>"$MEMSPLICE_RESULTS"
fi
[ "$fail" -eq 0 ]
