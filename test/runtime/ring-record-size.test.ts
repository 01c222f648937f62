// A sleepable program's record goes into the BPF ring buffer at its used
// length (bpf_ringbuf_output from the task's scratch), not at the room of the
// largest string. The kernel is the judge of what each record must hold: the
// same line goes to uprobe_events (a private trace instance) on one run of a
// target passing an empty, a short, a 4000-byte (long, but its event still
// within the page the kernel's uprobe event must fit), a faulting and a
// longer string, and to an in-process trace of
// another run. Each record we read from the ring must be exactly our prefix +
// the fixed part of the kernel's `format` + the string the kernel printed with
// its NUL (nothing for (fault)), and read back through our printer it must
// print the kernel's line. The longer string is the one known difference
// (README, "Events bigger than a page": the kernel's uprobe fetch gives up on
// a string longer than MAX_STRING_SIZE, we keep its first 4095 bytes): its
// record must hold exactly that room, no more.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORD_PREFIX_SIZE } from '../../compiler/abi.js';
import { compileDefinitions } from '../../compiler/object.js';
import type { ProbeDefinition } from '../../grammar/ast.js';
import { parseProbeCommands } from '../../grammar/index.js';
import { ElfSymbols } from '../../runtime/elf-symbols.js';
import { parseFormatFile } from '../../runtime/format-file.js';
import { printerFor } from '../../runtime/printer/index.js';
import { runTrace } from '../../runtime/tracer.js';
import { onlineCpus } from '../../runtime/sys/cpu-list.js';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { TraceInstance, addUprobeEvent, eventFormat, removeUprobeEvent, traceBodies } from './lib/tracefs.js';

const TARGET_C = String.raw`
#include <string.h>
char longest[4001];
char longer[6000];

__attribute__((noinline)) long take(const char *s, long n)
{
	asm volatile("" ::: "memory");
	return (long)s + n;
}

int main(void)
{
	memset(longest, 'y', sizeof(longest) - 1);
	memset(longer, 'x', sizeof(longer) - 1);
	take("", 0);
	take("hi", 1);
	take(longest, 2);
	take((const char *)16, 3);
	take("a string of a length between the others", 4);
	take(longer, 5);
	return 0;
}
`;

/** kernel: MAX_STRING_SIZE (trace_probe.h), a string's bytes with its NUL. */
const MAX_STRING_SIZE = 4096;
const skip = uprobeEventsSkipReason();
const defs = (line: string): ProbeDefinition[] => parseProbeCommands(line, {}).commands.filter((c): c is ProbeDefinition => c.op === 'define');

t.test('a string record takes its content\'s length in the ring and prints the kernel\'s line', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kprobe-bpf-ringsize-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 't.c'), TARGET_C);
  const path = join(dir, 'strings');
  execFileSync('gcc', ['-O1', '-no-pie', '-o', path, join(dir, 't.c')]); // fixed addresses: the two runs print the same __probe_ip
  const group = `kpbrsz${process.pid}`;
  const line = `p:${group}/take ${path}:0x${new ElfSymbols(path).resolve('take').toString(16)} s=+0(%di):ustring n=%si:s32`;

  await withKernelLock(async () => {
    const inst = new TraceInstance(`${group}i`);
    let kernel: string[];
    let fixed: number;
    let format: ReturnType<typeof parseFormatFile>['format'];
    try {
      addUprobeEvent(line);
      inst.enable(group, 'take');
      spawnSync(path, [], { stdio: 'ignore' });
      inst.enable(group, 'take', false);
      kernel = traceBodies(inst.trace()).map((l) => l.body);
      format = parseFormatFile(eventFormat(group, 'take'), group).format;
      fixed = format.entrySize;
    } finally {
      inst.remove();
      removeUprobeEvent(group, 'take');
    }
    t.equal(kernel.length, 6, 'the kernel traced six calls', { kernel });
    t.match(kernel[3], /s=\(fault\) n=3$/, 'the kernel could not read the fourth');
    t.equal(/s="(y*)"/.exec(kernel[2]!)?.[1]?.length, 4000, 'it kept the 4000-byte one whole');
    t.match(kernel[5], /s=\(fault\) n=5$/, 'and gave up on the longer one (the known difference)');

    const object = compileDefinitions(defs(line), { ringCpus: onlineCpus().length }).object;
    const records: Buffer[] = [];
    const code = await runTrace({
      object, command: [path], json: false, mode: 'pipe', profile: false, quiet: true,
      records: (raw, off, len) => records.push(Buffer.from(raw.subarray(off, off + len))),
    });
    t.equal(code, 0, 'the trace exits 0');
    t.equal(records.length, 6, 'six records read from the ring');

    // the string as the kernel printed it, with its NUL; (fault) stores nothing; ours keeps MAX_STRING_SIZE of the longer one
    const content = kernel.map((k, i) => (i === 5 ? MAX_STRING_SIZE : /s=\(fault\)/.test(k) ? 0 : /s="(.*)" n=/.exec(k)![1]!.length + 1));
    t.same(records.map((r) => r.length), content.map((c) => RECORD_PREFIX_SIZE + fixed + c),
      `each record is prefix (${RECORD_PREFIX_SIZE}) + fixed entry (${fixed}) + its string: ${records.map((r) => r.length).join(', ')} bytes`);

    // our records carry our event id (1: the object's only event): print them under the kernel's format
    let text = '';
    const printer = printerFor([{ format, typeId: records[0]?.readUInt16LE(RECORD_PREFIX_SIZE) ?? 1 }], { sink: (b) => (text += b.toString('latin1')) });
    for (const r of records) printer.printRecord(r, 0, r.length);
    printer.flush();
    const ours = traceBodies(text).map((l) => l.body);
    t.same(ours.slice(0, 5), kernel.slice(0, 5), 'read back through the printer, every line equals the kernel\'s');
    t.equal(/s="(x*)" n=5$/.exec(ours[5] ?? '')?.[1]?.length, MAX_STRING_SIZE - 1, 'the longer string: its first 4095 bytes');
  });
});
