// Inside the guest: every kprobe feature end to end, the guest kernel's own
// (6.1, 6.12; known differences per kernel: kernel-known.ts)
// kprobe_events tracer as the judge. The same definitions file goes to
// kprobe_events and to `kprobe-bpf trace -f FILE -c WORKLOAD`, both at once
// on the same probe hits (kdiff.ts), so trace lines must be identical apart
// from timestamps and the flags column; `kprobe-bpf compile --format` must
// print the kernel's format files; `check` passes them; a probe on a missing
// symbol fails cleanly. The CLI is spawned a handful of times only (a node
// start costs ~1 s in the guest).
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRACEFS, withKernelLock } from '../lib/kernel.js';
import { fixture, notInGuestReason } from './env.js';
import { GUEST_KERNELS, readImages } from '../vm/images.js';
import { explain, knownDifferences, knownFlagDifferences, type Explained } from './kernel-known.js';
import { defineEvents, dynamicEventsSkipReason, formatWithoutId, listEvents, writeDynamicEvent, removeEvents, type DynamicEvent } from './ftrace.js';
import { CLI_JS, GUEST_NODE_FLAGS, diffRun, quoteArgs, realReturnAddress, readKallsyms, runCli, splitFormats, symstrArgs, symstrAsSymbol, type DiffRun, type Ksym } from './kdiff.js';

