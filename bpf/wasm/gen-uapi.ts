// Build-time generator: reads the kernel UAPI header linux/bpf.h (the newest
// Debian ships, see uapi-header.sh: the UAPI only appends, so libbpf's own
// older copy lays out a prefix of the same structs) and writes the tables the
// syscall bridge (runtime/bridge/) needs:
//   - every bpf command's number (enum bpf_cmd),
//   - per command, the fields of its part of `union bpf_attr` with offset,
//     size and whether the field is a user pointer (`__aligned_u64`, the UAPI's
//     convention for pointers, see the "__aligned_u64 ... user supplied buffer"
//     fields),
//   - the same for the info structs BPF_OBJ_GET_INFO_BY_FD fills.
// Which part of the union serves which command is read from the header's own
// comments ("anonymous struct used by BPF_MAP_*_ELEM commands") or, where there
// is none, from the member's name (task_fd_query -> BPF_TASK_FD_QUERY).
// Offsets are not computed here: a C program using offsetof() is generated and
// compiled with the host C compiler, so the numbers are the x86-64 ABI's, which
// is how the kernel reads the attr.
//
// Usage: node dist/bpf/wasm/gen-uapi.js path/to/linux/bpf.h out.json
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export interface UapiField {
  /** Member designator usable in offsetof(), e.g. "info.info_len". */
  name: string;
  offset: number;
  size: number;
  /** `__aligned_u64`: a user-space address the bridge must translate. */
  pointer: boolean;
}

export interface UapiCommand {
  value: number;
  /** The header's description of the union member that serves it. */
  layout: string;
  fields: UapiField[];
}

export interface UapiTables {
  header: string;
  attrSize: number;
  commands: Record<string, UapiCommand>;
  infos: Record<string, { size: number; fields: UapiField[] }>;
  enums: Record<string, Record<string, number>>;
}

type Token = { kind: 'word' | 'punct' | 'comment' | 'number'; text: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const re = /\/\*[\s\S]*?\*\/|\/\/[^\n]*|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|0[xX][0-9a-fA-F]+|\d+|\S/g;
  for (const m of src.matchAll(re)) {
    const t = m[0];
    if (t.startsWith('/*') || t.startsWith('//')) out.push({ kind: 'comment', text: t });
    else if (t.startsWith('#')) continue;
    else if (/^[A-Za-z_]/.test(t)) out.push({ kind: 'word', text: t });
    else if (/^\d/.test(t)) out.push({ kind: 'number', text: t });
    else out.push({ kind: 'punct', text: t });
  }
  return out;
}

interface Leaf { path: string; pointer: boolean }
interface Member { label: string | undefined; name: string | undefined; leaves: Leaf[] }

