// The trace path the CLI wires, minus the compiler: a uprobe attached by
// PATH:SYMBOL through the PMU, a BPF program set on it with
// PERF_EVENT_IOC_SET_BPF, records in our layout (RECORD_PREFIX + trace entry)
// through bpf_perf_event_output into our per-CPU rings, printed. The kernel's
// own uprobe_events tracer, on the same hits, is the expected output.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { renderUprobeProfile } from '../../runtime/profile.js';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { ElfSymbols } from '../../runtime/elf-symbols.js';
import { parseFormatFile } from '../../runtime/format-file.js';
import { PerfReader } from '../../runtime/ring/index.js';
import { TracePrinter } from '../../runtime/printer/index.js';
import { AttachRegistry, attachBpfProbe, readPmu } from '../../runtime/attach/index.js';
import { onlineCpus, perfEventFds } from '../../runtime/sys/index.js';
import type { ProbeDefinition } from '../../grammar/ast.js';
import { buildTarget, runTarget } from './lib/target.js';
import { TraceInstance, addUprobeEvent, eventFormat, removeUprobeEvent, traceBodies } from './lib/tracefs.js';
import { closeFd, createPerfEventArray, loadRecordProgram, mapUpdateU32 } from './lib/mini-bpf.js';

const skip = uprobeEventsSkipReason() ?? (readPmu('uprobe') ? undefined : 'no uprobe PMU');

type Runner = (target: ReturnType<typeof buildTarget>) => Promise<number>;

async function compareWithKernel(t: Test, run: Runner, ordered: boolean): Promise<void> {
  await withKernelLock(async () => {
    const target = buildTarget();
    const kgroup = `kpbbpf${process.pid}`;
    const fdsBefore = perfEventFds().length;
    const registry = new AttachRegistry();
    const inst = new TraceInstance(kgroup);
    try {
      const off = new ElfSymbols(target.path).resolve('kpb_hot');
      addUprobeEvent(`p:${kgroup}/hot ${target.path}:0x${off.toString(16)} i=%di:s32`);
      inst.enable(kgroup, 'hot');
      const { format } = parseFormatFile(eventFormat(kgroup, 'hot'), kgroup);

      const reader = PerfReader.forBpfOutput({ pages: 16 });
      registry.addCleanup(() => reader.close());
      const mapFd = createPerfEventArray(Math.max(...reader.fds().keys()) + 1);
      registry.addCleanup(() => closeFd(mapFd));
      for (const [cpu, fd] of reader.fds()) mapUpdateU32(mapFd, cpu, fd);
      const progFd = loadRecordProgram(mapFd, 1);
      registry.addCleanup(() => closeFd(progFd));

      const def: ProbeDefinition = {
        op: 'define', tracer: 'uprobe', isReturn: false, group: 'uprobes', event: 'hot',
        point: { kind: 'file-symbol', path: target.path, symbol: 'kpb_hot', offset: 0n }, args: [], source: '',
      };
      registry.add(attachBpfProbe(def, progFd));

      let out = '';
      const printer = new TracePrinter({ sink: (b) => (out += b.toString('latin1')) });
      printer.register(format, 1);
      const hits = await run(target);
      reader.close(printer.handler()); // drains the rest, then unmaps
      printer.flush();
      t.equal(printer.unknown, 0, 'every record matched its event');
      t.equal([...printer.lost.values()].reduce((a, b) => a + b, 0), 0, 'nothing lost');
      const kernel = traceBodies(inst.trace());
      const ours = traceBodies(out);
      t.equal(kernel.length, hits, `the kernel traced ${hits} hits`);
      // --profile: our hit count in the kernel's uprobe_profile format equals the kernel's line for its event.
      const kernelLine = readFileSync('/sys/kernel/tracing/uprobe_profile', 'utf8').split('\n').find((l) => l.trim().split(/\s+/)[1] === 'hot' && l.includes(target.path));
      const ourLine = renderUprobeProfile(printer.events().map((e) => ({ event: e.format.event, hits: e.hits, misses: 0, file: target.path }))).trimEnd();
      t.equal(ourLine, kernelLine, 'profile hits equal the kernel uprobe_profile, in its format');
      if (ordered) {
        const key = (l: { task: string; cpu: number; body: string }) => `${l.task} ${l.cpu} ${l.body}`;
        t.same(ours.map(key).sort(), kernel.map(key).sort(), 'the same lines as the kernel (timestamps and flags aside)');
        const ts = out.split('\n').filter(Boolean).map((l) => Number(/ (\d+\.\d{6}): /.exec(l)![1]));
        t.ok(ts.every((v, i) => i === 0 || v >= ts[i - 1]!), 'CPUs merged in time order, as the trace file is');
        t.ok(new Set(ours.map((l) => l.cpu)).size > 1, 'hits came from more than one CPU');
      } else t.same(ours, kernel, 'our lines equal the kernel lines (timestamps and flags aside)');
      inst.enable(kgroup, 'hot', false);
    } finally {
      registry.closeAll();
      inst.remove();
      removeUprobeEvent(kgroup, 'hot');
      target.cleanup();
    }
    t.equal(perfEventFds().length, fdsBefore, 'no perf fd left');
  });
}

t.test('BPF records through our rings print as the kernel uprobe tracer prints', { skip }, async (t) => {
  await compareWithKernel(t, async (target) => (runTarget(target, ['0', '200']), 200), false);
});

const twoCpus = onlineCpus().length >= 2 ? undefined : 'needs two CPUs';
t.test('records from two CPUs come out merged in time order', { skip: skip ?? twoCpus }, async (t) => {
  await compareWithKernel(
    t,
    async (target) => {
      const cpus = onlineCpus().slice(0, 2);
      const runs = cpus.map(
        (c) => new Promise<void>((resolve, reject) => {
          const p = spawn('taskset', ['-c', String(c), target.path, '0', '300'], { stdio: 'ignore' });
          p.once('error', reject);
          p.once('exit', () => resolve());
        }),
      );
      await Promise.all(runs);
      return 600;
    },
    true,
  );
});
