// Each row of the rules table (grammar/kernel-rules/table.ts) at its
// boundary: the line or filter that tells the versions apart answered under
// the version just below the row and under the row's own version, as
// `parse --kernel V` / `trace --kernel V` answer it. A row moved to another
// version, or a rule that leaks into the versions below it, fails here.
import t from 'tap';
import { formatProbeCommand, kernelRules, parseProbeCommands, ProbeSyntaxError, unknownKernelReason } from '../../grammar/index.js';
import { CHANGES } from '../../grammar/kernel-rules/index.js';
import { compileFilter, filterRulesFor, FilterSyntaxError, kallsymsHost } from '../../grammar/filter/index.js';
import { FIELDS } from './filter/fields.js';

const K = 'p:g/a do_sys_openat2 ';
const host = kallsymsHost('ffffffff81400000 T vfs_read\nffffffff81400200 T vfs_write\n', 2);
const ARGS = Array.from({ length: 129 }, (_, i) => `a${i}=%di`);

/** A probe line under kernel `v` without BTF (the host's must not decide): its readback, or `ERROR message @caret (logged|unlogged)`. */
function probe(v: string, line: string): string {
  try {
    return parseProbeCommands(line, { tracer: 'kprobe', rules: kernelRules(v).probe, btf: null }).commands.map((c) => formatProbeCommand(c)).join('\n');
  } catch (e) {
    if (!(e instanceof ProbeSyntaxError)) throw e;
    return `ERROR ${e.message} @${e.caretColumn} ${e.logged ? 'logged' : 'unlogged'}`;
  }
}

/** A filter under kernel `v`: 'ok', or the error code the kernel logs. */
function filter(v: string, text: string): string {
  try {
    compileFilter(text, FIELDS, { rules: filterRulesFor(v), host });
    return 'ok';
  } catch (e) {
    if (!(e instanceof FilterSyntaxError)) throw e;
    return e.code;
  }
}

/** The version just below `v` ("6.5" -> "6.4"). */
const below = (v: string) => { const [ma, mi] = v.split('.').map(Number); return `${ma}.${mi! - 1}`; };

/** Per row version, what tells it from the version below: [what, answer below, answer at]. */
const BOUNDARIES: Record<string, [string, () => string, () => string][]> = {
  '6.2': [['an unknown $-variable (Debian\'s 6.1 has the spelling fix)', () => probe('6.1', `${K}$foo`), () => probe('6.2', `${K}$foo`)]],
  '6.3': [
    ['the char type', () => probe('6.2', `${K}%di:char`), () => probe('6.3', `${K}%di:char`)],
    ['filter FIELD.function', () => filter('6.2', '__probe_ip.function == vfs_read'), () => filter('6.3', '__probe_ip.function == vfs_read')],
  ],
  '6.5': [
    ['maxactive on a kprobe', () => probe('6.4', 'p4:g/a do_sys_openat2'), () => probe('6.5', 'p4:g/a do_sys_openat2')],
    ['a bare name (a BTF argument)', () => probe('6.4', `${K}x=%di y`), () => probe('6.5', `${K}x=%di y`)],
    ['a type error after a dereference', () => probe('6.4', `${K}+u0(%di):u8[4]`), () => probe('6.5', `${K}+u0(%di):u8[4]`)],
  ],
  '6.6': [['filter CPUS{}', () => filter('6.5', 'a == CPUS{1}'), () => filter('6.6', 'a == CPUS{1}')]],
  '6.8': [['$comm with a non-string type', () => probe('6.7', `${K}$comm:u32`), () => probe('6.8', `${K}$comm:u32`)]],
  '6.9': [['$argN in a return probe', () => probe('6.8', 'r:g/a do_sys_openat2 $arg1'), () => probe('6.9', 'r:g/a do_sys_openat2 $arg1')]],
  '6.10': [['%pd (a dentry name)', () => probe('6.9', `${K}x=%di:%pd`), () => probe('6.10', `${K}x=%di:%pd`)]],
  '6.12': [
    ['129 arguments', () => probe('6.11', K + ARGS.join(' ')), () => probe('6.12', K + ARGS.join(' '))],
    ['filter: the stacktrace field', () => filter('6.11', 'stacktrace == 1'), () => filter('6.12', 'stacktrace == 1')],
    ['filter: a trailing &&', () => filter('6.11', 'a == 1 &&'), () => filter('6.12', 'a == 1 &&')],
  ],
  '6.15': [['129 arguments (logged)', () => probe('6.14', K + ARGS.join(' ')), () => probe('6.15', K + ARGS.join(' '))]],
  '6.18': [
    ['filter: a trailing &&', () => filter('6.17', 'a == 1 &&'), () => filter('6.18', 'a == 1 &&')],
    ['an unknown $-variable', () => probe('6.17', `${K}$foo`), () => probe('6.18', `${K}$foo`)],
  ],
};

