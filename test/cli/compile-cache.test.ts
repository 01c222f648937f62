// The V8 compile cache directory: per user, under XDG_CACHE_HOME when set;
// the CLI still runs (and says its version) when that directory cannot be written.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { compileCacheDir } from '../../bin/compile-cache.js';

const CLI = new URL('../../bin/cli.js', import.meta.url).pathname;

t.test('XDG_CACHE_HOME is respected, ~/.cache is the default', async (t) => {
  t.equal(compileCacheDir({ XDG_CACHE_HOME: '/x/cache' }), '/x/cache/kprobe-bpf/v8');
  t.equal(compileCacheDir({}), join(homedir(), '.cache', 'kprobe-bpf', 'v8'));
  t.equal(compileCacheDir({ XDG_CACHE_HOME: '' }), join(homedir(), '.cache', 'kprobe-bpf', 'v8'));
});

t.test('an unusable cache directory does not fail the run', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-cc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // a file where the directory would go: nothing can be created under it
  writeFileSync(join(dir, 'file'), '');
  const out = execFileSync(process.execPath, [CLI, '--version'], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: join(dir, 'file') } });
  t.match(out, /^kprobe-bpf \d+\.\d+\.\d+\n$/);
});
