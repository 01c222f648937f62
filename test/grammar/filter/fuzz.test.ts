// Random text never crashes the filter front end: every input is either a
// checked filter or the kernel's FilterSyntaxError, and a checked filter
// always evaluates.
import t from 'tap';
import { compileFilter, evaluateFilter, filterRulesFor, FilterSyntaxError, kallsymsHost } from '../../../grammar/filter/index.js';
import { rng } from './corpus.js';
import { FIELDS, TP_FIELDS } from './fields.js';

const ALPHABET = ['a', 'b', 's', 'u', 'cs', 'ar8', 'cpu', 'comm', 'prev_comm', 'name', 'mask', ' ', ' ', '\t', '(', ')', '!', '&', '&&', '|', '||',
  '=', '==', '!=', '<', '<=', '>', '>=', '~', '"', "'", '*', '?', '[', ']', '\\', '0', '1', '-', 'x', 'CPUS{', '}', ',', '.ustring', '.function',
  'vfs_read', '\u00e9', '\u00a0', 'N'];

const PRED_FIELDS = ['a', 'b', 's', 'cs', 'ar8', 'cpu', 'comm', 'prev_comm', 'name', 'mask', 'rel', '__probe_ip.function', 'name.ustring', 'common_pid'];
const PRED_VALUES = ['1', '-1', '0x10', '"x*"', "'*y'", 'CPUS{0-1}', 'CPUS{1}', 'vfs_read', '"!a?c"', '"[a-c]*"', '4294967296', '"*mid*"'];

t.test('20000 random filters: a checked filter or a FilterSyntaxError, nothing else', async (t) => {
  const r = rng(0xf00d);
  const host = kallsymsHost('ffffffff81400000 T vfs_read\nffffffff81400200 T vfs_write\n', 2);
  const record = { data: new Uint8Array(128), cpu: 0, comm: 'kbf', readString: () => 'x' };
  let accepted = 0;
  const crashes: string[] = [];
  for (let n = 0; n < 20000; n++) {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    let text = '';
    const pieces = 1 + Math.floor(r() * 3);
    for (let i = 0; i < pieces; i++) {
      if (i) text += pick([' && ', '||', ' ', ' & ', ') || (', '&&!']);
      if (r() < 0.6) text += `${pick(PRED_FIELDS)} ${pick(['==', '!=', '<', '&', '~', '>='])} ${pick(PRED_VALUES)}`;
      else for (let k = 1 + Math.floor(r() * 8); k > 0; k--) text += pick(ALPHABET);
    }
    const fields = n % 2 ? FIELDS : TP_FIELDS;
    for (const v of ['6.1', '6.12', '6.18']) {
      try {
        evaluateFilter(compileFilter(text, fields, { rules: filterRulesFor(v), host }), record);
        accepted++;
      } catch (e) {
        if (!(e instanceof FilterSyntaxError)) crashes.push(`${v} ${JSON.stringify(text)}: ${(e as Error).stack}`);
      }
    }
  }
  t.same(crashes.slice(0, 5), [], 'no crash');
  t.ok(accepted > 100, `${accepted} of 60000 accepted (the generator reaches valid filters)`);
});
