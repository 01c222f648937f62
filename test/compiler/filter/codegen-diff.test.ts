// The generated filter code judged by the reference evaluator (grammar/filter
// evaluate.ts, the kernel's filter_match_preds): random filters over an
// event with every field kind (integers of each width and sign, a char[4],
// a string, $comm, a u8 array, the common fields, cpu, comm), random records
// laid out as our programs lay them out, each filter's code run by the test
// interpreter on each record: it keeps exactly the records the evaluator keeps.
import t from 'tap';
import { R0 } from '../../../bpf/insn.js';
import { assemble, exit, label, mov64Imm } from '../../../bpf/asm.js';
import { emitFilter, FilterCodegenError } from '../../../compiler/filter-codegen.js';
import { eventFieldsOf } from '../../../compiler/filter-events.js';
import { recordCapacity } from '../../../compiler/lower.js';
import { RECORD_PREFIX_SIZE } from '../../../compiler/abi.js';
import { compileFilter, evaluateFilter, FilterSyntaxError, filterRulesFor, type CheckedFilter } from '../../../grammar/filter/index.js';
import type { ProbeProgram } from '../../../compiler/ir.js';
import { lower } from '../unit/lib.js';
import { runFilterCode } from './interp.js';
import { expression, FILTER_TEST_LINE, rng } from './gen.js';
import { record } from './records.js';

const MAX_STRING = 48;
const program = lower(FILTER_TEST_LINE, { maxStringSize: MAX_STRING });
const fields = eventFieldsOf(program.format);
const rules = filterRulesFor('6.18');
const host = { nrCpuIds: 4 };

function filterCode(p: ProbeProgram, filter: CheckedFilter, capacity: number, pendingBudget: number) {
  let n = 0;
  const items = [...emitFilter({ program: p, capacity, fresh: (x) => `${x}_${n++}`, pendingBudget }, filter, 'reject'),
    mov64Imm(R0, 1), exit(), label('reject'), mov64Imm(R0, 0), exit()];
  return assemble(items).insns;
}

// Search loops leave at the string's end while the verifier's budget of pending states lasts, and run the whole window after: both shapes.
for (const pendingBudget of [7000, 0]) t.test(`generated filter code keeps exactly the records the kernel evaluator keeps (${pendingBudget ? 'loops leave at the string end' : 'loops run the whole window'})`, async (t) => {
  const r = rng(20261202 + pendingBudget);
  const capacity = recordCapacity(program);
  const records = Array.from({ length: 48 }, () => record(r, program, capacity, MAX_STRING));
  let filters = 0, refusedByKernel = 0, notCompiled = 0, decisions = 0, agree = 0, kept = 0;
  const refusals = new Set<string>();
  while (filters < 600) {
    const text = expression(r, 3);
    let checked: CheckedFilter;
    try {
      checked = compileFilter(text, fields, { rules, host });
    } catch (e) {
      if (!(e instanceof FilterSyntaxError)) throw e;
      refusedByKernel++;
      continue;
    }
    filters++;
    let code;
    try {
      code = filterCode(program, checked, capacity, pendingBudget);
    } catch (e) {
      if (!(e instanceof FilterCodegenError)) throw e;
      notCompiled++;
      refusals.add(e.message.replace(/"[^"]*"/, '"…"'));
      continue;
    }
    for (const rec of records) {
      const want = evaluateFilter(checked, { data: rec.bytes.subarray(RECORD_PREFIX_SIZE), cpu: rec.cpu, comm: rec.comm });
      const got = runFilterCode(code, rec.bytes.slice()).r0 === 1n;
      decisions++;
      if (want) kept++;
      if (got === want) agree++;
      else if (agree + 20 > decisions) t.fail(`${text}: the program ${got ? 'keeps' : 'drops'} a record the kernel ${want ? 'keeps' : 'drops'}`, { cpu: rec.cpu, comm: rec.comm });
    }
  }
  t.equal(agree, decisions, `${agree}/${decisions} decisions agree (${filters} filters the kernel accepts, ${notCompiled} of them refused by codegen, ${refusedByKernel} generated filters refused by the kernel's parser)`);
  t.ok(kept > decisions / 10 && kept < decisions * 0.9, `both answers are common (${kept} kept of ${decisions})`);
  t.ok(notCompiled < filters / 10, `most filters compile (${[...refusals].join('; ')})`);
});
