#!/bin/sh
# make deb: the Debian packages memsplice (the tool) and memsplice-dkms (the
# module's sources, built by dkms where they are installed), from debian/.
#
#   scripts/deb.sh
#
# dpkg-buildpackage runs on a copy of the checkout's files (git ls-files:
# tracked and untracked, not ignored; uncommitted changes included) in
# build/deb/src/, so that nothing of a build here ends up in the source
# package and its results land in build/deb/, not in the checkout's parent:
# memsplice_V_amd64.deb, memsplice-dkms_V_all.deb, the .changes, .dsc and
# source tarball.  Then lintian checks the .changes: its errors fail the
# build; its warnings are printed (build/deb/lintian.txt).  The build's
# output is in build/deb/build.log, its last lines shown on failure.
# Packages: scripts/deps.sh --deb.  Exit status: 0 iff built and lintian
# found no error.
set -eu

me=deb
top=$(cd "$(dirname "$0")/.." && pwd -P)
out=$top/build/deb
src=$out/src/memsplice
log=$out/build.log

die() { echo "$me: $*" >&2; exit 1; }

for t in dpkg-buildpackage dh_dkms lintian git; do
	command -v $t >/dev/null 2>&1 || die "$t not found (scripts/deps.sh --deb)"
done
git -C "$top" rev-parse -q --verify HEAD >/dev/null 2>&1 ||
	die "$top is not a git checkout: cannot tell its files from build products"

rm -rf "$out/src"
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo "$out"/*.dsc "$out"/*.tar.* \
	"$out/lintian.txt" "$log"
mkdir -p "$src"
# files deleted in the work tree but still tracked are skipped
# shellcheck disable=SC2016 # the inner sh's $f
(cd "$top" && git ls-files -z -c -o --exclude-standard |
	xargs -0 sh -c 'for f; do [ ! -e "$f" ] || printf "%s\0" "$f"; done' sh |
	cpio -0 -pdm --quiet "$src") || die "cannot copy the checkout to $src"

echo "$me: dpkg-buildpackage in build/deb/src (log: build/deb/build.log)"
(cd "$src" && dpkg-buildpackage -us -uc -j"$(nproc)") >"$log" 2>&1 || {
	tail -n 30 "$log" | sed 's/^/| /' >&2
	die "dpkg-buildpackage failed (build/deb/build.log)"
}
for f in "$out"/src/*; do
	[ "$f" = "$src" ] || mv "$f" "$out/"
done
rm -rf "$out/src"
changes=$(ls "$out"/memsplice_*.changes)

rc=0
# (its note that it runs as root is not about the packages)
lintian --fail-on error "$changes" >"$out/lintian.raw" 2>&1 || rc=$?
grep -v '^running with root privileges' "$out/lintian.raw" >"$out/lintian.txt" || true
rm -f "$out/lintian.raw"
sed 's/^/lintian: /' "$out/lintian.txt"
[ "$rc" = 0 ] || die "lintian reports errors (build/deb/lintian.txt)"
for f in "$out"/*.deb; do
	echo "$me: ${f#"$top"/}"
done
