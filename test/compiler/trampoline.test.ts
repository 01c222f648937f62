// Judged by llvm-objdump and bpftool (skipped without them), so it lives outside compiler/unit/, which must pass as nobody without LLVM.
// f and t events compile to the program kinds made for them: sections libbpf
// knows (fentry/, fexit/, tp_btf/), arguments read from the trampoline's u64
// slots, fexit's return value in the slot after the arguments (counted from
// the kernel's BTF), the caller's return address from the trampoline's frame,
// and __probe_ip moved past an ENDBR as the kernel's fprobe reports it.
// Independent judges: llvm-objdump for the object's sections and code,
// bpftool for the function prototypes in the kernel's BTF.
import t from 'tap';
import { existsSync } from 'node:fs';
import { disassemble } from '../../bpf/disasm.js';
import { programFromAsm } from '../../bpf/elf-writer.js';
import { openKernelBtf } from '../../bpf/btf-kernel.js';
import { generateProgram } from '../../compiler/codegen.js';
import { compileDefinitions } from '../../compiler/object.js';
import type { ProbeProgram } from '../../compiler/ir.js';
import { argSlotsIn, functionModelIn, VMLINUX_BTF } from '../../compiler/trampoline-btf.js';
import type { FunctionModel } from '../../compiler/trampoline.js';
import { ENDBR_WORDS } from '../../compiler/trampoline-codegen.js';
import { kernelRules, parseProbeCommands } from '../../grammar/index.js';
import type { ProbeDefinition } from '../../grammar/ast.js';
import { lowerProbe, type LowerOptions } from '../../compiler/lower.js';
import { objdumpSections, run, toolSkipReason, writeTemp } from '../bpf/tools.js';

const rules = kernelRules('6.12').probe;
/** vfs_read(struct file *, char __user *, size_t, loff_t *): four slots, as any kernel's BTF says. */
const slots: LowerOptions = { functionSlots: { argSlots: (sym) => (sym === 'vfs_read' ? 4 : undefined) } };

function def(line: string): ProbeDefinition {
  const [cmd] = parseProbeCommands(line, { rules }).commands;
  if (cmd?.op !== 'define') throw new Error(line);
  return cmd;
}
const lower = (line: string, opts: LowerOptions = slots): ProbeProgram => lowerProbe(def(line), opts);

function listing(p: ProbeProgram): string[] {
  const spec = programFromAsm(p.name, p.section, generateProgram(p, 3));
  return disassemble(spec.insns ?? [], { annotate: true, strict: false }).map((l) => l.split('\t').slice(1).join('\t') || l);
}
/** The instructions under annotation `note`, up to the next annotation. */
function under(lines: readonly string[], note: string): string[] {
  const at = lines.findIndex((l) => l === `; ${note}`);
  if (at < 0) throw new Error(`no annotation ${note}`);
  const end = lines.findIndex((l, i) => i > at && l.startsWith('; '));
  return lines.slice(at + 1, end < 0 ? undefined : end).filter((l) => l !== '' && !l.endsWith(':'));
}

t.test('sections: fentry/SYM, fexit/SYM, tp_btf/TP', async (t) => {
  t.equal(lower('f vfs_read').section, 'fentry/vfs_read');
  t.equal(lower('f vfs_read%return').section, 'fexit/vfs_read');
  t.equal(lower('f vfs_read $retval').section, 'fexit/vfs_read', '$retval makes the exit');
  // 6.12 refuses `f MOD:SYM` (grammar/fprobe.ts); a bare module function is found in its module's BTF by libbpf
  t.equal(lower('f ext4_readdir').section, 'fentry/ext4_readdir', 'a module function as libbpf finds it');
  t.equal(lower('t sched_switch').section, 'tp_btf/sched_switch');
  t.equal(lower('f vfs_read').context, 'slots');
  t.equal(lower('p vfs_read').context, 'pt_regs', 'kprobes keep pt_regs');
});

