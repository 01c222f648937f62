// Uprobes through uprobe_multi links (Linux 6.6+) and the perf-event
// fallback (forced here with KPROBE_BPF_UPROBE_MULTI=0; the 6.1 guest runs
// it naturally). Judged by the kernel's own account of what is attached
// (bpftool link show / perf show while the trace runs) and by the two paths
// printing the same lines for the same runs of a gcc-built target under
// setarch -R. The kernel's uprobe tracer judges the lines themselves in
// trace-diff.test.ts, which runs on the links by default.
import t from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uprobeEventsSkipReason } from '../lib/kernel.js';
import { uprobeMultiProblem } from '../../runtime/attach/index.js';
import { buildLoopTarget } from './lib/loop-target.js';
import { runCli, startCli, traceLines, type CliRun } from './lib/runs.js';
import { stampedLines } from './lib/stamped-lines.js';
import { uprobeMultiLinks as linkFdinfo } from './lib/uprobe-links.js';

const skip = uprobeEventsSkipReason() ?? uprobeMultiProblem(true);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ENV = 'KPROBE_BPF_UPROBE_MULTI';

/** BPF_LINK_TYPE_UPROBE_MULTI from the UAPI header (bpftool 7.1 predates the name and prints the number). */
const UPROBE_MULTI_LINK = ['uprobe_multi', 12];

/**
 * Runs the CLI with the uprobe_multi switch set as given: always set, to
 * '1' or '0', so the -c command's environment (and with it its stack under
 * setarch -R: %sp compares) is the same length in both runs.
 */
async function cli(args: readonly string[], multi: boolean, setarch = false): Promise<CliRun> {
  const before = process.env[ENV];
  process.env[ENV] = multi ? '1' : '0';
  try {
    return await runCli(args, { setarch });
  } finally {
    if (before === undefined) delete process.env[ENV];
    else process.env[ENV] = before;
  }
}

/** The flags column most lines of a trace have. */
function usualFlags(trace: string): string | undefined {
  const n = new Map<string, number>();
  for (const l of stampedLines(trace)) n.set(l.flags, (n.get(l.flags) ?? 0) + 1);
  return [...n].sort((a, b) => b[1] - a[1])[0]?.[0];
}

interface Attached { links: string[]; perf: string[] }

/** What the kernel says is attached for programs whose name starts with `prefix`: link types, perf-event uprobes. */
function attachedFor(prefix: string): Attached {
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as { id: number; name?: string }[];
  const ours = new Set(progs.filter((p) => p.name?.startsWith(prefix)).map((p) => p.id));
  const links = JSON.parse(execFileSync('bpftool', ['link', 'show', '-j'], { encoding: 'utf8' })) as { prog_id: number; type: string | number }[];
  const perf = JSON.parse(execFileSync('bpftool', ['perf', 'show', '-j'], { encoding: 'utf8' }) || '[]') as { prog_id: number; fd_type: string }[];
  return {
    links: links.filter((l) => ours.has(l.prog_id)).map((l) => String(l.type)),
    perf: perf.filter((p) => ours.has(p.prog_id)).map((p) => p.fd_type),
  };
}

/** Polls the kernel while `run` is going until something of ours is attached. */
async function whileRunning(prefix: string, run: Promise<CliRun>): Promise<{ attached: Attached; run: CliRun }> {
  let attached: Attached = { links: [], perf: [] };
  let done = false;
  void run.then(() => (done = true));
  while (!done) {
    attached = attachedFor(prefix);
    if (attached.links.length + attached.perf.length >= 2) break;
    await sleep(50);
  }
  return { attached, run: await run };
}

t.test('uprobes attach as uprobe_multi links; KPROBE_BPF_UPROBE_MULTI=0 gives perf events', { skip }, async (t) => {
  const target = buildLoopTarget();
  const group = `kum${process.pid % 100000}`;
  const lines = [`p:${group}/e ${target.path}:kpb_tick i=%di:s64`, `r:${group}/r ${target.path}:kpb_tick ret=$retval:s64`];
  const child = spawn(target.path, ['1000000', '0', '5000'], { stdio: 'ignore' });
  try {
    for (const multi of [true, false]) {
      const { attached, run } = await whileRunning(`${group}__`, cli(['trace', ...lines.flatMap((l) => ['-e', l]), '-p', String(child.pid), '--duration', '2'], multi));
      t.equal(run.code, 0, `trace exits 0 (${ENV}=${multi ? 1 : 0})`, { stderr: run.stderr });
      t.ok(traceLines(run.stdout).length > 10, `it traced the running process (${traceLines(run.stdout).length} lines)`);
      if (multi) {
        t.same(attached.links.map((l) => UPROBE_MULTI_LINK.map(String).includes(l)), [true, true], `one uprobe_multi link per event (${attached.links.join(', ')})`);
        t.same(attached.perf, [], 'no perf-event uprobe');
      } else {
        t.same(attached.links, [], 'no link');
        t.same(attached.perf.sort(), ['uprobe', 'uretprobe'], 'a perf-event uprobe and uretprobe');
      }
    }
  } finally {
    child.kill('SIGKILL');
    target.cleanup();
  }
});

