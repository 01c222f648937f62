#!/usr/bin/env bash
# Fetches the newest kernel UAPI headers Debian ships (linux-libc-dev from
# trixie-backports, else trixie) into DIR, for the bridge's bpf(2) layout
# tables (gen-uapi.ts): the kernel here can be newer than the header libbpf
# 1.1.2 carries (about Linux 6.2), and the bridge must know every field the
# kernel reads to refuse the ones it does not allow. The system's apt
# sources and state are left alone: a private sources list and list cache
# live under DIR. Without network, libbpf's own copy (SRC_HEADER) is used,
# with a warning.
# Usage: bpf/wasm/uapi-header.sh DIR SRC_HEADER
set -euo pipefail
dir=$(mkdir -p "$1" && cd "$1" && pwd)
fallback=$2
apt=$dir/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$dir/deb"
key=/usr/share/keyrings/debian-archive-keyring.gpg
# The archive apt already uses for the main component (deb822 URIs: or a
# one-line entry), so no mirror host is named here.
uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=$(grep -hE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
  sed -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/' | grep -v security | head -1 || true)
cat > "$apt/sources.list" <<LIST
deb [signed-by=$key] $uri trixie main
deb [signed-by=$key] $uri trixie-backports main
LIST
opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt/lists"
  -o "Dir::Cache=$apt/cache" -o APT::Get::List-Cleanup=0 -o Debug::NoDropPrivs=1 -o APT::Sandbox::User=root)
out=$dir/usr/include/linux/bpf.h
rm -rf "$dir/usr" "$dir/deb"/*.deb
if apt-get "${opts[@]}" -qq update >/dev/null 2>&1 &&
   (cd "$dir/deb" && { apt-get "${opts[@]}" -qq download linux-libc-dev/trixie-backports 2>/dev/null ||
                       apt-get "${opts[@]}" -qq download linux-libc-dev/trixie; }) >/dev/null; then
  dpkg-deb -x "$dir"/deb/linux-libc-dev_*.deb "$dir"
  echo "uapi: $(basename "$dir"/deb/linux-libc-dev_*.deb)"
else
  echo "uapi-header.sh: cannot fetch linux-libc-dev from trixie; using $fallback" >&2
  mkdir -p "$dir/usr/include"
  cp -r "$(dirname "$(dirname "$fallback")")"/. "$dir/usr/include/"
fi
test -f "$out"
# dpkg-deb keeps the package's mtimes: stamp the header now so make sees it as newer than this script.
touch "$out"
