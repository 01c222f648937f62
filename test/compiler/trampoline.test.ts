// Judged by llvm-objdump and bpftool (skipped without them), so it lives outside compiler/unit/, which must pass as nobody without LLVM.
// f and t events compile to the program kinds made for them: sections libbpf
// knows (fentry/, fexit/, tp_btf/), arguments read from the trampoline's u64
// slots, fexit's return value in the slot after the arguments (counted from
// the kernel's BTF), the caller's return address from the trampoline's frame,
// and __probe_ip moved past an ENDBR as the kernel's fprobe reports it.
// Independent judges: llvm-objdump for the object's sections and code,
// bpftool for the function prototypes in the kernel's BTF.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { disassemble } from '../../bpf/disasm.js';
import { programFromAsm } from '../../bpf/elf-writer.js';
import { parseBtf } from '../../bpf/btf.js';
import { generateProgram } from '../../compiler/codegen.js';
import { compileDefinitions } from '../../compiler/object.js';
import type { ProbeProgram } from '../../compiler/ir.js';
import { argSlotsIn, VMLINUX_BTF } from '../../compiler/trampoline-btf.js';
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
  const btf = parseBtf(readFileSync(VMLINUX_BTF));
  const raw = run('bpftool', ['btf', 'dump', 'file', VMLINUX_BTF, 'format', 'raw']).stdout;
  for (const fn of ['vfs_read', 'do_sys_openat2', 'hrtimer_nanosleep', 'ksys_read', 'schedule']) {
    const m = new RegExp(`^\\[\\d+\\] FUNC '${fn}' type_id=(\\d+)`, 'm').exec(raw);
    if (!m) { t.comment(`${fn}: not in this kernel's BTF`); continue; }
    const proto = new RegExp(`^\\[${m[1]}\\] FUNC_PROTO '\\(anon\\)' ret_type_id=\\d+ vlen=(\\d+)`, 'm').exec(raw);
    t.equal(argSlotsIn(btf, fn), Number(proto![1]), `${fn}: ${proto![1]} parameters, none a struct by value`);
  }
  t.equal(argSlotsIn(btf, 'no_such_function_kbpf'), undefined);
});
