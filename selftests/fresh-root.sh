#!/bin/sh
# make check's fresh-machine stage: the README's first command, `make demo`,
# run as root in a pristine Debian 12 root, from a clean clone; then the
# Debian packages installed there, checked, loaded in the guests, purged.
#
#   selftests/fresh-root.sh
#
# The root: `debootstrap --variant=minbase bookworm` plus make (the
# README's commands start with it), nothing else. minbase (Priority:
# required, and apt: what Debian's container images hold), not the default
# variant (which adds Priority: important: procps, iproute2, ...), because
# it is the smallest fresh Debian 12 one meets and everything the project
# needs beyond it must then come from scripts/deps.sh; what works there
# works on larger installs. debootstrap uses the mirror the host's apt
# uses (apt-get indextargets) and the host's apt archives as its cache.
# The root is kept outside the checkout, as $MEMSPLICE_CACHE/fresh-root/
# root-KEY.tar (MEMSPLICE_CACHE defaults to /var/cache/memsplice, shared
# by every clone on the machine), KEY = sha256 of suite, variant, packages,
# architecture, debootstrap's version and this script; without it the root
# is built from scratch first (about a minute).
#
# Each run, in private mount and PID namespaces (no mount or process can
# outlive the run; the host never sees the mounts): unpack the tarball to
# build/fresh-root/root; `git clone` the committed HEAD of this checkout
# into /root/memsplice there (uncommitted changes are not tested, nothing
# of build/ is copied); copy in the host's apt sources, the Acquire options
# that reach its mirror (proxy, Check-Valid-Until, Check-Date),
# resolv.conf and hosts; mount /proc, /sys, /dev, /dev/pts, /dev/shm and
# bind-mount the host's /var/cache/apt/archives; then chroot and run
# `make demo` in /root/memsplice with a clean environment (env -i: HOME,
# TERM and Debian's default PATH), stdin /dev/null, under a timeout.
# Afterwards, whatever happened, everything is unmounted and the unpacked
# root removed. The whole `make demo` output goes to
# build/fresh-root/make-demo.log; its last lines are shown on failure.
#
# The packages: `make deb` on the host, in a second clean clone of HEAD
# (build/fresh-root/deb-src; log make-deb.log; lintian's errors fail it),
# before the namespaces. After make demo, in the root,
# selftests/fresh-root-deb.sh (log deb.log) installs the headers of the
# guests' kernels (scripts/kver.sh 6.1 and 6.12), then the two packages with
# dpkg -i and apt-get -f install alone, so that dkms' postinst builds the
# module for both; runs the installed memsplice check (and memsplice-criu);
# purges both and checks nothing of them stays. Back on the host, each
# guest kernel boots (selftests/vm/run-guest.sh, log guest-KVER.log) with
# the module dkms built for it insmod'ed, and the packaged memsplice's
# check must find the device usable. About 90 s more than make demo alone
# (make deb 20 s, headers 20 s, install and dkms 25 s, purge 12 s, guests 8 s).
# Needs about 2.5 GB in build/ while it runs. Host sources whose keys are not
# in a pristine root (third-party repositories) make its apt-get fail.
#
# Appends "fresh-root pass=N fail=N skip=N" to $MEMSPLICE_RESULTS (as
# selftests/run.sh does). Environment: MEMSPLICE_FRESH_ROOT=0 skips the
# stage (one skip); MEMSPLICE_FRESH_ROOT_TIMEOUT, seconds (1800).
# Packages: scripts/deps.sh --fresh-root. Exit status: 0 iff it passed.
# (--in-namespace is this script's own second half, run through unshare.)
set -eu

me=fresh-root
top=$(cd "$(dirname "$0")/.." && pwd -P)
script=$top/selftests/fresh-root.sh
dir=$top/build/fresh-root
root=$dir/root
log=$dir/make-demo.log
deblog=$dir/deb.log
cache=${MEMSPLICE_CACHE:-/var/cache/memsplice}/fresh-root
suite=bookworm variant=minbase include=make
timeout_s=${MEMSPLICE_FRESH_ROOT_TIMEOUT:-1800}

die() { echo "$me: $*" >&2; exit 1; }

# Mount points at or below $1 in this mount namespace, deepest first.
mounts_below() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' \
		/proc/self/mountinfo | LC_ALL=C sort -r
}

# rm -rf that never descends into a mount (rm's --one-file-system misses
# bind mounts of the same file system).
remove() {
	if [ -n "$(mounts_below "$1")" ]; then
		echo "$me: $1: something is still mounted there, not removed" >&2
		return 1
	fi
	rm -rf "$1"
}

