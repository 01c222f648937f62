// Where the filter runs in the program (compiler/filter-order.ts): numeric
// conjuncts on the CPU, common_pid and registers before the record is
// reserved, on other fixed-size fields before the strings are fetched, only
// where the answer cannot differ; random filters
// split into stages keep exactly the records the kernel's evaluator keeps
// (the stages' code run in order by the test interpreter on full records).
import t from 'tap';
import { R0 } from '../../../bpf/insn.js';
import { assemble, exit, label, mov64Imm, type AsmItem } from '../../../bpf/asm.js';
import { disassemble } from '../../../bpf/disasm.js';
import { generateProgram } from '../../../compiler/codegen.js';
import { emitFilter, FilterCodegenError } from '../../../compiler/filter-codegen.js';
import { eventFieldsOf } from '../../../compiler/filter-events.js';
import { BEFORE, conjuncts, fetchedBeforeRecord, fetchRank, planFilter, type FilterPlan } from '../../../compiler/filter-order.js';
import { recordCapacity } from '../../../compiler/lower.js';
import { RECORD_PREFIX_SIZE } from '../../../compiler/abi.js';
import type { ProbeProgram } from '../../../compiler/ir.js';
import { compileFilter, evaluateFilter, FilterSyntaxError, filterRulesFor, type CheckedFilter } from '../../../grammar/filter/index.js';
import { lower } from '../unit/lib.js';
import { runFilterCode } from './interp.js';
import { expression, FILTER_TEST_LINE, rng } from './gen.js';
import { record } from './records.js';

const LINE = 'p:g/e /bin/true:0x1000 num=%di:s32 s=+0(%si):string p=+8(%di):u32';
const host = { nrCpuIds: 4 };

function planOf(line: string, text: string): { program: ProbeProgram; filter: CheckedFilter; plan: FilterPlan } {
  const program = lower(line);
  const filter = compileFilter(text, eventFieldsOf(program.format), { host });
  return { program, filter, plan: planFilter(program, filter) };
}

/** Each stage as `after: its predicates`, for compact expectations. */
const shape = (text: string, plan: FilterPlan) =>
  plan.stages.map((s) => `${s.after === BEFORE ? 'before' : s.after}: ${s.filter.predicates.map((p) => text.slice(p.node.span.start, p.node.span.end)).join(' & ')}`);

/** The program's disassembly, one annotation or instruction per line. */
function listing(program: ProbeProgram, filter: CheckedFilter): string[] {
  const { insns } = assemble(generateProgram(program, 1, { filter }));
  return disassemble(insns, { annotate: true, strict: false }).map((l) => l.trim());
}

t.test('num == 1 && s ~ "x*": the register is tested before the record is reserved', async (t) => {
  const text = 'num == 1 && s ~ "x*"';
  const { program, filter, plan } = planOf(LINE, text);
  t.same(shape(text, plan), ['before: num == 1', '3: s ~ "x*"'], 'num == 1 before the record, the string test on the whole record');
  t.same(plan.beforeFetches.map((f) => f.argName), ['num'], 'num is fetched into the window');
  t.same(plan.fetches, program.fetches, 'nothing tested between fetches: their order is kept');
  const l = listing(program, filter);
  const at = (needle: string) => l.findIndex((x) => x.includes(needle));
  t.ok(at('; filter, before the record is reserved') >= 0, '--disasm says where');
  t.ok(at('filter: num == 1') < at('record = task_storage_get'), 'the test comes before the record is taken');
  t.ok(at('record = task_storage_get') < at('; s=+0(%si):string') && at('; s=+0(%si):string') < at('filter: s ~ "x*"'), 'the string test after the string fetch');
  t.equal(l.filter((x) => x.includes('filter: num == 1')).length, 1, 'tested once');
  t.ok(at('the filter drops the hit before its record exists') > 0, 'a dropped hit is still counted');
});

t.test('p > 3 && s ~ "x*": a memory read is tested before the string is fetched', async (t) => {
  const text = 'p > 3 && s ~ "x*"';
  const { program, filter, plan } = planOf(LINE, text);
  t.same(plan.fetches.map((f) => f.argName), ['num', 'p', 's'], 'the fixed-size fields first, the string last');
  t.same(shape(text, plan), ['2: p > 3', '3: s ~ "x*"']);
  t.same(plan.stages[0]!.skips, ['s'], 'a record it drops skips the string fetch');
  const l = listing(program, filter);
  const at = (needle: string) => l.findIndex((x) => x.includes(needle));
  t.ok(at('; filter, before fetching s; filter: p > 3') > at('; p=+8(%di):u32'), '--disasm says where and why, after p is read');
  t.ok(at('filter: p > 3') < at('; s=+0(%si):string'), 'before the string fetch');
});

