// Inside the guest: `e` event probe lines against the guest kernel's own
// dynamic_events (6.1 and 6.12 both have eprobes; this host's kernel does
// not). Each line is written on its own and whatever it made is removed at
// once; the kernel's answer (accepted or not, the readback, every error_log
// entry it logged) is the expected value for `kprobe-bpf parse` with the
// guest kernel's rules and its tracefs as the attached events' source
// (bin/attached-events.ts), in-process. Every disagreement fails.
import t from 'tap';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { tracefsAttachedEvents } from '../../bin/attached-events.js';
import { formatProbeCommand, kernelRules, parseProbeCommands, ProbeSyntaxError, type ParseOptions } from '../../grammar/index.js';
import { readErrorLog, type Answer } from '../lib/grammar-diff.js';
import { TRACEFS, withKernelLock } from '../lib/kernel.js';
import { notInGuestReason } from './env.js';
import { runCli } from './kdiff.js';
import { compileDefinitions } from '../../compiler/object.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DYNAMIC_EVENTS = `${TRACEFS}/dynamic_events`;
const skip = notInGuestReason();

const readEvents = (): string[] => readFileSync(DYNAMIC_EVENTS, 'utf8').split('\n').filter((l) => l.length > 0);

/** The kernel's answer to one line written to dynamic_events (error_log emptied first: a throwaway guest). */
function askKernel(line: string): Answer {
  const before = new Set(readEvents());
  writeFileSync(`${TRACEFS}/error_log`, '');
  let accepted = true;
  let errno: string | undefined;
  try {
    appendFileSync(DYNAMIC_EVENTS, `${line}\n`);
  } catch (e) {
    accepted = false;
    errno = (e as NodeJS.ErrnoException).code;
  }
  const readback = readEvents().filter((l) => !before.has(l));
  for (const l of readback) {
    const m = /^[epr][0-9]*:(\S+)/.exec(l);
    if (m) appendFileSync(DYNAMIC_EVENTS, `-:${m[1]}\n`);
  }
  return { accepted, ...(errno ? { errno } : {}), readback, log: readErrorLog().map((e) => e.text) };
}

/** Ours: the definitions read back, or every error_log entry our refusal stands for. */
function askUs(line: string, opts: ParseOptions): Answer {
  try {
    const { commands } = parseProbeCommands(line, opts);
    return { accepted: true, readback: commands.filter((c) => c.op === 'define').map((c) => formatProbeCommand(c)), log: [] };
  } catch (e) {
    if (!(e instanceof ProbeSyntaxError)) return { accepted: false, readback: [], log: [`(not a kernel error) ${(e as Error).message}`] };
    return { accepted: false, readback: [], log: e.logged ? [...e.earlier, e.toErrorLog()] : [] };
  }
}

