// The rules table: one rule per kernel version, each shown by the line that
// tells the versions apart and the kernel's own text for it (6.1: Debian's
// 6.1.0-57 kprobe_events in the test guest and the ERRORS strings of its
// vmlinux; 6.18: this host's uprobe_events; the rest from the sources, see
// grammar/kernel-rules/table.ts).
import t from 'tap';
import {
  formatProbeCommand, kernelRules, parseProbeCommands, ProbeSyntaxError, runningKernel, UnknownKernelError, unknownKernelReason,
  type ProbeDefinition,
} from '../../grammar/index.js';
import { filterRulesFor } from '../../grammar/filter/index.js';
import { countCpuList } from '../../grammar/possible-cpus.js';

const K = 'p:g/a do_sys_openat2 ';

/** The line under kernel `v` (without BTF: BTF arguments are btf-args.test.ts's): its readback, or the error it is refused with. */
function under(v: string, line: string): { readback?: string[]; error?: { message: string; logged: boolean; caret: number } } {
  try {
    const { commands } = parseProbeCommands(line, { tracer: 'kprobe', rules: kernelRules(v).probe, btf: null });
    return { readback: commands.map((c) => formatProbeCommand(c)) };
  } catch (e) {
    if (!(e instanceof ProbeSyntaxError)) throw e;
    return { error: { message: e.message, logged: e.logged, caret: e.caretColumn } };
  }
}
const refused = (message: string, caret: number, logged = true) => ({ error: { message, logged, caret } });

t.test('BAD_MAXACT_TYPE reworded: 6.1 "Maxactive is not for kprobe", 6.5 on "Maxactive is only for function exit"', async (t) => {
  t.same(under('6.1', 'p4:g/a do_sys_openat2'), refused('Maxactive is not for kprobe', 1));
  t.same(under('6.12', 'p4:g/a do_sys_openat2'), refused('Maxactive is only for function exit', 1));
});

t.test('$comm with a non-string type: 6.1 refuses it without an error_log entry, 6.8 on logs it', async (t) => {
  const col = K.length + '$comm:'.length;
  t.same(under('6.1', `${K}$comm:u32`), refused('$comm and immediate-string only accepts string type', col, false));
  t.same(under('6.6', `${K}$comm:u32`), refused('$comm and immediate-string only accepts string type', col, false));
  t.same(under('6.18', `${K}$comm:u32`), refused('$comm and immediate-string only accepts string type', col));
});

t.test('the char type (6.3); symstr in Debian\'s 6.1 by a stable backport', async (t) => {
  t.same(under('6.1', `${K}%di:char`), refused('Unknown type is specified', K.length + 4));
  t.same(under('6.3', `${K}%di:char`), { readback: [`${K}arg1=%di:char`] });
  t.same(under('6.1', `${K}%di:symstr`), { readback: [`${K}arg1=%di:symstr`] });
});

t.test('a bare name: 6.1 "Invalid fetch argument", 6.5 on a BTF argument (not available on a kernel without BTF)', async (t) => {
  t.same(under('6.1', `${K}x=%di y`), refused('Invalid fetch argument', K.length + 'x=%di '.length));
  t.same(under('6.12', `${K}x=%di y`), refused('BTF is not available or not supported', K.length + 'x=%di '.length));
});

t.test('$argN off a function entry and in a return probe, per version', async (t) => {
  const offEntry = 'p:g/a do_sys_openat2+5 $arg1';
  const ret = 'r:g/a do_sys_openat2 $arg1';
  t.same(under('6.1', offEntry), refused('Invalid $-variable specified', 'p:g/a do_sys_openat2+5 '.length));
  t.same(under('6.12', offEntry), refused('$arg* can be used only on function entry or exit', 'p:g/a do_sys_openat2+5 '.length));
  t.same(under('6.1', ret), refused('Invalid $-variable specified', 'r:g/a do_sys_openat2 '.length));
  t.same(under('6.6', ret), refused('$arg* can be used only on function entry or exit', 'r:g/a do_sys_openat2 '.length));
  t.same(under('6.9', ret), { readback: [`${ret.replace('$arg1', 'arg1=$arg1')}`] });
});

