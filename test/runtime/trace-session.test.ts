// The session the trace command uses, end to end without the compiler: a
// held command (-c), a BPF program per event, our rings, the trace-file
// output with its header, and the profile — against the kernel's own
// uprobe tracer on the same hits.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { TRACEFS, uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { ElfSymbols } from '../../runtime/elf-symbols.js';
import { parseFormatFile } from '../../runtime/format-file.js';
import { TraceSession } from '../../runtime/trace-session.js';
import { launchHeld } from '../../runtime/launch.js';
import { readPmu } from '../../runtime/attach/index.js';
import { perfEventFds } from '../../runtime/sys/index.js';
import { buildTarget } from './lib/target.js';
import { TraceInstance, addUprobeEvent, eventFormat, removeUprobeEvent, traceBodies } from './lib/tracefs.js';
import { closeFd, createPerfEventArray, loadRecordProgram, mapUpdateU32 } from './lib/mini-bpf.js';

/** The hits column of the kernel's uprobe_profile line for file and event ("  %s %-44s %15lu\n"). */
function kernelProfileHits(file: string, event: string): number | undefined {
  const line = readFileSync(`${TRACEFS}/uprobe_profile`, 'utf8').split('\n').find((l) => l.startsWith(`  ${file} ${event} `));
  const m = line === undefined ? null : /^  \S+ \S+ +(\d+)$/.exec(line);
  return m ? Number(m[1]) : undefined;
}

const skip = uprobeEventsSkipReason() ?? (readPmu('uprobe') ? undefined : 'no uprobe PMU');

t.test('trace session: -c command, trace file output with header, profile, nothing left', { skip }, async (t) => {
  await withKernelLock(async () => {
    const target = buildTarget();
    const kgroup = `kpbses${process.pid}`;
    const inst = new TraceInstance(kgroup);
    const fdsBefore = perfEventFds().length;
    const mapFd = createPerfEventArray(64);
    const progFd = loadRecordProgram(mapFd, 3);
    try {
      const off = new ElfSymbols(target.path).resolve('kpb_hot');
      addUprobeEvent(`p:${kgroup}/hot ${target.path}:0x${off.toString(16)} i=%di:s32`);
      inst.enable(kgroup, 'hot');
      const { format } = parseFormatFile(eventFormat(kgroup, 'hot'), kgroup);
      const held = await launchHeld([target.path, '0', '50'], 'ignore');
      let out = '';
      let prof = '';
      const session = new TraceSession(
        [{ def: { tracer: 'uprobe', isReturn: false, group: kgroup, event: 'hot', point: { kind: 'file', path: target.path, offset: off } }, format, typeId: 3, progFd }],
        (cpu, fd) => mapUpdateU32(mapFd, cpu, fd),
        {
          scope: { pid: held.pid },
          until: held.exited,
          sink: (b) => (out += b.toString('latin1')),
          profile: true,
          profileSink: (b) => (prof += b.toString('latin1')),
          onAttached: () => held.release(),
        },
      );
      session.attach();
      const summary = await session.run();
      t.equal(summary.stoppedBy, 'until', 'ended when the command exited');
      t.equal(summary.printed, 50);
      const kernelTrace = inst.trace();
      const header = (s: string) => s.split('\n').filter((l) => l.startsWith('#')).join('\n');
      t.equal(header(out), header(kernelTrace), 'the header equals the kernel trace file header (50/50, #P)');
      t.same(traceBodies(out), traceBodies(kernelTrace), 'the lines equal the kernel lines (timestamps and flags aside)');
      // kprobe_profile's line ("  %-44s %15lu %15lu\n", probes_profile_seq_show) as literal text,
      // and the hit count against the kernel's own uprobe_profile for the same event and hits.
      t.equal(prof, '  hot                                                       50               0\n', 'profile: 50 hits, 0 misses in kprobe_profile columns');
      t.same(kernelProfileHits(target.path, 'hot'), 50, "the kernel's uprobe_profile counted the same 50 hits");
      inst.enable(kgroup, 'hot', false);
    } finally {
      inst.remove();
      removeUprobeEvent(kgroup, 'hot');
      closeFd(progFd);
      closeFd(mapFd);
      target.cleanup();
    }
    t.equal(perfEventFds().length, fdsBefore, 'no perf fd left');
  });
});
