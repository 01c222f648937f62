// BTF arguments (6.12's rules) against this machine's own BTF: what each form
// means (the fetch it lowers to, its type, its name, its readback) and how
// each is refused. Offsets are the BTF reader's, itself against bpftool in test/bpf/btf-kernel.test.ts. The kernel's own verdicts on these lines are
// test/guest/kprobe-btf-grammar.test.ts's (6.12 and 6.1 in the guest).
import t from 'tap';
import { existsSync } from 'node:fs';
import { VMLINUX_BTF } from '../../bpf/btf-kernel.js';
import { formatProbeCommand, kernelRules, parseProbeCommands, ProbeSyntaxError, type ProbeDefinition } from '../../grammar/index.js';
import { toolSkipReason } from '../bpf/tools.js';

const skip = existsSync(VMLINUX_BTF) ? toolSkipReason('bpftool') : `no ${VMLINUX_BTF}`;

const def = (line: string, v = '6.12'): ProbeDefinition =>
  parseProbeCommands(line, { tracer: 'kprobe', rules: kernelRules(v).probe }).commands[0] as ProbeDefinition;
const readback = (line: string): string => formatProbeCommand(def(line));
function refusal(line: string, v = '6.12'): { message: string; caret: number; unknown: boolean } {
  try {
    parseProbeCommands(line, { tracer: 'kprobe', rules: kernelRules(v).probe });
  } catch (e) {
    if (e instanceof ProbeSyntaxError) return { message: e.message, caret: e.caretColumn, unknown: e.caretUnknown };
    throw e;
  }
  throw new Error(`accepted: ${line}`);
}

t.test('names, $arg*, $argN and typed $retval on vfs_read', { skip }, async (t) => {
  t.equal(readback('p:g/a vfs_read file count'), 'p:g/a vfs_read file=file count=count');
  t.equal(readback('p:g/a vfs_read $arg*'), 'p:g/a vfs_read file=file buf=buf count=count pos=pos');
  t.equal(readback('p:g/a vfs_read $arg1 $arg3:x32'), 'p:g/a vfs_read file=file count=count:x32', '$argN renamed, its type kept');
  t.equal(readback('p:g/a vfs_read x=$arg1 +0($arg1)'), 'p:g/a vfs_read x=$arg1 arg2=+0($arg1)', 'named or inside a dereference: not rewritten');
  const d = def('r:g/a vfs_read $retval count file->f_pos');
  t.same(d.args.map((a) => [a.name, a.type.base, a.type.btfTypeName]), [['arg1', 's64', 'ssize_t'], ['count', 'u64', 'size_t'], ['arg3', 's64', 'loff_t']]);
  t.same(d.args[1]!.fetch, { kind: 'arg', index: 3, atEntry: true }, 'an entry argument at return reads the entry data');
  t.same(def('p:g/a vfs_read file').args[0]!.type, { base: 'x64', implicit: true, btfTypeName: 'struct file *' });
  t.equal(def('r:g/a vfs_read $retval:x32').args[0]!.type.base, 'x32', 'a type given wins over BTF');
});

t.test('member chains lower to the kernel\'s dereferences, annotated for CO-RE', { skip }, async (t) => {
  const a = def('p:g/a vfs_read file->f_path.dentry->d_name.name:string').args[0]!;
  t.equal(a.name, 'arg1', 'not an identifier: argN');
  t.equal(a.type.base, 'string');
  // string through the char *: one more deref at 0, then d_name.name's, then f_path.dentry's, on file
  const outer = a.fetch;
  t.equal(outer.kind, 'deref');
  if (outer.kind !== 'deref') return;
  t.equal(outer.offset, 0n);
  t.equal(outer.member, undefined, 'the string\'s own read is no member');
  const name = outer.inner;
  if (name.kind !== 'deref') return t.fail('d_name.name deref');
  t.match(name.member, { root: 'dentry', path: ['d_name', 'name'] });
  const dentry = name.inner;
  if (dentry.kind !== 'deref') return t.fail('f_path.dentry deref');
  t.match(dentry.member, { root: 'file', path: ['f_path', 'dentry'] });
  t.same(dentry.inner, { kind: 'arg', index: 1 });
  // the %pD rewrite uses the same two offsets
  const pD = readback('p:g/a vfs_read file:%pD');
  t.equal(pD, `p:g/a vfs_read arg1=+0x0(+0x${name.offset.toString(16)}(+0x${dentry.offset.toString(16)}(file))):string`);
  t.equal(readback('p:g/a vfs_read d=file:%pd'), `p:g/a vfs_read d=+0x0(+0x${name.offset.toString(16)}(file)):string`);
});

