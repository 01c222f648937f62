// The Node flags the CLI runs under (issue 13: they hold its peak RSS down)
// are written in three places that must agree: bin/cli.ts's shebang (the
// npm package's bin), bin/kprobe-bpf's NODE_FLAGS (the checkout's launcher)
// and mk/snapshot.mk's SNAPSHOT_NODE_FLAGS (a blob built under other V8 flags
// is refused at start, silently costing the snapshot's start-up). And the
// garbage collection a trace asks for before it attaches (lib/gc.ts) happens
// under those flags and is a no-op without them.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { collectGarbage } from '../../lib/gc.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (p: string) => readFileSync(ROOT + p, 'utf8');
const GC_JS = fileURLToPath(new URL('../../lib/gc.js', import.meta.url));

const shebang = /^#!\/usr\/bin\/env -S node (.*)$/m.exec(read('bin/cli.ts'))?.[1]?.trim().split(/\s+/) ?? [];
const launcher = /^NODE_FLAGS="?([^"\n]*)"?$/m.exec(read('bin/kprobe-bpf'))?.[1]?.trim().split(/\s+/) ?? [];
const snapshot = /^SNAPSHOT_NODE_FLAGS := (.*)$/m.exec(read('mk/snapshot.mk'))?.[1]?.trim().split(/\s+/) ?? [];

t.test('the shebang, the launcher and the snapshot build use the same flags', async (t) => {
  t.ok(shebang.length > 0, `bin/cli.ts's shebang has flags: ${shebang.join(' ')}`);
  t.same(launcher, shebang, 'bin/kprobe-bpf NODE_FLAGS');
  t.same(snapshot, shebang, 'mk/snapshot.mk SNAPSHOT_NODE_FLAGS');
});

/** heapUsed after dropping ~8 MiB of old-generation garbage and calling collectGarbage(), in a child under flags. */
function afterCollect(flags: readonly string[]): { collected: boolean; dropMiB: number } {
  const script = `
    const { collectGarbage } = await import(${JSON.stringify(GC_JS)});
    let keep = [];
    for (let i = 0; i < 2000; i++) keep.push(new Array(512).fill(i));
    // survive two scavenges: old generation, where only a full GC frees it
    for (let j = 0; j < 2; j++) for (let i = 0; i < 4000; i++) new Array(64).fill(j);
    keep = null;
    const before = process.memoryUsage().heapUsed;
    const collected = collectGarbage();
    const after = process.memoryUsage().heapUsed;
    process.stdout.write(JSON.stringify({ collected, dropMiB: (before - after) / 1048576 }));`;
  const out = execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return JSON.parse(out) as { collected: boolean; dropMiB: number };
}

t.test('under those flags a trace\'s collectGarbage() collects; without them it does nothing', async (t) => {
  const on = afterCollect(shebang);
  t.ok(on.collected, 'gc exposed under the shebang\'s flags');
  t.ok(on.dropMiB > 4, `the dropped arrays freed: ${on.dropMiB.toFixed(1)} MiB`);
  const off = afterCollect([]);
  t.notOk(off.collected, 'plain node: not collected');
  t.ok(off.dropMiB < 4, `nothing freed on request: ${off.dropMiB.toFixed(1)} MiB`);
  t.equal(collectGarbage(), typeof (globalThis as { gc?: unknown }).gc === 'function', 'in this process: as its flags allow');
});