const skip = notInGuestReason() ?? dynamicEventsSkipReason('kprobe');
const dir = mkdtempSync(join(tmpdir(), 'kbpf-kdiff-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Rounds the workload makes (kprobe_workload.c): each opens, reads, sleeps and calls getpid once. */
const ROUNDS = 2;
/** The module MOD:SYM probes: stock, and load_misc_binary runs on every execve (binfmt_misc.c). */
const MODULE = 'binfmt_misc';
const MARKER = 'exec';

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** First offset past the entry of `fn` the kernel takes as a kprobe (an instruction boundary). */
function firstBoundary(fn: string): number {
  for (let off = 1; off < 32; off++) {
    try {
      writeDynamicEvent('kprobe', `p:kbpftry/o ${fn}+${off}`);
    } catch {
      continue;
    }
    writeDynamicEvent('kprobe', '-:kbpftry/o');
    return off;
  }
  throw new Error(`no instruction boundary found in ${fn}+1..31`);
}

/**
 * The definitions: one file, every kprobe feature. Functions and what the
 * workload passes them (kprobe_workload.c, Linux 6.1):
 *   do_sys_openat2(dfd, user filename, struct open_how *how)   how = {flags, mode, resolve}
 *   do_filp_open(dfd, struct filename *{name, uptr, ...}, struct open_flags *{open_flag, mode, ...})
 *   ksys_read(fd, user buf, count = 7+i), hrtimer_nanosleep(rqtp = 1000+i ns, mode, clockid)
 *   __x64_sys_getpid(struct pt_regs *) whose orig_ax (+120) is __NR_getpid
 */
function definitions(ks: Map<string, Ksym>, off: number): string[] {
  const addr = (name: string) => {
    const s = ks.get(name);
    if (!s) throw new Error(`guest kallsyms has no ${name}`);
    return hex(s.addr);
  };
  return [
    // the window marker (kdiff.ts); a GRP.EVENT name
    `p:kbpfm.${MARKER} __x64_sys_execve`,
    // (no `char` type: 6.1 does not have it) SYM, registers, $argN (7th: from the stack), user and kernel derefs, arrays, bitfields, immediates
    'p:kbpfd/open do_sys_openat2 dfd=%di:s32 path=+0(%si):ustring flags=+0(%dx):x64 mode=+8(%dx):u64 ' +
      'how=+0(%dx):u64[3] a2=$arg2 a7=$arg7:x64 nofollow=+0(%dx):b1@17/64 acc=+0(%dx):b2@0/32 cloexec=+0(%dx):b1@19/32 ' +
      'first=+u0(%si):u8 uw=+u0(%si):x16 c=$comm cs=$comm:string imm=\\42 neg=\\-7:s8 ims=\\"hi" ' +
      'ax=%ax:x32 flg=%flags orig=%orig_ax:s64 r15=%r15 sp=%sp ip=%ip',
    // SYM+offs (an int3 kprobe, not on the ftrace site); $stack, $stackN
    `p:kbpfd/open_off do_sys_openat2+${off} dfd=%di:s32 st=$stack st0=$stack0 st1=$stack1:s32 st3=$stack3:x16 path=+0(%si):ustring`,
    // auto-generated names (group kprobes)
    `p do_sys_openat2+${off} %di:s32`,
    'p ksys_read fd=%di:u32 buf=%si count=%dx:u64 a3=$arg3:s32',
    'r ksys_read ret=$retval:s32 ip=%ip:symbol',
    // %return, kernel strings through a struct, a string array, byte arrays. No string
    // array with a faulting element: 6.1 under-reserves such an entry and the
    // store overruns the ring (later fixed upstream: "tracing/probes: Fix not to
    // count error code to total length"); seen here as trace_find_cmdline
    // reading a probe address as a pid, then a list_del BUG on rmdir.
    'p:kbpfd/ret2 do_sys_openat2%return ret=$retval:s64 rx=$retval:x32 ip=%ip:symbol',
    'r:kbpfd/open_ret do_sys_openat2 ret=$retval ru=$retval:u8 rb=$retval:b4@60/64 c=$comm ip=%ip:symbol',
    'p:kbpfd/filp do_filp_open dfd=%di:s32 name=+0(+0(%si)):string nm=+0(%si):string[1] nc=+0(+0(%si)):u8[6] ' +
      'flags=+0(%dx):x32 fmode=+4(%dx):u16 op=+0(%dx):x32[5] bits=+0(%dx):b3@17/32 caller=$stack0:symbol ' +
      'callers=$stack0:symstr sp0=+0(%sp):symbol ipsym=%ip:symbol',
    // maxactive (kprobe_events only: our runtime creates its own tracefs entry)
    'p:kbpfd/sleep hrtimer_nanosleep rqtp=%di:s64 mode=%si:u32 clk=%dx:s32 a1=$arg1:u64',
    'r4:kbpfd/sleep_ret hrtimer_nanosleep ret=$retval:s32 ip=%ip:symbol',
    // MEMADDR and the same function by name: a deref of the syscall's pt_regs
    `p:kbpfd/addr ${addr('__x64_sys_getpid')} nr=+120(%di):u64 uregs=+0(%di):x64[2]`,
    // @SYM data symbols, @SYM+offs, @ADDR, symbol/symstr of data, faults of @ADDR
    `p:kbpfd/data __x64_sys_getpid ncpu=@nr_cpu_ids:u32 b6=@linux_banner+6:x8[7] ` +
      `uts=@init_uts_ns:string node=@init_uts_ns+65:string byaddr=@${addr('nr_cpu_ids')}:u32 nul=@0x10:u64 sym=@nr_cpu_ids:symbol ` +
      `bsym=@linux_banner:x8[4] neg=@nr_cpu_ids-4:x32`,
    // faults: kernel reads of a user pointer and of a non-pointer
    'p:kbpfd/faults do_sys_openat2 kd=+0(%di):u64 ks=+0(%si):string karr=+0(%di):x32[2] kb=+0(%di):b3@1/8 ' +
      'deep=+0(+0(%si)):u8 sym=+0(%si):symstr',
    // a dereference that faults before the string read: the __data_loc set before the fetch stays, so `a` prints
    // the comm that follows (6.1's stable backport of "record 0-length data_loc in fetch_store_string*() if fails"
    // and 6.12 alike); `b` has nothing after it: (fault)
    'p:kbpfd/dflt do_sys_openat2 a=+0(@0x10):string c=$comm b=+0(+0(%di)):string',
    // MOD:SYM (the test loads the module), %ip and the caller inside/outside a module as symbol
    `p:kbpfd/misc ${MODULE}:load_misc_binary ip=%ip:symbol caller=$stack0:symbol cs=$stack0:symstr`,
    `r:kbpfd/misc_ret ${MODULE}:load_misc_binary rv=$retval:s32 ip=%ip:symbol`,
    // the flags column in another context: dequeue_task_fair runs with the
    // runqueue locked (irqs off, preemption disabled twice: __schedule and
    // the raw spinlock) when the workload's nanosleep puts it to sleep
    // (timerqueue_add, under the hrtimer base lock, cannot be kprobed on 6.1)
    'p:kbpfd/deq dequeue_task_fair',
    // a group of its own, and -: removal of an event defined earlier in the same file
    'p:kbpfg2/getpid2 __x64_sys_getpid nr=+120(%di):s32',
    'p:kbpfd/gone do_sys_openat2 dfd=%di',
    '-:kbpfd/gone',
  ];
}

/**
 * One todo per known difference of this kernel that explained something;
 * a failure for one that explained nothing (`where` says which
 * comparison), so a fix or a change of the kernel shows.
 */
function reportKnown(t: Test, known: Explained, where: string): void {
  for (const [d, count] of known.used) {
    if (count > 0) t.fail(`${where}: ${count} differ only as known on ${release()}`, { todo: d.why });
    else t.fail(`${where}: a known difference of ${release()} no longer occurs`, { diagnostic: true, why: d.why });
  }
}

/**
 * The running kernel's config where kprobe-bpf reads it (/boot/config-RELEASE,
 * runtime/kernel-trace-context.ts): the flags column's rules come from it
 * (CONFIG_KALLSYMS_ALL, CONFIG_PREEMPTION). The installed 6.1 has it in the
 * host's /boot; a kernel unpacked under build/ (6.12) has it in its own tree,
 * of which /init binds only the modules, so it is copied into the guest's
 * (tmpfs-backed) /boot as a Debian install would have it.
 */
function bootConfig(): string {
  const path = `/boot/config-${release()}`;
  if (existsSync(path)) return `${path} present`;
  for (const k of GUEST_KERNELS) {
    const images = readImages(k.manifest);
    if (images?.release !== release() || !images.modules) continue;
    copyFileSync(join(images.modules, '..', '..', 'boot', `config-${release()}`), path);
    return `${path} copied from ${k.manifest}'s tree`;
  }
  return `${path} absent`;
}

let ks: Map<string, Ksym> | undefined;
let defs: string[] = [];
let run: DiffRun | undefined;
const defsFile = join(dir, 'defs.txt');

t.test('setup: load the module, read the guest kallsyms, find an instruction boundary', { skip }, async (t) => {
  const mp = spawnSync('modprobe', [MODULE], { encoding: 'utf8' });
  t.equal(mp.status, 0, `modprobe ${MODULE}`, { stderr: mp.stderr });
  t.match(bootConfig(), / (present|copied)/, 'the kernel config is where kprobe-bpf reads it');
  ks = readKallsyms();
  t.ok(ks.get('load_misc_binary')?.module === MODULE, `load_misc_binary is in [${MODULE}]`);
  const off = await withKernelLock(() => firstBoundary('do_sys_openat2'));
  defs = definitions(ks, off);
  t.pass(`do_sys_openat2+${off} is a boundary; ${defs.length} definition lines`);
});

t.test('trace: kprobe-bpf prints the kernel tracer\'s lines on the same hits', { skip }, async (t) => {
  if (!defs.length) return t.fail('setup failed');
  const workload = fixture('kprobe_workload');
  run = await withKernelLock(() =>
    diffRun({
      definitions: defs,
      // The 3 events with a `symstr` argument (filp, faults, misc) cannot have
      // the kernel's own symstr values as the reference: on 6.1
      // fetch_store_symstring sprint_symbol()s into the ring entry and kallsyms
      // writes up to 511 bytes past the string's space (corrupted entries, a
      // list_del BUG on rmdir, an oops; kdiff.ts). So the kernel traces
      // `symbol` there (the same sprint_symbol text, %pS) and each such value is
      // quoted, as symstr's print fmt `\"%s\"` does: that print fmt is the
      // kernel's own, compared in the format test below. Every other
      // argument of those lines is compared as the kernel printed it.
      kernelDefinitions: defs.map(symstrAsSymbol),
      kernelLineFix: (l) => realReturnAddress(quoteArgs(symstrArgs(defs))(l)),
      defsFile,
      command: `${workload} ${ROUNDS}`,
      marker: MARKER,
      extraArgs: ['--profile'],
    }),
  );
  const r = run;
  if (process.env.KBPF_DUMP) console.error(`ours ${r.ours.stdout.length} bytes truncated=${r.ours.truncated}\n${r.ours.stdout.slice(0, 6000)}\n--- stderr\n${r.ours.stderr.slice(0, 3000)}\n--- kernel ${r.kernel.lines.length} lines\n${r.kernel.lines.slice(0, 30).map((l) => l.raw).join('\n')}`);
  t.notOk(r.ours.truncated, 'our output stayed small');
  t.equal(r.ours.code, 0, `kprobe-bpf trace exited 0 (${r.ours.seconds.toFixed(1)} s)`, { signal: r.ours.signal, stderr: r.ours.stderr });
  t.same(r.ours.other, [], 'our output holds only the header and trace lines', { stderr: r.ours.stderr });
  t.same(r.kernel.other, [], 'the kernel lost nothing');
  const counts = /entries-in-buffer\/entries-written: (\d+)\/(\d+)/.exec(r.kernel.header);
  t.ok(counts && counts[1] === counts[2], `the kernel's instance overwrote nothing (${counts?.[0]})`);
  t.ok(r.pid, 'our trace shows the command\'s execve');
  const created = r.kernel.events.map((e) => `${e.group}/${e.event}`).sort();
  t.same(created, [
    'kbpfd/addr', 'kbpfd/data', 'kbpfd/dflt', 'kbpfd/faults', 'kbpfd/filp', 'kbpfd/misc', 'kbpfd/misc_ret', 'kbpfd/open', 'kbpfd/open_off',
    'kbpfd/open_ret', 'kbpfd/ret2', 'kbpfd/sleep', 'kbpfd/sleep_ret', 'kbpfd/deq', 'kbpfg2/getpid2', 'kbpfm/exec',
    `kprobes/p_do_sys_openat2_${/\+(\d+)/.exec(defs[2]!)![1]}`, 'kprobes/p_ksys_read_0', 'kprobes/r_ksys_read_0',
  ].sort(), 'the kernel made the events the file names (-:kbpfd/gone removed; generated names)');
  const ourEvents = new Set(r.ours.lines.map((l) => l.body.slice(0, l.body.indexOf(':'))));
  for (const e of r.kernel.events) t.ok(ourEvents.has(e.event), `we printed ${e.event}`);
  t.notOk(ourEvents.has('gone'), 'nothing of the removed event');
  t.ok(r.kernelWindow.length >= 10 * ROUNDS, `kernel window: ${r.kernelWindow.length} lines`);
  const args = defs.reduce((n, l) => n + (l.startsWith('-:') ? 0 : l.split(' ').length - 2), 0);
  t.comment(`compared ${r.kernelWindow.length} trace lines of ${r.kernel.events.length} events (${args} fetch args) hit by both tracers at once`);
  // The comparison that matters: line for line, in order; a line that
  // differs only as this kernel's known differences say is a todo.
  const known = explain(r.kernelWindow, r.oursWindow, knownDifferences(defs), (d) => d.line);
  t.same(r.oursWindow, known.expected, 'every line equal (timestamps and flags aside), in order');
  reportKnown(t, known, 'trace lines');
  const diffs: string[] = [];
  const n = Math.max(r.oursWindow.length, r.kernelWindow.length);
  for (let i = 0; i < n && diffs.length < 8; i++) {
    if (r.oursWindow[i] !== known.expected[i]) diffs.push(`#${i}\n  kernel: ${r.kernelWindow[i]}\n  ours:   ${r.oursWindow[i]}`);
  }
  if (diffs.length) t.comment(diffs.join('\n'));
  // The flags column on its own (irqs-off, need-resched, hard/softirq/NMI,
  // preempt depth, migrate-disable), line for line: the same hits in the
  // same context, so the same context bits. Except one race: the two
  // handlers of a hit run one after the other (the kprobe's aggregate list;
  // a return's rethook list), and where irqs are on (irqs-off column '.'),
  // an interrupt between them can set TIF_NEED_RESCHED, which nothing clears
  // before the second one (preemption is off in both). Such a line differs
  // in the need-resched column only; it is counted, not failed, while such
  // lines stay a minority.
  const flagsKnown = explain(r.kernelFlags, r.oursFlags, knownFlagDifferences(), (d) => d.line);
  const raced = (k: string, o: string) =>
    k.length === o.length && k[0] === '.' && o[0] === '.' && k[1] !== o[1] && k.slice(2) === o.slice(2);
  const racedAt = r.kernelFlags.flatMap((k, i) => (r.oursFlags[i] !== undefined && r.oursFlags[i] !== flagsKnown.expected[i] && raced(k, r.oursFlags[i]!) ? [i] : []));
  const expectedFlags = flagsKnown.expected.map((k, i) => (racedAt.includes(i) ? r.oursFlags[i]! : k));
  const values = [...new Set(r.kernelFlags.map((f) => f.split(' ')[0]))];
  t.same(r.oursFlags, expectedFlags, `the flags column of every line equal (kernel values: ${values.join(' ')}; ${racedAt.length} of ${r.kernelFlags.length} need-resched raced between the handlers)`);
  t.ok(racedAt.length * 4 < Math.max(r.kernelFlags.length, 4), `need-resched raced on a minority of lines (${racedAt.length})`);
  reportKnown(t, flagsKnown, 'flags column');
  const flagDiffs = r.kernelFlags.flatMap((k, i) => (r.oursFlags[i] === flagsKnown.expected[i] ? [] : [`#${i} kernel ${k} ours ${r.oursFlags[i]}${racedAt.includes(i) ? ' (raced)' : ''}`]));
  if (flagDiffs.length) t.comment(flagDiffs.slice(0, 20).join('\n'));
  t.same(listEvents('kprobe').filter((e) => e.group.startsWith('kprobe_bpf_')), [], 'our tracefs entries (maxactive) are gone');
});

/** kprobe_profile rows ("  %-44s %15lu %15lu": event, hits, misses) by event name, with the line as printed. */
function profileRows(text: string): Map<string, { line: string; hits: number; misses: number }> {
  const rows = new Map<string, { line: string; hits: number; misses: number }>();
  for (const line of text.split('\n')) {
    const m = /^  (\S+) +(\d+) +(\d+)$/.exec(line);
    if (m) rows.set(m[1]!, { line, hits: Number(m[2]), misses: Number(m[3]) });
  }
  return rows;
}

/** A profile line with its numbers blanked, column widths kept: what must be equal when the counts are not. */
const profileColumns = (line: string) => line.replace(/ +\d+/g, (m) => ' '.repeat(m.length));

t.test('trace --profile: the kernel\'s kprobe_profile rows and columns, hits within the kernel\'s', { skip }, async (t) => {
  if (!run) return t.fail('no kernel profile: the trace test did not run');
  const r = run;
  const kernel = profileRows(r.kernel.profile);
  const ours = profileRows(r.ours.stderr);
  const names = r.kernel.events.map((e) => e.event).sort();
  t.same([...ours.keys()].sort(), names, 'one row per event of the run', { stderr: r.ours.stderr });
  // The kernel counted every hit while its events were enabled, from before
  // our CLI started until after it ended, and for every process; we count
  // the hits of the command we print. So the counts are bounded, not equal:
  // by the kernel's hits, and by the kernel's own trace lines of the command.
  for (const name of names) {
    const k = kernel.get(name);
    const o = ours.get(name);
    if (!k || !o) {
      t.fail(`${name}: a row on both sides`, { kernel: k?.line, ours: o?.line });
      continue;
    }
    t.equal(profileColumns(o.line), profileColumns(k.line), `${name}: the kernel's columns (name padded to 44, counts right-aligned in 15)`);
    const kernelLinesOfCommand = r.kernel.lines.filter((l) => l.pid === r.pid && l.body.startsWith(`${name}: `)).length;
    const printed = r.ours.lines.filter((l) => l.body.startsWith(`${name}: `)).length;
    t.equal(o.hits, printed, `${name}: our hits are the lines we printed (${printed})`);
    t.ok(o.hits > 0 && o.hits <= kernelLinesOfCommand && kernelLinesOfCommand <= k.hits, `${name}: 0 < our hits ${o.hits} <= the kernel's lines of the command ${kernelLinesOfCommand} <= its hits ${k.hits}`);
    t.equal(o.misses, 0, `${name}: no misses (the kernel's: ${k.misses})`);
  }
});

t.test('compile --format prints the kernel\'s format files', { skip }, async (t) => {
  if (!run) return t.fail('no kernel formats: the trace test did not run');
  const c = await runCli(['compile', '--format', '-f', defsFile]);
  t.equal(c.code, 0, 'kprobe-bpf compile --format exited 0', { stderr: c.stderr });
  const ours = splitFormats(c.stdout);
  t.equal(ours.size, run.kernel.events.length, 'one format file per event');
  // Events with a symstr argument were traced by a kernel given `symbol`
  // there (kdiff.ts symstrAsSymbol: 6.1's symstr overruns its ring entry when
  // it fires). Defining them as written is safe as long as they are never
  // enabled, so their real format files are read from such a definition.
  const symstrLines = defs.filter((l) => symstrArgs([l]).size > 0);
  const symstrFormats = await withKernelLock(() => {
    const created = defineEvents('kprobe', symstrLines);
    try {
      return new Map(created.map((e) => [e.event, readFileSync(`${TRACEFS}/events/${e.group}/${e.event}/format`, 'utf8')]));
    } finally {
      removeEvents(created);
    }
  });
  t.equal(symstrFormats.size, symstrArgs(defs).size, `the kernel defined the ${symstrFormats.size} symstr events (never enabled)`);
  const events = run.kernel.events;
  const theirs = events.map((e) => formatWithoutId(symstrFormats.get(e.event) ?? run!.kernel.formats[`${e.group}/${e.event}`]!));
  const mine = events.map((e) => { const f = ours.get(e.event); return f === undefined ? '' : formatWithoutId(f); });
  // A difference of trace lines only (the probe site) has nothing to show in a format file.
  const known = explain(theirs, mine, knownDifferences(defs).filter((d) => d.format), (d) => d.format!);
  for (const [i, e] of events.entries()) t.equal(mine[i], known.expected[i], `${e.group}/${e.event}: format file identical (ID aside)`);
  reportKnown(t, known, 'format files');
});

t.test('check passes every program of the definitions', { skip }, async (t) => {
  if (!defs.length) return t.fail('setup failed');
  const c = await runCli(['check', '-f', defsFile]);
  t.equal(c.code, 0, 'kprobe-bpf check exited 0', { signal: c.signal, stdout: c.stdout, stderr: c.stderr });
  const events = run?.kernel.events ?? [];
  for (const e of events) t.match(c.stdout, new RegExp(`\\b${e.group}/${e.event}\\b`), `a row for ${e.group}/${e.event}`);
});

t.test('trace on a symbol the kernel does not have fails cleanly and leaves nothing', { skip }, async (t) => {
  const before: DynamicEvent[] = listEvents('kprobe');
  const c = await runCli(['trace', '-e', 'p:kbpfbad/nosym kbpf_no_such_function_xyz dfd=%di', '-c', '/bin/true']);
  t.not(c.code, 0, `non-zero exit (${c.code})`);
  t.match(c.stderr, /kbpf_no_such_function_xyz/, 'the message names the symbol', { stderr: c.stderr });
  t.same(listEvents('kprobe'), before, 'kprobe_events unchanged');
  const stray = listEvents('kprobe').filter((e) => e.group === 'kbpfbad');
  if (stray.length) removeEvents(stray);
});

t.test('SIGINT while tracing a maxactive kretprobe: exit 130, its kprobe_events entry removed', { skip }, async (t) => {
  // maxactive goes through a tracefs kprobe_events entry of our own (runtime/attach/kprobe.ts)
  const child = spawn(process.execPath, [...GUEST_NODE_FLAGS, CLI_JS, 'trace', '-e', 'r8:kbpfsig/ret ksys_read ret=$retval:s32', '--duration', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('latin1').on('data', (d: string) => (stderr += d));
  child.stdout.resume();
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('close', (code, signal) => res({ code, signal })));
  const ours = () => listEvents('kprobe').filter((e) => e.group === `kprobe_bpf_${child.pid}`);
  let seen: DynamicEvent[] = [];
  for (let i = 0; i < 600 && seen.length === 0 && child.exitCode === null; i++) {
    await new Promise((r) => setTimeout(r, 100));
    seen = ours();
  }
  t.equal(seen.length, 1, 'while tracing, our own r8 entry is in kprobe_events', { stderr });
  t.match(seen[0]?.readback ?? '', /^r8:kprobe_bpf_\d+\/\S+ ksys_read/, `it carries the maxactive: ${seen[0]?.readback}`);
  child.kill('SIGINT');
  const end = await closed;
  t.equal(end.code, 130, 'exit status 130 after SIGINT', { signal: end.signal, stderr });
  t.same(ours(), [], 'the entry is gone');
});