/** ~250 lines: names, the attached event, every fetch form under TPARG_FL_TEVENT, types, `if` filters. */
function corpus(): string[] {
  const sw = 'sched.sched_switch';
  const e = (args: string) => `e:kbge/a ${sw} ${args}`;
  const ex = (args: string) => `e:kbge/a sched.sched_process_exec ${args}`;
  const op = (args: string) => `e:kbge/a syscalls.sys_enter_openat ${args}`;
  const lines = [
    // names and the attached event
    `e ${sw}`, `e:kbge/a ${sw}`, `e:kbge/ ${sw}`, `e:kbge. ${sw}`, `e:a ${sw}`, `e: ${sw}`, `e:/a ${sw}`, `e:kbge/1a ${sw}`,
    `e:kbge-x/a ${sw}`, `e:kbge/a-b ${sw}`, `e:kbge/${'n'.repeat(63)} ${sw}`, `e:kbge/${'n'.repeat(64)} ${sw}`, `e:${'g'.repeat(64)}/a ${sw}`,
    `exyz:kbge/a ${sw}`, `exyz ${sw}`, `e1 ${sw}`, 'e', 'e:kbge/a', `e:kbge/a sched/sched_switch`, `e:kbge/a sched`, `e:kbge/a sched/`,
    `e:kbge/a sched.`, `e:kbge/a /sched_switch`, `e:kbge/a .sched_switch`, `e:kbge/a sched.nope`, `e:kbge/a nope.sched_switch`,
    `e:kbge/a sched.sched_switch.x`, `e:kbge/a sched/sched_switch/x`, `e:kbge/a ${'s'.repeat(64)}.sched_switch`, `e:kbge/a sched.${'s'.repeat(64)}`,
    `e:kbge/a ftrace.function`, `e:kbge/a ftrace.print`, `e:kbge/a sched.sched_switch_x`, `e:kbge/a SCHED.sched_switch`,
    'e sched.sched_process_exec', 'e syscalls.sys_enter_openat', 'e signal.signal_generate', 'e irq.irq_handler_entry',
    // fields of the attached event
    e('$prev_pid'), e('$next_pid $prev_prio $next_prio'), e('$prev_state'), e('$prev_comm'), e('$next_comm:string'),
    e('$prev_comm:string'), e('$prev_comm:ustring'), e('$prev_comm:symstr'), e('$prev_pid:string'), e('$prev_pid:s32'),
    e('$prev_pid:u8'), e('$prev_pid:x16'), e('$prev_pid:s64'), e('$prev_pid:symbol'), e('$prev_pid:char'), e('$prev_pid:u8[4]'),
    e('$prev_pid:string[2]'), e('$prev_comm:u8[16]'), e('$prev_pid:b4@2/32'), e('$prev_pid:b4@30/32'), e('$prev_pid:x128'),
    e('$nope'), e('$common_pid'), e('$common_type'), e('$prev_pid $nope'), e('x=$nope'), e('x=$prev_pid y=$next_pid'),
    e('x=$prev_pid x=$next_pid'), e('common_pid=$prev_pid'), e('$PREV_PID'), e('$'), e('$prev_pid:'),
    // the other $-variables
    e('$comm'), e('$COMM'), e('$comm:string'), e('$COMM:string'), e('$comm:u32'), e('$comm:string[2]'), e('c=$comm'),
    e('$retval'), e('$stack'), e('$stack0'), e('$arg1'), e('$arg0'), e('$argx'), e('$arg*'), e('$stackx'),
    // registers, BTF names
    e('%di'), e('%ax'), e('%nope'), e('x=%di'), e('+0(%di)'), e('prev_pid'), e('_x'), e('x=prev_pid'), e('(%di)'),
    // memory, immediates, dereferences
    e('@jiffies'), e('@jiffies:u32'), e('@jiffies+8'), e('@0x10'), e('@+10'), e('@'), e('@jiffies:string'),
    e('\\42'), e('\\-1:s8'), e('\\0x10:x8'), e('\\"str"'), e('\\"str":string'), e('\\"str":u32'), e('\\"str'), e('\\x'), e('\\'),
    e('+0($prev_pid)'), e('+0($prev_comm):string'), e('+8($prev_state):u32'), e('-8($prev_pid)'), e('+u0($prev_pid)'),
    e('+u0($prev_pid):ustring'), e('+0($nope)'), e('+0($comm)'), e('+0(\\42)'), e('+0(@jiffies)'), e('+0($prev_pid'),
    e('+($prev_pid)'), e('+0(+0(+0($prev_pid)))'), e('+0($retval)'), e('+0($stack)'),
    // other events' fields
    ex('$filename'), ex('$filename:string'), ex('$pid $old_pid'), ex('$filename:ustring'), ex('+0($filename):string'), ex('$comm'),
    op('$dfd $filename $flags $mode'), op('$filename:string'), op('$filename:ustring'), op('$__syscall_nr'), op('$dfd:s32'),
    // filters
    `e:kbge/a ${sw} $prev_pid if`, `e:kbge/a ${sw} if`, `e:kbge/a ${sw} if prev_pid == 1`, `e:kbge/a ${sw} $prev_pid if prev_pid == 1`,
    `e:kbge/a ${sw} $prev_pid if prev_pid==1`, `e:kbge/a ${sw} $prev_pid if  prev_pid  ==  1`, `e:kbge/a ${sw} $prev_pid if nope == 1`,
    `e:kbge/a ${sw} $prev_pid if prev_pid == "x"`, `e:kbge/a ${sw} $prev_pid if prev_comm == 1`, `e:kbge/a ${sw} $prev_pid if prev_comm ~ "sw*"`,
    `e:kbge/a ${sw} $prev_pid if prev_pid = 1`, `e:kbge/a ${sw} $prev_pid if (prev_pid == 1`, `e:kbge/a ${sw} $prev_pid if prev_pid == 1)`,
    `e:kbge/a ${sw} $prev_pid if prev_comm == bash`, `e:kbge/a ${sw} $prev_pid if prev_pid == 12abc`, `e:kbge/a ${sw} $prev_pid if prev_comm == "abc`,
    `e:kbge/a ${sw} $prev_pid if common_pid == 1 && cpu == 0`, `e:kbge/a ${sw} $prev_pid if comm == "x" || COMM ~ "y*"`,
    `e:kbge/a ${sw} $prev_pid if prev_pid == 1 &&`, `e:kbge/a ${sw} $prev_pid if !(prev_pid == 1)`, `e:kbge/a ${sw} $prev_pid if prev_pid & 1`,
    `e:kbge/a ${sw} $nope if prev_pid == 1`, `e:kbge/a ${sw} $prev_pid if prev_pid == 1 if`, `e:kbge/a ${sw} if if`,
    `e:kbge/a ${sw} $prev_pid if prev_pid.function == foo`, `e:kbge/a ${sw} $prev_pid if prev_pid == CPUS{0}`, `e:kbge/a ${sw} $prev_pid iff prev_pid`,
    `e:kbge/a ${sw} $prev_pid IF prev_pid == 1`, ex('$pid if filename ~ "*sh"'), op('$dfd if filename == 0'), op('$dfd if flags & 0x40'),
  ];
  // argument counts and lengths
  const many = (n: number) => e(Array.from({ length: n }, (_, i) => `a${i}=$prev_pid`).join(' '));
  lines.push(many(128), many(129), e(`x=+0(${'+0('.repeat(10)}$prev_pid${')'.repeat(10)})`), e(`${'n'.repeat(32)}=$prev_pid`), e(`${'n'.repeat(33)}=$prev_pid`));
  // every field of sched_switch with every basic type
  for (const f of ['prev_comm', 'prev_pid', 'prev_prio', 'prev_state', 'next_comm', 'next_pid', 'next_prio']) {
    for (const ty of ['u8', 's16', 'x32', 'u64', 'string', 'symbol']) lines.push(e(`${f}=$${f}:${ty}`));
  }
  return lines;
}