t.test('the link and the perf event print the same lines for the same run', { skip }, async (t) => {
  const target = buildLoopTarget();
  const group = `kum${process.pid % 100000}`;
  const args = [
    '-e', `p:${group}/e ${target.path}:kpb_tick i=%di:s64 seq=%si sp=%sp ip=%ip`,
    '-e', `p:${group}/o ${target.path}:0x${target.tickOffset.toString(16)} i=%di:u8`,
    '-e', `r:${group}/r ${target.path}:kpb_tick ret=$retval:s64`,
    '-c', `${target.path} 5`,
  ];
  try {
    const multi = await cli(['trace', ...args], true, true);
    const perf = await cli(['trace', ...args], false, true);
    t.equal(multi.code, 0, 'link run exits 0', { stderr: multi.stderr });
    t.equal(perf.code, 0, 'perf run exits 0', { stderr: perf.stderr });
    t.equal(traceLines(multi.stdout).length, 15, 'five calls, three events each');
    t.same(traceLines(multi.stdout), traceLines(perf.stdout), 'same lines, in the same order (comm, event, addresses, values)');
    // per hit the flags column can differ between two runs (a need-resched bit set by a timer in between, as in a
    // slow guest); the usual value cannot
    t.equal(usualFlags(multi.stdout), usualFlags(perf.stdout), 'same usual flags column');
  } finally {
    target.cleanup();
  }
});

t.test("trace OBJ.o -p: an unscoped object's link carries the pid (the kernel filters by it, as by the perf event's)", { skip }, async (t) => {
  const target = buildLoopTarget();
  const dir = mkdtempSync(join(tmpdir(), 'kpb-umulti-'));
  const obj = join(dir, 'p.o');
  const children: ChildProcess[] = [];
  try {
    const compiled = await runCli(['compile', '-e', `p:kum/hit ${target.path}:kpb_tick i=%di:s64`, '-o', obj]);
    t.equal(compiled.code, 0, 'compile exits 0', { stderr: compiled.stderr });
    const traced = spawn(target.path, ['1000000', '0', '5000'], { stdio: 'ignore' });
    const other = spawn(target.path, ['1000000', '0', '5000'], { stdio: 'ignore' });
    children.push(traced, other);
    for (const multi of [true, false]) {
      const started = startCli(['trace', obj, '-p', String(traced.pid), '--duration', '1.5'], { [ENV]: multi ? '1' : '0' });
      let links: Record<string, string>[] = [];
      let exited = false;
      void started.done.then(() => (exited = true));
      while (links.length === 0 && !exited) {
        await sleep(50);
        links = linkFdinfo(started.child.pid!);
      }
      const run = await started.done;
      t.equal(run.code, 0, `trace exits 0 (${ENV}=${multi ? 1 : 0})`, { stderr: run.stderr });
      if (multi) {
        t.equal(links.length, 1, "the kernel's fdinfo shows one uprobe_multi link");
        if (links[0]?.['pid'] === undefined) {
          t.comment('this kernel prints no uprobe_multi details in fdinfo (bpf_uprobe_multi_show_fdinfo is newer): pid not checked');
        } else {
          t.equal(links[0]['pid'], String(traced.pid), "its pid is the traced process's");
          t.equal(links[0]['path'], target.path, 'on the target');
        }
      } else {
        t.same(links, [], 'no link');
      }
      const pids = stampedLines(run.stdout).map((l) => l.pid);
      t.ok(pids.length > 20, `the traced process's hits over a second (${pids.length})`);
      t.same([...new Set(pids)], [traced.pid], "none of the other process's");
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    target.cleanup();
  }
});
