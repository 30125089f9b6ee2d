#!/bin/sh
# make demo: a built-in workload, pre-dumped twice, then dumped, then shown.
#
# The workload is the test victim: 64 MiB of private memory filled with a
# known pattern, a shared segment, a PROT_NONE region holding data, two
# threads and a child.  On kernels with soft-dirty the second pre-dump and
# the dump only write what changed (--track-mem); elsewhere (this project's
# build machines) they write everything and say so.
set -eu
cd "$(dirname "$0")/.."
ms=./user/memsplice
dir=$(mktemp -d /tmp/memsplice-demo.XXXXXX)
fifo=$dir/report
mkfifo "$fifo"

GLIBC_TUNABLES=glibc.pthread.rseq=0 ./selftests/lib/victim --anon 16384 --shared 256 \
	--protnone 64 --threads 2 --children 1 3>"$fifo" &
victim=$!
exec 4<"$fifo"
# wait until the workload says it is ready (parent, child, two threads)
ready=0
while [ $ready -lt 4 ] && read -r line <&4; do
	case $line in *ready*) ready=$((ready + 1)) ;; esac
done
cleanup() {
	pkill -9 -P $victim 2>/dev/null || true
	kill -9 $victim 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

track=""
if $ms check | grep -q '^soft-dirty *yes'; then
	track=--track-mem
else
	echo "demo: no soft-dirty on this kernel: every pass writes everything"
fi

mkdir "$dir/pre1" "$dir/pre2" "$dir/final"
echo "== memsplice check"
$ms check || true
echo "== pre-dump 1 (workload $victim keeps running)"
$ms pre-dump -t $victim -D "$dir/pre1" $track --display-stats
kill -USR2 $victim	# the workload writes every 4th page of its 64 MiB
while read -r line <&4; do case $line in *dirtied*) break ;; esac; done
echo "== pre-dump 2 (parent: pre1)"
$ms pre-dump -t $victim -D "$dir/pre2" --prev-images-dir ../pre1 $track --display-stats
echo "== dump (parent: pre2), the workload is killed afterwards, as criu does"
$ms dump -t $victim -D "$dir/final" --prev-images-dir ../pre2 $track --display-stats
echo "== memsplice show $dir/final (first lines)"
$ms show "$dir/final" | head -n 40
echo "== images: $(ls "$dir/final" | tr '\n' ' ')"
