// The kernel's own uprobe tracer judges `kprobe-bpf trace` end to end. The
// same uprobe_events lines (test/e2e/lib/diff-defs.ts: every fetch kind and
// type a uprobe can use) are
//   - written to uprobe_events under a unique group, enabled in a private
//     trace instance, the gcc-built target run, and `trace`, each event's
//     `format` and uprobe_profile read back;
//   - given to `kprobe-bpf trace -f FILE -c CMD --profile` as a subprocess,
//     and to `kprobe-bpf compile -f FILE --format`;
// on separate runs of the target, each under `setarch -R` (no ASLR) and
// `env -i`, so addresses and stack contents agree. Compared: every trace
// line's comm, event, probe address(es) and values (pid, CPU, flags and
// timestamp set aside), the trace header, the format files (their ID line
// aside: the kernel's event id vs our common_type) and the hit counts.
// Once for a PIE and once for a non-PIE build.
//
// Set aside by design of the test program (see README "Known differences"):
// - strings in pages the target has not touched yet: a non-sleepable BPF
//   program cannot fault them in, the kernel can; the target touches every
//   string first, but one (event `cold`), where --no-sleepable must print
//   (fault) and sleepable programs (the default) print what the kernel prints.
// - events bigger than a page: the kernel caps a uprobe event at PAGE_SIZE
//   (trace_uprobe.c MAX_UCB_BUFFER_SIZE, with a WARN); every event here stays
//   well below.
// - a dereference that faults before the last one: the kernel leaves the
//   field as it was in its per-CPU buffer (stale bytes, trace_probe_tmpl.h
//   returns early), we store 0; the target's nested fault faults at the last read.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { diffDefinitions } from './lib/diff-defs.js';
import { buildDiffTarget } from './lib/diff-target.js';
import { headerOf, kernelRun, ourProfile, runCli, setarchWorks, splitFormats, traceLines, withoutId } from './lib/runs.js';

const skip = uprobeEventsSkipReason();

/** A failing line, readable: long runs of one character collapsed. */
const shorten = (s: string): string => s.replace(/(.)\1{15,}/g, (run, c: string) => `${c}{x${run.length}}`);
const ITERATIONS = 3;

/**
 * The one difference non-sleepable programs are expected to show: the string
 * in the untouched page (event `cold`) faults, and so does the plain read of
 * its first bytes (bpf_probe_read_user zeroes what it cannot read).
 */
function nonSleepableExpectation(body: string): string {
  if (!body.startsWith('cold: ')) return body;
  return body.replace(/ cold=".*" ucold=".*" c4=\{.*\}$/, " cold=(fault) ucold=(fault) c4={'\0','\0','\0','\0'}");
}

const CASES = [
  { pie: true, sleepable: true, symbolic: false },
  { pie: true, sleepable: false, symbolic: false },
  { pie: false, sleepable: true, symbolic: false },
  // Our PATH:SYMBOL[+offs] extension (.symtab of the target, .dynsym of libc) against the kernel's PATH:OFFSET.
  { pie: true, sleepable: true, symbolic: true },
  { pie: false, sleepable: true, symbolic: true },
] as const;

