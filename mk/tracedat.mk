# trace.dat: test/runtime/trace-dat.test.ts judges our trace.dat files with
# Debian's `trace-cmd report` (libtraceevent reads our format files).
APT_PACKAGES += trace-cmd
