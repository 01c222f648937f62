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

# The bridge's tables come from the newest UAPI header Debian ships
# (bpf/wasm/uapi-header.sh: trixie-backports' linux-libc-dev, fetched with a
# private apt state), not libbpf 1.1.2's copy (about Linux 6.2): the kernel
# may be newer, and a field the bridge does not know (a pointer added since)
# must be one it refuses rather than passes on. The UAPI only appends, so
# libbpf's own attrs are a prefix of these layouts.
# The offsets are the x86-64 ABI's (how the kernel reads the attr); the
# layout check compiles for wasm32 and fails the build unless the wasm side
# lays out every attr and info field the same way.
WASM_UAPI_DIR := $(WASM_DIR)/uapi
WASM_UAPI_HEADER := $(WASM_UAPI_DIR)/usr/include/linux/bpf.h

$(WASM_UAPI_HEADER): bpf/wasm/uapi-header.sh | $(WASM_SRC_STAMP)
	bash bpf/wasm/uapi-header.sh $(WASM_UAPI_DIR) $$(ls -d $(WASM_SRC)/libbpf-*/include/uapi/linux/bpf.h | head -1)

$(WASM_UAPI): $(WASM_UAPI_HEADER) bpf/wasm/gen-uapi.ts | $(TSC_STAMP) $(WASM_MODULE)
	node dist/bpf/wasm/gen-uapi.js $(WASM_UAPI_HEADER) $@.new
	clang --target=wasm32-wasi --sysroot=$(WASM_DIR)/sysroot -I$(WASM_UAPI_DIR)/usr/include \
	  -fsyntax-only $(WASM_DIR)/bpf-uapi.layout-check.c
	mv $@.new $@
