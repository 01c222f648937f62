#!/bin/sh
# Per-hit cost of one probe on vfs_read in the 6.12 guest, on the same
# workload (dd reading /dev/zero a byte at a time: one vfs_read per byte):
# the BTF kprobe `p vfs_read file count` compiled to an fentry program (the
# default), the same line compiled to a kprobe program (KPROBE_BPF_TRAMPOLINE=0),
# an `f` event (fentry), and the kernel's own fprobe event recording into its
# ring. Each round runs every variant and an unprobed baseline back to back
# (TCG's speed drifts over a run); prints "ROUND NAME SECONDS" per run, which
# bench/fprobe-guest.ts turns into a table.
# Run from the repository root inside the guest (runInGuest does).
N=${N:-100000}
ROUNDS=${ROUNDS:-3}
. "$(dirname "$0")/guest-lib.sh"
LINE='p:kbb/rd vfs_read file count'
echo 'f:kbk/rd vfs_read file count' >> $T/dynamic_events
mkdir $T/instances/kbk
round=1
while [ $round -le $ROUNDS ]; do
  echo "$round baseline $($DD 2>&1 | secs)"
  echo "$round fentry $($CLI trace --pipe -e "$LINE" -c "$DD" 2>&1 >/dev/null | secs)"
  echo "$round kprobe $(KPROBE_BPF_TRAMPOLINE=0 $CLI trace --pipe -e "$LINE" -c "$DD" 2>&1 >/dev/null | secs)"
  echo "$round fprobe $($CLI trace --pipe -e 'f:kbb/rd vfs_read file count' -c "$DD" 2>&1 >/dev/null | secs)"
  echo 1 > $T/instances/kbk/events/kbk/rd/enable
  echo "$round kernel-fprobe $($DD 2>&1 | secs)"
  echo 0 > $T/instances/kbk/events/kbk/rd/enable
  echo "$round baseline $($DD 2>&1 | secs)"
  round=$((round + 1))
done
rmdir $T/instances/kbk
echo '-:kbk/rd' >> $T/dynamic_events
