// ftrace.ts through uprobe_events: the kernel's own uprobe tracer on a
// fixture program that prints the arguments it passes, so the trace lines
// can be checked against the program's own view. Runs wherever
// uprobe_events works: on this host (kernel 6.18) and in the 6.1 guest.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { withKernelLock, TRACEFS } from '../lib/kernel.js';
import { symbolFileOffset } from './elf-symbol.js';
import { fixture } from './env.js';
import { dynamicEventsSkipReason, leftoverInstances, listEvents, traceWithKernel } from './ftrace.js';

const skip = dynamicEventsSkipReason('uprobe');
const GROUP = `kbpf_up${process.pid}`;

t.test('uprobe_events through ftrace.ts: each call of the target prints the arguments the program passed', { skip }, async (t) => {
  const target = fixture('uprobe_target');
  const offset = symbolFileOffset(target, 'kbpf_target');
  const calls = 3;
  let programSaw: string[] = [];
  let pid = 0;
  const trace = await withKernelLock(() =>
    traceWithKernel({
      kind: 'uprobe',
      definitions: [`p:${GROUP}/target ${target}:0x${offset.toString(16)} a=%di:x32 b=%si:s64 s=+0(%dx):string`],
      action: () => {
        const r = spawnSync(target, [String(calls)], { encoding: 'utf8' });
        programSaw = r.stdout.trimEnd().split('\n');
        pid = r.pid ?? 0;
      },
    }),
  );
  t.equal(trace.events.length, 1, 'one event created');
  t.match(trace.events[0]!.readback, new RegExp(`^p:${GROUP}/target ${target}:0x0*${offset.toString(16)} `), 'read back with the 16-digit offset');
  t.equal(programSaw.length, calls, 'the target made its calls');
  t.equal(trace.lines.length, calls, 'one trace line per call', { trace: trace.lines.map((l) => l.raw) });
  t.same(trace.other, [], 'no lost events');
  for (const [i, line] of trace.lines.entries()) {
    t.equal(line.pid, pid, 'pid of the spawned target');
    t.equal(line.comm, 'uprobe_target', 'comm of the target');
    t.match(line.body, /^target: \(0x[0-9a-f]+\) /, 'uprobe context is the raw address');
    t.ok(line.body.endsWith(programSaw[i]!), `arguments as the program printed them: ${programSaw[i]}`);
    t.equal(trace.comparable[i], `uprobe_target-${pid} [${String(line.cpu).padStart(3, '0')}] ${line.body}`, 'comparable() keeps comm-pid, cpu and body');
  }
  t.same(listEvents('uprobe').filter((e) => e.group === GROUP), [], 'nothing left in uprobe_events');
  t.notOk(existsSync(`${TRACEFS}/events/${GROUP}`), 'the event directory is gone');
  t.same(leftoverInstances(), [], 'the private tracing instance is gone');
});
