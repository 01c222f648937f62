#!/usr/bin/env -S node --max-semi-space-size=1
// kprobe-bpf's entry: turns on V8's compile cache (Node 22.1+), then loads
// the CLI (main.ts) — so main and everything it imports come from the cache.
// In the bundle (mk/bundle.mk) this file stays its own small module for the
// same reason: a module cannot be compiled from a cache it enables itself.
// The package's `bin` is the bundled copy of this file.
//
// --max-semi-space-size=1 (MiB; the line above, and bin/kprobe-bpf): V8's
// young generation otherwise grows to 16 MiB semi-spaces while records
// stream, which was 5 MiB of peak RSS in a 200k-event trace at no measured
// CPU gain (the printer allocates little per record). V8 reads it only at
// start-up, hence a flag and not v8.setFlagsFromString.
import { performance } from 'node:perf_hooks';
import { enableCompileCache } from './compile-cache.js';

const started = performance.now();
enableCompileCache();
const { main } = await import('./main.js');
await main(process.argv.slice(2), started);
