#!/bin/sh
# make bench: pre-dump benchmarks, medians of 5, tools side by side.
#   host:      this kernel (6.18): memsplice's methods available here; the
#              ways to copy another process's memory that need no kernel
#              change (bench/alternatives: process_vm_readv or /proc/PID/mem,
#              then write, mmap or send, MSG_ZEROCOPY; the source vmsplicing
#              itself), natively; the ways that need the patched kernel say
#              n/a
#   guest-6.1: Debian's 6.1 under QEMU TCG (~10x slower than native: read
#              the ratios, not the absolute times), with CRIU 3.17 read and
#              splice modes on the same victims, and the module when built;
#              the same on a 64 GiB sparse mapping and on 1 GiB with every
#              other page written (4 GiB on the host: the guest has 4 GiB);
#              then the pipeline: two pre-dumps by each tool and criu dump
#              --track-mem on top (bench -P: what criu took from the chain,
#              its frozen time); then the same tools pre-dumping to `criu
#              page-server` on loopback (bench -S: MiB/s, CPU time, peak RSS);
#              pre-dump rounds by tracker (bench/rounds: soft-dirty only here);
#              then the end of a migration between two network namespaces,
#              criu's ways and memsplice's, pre-copy and post-copy (bench/lazy:
#              downtime, time until every page is there, memory pinned at
#              the source, its CPU time; 8 GiB: three copies of 1 GiB at once)
#   guest-6.12: the rounds with every tracker (soft-dirty, its pagemap walk,
#              uffd-wp) on one kernel; then on a victim in huge pages and
#              one with an idle shared segment (-V thp, -V shared; 12 GiB:
#              the trackers that write all of it every pass need the room
#              in the guest's tmpfs).
#   guest-patched: the same two on the patched kernel, which keeps huge
#              pages whole under uffd-wp (kernel/patches/uffd-wp-thp/);
#              and the syscall, copying (the default) and with SPVM_PIN,
#              beside splice from /proc/PID/mem, the module, read, the
#              parasite and CRIU 3.17's read and splice modes: pre-dumps to
#              a file, then to `criu page-server` on loopback; then every way
#              of bench/alternatives, splice_process_vm's and the splice
#              from /proc/PID/mem among them, and sendfile from
#              /proc/PID/mem on a source below 2 GiB (-l: /proc's
#              s_maxbytes refuses it above).
# Every guest runs with ERMS and FSRM off (run-guest.sh's -c default): under
# TCG `rep movsb` costs a step per byte, which would make write(2) look
# twice as expensive as a splice copy.
# Environment: MEMSPLICE_BENCH_SIZES (MiB, default 64,1024), MEMSPLICE_BENCH_RUNS (5),
# MEMSPLICE_BENCH_SOCKET_RUNS (3: a 1 GiB run to a socket takes ~20 s under TCG),
# MEMSPLICE_BENCH_PIPELINE_SIZES (MiB, default 64,256), MEMSPLICE_BENCH_LAZY_RUNS (3).
set -eu
cd "$(dirname "$0")/.."
sizes=${MEMSPLICE_BENCH_SIZES:-64,1024}
runs=${MEMSPLICE_BENCH_RUNS:-5}
sruns=${MEMSPLICE_BENCH_SOCKET_RUNS:-3}
psizes=${MEMSPLICE_BENCH_PIPELINE_SIZES:-64,256}
methods="memsplice:read memsplice:device memsplice:parasite"

echo "== host $(uname -r)"
bench/bench -n "$runs" -s "$sizes" $methods
# memsplice's frozen time and peak RSS against the target's shape
bench/bench -n "$runs" -V sparse -s 64,65536 $methods
bench/bench -n "$runs" -V fragmented -s 64,4096 $methods
# pre-dump rounds by tracker: frozen time, the victim's stalls, pages per pass
trackers="uffd-wp soft-dirty soft-dirty:walk criu"
bench/rounds -n "$runs" -s 64,1024 $trackers
bench/rounds -n "$runs" -V sparse -s 65536 $trackers
# huge pages and shared memory: pages per pass, huge pages kept
bench/rounds -n "$runs" -V thp -s 256,1024 uffd-wp uffd-wp:keep
bench/rounds -n "$runs" -V shared -s 256,1024 uffd-wp
# another process's memory to a file and to a socket without a kernel change
# (issue 21: what splice_process_vm has to beat), natively
bench/alternatives -n "$runs" -s 1024
bench/alternatives -n 3 -s 1024 -d /var/tmp readv-write readv-mmap procmem-write

