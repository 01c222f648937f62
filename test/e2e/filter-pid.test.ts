// -p PID and the -c command's process are filtered inside the program (a
// scope map the runtime fills), so another process hitting the same probe
// never sends a record: the printer no longer drops other processes' records
// when the program does, so a record of theirs would show here. Two copies
// of one gcc-built target run at once, each passing its own id to the
// probed function.
import t from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uprobeEventsSkipReason } from '../lib/kernel.js';
import { runCli, traceLines } from './lib/runs.js';

const TARGET_C = `#include <stdlib.h>
#include <unistd.h>
volatile long sink;
__attribute__((noinline)) long kpbp_hit(long id, long i) { asm volatile("" ::: "memory"); return id + i; }
int main(int argc, char **argv)
{
	long id = atol(argv[1]), n = atol(argv[2]);
	for (long i = 0; i < n; i++) { sink += kpbp_hit(id, i); usleep(10000); }
	return 0;
}
`;

/** The ids of the records traced, in order. */
const ids = (stdout: string): string[] => traceLines(stdout).map((l) => /id=(\d+)/.exec(l.body)?.[1] ?? '?');

t.test('only the traced process sends records, another one hitting the same probe sends none', { skip: uprobeEventsSkipReason() }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-pid-'));
  const others: ChildProcess[] = [];
  try {
    const path = join(dir, 'kpbptarget');
    writeFileSync(join(dir, 't.c'), TARGET_C);
    execFileSync('gcc', ['-O1', '-o', path, join(dir, 't.c')], { stdio: 'pipe' });
    const line = `p:kpbpid${process.pid}/hit ${path}:kpbp_hit id=%di:s64 i=%si:s64`;
    // the other process: hits the probe every 10 ms for the whole test
    const other = spawn(path, ['2', '100000'], { stdio: 'ignore' });
    others.push(other);

    const withC = await runCli(['trace', '-e', line, '-c', `${path} 1 20`]);
    t.equal(withC.code, 0, 'trace -c exits 0', { stderr: withC.stderr });
    t.same(ids(withC.stdout), Array(20).fill('1'), "-c: the command's 20 hits, none of the other process's");
    t.match(withC.stdout, /entries-in-buffer\/entries-written: 20\/20 /, '-c: the header counts the command\'s records only');

    const traced = spawn(path, ['3', '300'], { stdio: 'ignore' });
    others.push(traced);
    const withP = await runCli(['trace', '-e', line, '-p', String(traced.pid), '--duration', '1']);
    t.equal(withP.code, 0, 'trace -p exits 0', { stderr: withP.stderr });
    const got = ids(withP.stdout);
    t.ok(got.length >= 20, `-p: the process's hits over a second (${got.length})`);
    t.same([...new Set(got)], ['3'], "-p: none of the other process's");
    t.equal(other.exitCode, null, 'the other process ran all along');
  } finally {
    for (const c of others) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
