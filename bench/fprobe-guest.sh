#!/bin/sh
# Per-hit cost of one probe on vfs_read in the 6.12 guest, on the same
# workload (dd reading /dev/zero a byte at a time: one vfs_read per byte):
# the BTF kprobe `p vfs_read file count` compiled to an fentry program (the
# default), the same line compiled to a kprobe program (KPROBE_BPF_TRAMPOLINE=0),
# an `f` event (fentry), and the kernel's own fprobe event recording into its
# ring. Prints "NAME SECONDS" per run; bench/fprobe-guest.ts makes the table.
# Run from the repository root inside the guest (runInGuest does).
N=${N:-20000}
T=/sys/kernel/tracing
mountpoint -q $T || mount -t tracefs nodev $T
CLI="node --no-liftoff dist/bin/cli.js"
secs() { sed -n 's/.* copied, \([0-9.]*\) s,.*/\1/p'; }
DD="dd if=/dev/zero of=/dev/null bs=1 count=$N"
LINE='p:kbb/rd vfs_read file count'
echo "baseline $($DD 2>&1 | secs)"
echo "baseline $($DD 2>&1 | secs)"
# interleaved, three rounds: the table takes each variant's fastest run (TCG timing is noisy)
for round in 1 2 3; do
  echo "fentry $($CLI trace --pipe -e "$LINE" -c "$DD" 2>&1 >/dev/null | secs)"
  echo "kprobe $(KPROBE_BPF_TRAMPOLINE=0 $CLI trace --pipe -e "$LINE" -c "$DD" 2>&1 >/dev/null | secs)"
  echo "fprobe $($CLI trace --pipe -e 'f:kbb/rd vfs_read file count' -c "$DD" 2>&1 >/dev/null | secs)"
done
echo 'f:kbb/rd vfs_read file count' >> $T/dynamic_events
mkdir $T/instances/kbb
echo 1 > $T/instances/kbb/events/kbb/rd/enable
for round in 1 2 3; do echo "kernel-fprobe $($DD 2>&1 | secs)"; done
echo 0 > $T/instances/kbb/events/kbb/rd/enable
rmdir $T/instances/kbb
echo '-:kbb/rd' >> $T/dynamic_events
echo "baseline $($DD 2>&1 | secs)"
