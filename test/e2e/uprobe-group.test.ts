// uprobe events sharing one uprobe_multi link (runtime/attach/uprobe-group.ts):
// several events on one site, entries and returns, judged by the kernel's
// own uprobe tracer on the same lines (the order of same-site events is the
// order of the kernel's consumers), by the kernel's account of the links
// while the trace runs (fdinfo: one link per direction carrying every
// site, its program our dispatcher), and by what is left after it: nothing.
// A kernel that refuses sleepable programs a PROG_ARRAY (6.18) gives the
// sleepable events a link each; their lines must not change.
import t from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { UPROBE_GROUP_ENV, UPROBE_MULTI_ENV, uprobeMultiProblem } from '../../runtime/attach/index.js';
import { buildLoopTarget, type LoopTarget } from './lib/loop-target.js';
import { kernelRun, ourProfile, runCli, setarchWorks, startCli, traceLines, type CliRun } from './lib/runs.js';
import { stampedLines } from './lib/stamped-lines.js';
import { uprobeMultiLinks } from './lib/uprobe-links.js';

const skip = uprobeEventsSkipReason() ?? uprobeMultiProblem(false);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CALLS = 3;

/** Three entry events and two return events on kpb_tick, as uprobe_events takes them (PATH:0xOFFSET). */
function defs(target: LoopTarget, group: string): [string, string][] {
  const at = `${target.path}:0x${target.tickOffset.toString(16)}`;
  return [
    ['a', `p:${group}/a ${at} i=%di:s64`],
    ['r', `r:${group}/r ${at} ret=$retval:s64`],
    ['b', `p:${group}/b ${at} seq=%si:u32 i=%di:x64`],
    ['c', `p:${group}/c ${at} sp=%sp`],
    ['r2', `r:${group}/r2 ${at} low=$retval:u8`],
  ];
}

for (const sleepable of [false, true]) {
  t.test(`events sharing links print what uprobe_events prints, in its order (${sleepable ? 'sleepable' : '--no-sleepable'})`, { skip }, async (t) => {
    const noSetarch = setarchWorks();
    if (noSetarch) return void t.fail(`cannot run the target without ASLR: ${noSetarch}`);
    await withKernelLock(async () => {
      const target = buildLoopTarget();
      try {
        const group = `kug${process.pid % 100000}${sleepable ? 's' : 'n'}`;
        const lines = defs(target, group);
        const command = ['env', '-i', target.path, String(CALLS)];
        const kernel = kernelRun(group, lines, command);
        const ours = await runCli(['trace', ...lines.flatMap(([, l]) => ['-e', l]), '-c', command.join(' '), '--profile', ...(sleepable ? [] : ['--no-sleepable'])], { setarch: true });
        t.equal(ours.code, 0, 'trace exits 0', { stderr: ours.stderr });
        const k = traceLines(kernel.trace);
        t.equal(k.length, CALLS * lines.length, 'the kernel traced every hit');
        t.same(traceLines(ours.stdout), k, 'same lines in the same order (comm, event, addresses, values)');
        const prof = ourProfile(ours.stderr);
        for (const [ev] of lines) t.same(prof.get(ev), { hits: kernel.profile.get(ev), misses: 0 }, `${ev}: --profile hits equal uprobe_profile's, no misses`);
      } finally {
        target.cleanup();
      }
    });
  });
}

interface LinkSeen {
  readonly type: string;
  readonly sites: number;
  readonly progId: number;
  /** The link program's name and maps, as bpftool showed them while it ran. */
  readonly prog?: { readonly name?: string; readonly map_ids?: number[] };
}

/** The program's name and maps, while it exists. */
function progInfo(id: number): LinkSeen['prog'] {
  try {
    return JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', String(id), '-j'], { encoding: 'utf8', stdio: 'pipe' })) as LinkSeen['prog'];
  } catch {
    return undefined;
  }
}

