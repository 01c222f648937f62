// Differential test: thousands of generated filters written to the live
// kernel's own events/GRP/EVENT/filter (uprobe events with every argument
// type, in a private tracefs instance) and compiled by us. The kernel's
// answer is the expected value: accepted or not, errno, what the filter file
// reads back, and the error_log entry with its caret.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filterTypeOf, kallsymsHost, localFilterHost, runningKernelRules } from '../../../grammar/filter/index.js';
import { askOurs, askOursGroup, buildFilterTarget, createFilterStand, sameFilterAnswer, type ProbeSpec } from '../../lib/filter-kernel.js';
import { uprobeEventsSkipReason, withKernelLock } from '../../lib/kernel.js';
import { buildFilterCorpus, EDGE_FILTERS, type CorpusEvent } from './corpus.js';

/** Every uprobe argument type (symbol and symstr are kprobe-only); `shadow` names args after the generic fields. */
const PROBES: ProbeSpec[] = [
  { event: 'all', args: 'i8=%di:s8 i16=%di:s16 i32=%di:s32 i64=%di:s64 u8=%di:u8 u16=%di:u16 u32=%di:u32 u64=%di:u64 '
    + 'x8=%di:x8 x16=%di:x16 x32=%di:x32 x64=%di:x64 s=+0(%si):string us=+0(%si):ustring ch=+0(%si):char '
    + 'cs=+0(%si):char[4] c2=+0(%si):char[2] c3=+0(%si):char[3] a32=+0(%si):u32[4] a8=+0(%si):u8[3] a16=+0(%si):u16[2] '
    + 'sa=+0(%si):string[2] bf=+0(%si):b3@2/32' },
  { event: 'shadow', args: 'cpu=%di:u16 comm=+0(%si):string COMM=%di:s32 n=%di:x8' },
];

function gccSkipReason(): string | undefined {
  try { execFileSync('gcc', ['--version'], { stdio: 'pipe' }); return undefined; } catch { return 'gcc is not installed'; }
}

const skip = uprobeEventsSkipReason() ?? gccSkipReason();

t.test('the filter front end agrees with the live kernel on every generated filter', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kbf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = buildFilterTarget(dir);
  const stand = await withKernelLock(() => createFilterStand(target, PROBES));
  t.teardown(() => withKernelLock(() => stand.remove()));

  const rules = runningKernelRules();
  const host = kallsymsHost(readFileSync('/proc/kallsyms', 'utf8'), localFilterHost().nrCpuIds);
  const vfsRead = host.symbolAddress?.('vfs_read');
  const symbols = ['vfs_read', 'nosuch_kbf_fn', `0x${(vfsRead ?? 0n).toString(16)}`, '0x5', '0xzz', '1'.repeat(25), '', 'vfs_read)', '0'];
  const events: CorpusEvent[] = PROBES.map((p) => ({
    name: p.event,
    fields: stand.fields.get(p.event)!.map((f) => ({ name: f.name, string: filterTypeOf(f.type, rules).endsWith('string') })),
  }));
  const seed = process.env.KPROBE_BPF_FILTER_SEED ? Number(process.env.KPROBE_BPF_FILTER_SEED) : 0x5eed;
  const count = Number(process.env.KPROBE_BPF_FILTER_COUNT ?? 2200);
  const corpus = [...EDGE_FILTERS, ...buildFilterCorpus(events, count, seed, symbols)];

  const disagreements: string[] = [];
  const messages = new Map<string, number>();
  let accepted = 0;
  for (const { event, filter } of corpus) {
    const kernel = stand.ask(event, filter);
    const ours = askOurs(filter, stand.fields.get(event)!, rules, host);
    if (kernel.accepted) accepted++;
    const msg = kernel.log[0]?.split('\n')[0] ?? 'accepted';
    messages.set(msg, (messages.get(msg) ?? 0) + 1);
    if (!sameFilterAnswer(kernel, ours)) {
      disagreements.push(`${event}: ${JSON.stringify(filter)}\n  kernel: ${JSON.stringify(kernel)}\n  ours:   ${JSON.stringify(ours)}`);
    }
  }
  const agree = corpus.length - disagreements.length;
  t.comment(`filter differential: ${agree}/${corpus.length} agree (${accepted} accepted by the kernel)`);
  t.comment([...messages].sort((a, b) => b[1] - a[1]).map(([m, n]) => `${n}\t${m}`).join('\n'));
  for (const d of disagreements.slice(0, 40)) t.fail('disagreement', { diagnostic: true, found: d });
  t.ok(corpus.length >= 2000, `${corpus.length} filters`);
  t.equal(disagreements.length, 0, `${agree}/${corpus.length} filters agree with the kernel`);

  // Group filters: the same text on both events; an event it does not fit keeps the group error.
  const groupCorpus = buildFilterCorpus(events, 200, seed + 1, symbols);
  const groupDisagreements: string[] = [];
  for (const { filter } of groupCorpus) {
    const kernel = stand.askGroup(filter);
    const ours = askOursGroup(filter, stand.fields, rules, host);
    if (!sameFilterAnswer(kernel, ours)) groupDisagreements.push(`${JSON.stringify(filter)}\n  kernel: ${JSON.stringify(kernel)}\n  ours:   ${JSON.stringify(ours)}`);
  }
  for (const d of groupDisagreements.slice(0, 20)) t.fail('group disagreement', { diagnostic: true, found: d });
  t.equal(groupDisagreements.length, 0, `${groupCorpus.length - groupDisagreements.length}/${groupCorpus.length} group filters agree with the kernel`);
});
