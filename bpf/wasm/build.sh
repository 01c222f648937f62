#!/usr/bin/env bash
# Builds build/wasm/libbpf.wasm from Debian's sources of zlib, elfutils'
# libelf and libbpf (fetched into build/wasm/src by mk/wasm.mk) plus our
# shims in bpf/wasm/, with Debian's clang for wasm32-wasi. Objects are cached
# in build/wasm/obj and rebuilt only when their source or flags change.
# Usage: bpf/wasm/build.sh SRC_DIR OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
CC=${WASM_CC:-clang}
jobs=$(nproc 2>/dev/null || echo 2)

libbpf=$(echo "$src"/libbpf-*/ | awk '{print $1}'); libbpf=${libbpf%/}
elfutils=$(echo "$src"/elfutils-*/ | awk '{print $1}'); elfutils=${elfutils%/}
zlib=$(echo "$src"/zlib-*/ | awk '{print $1}'); zlib=${zlib%/}
for d in "$libbpf" "$elfutils" "$zlib"; do [ -d "$d" ] || { echo "build.sh: missing source dir $d" >&2; exit 1; }; done

# A private sysroot: wasi-libc plus only the kernel UAPI headers. Using
# --sysroot=/usr would leak glibc's headers into the build.
sysroot=$out/sysroot
mkdir -p "$sysroot/include" "$sysroot/lib"
ln -sfn /usr/include/wasm32-wasi "$sysroot/include/wasm32-wasi"
ln -sfn /usr/lib/wasm32-wasi "$sysroot/lib/wasm32-wasi"
ln -sfn /usr/include/linux "$sysroot/include/linux"
ln -sfn /usr/include/asm-generic "$sysroot/include/asm-generic"
ln -sfn /usr/include/x86_64-linux-gnu/asm "$sysroot/include/asm"
# <bpf/libbpf.h> for glue.c
mkdir -p "$out/include"
ln -sfn "$libbpf/src" "$out/include/bpf"

common=(--target=wasm32-wasi --sysroot="$sysroot" -O2 -g0 -std=gnu11
  -D_GNU_SOURCE -D_WASI_EMULATED_MMAN -D_WASI_EMULATED_SIGNAL
  -D_WASI_EMULATED_PROCESS_CLOCKS -D_WASI_EMULATED_GETPID
  -isystem "$here/include" -include "$here/include/kb_redirect.h"
  -Wno-everything -Werror=implicit-function-declaration -Werror=incompatible-pointer-types)

# name | sources | extra flags
zlib_flags=(-DHAVE_UNISTD_H -DHAVE_STDARG_H -I"$zlib")
elf_flags=(-DHAVE_CONFIG_H -I"$here/libelf" -I"$elfutils/lib" -I"$elfutils/libelf" -I"$zlib")
bpf_flags=(-I"$libbpf/src" -I"$libbpf/include" -I"$libbpf/include/uapi" -I"$elfutils/libelf" -I"$zlib" -I"$out/include")

zlib_srcs=(adler32 crc32 deflate gzclose gzlib gzread gzwrite inffast inflate inftrees trees zutil)
elf_srcs=$(sed -n '/^libelf_a_SOURCES/,/^$/p' "$elfutils/libelf/Makefile.am" | tr -d '\\' | sed 's/libelf_a_SOURCES =//' | tr -s ' \t\n' '\n' | sed -n 's/\.c$//p')
# libbpf's library objects less the ones whose job is not loading: netlink
# (XDP/TC attach), linker, ringbuf/perf readers (in TypeScript instead).
bpf_srcs=(bpf btf btf_dump libbpf libbpf_errno nlattr str_error libbpf_probes
  bpf_prog_linfo hashmap strset gen_loader relo_core usdt)

deps_newest=$(find "$here/include" "$here/libelf/config.h" "$0" -type f -printf '%T@\n' | sort -n | tail -1)
todo=$out/todo.txt; : > "$todo"
add() { # add GROUP SRC_FILE FLAGS... : queue a compile unless the object is up to date
  local group=$1 file=$2; shift 2
  local obj=$out/obj/$group/$(basename "${file%.c}").o
  if [ -f "$obj" ] && [ "$obj" -nt "$file" ] && \
     awk -v a="$(stat -c %.Y "$obj")" -v b="$deps_newest" 'BEGIN{exit !(a>=b)}'; then return; fi
  mkdir -p "$(dirname "$obj")"
  printf '%s\t%s\t%s\n' "$obj" "$file" "$*" >> "$todo"
}
for s in "${zlib_srcs[@]}"; do add zlib "$zlib/$s.c" "${zlib_flags[@]}"; done
for s in $elf_srcs; do add libelf "$elfutils/libelf/$s.c" "${elf_flags[@]}"; done
for s in "${bpf_srcs[@]}"; do add libbpf "$libbpf/src/$s.c" "${bpf_flags[@]}"; done
add shim "$here/host.c"
add shim "$here/glue.c" "${bpf_flags[@]}"

printf '%s\n' "${common[@]}" > "$out/common.flags"
n=$(wc -l < "$todo")
if [ "$n" -gt 0 ]; then
  echo "wasm: compiling $n C files for wasm32-wasi"
  export CC out
  # shellcheck disable=SC2016
  tr '\n' '\0' < "$todo" | xargs -0 -P "$jobs" -n 1 bash -c '
    IFS=$(printf "\t") read -r obj file flags <<< "$1"
    mapfile -t common < "$out/common.flags"
    # shellcheck disable=SC2086
    "$CC" "${common[@]}" $flags -c "$file" -o "$obj.tmp" && mv "$obj.tmp" "$obj"' _
fi

exports=$(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)$/-Wl,--export=\1/p' "$here/exports.txt")
# shellcheck disable=SC2086
"$CC" --target=wasm32-wasi --sysroot="$sysroot" -mexec-model=reactor -O2 \
  -Wl,--initial-memory=16777216 -Wl,-z,stack-size=1048576 -Wl,--strip-debug \
  $exports \
  "$out"/obj/shim/*.o "$out"/obj/libbpf/*.o "$out"/obj/libelf/*.o "$out"/obj/zlib/*.o \
  -lwasi-emulated-mman -lwasi-emulated-signal -lwasi-emulated-process-clocks -lwasi-emulated-getpid \
  -o "$out/libbpf.wasm.tmp"
mv "$out/libbpf.wasm.tmp" "$out/libbpf.wasm"
echo "wasm: $out/libbpf.wasm ($(stat -c %s "$out/libbpf.wasm") bytes)"
