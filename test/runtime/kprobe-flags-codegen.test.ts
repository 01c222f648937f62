// The kprobe flags code (compiler/codegen-flags-kprobe.ts) run on an
// interpreter against tracing_gen_ctx_dec() written out from the kernel
// (kernel/trace/trace.c tracing_gen_ctx_irq_test, include/linux/preempt.h),
// over preempt counts, TIF words and interrupt flags; the rules per release
// and config. The kernel's own lines judge the whole in the guests
// (test/guest/kprobe-diff.test.ts).
import t from 'tap';
import { programFromAsm } from '../../bpf/elf-writer.js';
import { Helper, exit, mov64Imm } from '../../bpf/asm.js';
import { R0, type Insn } from '../../bpf/insn.js';
import { emitTraceContext } from '../../compiler/codegen-flags.js';
import { traceContextRulesFor, type TraceContextRules } from '../../compiler/codegen-flags-rules.js';
import { PT_REGS_OFFSET } from '../../compiler/arch/x86_64.js';
import type { EventFormat } from '../../compiler/abi.js';
import { runFilterCode } from '../compiler/filter/interp.js';

const field = (name: string, offset: number, size: number) => ({ ctype: 'x', name, offset, size, signed: false });
const COMMON = [field('common_type', 0, 2), field('common_flags', 2, 1), field('common_preempt_count', 3, 1), field('common_pid', 4, 4)];
const KPROBE: EventFormat = {
  group: 'g', event: 'e', tracer: 'kprobe', isReturn: false, commonFields: COMMON, probeFields: [], argFields: [], entrySize: 16, printFmt: '',
};
const ENTRY = 32;
const SLOT = -16;
const CONFIG = { kallsymsAll: true, preemptRcu: true, preemptCount: true };

/** The kernel's packed context for one hit (what trace_event_buffer_reserve stores). */
function kernelContext(raw: number, tif: number, regsIf: boolean, rules: TraceContextRules): { flags: number; preemptCount: number } {
  const pc = raw & 0x7fffffff;
  // irqs are off in NMI and hardirq context; elsewhere the probed code's IF holds
  const irqsOff = (pc & 0xf00000) !== 0 || (pc & 0x0f0000) !== 0 || !regsIf;
  let f = irqsOff ? 0x01 : 0;
  if (pc & 0xf00000) f |= 0x40; // NMI
  if (pc & 0x0f0000) f |= 0x08; // HARDIRQ
  if (pc & 0x100) f |= 0x10; // in_serving_softirq
  if ((pc & 0xff00) >> 9) f |= 0x80; // BH off
  if (tif & (1 << rules.tifNeedResched)) f |= 0x04;
  if (rules.tifNeedReschedLazy !== undefined && tif & (1 << rules.tifNeedReschedLazy)) f |= 0x02;
  if (!(raw & 0x80000000)) f |= 0x20; // x86: PREEMPT_NEED_RESCHED is inverted
  let ctx = f * 0x10000 + Math.min((pc & 0xff) - (rules.bpfPreemptDepth ?? 0), 15);
  if (rules.preemption) ctx -= 1;
  return { flags: Math.floor(ctx / 0x10000) & 0xff, preemptCount: ctx & 0xff };
}

const TASK = 0x7000_0000n;
const PER_CPU_OFFSET = 0x4000_0000n;
const CPU = 3n;

const programs = new Map<TraceContextRules, readonly Insn[]>();

/** Runs the emitted code on one hit; the ksyms are 0 before relocation, so the per-CPU address is the offset alone. */
function runHit(rules: TraceContextRules, raw: number, tif: number, regsIf: boolean): { flags: number; preemptCount: number } {
  let insns = programs.get(rules);
  if (!insns) {
    insns = programFromAsm('p', 'kprobe', [...emitTraceContext(KPROBE, ENTRY, SLOT, rules), mov64Imm(R0, 0), exit()], 'pt_regs').insns ?? [];
    programs.set(rules, insns);
  }
  const record = new Uint8Array(64);
  const regs = new Uint8Array(PT_REGS_OFFSET.ss + 8);
  new DataView(regs.buffer).setBigUint64(PT_REGS_OFFSET.flags, regsIf ? 0x246n : 0x46n, true);
  const REGS = 0x3000_0000n;
  const countAt = PER_CPU_OFFSET + BigInt(rules.preemptCount!.offset);
  runFilterCode(insns, record, 10_000, {
    regions: [{ base: REGS, bytes: regs }],
    regs: { 6: REGS },
    call: (id, r, mem) => {
      if (id === Helper.get_current_task) return TASK;
      if (id === Helper.get_smp_processor_id) return CPU;
      if (id !== Helper.probe_read_kernel) throw new Error(`helper ${id} not stubbed`);
      const [dst, size, src] = [r[1]!, Number(r[2]!), r[3]!];
      const value = src === TASK ? BigInt(tif) : src === CPU * 8n ? PER_CPU_OFFSET : src === countAt ? BigInt(raw) : undefined;
      if (value === undefined) throw new Error(`read of 0x${src.toString(16)} not expected`);
      mem.store(dst, size, value);
      return 0n;
    },
  });
  return { flags: record[ENTRY + 2]!, preemptCount: record[ENTRY + 3]! };
}

