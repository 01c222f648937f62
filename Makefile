# kprobe-bpf front door. `make` builds, `make test` installs what is missing,
# builds and runs every test, `make demo` traces the bundled workload,
# `make bench` prints the benchmark tables.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := all

NPM_STAMP := node_modules/.kprobe-bpf-stamp
TSC_STAMP := dist/.build-stamp
TS_SOURCES := $(shell find lib grammar compiler bpf runtime bin api test bench -name '*.ts' -not -path '*/node_modules/*' 2>/dev/null)

# Debian packages the tests and build need; mk/*.mk fragments add theirs.
APT_PACKAGES := gcc llvm bpftool
BUILD_TARGETS :=
TEST_FILES := 'dist/test/**/*.test.js'

include $(sort $(wildcard mk/*.mk))

.PHONY: all build deps apt-deps test demo bench clean
all: deps build

deps: $(NPM_STAMP) apt-deps

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Installs only what dpkg does not already have, so a warm machine pays nothing.
apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ -n "$$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then :; else apt-get update -qq; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 $$missing >/dev/null; \
	fi

$(TSC_STAMP): $(NPM_STAMP) $(TS_SOURCES) tsconfig.json
	node_modules/.bin/tsc -p tsconfig.json
	@touch $@

build: $(TSC_STAMP) $(BUILD_TARGETS)

test: deps build
	node_modules/.bin/tap --reporter=tap $(TEST_FILES) | node test/summary.mjs

bench: deps build
	node dist/bench/run.js

# The bundled workload traced with uprobes; kernel probes are added and, on a
# kernel without kprobes, reported as not attached.
DEMO_BIN := build/demo/workload
$(DEMO_BIN): demo/workload.c
	@mkdir -p $(dir $@)
	gcc -O1 -g -o $@ $<

demo: deps build $(DEMO_BIN)
	./bin/kprobe-bpf trace -f demo/events.txt -f demo/kernel-events.txt -c $(DEMO_BIN) --profile

clean:
	rm -rf dist build .tap
