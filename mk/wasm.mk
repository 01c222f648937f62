# libbpf as WebAssembly (issue 4): Debian's sources of libbpf, elfutils'
# libelf and zlib, built with Debian's clang for wasm32-wasi into build/wasm/
# (ignored, cached between runs), plus the bpf(2) layout tables the syscall
# bridge derives from linux/bpf.h. A fresh machine gets here from `make test`
# alone; a warm one finds every target up to date.

# dpkg-dev: apt-get source unpacks with dpkg-source. linux-libc-dev: the
# kernel UAPI headers of the private sysroot. libbpf-dev: the native libbpf the
# load benchmark compares with, and bpf_helpers.h for clang-built test objects.
APT_PACKAGES += clang lld-14 wasi-libc libclang-rt-14-dev-wasm32 dpkg-dev linux-libc-dev libbpf-dev

WASM_DIR := build/wasm
WASM_SRC := $(WASM_DIR)/src
WASM_SRC_STAMP := $(WASM_SRC)/.fetched
WASM_MODULE := $(WASM_DIR)/libbpf.wasm
WASM_UAPI := $(WASM_DIR)/bpf-uapi.json
WASM_SHIMS := $(wildcard bpf/wasm/*.c bpf/wasm/*.sh bpf/wasm/exports.txt bpf/wasm/libelf/* bpf/wasm/include/*.h bpf/wasm/include/*/*.h)

BUILD_TARGETS += $(WASM_MODULE) $(WASM_UAPI)

.PHONY: wasm
wasm: $(WASM_MODULE) $(WASM_UAPI)

# Sources: fetched once (adds a deb-src entry for this release's main if apt
# has none), unpacked in a temporary directory and moved into place whole, so
# an interrupted fetch is retried rather than half-used. The order-only
# apt-deps makes sure dpkg-dev and the compilers are there first.
$(WASM_SRC_STAMP): | apt-deps
	bash bpf/wasm/deb-src.sh
	rm -rf $(WASM_SRC).tmp && mkdir -p $(WASM_SRC).tmp
	cd $(WASM_SRC).tmp && apt-get source -qq libbpf elfutils zlib >/dev/null 2>&1 || \
	  (cd $(WASM_SRC).tmp && apt-get source libbpf elfutils zlib)
	rm -rf $(WASM_SRC) && mv $(WASM_SRC).tmp $(WASM_SRC)
	@touch $@

$(WASM_MODULE): $(WASM_SRC_STAMP) $(WASM_SHIMS)
	bash bpf/wasm/build.sh $(WASM_SRC) $(WASM_DIR)

# The header libbpf is compiled against (its own UAPI copy), so the bridge and
# the wasm side agree on every offset. The generator is TypeScript, compiled
# with everything else.
# The offsets are the x86-64 ABI's (how the kernel reads the attr); the
# layout check compiles for wasm32 and fails the build unless libbpf's side
# lays out every attr and info field the same way.
$(WASM_UAPI): $(WASM_SRC_STAMP) bpf/wasm/gen-uapi.ts | $(TSC_STAMP) $(WASM_MODULE)
	node dist/bpf/wasm/gen-uapi.js $$(ls -d $(WASM_SRC)/libbpf-*/include/uapi/linux/bpf.h | head -1) $@.new
	clang --target=wasm32-wasi --sysroot=$(WASM_DIR)/sysroot -I$$(ls -d $(WASM_SRC)/libbpf-*/include/uapi | head -1) \
	  -fsyntax-only $(WASM_DIR)/bpf-uapi.layout-check.c
	mv $@.new $@
