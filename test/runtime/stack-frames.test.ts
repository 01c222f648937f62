// Where our BPF stacks are cut to the kernel's (runtime/stack-frames.ts):
// the trigger's lines from the dispatcher down under the kernel's trace
// function, a hist key's frames below the dispatcher, entries equal after
// the cut merged. The kernel's own output is the judge in
// test/guest/triggers.test.ts; this pins the cut on a small symbol table.
import t from 'tap';
import { Kallsyms } from '../../runtime/kallsyms.js';
import { stackLines } from '../../runtime/printer/stack-printer.js';
import { kernelStackEntries } from '../../runtime/hist/stack-key.js';
import { histLayout, type HistPlan } from '../../compiler/hist-layout.js';
import type { HistTrigger } from '../../grammar/trigger/index.js';

const SYMS = Kallsyms.load([
  'ffffffff81000000 T _stext',
  'ffffffff81001000 t bpf_stack_helper',
  'ffffffff81002000 t kprobe_perf_func',
  'ffffffff81003000 t uprobe_dispatcher',
  'ffffffff81004000 t uprobe_notify_resume',
  'ffffffff81005000 T asm_exc_int3',
  'ffffffff81006000 T _etext',
].join('\n'));
const A = (n: number, off: number) => 0xffffffff81000000n + BigInt(n * 0x1000 + off);
const STACK = [A(1, 0x10), A(2, 0x20), A(3, 0x30), A(4, 0x40), A(5, 0x50)];

t.test('trigger lines: the trace function, then the dispatcher and below', async (t) => {
  t.same(stackLines(STACK, { tracer: 'uprobe', isReturn: false }, SYMS), ['__uprobe_trace_func', 'uprobe_dispatcher', 'uprobe_notify_resume', 'asm_exc_int3']);
  t.same(stackLines(STACK.slice(3), { tracer: 'uprobe', isReturn: false }, SYMS), ['uprobe_notify_resume', 'asm_exc_int3'], 'no dispatcher: every frame');
  t.same(stackLines([STACK[0]!, STACK[1]!, STACK[3]!, STACK[4]!], { tracer: 'kprobe', isReturn: false }, SYMS),
    ['kprobe_trace_func', 'kprobe_dispatcher', 'uprobe_notify_resume', 'asm_exc_int3'], 'a dispatcher that tail-called our handler: its name, then below the handler');
});

t.test('hist key: the frames below the dispatcher; equal cut keys are one entry', async (t) => {
  const trigger: HistTrigger = {
    kind: 'hist', keys: [{ source: 'stacktrace', name: 'stacktrace', string: false, size: 128, signed: false }], vals: [],
    sort: [{ index: 0, descending: false }], mapBits: 11, pause: false, cont: false, clear: false, clock: 'global',
    vars: [], timestamps: false, tsInUsecs: false,
  };
  const layout = histLayout(trigger);
  const plan: HistPlan = { group: 'g', event: 'e', text: 'hist:keys=stacktrace', trigger, index: 0, layout, sums: 'atomic' };
  const key = (frames: bigint[]) => { const b = Buffer.alloc(layout.keySize); frames.forEach((f, i) => b.writeBigUInt64LE(f, 8 * i)); return b; };
  const other = [A(1, 0x18), ...STACK.slice(1)];
  const { entries, layout: kernel } = kernelStackEntries(plan, [
    { key: key(STACK), sums: [3n], seq: 2n },
    { key: key(other), sums: [4n], seq: 1n },
  ], SYMS);
  t.equal(kernel.keySize, 128, 'the kernel\'s HIST_STACKTRACE_DEPTH frames');
  t.equal(entries.length, 1);
  t.same(entries[0]!.sums, [7n]);
  t.equal(entries[0]!.seq, 1n, 'the first made');
  t.same([entries[0]!.key.readBigUInt64LE(0), entries[0]!.key.readBigUInt64LE(8), entries[0]!.key.readBigUInt64LE(16)], [A(4, 0x40), A(5, 0x50), 0n]);
});
