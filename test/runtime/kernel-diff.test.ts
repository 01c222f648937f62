// The kernel judges both the ring reader and the printer: the same uprobe
// events are traced by ftrace (into a private instance) and, through
// perf_event_open(PERF_TYPE_TRACEPOINT) with PERF_SAMPLE_RAW, into our perf
// rings, whose raw payload is the kernel's own trace entry. Our printer,
// given the EventFormat parsed from the kernel's format file, must print the
// same lines the kernel's `trace` file shows (timestamps and flags aside).
// The kernel lets a uprobe event feed ftrace or perf, not both at once
// (trace_uprobe.c: probe_event_enable returns -EINTR), so every definition is
// made twice, in two groups with the same event names: the group is not part
// of a trace line, so both print identically on the same hits.
import t from 'tap';
import { basename } from 'node:path';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { ElfSymbols } from '../../runtime/elf-symbols.js';
import { renderFormatFile } from '../../compiler/format.js';
import { parseFormatFile } from '../../runtime/format-file.js';
import { PerfReader } from '../../runtime/ring/index.js';
import { TracePrinter, ftraceHeader } from '../../runtime/printer/index.js';
import { Kallsyms } from '../../runtime/kallsyms.js';
import { PREFIX_COMM, PREFIX_CPU, PREFIX_TGID, PREFIX_TS, RECORD_PREFIX_SIZE } from '../../compiler/format.js';
import { PERF_SAMPLE_CPU, PERF_SAMPLE_RAW, PERF_SAMPLE_TID, PERF_SAMPLE_TIME, PERF_TYPE_TRACEPOINT, onlineCpus, perfEventFds } from '../../runtime/sys/index.js';
import { buildTarget, runTarget } from './lib/target.js';
import { TraceInstance, addUprobeEvent, eventFormat, eventId, removeUprobeEvent, traceBodies } from './lib/tracefs.js';

const skip = uprobeEventsSkipReason();

