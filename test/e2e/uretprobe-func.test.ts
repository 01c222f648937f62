// Return uprobe lines before Linux 6.6 (bpf_get_func_ip answers 0 for
// uprobes there): the printer puts the probed function's address in the
// hitting process in place of the record's 0 (runtime/printer/uprobe-func.ts).
// Judged here by the kernel's own return uprobe line for the same process:
// a running target is traced by uprobe_events (`r:` on kpb_tick); its line's
// `<- FUNC` must be what we print for a record of that pid whose
// __probe_func is 0, for the probe given as PATH:OFFSET and as PATH:SYMBOL.
// (On this kernel our programs get the address from bpf_get_func_ip; the
// 6.1 guest is where records carry 0.)
import t from 'tap';
import { COMMON_FIELDS } from '../runtime/lib/trace-entry.js';
import { spawn } from 'node:child_process';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { TraceInstance, addUprobeEvent, removeUprobeEvent } from '../runtime/lib/tracefs.js';
import { buildLoopTarget } from './lib/loop-target.js';
import { TracePrinter } from '../../runtime/printer/index.js';
import { FIELD_STRING_FUNC, FIELD_STRING_RETIP, RECORD_PREFIX_SIZE, type EventFormat, type ProbePlace } from '../../compiler/abi.js';
import { uprobeFuncOf } from '../../runtime/printer/uprobe-func.js';

const skip = uprobeEventsSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const FORMAT: EventFormat = {
  group: 'g', event: 'tickr', tracer: 'uprobe', isReturn: true,
  commonFields: COMMON_FIELDS,
  probeFields: [
    { ctype: 'unsigned long', name: FIELD_STRING_FUNC, offset: 8, size: 8, signed: false },
    { ctype: 'unsigned long', name: FIELD_STRING_RETIP, offset: 16, size: 8, signed: false },
  ],
  argFields: [],
  entrySize: 24,
  printFmt: '',
};

/** Our line for a record of `pid` with __probe_func 0 and the given return address. */
function ourLine(place: ProbePlace, pid: number, ret: bigint): string {
  let s = '';
  const p = new TracePrinter({ sink: (b) => (s += b.toString('latin1')) });
  p.register(FORMAT, 1, place);
  const r = Buffer.alloc(RECORD_PREFIX_SIZE + FORMAT.entrySize);
  r.writeUInt16LE(1, RECORD_PREFIX_SIZE);
  r.writeInt32LE(pid, RECORD_PREFIX_SIZE + 4);
  r.writeBigUInt64LE(ret, RECORD_PREFIX_SIZE + 16);
  p.printRecord(r, 0, r.length);
  p.flush();
  return s;
}

t.test("a return uprobe's function address without bpf_get_func_ip is the kernel's", { skip }, async (t) => {
  await withKernelLock(async () => {
    const target = buildLoopTarget();
    const group = `kpburet${process.pid}`;
    const inst = new TraceInstance(`${group}i`);
    // a call every 5 ms for as long as the test needs it
    const child = spawn(target.path, ['100000', '0', '5000'], { stdio: 'ignore' });
    try {
      addUprobeEvent(`r:${group}/tickr ${target.path}:0x${target.tickOffset.toString(16)}`);
      inst.enable(group, 'tickr');
      let m: RegExpExecArray | null = null;
      for (let i = 0; i < 100 && !m; i++) {
        await sleep(20);
        m = new RegExp(`-${child.pid} .* tickr: \\((0x[0-9a-f]+) <- (0x[0-9a-f]+)\\)`).exec(inst.trace());
      }
      inst.enable(group, 'tickr', false);
      if (!m) {
        t.fail("the kernel's trace has no return line of the target");
        return;
      }
      const [, ret, func] = m;
      t.not(func, '0x0', `the kernel's line: (${ret} <- ${func})`);
      const places: ProbePlace[] = [
        { kind: 'file', path: target.path, offset: target.tickOffset },
        { kind: 'file-symbol', path: target.path, symbol: 'kpb_tick', offset: 0n },
      ];
      for (const place of places) {
        t.match(ourLine(place, child.pid!, BigInt(ret!)), `tickr: (${ret} <- ${func})`, `${place.kind}: the kernel's function address`);
      }
      t.equal(uprobeFuncOf(places[0]!)!(1 << 22), undefined, 'a process that does not exist: no address (the line keeps 0x0)');
    } finally {
      child.kill('SIGKILL');
      inst.remove();
      removeUprobeEvent(group, 'tickr');
      target.cleanup();
    }
  });
});
