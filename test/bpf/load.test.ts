// The real judges: libbpf (Debian's bpftool) opens the objects we write and
// the kernel verifier accepts their programs. Everything pinned is removed.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as A from '../../bpf/asm.js';
import { writeObject, type ObjectSpec } from '../../bpf/elf-writer.js';
import { R0, R8 } from '../../bpf/insn.js';
import { rootSkipReason } from '../lib/kernel.js';
import { withBpffs } from '../lib/bpffs.js';
import { MAPS, kprobeProgram, kretprobeProgram, ksymProgram, sampleObject, sharedSectionObject, uprobeProgram } from './programs.js';
import { run, toolSkipReason, writeTemp } from './tools.js';

const skip = rootSkipReason() ?? toolSkipReason('bpftool');
/** The private bpffs of the test below (test/lib/bpffs.ts), where loadall pins. */
let bpffs = '';

/** A kernel symbol libbpf can resolve unambiguously: one entry in kallsyms, not in a module; data symbols first. */
function pickKsym(): string | undefined {
  const counts = new Map<string, { n: number; type: string }>();
  for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const [addr, type, name, mod] = line.split(/\s+/);
    if (!name || mod || !addr || /^0+$/.test(addr)) continue;
    const c = counts.get(name);
    counts.set(name, { n: (c?.n ?? 0) + 1, type: type ?? '?' });
  }
  const unique = [...counts].filter(([, c]) => c.n === 1);
  return (unique.find(([n, c]) => n === 'jiffies' && c.type !== 't') ?? unique.find(([, c]) => /^[DBR]$/.test(c.type)) ?? unique.find(([, c]) => c.type === 'T'))?.[0];
}

interface Loaded {
  status: number;
  stderr: string;
  pinned: string[];
  xlated: Map<string, string>;
}

