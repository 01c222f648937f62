#!/bin/busybox sh
# /init of the throwaway test guest that test/vm/harness.ts boots.
#
# The host's / arrives read-only over 9p (tag hostroot) with a tmpfs overlay
# on top, so the guest can write anywhere without touching the host and the
# caller's working directory (often under /tmp) stays visible. A second,
# read-write 9p share (tag xchg) is mounted at the host's own path of that
# directory: it carries run.sh in and the exit code out. stdout/stderr leave
# through two virtserialports, which qemu writes to host files as they come.
# A guest panic makes qemu exit 0, so the host trusts only the exit file.
export PATH=/bin

# The console is the log the host shows when something goes wrong.
say() { echo "kbpf-init: $*" > /dev/console; }
die() { say "$*"; poweroff -f; sleep 5; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

while read -r m; do
  insmod "/lib/modules/$m" || die "insmod $m failed"
done < /modules

xchg= modules=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    kbpf.xchg=*) xchg=${arg#kbpf.xchg=} ;;
    kbpf.modules=*) modules=${arg#kbpf.modules=} ;;
  esac
done
[ -n "$xchg" ] || die "no kbpf.xchg= on the kernel command line"

# msize: 9p's per-message payload; the 6.1 default (8 KiB) makes reading node
# and its modules crawl. cache=loose on the read-only root lets the guest
# keep pages and dentries (the host tree does not change under a test run);
# the exchange share stays uncached so the exit file reaches the host at once.
p9='trans=virtio,version=9p2000.L,msize=262144'
mount -t 9p -o "$p9,ro,cache=loose" hostroot /host || die "cannot mount the host's / over 9p"
mount -t 9p -o "$p9" xchg /xchg || die "cannot mount the exchange dir over 9p"
mount -t tmpfs -o mode=0755 tmpfs /ovl
mkdir -p /ovl/upper /ovl/work
mount -t overlay -o lowerdir=/host,upperdir=/ovl/upper,workdir=/ovl/work overlay /newroot \
  || die "cannot mount the overlay on the host's /"

r=/newroot
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts devpts $r/dev/pts
mount -t tmpfs tmpfs $r/dev/shm
mount -t tracefs tracefs $r/sys/kernel/tracing || die "cannot mount tracefs"
mount -t debugfs debugfs $r/sys/kernel/debug || die "cannot mount debugfs"
mount -t bpf bpf $r/sys/fs/bpf || die "cannot mount bpffs"
mkdir -p "$r$xchg"
mount --bind /xchg "$r$xchg"
# A kernel that is not installed on the host (unpacked under build/) brings
# its modules tree: bound where the guest's modprobe looks for them.
if [ -n "$modules" ]; then
  rel=$(uname -r)
  mkdir -p "$r/lib/modules/$rel"
  mount --bind "$r$modules/$rel" "$r/lib/modules/$rel" || die "cannot bind $modules/$rel"
fi

# virtio_console names its device nodes vport<dev>p<port>; the names the
# host gave the ports are in sysfs (no udev here to make /dev/virtio-ports).
out= err=
for port in /sys/class/virtio-ports/*; do
  case "$(cat "$port/name")" in
    kbpf.stdout) out=/dev/${port##*/} ;;
    kbpf.stderr) err=/dev/${port##*/} ;;
  esac
done
[ -n "$out" ] && [ -n "$err" ] || die "virtserialports kbpf.stdout/kbpf.stderr missing"

cut -d' ' -f1 /proc/uptime > /xchg/started
chroot $r /bin/sh "$xchg/run.sh" < /dev/null > "$out" 2> "$err"
code=$?
cut -d' ' -f1 /proc/uptime > /xchg/finished
echo "$code" > /xchg/exit.tmp && mv /xchg/exit.tmp /xchg/exit
sync
poweroff -f
