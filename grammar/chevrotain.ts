// Loads Chevrotain from its single-file bundle. The package's main entry pulls
// in hundreds of small modules (~0.5 s of start-up); the bundle shipped in the
// same package loads in ~10 ms, which keeps `kprobe-bpf parse` quick to start.
import type * as Chevrotain from 'chevrotain';

async function load(): Promise<typeof Chevrotain> {
  try {
    const entry = import.meta.resolve('chevrotain'); // .../chevrotain/lib/src/api.js
    return (await import(new URL('../chevrotain.min.mjs', entry).href)) as typeof Chevrotain;
  } catch {
    return await import('chevrotain');
  }
}

export const chevrotain: typeof Chevrotain = await load();