/** bpftool prog loadall into a private pin directory; collects what it pinned, then removes it all. */
function loadall(spec: ObjectSpec, tag: string): Loaded {
  const file = writeTemp(`${tag}.o`, writeObject(spec));
  const dir = `${bpffs}/${tag}`;
  try {
    const r = run('bpftool', ['prog', 'loadall', file, dir]);
    const pinned = existsSync(dir) ? readdirSync(dir).sort() : [];
    const xlated = new Map(pinned.map((p) => [p, run('bpftool', ['prog', 'dump', 'xlated', 'pinned', `${dir}/${p}`]).stdout] as const));
    return { status: r.status, stderr: r.stderr, pinned, xlated };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('bpftool loads our objects through the kernel verifier', { skip }, async (t) => {
  await withBpffs(async (root) => {
    bpffs = root;
    {
      await t.test('kprobe, kretprobe, uprobe and uretprobe programs with per-CPU scratch and perf output', async (t) => {
        const spec = sampleObject();
        const r = loadall(spec, 'sample');
        t.equal(r.status, 0, `loadall succeeds${r.status ? `: ${r.stderr}` : ''}`);
        t.same(r.pinned, spec.programs.map((p) => p.name).sort(), 'every program was loaded and pinned');
        t.match(r.xlated.get('p_openat2') ?? '', /; arg1=%di:x64\n/, 'our annotations reach the kernel as BTF line info');
        t.match(r.xlated.get('p_openat2') ?? '', /int p_openat2\(/, 'and the FUNC name from BTF');
      });

      const sym = pickKsym();
      await t.test('a typeless __ksym extern is resolved from kallsyms', { skip: sym ? false : 'no unambiguous symbol in /proc/kallsyms' }, async (t) => {
        if (!sym) return;
        const spec: ObjectSpec = { license: 'GPL', programs: [ksymProgram(sym)], maps: MAPS, externs: [{ name: sym }] };
        const r = loadall(spec, 'ksym');
        t.equal(r.status, 0, `loadall of a program reading @${sym} succeeds${r.status ? `: ${r.stderr}` : ''}`);
        t.same(r.pinned, ['p_ksym']);
        const addr = readFileSync('/proc/kallsyms', 'utf8').split('\n').find((l) => l.split(/\s+/)[2] === sym)?.split(' ')[0];
        // libbpf patched the kallsyms address into the ld_imm64.
        t.match(r.xlated.get('p_ksym') ?? '', new RegExp(`= 0x${BigInt(`0x${addr}`).toString(16)}\\n`), `the address of ${sym} was patched in`);
      });

      await t.test('several programs in one section: libbpf finds each, the verifier takes its func and line info', async (t) => {
        // Three programs share kprobe/do_sys_openat2 (the last reads a __ksym when one is available), one is alone.
        const spec = sharedSectionObject(sym);
        const r = loadall(spec, 'shared');
        t.equal(r.status, 0, `loadall succeeds${r.status ? `: ${r.stderr}` : ''}`);
        t.same(r.pinned, ['p_open_a', 'p_open_b', 'p_open_c', 'r_openat2'], 'all four programs were loaded and pinned');
        for (const p of spec.programs) {
          const x = r.xlated.get(p.name) ?? '';
          // func_info rebased to the program: the kernel names it from BTF.
          t.match(x, new RegExp(`int ${p.name}\\(`), `${p.name}: FUNC name from its own func_info record`);
          // line_info rebased: the kernel shows exactly this program's annotations, in order, from its instruction 0.
          t.same(x.split('\n').filter((l) => l.startsWith('; ')).map((l) => l.slice(2)), p.insns!.flatMap((i) => (i.comment === undefined ? [] : [i.comment])), `${p.name}: its own line info`);
          t.match(x, /\):\n; [^\n]*\n\s+0: /, `${p.name}: line info starts at its instruction 0`);
        }
        if (sym) t.match(r.xlated.get('p_open_c') ?? '', new RegExp(`; x=@${sym}:u64\\n`), 'the extern relocation in mid-section was applied');
        else t.comment('no unambiguous symbol in /proc/kallsyms: the mid-section extern relocation is not loaded here');
      });

      await t.test('an unknown extern makes libbpf refuse the object and nothing is pinned', async (t) => {
        const spec: ObjectSpec = { license: 'GPL', programs: [ksymProgram('no_such_symbol_kprobe_bpf')], maps: MAPS, externs: [{ name: 'no_such_symbol_kprobe_bpf' }] };
        const r = loadall(spec, 'badksym');
        t.not(r.status, 0);
        t.match(r.stderr, /no_such_symbol_kprobe_bpf/);
        t.same(r.pinned, []);
      });

      await t.test('the verifier judges our programs: reading an uninitialised register is rejected', async (t) => {
        const prog = { name: 'bad', section: 'kprobe/vfs_read', insns: A.assemble([A.mov64Reg(R0, R8), A.exit()]).insns };
        const r = loadall({ license: 'GPL', programs: [prog] }, 'reject');
        t.not(r.status, 0, 'bpftool fails');
        t.match(r.stderr, /R8 !read_ok/, 'with the verifier log');
        t.same(r.pinned, [], 'and nothing stays pinned');
      });

      await t.test('one object per program kind also loads', async (t) => {
        for (const [tag, prog] of [
          ['kp', kprobeProgram('kprobe/vfs_write', 'p_write')],
          ['krp', kretprobeProgram()],
          ['up', uprobeProgram('uprobe//usr/bin/env:0x4000', 'p_env')],
          ['urp', uprobeProgram('uretprobe//usr/bin/env:0x4000', 'r_env')],
        ] as const) {
          const r = loadall({ license: 'GPL', programs: [prog], maps: MAPS }, tag);
          t.equal(r.status, 0, `${prog.section}${r.status ? `: ${r.stderr}` : ''}`);
          t.same(r.pinned, [prog.name]);
        }
      });
    }
  });
});
