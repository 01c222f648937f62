// The independent judges of test/bpf: LLVM 14's llvm-objdump / llvm-mc /
// llvm-readelf and Debian's bpftool (libbpf 1.x). Each helper says why a test
// must skip when its tool is missing (`make apt-deps` installs them).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const have = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

export function toolSkipReason(...tools: string[]): string | undefined {
  const missing = tools.filter((t) => !have(t));
  return missing.length ? `missing ${missing.join(', ')} (make apt-deps installs llvm and bpftool)` : undefined;
}

let dir: string | undefined;
/** A private scratch directory for this test process. */
export function scratchDir(): string {
  if (dir === undefined) {
    const d = mkdtempSync(join(tmpdir(), 'kprobe-bpf-test-'));
    process.on('exit', () => rmSync(d, { recursive: true, force: true }));
    dir = d;
  }
  return dir;
}

let counter = 0;
export function writeTemp(name: string, bytes: Uint8Array): string {
  const p = join(scratchDir(), `${counter++}-${name}`);
  writeFileSync(p, bytes);
  return p;
}

export function run(cmd: string, args: string[], input?: string): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 256 << 20 });
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status ?? -1 };
}

/**
 * `llvm-objdump -d [flags] file`, split per section: section name -> the lines
 * after `Disassembly of section NAME:` and its blank line, up to the next section.
 */
export function objdumpSections(file: string, flags: string[] = []): Map<string, string[]> {
  const out = execFileSync('llvm-objdump', ['-d', ...flags, file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const sections = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of out.split('\n')) {
    const m = /^Disassembly of section (.*):$/.exec(line);
    if (m) {
      cur = [];
      sections.set(m[1]!, cur);
      continue;
    }
    cur?.push(line);
  }
  for (const lines of sections.values()) {
    if (lines[0] === '') lines.shift();
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
  }
  return sections;
}

/** The global and local STT_FUNC symbols `llvm-objdump -t` lists: section -> address -> name. */
export function objdumpFunctionSymbols(file: string): Map<string, Map<bigint, string>> {
  const out = execFileSync('llvm-objdump', ['-t', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const bySection = new Map<string, Map<bigint, string>>();
  // `ADDR FLAGS7 SECTION\tSIZE NAME`; the 7th flag character is F for functions.
  for (const m of out.matchAll(/^([0-9a-f]{16}) (.{6})F (\S+)\t[0-9a-f]{16} (.+)$/gm)) {
    let sec = bySection.get(m[3]!);
    if (!sec) bySection.set(m[3]!, (sec = new Map()));
    sec.set(BigInt(`0x${m[1]!}`), m[4]!);
  }
  return bySection;
}

/**
 * `llvm-objdump -d [flags] file`, split per function: function name -> the
 * lines from its `ADDR <name>:` header up to the next function's header in the
 * same section (its labels included, blank lines at the end dropped). Which
 * headers are functions, llvm-objdump -t says (STT_FUNC), not us.
 */
export function objdumpFunctions(file: string, flags: string[] = []): Map<string, string[]> {
  const funcs = objdumpFunctionSymbols(file);
  const out = new Map<string, string[]>();
  for (const [section, lines] of objdumpSections(file, flags)) {
    const here = funcs.get(section) ?? new Map<bigint, string>();
    let cur: string[] | undefined;
    for (const line of lines) {
      const h = /^([0-9a-f]{16}) <(.+)>:$/.exec(line);
      if (h && here.get(BigInt(`0x${h[1]!}`)) === h[2]) {
        cur = [];
        out.set(h[2]!, cur);
      }
      cur?.push(line);
    }
  }
  for (const lines of out.values()) while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return out;
}

/** Encodes one line of assembly with `llvm-mc -triple bpfel -show-encoding`; undefined when llvm-mc rejects it. */
export function llvmMcEncode(lines: string[]): (Uint8Array | undefined)[] {
  const r = run('llvm-mc', ['-triple', 'bpfel', '-show-encoding'], lines.join('\n') + '\n');
  const out: (Uint8Array | undefined)[] = lines.map(() => undefined);
  const errLines = new Set<number>();
  for (const m of r.stderr.matchAll(/<stdin>:(\d+):\d+: error/g)) errLines.add(Number(m[1]) - 1);
  const enc = [...r.stdout.matchAll(/# encoding: \[([^\]]*)\]/g)].map((m) => Uint8Array.from(m[1]!.split(',').map((x) => Number(x))));
  let k = 0;
  lines.forEach((_, i) => {
    if (!errLines.has(i)) out[i] = enc[k++];
  });
  return out;
}

export const exists = existsSync;
