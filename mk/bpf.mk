# bpf/: instruction encoding, disassembler, ELF/BTF writer and reader.
# Its tests use LLVM 14's llvm-objdump, llvm-mc and llvm-readelf (package llvm),
# bpftool (Debian's, libbpf 1.x) and clang -target bpf for a clang-built object.
APT_PACKAGES += llvm bpftool clang