/** The uprobe_multi links the CLI holds once it has attached all `events` sites (or whatever it holds when it exits). */
async function linksWhileRunning(run: { child: ChildProcess; done: Promise<CliRun> }, events: number): Promise<{ links: LinkSeen[]; run: CliRun }> {
  let exited = false;
  void run.done.then(() => (exited = true));
  let links: LinkSeen[] = [];
  while (!exited) {
    links = uprobeMultiLinks(run.child.pid!).map((l) => ({ type: l['link_type']!, sites: Number(l['uprobe_cnt'] ?? 1), progId: Number(l['prog_id']) }));
    if (links.reduce((n, l) => n + l.sites, 0) >= events) {
      links = links.map((l) => ({ ...l, prog: progInfo(l.progId) }));
      break;
    }
    await sleep(30);
  }
  return { links, run: await run.done };
}
const exists = (kind: 'prog' | 'map', id: number): boolean => {
  try {
    execFileSync('bpftool', [kind, 'show', 'id', String(id)], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
};

t.test('one link per direction carries every event; detach leaves nothing behind; the per-event and perf-event ways remain', { skip }, async (t) => {
  const target = buildLoopTarget();
  const group = `kugl${process.pid % 100000}`;
  const lines = defs(target, group).map(([, l]) => l);
  const loop = spawn(target.path, ['1000000', '0', '5000'], { stdio: 'ignore' });
  const traceArgs = (sleepable: boolean) => ['trace', ...lines.flatMap((l) => ['-e', l]), '-p', String(loop.pid), '--duration', '1.5', '--profile', ...(sleepable ? [] : ['--no-sleepable'])];
  try {
    // shared links, non-sleepable programs
    const shared = await linksWhileRunning(startCli(traceArgs(false), { [UPROBE_GROUP_ENV]: '1', [UPROBE_MULTI_ENV]: '1' }), lines.length);
    t.equal(shared.run.code, 0, 'trace exits 0', { stderr: shared.run.stderr });
    t.same(shared.links.map((l) => [l.type, l.sites]).sort(), [['uprobe_multi', 3], ['uretprobe_multi', 2]], 'two links: the three entry events on one, the two returns on the other');
    const progs = shared.links.map((l) => l.prog ?? {});
    t.same(progs.map((p) => p.name), ['kpb_um_dispatch', 'kpb_um_dispatch'], "each link's program is the dispatcher");
    const mapIds = progs.flatMap((p) => p.map_ids ?? []);
    t.equal(mapIds.length, 2, 'each dispatcher uses its one PROG_ARRAY');
    const prof = ourProfile(shared.run.stderr);
    const seen = stampedLines(shared.run.stdout);
    for (const ev of ['a', 'r', 'b', 'c', 'r2']) {
      const n = seen.filter((l) => l.body.startsWith(`${ev}: `)).length;
      t.ok(n > 10, `${ev}: its records came through (${n})`);
      t.equal(prof.get(ev)?.hits, n, `${ev}: --profile counts its lines`);
    }
    // the kernel frees a program and its map once the last reference goes, after a grace period
    let left: string[] = [];
    for (let i = 0; i < 100; i++) {
      left = [...shared.links.filter((l) => exists('prog', l.progId)).map((l) => `prog ${l.progId}`), ...mapIds.filter((id) => exists('map', id)).map((id) => `map ${id}`)];
      if (left.length === 0) break;
      await sleep(50);
    }
    t.same(left, [], 'after the trace no dispatcher and no PROG_ARRAY is left');

    // KPROBE_BPF_UPROBE_GROUP=0: a link per event
    const each = await linksWhileRunning(startCli(traceArgs(false), { [UPROBE_GROUP_ENV]: '0', [UPROBE_MULTI_ENV]: '1' }), lines.length);
    t.equal(each.run.code, 0, `${UPROBE_GROUP_ENV}=0: trace exits 0`, { stderr: each.run.stderr });
    t.same(each.links.map((l) => l.sites), [1, 1, 1, 1, 1], `${UPROBE_GROUP_ENV}=0: a link per event`);

    // sleepable programs: shared where the kernel lets a sleepable program tail-call, a link each where it does not
    const sl = await linksWhileRunning(startCli(traceArgs(true), { [UPROBE_GROUP_ENV]: '1', [UPROBE_MULTI_ENV]: '1' }), lines.length);
    t.equal(sl.run.code, 0, 'sleepable: trace exits 0', { stderr: sl.run.stderr });
    const sites = sl.links.map((l) => l.sites).sort().join();
    t.ok(sites === '2,3' || sites === '1,1,1,1,1', `sleepable: two shared links or a link per event (${sites})`);
    if (sites !== '2,3') t.comment('this kernel refuses a sleepable program the PROG_ARRAY: sleepable uprobes keep a link per event');
    t.ok(stampedLines(sl.run.stdout).length > 50, 'sleepable: the events traced');

    // no uprobe_multi link at all (KPROBE_BPF_UPROBE_MULTI=0, or a kernel before 6.6): perf events, nothing shared
    const perf = await linksWhileRunning(startCli(traceArgs(false), { [UPROBE_GROUP_ENV]: '1', [UPROBE_MULTI_ENV]: '0' }), lines.length);
    t.equal(perf.run.code, 0, `${UPROBE_MULTI_ENV}=0: trace exits 0`, { stderr: perf.run.stderr });
    t.same(perf.links, [], `${UPROBE_MULTI_ENV}=0: no link`);
    t.ok(stampedLines(perf.run.stdout).length > 50, `${UPROBE_MULTI_ENV}=0: the events traced through perf events`);
  } finally {
    loop.kill('SIGKILL');
    target.cleanup();
  }
});
