// The reference evaluator against the kernel's own filtering: one uprobe
// event, a target that calls the probed function with known arguments
// (pinned to CPU 0), and for each generated filter the set of calls the
// kernel's tracer recorded against the set evaluateFilter keeps.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { compileFilter, evaluateFilter, filterTypeOf, FilterSyntaxError, localFilterHost, runningKernelRules, type EventField } from '../../../grammar/filter/index.js';
import { buildFilterTarget, createFilterStand } from '../../lib/filter-kernel.js';
import { uprobeEventsSkipReason, withKernelLock } from '../../lib/kernel.js';
import { buildFilterCorpus, type CorpusEvent } from './corpus.js';

const ARGS = 'i8=%di:s8 i16=%di:s16 i32=%di:s32 i64=%di:s64 u8=%di:u8 u16=%di:u16 u32=%di:u32 u64=%di:u64 x8=%di:x8 x16=%di:x16 '
  + 'x32=%di:x32 x64=%di:x64 s=+0(%si):string us=+0(%si):ustring ch=+0(%si):char cs=+0(%si):char[4] c2=+0(%si):char[2] '
  + 'c3=+0(%si):char[3] a16=+0(%si):u16[2] a8=+0(%si):u8[3] bf=+0(%si):b3@2/32';

/** The calls: a distinct `a` each (the trace line's u64 names the call), strings of 4 bytes or more (char[4] stays inside). */
const CALLS: Array<[bigint, string]> = [
  [0n, 'bash'], [1n, 'libc.so.6'], [-1n, 'abcd'], [2n, 'x*yz'], [42n, 'bshh'], [255n, 'kbf_string_long'], [256n, '1234'],
  [65535n, 'with space'], [65536n, 'bash'], [-5n, 'ba?h'], [0x7fffffffn, 'libc.so'], [4294967296n, 'ZZZZ'], [-4294967296n, 'bash.so.6'],
  [1099511627776n, '*.so'], [100n, 'abc[d]'], [7n, '!bash'],
];

const TARGET = [
  '#include <stdlib.h>',
  'long __attribute__((noinline)) f(long a, const char *s) { __asm__ volatile("" ::: "memory"); return a + s[0]; }',
  'int main(int c, char **v) { long t = 0; for (int i = 1; i + 1 < c; i += 2) t += f(strtol(v[i], 0, 0), v[i + 1]); return (int)(t & 1); }',
  '',
].join('\n');

/** The record the kernel builds for one call (the fields this test's filters name). */
function record(fields: readonly EventField[], pid: number, a: bigint, s: string): Uint8Array {
  const data = new Uint8Array(512);
  const v = new DataView(data.buffer);
  v.setInt32(4, pid, true);
  const bytes = Buffer.from(`${s}\0`, 'latin1');
  let dyn = 320;
  for (const f of fields) {
    if (f.type.includes('__data_loc')) {
      data.set(bytes, dyn);
      v.setUint32(f.offset, (bytes.length << 16) | dyn, true);
      dyn += 64;
    } else if (f.name === 'bf') v.setUint32(f.offset, (bytes.readUInt32LE(0) >>> 2) & 7, true);
    else if (/^(ch|cs|c2|c3|a16|a8)$/.test(f.name)) data.set(bytes.subarray(0, f.size), f.offset);
    else if (f.name !== '__probe_ip') for (let i = 0; i < f.size; i++) data[f.offset + i] = Number((BigInt.asUintN(64, a) >> BigInt(8 * i)) & 0xffn);
  }
  return data;
}

const skip = uprobeEventsSkipReason() ?? (spawnSync('taskset', ['-c', '0', 'true']).status === 0 ? undefined : 'taskset cannot pin to CPU 0');

t.test('for every generated filter, the kernel records exactly the calls the evaluator keeps', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kbfs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = buildFilterTarget(dir, TARGET, 'kbfs');
  const stand = await withKernelLock(() => createFilterStand(target, [{ event: 'sem', args: ARGS }]));
  t.teardown(() => withKernelLock(() => stand.remove()));
  const rules = runningKernelRules();
  const host = localFilterHost();
  const fields = stand.fields.get('sem')!;
  const event: CorpusEvent = {
    name: 'sem',
    fields: fields.filter((f) => f.name !== '__probe_ip').map((f) => ({ name: f.name, string: filterTypeOf(f.type, rules).endsWith('string') })),
    generic: ['common_pid', 'cpu', 'CPU', 'common_cpu', 'comm', 'COMM'],
  };
  const dirOf = `${stand.instance}/events/${stand.group}/sem`;
  const argv = CALLS.flatMap(([a, s]) => [a.toString(), s]);
  let compared = 0, refused = 0, partial = 0;
  const disagreements: string[] = [];
  for (const { filter } of buildFilterCorpus([event], 700, 0x5e3a, [])) {
    let checked;
    try { checked = compileFilter(filter, fields, { rules, host }); } catch (e) { if (e instanceof FilterSyntaxError) { refused++; continue; } throw e; }
    writeFileSync(`${dirOf}/filter`, filter);
    writeFileSync(`${stand.instance}/trace`, '');
    writeFileSync(`${dirOf}/enable`, '1');
    const run = spawnSync('taskset', ['-c', '0', target.binary, ...argv]);
    writeFileSync(`${dirOf}/enable`, '0');
    const seen = new Set([...readFileSync(`${stand.instance}/trace`, 'utf8').matchAll(/ u64=(\d+)/g)].map((m) => BigInt(m[1]!)));
    const comm = basename(target.binary).slice(0, 15);
    const kept = new Set(CALLS.filter(([a, s]) => evaluateFilter(checked, { data: record(fields, run.pid!, a, s), cpu: 0, comm }))
      .map(([a]) => BigInt.asUintN(64, a)));
    compared++;
    if (seen.size > 0 && seen.size < CALLS.length) partial++;
    const k = [...seen].sort().join(','), o = [...kept].sort().join(',');
    if (k !== o) disagreements.push(`${JSON.stringify(filter)}\n  kernel kept u64 in {${k}}\n  ours   kept u64 in {${o}}`);
  }
  t.comment(`filter semantics: ${compared - disagreements.length}/${compared} filters keep the same calls as the kernel (${partial} keep some calls but not all; ${refused} refused, not run)`);
  for (const d of disagreements.slice(0, 30)) t.fail('semantic disagreement', { diagnostic: true, found: d });
  t.ok(compared >= 250, `${compared} filters run`);
  t.ok(partial >= 50, `${partial} filters tell the calls apart`);
  t.equal(disagreements.length, 0);
});

