#!/usr/bin/env bash
# Makes `apt-get source` work: if apt has no deb-src entry for this release's
# main component, derive one from the binary entry apt already uses (same
# archive, same keyring), so no mirror host is named here. Then refresh the
# source lists. Idempotent: a machine that already has the entry pays nothing.
set -euo pipefail
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:?}")
out=/etc/apt/sources.list.d/kprobe-bpf-src.sources

have_src() {
  grep -rqsE "^(deb-src[[:space:]].*[[:space:]]$codename[[:space:]].*main|Types:.*deb-src)" \
    /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
}

if ! have_src; then
  # deb822 stanzas (Debian 12 default): copy the one that serves "$codename" main.
  stanza=$(awk -v rel="$codename" 'BEGIN{RS=""; FS="\n"}
    /(^|\n)Types:[^\n]*deb/ && $0 ~ ("Suites:[^\n]*(^|[ \t])" rel "([ \t]|$|\n)") && /Components:[^\n]*main/ {print; exit}' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [ -n "$stanza" ]; then
    printf '%s\n' "$stanza" | sed -E 's/^Types:.*/Types: deb-src/; s/^Suites:.*/Suites: '"$codename"'/; s/^Components:.*/Components: main/' > "$out"
  else
    # one-line format
    line=$(grep -hE "^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+[[:space:]]+$codename[[:space:]].*main" \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1 || true)
    [ -n "$line" ] || { echo "deb-src.sh: no apt entry for $codename main to derive a deb-src entry from" >&2; exit 1; }
    echo "${line/#deb/deb-src}" > "${out%.sources}.list"
  fi
  echo "added a deb-src entry for $codename main"
  apt-get update -qq
elif ! apt-cache showsrc zlib >/dev/null 2>&1 || [ -z "$(apt-cache showsrc zlib 2>/dev/null)" ]; then
  apt-get update -qq
fi
