#!/usr/bin/env bash
# fetch-kernel.sh DIR SUITE
# Gets the kernel that Debian's linux-image-amd64 depends on in SUITE (e.g.
# bookworm-backports: 6.12) without installing it: the package is unpacked
# with dpkg-deb -x into DIR/root, never into the host's /boot, and depmod
# writes the modules.dep it does not carry. The system's apt sources and
# state are left alone: a private sources list and list cache live under
# DIR/apt, on the archive apt already uses (debian-archive.sh: no mirror
# host is named here). Writes DIR/release last, naming the unpacked release.
set -euo pipefail
dir=$(mkdir -p "$1" && cd "$1" && pwd)
suite=$2
export LC_ALL=C
apt=$dir/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$dir/deb"
key=/usr/share/keyrings/debian-archive-keyring.gpg
uri=$("$(dirname "$0")/debian-archive.sh")
echo "deb [signed-by=$key] $uri $suite main" > "$apt/sources.list"
opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt/lists"
  -o "Dir::State::status=/dev/null" -o "Dir::Cache=$apt/cache" -o APT::Get::List-Cleanup=0
  -o Debug::NoDropPrivs=1 -o APT::Sandbox::User=root)
apt-get "${opts[@]}" -qq update
# The meta-package names the image it stands for: linux-image-6.12.N+deb12-amd64.
pkg=$(apt-cache "${opts[@]}" show "linux-image-amd64/$suite" | awk '/^Depends:/ {print; exit}' |
  grep -o 'linux-image-[0-9][^ ,]*' | head -1)
[ -n "$pkg" ] || { echo "fetch-kernel: linux-image-amd64 in $suite names no kernel image" >&2; exit 1; }
release=${pkg#linux-image-}
rm -rf "$dir/deb"/*.deb "$dir/root" "$dir/release"
(cd "$dir/deb" && apt-get "${opts[@]}" -qq download "$pkg/$suite")
dpkg-deb -x "$dir"/deb/"${pkg}"_*.deb "$dir/root"
# usrmerge-era packages keep modules under usr/lib; depmod -b wants lib/modules.
[ -d "$dir/root/lib/modules/$release" ] || { mkdir -p "$dir/root/lib" && ln -s ../usr/lib/modules "$dir/root/lib/modules"; }
test -f "$dir/root/boot/vmlinuz-$release"
depmod -b "$dir/root" "$release"
rm -f "$dir"/deb/*.deb
echo "$release" > "$dir/release"
echo "fetch-kernel: $pkg from $suite"
