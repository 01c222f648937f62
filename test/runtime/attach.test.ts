// Attaching probes through the perf PMUs, judged by the kernel: hit counts
// read from our perf counters (no BPF) must equal the kernel's own
// uprobe_profile hits for an identical tracefs event on the same run, and
// equal what the program did.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { ElfSymbols } from '../../runtime/elf-symbols.js';
import { KprobesUnsupportedError, attachKprobe, attachProbe, attachUprobe, kprobeSupportProblem, readPmu } from '../../runtime/attach/index.js';
import { attachTracefsProbe } from '../../runtime/attach/tracefs-probe.js';
import { perfEventFds } from '../../runtime/sys/index.js';
import { buildTarget, runTarget, startHeld, type Target } from './lib/target.js';
import { TraceInstance, addUprobeEvent, removeUprobeEvent } from './lib/tracefs.js';
import { readFileSync } from 'node:fs';

const skip = uprobeEventsSkipReason() ?? (readPmu('uprobe') ? undefined : 'kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe)');

/** hits of GROUP/EVENT in uprobe_profile ("  PATH EVENT  HITS"). */
function profileHits(event: string): number {
  const line = readFileSync('/sys/kernel/tracing/uprobe_profile', 'utf8')
    .split('\n')
    .find((l) => l.trim().split(/\s+/)[1] === event);
  return Number(line?.trim().split(/\s+/)[2] ?? NaN);
}

/** Resolves a symbol's vaddr with nm and maps it to a file offset with readelf's program headers: a judge independent of ElfSymbols. */
function nmFileOffset(path: string, sym: string): bigint {
  const nm = execFileSync('nm', [path], { encoding: 'latin1' });
  const row = nm.split('\n').find((l) => l.split(' ')[2] === sym);
  if (!row) throw new Error(`nm: no ${sym}`);
  const vaddr = BigInt('0x' + row.split(' ')[0]);
  const ph = execFileSync('readelf', ['-lW', path], { encoding: 'latin1' });
  for (const l of ph.split('\n')) {
    const f = l.trim().split(/\s+/);
    if (f[0] !== 'LOAD') continue;
    const [off, va, , filesz] = [BigInt(f[1]!), BigInt(f[2]!), f[3], BigInt(f[4]!)];
    if (vaddr >= va && vaddr < va + filesz) return vaddr - va + off;
  }
  throw new Error('readelf: no LOAD segment maps it');
}

t.test('PATH:SYMBOL resolves to the file offset nm+readelf give, PIE and non-PIE', async (t) => {
  for (const pie of [true, false]) {
    const target = buildTarget({ pie });
    try {
      const elf = new ElfSymbols(target.path);
      for (const sym of ['kpb_target', 'kpb_hot', 'main']) t.equal(elf.resolve(sym), nmFileOffset(target.path, sym), `${pie ? 'PIE' : 'non-PIE'} ${sym}`);
      t.equal(elf.resolve('kpb_target', 4n), nmFileOffset(target.path, 'kpb_target') + 4n, 'SYMBOL+off');
      t.throws(() => elf.resolve('no_such_symbol'), /symbol 'no_such_symbol' not found/);
    } finally {
      target.cleanup();
    }
  }
  // .dynsym only: libc has no .symtab. A machine that runs these tests has a
  // glibc; not finding it is a failure, never a silently smaller test.
  const libc = execFileSync('sh', ['-c', 'ldconfig -p | awk \'/libc.so.6 .*x86-64/{print $NF; exit}\''], { encoding: 'latin1' }).trim();
  t.ok(libc, 'ldconfig -p lists the x86-64 libc.so.6 (the .dynsym-only ELF case)');
  if (!libc) return;
  const elf = new ElfSymbols(libc);
  t.ok(elf.symbols.every((s) => s.table === '.dynsym'), 'libc: only .dynsym symbols');
  t.ok(elf.resolve('getpid') > 0n, 'libc getpid resolves through .dynsym');
});

async function withTarget(pie: boolean, fn: (target: Target) => Promise<void>): Promise<void> {
  const target = buildTarget({ pie });
  try {
    await fn(target);
  } finally {
    target.cleanup();
  }
}

t.test('uprobe and uretprobe PMU hits equal the kernel uprobe_profile hits (PIE and non-PIE)', { skip }, async (t) => {
  await withKernelLock(async () => {
    for (const pie of [true, false]) {
      await withTarget(pie, async (target) => {
        const group = `kpbat${process.pid}`;
        const off = new ElfSymbols(target.path).resolve('kpb_hot');
        const inst = new TraceInstance(group);
        const before = perfEventFds().length;
        try {
          addUprobeEvent(`p:${group}/hot ${target.path}:0x${off.toString(16)}`);
          addUprobeEvent(`r:${group}/hotret ${target.path}:0x${off.toString(16)}`);
          inst.enable(group, 'hot');
          inst.enable(group, 'hotret');
          const entry = attachUprobe({ path: target.path, offset: off, isReturn: false }, { perCpu: true });
          const ret = attachUprobe({ path: target.path, offset: off, isReturn: true }, { perCpu: true });
          t.equal(perfEventFds().length, before + entry.fds.length + ret.fds.length, 'one perf fd per CPU per probe');
          entry.enable();
          ret.enable();
          runTarget(target, ['0', '1000']);
          t.equal(entry.count(), 1000n, `${pie ? 'PIE' : 'non-PIE'} uprobe counted every call`);
          t.equal(ret.count(), 1000n, 'uretprobe counted every return');
          t.equal(Number(entry.count()), profileHits('hot'), 'equal to the kernel uprobe_profile hits');
          t.equal(Number(ret.count()), profileHits('hotret'), 'uretprobe equal to the kernel hits');
          entry.close();
          ret.close();
          entry.close(); // idempotent
          t.equal(perfEventFds().length, before, 'close leaves no perf fd');
          inst.enable(group, 'hot', false);
          inst.enable(group, 'hotret', false);
        } finally {
          inst.remove();
          removeUprobeEvent(group, 'hot');
          removeUprobeEvent(group, 'hotret');
        }
      });
    }
  });
});

