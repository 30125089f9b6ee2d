#!/bin/bash
# make demo: the whole pipeline on a built-in workload.
#
#   1. a workload starts: 64 MiB of private memory filled with a known
#      pattern, a shared segment, a PROT_NONE region holding data, a
#      file-private mapping, two threads and a child process;
#   2. `memsplice checkpoint` pre-dumps it while it runs (DIR/1, DIR/2, ...),
#      then runs `criu dump --track-mem --prev-images-dir` on top (DIR/final),
#      which takes every unchanged page from memsplice's pre-dumps;
#   3. `criu restore -D DIR/final` brings the workload back, and each of its
#      processes checks every byte of its memory and says "ok".
#
# CRIU needs soft-dirty and a kernel it knows: when this machine's kernel
# cannot run it (this project's build machines run 6.18 without soft-dirty,
# and CRIU 3.17 refuses 6.18's vDSO), the pipeline runs in a QEMU guest
# booting Debian's 6.1 kernel (selftests/vm/run-guest.sh), and says so.
#
#   scripts/demo.sh            decide where, then run
#   scripts/demo.sh --here     run the pipeline on this kernel
set -eu
cd "$(dirname "$0")/.."
ms=./user/memsplice

if [ "${1-}" != --here ]; then
	echo "== memsplice check ($(uname -r))"
	$ms check || true
	if $ms check | grep -q '^soft-dirty *yes' && criu check >/dev/null 2>&1; then
		exec "$0" --here
	fi
	echo "== criu cannot run on this kernel (no soft-dirty, or criu check fails):"
	echo "   the pipeline runs in a QEMU guest with Debian's 6.1 kernel (TCG, ~10x slower)"
	exec selftests/vm/run-guest.sh -k 6.1 -t 600 -- "$0" --here
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/memsplice-demo.XXXXXX")
fifo=$dir/report
mkfifo "$fifo"
exec 4<>"$fifo"
pids=""
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT

# The workload is the test victim.  Its own session and stdio on /dev/null,
# so that criu dumps it without --shell-job; it reports on a FIFO, which
# criu restores too.
GLIBC_TUNABLES=glibc.pthread.rseq=0 setsid ./selftests/lib/victim --anon 16384 \
	--shared 256 --protnone 64 --file 64 --threads 2 --children 1 \
	3<>"$fifo" </dev/null >/dev/null 2>&1 &
disown
ready=0
while [ $ready -lt 4 ] && read -t 60 -r line <&4; do
	case $line in
	*thread*ready*) ready=$((ready + 1)) ;;
	*ready*) ready=$((ready + 1)); pids="$pids ${line%% *}" ;;
	esac
done
root=$(for p in $pids; do echo "$p"; done | sort -n | head -n 1)
echo "== workload: processes$pids, root $root (it keeps running)"

echo "== memsplice checkpoint -t $root -D $dir/ckpt"
mkdir "$dir/ckpt"
$ms checkpoint -t "$root" -D "$dir/ckpt"
echo "== images: $(ls "$dir/ckpt" | tr '\n' ' ')"
echo "== criu's final dump took these from memsplice's pre-dumps (pagemap of $root):"
$ms show "$dir/ckpt/final" | grep -A1000 "^task $root:" | grep -m1 'entries:'

echo "== criu restore -D $dir/ckpt/final -d"
criu restore -D "$dir/ckpt/final" -d -o restore.log ||
	{ echo "demo: criu restore failed: see its log:" >&2; tail -n 20 "$dir/ckpt/final/restore.log" >&2; exit 1; }
for p in $pids; do
	kill -USR1 "$p"
	while read -t 60 -r line <&4 || { echo "demo: restored process $p does not answer" >&2; exit 1; }; do
		case $line in
		"$p ok") echo "   restored process $p checked its whole memory: ok"; break ;;
		"$p bad"*) echo "demo: restored process $p: $line" >&2; exit 1 ;;
		esac
	done
done
echo "== done: pre-dumps by memsplice, final dump and restore by criu, memory intact"
