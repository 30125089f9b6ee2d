#!/bin/bash
# Build the kernel the third test guest boots: Debian's linux-source-6.12
# with the splice_process_vm series (kernel/patches/), the /proc/PID/mem
# splice series (kernel/patches/proc-mem-splice/) and the async uffd-wp
# THP series (kernel/patches/uffd-wp-thp/) applied (the last two x86_64
# only) and a minimal
# configuration for selftests/vm/run-guest.sh -K (virtio-pci and 9p built
# in, no module needed to boot).  -s 6.1 builds the 6.1 backport instead
# (linux-source-6.1 with kernel/patches/backport-6.1/).  -a i386 builds a
# 32-bit kernel with an initramfs-only configuration instead, for
# selftests/vm/run-i386.sh (no modules, no selftest, no 9p).
#
#   scripts/build-kernel.sh [-s 6.12|6.1] [-a x86_64|i386] [-o OUTDIR] [-j JOBS] [-f]
#
#   -s SERIES  6.12 (default): the series; 6.1: the backport
#   -a ARCH    x86_64 (default) or i386
#   -o OUTDIR  where everything goes (default: the cache, below, linked
#              as build/patched for 6.12, build/patched-6.1 for 6.1, with
#              -i386 appended for i386):
#                bzImage        the kernel to boot
#                selftests/     the series' in-tree selftests, built against
#                               the patched kernel's uapi headers:
#                               selftests/mm's splice_process_vm and
#                               uffd-wp-thp, selftests/proc's
#                               proc-pid-mem-splice
#                obj/           the O= build directory: KDIR for out-of-tree
#                               modules (make -C kernel KDIR=OUTDIR/obj)
#                src/           the patched source tree obj/ refers to
#                config         the .config used; build.log the full log
#   -j JOBS    parallel jobs (default: the number of CPUs)
#   -f         rebuild even if the cache is valid
#
# The result is cached under the key sha256(this script, which holds the
# configuration list; every patch applied, that is every patch with a diff,
# not the cover letters; the source tarball's size and date).  Without -o
# it lives outside the checkout, in $MEMSPLICE_CACHE/kernel/NAME-KEY
# (MEMSPLICE_CACHE defaults to /var/cache/memsplice), so that every clone
# on the machine, CI's among them, shares it; build/NAME links to it, and
# the two newest builds of each NAME are kept.  When the build for the key
# exists (OUTDIR/key matches), nothing is done (about 0.1 s).  Otherwise the build
# starts from scratch: unpack (~15 s), patch, tinyconfig + the list below,
# check that every listed symbol ended up =y, `make bzImage modules` (~6
# min on 2 CPUs; i386: bzImage only, ~5 min), headers, selftest.
# Two builds never run at once: a second caller waits for the first (flock).
#
# Environment: KERNEL_SOURCE=PATH overrides the tarball
# (/usr/src/linux-source-SERIES.tar.xz).  Packages: scripts/deps.sh --guest.
set -euo pipefail

me=build-kernel
die() { echo "$me: $*" >&2; exit 1; }
top=$(cd "$(dirname "$0")/.." && pwd -P)
out=
series_name=6.12
arch=x86_64
jobs=$(nproc)
force=0
while getopts s:a:o:j:fh opt; do
	case $opt in
	s) series_name=$OPTARG ;;
	a) arch=$OPTARG ;;
	o) out=$OPTARG ;;
	j) jobs=$OPTARG ;;
	f) force=1 ;;
	*) sed -n '2,/^set -euo/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || die "unexpected argument '$1' (-h for help)"
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "-j wants a positive number"

case $arch in
x86_64) suffix= ;;
i386) suffix=-i386 ;;
*) die "-a wants x86_64 or i386" ;;
esac
case $series_name in
6.12) patches=$top/kernel/patches name=patched$suffix ;;
6.1) patches=$top/kernel/patches/backport-6.1 name=patched-6.1$suffix ;;
*) die "-s wants 6.12 or 6.1" ;;
esac
tarball=${KERNEL_SOURCE:-/usr/src/linux-source-$series_name.tar.xz}

