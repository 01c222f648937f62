// `trace` refuses, before attaching anything, a probe whose BPF program was
// never loaded: one line naming the program, exit 1, no perf event left open.
// Issue 17's mutant (fixtures/hostile/program-not-loaded.o) was written by
// an older kprobe-bpf (metadata version 1), so today it is refused before
// loading, by its metadata version. The same mutation is made here on an
// object compiled now: its program section loses SHF_EXECINSTR, so libbpf
// does not take it as a program, the load succeeds with no program fd, and
// the tracer used to call PERF_EVENT_IOC_SET_BPF with fd -1.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProbeDefinition } from '../../grammar/ast.js';
import { parseProbeCommands } from '../../grammar/index.js';
import { compileDefinitions } from '../../compiler/object.js';
import { LINUX_ERRNO } from '../../lib/errno.js';
import { AttachError, attachBpfProbe } from '../../runtime/attach/index.js';
import { ElfSymbols } from '../../runtime/elf-symbols.js';
import { SysError, perfEventFds } from '../../runtime/sys/index.js';
import { rootSkipReason, uprobeEventsSkipReason } from '../lib/kernel.js';
import { buildTarget } from './lib/target.js';

const CLI = fileURLToPath(new URL('../../../bin/kprobe-bpf', import.meta.url));
const NOT_LOADED = fileURLToPath(new URL('../../../test/runtime/fixtures/hostile/program-not-loaded.o', import.meta.url));
const { EBADF, EINVAL } = LINUX_ERRNO;

t.test('attaching a program fd of -1 is refused before any perf event is opened', (t) => {
  const def: ProbeDefinition = {
    op: 'define', tracer: 'uprobe', isReturn: false, group: 'kpbnofd', event: 'e',
    point: { kind: 'file', path: '/bin/true', offset: 0x1000n }, args: [], source: 'p:kpbnofd/e /bin/true:0x1000',
  };
  const before = perfEventFds().length;
  const err = t.throws(() => attachBpfProbe(def, -1)) as unknown;
  t.ok(err instanceof AttachError, 'an AttachError');
  const a = err as AttachError;
  t.equal(a.op, 'PERF_EVENT_IOC_SET_BPF');
  t.equal(a.errno, EBADF);
  t.match(a.message, /kpbnofd\/e: no loaded BPF program/);
  t.equal(perfEventFds().length, before, 'no perf event opened');
  t.end();
});

t.test('the kernel refusing a program on the probe is an AttachError the tracer can read by op and errno', { skip: uprobeEventsSkipReason() }, (t) => {
  const target = buildTarget();
  // Not a BPF program: perf_event_set_bpf_prog -> bpf_prog_get answers EINVAL,
  // as an older kernel answers for a sleepable program it cannot run there.
  const notAProgram = openSync('/dev/null', 'r');
  try {
    const off = new ElfSymbols(target.path).resolve('kpb_hot');
    const def: ProbeDefinition = {
      op: 'define', tracer: 'uprobe', isReturn: false, group: 'kpbnotprog', event: 'e',
      point: { kind: 'file', path: target.path, offset: off }, args: [], source: `p:kpbnotprog/e ${target.path}:0x${off.toString(16)}`,
    };
    const before = perfEventFds().length;
    const err = t.throws(() => attachBpfProbe(def, notAProgram)) as unknown;
    t.ok(err instanceof AttachError, 'an AttachError');
    const a = err as AttachError;
    t.equal(a.op, 'PERF_EVENT_IOC_SET_BPF');
    t.equal(a.errno, EINVAL);
    t.ok(a.cause instanceof SysError, 'the refused ioctl is the cause');
    t.match(a.message, /PERF_EVENT_IOC_SET_BPF/, 'the message is the system call\'s');
    t.equal(perfEventFds().length, before, 'the probe\'s perf event was closed again');
  } finally {
    closeSync(notAProgram);
    target.cleanup();
  }
  t.end();
});

/** SHF_EXECINSTR cleared on every section whose name starts with `prefix` (ELF64 little-endian section headers). */
function dropExecInstr(obj: Uint8Array, prefix: string): Uint8Array {
  const b = Buffer.from(obj);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const strtab = Number(b.readBigUInt64LE(shoff + b.readUInt16LE(0x3e) * shentsize + 0x18));
  let changed = 0;
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * shentsize;
    const nameAt = strtab + b.readUInt32LE(sh);
    const name = b.subarray(nameAt, b.indexOf(0, nameAt)).toString('latin1');
    if (!name.startsWith(prefix)) continue;
    b.writeBigUInt64LE(b.readBigUInt64LE(sh + 8) & ~4n, sh + 8);
    changed++;
  }
  if (changed === 0) throw new Error(`no section starts with ${prefix}`);
  return b;
}

/** `p:ceo/x /bin/true:0x1000` compiled now, with its program section no longer a program to libbpf. */
function notLoadedObject(): Uint8Array {
  const [def] = parseProbeCommands('p:ceo/x /bin/true:0x1000').commands as ProbeDefinition[];
  return dropExecInstr(compileDefinitions([def!], { sleepable: false }).object, 'uprobe');
}

t.test('the shared fixture, from an older kprobe-bpf: refused by its metadata version, one line, exit 1', { skip: rootSkipReason() }, (t) => {
  const r = spawnSync(CLI, ['trace', '--duration', '1', NOT_LOADED], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 1, 'exit 1');
  t.equal(r.stdout, '', 'nothing traced');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  t.equal(lines.length, 1, `one line: ${r.stderr}`);
  t.match(lines[0], /program-not-loaded\.o: .*metadata is version 1, this kprobe-bpf reads version \d+/, 'says the object is too old');
  t.end();
});

t.test('trace of an object whose program never got an fd: one line naming it, exit 1', { skip: rootSkipReason() }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-notloaded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'not-loaded.o');
  writeFileSync(file, notLoadedObject());
  const r = spawnSync(CLI, ['trace', '--duration', '1', file], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 1, 'exit 1');
  t.equal(r.stdout, '', 'nothing traced');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  t.equal(lines.length, 1, `one line: ${r.stderr}`);
  t.match(lines[0], /^kprobe-bpf trace: ceo\/x: program ceo__x was not loaded/, 'names the event and its program');
  t.notMatch(r.stderr, /PERF_EVENT_IOC_SET_BPF|EBADF/, 'no attach was tried');
  t.end();
});

t.test('runTrace on it returns 1 and leaves no perf event or signal hook behind', { skip: rootSkipReason() }, async (t) => {
  const { runTrace } = await import('../../runtime/tracer.js');
  const fds = perfEventFds().length;
  const hooks = process.listenerCount('SIGINT');
  const code = await runTrace({ object: notLoadedObject(), durationMs: 1000, json: false, mode: 'trace', profile: false });
  t.equal(code, 1);
  t.equal(perfEventFds().length, fds, 'no perf event left open');
  t.equal(process.listenerCount('SIGINT'), hooks, 'no signal hook left');
});
