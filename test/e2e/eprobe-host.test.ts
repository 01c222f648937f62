// Event probes on this host, whose kernel has no eprobes of its own
// (CONFIG_EPROBE_EVENTS off) but runs tracepoint BPF programs: the oracle is
// the attached tracepoint's own record, read by the kernel into a private
// tracefs instance during the same run. `kprobe-bpf trace` runs two eprobes
// on syscalls/sys_enter_openat — one plain, one with an `if` filter — while
// one instance records the event unfiltered and another with the same filter
// written to its filter file; each eprobe's values must be, hit for hit, the
// kernel's for the traced command, and the profile must count them.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { ensureTracefs, withKernelLock } from '../lib/kernel.js';
import { parseTrace, TraceInstance, type DynamicEvent, type TraceLine } from '../guest/ftrace.js';
import { ourProfile, runCli } from './lib/runs.js';

const skip = ensureTracefs();
const SYS = 'syscalls', EV = 'sys_enter_openat';
const FILTER = 'flags == 0 && mode == 0';
const COMMAND = 'cat /etc/hostname /etc/passwd /nonexistent-kpb-eprobe';

/** dfd, flags, mode of one hit as numbers. */
type Hit = readonly [bigint, bigint, bigint];

/** The kernel's raw syscall line: `sys_openat(dfd: ffffff9c, filename: 7ffc..., flags: 0, mode: 0)`. */
function kernelHit(l: TraceLine): Hit | undefined {
  const m = /^sys_openat\(dfd: (?:0x)?([0-9a-f]+), filename: (?:0x)?[0-9a-f]+, flags: (?:0x)?([0-9a-f]+), mode: (?:0x)?([0-9a-f]+)\)$/.exec(l.body);
  return m ? [BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`), BigInt(`0x${m[3]}`)] : undefined;
}

/** Ours: `NAME: (syscalls.sys_enter_openat) dfd=0x... flags=0x... mode=0x...`. */
function ourHit(l: TraceLine, name: string): Hit | undefined {
  const m = new RegExp(`^${name}: \\(${SYS}\\.${EV}\\) dfd=(0x[0-9a-f]+) flags=(0x[0-9a-f]+) mode=(\\d+)$`).exec(l.body);
  return m ? [BigInt(m[1]!), BigInt(m[2]!), BigInt(m[3]!)] : undefined;
}

const attached = { kind: 'kprobe', group: SYS, event: EV, readback: '' } as const satisfies DynamicEvent;

t.test('eprobe on a tracepoint: the values, the filter and the hits of the kernel\'s own record', { skip }, async (t) => {
  const args = 'dfd=$dfd flags=$flags:x32 mode=$mode:u16';
  const run = await withKernelLock(async () => {
    const all = new TraceInstance();
    const filtered = new TraceInstance();
    try {
      all.enable(attached);
      writeFileSync(`${filtered.dir}/events/${SYS}/${EV}/filter`, FILTER);
      filtered.enable(attached);
      all.start();
      filtered.start();
      const cli = await runCli(['trace', '--profile', '-e', `e:kpbe/all ${SYS}.${EV} ${args}`, '-e', `e:kpbe/some ${SYS}/${EV} ${args} if ${FILTER}`, '-c', COMMAND]);
      all.stop();
      filtered.stop();
      return { cli, all: parseTrace(all.read()).lines, filtered: parseTrace(filtered.read()).lines };
    } finally {
      all.destroy();
      filtered.destroy();
    }
  });
  t.equal(run.cli.code, 0, 'trace exits 0', { stderr: run.cli.stderr });
  const ours = parseTrace(run.cli.stdout).lines;
  const pid = ours.find((l) => l.comm === 'cat')?.pid;
  if (pid === undefined) return t.fail('no line of the traced cat', { stdout: run.cli.stdout, stderr: run.cli.stderr });
  const mine = (name: string) => ours.filter((l) => l.body.startsWith(`${name}: `)).map((l) => ourHit(l, name));
  // the kernel also saw the command's launcher before our program was attached: compare from our first hit on
  // (both stamp with the local clock; ours is taken a little after the kernel's, in the program)
  const since = Number(ours[0]!.timestamp) - 0.0005;
  const kernels = (lines: TraceLine[]) => lines.filter((l) => l.pid === pid && Number(l.timestamp) >= since).map(kernelHit);
  const allHits = mine('all'), someHits = mine('some');
  t.ok(allHits.length >= 3 && allHits.every((h) => h !== undefined), `every line of the plain eprobe reads back (${allHits.length})`, { stdout: run.cli.stdout });
  t.same(allHits, kernels(run.all), 'the plain eprobe: dfd, flags, mode of each hit, as the tracepoint recorded them');
  t.same(someHits, kernels(run.filtered), `the eprobe with 'if ${FILTER}': the hits the kernel's filter kept`);
  t.ok(someHits.length >= 2 && someHits.length < allHits.length, `the filter kept some hits and dropped others (${someHits.length} of ${allHits.length})`);
  const profile = ourProfile(run.cli.stderr);
  t.same(profile.get('all'), { hits: allHits.length, misses: 0 }, 'profile: a hit per line of the plain eprobe');
  t.same(profile.get('some'), { hits: someHits.length, misses: 0 }, 'profile: a record the attached event\'s filter drops is no hit of the eprobe');
});

