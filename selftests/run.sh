#!/bin/sh
# Run kselftest-harness binaries one after the other and count their cases.
#
#   selftests/run.sh [--name LABEL] TEST_BINARY...
#
# Each binary's TAP output (stderr merged in, to keep the order) goes
# through unchanged. Per case:
#   "ok N ..."               pass (TAP: any "ok" is not a failure, so a
#                            "# XFAIL" directive counts as a pass)
#   "ok N ... # SKIP ..."    skip
#   "not ok N ..."           fail
# A binary that times out, crashes or exits non-zero (other than kselftest's
# KSFT_XFAIL 2 / KSFT_SKIP 4) without printing any "not ok" adds one failure,
# so does one that prints fewer results than its "1..N" plan. A binary that
# exits KSFT_SKIP without reporting any case counts as one skip.
#
# At the end prints "LABEL: N passed, N failed, N skipped" and, if
# $MEMSPLICE_RESULTS names a file, appends "LABEL pass=N fail=N skip=N" to it
# for selftests/summary.sh. In a guest (selftests/vm/run-guest.sh) that file
# must lie in a directory shared writable with -o DIR.
#
# With $MEMSPLICE_RESULTS, every failure also goes to failed.txt beside that
# file, "LABEL BINARY CASE: DIAGNOSTIC" a line (the case's last "# " line
# before its "not ok", or why run.sh counted the binary failed), which
# summary.sh prints before its last line: the end of a CI log says which.
#
# Each binary's time is printed after it ("# run.sh: BIN: N s"); with
# $MEMSPLICE_RESULTS, every case's time (from the previous result line, or
# the binary's start, to its own, so set-up counts too) goes to
# times-LABEL.txt beside that file, "SECONDS BINARY CASE" a line, so the
# next change sees what each case costs.
#
# Environment: MEMSPLICE_TEST_TIMEOUT per-binary timeout in seconds (300).
# Exit status: 0 iff no failure.
set -eu

label=selftests
if [ "${1-}" = --name ]; then
	[ $# -ge 2 ] || { echo "run.sh: --name needs a LABEL" >&2; exit 2; }
	label=$2
	shift 2
fi
[ $# -ge 1 ] || { echo "usage: $0 [--name LABEL] TEST_BINARY..." >&2; exit 2; }
case $label in
*[!A-Za-z0-9._:/+-]*) echo "run.sh: LABEL may not contain spaces or '='" >&2; exit 2 ;;
esac
timeout_s=${MEMSPLICE_TEST_TIMEOUT:-300}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run.sh.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0 skip=0
times=/dev/null failed=/dev/null
if [ -n "${MEMSPLICE_RESULTS-}" ]; then
	times=$(dirname "$MEMSPLICE_RESULTS")/times-$label.txt
	failed=$(dirname "$MEMSPLICE_RESULTS")/failed.txt
	: >"$times" || { echo "run.sh: cannot write $times" >&2; exit 1; }
fi
# one failure, for summary.sh: BINARY WHY
failure() {
	echo "$label $1: $2" >>"$failed"
}
start=$(date +%s)
# mawk fills its whole input buffer from the pipe before it looks at a line
# (unless -W interactive): a result would be timed when a later case's output
# fills the buffer, and the time of the cases in between put on the first
# result read.  (busybox awk and gawk read what the pipe holds.)
awk_opts=
if awk -W version 2>/dev/null | grep -q '^mawk'; then
	awk_opts='-W interactive'
fi

for bin in "$@"; do
	case $bin in */*) ;; *) bin=./$bin ;; esac
	if [ ! -x "$bin" ]; then
		echo "# run.sh: $bin: not an executable file"
		failure "${bin#./}" "not an executable file"
		fail=$((fail + 1))
		continue
	fi
	# POSIX sh has no PIPESTATUS: the binary's status goes through a file.
	{
		rc=0
		timeout -k 10 "$timeout_s" "$bin" 2>&1 || rc=$?
		echo "$rc" >"$tmp/rc"
	} | awk $awk_opts -v counts="$tmp/counts" -v times="$times" -v failed="$failed" \
		-v label="$label" -v bin="${bin#./}" '
		function now(   t) { "date +%s" | getline t; close("date +%s"); return t }
		function timed(   t) {
			t = now()
			printf "%d %s %s\n", t - last, bin, name >> times; fflush(times); last = t
		}
		BEGIN { last = now() }
		{ print; fflush() }
		/^# +RUN +/ { name = $3; diag = "" }
		/^# / && !/^# +(RUN|OK|FAIL) +/ { diag = substr($0, 3) }
		/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0 }
		/^not ok [0-9]+/ {
			f++; timed()
			printf "%s %s %s: %s\n", label, bin, name, substr(diag, 1, 300) >> failed
			fflush(failed)
			next
		}
		/^ok [0-9]+/ { if ($0 ~ /# [Ss][Kk][Ii][Pp]/) s++; else p++; timed() }
		END { printf "%d %d %d %d\n", p, f, s, plan > counts }'
	read -r p f s plan <"$tmp/counts"
	rc=$(cat "$tmp/rc")
	seen=$((p + f + s))
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "# run.sh: $bin: timed out after ${timeout_s}s (MEMSPLICE_TEST_TIMEOUT)"
		failure "${bin#./}" "timed out after ${timeout_s}s"
		[ "$f" -gt 0 ] || f=1
	elif [ "$rc" = 4 ] && [ "$seen" = 0 ]; then
		echo "# run.sh: $bin: skipped as a whole (exit 4)"
		s=1
	elif [ "$rc" != 0 ] && [ "$rc" != 2 ] && [ "$rc" != 4 ] && [ "$f" = 0 ]; then
		echo "# run.sh: $bin: exit status $rc without a failing case"
		failure "${bin#./}" "exit status $rc without a failing case"
		f=1
	elif [ "$seen" -lt "$plan" ] && [ "$f" = 0 ]; then
		echo "# run.sh: $bin: $seen of $plan planned results"
		failure "${bin#./}" "$seen of $plan planned results"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	now=$(date +%s)
	echo "# run.sh: $bin: $((now - start)) s"
	start=$now
done

if [ -n "${MEMSPLICE_RESULTS-}" ]; then
	echo "$label pass=$pass fail=$fail skip=$skip" >>"$MEMSPLICE_RESULTS" ||
		{ echo "run.sh: cannot append to $MEMSPLICE_RESULTS" >&2; exit 1; }
fi
echo "$label: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
