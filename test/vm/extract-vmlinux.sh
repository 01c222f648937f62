#!/bin/bash
# extract-vmlinux.sh BZIMAGE OUT
# Writes the uncompressed ELF vmlinux held inside a bzImage. QEMU boots that
# ELF through its PVH entry note (CONFIG_PVH) ~2x faster under TCG than the
# bzImage, which would first decompress itself in emulated code
# (shared/design/kernel-vm.md). The payload starts at one of the compression
# magics the kernel's own scripts/extract-vmlinux looks for; try each hit until
# one decompresses to an ELF file.
set -eu -o pipefail
in=$1 out=$2
export LC_ALL=C
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

# magic (as a grep pattern) and the decompressor reading stdin (xz: stop at
# the first stream, the bzImage tail after it is not xz data).
try() {
  local magic=$1; shift
  local off
  for off in $(grep -aboP "$magic" "$in" | cut -d: -f1); do
    if tail -c +$((off + 1)) "$in" | "$@" > "$tmp" 2>/dev/null || [ -s "$tmp" ]; then
      if [ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
        mv "$tmp" "$out"
        return 0
      fi
    fi
  done
  return 1
}

try '\xfd7zXZ\x00' xz -dc --single-stream && exit 0
try '\x28\xb5\x2f\xfd' zstd -dcq && exit 0
try '\x1f\x8b\x08' gzip -dc && exit 0
echo "extract-vmlinux: no xz/zstd/gzip payload holding an ELF vmlinux in $in" >&2
exit 1
