// A printer compiled once per event from its EventFormat: a table of field
// writers with their offsets and pre-encoded " name=" prefixes, so printing a
// record walks arrays and calls closures, nothing else. The text form is the
// event's part of a trace line as the kernel's print_uprobe_event /
// print_kprobe_event / print_kretprobe_event write it, the JSON form is
// the same data as object members.
import { FIELD_STRING_FUNC, FIELD_STRING_IP, FIELD_STRING_RETIP, type EventFormat, type FieldFormat } from '../../compiler/abi.js';
import type { Kallsyms } from '../kallsyms.js';
import type { OutBuffer } from './out-buffer.js';
import type { UprobeFunc } from './uprobe-func.js';
import { ELEMENT_SIZE, jsonWriters, textWriters, type ValueWriter } from './values.js';

interface FieldPlan {
  readonly offset: number;
  readonly count: number; // 0: scalar
  readonly step: number;
  readonly text: ValueWriter;
  readonly json: ValueWriter;
  readonly textPrefix: Buffer; // " name="
  readonly jsonPrefix: Buffer; // ,"name": (first without comma)
}

export interface EventPrinter {
  readonly format: EventFormat;
  /** Records printed for this event (the profile's hits). */
  hits: number;
  /** "EVENT: (PROBE) a=1 b=2" — everything after the timestamp column, without the newline. */
  text(out: OutBuffer, buf: Buffer, entry: number, entryEnd: number): void;
  /** `"group":..,"event":..,<probe addresses>,"args":{...}` members of the JSON object. */
  json(out: OutBuffer, buf: Buffer, entry: number, entryEnd: number): void;
}

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');

function field(fields: readonly FieldFormat[], name: string): number {
  const f = fields.find((x) => x.name === name);
  if (!f) throw new Error(`event format: no ${name} field`);
  return f.offset;
}

type ProbeWriter = (out: OutBuffer, buf: Buffer, entry: number) => void;

const hex64At = (out: OutBuffer, buf: Buffer, p: number): void => out.hex64(buf.readUInt32LE(p), buf.readUInt32LE(p + 4));

/** seq_print_ip_sym: "0" for a null ip, else the symbol (with or without +off/size). */
function ipSym(ksyms: Kallsyms, out: OutBuffer, buf: Buffer, p: number, mode: 'offset' | 'name'): void {
  const lo = buf.readUInt32LE(p);
  const hi = buf.readUInt32LE(p + 4);
  if (lo === 0 && hi === 0) out.byte(0x30);
  else out.bytes(ksyms.format(lo, hi, mode));
}

/**
 * A return uprobe's __probe_func: 0 (a kernel before 6.6, see uprobe-func.ts)
 * becomes the function's address in the hitting task's process when known.
 */
function uprobeFuncWriter(fmt: EventFormat, func: number, uprobeFunc: UprobeFunc | undefined): ProbeWriter {
  if (!uprobeFunc) return (out, buf, e) => hex64At(out, buf, e + func);
  const pid = field(fmt.commonFields, 'common_pid');
  return (out, buf, e) => {
    const lo = buf.readUInt32LE(e + func);
    const hi = buf.readUInt32LE(e + func + 4);
    const addr = lo === 0 && hi === 0 ? uprobeFunc(buf.readInt32LE(e + pid)) : undefined;
    if (addr === undefined) out.hex64(lo, hi);
    else out.hex64(Number(addr & 0xffffffffn), Number(addr >> 32n));
  };
}

