#!/bin/sh
# Which installed Debian kernel "X.Y" means, for a guest and its module alike.
#
#   scripts/kver.sh X.Y     -> e.g. 6.12.118+deb12-amd64
#
# The newest X.Y.*-amd64 (or X.Y.0-N-amd64) that has all three of
# /boot/vmlinuz-V, /lib/modules/V/modules.dep (a guest boots it) and its
# headers (the module builds for it); else the newest bootable one; else
# the newest with headers only.  selftests/vm/run-guest.sh -k X.Y and
# kernel/Makefile KVER=X.Y both ask here, so that a module is never built
# for one 6.12 and loaded into another (insmod refuses it and the guest
# stops before its tests: apt keeps an old image beside new headers).
# Exit status 1, nothing printed, when none is installed.
set -eu
case ${1-} in
[0-9]*.[0-9]*) ;;
*) echo "usage: $0 X.Y" >&2; exit 2 ;;
esac
series=$(printf '%s' "$1" | sed 's/\./\\./g')
{
	ls /boot 2>/dev/null | sed -n "s/^vmlinuz-\(${series}\.[^ ]*-amd64\)\$/\1/p"
	ls /usr/src 2>/dev/null | sed -n "s/^linux-headers-\(${series}\.[^ ]*-amd64\)\$/\1/p"
} | sort -uV | {
	best='' bootable='' headers=''
	while read -r v; do
		boot=0 hdr=0
		[ -f "/boot/vmlinuz-$v" ] && [ -f "/lib/modules/$v/modules.dep" ] && boot=1
		[ -d "/usr/src/linux-headers-$v" ] || [ -d "/lib/modules/$v/build" ] && hdr=1
		[ $boot$hdr != 11 ] || best=$v
		[ $boot != 1 ] || bootable=$v
		[ $hdr != 1 ] || headers=$v
	done
	v=${best:-${bootable:-$headers}}
	[ -n "$v" ] && echo "$v"
}