# The configuration: tinyconfig plus these, each of which must end up =y.
# Boot and console, the initramfs, 9p over virtio-pci for the host root
# (run-guest.sh -K), what the tests use (soft-dirty, pagemap, THP,
# userfaultfd, seccomp and /proc/PID/ns/net for the parasite, AF_UNIX,
# pipe-max-size through sysctl, memfd_secret), modules for the out-of-tree
# device, the system call itself, and what CRIU 3.17 needs to dump and
# restore the test victims and to migrate them between two network
# namespaces (namespaces, cgroups, fhandle, inotify/fanotify, socket diag,
# tun, veth, and the "inet" nftables table its kernel probe creates, hence
# IPv6), and fork events (the proc connector) for the uffd-wp tracker's
# shared memory, as distribution kernels have them.  Left out to keep the build near 8 minutes on 2 CPUs: ACPI (so
# QEMU's second CPU is not found: the guest has one), swap, block devices.
config_syms="
64BIT SMP PRINTK BUG TTY SERIAL_8250 SERIAL_8250_CONSOLE UNIX98_PTYS
BINFMT_ELF BINFMT_SCRIPT BLK_DEV_INITRD RD_GZIP KERNEL_GZIP
PROC_FS PROC_SYSCTL SYSFS DEVTMPFS DEVTMPFS_MOUNT SHMEM TMPFS HUGETLBFS
FUTEX EPOLL SIGNALFD TIMERFD EVENTFD AIO FILE_LOCKING MULTIUSER POSIX_TIMERS
HIGH_RES_TIMERS ADVISE_SYSCALLS RSEQ MEMBARRIER SYSVIPC KALLSYMS
SECCOMP SECCOMP_FILTER NAMESPACES NET_NS
CROSS_MEMORY_ATTACH CHECKPOINT_RESTORE MEM_SOFT_DIRTY USERFAULTFD
TRANSPARENT_HUGEPAGE PROC_PAGE_MONITOR
NET UNIX INET PCI PCI_MSI VIRTIO_MENU VIRTIO VIRTIO_PCI
NET_9P NET_9P_VIRTIO 9P_FS
MODULES MODULE_UNLOAD SLUB
EXPERT SPLICE_PROCESS_VM SECRETMEM
UTS_NS IPC_NS PID_NS USER_NS TIME_NS CGROUPS FHANDLE INOTIFY_USER FANOTIFY
PACKET PACKET_DIAG UNIX_DIAG INET_DIAG INET_TCP_DIAG INET_UDP_DIAG NETLINK_DIAG
NETDEVICES NET_CORE TUN VETH NETFILTER NF_TABLES IPV6 NF_TABLES_INET
CONNECTOR PROC_EVENTS
"
# Must not be =y: tinyconfig's picks in the choices made above (compression,
# allocator), what EXPERT would turn on for nothing here, and EMBEDDED (6.1's
# tinyconfig sets it, and it turns SECRETMEM off).
config_off="KERNEL_XZ SLOB VT INPUT ETHTOOL_NETLINK EMBEDDED"
# i386: what selftests/spvm_i386_test needs as /init of an initramfs
# (console, ELF, devtmpfs, pidfd and pipes, alarm() for the harness) and
# the system call.
if [ "$arch" = i386 ]; then
	config_syms="
PRINTK BUG TTY SERIAL_8250 SERIAL_8250_CONSOLE BINFMT_ELF BLK_DEV_INITRD RD_GZIP
KERNEL_GZIP PROC_FS SYSFS DEVTMPFS MULTIUSER POSIX_TIMERS FUTEX SHMEM
EXPERT SPLICE_PROCESS_VM
"
	config_off="KERNEL_XZ SLOB VT INPUT EMBEDDED 64BIT"
fi