t.test('each conjunct where the fields it needs are first built', async (t) => {
  const text = 'p > 3 && s != "a" && common_pid != 1 && !(num < 0 || s == "b") && common_flags == 0';
  const { plan } = planOf(LINE, text);
  t.same(shape(text, plan), ['before: common_pid != 1 & num < 0', '1: common_flags == 0', '2: p > 3', '3: s != "a" & s == "b"'],
    'common_pid and registers before the record, common_flags with the record, a memory read next, strings last; !(a || b) is !a && !b');
  const late = plan.stages[3]!.filter.expr;
  t.same(late.kind === 'and' ? late.terms.map((x) => x.kind) : [], ['pred', 'not'], 'the rest in source order, the negation kept');
});

t.test('the window before the record holds the first fields only', async (t) => {
  const args = Array.from({ length: 40 }, (_, i) => `a${i}=%di:u64`).join(' ');
  const text = 'a0 == 1 && a39 == 2 && cpu == 0';
  const { plan } = planOf(`p:g/e /bin/true:0x1000 ${args} s=+0(%si):string`, text);
  t.same(shape(text, plan), ['before: a0 == 1 & cpu == 0', '40: a39 == 2'], 'a field past the window waits for the record');
  const packed = planOf('p:g/e /bin/true:0x1000 c=%dx:u8 e=%r8:x64 s=+0(%si):string', 'e == 1 && c == 2 && s ~ "x*"');
  t.same(packed.plan.beforeFetches.map((f) => f.argName), ['c'], 'a field at an offset not aligned to its size stays in the record (the verifier refuses misaligned stack access)');
  t.same(shape('e == 1 && c == 2 && s ~ "x*"', packed.plan), ['before: c == 2', '2: e == 1', '3: s ~ "x*"']);
});

t.test('nothing moves where the answer could differ or nothing would be saved', async (t) => {
  const unchanged = (line: string, text: string, why: string) => {
    const { program, plan } = planOf(line, text);
    t.same(plan.fetches, program.fetches, `${text}: fetch order kept (${why})`);
    t.same(plan.stages.map((s) => [s.after, s.filter.expr]), [[program.fetches.length, compileFilter(text, eventFieldsOf(program.format), { host }).expr]],
      `${text}: one test on the whole record (${why})`);
  };
  unchanged(LINE, 'num == 1 || s ~ "x*"', '|| across kinds: a false number does not decide');
  unchanged(LINE, 's ~ "x*" || num == 1', 'the same, string first');
  unchanged(LINE, '!(num == 1 && s ~ "x*")', '!(a && b) is !a || !b');
  unchanged(LINE, '(num == 1 || s == "y") && (s ~ "x*" || p == 2)', 'every conjunct names the string');
  unchanged(LINE, 's ~ "x*" && comm == "sh"', 'string tests, comm included, stay on the whole record');
  unchanged('p:g/e /bin/true:0x1000 num=%di:s32 p=%si:u32', 'common_preempt_count == 0', 'a field the record sets, and no costlier fetch to skip');
  unchanged('p:g/e /bin/true:0x1000 num=%di:s32 s=+0(%si):string', 's ~ "x*"', 'no numeric test');
});

t.test('an || of numbers is one conjunct: it moves whole', async (t) => {
  const text = '(num == 1 || cpu == 2) && s ~ "x*"';
  const { plan } = planOf(LINE, text);
  t.same(shape(text, plan), ['before: num == 1 & cpu == 2', '3: s ~ "x*"']);
  t.equal(plan.stages[0]!.filter.expr.kind, 'or');
});

t.test('conjuncts: the filter as an && of terms', async (t) => {
  const program = lower(LINE);
  const kinds = (text: string) => conjuncts(compileFilter(text, eventFieldsOf(program.format), { host }).expr).map((x) => x.kind);
  t.same(kinds('num == 1 && (p == 2 && s == "a")'), ['pred', 'pred', 'pred']);
  t.same(kinds('!(num == 1 || !(p == 2))'), ['not', 'pred'], 'De Morgan, and a double negation cancels');
  t.same(kinds('!(num == 1 && p == 2)'), ['not']);
  t.same(kinds('num == 1 || p == 2'), ['or']);
});

