// The comm column against the kernel's uprobe tracer. The target hits a
// uprobe, renames itself (PR_SET_NAME, as an exec would), and hits it again;
// the kernel's trace names both hits by the later name (saved_cmdlines holds
// the pid's last name, read when the trace is printed). `kprobe-bpf trace`
// prints the name at each hit by default, and the kernel's with --ftrace-comm.
// (--pipe names a line as last seen when it is read, as trace_pipe does:
// when that is depends on the ring's wakeups, so it is tested on the printer,
// test/runtime/comm-printer.test.ts.)
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uprobeEventsSkipReason } from '../lib/kernel.js';
import { sameRun, type SameRunTarget } from './lib/same-run.js';

const skip = uprobeEventsSkipReason();

const RENAME_C = `
#include <sys/prctl.h>
#include <unistd.h>
volatile long kpb_sink;
__attribute__((noinline)) long kpb_tick(long i) { asm volatile("" ::: "memory"); return i; }
int main(void)
{
	kpb_sink += kpb_tick(0);
	usleep(20000);
	prctl(PR_SET_NAME, "kpbrenamed");
	usleep(20000);
	kpb_sink += kpb_tick(1);
	return 0;
}
`;

/** Builds the renaming target; its kpb_tick's file offset from nm (PIE text sits at its file offset). */
function renameTarget(dir: string): SameRunTarget {
  const path = join(dir, 'kpbcomm');
  writeFileSync(`${path}.c`, RENAME_C);
  execFileSync('gcc', ['-O1', '-o', path, `${path}.c`], { stdio: 'pipe' });
  const sym = execFileSync('nm', [path], { encoding: 'utf8' }).split('\n').find((l) => / T kpb_tick$/.test(l));
  if (!sym) throw new Error('nm: no kpb_tick');
  const off = BigInt(`0x${sym.split(' ')[0]}`);
  return { command: path, probe: (g) => `p:${g}/tick ${path}:0x${off.toString(16)} i=%di:s64`, comms: ['kpbcomm', 'kpbrenamed'] };
}

const CASES = [
  { args: [], want: ['kpbcomm', 'kpbrenamed'], what: 'the name at each hit (default)' },
  { args: ['--ftrace-comm'], want: 'kernel', what: "the kernel's saved name (--ftrace-comm)" },
] as const;

for (const c of CASES) {
  t.test(`comm: ${c.what}`, { skip }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kpb-comm-'));
    try {
      const run = await sameRun({ tag: `comm${c.args.length}`, clock: 'local', args: c.args }, renameTarget(dir));
      t.equal(run.cli.code, 0, 'kprobe-bpf trace exits 0', { stderr: run.cli.stderr });
      t.same(run.kernel.map((l) => l.comm), ['kpbrenamed', 'kpbrenamed'], "the kernel names both hits by the pid's last name");
      t.same(run.ours.map((l) => l.body), run.kernel.map((l) => l.body), 'the same hits');
      t.same(run.ours.map((l) => l.comm), c.want === 'kernel' ? run.kernel.map((l) => l.comm) : c.want, c.what);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
