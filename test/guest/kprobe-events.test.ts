// Inside the guest: the guest kernel's (6.1, 6.12) own kprobe_events takes definitions,
// the probes fire on a syscall this process makes, and the trace lines,
// format files and removal behave; ftrace.ts, the helper differential
// tests build on, is exercised end to end against kprobes.
import t from 'tap';
import { openSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { withKernelLock, TRACEFS } from '../lib/kernel.js';
import { notInGuestReason } from './env.js';
import { probeOffset } from './kprobe-site.js';
import { dynamicEventsSkipReason, formatWithoutId, listEvents, traceWithKernel, writeDynamicEvent, DynamicEventError } from './ftrace.js';

const skip = notInGuestReason() ?? dynamicEventsSkipReason('kprobe');
const GROUP = `kbpf_guest${process.pid}`;

/** Opens paths that do not exist: do_sys_openat2 runs all the same, and returns -ENOENT. */
function openMissing(paths: string[]): number[] {
  return paths.map((p) => {
    try {
      openSync(p, 'r');
      throw new Error(`${p} exists`);
    } catch (e) {
      return (e as NodeJS.ErrnoException).errno ?? 0;
    }
  });
}

const myComm = () => readFileSync('/proc/self/comm', 'utf8').trim();

t.test('kprobe_events: an entry probe on do_sys_openat2 prints one trace line per open this process makes', { skip }, async (t) => {
  const paths = [1, 2, 3].map((i) => `${tmpdir()}/kbpf-missing-${process.pid}-${i}`);
  let offset: string | undefined;
  const trace = await withKernelLock(() => {
    offset = probeOffset(GROUP, 'do_sys_openat2');
    return traceWithKernel({
      kind: 'kprobe',
      definitions: [`p:${GROUP}/open do_sys_openat2 dfd=%di:s32 path=+0(%si):ustring`],
      action: () => openMissing(paths),
      pids: [process.pid],
    });
  });
  t.equal(trace.events.length, 1, 'the kernel created one event');
  t.match(trace.events[0]!.readback, new RegExp(`^p:${GROUP}/open do_sys_openat2 `), 'kprobe_events reads the definition back');
  t.same(trace.other, [], 'no lost events or stray lines');
  t.ok(offset, `debugfs kprobes/list shows the probe at do_sys_openat2+${offset}`);
  const ours = trace.lines.filter((l) => paths.some((p) => l.body.includes(`path="${p}"`)));
  t.equal(ours.length, paths.length, 'one line per open', { trace: trace.lines.map((l) => l.raw) });
  t.equal(trace.lines.length, paths.length, 'and nothing else from this process: recording stops before the trace is read');
  for (const [i, line] of ours.entries()) {
    t.equal(line.comm, myComm(), 'comm is this process (from /proc/self/comm)');
    t.equal(line.pid, process.pid, 'pid is this process');
    t.match(line.body, new RegExp(`^open: \\(do_sys_openat2\\+${offset}/0x[0-9a-f]+\\) dfd=-100 path="`), 'event name, probe site as SYM+off/size (where kprobes/list says), AT_FDCWD as s32');
    t.ok(line.body.endsWith(`path="${paths[i]}"`), 'paths in the order opened');
    t.notMatch(trace.comparable[trace.lines.indexOf(line)]!, /\d+\.\d{6}:/, 'comparable() drops the timestamp');
  }
  t.same(listEvents('kprobe').filter((e) => e.group === GROUP), [], 'nothing left in kprobe_events');
  t.notOk(existsSync(`${TRACEFS}/events/${GROUP}`), 'the event directory is gone');
});

t.test('kprobe_events: a return probe reports the errno do_sys_openat2 returned to this process', { skip }, async (t) => {
  const path = `${tmpdir()}/kbpf-missing-ret-${process.pid}`;
  let errnos: number[] = [];
  const trace = await withKernelLock(() =>
    traceWithKernel({
      kind: 'kprobe',
      definitions: [`r:${GROUP}/open_ret do_sys_openat2 ret=$retval:s64`],
      action: () => { errnos = openMissing([path]); },
      pids: [process.pid],
    }),
  );
  t.equal(errnos.length, 1, 'node saw the open fail');
  t.equal(trace.lines.length, 1, 'one return traced', { trace: trace.lines.map((l) => l.raw) });
  const last = trace.lines.at(-1);
  if (!last) return;
  t.match(last.body, /^open_ret: \(\S+ <- do_sys_openat2\) ret=/, 'return probe context (CALLER <- FUNC)');
  t.ok(last.body.endsWith(`ret=${errnos[0]}`), `ret equals the errno node saw (${errnos[0]})`);
});

t.test('kprobe_events: format files name the fields the definition declared', { skip }, async (t) => {
  const trace = await withKernelLock(() =>
    traceWithKernel({
      kind: 'kprobe',
      definitions: [`p:${GROUP}/fmt do_sys_openat2 dfd=%di:s32 flags=%dx:x64 path=+0(%si):ustring comm=$comm`],
      action: () => undefined,
    }),
  );
  const format = trace.formats[`${GROUP}/fmt`];
  t.ok(format, 'format captured while the event existed');
  t.match(format!, /^name: fmt\nID: \d+\nformat:\n/, 'header: name, ID, format');
  for (const field of ['__probe_ip', 'dfd', 'flags', 'path', 'comm']) t.match(format!, new RegExp(`\\tfield:[^;]* ${field};`), `field ${field}`);
  t.match(format!, /\nprint fmt: "/, 'print fmt line');
  t.notMatch(formatWithoutId(format!), /^ID:/m, 'formatWithoutId drops the ID line');
});

t.test('kprobe_events: a bad definition is refused with the error_log entry, and nothing is left', { skip }, async (t) => {
  await withKernelLock(async () => {
    const before = listEvents('kprobe').length;
    let err: DynamicEventError | undefined;
    try {
      writeDynamicEvent('kprobe', `p:${GROUP}/bad do_sys_openat2 x=%nosuchreg`);
    } catch (e) {
      err = e as DynamicEventError;
    }
    if (!err) return t.fail('the kernel accepted a definition with an unknown register');
    t.equal(err.name, 'DynamicEventError');
    t.match(err.errorLog, /^trace_kprobe: error: /, 'error_log names trace_kprobe');
    t.match(err.errorLog, /\n {2}Command: /, 'and the command with a caret line');
    t.equal(listEvents('kprobe').length, before, 'no event created');
  });
});
