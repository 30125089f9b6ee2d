#!/bin/sh
# fresh-root's package stage, run by selftests/fresh-root.sh as root inside
# the pristine root once `make demo` has passed there:
#
#   selftests/fresh-root-deb.sh DEBDIR KODIR KVER...
#
# 1. linux-headers-KVER for each KVER (the guests' kernels, from the
#    mirror: make demo's scripts/deps.sh has updated apt's lists), as on a
#    machine that runs those kernels, before the packages
#    (6.12's headers pull its image in: INITRD=No, as this root never
#    boots, and dpkg's unsafe I/O save a minute here, and only here);
# 2. DEBDIR's memsplice_*.deb and memsplice-dkms_*.deb installed with
#    `dpkg -i` and `apt-get -f install -y`, nothing else; dkms' postinst
#    then builds the module for every kernel under /lib/modules (uname -r,
#    the host's, has none in a chroot and no module support: it is
#    skipped, not an error). Each KVER's module must be there; it is
#    copied to KODIR/KVER/ (the guests load it, selftests/fresh-root.sh);
# 3. the installed /usr/sbin/memsplice check reports (the device absent
#    here); /usr/sbin/memsplice-criu runs and hands a command line it does
#    not take to the real criu (--version: criu's answer);
# 4. `apt-get purge -y memsplice memsplice-dkms`: dpkg lists neither, and
#    none of their files, sources, dkms tree or built modules stays.
#
# Each step's time is printed. Exit status: 0 iff all of it passed; a
# failure's reason is the last line on stderr.
set -eu

me=fresh-root-deb
die() { echo "$me: $*" >&2; exit 1; }
[ $# -ge 3 ] || { echo "usage: $0 DEBDIR KODIR KVER..." >&2; exit 2; }
debdir=$1 kodir=$2
shift 2
export DEBIAN_FRONTEND=noninteractive
t=$(date +%s)
step() {
	now=$(date +%s)
	echo "$me: $1 (${2:+$2, }$((now - t))s)"
	t=$now
}

debs=$(ls "$debdir"/memsplice_*.deb "$debdir"/memsplice-dkms_*.deb) ||
	die "no memsplice and memsplice-dkms packages in $debdir"

headers=
for v in "$@"; do
	headers="$headers linux-headers-$v"
done
# shellcheck disable=SC2086
INITRD=No apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-unsafe-io $headers ||
	die "apt-get install$headers failed"
step "headers" "$*"

# shellcheck disable=SC2086
dpkg -i $debs || echo "$me: dpkg -i left dependencies to apt-get -f install"
apt-get -f install -y || die "apt-get -f install failed after dpkg -i"
for p in memsplice memsplice-dkms; do
	[ "$(dpkg-query -W -f '${db:Status-Abbrev}' $p 2>/dev/null)" = "ii " ] ||
		die "$p is not installed after dpkg -i and apt-get -f install"
done
dkms status splice_process_vm
for v in "$@"; do
	ko=$(ls /lib/modules/"$v"/updates/dkms/splice_process_vm.ko* 2>/dev/null) ||
		die "dkms built no splice_process_vm for $v"
	mkdir -p "$kodir/$v"
	cp "$ko" "$kodir/$v/" || die "cannot copy $ko to $kodir/$v"
done
step "installed, dkms built the module" "$*"

out=$(/usr/sbin/memsplice check) || die "/usr/sbin/memsplice check failed (exit $?)"
echo "$out"
echo "$out" | grep -q '^method device ' || die "memsplice check says nothing of the device"
out=$(/usr/sbin/memsplice-criu --version) || die "/usr/sbin/memsplice-criu --version failed (exit $?)"
echo "$out"
echo "$out" | grep -q '^Version: ' || die "memsplice-criu --version did not answer as criu does"
step "memsplice check, memsplice-criu --version"

# their files, not the directories they share with others (/usr/sbin)
files=$(dpkg -L memsplice memsplice-dkms | while read -r f; do [ -d "$f" ] || echo "$f"; done)
apt-get purge -y memsplice memsplice-dkms || die "apt-get purge failed"
for p in memsplice memsplice-dkms; do
	! dpkg -L $p >/dev/null 2>&1 || die "dpkg still lists $p after the purge"
done
for f in $files /usr/share/doc/memsplice /usr/share/doc/memsplice-dkms \
	 /usr/src/splice_process_vm-* /var/lib/dkms/splice_process_vm \
	 /lib/modules/*/updates/dkms/splice_process_vm.ko*; do
	[ ! -e "$f" ] || die "$f stays after the purge"
done
step "purged"