t.test('arguments are context slots; fexit\'s return value follows the arguments', async (t) => {
  t.same(under(listing(lower('f vfs_read a=$arg3')), 'a=$arg3'), ['r3 = *(u64 *)(r6 + 16)', '*(u64 *)(r7 + 48) = r3']);
  t.same(under(listing(lower('f vfs_read a=$arg8:u32')), 'a=$arg8:u32'), ['r3 = *(u64 *)(r6 + 56)', '*(u32 *)(r7 + 48) = r3'],
    'no stack arguments: the trampoline saved all of them');
  t.same(under(listing(lower('f vfs_read%return r=$retval:s64')), 'r=$retval:s64'), ['r3 = *(u64 *)(r6 + 32)', '*(u64 *)(r7 + 56) = r3'],
    'slot 4 after four argument slots');
  t.same(under(listing(lower('f vfs_read%return n=$arg3')), 'n=$arg3'), ['r3 = *(u64 *)(r6 + 16)', '*(u64 *)(r7 + 56) = r3'],
    'an entry argument at the exit: fexit sees it in its slot');
  // tp_btf's slots hold the tracepoint's arguments without the hidden __data, which $argN skips in the kernel too
  t.same(under(listing(lower('t sched_switch p=+8($arg2):u32')), 'p=+8($arg2):u32').slice(0, 1), ['r3 = *(u64 *)(r6 + 8)']);
});

t.test('BTF arguments read the slots $argN reads: fentry by position, tp_btf after the hidden __data', { skip: existsSync(VMLINUX_BTF) ? undefined : 'no kernel BTF' }, async (t) => {
  t.same(under(listing(lower('f vfs_read count')), 'count=count').slice(0, 1), ['r3 = *(u64 *)(r6 + 16)'], 'count is vfs_read\'s third argument: slot 2');
  t.same(under(listing(lower('f vfs_read%return count')), 'count=count').slice(0, 1), ['r3 = *(u64 *)(r6 + 16)'], 'at the exit too (fexit sees the entry arguments)');
  // sched_switch(void *__data, bool preempt, struct task_struct *prev, ...): tp_btf's ctx starts at preempt
  const sw = listing(lower('t sched_switch preempt prev p=$arg2'));
  t.same(under(sw, 'preempt=preempt').slice(0, 1), ['r3 = *(u64 *)(r6 + 0)'], 'preempt: slot 0');
  t.same(under(sw, 'prev=prev').slice(0, 1), ['r3 = *(u64 *)(r6 + 8)'], 'prev: slot 1');
  t.same(under(sw, 'p=$arg2').slice(0, 1), ['r3 = *(u64 *)(r6 + 8)'], '$arg2 is prev as well: one convention');
  const chain = lower('t sched_switch prev->pid').fetches[0]!;
  t.same(chain.source, { op: 'ctx', offset: 8 }, 'a member chain starts at prev\'s slot');
  t.match(chain.store, { op: 'mem', size: 4, core: { root: { name: 'task_struct', member: { name: 'pid' } } } }, 'and reads pid through a CO-RE access');
});

t.test('fexit\'s __probe_ret_ip is read from the trampoline\'s frame', async (t) => {
  const ret = under(listing(lower('f vfs_read%return')), '__probe_ret_ip');
  // ctx + (4 argument slots + return value + saved rbp + return into the function) * 8
  t.same(ret.slice(0, 2), ['r3 = r6', 'r3 += 56']);
  t.match(ret.join('\n'), /call 113[\s\S]*\*\(u64 \*\)\(r7 \+ 48\) = r1/, 'bpf_probe_read_kernel, stored at __probe_ret_ip');
});