/** Parses the member list after '{' up to the matching '}' (consumed). */
class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token | undefined {
    while (this.toks[this.i]?.kind === 'comment') this.i++;
    return this.toks[this.i];
  }
  private next(): Token {
    const t = this.peek();
    if (!t) throw new Error('gen-uapi: unexpected end of header');
    this.i++;
    return t;
  }
  private expect(text: string): void {
    const t = this.next();
    if (t.text !== text) throw new Error(`gen-uapi: expected '${text}', got '${t.text}'`);
  }
  /** Skips `__attribute__((...))`. */
  private skipAttributes(): void {
    while (this.peek()?.text === '__attribute__') {
      this.next();
      let depth = 0;
      do {
        const t = this.next();
        if (t.text === '(') depth++;
        else if (t.text === ')') depth--;
      } while (depth > 0);
    }
  }
  seek(words: string[]): void {
    for (; this.i < this.toks.length; this.i++) {
      if (words.every((w, k) => this.toks[this.i + k]?.text === w)) {
        this.i += words.length;
        return;
      }
    }
    throw new Error(`gen-uapi: '${words.join(' ')}' not found in header`);
  }
  /** First comment right after the current position (before any other token). */
  private leadingComment(): string | undefined {
    const t = this.toks[this.i];
    return t?.kind === 'comment' ? t.text : undefined;
  }

  /** Members of an aggregate body; the opening '{' is already consumed. */
  members(): Member[] {
    const out: Member[] = [];
    for (;;) {
      const t = this.peek();
      if (!t) throw new Error('gen-uapi: unterminated aggregate');
      if (t.text === '}') {
        this.next();
        return out;
      }
      out.push(this.member());
    }
  }

  private member(): Member {
    const first = this.peek()!;
    if ((first.text === 'struct' || first.text === 'union') && this.isInlineAggregate()) {
      this.next();
      if (this.peek()?.text !== '{') this.next(); // tag
      this.expect('{');
      const label = this.leadingComment();
      const inner = this.members();
      this.skipAttributes();
      let name: string | undefined;
      if (this.peek()?.text !== ';') name = this.next().text;
      this.skipAttributes();
      this.expect(';');
      const leaves = inner.flatMap((m) => m.leaves.map((l) => ({ ...l, path: name ? `${name}.${l.path}` : l.path })));
      return { label, name, leaves };
    }
    // A plain declaration: TYPE... NAME [ '[' ... ']' ] [ ':' bits ] ;
    const words: string[] = [];
    let bitfield = false;
    let array = false;
    for (;;) {
      const t = this.next();
      if (t.text === ';') break;
      if (t.text === ':') bitfield = true;
      if (t.text === '[') array = true;
      if (t.kind === 'word' && !bitfield && !array) words.push(t.text);
      if (t.text === ']') array = false;
    }
    const name = words[words.length - 1];
    const type = words.slice(0, -1).join(' ');
    // Bitfields and unnamed padding (`__u32 :32;`) have no offsetof().
    if (bitfield || !name || words.length < 2) return { label: undefined, name: undefined, leaves: [] };
    return { label: undefined, name, leaves: [{ path: name, pointer: type === '__aligned_u64' }] };
  }

  private isInlineAggregate(): boolean {
    // `struct X {` or `struct {` (an inline definition), not `struct X y;`
    const a = this.toks.slice(this.i, this.i + 4).filter((t) => t.kind !== 'comment');
    return a[1]?.text === '{' || a[2]?.text === '{';
  }
}

/** Names of an enum's enumerators, in order: NAME [= expr] , ... } */
function enumerators(toks: Token[], enumName: string): string[] {
  const out: string[] = [];
  const start = toks.findIndex((t, k) => t.text === 'enum' && toks[k + 1]?.text === enumName && toks[k + 2]?.text === '{');
  if (start < 0) throw new Error(`gen-uapi: enum ${enumName} not found in header`);
  let depth = 0;
  let expectName = true;
  for (let k = start + 3; k < toks.length; k++) {
    const t = toks[k]!;
    if (t.kind === 'comment') continue;
    if (t.text === '(') depth++;
    else if (t.text === ')') depth--;
    else if (t.text === '}' && depth === 0) break;
    else if (t.text === ',' && depth === 0) expectName = true;
    else if (expectName && t.kind === 'word') {
      out.push(t.text);
      expectName = false;
    }
  }
  return out;
}

/** Commands a union member serves, from its comment or its name. */
function commandsOf(m: Member, cmds: string[]): string[] {
  const patterns: RegExp[] = [];
  const exact: string[] = [];
  const text = m.label ?? '';
  for (const mt of text.matchAll(/BPF_[A-Z0-9_*]+(?:\/[A-Z0-9_]+)*/g)) {
    const parts = mt[0].split('/');
    const head = parts[0]!;
    const alts = [head, ...parts.slice(1).map((p) => head.replace(/[A-Z0-9]+$/, p))];
    for (const a of alts) {
      if (a.includes('*')) patterns.push(new RegExp(`^${a.replace(/\*/g, '[A-Z0-9_]*')}$`));
      else exact.push(a);
    }
  }
  if (!patterns.length && !exact.length && m.name) exact.push(`BPF_${m.name.toUpperCase()}`);
  return cmds.filter((c) => exact.includes(c) || patterns.some((r) => r.test(c)));
}

