// --ftrace-comm in the printer (runtime/printer/saved-cmdlines.ts): held
// records print with their pid's last name seen when printHeld() runs, as
// ftrace reads saved_cmdlines when the trace is read; another pid keeps its
// own; without the option the name at the hit prints at once. The kernel's
// own lines judge the whole in test/e2e/comm.test.ts.
import t from 'tap';
import { COMMON_FIELDS } from './lib/trace-entry.js';
import { TracePrinter } from '../../runtime/printer/index.js';
import type { EventFormat } from '../../compiler/abi.js';
import { PREFIX_COMM, PREFIX_CPU, PREFIX_TS, RECORD_PREFIX_SIZE } from '../../compiler/abi.js';

const FORMAT: EventFormat = {
  group: 'g', event: 'tick', tracer: 'uprobe', isReturn: false,
  commonFields: COMMON_FIELDS,
  probeFields: [{ ctype: 'unsigned long', name: '__probe_ip', offset: 8, size: 8, signed: false }],
  argFields: [],
  entrySize: 16,
  printFmt: '',
};

function record(pid: number, comm: string, usec: number): Buffer {
  const b = Buffer.alloc(RECORD_PREFIX_SIZE + FORMAT.entrySize);
  b.writeBigUInt64LE(BigInt(usec) * 1000n, PREFIX_TS);
  b.writeUInt32LE(0, PREFIX_CPU);
  b.write(comm, PREFIX_COMM, 'latin1');
  b.writeUInt16LE(1, RECORD_PREFIX_SIZE);
  b.writeInt32LE(pid, RECORD_PREFIX_SIZE + 4);
  b.writeBigUInt64LE(0x401000n, RECORD_PREFIX_SIZE + 8);
  return b;
}

/** The comm column of each printed line. */
const comms = (s: string): string[] => s.split('\n').filter(Boolean).map((l) => l.slice(0, 16).trim());

function printer(ftraceComm: boolean): { p: TracePrinter; out: () => string } {
  let s = '';
  const p = new TracePrinter({ sink: (b) => (s += b.toString('latin1')), ftraceComm });
  p.register(FORMAT, 1);
  return { p, out: () => s };
}

const RECORDS = [record(10, 'before', 1), record(11, 'other', 2), record(10, 'after', 3)];

t.test('--ftrace-comm: every held line of a pid prints its last name seen', async (t) => {
  const { p, out } = printer(true);
  for (const r of RECORDS) t.ok(p.printRecord(r, 0, r.length));
  p.flush();
  t.equal(out(), '', 'nothing printed before printHeld');
  p.printHeld();
  p.flush();
  t.same(comms(out()), ['after', 'other', 'after']);
  t.equal(p.written, 3);
});

t.test('--ftrace-comm: lines printed before a rename keep the name seen then (trace_pipe)', async (t) => {
  const { p, out } = printer(true);
  p.printRecord(RECORDS[0]!, 0, RECORDS[0]!.length);
  p.printHeld();
  p.printRecord(RECORDS[2]!, 0, RECORDS[2]!.length);
  p.printHeld();
  p.flush();
  t.same(comms(out()), ['before', 'after']);
});

t.test('default: the name at each hit, printed at once', async (t) => {
  const { p, out } = printer(false);
  for (const r of RECORDS) p.printRecord(r, 0, r.length);
  p.flush();
  t.same(comms(out()), ['before', 'other', 'after']);
  p.printHeld();
  t.equal(p.written, 3, 'printHeld prints nothing more');
});
