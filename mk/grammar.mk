# grammar/: the kernel differential test builds its target with gcc and reads
# symbol offsets with nm (binutils).
APT_PACKAGES += gcc binutils
