#!/usr/bin/env bash
# Prints the Debian archive URI apt already uses for the main component
# (deb822 URIs: or a one-line entry; never the security archive), so no
# mirror host is named in this repository. Exits 1 when there is none.
set -euo pipefail
uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=$(grep -hE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
  sed -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/' | grep -v security | head -1 || true)
[ -n "$uri" ] || { echo "no Debian archive in apt's sources" >&2; exit 1; }
echo "$uri"
