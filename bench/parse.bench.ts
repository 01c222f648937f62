// Grammar throughput (lines parsed per second, warm), the cold cost of the
// first parse (module load and the first line), and `kprobe-bpf parse`
// start-up next to bpftrace's.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Bench, Row } from './table.js';

const LINES = [
  'p:kprobes/open do_sys_open dfd=%di:s32 name=+0(%si):string flags=%dx:x32 mode=%cx:u16',
  'r:kprobes/open_ret do_sys_open ret=$retval:s64',
  'p vfs_read+0x10 file=%di buf=%si count=%dx:u64 pos=+0(%cx):s64',
  'r100:my/read vfs_read $retval',
  'p:grp.ev ext4:ext4_sync_fs sb=%di wait=%si:u8 dev=+16(+40(%di)):u32 name=+0(+8(%di)):string',
  'p:uprobes/p_ceo_0x1149 /usr/bin/ceo-target:0x1149 arg1=%di s=+0(%si):ustring c=%dx:u8 b=%di:b3@2/32',
  'r:uprobes/ret /usr/bin/ceo-target:0x1149%return(0x40) rv=$retval:s32 st=$stack0 sp=$stack cm=$comm',
  'p /usr/bin/ceo-target:0x2000 arr=+0(%si):u8[16] strs=+0(%si):string[4] f=@+0x3010:x64 im=\\1234 is=\\"abc"',
  'p:a/b 0xffffffff81000000 %ax %bx %cx %dx %si %di %bp %sp %r8 %r9 %r10 %r11 %r12 %r13 %r14 %r15',
  '-:a/b',
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeCommand(cmd: string, args: string[], runs: number): number | undefined {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: 'ignore' });
    if (r.error || r.status !== 0) return undefined;
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

const bench: Bench = {
  name: 'grammar: parse throughput and start-up',
  async run(): Promise<Row[]> {
    const rows: Row[] = [];
    const cli = fileURLToPath(new URL('../../bin/kprobe-bpf', import.meta.url));

    // Cold: a fresh process imports the grammar and parses one line.
    const grammarUrl = new URL('../grammar/index.js', import.meta.url).href;
    const cold = spawnSync(process.execPath, ['--input-type=module', '-e', `
      const t0 = performance.now();
      const g = await import(${JSON.stringify(grammarUrl)});
      const t1 = performance.now();
      g.parseProbeCommands(${JSON.stringify(LINES[0])});
      const t2 = performance.now();
      console.log(JSON.stringify({ load: t1 - t0, first: t2 - t1 }));`], { encoding: 'utf8' });
    const c = JSON.parse(cold.stdout) as { load: number; first: number };
    rows.push({ measure: 'grammar import', value: c.load, unit: 'ms' });
    rows.push({ measure: 'first line', value: c.first, unit: 'ms' });

    // Warm throughput, uprobe paths taken as existing so stat(2) is not measured.
    const { parseProbeCommands } = await import('../grammar/index.js');
    const text = LINES.join('\n');
    const opts = { fileKind: () => 'regular' as const };
    for (let i = 0; i < 2000; i++) parseProbeCommands(text, opts);
    let lines = 0;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < 1500) {
      for (let i = 0; i < 200; i++) parseProbeCommands(text, opts);
      lines += 200 * LINES.length;
      elapsed = performance.now() - t0;
    }
    rows.push({ measure: 'lines parsed per second (warm, mixed kprobe/uprobe)', value: Math.round(lines / (elapsed / 1000)), unit: 'lines/s' });
    const errLine = 'p:g/e do_sys_open x=+0(+8(%di)):u8[65]';
    let errors = 0;
    const t1 = performance.now();
    while (performance.now() - t1 < 500) {
      for (let i = 0; i < 500; i++) { try { parseProbeCommands(errLine, opts); } catch { errors++; } }
    }
    rows.push({ measure: 'refused lines per second (error + caret)', value: Math.round(errors / ((performance.now() - t1) / 1000)), unit: 'lines/s' });

    // Start-up of the CLI, next to bpftrace when it is installed.
    const ours = timeCommand(cli, ['parse', '-e', LINES[0]!], 10);
    if (ours !== undefined) rows.push({ measure: 'kprobe-bpf parse -e LINE (wall, median of 10)', value: ours, unit: 'ms' });
    const bt = timeCommand('bpftrace', ['--version'], 10);
    if (bt !== undefined) rows.push({ measure: 'bpftrace --version (wall, median of 10)', value: bt, unit: 'ms' });
    const btRun = process.getuid?.() === 0 ? timeCommand('bpftrace', ['-e', 'BEGIN { exit(); }'], 5) : undefined;
    if (btRun !== undefined) rows.push({ measure: "bpftrace -e 'BEGIN { exit(); }' (wall, median of 5)", value: btRun, unit: 'ms' });
    return rows;
  },
};

export default bench;