t.test('__probe_ip is the ftrace site: past an ENDBR or its sealed NOP', async (t) => {
  const ip = under(listing(lower('f vfs_read')), '__probe_ip');
  t.same(ip.slice(0, 3), ['r1 = r6', 'call 173', '*(u64 *)(r7 + 40) = r0'], 'bpf_get_func_ip');
  for (const w of ENDBR_WORDS) t.ok(ip.some((l) => l.startsWith(`if w1 == ${w | 0} goto`)), `compares with 0x${w.toString(16)}`);
  t.ok(ip.includes('r1 += 4'), 'moves 4 bytes on');
  const tp = lower('t sched_switch');
  t.same(tp.probeIp, { op: 'ftrace-site', base: 'ksym', symbol: '__probestub_sched_switch' }, 'a tprobe sits on __probestub_TP');
  t.equal(under(listing(tp), '__probe_ip')[0], 'r3 = 0 ll', 'its address: a ksym load, relocated by libbpf');
});

t.test('what a trampoline has not: registers and the stack', async (t) => {
  t.throws(() => lower('f vfs_read s=$stack0'), /\$stack is not available to a fentry program/);
  t.throws(() => lower('f vfs_read%return', { functionSlots: { argSlots: () => undefined } }), /BTF has no function vfs_read/);
});

