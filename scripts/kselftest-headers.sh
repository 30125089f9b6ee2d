#!/bin/sh
# Extract kselftest_harness.h and kselftest.h from Debian's linux-source
# tarball into OUTDIR (no package ships them unpacked). They are GPL kernel
# files generated at build time: never commit them.
#
#   scripts/kselftest-headers.sh OUTDIR
#
# Does nothing when both headers already exist. The tarball is the one the
# linux-source package installs (6.1 on Debian 12), not the newest one: the
# tests are written for that harness (6.12's, from linux-source-6.12, which
# scripts/build-kernel.sh needs, changes how fixtures run and trips
# -Wclobbered).  KSFT_SOURCE=PATH overrides it.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
[ -f "$out/kselftest_harness.h" ] && [ -f "$out/kselftest.h" ] && exit 0

tarball=${KSFT_SOURCE-}
if [ -z "$tarball" ]; then
	v=$(dpkg-query -W -f='${Depends}' linux-source 2>/dev/null |
		sed -n 's/.*linux-source-\([0-9][0-9.]*\).*/\1/p')
	tarball=/usr/src/linux-source-${v:-6.1}.tar.xz
fi
[ -n "$tarball" ] ||
	{ echo "kselftest-headers: no /usr/src/linux-source-*.tar.xz (run scripts/deps.sh)" >&2; exit 1; }
[ -f "$tarball" ] || { echo "kselftest-headers: $tarball: not found" >&2; exit 1; }

top=$(basename "$tarball" .tar.xz)
mkdir -p "$out"
tmp=$(mktemp -d "$out/.ksft.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# xz streams cannot seek: this decompresses the whole tarball (~10 s).
tar -xJf "$tarball" -C "$tmp" --strip-components=4 \
	"$top/tools/testing/selftests/kselftest_harness.h" \
	"$top/tools/testing/selftests/kselftest.h" ||
	{ echo "kselftest-headers: cannot extract headers from $tarball" >&2; exit 1; }
mv "$tmp/kselftest.h" "$tmp/kselftest_harness.h" "$out/"