/** The "(...)" after the event name, per tracer and direction. */
function probeWriter(fmt: EventFormat, ksyms: Kallsyms, uprobeFunc?: UprobeFunc): { text: ProbeWriter; json: ProbeWriter } {
  if (fmt.attached) {
    // kernel: print_eprobe_event, "(%s.%s)" of the attached event's system and name
    const head = enc(`(${fmt.attached.system}.${fmt.attached.event})`);
    const json = enc(`"attached":${JSON.stringify(`${fmt.attached.system}.${fmt.attached.event}`)}`);
    return { text: (out) => out.bytes(head), json: (out) => out.bytes(json) };
  }
  const kernel = fmt.tracer === 'kprobe';
  if (!fmt.isReturn) {
    const ip = field(fmt.probeFields, FIELD_STRING_IP);
    const open = enc('('), close = enc(')'), j0 = enc('"ip":"0x'), jsym = enc('","sym":"');
    return {
      text: kernel
        ? (out, buf, e) => (out.bytes(open), ipSym(ksyms, out, buf, e + ip, 'offset'), out.bytes(close))
        : (out, buf, e) => (out.ascii('(0x'), hex64At(out, buf, e + ip), out.bytes(close)),
      json: (out, buf, e) => {
        out.bytes(j0);
        hex64At(out, buf, e + ip);
        if (kernel) {
          out.bytes(jsym);
          ipSym(ksyms, out, buf, e + ip, 'offset');
        }
        out.byte(0x22);
      },
    };
  }
  const func = field(fmt.probeFields, FIELD_STRING_FUNC);
  const ret = field(fmt.probeFields, FIELD_STRING_RETIP);
  const arrow = enc(' <- '), close = enc(')');
  const funcHex = uprobeFuncWriter(fmt, func, kernel ? undefined : uprobeFunc);
  const j0 = enc('"func":"0x'), j1 = enc('","ret_ip":"0x'), jsym = enc('","ret_sym":"'), jfunc = enc('","func_sym":"');
  return {
    text: kernel
      ? (out, buf, e) => {
          out.byte(0x28);
          ipSym(ksyms, out, buf, e + ret, 'offset');
          out.bytes(arrow);
          ipSym(ksyms, out, buf, e + func, 'name');
          out.bytes(close);
        }
      : (out, buf, e) => {
          out.ascii('(0x');
          hex64At(out, buf, e + ret);
          out.ascii(' <- 0x');
          funcHex(out, buf, e);
          out.bytes(close);
        },
    json: (out, buf, e) => {
      out.bytes(j0);
      funcHex(out, buf, e);
      out.bytes(j1);
      hex64At(out, buf, e + ret);
      if (kernel) {
        out.bytes(jsym);
        ipSym(ksyms, out, buf, e + ret, 'offset');
        out.bytes(jfunc);
        ipSym(ksyms, out, buf, e + func, 'name');
      }
      out.byte(0x22);
    },
  };
}

/** Per argument field: where it is, how many elements, its writers and its name prefixes. */
function fieldPlans(fmt: EventFormat, ksyms: Kallsyms): FieldPlan[] {
  const tw = textWriters(ksyms);
  const jw = jsonWriters(ksyms);
  return fmt.argFields.map((a, i) => {
    const base = a.print;
    return {
      offset: a.offset,
      count: a.count ?? 0,
      step: ELEMENT_SIZE[base],
      text: tw[base],
      json: jw[base],
      textPrefix: enc(` ${a.name}=`),
      jsonPrefix: enc(`${i ? ',' : ''}${JSON.stringify(a.name)}:`),
    };
  });
}

/** `uprobeFunc`: a return uprobe's function address per process, for records without one (kernels before 6.6). */
export function compileEventPrinter(fmt: EventFormat, ksyms: Kallsyms, uprobeFunc?: UprobeFunc): EventPrinter {
  const plans = fieldPlans(fmt, ksyms);
  const probe = probeWriter(fmt, ksyms, uprobeFunc);
  const namePrefix = enc(`${fmt.event}: `);
  const jsonName = enc(`"group":${JSON.stringify(fmt.group)},"event":${JSON.stringify(fmt.event)},`);
  const jsonArgs = enc(',"args":{');

  return {
    format: fmt,
    hits: 0,
    text(out, buf, entry, entryEnd) {
      out.bytes(namePrefix);
      probe.text(out, buf, entry);
      for (let i = 0; i < plans.length; i++) {
        const f = plans[i]!;
        out.bytes(f.textPrefix);
        const p = entry + f.offset;
        if (f.count === 0) {
          f.text(out, buf, p, entry, entryEnd);
          continue;
        }
        // print_probe_args: '{' then each element followed by ',' or '}'.
        out.byte(0x7b);
        for (let j = 0; j < f.count; j++) {
          f.text(out, buf, p + j * f.step, entry, entryEnd);
          out.byte(j === f.count - 1 ? 0x7d : 0x2c);
        }
      }
    },
    json(out, buf, entry, entryEnd) {
      out.bytes(jsonName);
      probe.json(out, buf, entry);
      out.bytes(jsonArgs);
      for (let i = 0; i < plans.length; i++) {
        const f = plans[i]!;
        out.bytes(f.jsonPrefix);
        const p = entry + f.offset;
        if (f.count === 0) {
          f.json(out, buf, p, entry, entryEnd);
          continue;
        }
        out.byte(0x5b);
        for (let j = 0; j < f.count; j++) {
          if (j) out.byte(0x2c);
          f.json(out, buf, p + j * f.step, entry, entryEnd);
        }
        out.byte(0x5d);
      }
      out.byte(0x7d);
    },
  };
}
