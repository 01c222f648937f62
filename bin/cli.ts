#!/usr/bin/env -S node --max-semi-space-size=1 --v8-pool-size=1 --expose-gc
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
//
// --v8-pool-size=1 (Node's option, not V8's: a snapshot blob does not
// mind it): one V8 worker thread instead of one per core. Each worker that
// ran a TurboFan job (the printer's functions get hot in the first second of
// a trace) kept its own glibc malloc arena of the job's zone memory: 200k
// string events peaked 2.2 MiB lower on Node 20 (64.6 -> 62.4 MiB, medians of
// 3) and 3.4 MiB lower on 22, at no measured cost to the print rate.
//
// --expose-gc: the trace collects start-up's garbage (lib/gc.ts) before it
// attaches, so the records' allocations reuse that space instead of growing
// the heap (-0.5 MiB of a 200k-event trace's peak, ~8 ms while the -c
// command is still held).
import { performance } from 'node:perf_hooks';
import { enableCompileCache } from './compile-cache.js';

const started = performance.now();
enableCompileCache();
const { main } = await import('./main.js');
await main(process.argv.slice(2), started);