t.test('the object, as llvm-objdump reads it', { skip: toolSkipReason('llvm-objdump') }, async (t) => {
  const defs = ['f vfs_read a=$arg3', 'f vfs_read%return r=$retval', 't sched_switch p=$arg1:u8'].map(def);
  const obj = compileDefinitions(defs, slots);
  const file = writeTemp('tramp.o', obj.object);
  const sections = objdumpSections(file);
  t.same([...sections.keys()].filter((s) => /^(fentry|fexit|tp_btf)\//.test(s)), ['fentry/vfs_read', 'fexit/vfs_read', 'tp_btf/sched_switch']);
  const heads = run('llvm-objdump', ['-h', file]).stdout;
  t.match(heads, /\.BTF\b/, 'a .BTF section for libbpf');
  const syms = run('llvm-objdump', ['-t', file]).stdout;
  t.match(syms, /__probestub_sched_switch/, 'the stub is a __ksym extern, resolved at load');
  t.match(run('llvm-objdump', ['-r', file]).stdout, /R_BPF_64_64\s+__probestub_sched_switch/, 'relocated in tp_btf/sched_switch');
});

t.test('argument slots from the kernel\'s BTF agree with bpftool', { skip: toolSkipReason('bpftool') ?? (existsSync(VMLINUX_BTF) ? undefined : 'no kernel BTF') }, async (t) => {
  const btf = openKernelBtf(VMLINUX_BTF)!;
  const raw = run('bpftool', ['btf', 'dump', 'file', VMLINUX_BTF, 'format', 'raw']).stdout;
  for (const fn of ['vfs_read', 'do_sys_openat2', 'hrtimer_nanosleep', 'ksys_read', 'schedule']) {
    const m = new RegExp(`^\\[\\d+\\] FUNC '${fn}' type_id=(\\d+)`, 'm').exec(raw);
    if (!m) { t.comment(`${fn}: not in this kernel's BTF`); continue; }
    const proto = new RegExp(`^\\[${m[1]}\\] FUNC_PROTO '\\(anon\\)' ret_type_id=\\d+ vlen=(\\d+)`, 'm').exec(raw);
    t.equal(argSlotsIn(btf, fn), Number(proto![1]), `${fn}: ${proto![1]} parameters, none a struct by value`);
  }
  t.equal(argSlotsIn(btf, 'no_such_function_kbpf'), undefined);
});

/** vfs_read's model, and sk_setsockopt's (a 16-byte sockptr_t by value in the 4th parameter: two slots), as a fake kernel's. */
const MODELS: Record<string, FunctionModel> = {
  vfs_read: { paramSlots: [0, 1, 2, 3], slots: 4, hasStructArg: false },
  sk_setsockopt: { paramSlots: [0, 1, 2, 3, 5], slots: 6, hasStructArg: true },
  wide: { paramSlots: [0, 1, 2, 3, 4, 5, 7], slots: 8, hasStructArg: true },
  ns_to_kernel_old_timeval: { paramSlots: [0], slots: 1, hasStructArg: false, refused: 'the kernel builds no BPF trampoline for ns_to_kernel_old_timeval: it returns a struct by value' },
};
const modelled: LowerOptions = { functionSlots: { argSlots: (sym) => MODELS[sym]?.slots, model: (sym) => MODELS[sym] } };

t.test('kprobes with BTF arguments at a function\'s entry or return compile to fentry/fexit', { skip: existsSync(VMLINUX_BTF) ? undefined : 'no kernel BTF (the lines need it)' }, async (t) => {
  const p = lower('p:g/a vfs_read file count', modelled);
  t.same([p.section, p.context, p.probeIp], ['fentry/vfs_read', 'slots', { op: 'ftrace-site', base: 'func-ip' }], 'entry: fentry, the ip column the ftrace site (where the kernel puts the kprobe)');
  t.same(under(listing(p), 'count=count').slice(0, 1), ['r3 = *(u64 *)(r6 + 16)'], 'count from slot 2');
  const r = lower('r:g/b vfs_read count $retval', modelled);
  t.same([r.section, r.context, r.entryData, r.probeIp], ['fexit/vfs_read', 'slots', undefined, { op: 'ksym', symbol: 'vfs_read', offset: 0n }], 'return: fexit, entry arguments native, __probe_func the symbol as a kretprobe\'s');
  t.same(r.retIp, { op: 'trampoline-frame', ctxOffset: 56 }, 'the caller from the trampoline\'s frame');
  t.equal(p.format.tracer, 'kprobe', 'the event stays a kprobe event (its format, its lines)');
  const stays: [string, LowerOptions, string][] = [
    ['p:g/c vfs_read', modelled, 'no BTF arguments'],
    ['p:g/c vfs_read file ip=%ip', modelled, 'a register'],
    ['r:g/c vfs_read count s=$stack0', modelled, '$stack'],
    ['p:g/c vfs_read file v=@jiffies', modelled, '@SYM'],
    ['p:g/c vfs_read+4 x=%di', modelled, 'past the entry'],
    ['r5:g/c vfs_read count', modelled, 'MAXACTIVE'],
    ['p:g/c ns_to_kernel_old_timeval nsec', modelled, 'a function the trampoline refuses'],
    ['p:g/c vfs_read file', { ...modelled, trampolines: false }, 'trampolines: false'],
    ['p:g/c vfs_read file', { ...modelled, noTrampoline: new Set(['vfs_read']) }, 'a function that fell back'],
    ['p:g/c vfs_read file', slots, 'no model of the function'],
  ];
  for (const [line, opts, why] of stays) {
    let d: ProbeDefinition;
    try { d = def(line); } catch { t.comment(`${line}: not accepted by this BTF`); continue; }
    t.match(lowerProbe(d, opts).section, /^k(ret)?probe\//, `${line}: stays a kprobe (${why})`);
  }
  t.equal(lower('f:g/d vfs_read count', { ...modelled, trampolines: false }).section, 'kprobe/vfs_read', 'an f event on the fallback: a kprobe');
  const fx = lower('f:g/d vfs_read%return count', { ...modelled, trampolines: false });
  t.same([fx.section, fx.entryData, fx.probeIp, fx.format.tracer], ['kretprobe/vfs_read', { args: [3] }, { op: 'ksym', symbol: 'vfs_read', offset: 0n }, 'fprobe'], 'its exit a kretprobe with entry data, printing the fprobe event');
});

t.test('a struct by value takes two slots: $retval and the frame after them, names by their register', { skip: existsSync(VMLINUX_BTF) ? undefined : 'no kernel BTF' }, async (t) => {
  let d: ProbeDefinition;
  try { d = def('r:g/s sk_setsockopt level optlen a6=$arg6 $retval'); } catch { t.comment('no sk_setsockopt in this BTF'); return; }
  const r = lowerProbe(d, modelled);
  t.equal(r.section, 'fexit/sk_setsockopt');
  const l = listing(r);
  // the kernel reads a BTF parameter by its index as a register (trace_probe.c: code->param = i), and the
  // trampoline's slots are the argument registers in order: optlen (index 4) is slot 4, $arg6 slot 5
  t.same(under(l, 'optlen=optlen').slice(0, 1), ['r3 = *(u64 *)(r6 + 32)'], 'optlen: slot 4, as the kernel reads register 4');
  t.same(under(l, 'a6=$arg6').slice(0, 1), ['r3 = *(u64 *)(r6 + 40)'], '$arg6: slot 5');
  t.same(under(l, 'arg4=$retval').slice(0, 1), ['r3 = *(u64 *)(r6 + 48)'], '$retval after six slots, not five');
  t.same(r.retIp, { op: 'trampoline-frame', ctxOffset: (6 + 3) * 8 });
  t.match(lowerProbe(def('p:g/w sk_setsockopt level'), { functionSlots: { argSlots: () => 8, model: () => MODELS.wide! } }).section, /^kprobe\//,
    'more than six slots with a struct: a later argument may be on the stack, the kprobe stays');
});

t.test('the trampoline model agrees with bpftool\'s reading of the kernel\'s BTF', { skip: toolSkipReason('bpftool') ?? (existsSync(VMLINUX_BTF) ? undefined : 'no kernel BTF') }, async (t) => {
  const raw = run('bpftool', ['btf', 'dump', 'file', VMLINUX_BTF, 'format', 'raw']).stdout;
  const types = new Map<number, string>();
  for (const m of raw.matchAll(/^\[(\d+)\] (.*(?:\n\t.*)*)/gm)) types.set(Number(m[1]), m[2]!);
  /** bytes of a type by bpftool's text: through typedefs and modifiers; a pointer 8. */
  const size = (id: number): number => {
    const text = types.get(id)!;
    if (/^PTR /.test(text)) return 8;
    const s = /size=(\d+)/.exec(text);
    if (s && /^(INT|STRUCT|UNION|ENUM|ENUM64) /.test(text)) return Number(s[1]);
    return size(Number(/type_id=(\d+)/.exec(text)![1]));
  };
  const btf = openKernelBtf(VMLINUX_BTF)!;
  for (const fn of ['vfs_read', 'sk_setsockopt', 'do_sys_openat2', 'tcp_setsockopt']) {
    const m = new RegExp(`^\\[\\d+\\] FUNC '${fn}' type_id=(\\d+)`, 'm').exec(raw);
    if (!m) { t.comment(`${fn}: not in this kernel's BTF`); continue; }
    const params = [...types.get(Number(m[1]))!.matchAll(/\n\t'[^']*' type_id=(\d+)/g)].map((p) => size(Number(p[1])));
    const expect: number[] = [];
    let at = 0;
    for (const bytes of params) { expect.push(at); at += Math.ceil(bytes / 8); }
    const model = functionModelIn(btf, fn)!;
    t.same([model.paramSlots, model.slots], [expect, at], `${fn}: parameters of ${params.join(', ')} bytes`);
  }
  const tv = functionModelIn(btf, 'ns_to_kernel_old_timeval');
  if (tv) t.match(tv.refused, /returns a struct by value/, 'a function returning a struct: no trampoline');
});

t.test('fexit finds the caller behind the kernel\'s return hook (rethook_node on current->rethooks)', async (t) => {
  const rethook = { taskRethooks: 2400, nodeLlist: 16, nodeRetAddr: 32, nodeFrame: 40 };
  const ret = under(listing(lower('f vfs_read%return', { functionSlots: { argSlots: () => 4, rethook: () => rethook } })), '__probe_ret_ip');
  const text = ret.join('\n');
  t.match(text, /call 35\n/, 'bpf_get_current_task');
  t.match(text, /r3 \+= 2400\n/, 'task_struct.rethooks');
  t.match(text, /r3 \+= 24\n[\s\S]*r2 = r6\nr2 \+= 56\nif r1 != r2 goto/, 'a node of this frame: its frame is the return address\'s slot');
  t.match(text, /r3 \+= 16\n[\s\S]*r8 = r1/, 'its ret_addr taken');
  t.match(text, /\*\(u64 \*\)\(r7 \+ 48\) = r8$/, 'stored at __probe_ret_ip');
});
