// Event filters judged by the kernel's own: one definition defined once per
// filter (numbers of each width and sign, strings with ==, != and the ~ fast
// paths and their '!' negation, globs, &&, ||, !, cpu, comm, common_pid), one run
// of a small gcc-built target under the kernel's uprobe tracer with each
// filter written to events/GRP/EVENT/filter, one under `kprobe-bpf trace`
// with the same filters as `--filter GRP/EVENT:FILTER`. Compared: each
// event's trace lines, the header's entries counts, and the profile's hits
// (filtered-out hits included, as uprobe_profile counts them). The target
// runs pinned to CPU 0 (so `cpu` filters decide alike) and starts a thread
// named kpbfchild (so `comm` filters do). %dx is never a mapped address:
// `sf` faults reading its string and `df` at its dereference, before `s`.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { resolveFileSymbol } from '../../runtime/elf-symbols.js';
import { headerOf, kernelRun, ourProfile, runCli, setarchWorks, traceLines, type TraceLine } from './lib/runs.js';

const TARGET_C = `#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
volatile long sink;
__attribute__((noinline)) long kpbf_hit(long n, const char *s, unsigned long u, long v)
{
	asm volatile("" ::: "memory");
	return n + (long)strlen(s) + (long)u + v;
}
static const char *words[] = { "alpha", "beta", "gamma", "delta", "alphabet", "", "phtaph", "zeta", "ta", "al", "x" };
static void run(int base)
{
	for (int i = 0; i < 11; i++) {
		sink += kpbf_hit(base + i, words[i % 11], (unsigned long)(i * 37 % 256) | ((unsigned long)i << 40), (long)(i - 10));
		/* each hit reserves a record of up to 4 KiB in the BPF ring buffer, held until the reader passes it, filtered out or not: let it keep up */
		usleep(2000);
	}
}
static void *child(void *arg)
{
	prctl(PR_SET_NAME, "kpbfchild");
	run(100);
	return arg;
}
int main(void)
{
	pthread_t th;
	/* touch the strings first: a non-sleepable program cannot fault their page in (README: Known differences) */
	for (int i = 0; i < 11; i++)
		sink += (long)strlen(words[i]);
	run(0);
	if (pthread_create(&th, 0, child, 0) == 0)
		pthread_join(th, 0);
	run(200);
	return 0;
}
`;

const FILTERS: readonly string[] = [
  'n == 3',
  'n > 5 && n <= 106',
  'v < -2',
  'v >= -8 && v != -5',
  'u8 == 185 || u8 & 0x80',
  'u16 != 111 && u32 > 100',
  'u == 0x150000000b9',
  'ux & 0x10000000000',
  's == "alpha"',
  's != "beta"',
  's ~ "al*"',
  's ~ "*ta"',
  's ~ "*ph*"',
  's ~ "!*ph*"',
  's ~ "alpha"',
  's == ""',
  's ~ "*"',
  's ~ "a?p*"',
  's ~ "*t[a-e]"',
  's ~ "[ab]*a"',
  's ~ "?h*a?h" || s ~ "a*b"',
  'comm ~ "kpbf?hild"',
  '!(n & 1) || s != "beta"',
  's == "alpha" || (n >= 10 && !(s ~ "b*"))',
  'cpu == 0 && n < 4',
  'CPU > 0',
  'comm == "kpbfchild"',
  'comm ~ "*child"',
  'COMM ~ "kpbf*" && n > 105',
  'common_pid > 0 && common_pid != 1 && n < 2',
  'sv < -2 && sv > -9',
  'x0 == 0',
  // numeric conjuncts tested before the string is fetched (compiler/filter-order.ts), and shapes where nothing may move
  'n == 4 && s ~ "alpha*"',
  'n == 1 && s ~ "x*"',
  'n < 105 && s ~ "*ta"',
  '!(n > 3 || s == "beta")',
  '(n == 1 || n == 104) && s != "x"',
  'common_pid != 1 && s ~ "*a" && v > -6',
  'u8 == 185 || s ~ "al*"',
  // faulted strings: the matchers read the string at the field's offset (s, which follows), but `end` never
  // matches and glob sees "" (len 0); a faulted dereference leaves the rest of the area as the length
  'sf == "beta"',
  'sf ~ "*ph*" || sf ~ "al*"',
  'sf ~ "*ta"',
  'sf ~ "a?p*"',
  'sf == ""',
  'df == "alpha" || df ~ "*ta"',
  'df ~ "g*" && sf != "x"',
];

