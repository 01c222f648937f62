#!/usr/bin/env node
// kprobe-bpf's entry: turns on V8's compile cache (Node 22.1+), then loads
// the CLI (main.ts) — so main and everything it imports come from the cache.
// In the bundle (mk/bundle.mk) this file stays its own small module for the
// same reason: a module cannot be compiled from a cache it enables itself.
// The package's `bin` is the bundled copy of this file.
import { performance } from 'node:perf_hooks';
import { enableCompileCache } from './compile-cache.js';

const started = performance.now();
enableCompileCache();
const { main } = await import('./main.js');
await main(process.argv.slice(2), started);