t.test('-p PID: only that process is counted; ref_ctr_offset bumps its semaphore', { skip }, async (t) => {
  await withKernelLock(async () => {
    await withTarget(true, async (target) => {
      const elf = new ElfSymbols(target.path);
      const off = elf.resolve('kpb_hot');
      const sema = elf.vaddrToOffset(elf.find('kpb_sema')[0]!.value);
      const held = await startHeld(target, 0, 300);
      const probe = attachUprobe({ path: target.path, offset: off, isReturn: false, refCtrOffset: sema }, { pid: held.pid });
      try {
        probe.enable();
        runTarget(target, ['0', '500']); // another process: not counted
        const out = await held.release();
        t.equal(probe.count(), 300n, 'counted only the scoped process');
        t.match(out, /sema=1\n/, 'the kernel incremented the semaphore at ref_ctr_offset');
      } finally {
        probe.close();
      }
      const plain = await startHeld(target, 0, 1);
      t.match(await plain.release(), /sema=0\n/, 'semaphore is 0 without the probe');
    });
  });
});

t.test('a uprobe on a missing file fails with the kernel errno and leaves nothing', { skip }, async (t) => {
  const before = perfEventFds().length;
  t.throws(() => attachUprobe({ path: '/nonexistent/kpb', offset: 0x1000n, isReturn: false }), /uprobe \/nonexistent\/kpb:0x1000: perf_event_open.*ENOENT/);
  t.equal(perfEventFds().length, before);
});

const kprobesPresent = kprobeSupportProblem() === undefined ? 'this kernel has kprobes (the guest suite covers attaching them)' : undefined;
t.test('kprobes on a kernel without them fail naming what is missing', { skip: kprobesPresent }, async (t) => {
  const before = perfEventFds().length;
  t.throws(() => attachKprobe({ symbol: 'do_sys_openat2', offset: 0n, isReturn: false }), KprobesUnsupportedError);
  t.throws(() => attachKprobe({ symbol: 'do_sys_openat2', offset: 0n, isReturn: true }), /kretprobe do_sys_openat2: this kernel has no kprobe support.*CONFIG_KPROBES/);
  const def = {
    op: 'define', tracer: 'kprobe', isReturn: false, group: 'kprobes', event: 'p_vfs_read_0',
    point: { kind: 'symbol', symbol: 'vfs_read', offset: 0n }, args: [], source: 'p vfs_read',
  } as const;
  t.throws(() => attachProbe(def), /kprobe vfs_read: .*CONFIG_KPROBES/);
  t.equal(perfEventFds().length, before, 'nothing left open');
});

t.test('a tracefs probe whose perf event cannot open is removed again at once', { skip }, async (t) => {
  await withKernelLock(async () => {
    await withTarget(true, async (target) => {
      const off = `0x${new ElfSymbols(target.path).resolve('kpb_hot').toString(16)}`;
      const ours = () => readFileSync('/sys/kernel/tracing/uprobe_events', 'utf8').split('\n').filter((l) => l.includes(target.path));
      t.throws(
        () => attachTracefsProbe({ tracer: 'uprobe', kind: 'uprobe', command: 'p', point: `${target.path}:${off}`, base: 'gone' }, { pid: 0x3fffffff }),
        /perf_event_open.*ESRCH/,
        'no such process',
      );
      t.same(ours(), [], 'the uprobe_events entry was removed');
      const ok = attachTracefsProbe({ tracer: 'uprobe', kind: 'uprobe', command: 'p', point: `${target.path}:${off}`, base: 'kept' }, { perCpu: true });
      t.equal(ours().length, 1, 'while attached the entry exists');
      ok.enable();
      runTarget(target, ['0', '25']);
      t.equal(ok.count(), 25n, 'hits counted through the tracepoint perf events');
      ok.close();
      t.same(ours(), [], 'close removes it');
      t.throws(
        () => attachTracefsProbe({ tracer: 'uprobe', kind: 'uprobe', command: 'p', point: `${target.path}:0xzz`, base: 'bad' }, {}),
        /the kernel refused 'p:kprobe_bpf_\d+\/bad_\d+ .*:0xzz'/,
        'a line the kernel rejects is reported with the line',
      );
    });
  });
});