for (const sleepable of [true, false]) {
t.test(`filtered events keep exactly the records the kernel's filters keep (${sleepable ? 'sleepable programs, ring buffer: discard' : '--no-sleepable, perf ring: no output'})`, { skip: uprobeEventsSkipReason() }, async (t) => {
  const noSetarch = setarchWorks();
  if (noSetarch) { t.fail(`cannot run the target without ASLR: ${noSetarch}`); return; }
  await withKernelLock(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpb-filter-'));
    try {
      const path = join(dir, 'kpbftarget');
      writeFileSync(join(dir, 't.c'), TARGET_C);
      execFileSync('gcc', ['-O1', '-pthread', '-o', path, join(dir, 't.c')], { stdio: 'pipe' });
      const off = resolveFileSymbol(path, 'kpbf_hit', 0n);
      const group = `kpbfilter${process.pid}${sleepable ? 's' : 'a'}`;
      const args = 'n=%di:s64 df=+0(+0(%dx)):string sf=+0(%dx):string s=+0(%si):string u=%dx:u64 ux=%dx:x64 u8=%dx:u8 u16=%dx:u16 u32=%dx:u32 v=%cx:s64 sv=%cx:s32 x0=%r8:s8';
      const defs: [string, string][] = FILTERS.map((_, i) => [`f${i}`, `p:${group}/f${i} ${path}:0x${off.toString(16)} ${args}`]);
      const filters = new Map(FILTERS.map((f, i) => [`f${i}`, f]));
      const command = ['taskset', '-c', '0', 'env', '-i', path];
      const kernel = kernelRun(group, defs, command, filters);
      const file = join(dir, 'events.txt');
      writeFileSync(file, defs.map(([, l]) => l).join('\n') + '\n');
      const ours = await runCli(['trace', '-f', file, ...FILTERS.flatMap((f, i) => ['--filter', `${group}/f${i}:${f}`]), '-c', command.join(' '), '--profile', ...(sleepable ? [] : ['--no-sleepable'])], { setarch: true });
      t.equal(ours.code, 0, 'kprobe-bpf trace exits 0', { stderr: ours.stderr });
      if (process.env.KPB_FILTER_DEBUG) console.error(ours.stderr);
      const byEvent = (lines: TraceLine[]) => {
        const m = new Map<string, string[]>();
        for (const l of lines) { const ev = l.body.split(':')[0]!; m.set(ev, [...(m.get(ev) ?? []), `${l.comm} ${l.body}`]); }
        return m;
      };
      const k = byEvent(traceLines(kernel.trace)), o = byEvent(traceLines(ours.stdout));
      const prof = ourProfile(ours.stderr);
      let agree = 0;
      for (const [ev, filter] of filters) {
        const want = k.get(ev) ?? [], got = o.get(ev) ?? [];
        if (JSON.stringify(want) === JSON.stringify(got)) agree++;
        else t.same(got, want, `${ev} (${filter}): trace lines`);
        t.equal(prof.get(ev)?.hits, kernel.profile.get(ev), `${ev} (${filter}): hits, filtered-out ones included`);
        t.equal(prof.get(ev)?.misses, 0, `${ev}: no misses (a full ring would make the lines differ for another reason)`);
      }
      t.equal(agree, filters.size, `${agree}/${filters.size} filtered events print the kernel's lines`);
      t.ok([...k.values()].some((l) => l.length > 0) && [...filters.keys()].some((ev) => !k.has(ev)), 'some filters keep records and some keep none');
      t.equal(headerOf(ours.stdout), headerOf(kernel.trace), 'the header: entries-in-buffer/entries-written count kept records only');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
}