# ---- second half: inside the namespaces -------------------------------------
if [ "${1-}" = --in-namespace ]; then
	tarball=$2 archives=$3 mirror=$4 debdir=$5
	shift 5
	# the reason, for the first half's one line
	die() { echo "$me: $*" >&2; echo "$*" >"$dir/why"; exit 1; }

	cleanup() {
		for m in $(mounts_below "$root") $(mounts_below "$dir/new"); do
			umount "$m" || umount -l "$m" || echo "$me: cannot unmount $m" >&2
		done
	}
	trap cleanup EXIT
	trap 'exit 130' INT TERM HUP

	if [ ! -f "$tarball" ]; then
		echo "$me: building the pristine root ($suite, $variant, +$include)"
		t0=$(date +%s)
		remove "$dir/new" || exit 1
		debootstrap --variant="$variant" --include="$include" \
			--cache-dir="$archives" "$suite" "$dir/new" "$mirror" \
			>"$dir/debootstrap.log" 2>&1 || {
			tail -n 20 "$dir/debootstrap.log" >&2
			die "debootstrap failed (build/fresh-root/debootstrap.log)"
		}
		cleanup
		tar -C "$dir/new" --numeric-owner -cf "$tarball.tmp" . ||
			die "cannot write $tarball.tmp"
		remove "$dir/new" || exit 1
		for old in "${tarball%/*}"/root-*.tar; do
			[ "$old" = "$tarball" ] || rm -f "$old"
		done
		mv "$tarball.tmp" "$tarball"
		echo "$me: pristine root built in $(($(date +%s) - t0))s"
	fi

	mkdir "$root"
	tar -C "$root" --numeric-owner -xpf "$tarball" || die "cannot unpack $tarball"

	# What a fresh machine on this network would have: how to reach the
	# mirror. Nothing the project itself needs.
	for f in resolv.conf hosts; do
		rm -f "$root/etc/$f"
		[ ! -e "/etc/$f" ] || cp "/etc/$f" "$root/etc/$f"
	done
	rm -f "$root/etc/apt/sources.list"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		 /etc/apt/sources.list.d/*.sources; do
		[ ! -f "$f" ] || cp "$f" "$root$f"
	done
	apt-config dump | grep -E '^Acquire::((https?|ftp)::Proxy|Check-Valid-Until|Check-Date) ' \
		>"$root/etc/apt/apt.conf.d/00host-acquire" || true

	git -c advice.detachedHead=false clone -q --no-hardlinks "$top" \
		"$root/root/memsplice" || die "git clone of $top failed"
	[ "$(git -C "$root/root/memsplice" rev-parse HEAD)" = "$(git -C "$top" rev-parse HEAD)" ] ||
		die "the clone is not at this checkout's HEAD"

	mount -t proc proc "$root/proc"
	mount -t sysfs sysfs "$root/sys"
	mount -t devtmpfs -o mode=0755,nosuid devtmpfs "$root/dev"
	mkdir -p "$root/dev/pts" "$root/dev/shm"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
	mount --bind "$archives" "$root/var/cache/apt/archives"

	echo "$me: make demo in a pristine $suite root (log: build/fresh-root/make-demo.log)"
	rc=0
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/sh -c 'cd /root/memsplice && exec make demo' \
		</dev/null >"$log" 2>&1 || rc=$?
	[ "$rc" = 0 ] || die "make demo failed in the pristine root (exit $rc)"

	echo "$me: the packages in the same root, dkms for $* (log: build/fresh-root/deb.log)"
	mkdir "$root/root/debs"
	cp "$debdir"/memsplice_*.deb "$debdir"/memsplice-dkms_*.deb "$root/root/debs/" ||
		die "cannot copy the packages into the root"
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/root/memsplice/selftests/fresh-root-deb.sh /root/debs /root/ko "$@" \
		</dev/null >"$deblog" 2>&1 || {
		tail -n 20 "$deblog" | sed 's/^/| /' >&2
		die "$(tail -n 1 "$deblog")"
	}
	grep "^fresh-root-deb: " "$deblog"
	cp -r "$root/root/ko" "$dir/ko" || die "cannot copy the modules dkms built out of the root"
	exit 0
fi

# ---- first half: checks, the namespaces, the report -------------------------
[ $# -eq 0 ] || { echo "usage: $0" >&2; exit 2; }

report() {
	[ -z "${MEMSPLICE_RESULTS-}" ] ||
		echo "fresh-root pass=$1 fail=$2 skip=$3" >>"$MEMSPLICE_RESULTS" ||
		die "cannot append to $MEMSPLICE_RESULTS"
}
fail() {
	echo "$me: $*" >&2
	report 0 1 0
	echo "fresh-root: 0 passed, 1 failed, 0 skipped"
	exit 1
}

if [ "${MEMSPLICE_FRESH_ROOT-1}" = 0 ]; then
	echo "$me: skipped (MEMSPLICE_FRESH_ROOT=0)"
	report 0 0 1
	echo "fresh-root: 0 passed, 0 failed, 1 skipped"
	exit 0
fi

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, mount, chroot)"
case $timeout_s in
'' | *[!0-9]*) fail "MEMSPLICE_FRESH_ROOT_TIMEOUT wants seconds, not '$timeout_s'" ;;
esac
case $top in
*[[:space:]\\]*) fail "$top: a checkout path with blanks or backslashes is not supported" ;;
esac
for t in debootstrap git unshare chroot; do
	command -v $t >/dev/null 2>&1 || fail "$t not found (scripts/deps.sh --fresh-root)"
done
git -C "$top" rev-parse -q --verify HEAD >/dev/null 2>&1 ||
	fail "$top is not a git checkout with a commit: nothing to clone (MEMSPLICE_FRESH_ROOT=0 skips)"

eval "$(apt-config shell archives Dir::Cache::archives/d)"
[ -d "${archives-}" ] || fail "no apt archives directory on the host"
# shellcheck disable=SC2016 # apt's $(FIELD) placeholders, not the shell's
mirror=$(apt-get indextargets --format '$(SITE) $(RELEASE) $(COMPONENT)' |
	awk -v s="$suite" '$2 == s && $3 == "main" { print $1; exit }')
[ -n "$mirror" ] || fail "the host's apt has no '$suite main' source to take the mirror from"

arch=$(dpkg --print-architecture)
key=$( { echo "$suite $variant $include $arch"; dpkg-query -W debootstrap; cat "$script"; } |
	sha256sum | cut -c1-16)

mkdir -p "$dir" "$cache"
# one run at a time on the machine: the cached root is built once
exec 9>"$cache/lock"
flock 9 || fail "cannot lock $cache/lock"
remove "$root" || fail "cannot remove the root a previous run left"
rm -rf "$log" "$deblog" "$dir/why" "$dir/deb-src" "$dir/make-deb.log" "$dir/ko" "$dir/pkg" "$dir"/guest-*.log

# the guests' kernels, for their headers in the root and the boots below
kvers=
for k in 6.1 6.12; do
	v=$("$top/scripts/kver.sh" $k) || fail "no Debian $k kernel installed (scripts/deps.sh --guest)"
	kvers="$kvers $v"
done

start=$(date +%s)
echo "$me: make deb in a clean clone of HEAD (log: build/fresh-root/make-deb.log)"
git -c advice.detachedHead=false clone -q --no-hardlinks "$top" "$dir/deb-src" ||
	fail "git clone of $top for make deb failed"
make -C "$dir/deb-src" deb >"$dir/make-deb.log" 2>&1 || {
	tail -n 20 "$dir/make-deb.log" | sed 's/^/| /' >&2
	fail "make deb failed (build/fresh-root/make-deb.log)"
}
debdir=$dir/deb-src/build/deb
echo "$me: packages built in $(($(date +%s) - start))s"

rc=0
# shellcheck disable=SC2086
timeout -k 30 "$timeout_s" unshare --mount --propagation private --pid --kill-child \
	"$script" --in-namespace "$cache/root-$key.tar" "$archives" "$mirror" "$debdir" $kvers 9>&- &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' INT TERM HUP
while :; do
	wait $pid && rc=0 || rc=$?
	kill -0 $pid 2>/dev/null || break
done
trap - INT TERM HUP
# The namespaces are gone with their last process: nothing is mounted below
# $root any more, in any namespace.
remove "$root" || rc=1
secs=$(($(date +%s) - start))
if [ "$rc" != 0 ] && [ -s "$log" ] && [ ! -e "$deblog" ]; then
	echo "$me: last lines of make demo (build/fresh-root/make-demo.log):" >&2
	tail -n 40 "$log" | sed 's/^/| /' >&2
fi
case $rc in
0) ;;
124 | 137) fail "not finished within ${timeout_s}s (MEMSPLICE_FRESH_ROOT_TIMEOUT)" ;;
*) fail "$(cat "$dir/why" 2>/dev/null || echo failed) (after ${secs}s)" ;;
esac

# the module each guest kernel's headers gave dkms, loaded there; the
# packaged memsplice must find its device usable
t0=$(date +%s)
mkdir -p "$dir/pkg"
dpkg-deb -x "$(ls "$debdir"/memsplice_*.deb)" "$dir/pkg" || fail "cannot unpack the memsplice package"
for v in $kvers; do
	ko=$(ls "$dir/ko/$v"/splice_process_vm.ko*) || fail "no module from dkms for $v"
	"$top/selftests/vm/run-guest.sh" -k "$v" -t 300 -i "$ko" -- \
		"test -c /dev/splice_process_vm && $dir/pkg/usr/sbin/memsplice check" \
		>"$dir/guest-$v.log" 2>&1 || {
		tail -n 12 "$dir/guest-$v.log" | sed 's/^/| /' >&2
		fail "$v: the dkms-built module did not load, or no /dev/splice_process_vm (build/fresh-root/guest-$v.log)"
	}
	grep -q '^method device  *yes' "$dir/guest-$v.log" || {
		grep '^method device' "$dir/guest-$v.log" | sed 's/^/| /' >&2
		fail "$v: the dkms-built module loaded, but memsplice check finds no usable device"
	}
	echo "$me: $v: the dkms-built module loaded, $(grep '^method device' "$dir/guest-$v.log")"
done
secs=$(($(date +%s) - start))
echo "$me: guests in $(($(date +%s) - t0))s"
echo "$me: make demo and the packages passed in a pristine $suite root (${secs}s)"
report 1 0 0
echo "fresh-root: 1 passed, 0 failed, 0 skipped"