t.test('every row after the base has a boundary case, and each case answers differently on the two sides', async (t) => {
  const rows = CHANGES.slice(1).map((r) => r.version);
  t.same(Object.keys(BOUNDARIES).sort(), [...rows].sort(), 'one entry per row');
  for (const [v, cases] of Object.entries(BOUNDARIES)) {
    for (const [what, before, at] of cases) t.not(before(), at(), `${below(v)} vs ${v}: ${what}`);
  }
});

t.test('the answers on each side of each row', async (t) => {
  const answers = Object.fromEntries(Object.entries(BOUNDARIES).map(([v, cases]) => [v, cases.map(([what, before, at]) => [what, before(), at()])]));
  t.same(answers, {
    '6.2': [['an unknown $-variable (Debian\'s 6.1 has the spelling fix)', `ERROR Invalid $-variable specified @${K.length} logged`, `ERROR Invalid $-valiable specified @${K.length} logged`]],
    '6.3': [
      ['the char type', `ERROR Unknown type is specified @${K.length + 4} logged`, `${K}arg1=%di:char`],
      ['filter FIELD.function', 'INVALID_OP', 'ok'],
    ],
    '6.5': [
      ['maxactive on a kprobe', 'ERROR Maxactive is not for kprobe @1 logged', 'ERROR Maxactive is only for function exit @1 logged'],
      ['a bare name (a BTF argument)', `ERROR Invalid fetch argument @${K.length + 6} logged`, `ERROR BTF is not available or not supported @${K.length + 6} logged`],
      ['a type error after a dereference', `ERROR String accepts only memory argument @${K.length + 9} logged`, `ERROR String accepts only memory argument @${K.length + 12} logged`],
    ],
    '6.6': [['filter CPUS{}', 'INVALID_VALUE', 'ok']],
    '6.8': [['$comm with a non-string type', `ERROR $comm and immediate-string only accepts string type @${K.length + 6} unlogged`, `ERROR $comm and immediate-string only accepts string type @${K.length + 6} logged`]],
    '6.9': [['$argN in a return probe', 'ERROR $arg* can be used only on function entry or exit @21 logged', 'r:g/a do_sys_openat2 arg1=$arg1']],
    // the kernel builds %pd from its compile-time offsetof(struct dentry, d_name.name); kprobe-bpf takes it from
    // BTF, and here is given none
    '6.10': [['%pd (a dentry name)', `ERROR Unknown type is specified @${K.length + 6} logged`,
      "ERROR %pd/%pD need the kernel's BTF (struct dentry and struct file offsets), and none was found @0 unlogged"]],
    '6.12': [
      ['129 arguments', K + ARGS.slice(0, 128).join(' '), `ERROR Too many arguments are specified @${K.length} unlogged`],
      ['filter: the stacktrace field', 'FIELD_NOT_FOUND', 'ok'],
      ['filter: a trailing &&', 'INVALID_FILTER', 'ok'],
    ],
    '6.15': [['129 arguments (logged)', `ERROR Too many arguments are specified @${K.length} unlogged`, `ERROR Too many arguments are specified @${K.length} logged`]],
    '6.18': [
      ['filter: a trailing &&', 'ok', 'INVALID_FILTER'],
      ['an unknown $-variable', `ERROR Invalid $-valiable specified @${K.length} logged`, `ERROR Invalid $-variable specified @${K.length} logged`],
    ],
  });
});

t.test('--kernel outside the table says which versions are known', async (t) => {
  for (const v of ['5.15', '6.19', '7.0', 'x']) t.match(unknownKernelReason(v), /known: 6\.1 to 6\.18 \(rows 6\.1, 6\.2, 6\.3, .*6\.18; checked on 6\.1, 6\.12, 6\.18\)$/, v);
});
