// V8's compile cache (node:module enableCompileCache, Node 22.1+): the
// bytecode of our ~120 modules is kept on disk per user, so a start after the
// first skips compiling them. Node keys entries by file and content, so one
// directory serves a checkout and an installed package alike. On Node 20
// (no such function) or an unwritable directory nothing happens: the cache is
// a speed-up, never a reason to fail.
import module from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

type EnableCompileCache = (dir?: string) => unknown;

/** $XDG_CACHE_HOME/kprobe-bpf/v8 (default ~/.cache/kprobe-bpf/v8). */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'kprobe-bpf', 'v8');
}

/** Turns the cache on where this Node has it; silent otherwise. */
export function enableCompileCache(): void {
  const enable = (module as unknown as { enableCompileCache?: EnableCompileCache }).enableCompileCache;
  if (typeof enable !== 'function') return;
  try {
    enable(compileCacheDir());
  } catch {
    // a cache we cannot write is no error of the user's run
  }
}