const INFO_NAMES = ['bpf_prog_info', 'bpf_map_info', 'bpf_btf_info', 'bpf_link_info'];
const ENUM_NAMES = ['bpf_cmd', 'bpf_map_type', 'bpf_prog_type', 'bpf_attach_type'];

/** What the header declares: union bpf_attr's members, the info structs' fields, the enums, and which member serves which command. */
interface HeaderDecls {
  attrMembers: Member[];
  cmdNames: string[];
  infos: Map<string, Leaf[]>;
  enums: Map<string, string[]>;
  layoutOf: Map<string, { member: Member; exact: boolean }>;
}

function parseHeader(src: string): HeaderDecls {
  const toks = tokenize(src);
  const attrParser = new Parser(toks);
  attrParser.seek(['union', 'bpf_attr', '{']);
  const attrMembers = attrParser.members();
  const cmdNames = enumerators(toks, 'bpf_cmd');
  const infos = new Map<string, Leaf[]>();
  for (const name of INFO_NAMES) {
    const p = new Parser(toks);
    p.seek(['struct', name, '{']);
    infos.set(name, p.members().flatMap((m) => m.leaves));
  }
  const enums = new Map(ENUM_NAMES.map((e) => [e, enumerators(toks, e)] as const));
  // An exact mention beats a wildcard (BPF_OBJ_GET_INFO_BY_FD has its own
  // struct although "BPF_OBJ_*" also matches it).
  const layoutOf = new Map<string, { member: Member; exact: boolean }>();
  for (const m of attrMembers) {
    for (const c of commandsOf(m, cmdNames)) {
      const exact = (m.label ?? '').includes(c) || m.name !== undefined && c === `BPF_${m.name.toUpperCase()}`;
      const prev = layoutOf.get(c);
      if (!prev || (exact && !prev.exact)) layoutOf.set(c, { member: m, exact });
    }
  }
  return { attrMembers, cmdNames, infos, enums, layoutOf };
}

/** Offsets, sizes and enum values as the host C compiler lays them out (x86-64). */
interface Measured {
  attrFields: Map<string, UapiField>;
  infoFields: Map<string, UapiField[]>;
  sizes: Map<string, number>;
  enumValues: Record<string, Record<string, number>>;
}

/** One C program prints every number we need. */
function measure(headerPath: string, d: HeaderDecls): Measured {
  const lines: string[] = [
    '#include <stdio.h>',
    '#include <stddef.h>',
    `#include "${resolve(headerPath)}"`,
    '#define F(T, m, p) printf("F %s %s %zu %zu %d\\n", #T, #m, offsetof(T, m), sizeof(((T *)0)->m), p)',
    'int main(void) {',
    '  printf("S attr %zu\\n", sizeof(union bpf_attr));',
  ];
  const seen = new Set<string>();
  for (const l of d.attrMembers.flatMap((m) => m.leaves)) {
    if (seen.has(l.path)) continue;
    seen.add(l.path);
    lines.push(`  F(union bpf_attr, ${l.path}, ${l.pointer ? 1 : 0});`);
  }
  for (const [name, leaves] of d.infos) {
    lines.push(`  printf("S ${name} %zu\\n", sizeof(struct ${name}));`);
    for (const l of leaves) lines.push(`  F(struct ${name}, ${l.path}, ${l.pointer ? 1 : 0});`);
  }
  for (const [e, names] of d.enums) for (const n of names) lines.push(`  printf("E ${e} ${n} %d\\n", (int)${n});`);
  lines.push('  return 0;', '}');
  return parseMeasured(compileAndRun(headerPath, lines.join('\n') + '\n'));
}

