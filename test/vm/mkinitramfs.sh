#!/bin/bash
# mkinitramfs.sh KVER INIT OUT [BASEDIR]
# Builds the guest's tiny initramfs: busybox-static, the modules that reach the
# host over virtio/9p plus overlayfs (each with its dependencies, in load order
# as `modprobe --show-depends` gives them), and INIT as /init. Stored
# uncompressed: under TCG the kernel would unpack a compressed one in
# emulated code, slower than copying a few more MB. BASEDIR: a kernel
# unpacked with dpkg-deb -x (its lib/modules/KVER), instead of the host's.
set -eu -o pipefail
kver=$1 init=$2 out=$3 basedir=${4:-/}
export LC_ALL=C
# virtio_pci: the bus; virtio_console: stdout/stderr ports; 9pnet_virtio + 9p:
# the host's / and the exchange dir; overlay: a writable layer over the host's /.
# A module built into the kernel (6.12: virtio_pci, virtio_console) is listed
# by modprobe as `builtin NAME`: nothing to copy, nothing to load.
modules="virtio_pci virtio_console 9pnet_virtio 9p overlay"

root="$out.d"
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,host,xchg,ovl,newroot,lib/modules}

cp /bin/busybox "$root/bin/busybox"
# busybox --list names busybox itself: linking it to itself would make
# /bin/busybox a symlink loop and /init would fail with ELOOP.
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done

: > "$root/modules"
for m in $modules; do
  modprobe -d "$basedir" -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
  base=$(basename "$ko")
  case "$ko" in
    *.ko) cp "$ko" "$root/lib/modules/$base" ;;
    *.ko.xz) xz -dc "$ko" > "$root/lib/modules/${base%.xz}"; base=${base%.xz} ;;
    *.ko.zst) zstd -dcq "$ko" > "$root/lib/modules/${base%.zst}"; base=${base%.zst} ;;
    *.ko.gz) gzip -dc "$ko" > "$root/lib/modules/${base%.gz}"; base=${base%.gz} ;;
    *) echo "mkinitramfs: unexpected module file $ko" >&2; exit 1 ;;
  esac
  echo "$base" >> "$root/modules"
done
[ -s "$root/modules" ] || { echo "mkinitramfs: modprobe found no modules for $kver" >&2; exit 1; }

install -m 0755 "$init" "$root/init"
(cd "$root" && find . -mindepth 1 | sort | cpio --quiet -o -H newc -R 0:0) > "$out.tmp"
mv "$out.tmp" "$out"
rm -rf "$root"
