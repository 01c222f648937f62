// Inside the guest (6.1, 6.12; the host's 6.18 has no kprobes): the event
// filter language against the guest kernel's own events/GRP/EVENT/filter of
// a kprobe event with fields of every kprobe type, in a private tracefs
// instance (its own error_log), with the rules of the guest's release. The
// kernel's answer is the expected value: accepted or not, errno, readback,
// the error_log entry with its caret. Then filtered kprobe and uprobe
// programs, one per kind of filter, through the guest kernel's verifier
// with `check`'s loader (in-process: one node at guest speed).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { compileDefinitions } from '../../compiler/object.js';
import { eventFieldsOf } from '../../compiler/filter-events.js';
import { layoutEvent } from '../../compiler/layout.js';
import { compileFilter, filterTypeOf, kallsymsHost, localFilterHost, type CheckedFilter, type FilterHost } from '../../grammar/filter/index.js';
import { kernelRules, parseProbeCommands, type ProbeDefinition } from '../../grammar/index.js';
import { majorMinor } from '../../grammar/kernel-rules/index.js';
import { checkObject } from '../../runtime/loader.js';
import { askOurs, sameFilterAnswer, type FilterAnswer } from '../lib/filter-kernel.js';
import { withKernelLock } from '../lib/kernel.js';
import { buildFilterCorpus, EDGE_FILTERS, type CorpusEvent } from '../grammar/filter/corpus.js';
import { symbolFileOffset } from './elf-symbol.js';
import { fixture, notInGuestReason } from './env.js';
import { createKprobeFilterStand, type KprobeSpec } from './filter-kprobe-stand.js';
import { dynamicEventsSkipReason } from './ftrace.js';

type Disagreement = { readonly event: string; readonly filter: string; readonly kernel: FilterAnswer; readonly ours: FilterAnswer };
/** Recorded disagreements per guest release, answer for answer (filter-kprobe-known.json). */
const KNOWN = (JSON.parse(readFileSync(new URL('../../../test/guest/filter-kprobe-known.json', import.meta.url), 'utf8')) as {
  known: Record<string, Array<Disagreement & { why: string; varies?: boolean }>>;
}).known;

const skip = notInGuestReason() ?? dynamicEventsSkipReason('kprobe');
const RULES = kernelRules(release());
const FUNC = 'do_sys_openat2';

/** Every kprobe argument type both guest releases know (char arrived after 6.1, symstr in 6.2). */
const PROBES: KprobeSpec[] = [
  { event: 'all', args: 'i8=%di:s8 i16=%di:s16 i32=%di:s32 i64=%di:s64 u8=%di:u8 u16=%di:u16 u32=%di:u32 u64=%si:u64 '
    + 'x8=%di:x8 x16=%di:x16 x32=%di:x32 x64=%dx:x64 s=+0(%si):string us=+0(%si):ustring sym=%ip:symbol '
    + 'a32=+0(%si):u32[4] a8=+0(%si):u8[3] a16=+0(%si):u16[2] sa=+0(%si):string[2] bf=+0(%si):b3@2/32 ret=$stack0 cm=$comm' },
  { event: 'shadow', args: 'cpu=%di:u16 comm=+0(%si):string COMM=%di:s32 n=%di:x8' },
];