function compileAndRun(headerPath: string, c: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kb-uapi-'));
  try {
    writeFileSync(join(dir, 'uapi.c'), c);
    const cc = process.env.CC ?? 'cc';
    // The header's own directory's parent holds linux/*.h it includes.
    execFileSync(cc, ['-I', dirname(dirname(resolve(headerPath))), '-o', join(dir, 'uapi'), join(dir, 'uapi.c')], { stdio: ['ignore', 'pipe', 'inherit'] });
    return execFileSync(join(dir, 'uapi'), { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseMeasured(out: string): Measured {
  const m: Measured = { attrFields: new Map(), infoFields: new Map(), sizes: new Map(), enumValues: {} };
  for (const line of out.split('\n')) {
    const w = line.split(' ');
    if (w[0] === 'S') m.sizes.set(w[1]!, Number(w[2]));
    else if (w[0] === 'F') {
      // "F union bpf_attr NAME OFF SIZE PTR" or "F struct bpf_prog_info NAME ..."
      const owner = w[1] === 'union' ? 'attr' : w[2]!;
      const [name, off, size, ptr] = w.slice(3);
      const f: UapiField = { name: name!, offset: Number(off), size: Number(size), pointer: ptr === '1' };
      if (owner === 'attr') m.attrFields.set(f.name, f);
      else m.infoFields.set(owner, [...(m.infoFields.get(owner) ?? []), f]);
    } else if (w[0] === 'E') (m.enumValues[w[1]!] ??= {})[w[2]!] = Number(w[3]);
  }
  return m;
}

function generate(headerPath: string): UapiTables {
  const d = parseHeader(readFileSync(headerPath, 'utf8'));
  const m = measure(headerPath, d);
  const commands: Record<string, UapiCommand> = {};
  for (const c of d.cmdNames) {
    const l = d.layoutOf.get(c);
    const value = m.enumValues.bpf_cmd?.[c];
    if (value === undefined) continue;
    commands[c] = {
      value,
      layout: l ? (l.member.label ?? l.member.name ?? '').replace(/^\/\*\s*|\s*\*\/$/g, '') : '',
      fields: l ? l.member.leaves.map((x) => m.attrFields.get(x.path)!).filter(Boolean) : [],
    };
  }
  return {
    header: resolve(headerPath),
    attrSize: m.sizes.get('attr')!,
    commands,
    infos: Object.fromEntries(INFO_NAMES.map((n) => [n, { size: m.sizes.get(n)!, fields: m.infoFields.get(n) ?? [] }])),
    enums: m.enumValues,
  };
}

/**
 * C that fails to compile unless another target lays the structs out the
 * same way: mk/wasm.mk compiles it for wasm32, where libbpf builds the attrs
 * the bridge then reads with these x86-64 offsets.
 */
function layoutAsserts(t: UapiTables): string {
  const lines = ['#include <stddef.h>', `#include "${t.header}"`];
  const check = (type: string, f: UapiField) => {
    lines.push(`_Static_assert(offsetof(${type}, ${f.name}) == ${f.offset} && sizeof(((${type} *)0)->${f.name}) == ${f.size}, "${type}.${f.name}");`);
  };
  lines.push(`_Static_assert(sizeof(union bpf_attr) == ${t.attrSize}, "sizeof(union bpf_attr)");`);
  const seen = new Set<string>();
  for (const c of Object.values(t.commands)) for (const f of c.fields) if (!seen.has(f.name)) { seen.add(f.name); check('union bpf_attr', f); }
  for (const [name, info] of Object.entries(t.infos)) {
    lines.push(`_Static_assert(sizeof(struct ${name}) == ${info.size}, "sizeof(struct ${name})");`);
    for (const f of info.fields) check(`struct ${name}`, f);
  }
  return lines.join('\n') + '\n';
}

const [header, outPath] = process.argv.slice(2);
if (!header || !outPath) {
  process.stderr.write('usage: gen-uapi.js path/to/linux/bpf.h out.json\n');
  process.exit(2);
}
const tables = generate(header);
writeFileSync(outPath.replace(/\.json(\.new)?$/, '') + '.layout-check.c', layoutAsserts(tables));
writeFileSync(outPath + '.tmp', JSON.stringify(tables, null, 1) + '\n');
// rename last so a half-written table is never read
execFileSync('mv', [outPath + '.tmp', outPath]);