/** Preempt counts a kprobe handler meets: task, softirq, BH-off, hardirq, the int3 NMI entry, nested depths, PREEMPT_NEED_RESCHED both ways. */
const RAWS = [0, 1, 2, 0x11, 0x100, 0x101, 0x200, 0x201, 0x10000, 0x10001, 0x110000, 0x110001, 0x110100, 0x110201, 0x20000, 0x20]
  .flatMap((pc) => [pc | 0x80000000, pc]);

t.test('every context bit and the preempt depth as tracing_gen_ctx_dec() packs them', async (t) => {
  for (const release of ['6.1.0-57-amd64', '6.12.95+deb12-amd64', '6.13.2', '6.18.44']) {
    for (const preemption of [true, false]) {
      const rules = traceContextRulesFor(release, preemption, CONFIG);
      let n = 0;
      for (const raw of RAWS) for (const tif of [0, 0x8, 0x10, 0x18, 0x30]) for (const regsIf of [true, false]) {
        const want = kernelContext(raw, tif, regsIf, rules);
        const got = runHit(rules, raw, tif, regsIf);
        if (got.flags !== want.flags || got.preemptCount !== want.preemptCount) {
          t.fail(`${release} preemption=${preemption} raw=0x${raw.toString(16)} tif=0x${tif.toString(16)} IF=${regsIf}`, { got, want });
        }
        n++;
      }
      t.pass(`${release}, CONFIG_PREEMPTION=${preemption ? 'y' : 'n'}: ${n} hits as the kernel packs them`);
    }
  }
});

t.test('without CONFIG_PREEMPT_RCU the BPF run\'s rcu_read_lock() is taken off the depth', async (t) => {
  const rules = traceContextRulesFor('6.1.0', true, { kallsymsAll: true, preemptRcu: false, preemptCount: true });
  t.equal(rules.bpfPreemptDepth, 1);
  t.same(runHit(rules, 0x80000001, 0, true), kernelContext(0x80000001, 0, true, rules));
  t.same(runHit(rules, 0x80000001, 0, true), { flags: 0xff, preemptCount: 0xff }, 'depth 1 read is the kernel handler\'s 0: the decrement borrows from a zero context');
});

t.test('where the preempt count is, per release; nowhere without CONFIG_KALLSYMS_ALL', async (t) => {
  t.same(traceContextRulesFor('6.1.0-57-amd64', true, CONFIG).preemptCount, { symbol: '__preempt_count', offset: 0 });
  t.same(traceContextRulesFor('6.2.0', true, CONFIG).preemptCount, { symbol: 'pcpu_hot', offset: 8 });
  t.same(traceContextRulesFor('6.12.95+deb12-amd64', true, CONFIG).preemptCount, { symbol: 'pcpu_hot', offset: 8 });
  t.same(traceContextRulesFor('6.14.11', true, CONFIG).preemptCount, { symbol: 'pcpu_hot', offset: 8 });
  t.same(traceContextRulesFor('6.15.0', true, CONFIG).preemptCount, { symbol: '__preempt_count', offset: 0 });
  t.same(traceContextRulesFor('6.18.44', true, CONFIG).preemptCount, { symbol: '__preempt_count', offset: 0 });
  const noKallsyms = traceContextRulesFor('6.12.95', true, { ...CONFIG, kallsymsAll: false });
  t.equal(noKallsyms.preemptCount, undefined);
  t.same(emitTraceContext(KPROBE, ENTRY, SLOT, noKallsyms), [], 'kprobe records keep flags 0 then');
});

t.test('the program names the per-CPU symbols it reads (libbpf resolves them from kallsyms)', async (t) => {
  const items = emitTraceContext(KPROBE, ENTRY, SLOT, traceContextRulesFor('6.12.95', true, CONFIG));
  const externs = items.flatMap((i) => ('ref' in i && i.ref?.kind === 'extern' ? [i.ref.symbol] : []));
  t.same(externs, ['__per_cpu_offset', 'pcpu_hot']);
});
