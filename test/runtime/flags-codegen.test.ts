// The flags column's code on its own (compiler/codegen-flags.ts): the rules
// per kernel release, and what the program stores for each rule. The values
// are judged against the kernel's tracer by test/e2e/flags.test.ts.
import t from 'tap';
import { disassemble } from '../../bpf/disasm.js';
import { programFromAsm } from '../../bpf/elf-writer.js';
import { emitTraceContext } from '../../compiler/codegen-flags.js';
import { traceContextRulesFor } from '../../compiler/codegen-flags-rules.js';
import { exit, mov64Imm } from '../../bpf/asm.js';
import { R0 } from '../../bpf/insn.js';
import type { EventFormat } from '../../compiler/abi.js';

const field = (name: string, offset: number, size: number) => ({ ctype: 'x', name, offset, size, signed: false });
/** The kernel's trace_entry: type u16 at 0, flags u8 at 2, preempt_count u8 at 3, pid at 4. */
const COMMON = [field('common_type', 0, 2), field('common_flags', 2, 1), field('common_preempt_count', 3, 1), field('common_pid', 4, 4)];
const format = (tracer: 'uprobe' | 'kprobe'): EventFormat => ({
  group: 'g', event: 'e', tracer, isReturn: false, commonFields: COMMON, probeFields: [], argFields: [], entrySize: 16, printFmt: '',
});
/** Entries start after the 32-byte record prefix. */
const ENTRY = 32;
const SLOT = -16;

function listing(items: ReturnType<typeof emitTraceContext>): string[] {
  const spec = programFromAsm('p', 'uprobe', [...items, mov64Imm(R0, 0), exit()], 'pt_regs');
  return disassemble(spec.insns ?? [], { annotate: false, strict: false }).map((l) => l.split('\t').slice(1).join('\t'));
}

t.test('TIF bits per release: lazy from 6.13 (bit 4 was TIF_SINGLESTEP), the generic bits from 6.18', async (t) => {
  t.same(traceContextRulesFor('6.1.0-28-amd64', true), { preemption: true, tifNeedResched: 3 });
  t.same(traceContextRulesFor('6.12.48+deb13-amd64', false), { preemption: false, tifNeedResched: 3 });
  t.same(traceContextRulesFor('6.13.0', true), { preemption: true, tifNeedResched: 3, tifNeedReschedLazy: 4 });
  t.same(traceContextRulesFor('6.17.9', true), { preemption: true, tifNeedResched: 3, tifNeedReschedLazy: 4 });
  t.same(traceContextRulesFor('6.18.44-fc-v1045', true), { preemption: true, tifNeedResched: 4, tifNeedReschedLazy: 5 });
  t.same(traceContextRulesFor('7.0', true), { preemption: true, tifNeedResched: 4, tifNeedReschedLazy: 5 });
});

t.test('kprobe records keep zero flags (their context needs the per-CPU preempt count)', async (t) => {
  t.same(emitTraceContext(format('kprobe'), ENTRY, SLOT, { preemption: true, tifNeedResched: 3 }), []);
});

t.test('a layout without the fields gets no stores', async (t) => {
  t.same(emitTraceContext({ ...format('uprobe'), commonFields: [COMMON[0]!, COMMON[3]!] }, ENTRY, SLOT, { preemption: true, tifNeedResched: 3 }), []);
});

t.test('a uprobe program stores the borrowed context under CONFIG_PREEMPTION, the plain one without', async (t) => {
  const withBorrow = listing(emitTraceContext(format('uprobe'), ENTRY, SLOT, { preemption: true, tifNeedResched: 3, tifNeedReschedLazy: 4 }));
  const plain = listing(emitTraceContext(format('uprobe'), ENTRY, SLOT, { preemption: false, tifNeedResched: 3 }));
  t.ok(withBorrow.includes('r2 -= 1'), 'tracing_gen_ctx_dec: one off the packed context');
  t.notOk(plain.includes('r2 -= 1'), 'no decrement without CONFIG_PREEMPTION');
  t.ok(withBorrow.includes('r1 >>= 4') && !plain.includes('r1 >>= 4'), 'the lazy bit is read only where it exists');
  for (const l of [withBorrow, plain]) {
    t.ok(l.includes('*(u8 *)(r7 + 35) = r2'), 'common_preempt_count: the low byte');
    t.ok(l.includes('*(u8 *)(r7 + 34) = r2'), 'common_flags: the byte above the shift');
    t.ok(l.indexOf('*(u8 *)(r7 + 35) = r2') < l.indexOf('r2 >>= 16'), 'preempt count stored before the shift');
  }
});