[ -r "$tarball" ] || die "$tarball: not found (scripts/deps.sh installs linux-source)"
[ -d "$patches" ] || die "$patches: no patch series"
for t in make gcc flex bison bc cpio perl xz sha256sum flock; do
	command -v "$t" >/dev/null || die "$t not installed (scripts/deps.sh --guest)"
done
[ -e /usr/include/libelf.h ] || die "libelf-dev not installed (scripts/deps.sh --guest)"

# The patches that are applied: those with a diff (not the cover letters).
# The /proc/PID/mem and THP series are not needed by the i386 guest nor
# carried on 6.1.
dirs=("$patches")
[ "$series_name/$arch" != 6.12/x86_64 ] || dirs+=("$patches/proc-mem-splice" "$patches/uffd-wp-thp")
series=()
for d in "${dirs[@]}"; do
	for p in "$d"/*.patch; do
		[ -e "$p" ] || die "no patches in $d"
		grep -q '^diff --git ' "$p" && series+=("$p")
	done
done
[ ${#series[@]} -gt 0 ] || die "no patch in $patches has a diff"

key=$( {
	sha256sum <"$0"
	echo "$arch"
	for p in "${series[@]}"; do echo "$(basename "$p")"; sha256sum <"$p"; done
	ls -lL --time-style=+%s "$tarball" | awk '{ print $5, $6, $7 }'
} | sha256sum | cut -d' ' -f1)

# build/NAME -> the cached build, once it is complete
link=
if [ -z "$out" ]; then
	cache=${MEMSPLICE_CACHE:-/var/cache/memsplice}/kernel
	out=$cache/$name-${key:0:16}
	link=$top/build/$name
	mkdir -p "$top/build"
	# what an older checkout left there is a directory, not a link
	[ -L "$link" ] || rm -rf "$link"
fi
publish() {
	[ -n "$link" ] || return 0
	ln -sfn "$out" "$link.tmp" && mv -T "$link.tmp" "$link" || die "cannot link $link"
}

mkdir -p "$out"
exec 9>"$out/.lock"
if ! flock -n 9; then
	echo "$me: another kernel build is running: waiting for it" >&2
	flock 9
fi
if [ "$force" = 0 ] && [ -f "$out/bzImage" ] && [ "$(cat "$out/key" 2>/dev/null)" = "$key" ]; then
	publish
	echo "$me: $out/bzImage is up to date (key ${key:0:12})"
	exit 0
fi

log=$out/build.log
rm -f "$out/key" "$out/bzImage"
rm -rf "$out/src" "$out/obj" "$out/selftests"
: >"$log"
t0=$SECONDS
step() { echo "$me: [$((SECONDS - t0))s] $*"; }
fail() {
	echo "$me: $1 failed; last lines of $log:" >&2
	tail -n 30 "$log" | sed 's/^/| /' >&2
	exit 1
}

step "unpacking $(basename "$tarball")"
trap 'rm -rf "$out/src.tmp"' EXIT
rm -rf "$out/src.tmp"
mkdir -p "$out/src.tmp"
tar -xJf "$tarball" -C "$out/src.tmp" --strip-components=1 || die "cannot unpack $tarball"
mv "$out/src.tmp" "$out/src"
src=$out/src obj=$out/obj

for p in "${series[@]}"; do
	patch -d "$src" -p1 --batch --forward --no-backup-if-mismatch <"$p" >>"$log" 2>&1 ||
		fail "applying $(basename "$p")"
done
step "applied ${#series[@]} patches"

# One ABI: the series' uapi header must be the repository's.  The 6.1
# backport stays at version 2 (its own header: references by default,
# SPVM_STABLE), which userspace still speaks (source/spvm.h).
uapi=include/uapi/linux/splice_process_vm.h
if [ "$series_name" = 6.12 ]; then
	cmp -s "$top/$uapi" "$src/$uapi" || { diff -u "$top/$uapi" "$src/$uapi" >>"$log" 2>&1
		fail "comparing $uapi with the series' (they must be one file)"; }
fi

mk() { make -C "$src" O="$obj" ARCH="$arch" -j"$jobs" "$@" >>"$log" 2>&1; }
mk tinyconfig || fail "make tinyconfig"
args=()
for s in $config_syms; do args+=(-e "$s"); done
for s in $config_off; do args+=(-d "$s"); done
"$src/scripts/config" --file "$obj/.config" "${args[@]}"
mk olddefconfig || fail "make olddefconfig"
missing=
for s in $config_syms; do
	grep -qx "CONFIG_$s=y" "$obj/.config" || missing="$missing $s"
done
[ -z "$missing" ] || die "not =y after olddefconfig (a dependency is missing?):$missing"
for s in $config_off; do
	grep -qx "CONFIG_$s=y" "$obj/.config" && missing="$missing $s"
done
[ -z "$missing" ] || die "still =y after olddefconfig (selected by another symbol?):$missing"
cp "$obj/.config" "$out/config"

if [ "$arch" = i386 ]; then
	step "building bzImage with -j$jobs"
	mk bzImage || fail "make bzImage"
else
	step "building bzImage and modules with -j$jobs (a few minutes)"
	mk bzImage modules || fail "make bzImage modules"
	step "kernel built; uapi headers and the selftest"
	mk headers || fail "make headers"
	mkdir -p "$out/selftests"
	# selftests/mm's Makefile builds all of mm's tests: the series' only,
	# with the helpers that Makefile links into each where needed
	mm=$src/tools/testing/selftests/mm
	if [ -e "$mm/splice_process_vm.c" ]; then
		gcc -Wall -O2 -isystem "$obj/usr/include" -I "$src/tools/testing/selftests" \
			-I "$src/tools/include" -I "$mm" -o "$out/selftests/splice_process_vm" \
			"$mm/splice_process_vm.c" -lpthread >>"$log" 2>&1 ||
			fail "building selftests/mm/splice_process_vm"
	elif [ -d "$src/tools/testing/selftests/splice_process_vm" ]; then
		make -C "$src/tools/testing/selftests/splice_process_vm" OUTPUT="$out/selftests" \
			KHDR_INCLUDES="-isystem $obj/usr/include" >>"$log" 2>&1 ||
			fail "building the selftest"
	fi
	proc=$src/tools/testing/selftests/proc
	if [ -e "$proc/proc-pid-mem-splice.c" ]; then
		gcc -Wall -O2 -isystem "$obj/usr/include" -I "$src/tools/testing/selftests" \
			-o "$out/selftests/proc-pid-mem-splice" "$proc/proc-pid-mem-splice.c" \
			>>"$log" 2>&1 || fail "building selftests/proc/proc-pid-mem-splice"
	fi
	if [ -e "$mm/uffd-wp-thp.c" ]; then
		gcc -Wall -O2 -isystem "$obj/usr/include" -I "$src/tools/testing/selftests" \
			-I "$src/tools/include" -I "$mm" -o "$out/selftests/uffd-wp-thp" \
			"$mm/uffd-wp-thp.c" "$mm/vm_util.c" "$mm/thp_settings.c" \
			-lrt -lpthread -lm >>"$log" 2>&1 || fail "building selftests/mm/uffd-wp-thp"
	fi
fi

cp "$obj/arch/x86/boot/bzImage" "$out/bzImage.tmp"
mv "$out/bzImage.tmp" "$out/bzImage"
echo "$key" >"$out/key"
publish
# the cache keeps this build and the newest other one of the same NAME
if [ -n "$link" ]; then
	ls -dt "$cache/$name"-???????????????? 2>/dev/null | tail -n +3 |
		while read -r old; do
			[ "$old" != "$out" ] && flock -n "$old/.lock" rm -rf "$old"
		done
fi
step "done: $out/bzImage ($(sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' "$obj/include/generated/utsrelease.h"))"
