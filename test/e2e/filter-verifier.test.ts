// Every filtered program passes this kernel's verifier: random filters over
// an event with every field kind (test/compiler/filter/gen.ts), plus the
// heaviest shapes by hand (several searches in one program, globs with
// classes), compiled with the default string room (4096 bytes), as sleepable
// (ring buffer) and as --no-sleepable (perf ring) programs, loaded with
// `check`'s loader. A filter codegen refuses is reported, never dropped.
import t from 'tap';
import { checkObject } from '../../runtime/loader.js';
import { compileDefinitions } from '../../compiler/object.js';
import { FilterCodegenError } from '../../compiler/filter-codegen.js';
import { eventFieldsOf } from '../../compiler/filter-events.js';
import { layoutEvent } from '../../compiler/layout.js';
import { compileFilter, FilterSyntaxError, type CheckedFilter } from '../../grammar/filter/index.js';
import type { ProbeDefinition } from '../../grammar/ast.js';
import { rootSkipReason } from '../lib/kernel.js';
import { definitions } from '../compiler/unit/lib.js';
import { expression, FILTER_TEST_LINE, rng } from '../compiler/filter/gen.js';

const HEAVY = [
  's ~ "*.so*" || cm ~ "k?b*" || s ~ "lib*" || s ~ "*.c"',
  's ~ "[a-z]*[0-9]" || s ~ "*x?y"',
  '!(s ~ "!*ph*") && (comm ~ "*sh" || COMM == "sshd") && a > -5 && u & 0x80000000',
  'cm == "abc" || cm ~ "*b" || s ~ "a*" || cpu != 0 && common_pid > 1',
];

/** One event per filter the kernel's parser and our codegen accept, all of the test line. */
function filteredEvents(count: number, sleepable: boolean): { defs: ProbeDefinition[]; filters: Map<string, CheckedFilter>; texts: string[] } {
  const base = definitions([FILTER_TEST_LINE])[0]!;
  const fields = eventFieldsOf(layoutEvent(base));
  const r = rng(61);
  const defs: ProbeDefinition[] = [];
  const filters = new Map<string, CheckedFilter>();
  const texts: string[] = [];
  for (let i = 0; defs.length < count; i++) {
    const text = i < HEAVY.length ? HEAVY[i]! : expression(r, 3);
    let checked: CheckedFilter;
    try { checked = compileFilter(text, fields, { host: { nrCpuIds: 4 } }); } catch (e) { if (e instanceof FilterSyntaxError) continue; throw e; }
    const def = { ...base, event: `e${defs.length}` };
    try {
      compileDefinitions([def], { filters: new Map([[`${def.group}/${def.event}`, checked]]), sleepable });
    } catch (e) { if (e instanceof FilterCodegenError) continue; throw e; }
    defs.push(def);
    filters.set(`${def.group}/${def.event}`, checked);
    texts.push(text);
  }
  return { defs, filters, texts };
}

const skip = rootSkipReason();
for (const sleepable of [true, false]) {
  t.test(`every filtered program loads (${sleepable ? 'sleepable, ring buffer' : 'perf ring'})`, { skip }, async (t) => {
    const { defs, filters, texts } = filteredEvents(120, sleepable);
    const { object, programs } = compileDefinitions(defs, { filters, sleepable });
    const { verdicts, error } = checkObject(object, { name: 'filters.o' });
    t.equal(error, '', 'the object opens');
    const failed = verdicts.filter((v) => v.error);
    for (const v of failed.slice(0, 5)) t.fail(`${texts[Number(v.program.name.replace(/\D+/g, '')) || 0] ?? v.program.name}: ${v.error}`, { log: v.program.log?.slice(-2000) });
    t.equal(verdicts.length - failed.length, defs.length, `${verdicts.length - failed.length}/${defs.length} filtered programs pass the verifier`);
    const sizes = programs.map((p) => p.spec.insns?.length ?? 0);
    t.equal(texts.slice(0, HEAVY.length).join('\n'), HEAVY.join('\n'), 'the heavy filters are among them');
    t.comment(`instructions: min ${Math.min(...sizes)}, max ${Math.max(...sizes)}; verified (heaviest): ${Math.max(...verdicts.map((v) => v.program.verifiedInsns ?? 0))}`);
  });
}

t.test('a filter whose searches the verifier could not finish is refused by name, before loading', async (t) => {
  const base = definitions([FILTER_TEST_LINE])[0]!;
  const checked = compileFilter('s ~ "*.so*" || s ~ "*lib*" || s ~ "a*b*c" || s ~ "*x*y*z*"', eventFieldsOf(layoutEvent(base)), { host: { nrCpuIds: 4 } });
  t.throws(() => compileDefinitions([base], { filters: new Map([['t/e', checked]]) }), { name: 'FilterCodegenError', message: /^t\/e: .*(verifier about \d+ instructions|too complex for the verifier)/ });
});