t.test('our ring reader + printer print what the kernel trace file prints', { skip }, async (t) => {
  await withKernelLock(async () => {
    const target = buildTarget();
    const kgroup = `kpbrtk${process.pid}`;
    const group = `kpbrtp${process.pid}`;
    const elf = new ElfSymbols(target.path);
    const hex = (v: bigint) => `0x${v.toString(16)}`;
    const offTarget = hex(elf.resolve('kpb_target'));
    const offFault = hex(elf.resolve('kpb_fault'));
    // Every fetch kind and type user space can reach.
    const defs: [string, string][] = [
      ['all', `p:${group}/all ${target.path}:${offTarget} a=%di:s64 s=+0(%si):string us=+0(%si):ustring id=+0(%dx):s32 ` +
        `name=+4(%dx):string bytes=+20(%dx):u8[4] xb=+20(%dx):x8[4] x=%cx:s64 xx=%cx c=%r8:char ` +
        `bits=+0(%dx):b4@2/32 i16=+0(%dx):s16 u16=+0(%dx):u16 x16=+0(%dx):x16 s8=%cx:s8 u32=%cx:u32 x32=%cx:x32 u64=%cx:u64 ` +
        `cm=$comm im=\\123 is=\\"imm" st=$stack0 sp=$stack fo=@+0:x32 nm=+0(+24(%dx)):string`],
      ['more', `p:${group}/more ${target.path}:${offTarget} sarr=+24(%dx):string[2] uarr=+24(%dx):ustring[2] ` +
        `b1=+20(%dx):b1@0/8 b3=+22(%dx):b3@5/8 b16=+0(%dx):b16@8/32 b7=%cx:b7@57/64 s8a=+20(%dx):s8[4] x64a=+24(%dx):x64[2] ` +
        `ca=+4(%dx):char[5] u16a=+20(%dx):u16[2] s64n=%cx:s64 st1=$stack1 m8=-8(%sp):x64 ip=%ip ax=%ax:x32 nu=+0(+32(%dx)):ustring`],
      ['ret', `r:${group}/ret ${target.path}:${offTarget} rv=$retval:s64 rx=$retval`],
      ['flt', `p:${group}/flt ${target.path}:${offFault} s=+0(%di):string u=+0(%di):ustring v=%si:u8 deref=+8(%di):u64`],
    ];
    const inst = new TraceInstance(`kpbrt${process.pid}`);
    const readers: PerfReader[] = [];
    const fdsBefore = perfEventFds().length;
    t.teardown(() => undefined);
    try {
      for (const [, line] of defs) {
        addUprobeEvent(line);
        addUprobeEvent(line.replace(`:${group}/`, `:${kgroup}/`));
      }
      const printed: { ts: number; text: string }[] = [];
      let chunk = '';
      const ksyms = Kallsyms.load();
      const printer = new TracePrinter({ sink: (b) => (chunk += b.toString('latin1')), kallsyms: ksyms });
      let jchunk = '';
      const jprinter = new TracePrinter({ sink: (b) => (jchunk += b.toString('latin1')), kallsyms: ksyms, json: true });
      const jsonLines: { ts: number; text: string }[] = [];
      let recordMismatch = 0;
      const charFields = new Set<string>();
      for (const [ev] of defs) {
        const fmtText = eventFormat(group, ev);
        const parsed = parseFormatFile(fmtText, group);
        t.equal(renderFormatFile(parsed.format, parsed.id), fmtText, `${ev}: format file round-trips`);
        printer.register(parsed.format, parsed.id);
        for (const a of parsed.format.argFields) if (a.print === 'char') charFields.add(`${ev}.${a.name}`);
        jprinter.register(parsed.format, parsed.id);
        inst.enable(kgroup, ev);
        const id = BigInt(eventId(group, ev));
        readers.push(
          PerfReader.open(
            () => ({
              type: PERF_TYPE_TRACEPOINT,
              config: id,
              samplePeriod: 1n,
              sampleType: PERF_SAMPLE_RAW | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU,
            }),
            { pages: 8, wakeupEvents: 1 },
          ),
        );
      }
      runTarget(target, ['3']);
      const comm = Buffer.from(basename(target.path).slice(0, 15));
      for (const r of readers) {
        r.drain({
          onSample: (raw, off, len, meta) => {
            printer.printEntry(raw, off, off + len, comm, meta.cpu, meta.time);
            printer.flush();
            printed.push({ ts: meta.time, text: chunk });
            chunk = '';
            // Our BPF records: RECORD_PREFIX then the same entry must print the same line.
            const rec = Buffer.alloc(RECORD_PREFIX_SIZE + len);
            rec.writeBigUInt64LE(BigInt(meta.time), PREFIX_TS);
            rec.writeUInt32LE(meta.pid, PREFIX_TGID);
            rec.writeUInt32LE(meta.cpu, PREFIX_CPU);
            comm.copy(rec, PREFIX_COMM);
            raw.copy(rec, RECORD_PREFIX_SIZE, off, off + len);
            printer.printRecord(rec, 0, rec.length);
            printer.flush();
            if (chunk !== printed[printed.length - 1]!.text) recordMismatch++;
            chunk = '';
            jprinter.printEntry(raw, off, off + len, comm, meta.cpu, meta.time);
            jprinter.flush();
            jsonLines.push({ ts: meta.time, text: jchunk });
            jchunk = '';
          },
        });
        t.equal(r.totalLost(), 0, 'no lost samples');
      }
      printed.sort((a, b) => a.ts - b.ts);
      const ours = traceBodies(printed.map((p) => p.text).join(''));
      const kernelTrace = inst.trace();
      const kernel = traceBodies(kernelTrace);
      const kernelHeader = kernelTrace.split('\n').filter((l) => l.startsWith('#')).join('\n') + '\n';
      t.equal(ftraceHeader(kernel.length, kernel.length, onlineCpus().length), kernelHeader, 'the # tracer: nop header and legend, as the kernel prints them');
      t.equal(kernel.length, 3 * defs.length, `kernel traced 3 hits of each of ${defs.length} events`);
      t.same(ours, kernel, 'every line equal once timestamps and flags are set aside');
      t.equal(recordMismatch, 0, 'prefix+entry records (our BPF layout) print the same lines');
      if (process.env.KPB_SHOW) console.error(printed.map((p) => p.text).join('') + inst.trace());
      // --json carries the same values: rendered back the kernel's way they give the kernel's lines.
      jsonLines.sort((a, b) => a.ts - b.ts);
      const fromJson = jsonLines.map((l) => jsonToTraceBody(JSON.parse(l.text) as JsonEvent, charFields));
      t.same(fromJson, kernel.map((k) => k.body), '--json objects hold the values the kernel printed');
      for (const [ev] of defs) inst.enable(kgroup, ev, false);
    } finally {
      for (const r of readers) r.close();
      inst.remove();
      for (const [ev] of defs) {
        removeUprobeEvent(group, ev);
        removeUprobeEvent(kgroup, ev);
      }
      target.cleanup();
    }
    t.equal(perfEventFds().length, fdsBefore, 'closing the readers leaves no perf fd behind');
  });
});

type JsonValue = number | string | null | JsonValue[];
interface JsonEvent {
  event: string;
  ip?: string;
  func?: string;
  ret_ip?: string;
  args: Record<string, JsonValue>;
}

/** Renders a --json object the way the kernel prints the event (uprobe form), to compare with the kernel's line. */
function jsonToTraceBody(e: JsonEvent, charFields: ReadonlySet<string>): string {
  const value = (v: JsonValue, name: string): string => {
    if (Array.isArray(v)) return `{${v.map((x) => value(x, name)).join(',')}}`;
    if (v === null) return '(fault)';
    if (typeof v === 'number') return String(v);
    if (v.startsWith('0x')) return v; // x-types and addresses are hex strings
    // A decimal string is right only for a 64-bit integer beyond 2^53 (a JSON
    // number would be rounded); a smaller one must be a JSON number, so it is
    // rendered quoted here and differs from the kernel's line.
    if (/^-?\d+$/.test(v) && !Number.isSafeInteger(Number(v))) return v;
    return charFields.has(`${e.event}.${name}`) ? `'${v}'` : `"${v}"`;
  };
  const head = e.ip !== undefined ? `(${e.ip})` : `(${e.ret_ip} <- ${e.func})`;
  const args = Object.entries(e.args).map(([k, v]) => ` ${k}=${value(v, k)}`).join('');
  return `${e.event}: ${head}${args}`;
}
