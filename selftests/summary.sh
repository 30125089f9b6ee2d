#!/bin/sh
# Sum the "LABEL pass=N fail=N skip=N" lines selftests/run.sh appended to
# RESULTS_FILE and print one final line for CI's test counter:
#
#   selftests/summary.sh [-t STAGES_FILE] RESULTS_FILE [EXPECTED_LABEL...]
#   -> N passed, N failed, N skipped
#
# -t: first a table of the "STAGE SECONDS" lines of STAGES_FILE (check.sh's
# stage times), in minutes and seconds.  Then the failures run.sh wrote to
# failed.txt beside RESULTS_FILE, a line each, so that the end of a log
# names them.
#
# Nothing is printed after that line; problems go to stderr before it.
# A missing or empty RESULTS_FILE, an unreadable line and every
# EXPECTED_LABEL without a line (a run that never reported, e.g. a guest that
# panicked) each count as one failure. Exit status: 0 iff nothing failed.
set -eu

usage="usage: $0 [-t STAGES_FILE] RESULTS_FILE [EXPECTED_LABEL...]"
if [ "${1-}" = -t ]; then
	[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
	if [ -s "$2" ]; then
		echo "stage times:"
		awk '{ printf "  %-16s %3d min %02d s\n", $1, $2 / 60, $2 % 60 }' "$2"
	fi
	shift 2
fi
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }
file=$1
shift
# which stages failed, then which cases, as far as run.sh could tell
failed=$(dirname "$file")/failed.txt
if grep -Eq '^[^ ]+ pass=[0-9]+ fail=[1-9]' "$file" 2>/dev/null || [ -s "$failed" ]; then
	echo "failed:"
	awk '$3 ~ /^fail=[1-9]/ { printf "  %s: %d\n", $1, substr($3, 6) }' "$file" 2>/dev/null
	[ ! -s "$failed" ] || sed 's/^/    /' "$failed"
fi

if [ ! -s "$file" ]; then
	echo "summary: $file: missing or empty: no test run reported" >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

awk -v expected="$*" '
	BEGIN { n = split(expected, want, " ") }
	$2 ~ /^pass=[0-9]+$/ && $3 ~ /^fail=[0-9]+$/ && $4 ~ /^skip=[0-9]+$/ && NF == 4 {
		p += substr($2, 6); f += substr($3, 6); s += substr($4, 6)
		seen[$1] = 1
		next
	}
	{ printf "summary: %s:%d: unreadable line: %s\n", FILENAME, FNR, $0 > "/dev/stderr"; f++ }
	END {
		for (i = 1; i <= n; i++) if (!(want[i] in seen)) {
			printf "summary: no results from %s: counted as a failure\n", want[i] > "/dev/stderr"
			f++
		}
		fflush("/dev/stderr")
		printf "%d passed, %d failed, %d skipped\n", p, f, s
		exit f > 0
	}' "$file"
