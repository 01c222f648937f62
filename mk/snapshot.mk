# Start-up snapshots of the CLI (issue 13; bin/snapshot.ts says what is in
# one): `node --build-snapshot` saves the heap with the CLI's modules loaded
# and initialised, so a start from it skips reading, compiling and running
# them (~50 ms of CPU per `trace` start on Node 20). A blob loads only into
# the Node binary that built it and under the same V8 flags, so one is built
# per Node binary: the `node` on PATH and the cached 22 (mk/node.mk),
# each as dist/snapshot/N.blob beside N.node, a symlink to the binary it
# belongs to. bin/kprobe-bpf runs a blob only when its N.node is the node it
# is about to run (same file, not newer than the blob) and the blob is not
# older than dist/; otherwise the bundle, as before. A Node too old for
# user-land snapshots (before 18.20/20) just gets none, and so does Node 24
# and newer: measured interleaved against its bundle (which its compile cache
# already serves), its snapshot saved no CPU (185 against 170 ms, 190 against
# 190) and cost 1.4 MiB of RSS.
SNAPSHOT_MAX_MAJOR := 23
SNAPSHOT_DIR := dist/snapshot
SNAPSHOT_ENTRY := $(SNAPSHOT_DIR)/entry.cjs
SNAPSHOT_STAMP := $(SNAPSHOT_DIR)/.built
# bin/kprobe-bpf's NODE_FLAGS: a blob built under other V8 flags is refused at start
SNAPSHOT_NODE_FLAGS := --max-semi-space-size=1 --v8-pool-size=1 --expose-gc
SNAPSHOT_NODES = $(shell command -v node) $(abspath $(NODE_BINS))
BUILD_TARGETS += $(SNAPSHOT_STAMP)

.PHONY: snapshot
snapshot: $(SNAPSHOT_STAMP)

# import.meta.url has no meaning in a snapshot's CommonJS: bin/snapshot.ts sets the global at each start.
# Short local names (--keep-names keeps functions' and classes' own): the
# source stays in the heap, and 126 KB less of it kept an idle trace's peak
# RSS 0.3 MiB lower (under 60 MiB on Node 20).
$(SNAPSHOT_STAMP): $(TSC_STAMP) $(NODE_BINS) bin/kprobe-bpf
	rm -rf $(SNAPSHOT_DIR)
	$(ESBUILD) dist/bin/snapshot.js $(subst --format=esm,--format=cjs,$(ESBUILD_FLAGS)) \
	  --minify-identifiers --define:import.meta.url=globalThis.__kprobeBpfModuleUrl --outfile=$(SNAPSHOT_ENTRY)
	n=0; for node in $(SNAPSHOT_NODES); do \
	  n=$$((n + 1)); \
	  major=$$("$$node" -p 'process.versions.node.split(".")[0]'); \
	  if [ "$$major" -gt $(SNAPSHOT_MAX_MAJOR) ]; then echo "no start-up snapshot for $$node (Node $$major: its bundle starts as fast)"; continue; fi; \
	  if (cd $(SNAPSHOT_DIR) && "$$node" $(SNAPSHOT_NODE_FLAGS) --snapshot-blob $$n.blob --build-snapshot entry.cjs 2>/dev/null); then \
	    ln -s "$$node" $(SNAPSHOT_DIR)/$$n.node; \
	  else echo "no start-up snapshot for $$node ($$("$$node" --version))"; rm -f $(SNAPSHOT_DIR)/$$n.blob; fi; \
	done
	@touch $@