for (const { pie, sleepable, symbolic } of CASES) {
  const name = `${pie ? 'PIE' : 'non-PIE'}, ${sleepable ? 'sleepable' : 'non-sleepable (--no-sleepable)'} programs${symbolic ? ', PATH:SYMBOL probe points' : ''}`;
  t.test(`kprobe-bpf trace prints what the kernel's uprobe tracer prints (${name})`, { skip }, async (t) => {
    const noSetarch = setarchWorks();
    if (noSetarch) {
      t.fail(`cannot run the target without ASLR: ${noSetarch}`);
      return;
    }
    await withKernelLock(async () => {
      const target = buildDiffTarget(pie);
      try {
        const group = `kpbdiff${process.pid}${pie ? 'p' : 'n'}${sleepable ? 's' : 'a'}${symbolic ? 'y' : ''}`;
        const defs = diffDefinitions(target, group);
        const file = join(target.dir, 'events.txt');
        writeFileSync(file, (symbolic ? diffDefinitions(target, group, { symbolic }) : defs).map(([, l]) => l).join('\n') + '\n');
        const command = ['env', '-i', target.path, String(ITERATIONS)];

        const kernel = kernelRun(group, defs, command);
        const ours = await runCli(['trace', '-f', file, '-c', command.join(' '), '--profile', ...(sleepable ? [] : ['--no-sleepable'])], { setarch: true });
        t.equal(ours.code, 0, 'kprobe-bpf trace exits 0', { stderr: ours.stderr });
        t.notMatch(ours.stderr, /lost|error|not attached/i, 'no lost events, no errors');

        // Trace lines.
        // A probe in a shared library fires in every process that runs it: keep the target's (and its thread's) lines.
        const comms = new Set([basename(target.path), 'kpb-worker']);
        const k = traceLines(kernel.trace).filter((l) => comms.has(l.comm)).map((l) => (sleepable ? l : { ...l, body: nonSleepableExpectation(l.body) }));
        const o = traceLines(ours.stdout);
        const lazy = defs.filter(([ev]) => !((kernel.profile.get(ev) ?? 0) >= ITERATIONS)).map(([ev]) => ev);
        t.same(lazy, [], `the kernel traced at least ${ITERATIONS} hits of each of the ${defs.length} events`);
        const inTarget = defs.filter(([, line]) => line.split(' ')[1]!.startsWith(`${target.path}:`)).map(([ev]) => ev);
        const hitsInTarget = inTarget.reduce((a, ev) => a + (kernel.profile.get(ev) ?? 0), 0);
        t.equal(k.filter((l) => inTarget.includes(l.body.split(':')[0]!)).length, hitsInTarget, "the kernel's trace holds every hit uprobe_profile counted");
        if (process.env.KPB_E2E_KEEP) {
          writeFileSync(`${process.env.KPB_E2E_KEEP}.kernel`, kernel.trace, 'latin1');
          writeFileSync(`${process.env.KPB_E2E_KEEP}.ours`, ours.stdout, 'latin1');
        }
        let identical = 0;
        const n = Math.max(k.length, o.length);
        for (let i = 0; i < n; i++) {
          const kl = k[i];
          const ol = o[i];
          if (kl && ol && kl.comm === ol.comm && kl.body === ol.body) identical++;
          else t.fail(`line ${i + 1} differs`, { kernel: kl && shorten(`${kl.comm} ${kl.body}`), ours: ol && shorten(`${ol.comm} ${ol.body}`) });
        }
        t.equal(identical, n, `${identical}/${n} trace lines identical (comm, event, ip, values)${sleepable ? '' : ', cold page aside'}`);
        // The kernel's buffer also holds other processes' hits of the libc
        // probes (a busy machine): its counts less those lines are the target's.
        const others = traceLines(kernel.trace).length - k.length;
        const kernelHeader = headerOf(kernel.trace).replace(
          /entries-in-buffer\/entries-written: (\d+)\/(\d+)/,
          (_, inBuffer: string, written: string) => `entries-in-buffer/entries-written: ${Number(inBuffer) - others}/${Number(written) - others}`,
        );
        t.equal(headerOf(ours.stdout), kernelHeader, `the trace header (entries, #P, legend)${others ? `; ${others} lines of other processes taken out of the kernel's counts` : ''}`);

        // Format files.
        const compiled = await runCli(['compile', '-f', file, '--format']);
        t.equal(compiled.code, 0, 'kprobe-bpf compile --format exits 0', { stderr: compiled.stderr });
        const ourFormats = splitFormats(compiled.stdout);
        let sameFormats = 0;
        for (const [ev] of defs) {
          const want = withoutId(kernel.formats.get(ev)!);
          const got = ourFormats.get(ev);
          if (got !== undefined && withoutId(got) === want) sameFormats++;
          else t.equal(got === undefined ? undefined : withoutId(got), want, `${ev}: format file`);
        }
        t.equal(sameFormats, defs.length, `${sameFormats}/${defs.length} format files identical (ID line aside)`);

        // Profile hit counts.
        const prof = ourProfile(ours.stderr);
        for (const [ev] of defs) {
          // library probes: the kernel counts every process's hits, we count the -c command's; compare with its lines
          const want = inTarget.includes(ev) ? kernel.profile.get(ev) : k.filter((l) => l.body.startsWith(`${ev}: `)).length;
          t.equal(prof.get(ev)?.hits, want, `${ev}: hits equal ${inTarget.includes(ev) ? "uprobe_profile's" : "the kernel's lines from the target"}`);
          t.equal(prof.get(ev)?.misses, 0, `${ev}: no misses`);
        }
      } finally {
        target.cleanup();
      }
    });
  });
}
