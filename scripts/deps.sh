#!/bin/sh
# Install the Debian 12 packages memsplice needs, and nothing else.
#
#   scripts/deps.sh            build and host-test packages
#   scripts/deps.sh --demo     also what `make demo` needs to boot Debian's
#                              6.1 kernel in a guest where criu runs
#   scripts/deps.sh --guest    also what selftests/vm/run-guest.sh needs, and
#                              what scripts/build-kernel.sh needs to build the
#                              patched kernels the third and fourth guests
#                              boot (gcc-multilib: the static i386 test;
#                              gnutls-bin: certtool, the TLS test's certificates;
#                              runc, podman: front_test's containers)
#   scripts/deps.sh --fresh-root  also what selftests/fresh-root.sh needs
#                              (make check: --guest --fresh-root --deb)
#   scripts/deps.sh --deb      also what `make deb` needs: debhelper and
#                              dh-dkms to build the packages, lintian to
#                              check them
#
# Idempotent and quick when everything is present (one dpkg-query call, no
# apt-get): apt-get update + install run only when a package is missing.
set -eu

base="build-essential pkg-config libcap-dev libprotobuf-c-dev
protobuf-c-compiler libkmod-dev linux-source criu xz-utils kmod
python3-protobuf strace libgnutls28-dev"
demo="qemu-system-x86 busybox-static cpio zstd linux-image-amd64"
guest="$demo linux-headers-amd64 linux-image-6.12-amd64 linux-headers-6.12-amd64
flex bison libelf-dev dwarves bc libssl-dev linux-source-6.12 gcc-multilib gnutls-bin runc podman"
fresh_root="debootstrap git"
deb="debhelper dh-dkms dkms dpkg-dev fakeroot lintian git cpio"

pkgs=$base
for opt in "$@"; do
	case $opt in
	--demo) pkgs="$pkgs $demo" ;;
	--guest) pkgs="$pkgs $guest" ;;
	--fresh-root) pkgs="$pkgs $fresh_root $deb" ;;
	--deb) pkgs="$pkgs $deb" ;;
	*) echo "usage: $0 [--demo] [--guest] [--fresh-root] [--deb]" >&2; exit 2 ;;
	esac
done

# Packages dpkg does not know at all are absent from the output, so compute
# "wanted minus installed" rather than looking at the status column alone.
installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $pkgs \
	2>/dev/null | awk '$1 == "ii" { printf " %s", $2 }') || true
missing=
for p in $pkgs; do
	case "$installed " in
	*" $p "*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -n "$missing" ]; then
	sudo=
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null 2>&1 ||
			{ echo "deps: need root (or sudo) to install:$missing" >&2; exit 1; }
		sudo=sudo
	fi
	$sudo apt-get update -qq >/dev/null ||
		{ echo "deps: apt-get update failed" >&2; exit 1; }
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $missing >/dev/null ||
		{ echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
fi

# crit (criu's image decoder, a python3 script) needs python3-protobuf; an
# incomplete python install shows up only when it runs.
crit --help >/dev/null 2>&1 ||
	{ echo "deps: 'crit --help' fails: check python3 and python3-protobuf" >&2; exit 1; }

if [ -n "$missing" ]; then
	echo "deps: installed$missing"
else
	echo "deps: all present"
fi