t.test('eprobe on sched_switch: $FIELD of each size and sign, a char array as a string, $comm', { skip }, async (t) => {
  const cli = await withKernelLock(() => runCli([
    'trace', '--duration', '0.5', '--pipe', '-e', 'e:kpbe/sw sched.sched_switch prev=$prev_pid:s32 next=$next_comm:string pr=$prev_prio:s32 st=$prev_state:x64 c=$comm:string',
  ]));
  t.equal(cli.code, 0, 'trace exits 0', { stderr: cli.stderr });
  const lines = parseTrace(cli.stdout).lines;
  t.ok(lines.length > 0, 'sched_switch hit');
  const re = /^sw: \(sched\.sched_switch\) prev=(-?\d+) next="[^"]*" pr=(-?\d+) st=0x[0-9a-f]+ c="([^"]*)"$/;
  const bad = lines.filter((l) => !re.test(l.body));
  t.same(bad.map((l) => l.raw), [], 'every line has the kernel\'s shape');
  // the switching-out task is the current one: its pid is prev_pid and its comm $comm
  const mismatched = lines.filter((l) => Number(re.exec(l.body)?.[1]) !== l.pid);
  t.same(mismatched.map((l) => l.raw), [], 'prev_pid is the pid of the task that switched out (current)');
});

t.test('eprobe programs of every fetch form pass this kernel\'s verifier', { skip }, async (t) => {
  const ex = 'sched.sched_process_exec', sw = 'sched.sched_switch', op = `${SYS}.${EV}`;
  const lines = [
    `e:kpbv/a ${sw} a=$prev_pid b=$prev_pid:s8 c=$prev_prio:u16 d=$prev_state:s64 e=$prev_comm f=$prev_comm:string g=$next_comm:ustring`,
    `e:kpbv/b ${sw} a=$prev_pid:b3@2/32 b=$prev_state:x8 c=+0($prev_state):u32 d=+8(+0($prev_state)):u8[4] e=$comm:string f=$COMM:string`,
    `e:kpbv/c ${sw} a=@jiffies_to_msecs b=@jiffies_to_msecs:u32 c=\\42 d=\\"imm":string e=+0(@jiffies_to_msecs):string f=$prev_state:symbol g=$prev_state:symstr`,
    `e:kpbv/d ${ex} a=$filename b=$filename:string c=$pid:s32 d=$old_pid if filename ~ "*sh*" || filename == "/bin/true"`,
    `e:kpbv/e ${op} a=$filename b=$filename:ustring c=+0($filename):string d=$__syscall_nr if flags & 0x40 && dfd != 3`,
    `e:kpbv/f ${sw} if prev_comm ~ "kw*" && next_comm != "swapper/0" || COMM == "bash" || cpu == 0`,
    `e:kpbv/g ${sw} n=$next_pid if !(prev_pid < 100) && (next_prio >= 120 || prev_state & 1)`,
  ];
  const cli = await runCli(['check', ...lines.flatMap((l) => ['-e', l])]);
  t.equal(cli.code, 0, 'check passes', { stdout: cli.stdout, stderr: cli.stderr });
  t.equal(cli.stdout.split('\n').filter((l) => /\sok$/.test(l)).length, lines.length, 'one verified program per line');
});
