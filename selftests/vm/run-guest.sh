#!/bin/bash
# Run a command inside a QEMU (TCG) guest that sees the host's root read-only.
#
#   selftests/vm/run-guest.sh [-k KVER | -K BZIMAGE] [-c CPU] [-M MEM] [-t TIMEOUT_S]
#       [-i MODULE.ko]... [-o HOSTDIR]... [-e NAME[=VALUE]]... [-d FILE] [-v]
#       -- COMMAND...
#
#   -k KVER     Debian kernel: a full version (6.1.0-56-amd64) or X.Y (6.1,
#               6.12), resolved by scripts/kver.sh as kernel/Makefile's
#               KVER=X.Y is (the newest with its /lib/modules and headers).
#               Default 6.1.
#   -K BZIMAGE  a self-built kernel instead, with virtio-pci and 9p built in
#               (scripts/build-kernel.sh makes build/patched/bzImage; its
#               modules, e.g. make -C kernel KDIR=build/patched/obj, load
#               with -i).  No module is loaded before the 9p mount.
#   -c CPU      QEMU's CPU model (max,erms=off,fsrm=off).  TCG runs
#               `rep movsb` a byte per step, and a guest kernel copies user
#               memory with it when the CPU advertises ERMS or FSRM: write(2)
#               then costs about twice a splice copy of the same bytes
#               (bench/copypair measures both).  Without them the kernel
#               copies by `rep movsq` or in C, as on most hardware.
#   -M MEM      guest memory (2G).  -t TIMEOUT_S  kill QEMU after it (900).
#   -i MODULE   insmod this host .ko/.ko.xz before COMMAND, in the order given.
#   -o HOSTDIR  share HOSTDIR writable, mounted at the same path in the guest:
#               the way to get results out (e.g. MEMSPLICE_RESULTS=HOSTDIR/x).
#   -e NAME[=VALUE]  pass another variable into the guest.
#   -d FILE     write the guest's dmesg, taken after COMMAND, to host FILE.
#   -v          show the whole console (boot messages included).
#
# COMMAND's words are joined with spaces and run by `sh -c` (as ssh does) in
# a chroot to the host root, in the caller's directory, with stdin /dev/null,
# HOME=/tmp, and PATH, MEMSPLICE_* and KSFT_* from the caller. /tmp, /run and
# /dev/shm are fresh tmpfs: host files there are visible only through -o,
# except the caller's own directory, which is shared writable when it lies
# there. Stock-kernel modules load with `modprobe NAME` or on demand.
# COMMAND's stdout and stderr stream to our stdout (serial console, about
# 100 KB/s: write bulk output to a file in an -o share). Exit status:
# COMMAND's; 124 on timeout; 125 when the guest died before COMMAND
# finished (panic, failed boot); 2 on a usage error.
#
# How: a busybox initramfs (cached in build/vm/, rebuilt when this script,
# busybox or the kernel's 9p modules change) loads the 9p modules, mounts
# the shares and runs COMMAND. A private writable share ("ctl") carries the
# command in and the exit status and dmesg out; markers around COMMAND's
# output let the host hide kernel and firmware noise. Debian kernels boot
# through PVH from an uncompressed copy cached in build/vm/ (saves ~5 s).
set -eu

me=run-guest
die() { echo "$me: $*" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd -P)
cache=$root/build/vm

kver=6.1 kimage='' cpu=max,erms=off,fsrm=off mem=2G timeout_s=900 dmesg_out='' verbose=0
mods=() outs=() envs=()
while getopts k:K:c:M:t:i:o:e:d:vh opt; do
	case $opt in
	k) kver=$OPTARG ;;
	K) kimage=$OPTARG ;;
	c) cpu=$OPTARG ;;
	M) mem=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	i) mods+=("$OPTARG") ;;
	o) outs+=("$OPTARG") ;;
	e) envs+=("$OPTARG") ;;
	d) dmesg_out=$OPTARG ;;
	v) verbose=1 ;;
	*) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || die "no COMMAND (usage: $0 [options] -- COMMAND...; -h for help)"
[[ $timeout_s =~ ^[0-9]+$ ]] || die "-t wants seconds, not '$timeout_s'"

abspath() { [ -e "$1" ] || die "$1: no such file or directory"; realpath -- "$1"; }

# Kernel and the modules the initramfs needs before it can mount 9p.
if [ -n "$kimage" ]; then
	kimage=$(abspath "$kimage")
	kver=custom
	moddir=
else
	if [ ! -e "/boot/vmlinuz-$kver" ] && [[ $kver =~ ^[0-9]+\.[0-9]+$ ]]; then
		alias=$kver
		kver=$("$root/scripts/kver.sh" "$alias") ||
			die "no /boot/vmlinuz-$alias.*-amd64 with /lib/modules (scripts/deps.sh --guest)"
	fi
	kimage=/boot/vmlinuz-$kver
	moddir=/lib/modules/$kver
	[ -r "$kimage" ] || die "$kimage: not found or not readable"
	[ -f "$moddir/modules.dep" ] || die "$moddir/modules.dep: not found"
