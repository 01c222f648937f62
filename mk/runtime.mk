# runtime/: the tests build a probe target with gcc, judge ELF symbol offsets
# with nm/readelf (binutils) and pin workloads to a CPU with taskset
# (util-linux).
APT_PACKAGES += gcc binutils util-linux
