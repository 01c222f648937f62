// The ring reader against the kernel filling it: uprobe trace events opened
// as perf tracepoints (PERF_SAMPLE_RAW), so every sample is a kernel trace
// entry we can check. Small rings force records across the ring end and
// PERF_RECORD_LOST; samples + lost must account for every hit.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { ElfSymbols } from '../../runtime/elf-symbols.js';
import { PerfReader, type RingHandler } from '../../runtime/ring/index.js';
import { PERF_SAMPLE_CPU, PERF_SAMPLE_RAW, PERF_SAMPLE_TID, PERF_SAMPLE_TIME, PERF_TYPE_TRACEPOINT, perfEventFds } from '../../runtime/sys/index.js';
import { buildTarget, runTarget, type Target } from './lib/target.js';
import { addUprobeEvent, eventId, removeUprobeEvent } from './lib/tracefs.js';

const skip = uprobeEventsSkipReason();

/** Defines GROUP/hot on kpb_hot with i=%di:s32 (entry: 8 common + 8 ip + 4 = 20 bytes) and runs fn. */
async function withHotEvent(fn: (target: Target, id: bigint, group: string) => Promise<void>): Promise<void> {
  await withKernelLock(async () => {
    const target = buildTarget();
    const group = `kpbring${process.pid}`;
    try {
      const off = new ElfSymbols(target.path).resolve('kpb_hot');
      addUprobeEvent(`p:${group}/hot ${target.path}:0x${off.toString(16)} i=%di:s32`);
      await fn(target, BigInt(eventId(group, 'hot')), group);
    } finally {
      removeUprobeEvent(group, 'hot');
      target.cleanup();
    }
  });
}

function openHot(id: bigint, pages: number, wakeupEvents?: number): PerfReader {
  return PerfReader.open(
    () => ({ type: PERF_TYPE_TRACEPOINT, config: id, samplePeriod: 1n, sampleType: PERF_SAMPLE_RAW | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU }),
    wakeupEvents === undefined ? { pages } : { pages, wakeupEvents },
  );
}

/** Collects the i argument (s32 at entry offset 16) of every sample, and lost counts. */
function collector(): { h: RingHandler; values: number[]; lost: number } {
  const c = {
    values: [] as number[],
    lost: 0,
    h: {} as RingHandler,
  };
  c.h = {
    onSample: (raw, off, len) => {
      if (len >= 20) c.values.push(raw.readInt32LE(off + 16));
    },
    onLost: (_cpu, n) => {
      c.lost += n;
    },
  };
  return c;
}

t.test('records that wrap the ring end are read whole, while the kernel writes', { skip }, async (t) => {
  await withHotEvent(async (target, id) => {
    const N = 20000;
    const reader = openHot(id, 1, 16); // one 4 KiB page: 56-byte samples do not divide it
    const c = collector();
    try {
      // Pinned: a LOST record is emitted on the CPU whose ring overflowed, before that CPU's next sample.
      const child = spawn('taskset', ['-c', '0', target.path, '0', String(N)], { stdio: 'ignore' });
      let done = false;
      child.once('exit', () => (done = true));
      while (!done) await reader.poll(c.h, 5);
      reader.drain(c.h);
      // A LOST record is only written before the next sample: one more hit on that CPU flushes it.
      runTarget(target, ['0', '1'], 0);
      reader.drain(c.h);
      const wrapped = reader.rings.reduce((n, r) => n + r.wrapped, 0);
      t.ok(wrapped > 0, `records crossed the ring end (${wrapped} of them)`);
      t.equal(c.values.length + c.lost, N + 1, `every hit is a sample or counted lost (${c.values.length} read, ${c.lost} lost)`);
      const seen = c.values.slice(0, -1);
      t.ok(seen.every((v) => Number.isInteger(v) && v >= 0 && v < N), 'every sample carries a valid argument');
      t.equal(new Set(seen).size, seen.length, 'no sample read twice');
      t.equal(reader.totalLost(), c.lost, 'per-CPU lost counts add up');
    } finally {
      reader.close();
    }
  });
});

t.test('a tiny ring nobody reads reports PERF_RECORD_LOST, counted per CPU', { skip }, async (t) => {
  await withHotEvent(async (target, id) => {
    const N = 5000;
    const reader = openHot(id, 1);
    const c = collector();
    try {
      runTarget(target, ['0', String(N)], 0);
      reader.drain(c.h);
      runTarget(target, ['0', '1'], 0); // flushes the pending LOST record (same CPU)
      reader.drain(c.h);
      t.ok(c.lost > 0, `samples were lost (${c.lost})`);
      t.equal(c.values.length + c.lost, N + 1, 'read + lost = hits');
      const perCpu = reader.lost();
      t.equal([...perCpu.values()].reduce((a, b) => a + b, 0), c.lost, 'per-CPU counts sum to the total');
    } finally {
      reader.close();
    }
  });
});

t.test('close drains what is left and leaves no perf fd or mapping behind', { skip }, async (t) => {
  await withHotEvent(async (target, id) => {
    const fdsBefore = perfEventFds().length;
    const mapsBefore = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('perf_event')).length;
    const reader = openHot(id, 8);
    t.equal(perfEventFds().length, fdsBefore + reader.rings.length, 'one perf fd per CPU while open');
    const c = collector();
    runTarget(target, ['0', '100']);
    reader.close(c.h);
    t.equal(c.values.length, 100, 'close() delivered every pending sample');
    t.same([...c.values].sort((a, b) => a - b), [...Array(100).keys()], 'the values the program passed');
    t.equal(perfEventFds().length, fdsBefore, 'no perf fd left');
    const mapsAfter = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('perf_event')).length;
    t.equal(mapsAfter, mapsBefore, 'no perf mapping left');
    reader.close(); // idempotent
  });
});

t.test('the BPF output rings open on every CPU and close cleanly', async (t) => {
  const before = perfEventFds().length;
  const reader = PerfReader.forBpfOutput({ pages: 2 });
  t.equal(reader.fds().size, reader.rings.length);
  t.equal(reader.drain({ onSample: () => t.fail('no sample expected') }), 0);
  reader.close();
  t.equal(perfEventFds().length, before);
});

t.test('readAll() gives cilium-style records {cpu, raw, lost} that own their bytes', { skip }, async (t) => {
  await withHotEvent(async (target, id) => {
    const reader = openHot(id, 4);
    try {
      runTarget(target, ['0', '10']);
      const recs = reader.readAll();
      t.equal(recs.length, 10);
      t.ok(recs.every((r) => r.lost === 0 && r.raw !== undefined && r.cpu >= 0));
      t.same(recs.map((r) => r.raw!.readInt32LE(16)).sort((a, b) => a - b), [...Array(10).keys()], 'raw bytes are the kernel entries');
    } finally {
      reader.close();
    }
  });
});
