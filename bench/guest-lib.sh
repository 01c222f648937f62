# Sourced by the guest bench scripts (bench/*-guest.sh) after they set N:
# tracefs mounted at $T, the CLI as the guests run it ($CLI: node with
# test/guest/kdiff.ts's GUEST_NODE_FLAGS), the workload ($DD: N one-byte
# reads of /dev/zero, one vfs_read each) and `secs`, dd's seconds from its
# report on stdin.
T=/sys/kernel/tracing
mountpoint -q $T || mount -t tracefs nodev $T
CLI="node --no-liftoff dist/bin/cli.js"
secs() { sed -n 's/.* copied, \([0-9.]*\) s,.*/\1/p'; }
DD="dd if=/dev/zero of=/dev/null bs=1 count=$N"