fi

# Modules (with their dependencies first) for virtio-pci + 9p, read from
# modules.dep; whatever the kernel has built in is skipped.
boot_modules() {
	awk -v want="virtio_pci 9pnet_virtio 9p" -v builtin="$moddir/modules.builtin" '
		function base(p) { sub(/.*\//, "", p); sub(/\.ko(\.[a-z]+)?$/, "", p); return p }
		function load(m,   n, d, i) {
			if (m in done) return
			done[m] = 1
			n = split(deps[m], d, " ")
			for (i = n; i >= 1; i--) load(d[i])
			print m
		}
		BEGIN { while ((getline l < builtin) > 0) inkernel[base(l)] = 1 }
		{ m = $1; sub(/:$/, "", m); path[base(m)] = m; $1 = ""; deps[m] = $0 }
		END {
			n = split(want, w, " ")
			for (i = 1; i <= n; i++) {
				if (w[i] in inkernel) continue
				if (!(w[i] in path)) { print "missing " w[i] > "/dev/stderr"; exit 1 }
				load(path[w[i]])
			}
		}' "$moddir/modules.dep"
}

# Build (or reuse) the initramfs: static busybox, the boot modules
# decompressed, and /init below.
initramfs() {
	local list="" key img=$cache/initramfs-$kver.cpio m i=0 stage
	if [ -n "$moddir" ]; then
		list=$(boot_modules) || die "cannot resolve 9p modules from $moddir/modules.dep"
	fi
	key=$( { cat "$0"; ls -lL /bin/busybox; for m in $list; do ls -lL "$moddir/$m"; done; } | sha256sum)
	if [ -f "$img" ] && [ "$(cat "$img.key" 2>/dev/null)" = "$key" ]; then
		echo "$img"
		return
	fi
	[ -x /bin/busybox ] || die "/bin/busybox missing (scripts/deps.sh --guest)"
	mkdir -p "$cache"
	stage=$(mktemp -d "$cache/stage.XXXXXX")
	mkdir -p "$stage"/{bin,mod,proc,sys,dev,mnt,ctl,tmp}
	cp /bin/busybox "$stage/bin/"
	for m in $list; do
		i=$((i + 1))
		case $m in
		*.xz) xz -dc "$moddir/$m" ;;
		*.gz) gzip -dc "$moddir/$m" ;;
		*.zst) zstd -qdc "$moddir/$m" ;;
		*) cat "$moddir/$m" ;;
		esac >"$stage/mod/$(printf %02d $i)-$(basename "${m%%.ko*}").ko" || die "cannot unpack $moddir/$m"
	done
	sed -n '/^#@init-begin$/,/^#@init-end$/p' "$0" | sed '1d;$d' >"$stage/init"
	chmod 755 "$stage/init"
	(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$img.tmp.$$" ||
		die "cpio failed (scripts/deps.sh --guest)"
	rm -rf "$stage"
	mv "$img.tmp.$$" "$img"
	echo "$key" >"$img.key"
	echo "$img"
}

# Under TCG a Debian bzImage spends ~5 s decompressing itself. With
# CONFIG_PVH, QEMU boots the uncompressed ELF directly: unpack the payload
# once (boot protocol: payload_offset/length at 0x248/0x24c, counted from
# the protected-mode code; its last 4 bytes are the size, not data).
# Prints the image to boot: the cached ELF, else the bzImage itself.
pvh_kernel() {
	local elf=$cache/vmlinux-$kver key sects off len
	grep -qs '^CONFIG_PVH=y' "/boot/config-$kver" || { echo "$kimage"; return; }
	key=$(ls -lL "$kimage")
	if [ -f "$elf" ] && [ "$(cat "$elf.key" 2>/dev/null)" = "$key" ]; then
		echo "$elf"
		return
	fi
	mkdir -p "$cache"
	sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$kimage")
	off=$(od -An -tu4 -j $((0x248)) -N4 "$kimage")
	len=$(od -An -tu4 -j $((0x24c)) -N4 "$kimage")
	if tail -c +$(((sects + 1) * 512 + off + 1)) "$kimage" | head -c $((len - 4)) |
		case $(grep "^CONFIG_KERNEL_[A-Z0-9]*=y" "/boot/config-$kver") in
		*_XZ=y) xz -dc ;;
		*_ZSTD=y) zstd -dcq ;;
		*_GZIP=y) gzip -dc ;;
		*) false ;;
		esac >"$elf.tmp.$$" 2>/dev/null && [ "$(head -c 4 "$elf.tmp.$$")" = $'\x7fELF' ]; then
		mv "$elf.tmp.$$" "$elf"
		echo "$key" >"$elf.key"
		echo "$elf"
	else
		rm -f "$elf.tmp.$$"
		echo "$kimage"
	fi
}