mods=""
if [ -f kernel/Makefile ] && ko=$(make -s --no-print-directory -C kernel KVER=6.1 ko-path 2>/dev/null) &&
	make -s -C kernel KVER=6.1 >/dev/null && [ -f "$ko" ]; then
	mods="-i $ko"
fi
echo "== guest 6.1 (QEMU TCG)"
selftests/vm/run-guest.sh -k 6.1 -M 4G -t 3000 $mods -- \
	bench/bench -n "$runs" -s "$sizes" $methods criu:read criu:splice \; \
	bench/bench -n "$runs" -V sparse -s 64,65536 $methods criu:read criu:splice \; \
	bench/bench -n "$runs" -V fragmented -s 64,1024 $methods criu:read criu:splice \; \
	bench/bench -P -n "$runs" -s "$psizes" $methods criu:read criu:splice \; \
	bench/bench -S -n "$sruns" -s "$sizes" $methods criu:read criu:splice \; \
	bench/rounds -n "$runs" -s 64,1024 $trackers \; \
	bench/rounds -n "$runs" -V sparse -s 65536 $trackers

echo "== guest 6.1 (QEMU TCG): the end of a migration, pre-copy and post-copy"
selftests/vm/run-guest.sh -k 6.1 -M 8G -t 3000 $mods -- \
	bench/lazy -n "${MEMSPLICE_BENCH_LAZY_RUNS:-3}" -s 256,1024 criu criu-lazy ms ms-lazy ms-hybrid \
	ms-ps ms-receive ms-restore ms-lazy-restore

echo "== guest 6.12 (QEMU TCG): every tracker on one kernel"
selftests/vm/run-guest.sh -k 6.12 -M 12G -t 3000 -- \
	bench/rounds -n "$runs" -s 64,1024 $trackers \; \
	bench/rounds -n "$runs" -V sparse -s 65536 $trackers \; \
	bench/rounds -n 3 -p 4 -V thp -s 256,1024 uffd-wp uffd-wp:keep soft-dirty soft-dirty:walk \; \
	bench/rounds -n 3 -p 4 -V shared -s 256,1024 uffd-wp soft-dirty soft-dirty:walk

echo "== guest patched (the syscall: kernel/patches/ on 6.12, a minimal config with CRIU's needs)"
if scripts/build-kernel.sh; then
	pmods=""
	pko=$(make -s --no-print-directory -C kernel KDIR="$PWD/build/patched/obj" ko-path 2>/dev/null) &&
		make -s -C kernel KDIR="$PWD/build/patched/obj" >/dev/null && [ -f "$pko" ] &&
		pmods="-i $pko"
	selftests/vm/run-guest.sh -K build/patched/bzImage -M 12G -t 3000 $pmods -- \
		bench/rounds -n 3 -p 4 -V thp -s 256,1024 uffd-wp soft-dirty \; \
		bench/rounds -n 3 -p 4 -V shared -s 256,1024 uffd-wp soft-dirty \; \
		bench/bench -n "$runs" -s "$sizes" memsplice:syscall memsplice:syscall:pin \
			memsplice:procmem $methods criu:read criu:splice \; \
		bench/bench -S -n "$sruns" -s "$sizes" memsplice:syscall memsplice:syscall:pin \
			memsplice:procmem $methods criu:read criu:splice \; \
		bench/alternatives -n "$runs" -s 1024 \; \
		bench/alternatives -n "$runs" -s 1024 -l procmem-send procmem-sendfile
fi
