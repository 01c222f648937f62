# test/e2e and bench/trace.bench.ts: the differential and signal tests build
# their targets with gcc, read symbols and segments with binutils (nm,
# readelf, objdump), run them without ASLR through setarch (util-linux), look
# at the kernel's perf events and programs with bpftool; the trace bench runs
# bpftrace as the peer.
APT_PACKAGES += gcc binutils util-linux bpftool bpftrace
