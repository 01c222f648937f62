# The CLI as one bundle (issue 13): resolving, reading and compiling ~150 ES
# modules was the largest part of a `trace` start-up. esbuild joins
# dist/bin/main.js and everything it imports into dist/bundle/main.js; what a
# command loads lazily (the commands themselves, the compiler, the runtime,
# the trace.dat writer) stays lazy inside it (a dynamic import becomes a
# deferred module initialiser), so `parse` still does not run the wasm
# loader's or koffi's start-up. One file measured faster than esbuild's
# split chunks (~50 files). dist/bundle/cli.js is the entry, bundled apart
# with main.js external: it turns on V8's compile cache before main.js is
# compiled. koffi stays outside (a native addon), required where it is first
# used (bin/bundle-koffi.ts) rather than imported at the bundle's top.
# bin/kprobe-bpf and the package's bin run the bundle; dist/ keeps working
# without it.
ESBUILD := node_modules/.bin/esbuild
BUNDLE_DIR := dist/bundle
BUNDLE := $(BUNDLE_DIR)/cli.js
BUILD_TARGETS += $(BUNDLE)
ESBUILD_FLAGS := --bundle --format=esm --platform=node --target=node20 --alias:koffi=./dist/bin/bundle-koffi.js \
  --keep-names --minify-whitespace --minify-syntax --legal-comments=none --log-level=warning

.PHONY: bundle
bundle: $(BUNDLE)

# main.js first: the entry is written last, so its mtime says the bundle is whole.
$(BUNDLE): $(TSC_STAMP)
	rm -rf $(BUNDLE_DIR)
	$(ESBUILD) dist/bin/main.js $(ESBUILD_FLAGS) --outfile=$(BUNDLE_DIR)/main.js
	$(ESBUILD) dist/bin/cli.js $(ESBUILD_FLAGS) --external:./main.js --outfile=$@