t.test('eprobe grammar: `parse` with the guest kernel\'s rules agrees with its dynamic_events', { skip }, async (t) => {
  const lines = corpus();
  t.ok(lines.length >= 200, `${lines.length} lines`);
  const opts: ParseOptions = { rules: kernelRules(release()).probe, attachedEvent: tracefsAttachedEvents() };
  const results = await withKernelLock(() => lines.map((line) => ({ line, kernel: askKernel(line), ours: askUs(line, opts) })));
  t.notOk(readEvents().some((l) => l.includes(':kbge/') || l.includes(':eprobes/')), 'nothing of ours left in dynamic_events');
  let agree = 0;
  for (const r of results) {
    const same = r.kernel.accepted === r.ours.accepted && JSON.stringify(r.kernel.readback) === JSON.stringify(r.ours.readback)
      && JSON.stringify(r.kernel.log) === JSON.stringify(r.ours.log);
    if (same) agree++;
    else t.fail(`disagreement: ${r.line.slice(0, 100)}`, { diagnostic: true, kernel: r.kernel, ours: r.ours });
  }
  t.comment(`eprobe grammar differential on ${release()}: ${agree}/${lines.length} lines agree (${results.filter((r) => r.kernel.accepted).length} accepted by the kernel)`);

  // every accepted line's program through this kernel's verifier, in one object (one `check`)
  const named = results.filter((r) => r.kernel.accepted && r.ours.accepted && r.line.startsWith('e:kbge/a '))
    .map((r, i) => r.line.replace('e:kbge/a ', `e:kbge/a${i} `));
  const compilable = named.filter((l) => {
    try {
      compileDefinitions(parseProbeCommands(l, opts).commands.flatMap((c) => (c.op === 'define' ? [c] : [])));
      return true;
    } catch {
      return false; // $comm or \"str" as a number: refused at compile time, said why (compiler/lower.ts)
    }
  });
  const dir = mkdtempSync(join(tmpdir(), 'kbge-'));
  try {
    writeFileSync(join(dir, 'defs'), `${compilable.join('\n')}\n`);
    const check = await runCli(['check', '-f', join(dir, 'defs')]);
    const ok = check.stdout.split('\n').filter((l) => /\sok$/.test(l)).length;
    t.equal(check.code, 0, `check: all ${compilable.length} programs of the accepted lines pass the verifier (${named.length - compilable.length} refused at compile time)`, { stdout: check.stdout.slice(-3000), stderr: check.stderr.slice(-3000) });
    t.equal(ok, compilable.length, 'one verified program per line');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