t.test('refusals, messages and carets as 6.12 reports them', { skip }, async (t) => {
  const P = 'p:g/a vfs_read ';
  const R = 'r:g/a vfs_read ';
  const at = (prefix: string, rel: number) => prefix.length + rel;
  t.same(refusal(`${P}nosuch`), { message: 'This variable is not found at this probe point', caret: at(P, 0), unknown: false });
  t.same(refusal(`${P}$arg5`), { message: 'This variable is not found at this probe point', caret: at(P, 0), unknown: false });
  t.same(refusal(`${P}$arg0`), { message: 'No BTF entry for this probe point', caret: at(P, 0), unknown: false });
  t.same(refusal(`${P}$arg* $arg*`), { message: '$arg* can be used only once in the parameters', caret: at(P, '$arg* '.length), unknown: false });
  t.same(refusal(`${P}file.f_pos`), { message: 'Non pointer structure/union argument is not supported.', caret: at(P, 5), unknown: false });
  t.same(refusal(`${P}file-f_pos`), { message: "Failed to parse single hyphen. Forgot '>'?", caret: at(P, 4), unknown: false });
  t.same(refusal(`${P}file->nosuch`), { message: 'This field is not found.', caret: at(P, 6), unknown: false });
  t.same(refusal(`${P}count->x`), { message: 'This is not a pointer to union/structure.', caret: at(P, 7), unknown: false });
  t.same(refusal(`${P}file:string`), { message: 'This type does not fit for string.', caret: at(P, 0), unknown: false });
  t.match(refusal(`${P}file->f_flags:string`), { message: 'This type does not fit for string.', unknown: true }, 'after a chain: the kernel\'s caret is no position');
  t.same(refusal('r:g/a do_exit $retval'), { message: "This function returns 'void' type", caret: 'r:g/a do_exit '.length, unknown: false });
  t.same(refusal(`${R}$retval.x`), { message: 'Non pointer structure/union argument is not supported.', caret: at(R, 8), unknown: false });
  t.same(refusal('p:g/a vfs_read+5 file'), { message: 'BTF is not available or not supported', caret: 'p:g/a vfs_read+5 '.length, unknown: false });
  t.equal(refusal('p:g/a vfs_read+4 file').message, 'BTF is not available or not supported', '+4 of a function not known to start with ENDBR');
  const endbr = parseProbeCommands('p:g/a vfs_read+4 file', { tracer: 'kprobe', rules: kernelRules('6.12').probe, endbr: (s) => s === 'vfs_read' }).commands[0];
  t.equal(formatProbeCommand(endbr!), 'p:g/a vfs_read+4 file=file', '+4 is the entry past ENDBR on an IBT kernel (Debian\'s 6.12)');
  t.same(refusal(`${P}file file`), { message: 'This argument name is already used', caret: at(P, 5), unknown: false });
  // the expanded words are reported at the original word of the same index
  t.same(refusal(`${P}$arg* nosuch`), { message: 'This variable is not found at this probe point', caret: `${P}$arg* nosuch`.length + 1, unknown: false });
});

t.test('6.1: no BTF arguments, the 6.1 messages', { skip }, async (t) => {
  t.equal(formatProbeCommand(def('p:g/a vfs_read $arg1', '6.1')), 'p:g/a vfs_read arg1=$arg1');
  t.equal(refusal('p:g/a vfs_read file', '6.1').message, 'Invalid fetch argument');
  t.equal(refusal('p:g/a vfs_read file:%pd', '6.1').message, 'Unknown type is specified');
  t.equal(def('r:g/a vfs_read $retval', '6.1').args[0]!.type.base, 'x64', 'untyped $retval');
});

t.test('lowering: an entry argument at return reads entry data, a BTF bitfield is shifted within its field', { skip }, async (t) => {
  const { lowerProbe } = await import('../../compiler/lower.js');
  // on the kretprobe (the fallback, or KPROBE_BPF_TRAMPOLINE=0); an fexit program sees them natively
  t.same(lowerProbe(def('r:g/a vfs_read count $retval'), { trampolines: false }).entryData, { args: [3] }, 'count is $arg3, saved at entry');
  t.same(lowerProbe(def('r:g/a vfs_read +0(file)'), { trampolines: false }).entryData, { args: [1] }, 'inside a dereference too');
  const bf = def('p:g/a wake_up_process p->sched_reset_on_fork');
  const arg = bf.args[0]!;
  t.match(arg.type, { base: 'u32', bitfield: { width: 1, container: 64 } }, 'as the kernel: the member\'s u32, a 64-bit shift');
  const prog = lowerProbe(bf);
  t.same(prog.fetches[0]!.bitfield, {
    containerSize: 4, lshift: 32 - 1 - arg.type.bitfield!.offset, rshift: 31,
  }, 'the same bits taken from the u32 field itself');
});
