// Codegen takes every entry offset from the layout (compiler/layout.ts), not
// from numbers of its own: move the fields in the layout and the stores move
// with them. And its labels are unique within a program however many strings
// and retries it has.
import t from 'tap';
import { isLabel } from '../../../bpf/asm.js';
import { disassemble } from '../../../bpf/disasm.js';
import { programFromAsm } from '../../../bpf/elf-writer.js';
import type { FieldFormat } from '../../../compiler/abi.js';
import { generateProgram } from '../../../compiler/codegen.js';
import type { ProbeProgram } from '../../../compiler/ir.js';
import { lower } from './lib.js';

/** The program's annotated listing, one string per line. */
function listingOf(p: ProbeProgram): string[] {
  const spec = programFromAsm(p.name, p.section, generateProgram(p, 7), 'pt_regs');
  return disassemble(spec.insns ?? [], { annotate: true, strict: false });
}

/** The instruction texts (without their numbers) that follow annotation `note`. */
function after(lines: readonly string[], note: string, n: number): string[] {
  const at = lines.findIndex((l) => l === `; ${note}` || l.startsWith(`; ${note};`));
  if (at < 0) throw new Error(`no annotation ${note}`);
  return lines.slice(at + 1, at + 1 + n).map((l) => l.split('\t').slice(1).join('\t'));
}

const field = (name: string, offset: number, size: number): FieldFormat => ({ ctype: 'x', name, offset, size, signed: false });

t.test('common and probe field stores follow the layout', async (t) => {
  const p = lower('r:g/e /bin/true:0x1000 v=@+0x20:u32', { sleepable: false });
  // the kernel's layout first, as a baseline: common_pid at 4, __probe_func at 8, __probe_ret_ip at 16 (+32 prefix)
  const base = listingOf(p);
  t.same(after(base, '__probe_func', 3).slice(2), ['*(u64 *)(r7 + 40) = r0']);
  t.same(after(base, '__probe_ret_ip', 2), ['r1 = *(u64 *)(r6 + 128)', '*(u64 *)(r7 + 48) = r1']);

  // a layout with every field elsewhere (as a wider trace_entry would make it)
  const moved: ProbeProgram = {
    ...p,
    format: {
      ...p.format,
      commonFields: [field('common_type', 2, 2), field('common_pid', 12, 4)],
      probeFields: [field('__probe_func', 24, 8), field('__probe_ret_ip', 40, 8)],
    },
  };
  const l = listingOf(moved);
  t.same(after(l, 'prefix: time, tgid, cpu, comm; common_type, common_pid', 4).slice(3), ['*(u32 *)(r7 + 44) = r0'], 'common_pid at 32 + 12');
  t.ok(l.some((x) => x.endsWith('\t*(u32 *)(r7 + 34) = 7')), 'common_type (the event id) at 32 + 2');
  t.same(after(l, '__probe_func', 3).slice(2), ['*(u64 *)(r7 + 56) = r0'], '__probe_func at 32 + 24');
  t.same(after(l, '__probe_ret_ip', 2), ['r1 = *(u64 *)(r6 + 128)', '*(u64 *)(r7 + 72) = r1'], '__probe_ret_ip at 32 + 40');
  // kernel: translate_user_vaddr, the probed address - the probe's file offset + FILE_OFFS: 0x20 - 0x1000
  t.same(after(l, 'v=@+0x20:u32', 2), ['r3 = *(u64 *)(r7 + 56)', 'r3 += -4064'], '@+FILE_OFFS starts from the probed address where the layout put it');
});

t.test('a layout without a probe field is a codegen error, not a store at a made-up offset', async (t) => {
  const p = lower('p:g/e /bin/true:0x1000 x=%di', { sleepable: false });
  t.throws(() => generateProgram({ ...p, format: { ...p.format, probeFields: [] } }, 1), { message: 'g/e: the layout has no __probe_ip field' });
});

t.test('every label is defined once in a program, with many strings, retries and an array of strings', async (t) => {
  const p = lower('p:g/e /bin/true:0x1000 a=+0(%di):string b=+0(%si):ustring c=+0(%dx):string[3] d=$comm');
  t.equal(p.sleepable, true, 'sleepable: faulting string reads with retry labels, ring buffer labels');
  const labels = generateProgram(p, 1).filter(isLabel).map((x) => x.label);
  t.ok(labels.length >= 10, `${labels.length} labels`);
  t.same(labels.filter((x, i) => labels.indexOf(x) !== i), [], 'no label defined twice');
});
