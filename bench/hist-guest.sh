#!/bin/sh
# Per-hit cost of `hist:keys=common_pid:vals=hitcount` on a kprobe on
# vfs_read in a test guest (the host has no CONFIG_HIST_TRIGGERS), on one
# workload (dd reading /dev/zero a byte at a time: one vfs_read per byte):
# the kernel's own hist trigger (its event soft-enabled, nothing recorded),
# kprobe-bpf's with --no-trace, and kprobe-bpf printing every hit.
# Prints "NAME SECONDS" per run, then each hist's Hits line;
# bench/hist-guest.bench.ts turns them into a table.
# Run from the repository root inside the guest (runInGuest does).
N=${N:-20000}
. "$(dirname "$0")/guest-lib.sh"
TRIGGER='hist:keys=common_pid:vals=hitcount'
echo "baseline $($DD 2>&1 | secs)"
echo "baseline $($DD 2>&1 | secs)"
# interleaved rounds: the table takes each variant's fastest run (TCG timing is noisy)
for round in 1 2 3; do
  echo "kprobe-bpf-hist $($CLI trace -e 'p:kbh/rd vfs_read' --trigger "kbh/rd:$TRIGGER" --no-trace -c "$DD" 2>&1 >/tmp/kbh-ours.hist | secs)"
  echo "kprobe-bpf-print $($CLI trace --pipe -e 'p:kbh/rd vfs_read' -c "$DD" 2>&1 >/dev/null | secs)"
  echo 'p:kbh/rd vfs_read' >> $T/kprobe_events
  echo "$TRIGGER" > $T/events/kbh/rd/trigger
  echo "kernel-hist $($DD 2>&1 | secs)"
  grep -h 'Hits:' $T/events/kbh/rd/hist | sed 's/^ */kernel-hits /'
  echo "!$TRIGGER" > $T/events/kbh/rd/trigger
  echo '-:kbh/rd' >> $T/kprobe_events
  grep -h 'Hits:' /tmp/kbh-ours.hist | sed 's/^ */ours-hits /'
done
echo "baseline $($DD 2>&1 | secs)"
