// The kernel's per-event `format` file (events/<grp>/<ev>/format) read back
// into an EventFormat, so the printer can be judged against the kernel on
// events the kernel itself defined. (Writing one is the compiler's:
// compiler/format.ts.)
import {
  FIELD_STRING_FUNC, FIELD_STRING_IP, FIELD_STRING_RETIP,
  type ArgField, type EventFormat, type FieldFormat, type PrintKind, type ProbeTracer,
} from '../compiler/abi.js';

export interface ParsedFormatFile {
  readonly id: number;
  readonly format: EventFormat;
}

const FIELD_RE = /^\tfield:(.*) ([A-Za-z_][A-Za-z0-9_]*)(\[\])?;\toffset:(\d+);\tsize:(\d+);\tsigned:([01]);$/;

/** Splits the quoted format string of a `print fmt:` line, unescaping \" and \\. */
function printFmtString(printFmt: string): string {
  if (!printFmt.startsWith('"')) throw new Error(`format file: print fmt does not start with a string: ${printFmt}`);
  let out = '';
  for (let i = 1; i < printFmt.length; i++) {
    const c = printFmt[i]!;
    if (c === '\\' && i + 1 < printFmt.length) {
      out += printFmt[++i];
      continue;
    }
    if (c === '"') return out;
    out += c;
  }
  throw new Error('format file: unterminated print fmt string');
}

/** The kernel's per-type print formats (trace_probe.c DEFINE_BASIC_PRINT_TYPE_FUNC) -> fetch type. */
const TYPE_OF_PRINT_FMT: Readonly<Record<string, (size: number) => PrintKind>> = {
  '%u': (size) => `u${size * 8}` as PrintKind,
  '%Lu': () => 'u64',
  '%d': (size) => `s${size * 8}` as PrintKind,
  '%Ld': () => 's64',
  '0x%x': (size) => `x${size * 8}` as PrintKind,
  '0x%Lx': () => 'x64',
  "'%c'": () => 'char',
  '%pS': () => 'symbol',
  '"%s"': () => 'string',
};

function printKindOf(fragment: string, elemSize: number): PrintKind {
  const f = fragment.startsWith('{') && fragment.endsWith('}') ? fragment.slice(1, -1).split(',')[0]! : fragment;
  const make = TYPE_OF_PRINT_FMT[f];
  if (!make) throw new Error(`format file: unknown print format '${fragment}'`);
  return make(elemSize);
}

/** Reads a kernel format file. The file names neither its group nor its tracer: the caller does. */
export function parseFormatFile(text: string, group: string, tracer: ProbeTracer = 'uprobe'): ParsedFormatFile {
  const lines = text.split('\n');
  const name = /^name: (.*)$/.exec(lines[0] ?? '')?.[1];
  const id = Number(/^ID: (\d+)$/.exec(lines[1] ?? '')?.[1]);
  if (!name || !Number.isInteger(id) || lines[2] !== 'format:') throw new Error('format file: missing name/ID/format header');
  const common: FieldFormat[] = [];
  const rest: { f: FieldFormat; array: boolean }[] = [];
  let i = 3;
  for (; i < lines.length && lines[i] !== ''; i++) common.push(parseField(lines[i]!).f);
  for (i++; i < lines.length && lines[i] !== ''; i++) rest.push(parseField(lines[i]!));
  const pf = lines.slice(i + 1).find((l) => l.startsWith('print fmt: '));
  if (!pf) throw new Error('format file: no print fmt line');
  const printFmt = pf.slice('print fmt: '.length);
  const probeNames = new Set([FIELD_STRING_IP, FIELD_STRING_FUNC, FIELD_STRING_RETIP]);
  const probeFields = rest.filter((r) => probeNames.has(r.f.name)).map((r) => r.f);
  const argRows = rest.filter((r) => !probeNames.has(r.f.name));
  const isReturn = probeFields.some((f) => f.name === FIELD_STRING_FUNC);

  // The fmt string is "(%lx) a=... b=..." (or "(%lx <- %lx) ..."); arg fragments are space separated, in field order.
  const fmtStr = printFmtString(printFmt);
  const close = fmtStr.indexOf(')');
  const fragments = fmtStr.slice(close + 1).trim().split(' ').filter((s) => s.length > 0);
  if (fragments.length !== argRows.length) throw new Error(`format file: ${argRows.length} fields but ${fragments.length} print fragments`);

  const argFields: ArgField[] = argRows.map(({ f, array }, k) => {
    const frag = fragments[k]!;
    const eq = frag.indexOf('=');
    if (frag.slice(0, eq) !== f.name) throw new Error(`format file: print fragment '${frag}' is not for field ${f.name}`);
    const body = frag.slice(eq + 1);
    const isDataLoc = f.ctype.startsWith('__data_loc');
    const elems = body.startsWith('{') ? body.split(',').length : 1;
    const elemSize = isDataLoc ? 4 : f.size / elems;
    const print = printKindOf(body, elemSize);
    const ctype = array ? `${f.ctype}[${elems}]` : f.ctype;
    return { ...f, ctype, print, ...(body.startsWith('{') ? { count: elems } : {}), printFragment: frag };
  });

  let entrySize = 0;
  for (const f of [...common, ...probeFields, ...argFields]) entrySize = Math.max(entrySize, f.offset + f.size);
  return {
    id,
    format: { group, event: name, tracer, isReturn, commonFields: common, probeFields, argFields, entrySize, printFmt },
  };
}

function parseField(line: string): { f: FieldFormat; array: boolean } {
  const m = FIELD_RE.exec(line);
  if (!m) throw new Error(`format file: cannot read field line '${line}'`);
  return {
    f: { ctype: m[1]!, name: m[2]!, offset: Number(m[4]), size: Number(m[5]), signed: m[6] === '1' },
    array: m[3] !== undefined,
  };
}