t.test('fetch ranks: registers and constants, fixed-size memory reads, dynamic data', async (t) => {
  const p = lower('p:g/e /bin/true:0x1000 a=%di b=\\7 c=+0(%si):u32 d=+0(+8(%si)):u64 e=+0(%si):u8[3] f=+0(%si):string g=$comm h=\\"x"');
  t.same(p.fetches.map(fetchRank), [0, 0, 1, 1, 1, 2, 2, 2]);
});

// The decomposition judged on records: the stages in order keep exactly what the whole filter keeps.
const MAX_STRING = 48;
const program = lower(FILTER_TEST_LINE, { maxStringSize: MAX_STRING });
const fields = eventFieldsOf(program.format);

function stagedCode(plan: FilterPlan, capacity: number) {
  let n = 0;
  const t0 = { program, capacity, fresh: (x: string) => `${x}_${n++}` };
  const items: AsmItem[] = plan.stages.flatMap((s) => emitFilter(t0, s.filter, 'reject'));
  return assemble([...items, mov64Imm(R0, 1), exit(), label('reject'), mov64Imm(R0, 0), exit()]).insns;
}

t.test('random filters in stages keep exactly the records the kernel evaluator keeps', async (t) => {
  const r = rng(20261203);
  const capacity = recordCapacity(program);
  const records = Array.from({ length: 40 }, () => record(r, program, capacity, MAX_STRING));
  const rank = new Map(program.fetches.map((f) => [f.argName, fetchRank(f)]));
  let filters = 0, staged = 0, decisions = 0, agree = 0, early = 0, misplaced = 0, reordered = 0;
  while (filters < 500) {
    // half of them an && at the top, the shape that splits
    const text = r() < 0.5 ? expression(r, 3) : `${expression(r, 1)} && ${expression(r, 2)}`;
    let checked: CheckedFilter;
    try { checked = compileFilter(text, fields, { rules: filterRulesFor('6.18'), host }); } catch (e) { if (e instanceof FilterSyntaxError) continue; throw e; }
    filters++;
    const plan = planFilter(program, checked);
    if (plan.stages.length > 1) staged++;
    // a stage before the end reads only fields built by then, and no string
    for (const s of plan.stages.slice(0, -1)) {
      const built = new Set((s.after === BEFORE ? plan.beforeFetches : plan.fetches.slice(0, s.after)).map((f) => f.argName));
      for (const p of s.filter.predicates) {
        if (p.test.kind === 'string' || (rank.has(p.field.name) && !built.has(p.field.name))) misplaced++;
        if (s.after === BEFORE && !(p.test.kind === 'cpu' || p.test.kind === 'cpu_in_mask' || ['common_pid', 'common_type'].includes(p.field.name)
          || program.fetches.some((f) => f.argName === p.field.name && fetchedBeforeRecord(f)))) misplaced++;
      }
    }
    const dynamic = (fs: typeof plan.fetches) => fs.filter((f) => rank.get(f.argName) === 2).map((f) => f.argName).join();
    if (dynamic(plan.fetches) !== dynamic(program.fetches)) reordered++;
    let code;
    try { code = stagedCode(plan, capacity); } catch (e) { if (e instanceof FilterCodegenError) continue; throw e; }
    for (const rec of records) {
      const want = evaluateFilter(checked, { data: rec.bytes.subarray(RECORD_PREFIX_SIZE), cpu: rec.cpu, comm: rec.comm });
      const got = runFilterCode(code, rec.bytes.slice()).r0 === 1n;
      const firstStageDrops = plan.stages.length > 1 && !evaluateFilter(plan.stages[0]!.filter, { data: rec.bytes.subarray(RECORD_PREFIX_SIZE), cpu: rec.cpu, comm: rec.comm });
      if (firstStageDrops) early++;
      decisions++;
      if (got === want) agree++;
      else if (agree + 20 > decisions) t.fail(`${text}: the staged program ${got ? 'keeps' : 'drops'} a record the kernel ${want ? 'keeps' : 'drops'}`);
    }
  }
  t.equal(misplaced, 0, 'no early stage tests a field built later, or a string');
  t.equal(reordered, 0, 'the dynamic fetches keep their order (the dynamic area is laid out alike)');
  t.equal(agree, decisions, `${agree}/${decisions} decisions agree`);
  t.ok(staged > filters / 5, `many filters are split (${staged} of ${filters})`);
  t.ok(early > decisions / 10, `early stages drop records (${early} of ${decisions} decisions)`);
});