if false; then
#@init-begin
#!/bin/busybox sh
# PID 1 of the guest, generated by selftests/vm/run-guest.sh.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
fail() { echo "run-guest(guest): $*"; reboot -f; sleep 60; }
p9() { mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,"$1" "$2" "$3"; }

for m in /mod/*.ko; do
	[ -e "$m" ] || continue
	insmod "$m" || fail "insmod $m failed"
done
p9 rw ctl /ctl || fail "cannot mount the ctl share"
. /ctl/setup
# cache=loose: ~2x faster exec and file reads; the guest lives for one
# command, so missing host-side changes made meanwhile is acceptable here
# (the writable -o shares stay uncached).
p9 ro,cache=loose hostroot /mnt || fail "cannot mount the host root"
# Before /mnt/tmp is covered by a tmpfs: -i modules may live in host /tmp.
while read -r m; do
	case $m in
	*.xz) xzcat "/mnt$m" >/tmp/m.ko ;;
	*.gz) zcat "/mnt$m" >/tmp/m.ko ;;
	*) cp "/mnt$m" /tmp/m.ko ;;
	esac || fail "cannot read module $m"
	insmod /tmp/m.ko || fail "insmod $m failed"
	rm /tmp/m.ko
done </ctl/modules
mount -t proc proc /mnt/proc
mount -t sysfs sys /mnt/sys
mount -t cgroup2 cgroup2 /mnt/sys/fs/cgroup 2>/dev/null
mount -t devtmpfs dev /mnt/dev
mkdir -p /mnt/dev/pts /mnt/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /mnt/dev/pts
mount -t tmpfs tmpfs /mnt/dev/shm
ln -sf /proc/self/fd /mnt/dev/fd
ln -sf /proc/self/fd/0 /mnt/dev/stdin
ln -sf /proc/self/fd/1 /mnt/dev/stdout
ln -sf /proc/self/fd/2 /mnt/dev/stderr
mount -t tmpfs -o mode=1777 tmpfs /mnt/tmp
mount -t tmpfs -o mode=755 tmpfs /mnt/run
while read -r tag dir; do
	if ! mkdir -p "/mnt$dir" || ! p9 rw "$tag" "/mnt$dir"; then
		fail "cannot mount $dir"
	fi
done </ctl/shares
ip link set lo up
# Kernel-requested modules (crypto, socket families) come from the host's
# /lib/modules too: the usermode helper resolves paths in this root.
# The helper starts at this initramfs's root, under the host root once that
# is moved onto it (below): it reaches the host root through /modprobe-root.
mkdir -p /modprobe-root
mount --rbind /mnt /modprobe-root
printf '#!/bin/sh\nexec chroot /modprobe-root /sbin/modprobe "$@"\n' >/bin/modprobe-host
chmod 755 /bin/modprobe-host
echo /bin/modprobe-host >/proc/sys/kernel/modprobe
cp /ctl/cmd.sh /mnt/run/run-guest.sh

# The command's root is the host root moved onto / (switch_root's way), not
# a chroot into /mnt: a task's root is then its mount namespace's root, as on
# a booted machine, and a container's root after pivot_root reads "/" in
# /proc/PID/root (criu refuses to dump a mount namespace otherwise).  This
# shell keeps the initramfs as its root (/ctl, reboot).
echo "$START"
(cd /mnt && mount --move . / && exec chroot . /usr/bin/env -i /bin/sh /run/run-guest.sh) \
	</dev/null
rc=$?
printf '\n%s\n' "$END"
[ "$DMESG" = 0 ] || dmesg >/ctl/dmesg
echo $rc >/ctl/rc.tmp && mv /ctl/rc.tmp /ctl/rc
sync
reboot -f
#@init-end
fi

img=$(initramfs)
boot=$kimage
[ "$kver" = custom ] || boot=$(pvh_kernel)

work=$(mktemp -d "${TMPDIR:-/tmp}/run-guest.XXXXXX")
qpid='' fpid=''
cleanup() {
	[ -z "$qpid" ] || kill "$qpid" 2>/dev/null || true
	[ -z "$fpid" ] || wait "$fpid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "$me: interrupted" >&2; exit 130' INT TERM HUP
mkdir "$work/ctl"

# Single-quote for the guest's sh (dash: no $'...').
q() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }

nonce=$RANDOM$RANDOM$RANDOM
start="@@run-guest-start-$nonce@@" end="@@run-guest-end-$nonce@@"
{
	echo "START=$start END=$end DMESG=$([ -n "$dmesg_out" ] && echo 1 || echo 0)"
} >"$work/ctl/setup"
: >"$work/ctl/modules"
for m in ${mods[@]+"${mods[@]}"}; do
	abspath "$m" >>"$work/ctl/modules"
done
qemu_shares=()
: >"$work/ctl/shares"
# The guest masks /tmp, /run and /dev/shm with fresh tmpfs.  COMMAND runs in
# the caller's directory, so a caller there (a checkout cloned under /tmp)
# gets it shared writable first; explicit -o shares below may nest in it.
case $(pwd -P)/ in
/tmp/* | /run/* | /dev/shm/*)
	d=$(pwd -P)
	[[ $d != *,* ]] || die "$d: QEMU cannot share a path with a comma"
	echo "cwd $d" >>"$work/ctl/shares"
	qemu_shares+=(-virtfs "local,path=$d,mount_tag=cwd,security_model=none,multidevs=remap")
	;;
esac
for i in ${outs[@]+"${!outs[@]}"}; do
	d=$(abspath "${outs[$i]}")
	[ -d "$d" ] || die "-o $d: not a directory"
	[[ $d != *,* ]] || die "-o $d: QEMU cannot share a path with a comma"
	echo "out$i $d" >>"$work/ctl/shares"
	qemu_shares+=(-virtfs "local,path=$d,mount_tag=out$i,security_model=none,multidevs=remap")
done

# The script the guest runs inside the chroot.
{
	echo "export HOME=/tmp TERM=dumb"  # the host root is read-only
	for v in $(compgen -e); do
		case $v in PATH | MEMSPLICE_* | KSFT_*) echo "export $v=$(q "${!v}")" ;; esac
	done
	for e in ${envs[@]+"${envs[@]}"}; do
		n=${e%%=*}
		[[ $n =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "-e $e: bad variable name"
		if [[ $e == *=* ]]; then echo "export $n=$(q "${e#*=}")";
		elif [ -n "${!n+x}" ]; then echo "export $n=$(q "${!n}")"; fi
	done
	here=$(pwd -P)
	echo "cd $(q "$here") || { echo $(q "$me: cannot cd to $here in the guest (under /tmp? use -o)"); exit 125; }"
	echo "exec /bin/sh -c $(q "$*")"
} >"$work/ctl/cmd.sh"

append="console=ttyS0 panic=-1"
[ "$verbose" = 1 ] || append="$append quiet loglevel=3"

# The console: raw copy to console.log; to stdout everything (-v) or only
# what lies between the markers. The guest prints "\n" before the end
# marker, so one held-back empty line before it is ours, not COMMAND's.
mkfifo "$work/console"
awk -v s="$start" -v e="$end" -v v="$verbose" -v logf="$work/console.log" '
	{ sub(/\r$/, ""); print > logf; fflush(logf) }
	v { print; fflush(); next }
	state == 0 { if (index($0, s)) state = 1; next }
	state == 1 && index($0, e) {
		if (held) held--
		for (; held > 0; held--) print ""
		state = 2; fflush(); next
	}
	state == 1 && $0 == "" { held++; next }
	state == 1 { for (; held > 0; held--) print ""; print; fflush() }
' <"$work/console" &
fpid=$!

timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu "$cpu" -smp 2 -m "$mem" \
	-nographic -no-reboot -no-user-config -net none \
	-kernel "$boot" -initrd "$img" -append "$append" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$work/ctl,mount_tag=ctl,security_model=none,multidevs=remap" \
	${qemu_shares[@]+"${qemu_shares[@]}"} \
	</dev/null >"$work/console" 2>"$work/qemu.err" &
qpid=$!
qrc=0
wait "$qpid" || qrc=$?
qpid=''
wait "$fpid" || true
fpid=''

if [ -n "$dmesg_out" ] && [ -f "$work/ctl/dmesg" ]; then
	cp "$work/ctl/dmesg" "$dmesg_out" || echo "$me: cannot write $dmesg_out" >&2
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "$me: timeout: guest killed after ${timeout_s}s (-t)" >&2
	exit 124
fi
if [ ! -f "$work/ctl/rc" ]; then
	# Once COMMAND had started, its console lines were shown already.
	if [ "$verbose" = 0 ] && ! grep -qF "$start" "$work/console.log"; then
		echo "$me: last console lines:" >&2
		tail -n 40 "$work/console.log" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g; s/^/| /' >&2
	fi
	cat "$work/qemu.err" >&2
	if grep -q 'Kernel panic' "$work/console.log"; then
		echo "$me: guest kernel panicked (kernel $kver)" >&2
	else
		echo "$me: guest stopped before COMMAND finished (QEMU status $qrc, kernel $kver)" >&2
	fi
	exit 125
fi
exit "$(cat "$work/ctl/rc")"