t.test(`the filter front end with ${release()}'s rules agrees with its kprobe events' filter files`, { skip }, async (t) => {
  const stand = await withKernelLock(() => createKprobeFilterStand(`kbgf${process.pid}`, FUNC, PROBES));
  t.teardown(() => withKernelLock(() => stand.remove()));
  const rules = RULES.filter;
  const host: FilterHost = kallsymsHost(readFileSync('/proc/kallsyms', 'utf8'), localFilterHost().nrCpuIds);
  const vfsRead = host.symbolAddress?.('vfs_read');
  const symbols = ['vfs_read', 'nosuch_kbf_fn', `0x${(vfsRead ?? 0n).toString(16)}`, '0x5', '0xzz', '1'.repeat(25), '', 'vfs_read)', '0'];
  const events: CorpusEvent[] = PROBES.map((p) => ({
    name: p.event,
    fields: stand.fields.get(p.event)!.map((f) => ({ name: f.name, string: filterTypeOf(f.type, rules).endsWith('string') })),
  }));
  const count = Number(process.env.KPROBE_BPF_FILTER_COUNT ?? 2200);
  const corpus = [...EDGE_FILTERS, ...buildFilterCorpus(events, count, 0x5eed, symbols)];
  const started = Date.now();
  const disagreements: Disagreement[] = [];
  let accepted = 0;
  await withKernelLock(() => {
    for (const { event, filter } of corpus) {
      const kernel = stand.ask(event, filter);
      const ours = askOurs(filter, stand.fields.get(event)!, rules, host);
      if (kernel.accepted) accepted++;
      if (!sameFilterAnswer(kernel, ours)) disagreements.push({ event, filter, kernel, ours });
    }
  });
  const agree = corpus.length - disagreements.length;
  t.comment(`kprobe filter differential on ${release()} (rules ${RULES.version}): ${agree}/${corpus.length} agree (${accepted} accepted by the kernel) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const known = KNOWN[majorMinor(release())] ?? [];
  const isKnown = (d: Disagreement) => known.find((k) => k.event === d.event && k.filter === d.filter && sameFilterAnswer(k.kernel, d.kernel) && sameFilterAnswer(k.ours, d.ours));
  const unexplained = disagreements.filter((d) => !isKnown(d));
  for (const d of disagreements) {
    const k = isKnown(d);
    if (k) t.fail(`known disagreement on ${release()}: ${d.event}: ${JSON.stringify(d.filter)}`, { todo: k.why });
  }
  for (const d of unexplained.slice(0, 40)) t.fail(`disagreement: ${d.event}: ${JSON.stringify(d.filter)}`, { diagnostic: true, found: JSON.stringify(d) });
  // An entry marked `varies` is one the kernel answers differently from run to run: not seeing it is no news.
  for (const k of known.filter((k) => !k.varies && !disagreements.some((d) => isKnown(d) === k))) t.fail(`a recorded disagreement no longer occurs as recorded: ${k.event}: ${JSON.stringify(k.filter)}`, { why: k.why });
  t.ok(corpus.length >= 2000, `${corpus.length} filters`);
  t.equal(unexplained.length, 0, `${agree}/${corpus.length} filters agree with the ${release()} kernel, ${disagreements.length - unexplained.length} known disagreements (todo)`);
});

/** One filter of every kind: numeric, string ==, each glob fast path, a full glob, cpu, comm, &&/||/!. */
const FILTERS = [
  'a > 5', 'b == -1', 'c & 0x80', 'e != 0 && f < 0', 's == "bash"', 's != ""', 's ~ "ba*"', 's ~ "*sh"', 's ~ "*as*"',
  's ~ "b[a-c]?h*"', 'cm ~ "k*b?"', 'cpu == 0', 'CPU != 1', 'comm == "node"', 'COMM ~ "no*"', 'common_pid > 1',
  '!(a == 1) || s ~ "*.so*" && cm == "x"', '(a < 0 || b > 0) && !(g == "ab")', 'cpu & 1 || comm ~ "*de"', 'u >= 4294967295 || h <= -32768',
];
const ARGS = 'a=%di:s64 b=%si:s32 c=%dx:u8 d=%cx:u16 e=%r8:x64 f=%r9:s8 u=%ax:u32 h=%bx:s16 g=+0(%di):string s=+0(%si):string cm=$comm';

t.test(`filtered kprobe and uprobe programs pass the ${release()} verifier`, { skip }, async (t) => {
  const target = fixture('uprobe_target');
  const offset = `0x${symbolFileOffset(target, 'kbpf_target').toString(16)}`;
  const defs: ProbeDefinition[] = [];
  const filters = new Map<string, CheckedFilter>();
  const host: FilterHost = { nrCpuIds: 2 };
  FILTERS.forEach((text, i) => {
    for (const line of [`p:kbgfv/k${i} vfs_read ${ARGS}`, `p:kbgfv/u${i} ${target}:${offset} ${ARGS}`]) {
      const [def] = parseProbeCommands(line, { rules: RULES.probe }).commands;
      if (def?.op !== 'define') { t.fail(`not a definition: ${line}`); continue; }
      filters.set(`${def.group}/${def.event}`, compileFilter(text, eventFieldsOf(layoutEvent(def)), { rules: RULES.filter, host }));
      defs.push(def);
    }
  });
  const { object } = compileDefinitions(defs, { filters });
  const { verdicts, error } = await withKernelLock(() => checkObject(object, { name: 'filters.o' }));
  t.equal(error, '', 'the object opens');
  const failed = verdicts.filter((v) => v.error);
  for (const v of failed) t.fail(`${v.program.name}: ${v.error}`, { log: v.program.log?.slice(-2000) });
  t.equal(verdicts.length - failed.length, defs.length, `${verdicts.length - failed.length}/${defs.length} filtered programs (${FILTERS.length} filters, kprobe and uprobe) pass the ${release()} verifier`);
});