t.test('BAD_VAR: "variable" in Debian\'s 6.1 (a stable backport) and 6.18, still "valiable" in Debian\'s 6.12.95', async (t) => {
  const col = K.length;
  t.same(under('6.1', `${K}$foo`), refused('Invalid $-variable specified', col));
  t.same(under('6.12', `${K}$foo`), refused('Invalid $-valiable specified', col));
  t.same(under('6.12', `${K}$comm[2]`), refused('Invalid $-valiable specified', col));
  t.same(under('6.18', `${K}$foo`), refused('Invalid $-variable specified', col));
  t.same(under('6.12', 'p4:g/a do_sys_openat2'), refused('Maxactive is only for function exit', 1), 'the other 6.5 texts stay');
});

t.test('more than 128 arguments: 6.1 drops the rest, 6.12 refuses (E2BIG, unlogged), 6.15 logs it', async (t) => {
  const args = Array.from({ length: 129 }, (_, i) => `a${i}=%di`);
  const line = K + args.join(' ');
  t.same(under('6.1', line), { readback: [K + args.slice(0, 128).join(' ')] });
  t.same(under('6.12', line), refused('Too many arguments are specified', K.length, false));
  t.same(under('6.18', line), refused('Too many arguments are specified', K.length));
});

t.test('a type error after a dereference: 6.1 reports it at the type, 6.5 on where the dereference moved the offset', async (t) => {
  const line = `${K}+u0(%di):u8[4]`;
  t.same(under('6.1', line), refused('String accepts only memory argument', K.length + '+u0(%di):'.length));
  t.same(under('6.18', line), refused('String accepts only memory argument', K.length + '+u0(%di):'.length + 3));
});

t.test('every version: an @SYM offset the kernel cannot read fails registration', async (t) => {
  for (const v of ['6.1', '6.12', '6.18']) t.same(under(v, `${K}@nr_cpu_ids+x`), refused('Failed to register probe event', 'p:g/a '.length), v);
});

t.test('a return kprobe reads back with the maxactive the kernel registers it with: max(10, 2 x possible CPUs)', async (t) => {
  const [def] = parseProbeCommands('r:g/a do_sys_openat2', { rules: kernelRules('6.1').probe }).commands as ProbeDefinition[];
  t.equal(formatProbeCommand(def!, { possibleCpus: 2 }), 'r10:g/a do_sys_openat2');
  t.equal(formatProbeCommand(def!, { possibleCpus: 8 }), 'r16:g/a do_sys_openat2');
  t.equal(formatProbeCommand(def!), 'r:g/a do_sys_openat2', 'without the CPU count, as written');
  const [r4] = parseProbeCommands('r4:g/a do_sys_openat2').commands as ProbeDefinition[];
  t.equal(formatProbeCommand(r4!, { possibleCpus: 8 }), 'r4:g/a do_sys_openat2');
  t.equal(countCpuList('0-1\n'), 2);
  t.equal(countCpuList('0-3,8,10-11'), 7);
});

t.test('versions: a release or MAJOR.MINOR from 6.1 to 6.18; anything else names the known ones', async (t) => {
  t.equal(kernelRules('6.1.0-57-amd64').version, '6.1');
  t.equal(kernelRules('6.12.107').probe.version, '6.12');
  t.equal(kernelRules('6.7').probe.exitArgs, false, 'a version between rows gets the rows below it');
  t.throws(() => kernelRules('5.15'), UnknownKernelError);
  t.equal(unknownKernelReason('5.15'), "unknown kernel version '5.15'; known: 6.1 to 6.18 (rows 6.1, 6.2, 6.3, 6.5, 6.6, 6.8, 6.9, 6.10, 6.12, 6.15, 6.18; checked on 6.1, 6.12, 6.18)");
  t.match(unknownKernelReason('latest'), /^'latest' is not a kernel version; known: 6\.1 to 6\.18/);
  t.equal(unknownKernelReason('6.18.44-fc-v1045'), undefined);
  t.equal(runningKernel('7.2.0-1-amd64').version, '6.18', 'a newer running kernel: the newest rules');
  t.equal(runningKernel('5.10.0-30-amd64').version, '6.1', 'an older one: the oldest');
});

t.test('one table: the filter rows answer through grammar/filter as before', async (t) => {
  t.same(kernelRules('6.12').filter, filterRulesFor('6.12'));
  t.same(filterRulesFor('6.1.0-57-amd64'), { version: '6.1', functionSuffix: false, cpus: false, stacktraceField: false, trailingOperator: 'refuse' });
});
