// The table of causes, fed the facts of hosts this one is not: each cause is
// reported as one line with the kernel's errno name and its fix, the most
// fundamental first; a host where nothing is wrong gets no diagnosis.
import t from 'tap';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diagnose, explainRefusal, type HostFacts, type Need } from '../../runtime/diagnose.js';
import { ErrnoError } from '../../lib/errors.js';
import { LINUX_ERRNO } from '../../lib/errno.js';
import { parseProbeCommands, type ProbeDefinition } from '../../grammar/index.js';

const ROOT: HostFacts = {
  euid: 0,
  caps: { sysAdmin: true, perfmon: true, bpf: true },
  unprivilegedBpfDisabled: 2,
  perfEventParanoid: 2,
  lockdown: 'none',
  tracefs: '/sys/kernel/tracing',
  pmus: { kprobe: true, uprobe: true },
  kconfig: new Map([['CONFIG_BPF_SYSCALL', 'y'], ['CONFIG_BPF_EVENTS', 'y'], ['CONFIG_KPROBES', 'y'], ['CONFIG_UPROBE_EVENTS', 'y']]),
};
const USER: HostFacts = { ...ROOT, euid: 1000, caps: { sysAdmin: false, perfmon: false, bpf: false } };
const defs = (...lines: string[]): ProbeDefinition[] =>
  parseProbeCommands(lines.join('\n'), { fileKind: () => 'regular' }).commands.filter((c): c is ProbeDefinition => c.op === 'define');
const trace = (...lines: string[]): Need => ({ tracing: true, attach: true, definitions: defs(...lines) });
const KPROBE = 'p:diag/k do_sys_open';
const without = (f: HostFacts, option: string): HostFacts => ({ ...f, kconfig: new Map([...f.kconfig!].filter(([k]) => k !== option)) });

const cases: [string, HostFacts, Need, string, RegExp][] = [
  ['root on a kernel that has everything', ROOT, trace(KPROBE), '', /^$/],
  ['a user without CAP_BPF and CAP_PERFMON', USER, trace(KPROBE), 'EPERM', /^loading tracing BPF programs needs root, or CAP_BPF and CAP_PERFMON, and uid 1000 has neither \(EPERM\); run it with sudo$/],
  ['a user with CAP_PERFMON only', { ...USER, caps: { sysAdmin: false, perfmon: true, bpf: false } }, trace(KPROBE), 'EPERM', /needs CAP_BPF and uid 1000 lacks it \(EPERM\); run it with sudo/],
  ['a user with CAP_BPF only', { ...USER, caps: { sysAdmin: false, perfmon: false, bpf: true } }, trace(KPROBE), 'EPERM', /need CAP_PERFMON and uid 1000 lacks it \(EPERM\)/],
  ['root in a container without the capabilities', { ...USER, euid: 0 }, trace(KPROBE), 'EPERM', /root without them \(a container\?\) has neither/],
  ['kernel.unprivileged_bpf_disabled for a non-tracing object', USER, { tracing: false, attach: false, definitions: [] }, 'EPERM', /^kernel\.unprivileged_bpf_disabled = 2 refuses bpf\(\) to users without CAP_BPF, and uid 1000 lacks it \(EPERM\); run it with sudo$/],
  ['kernel.perf_event_paranoid for perf events', { ...USER, caps: { sysAdmin: false, perfmon: false, bpf: true } }, { ...trace(KPROBE), tracing: false }, 'EACCES', /^kernel\.perf_event_paranoid = 2 refuses .* without CAP_PERFMON \(EACCES\); .*sysctl kernel\.perf_event_paranoid=-1/],
  ['lockdown=confidentiality', { ...ROOT, lockdown: 'confidentiality' }, trace(KPROBE), 'EPERM', /^kernel lockdown is 'confidentiality': .* even to root \(EPERM\); boot with lockdown=integrity/],
  ['tracefs not mounted, kprobes without the PMU', { ...ROOT, tracefs: undefined, pmus: { kprobe: false, uprobe: true } }, trace(KPROBE), 'ENOENT', /^tracefs is not mounted.* \(ENOENT\); mount it with 'mount -t tracefs nodev \/sys\/kernel\/tracing'$/],
  ['tracefs not mounted, a kretprobe with maxactive', { ...ROOT, tracefs: undefined }, trace('r10:diag/r do_sys_open'), 'ENOENT', /^tracefs is not mounted/],
  ['no CONFIG_BPF_SYSCALL', { ...without(ROOT, 'CONFIG_BPF_SYSCALL'), unprivilegedBpfDisabled: undefined }, trace(KPROBE), 'ENOSYS', /no bpf\(\) system call: .*CONFIG_BPF_SYSCALL \(ENOSYS\); use a kernel with CONFIG_BPF_SYSCALL=y/],
  ['no CONFIG_BPF_EVENTS', without(ROOT, 'CONFIG_BPF_EVENTS'), trace(KPROBE), 'EINVAL', /without CONFIG_BPF_EVENTS \(EINVAL\)/],
  ['no CONFIG_KPROBES, kprobe lines only', { ...without(ROOT, 'CONFIG_KPROBES'), pmus: { kprobe: false, uprobe: true } }, trace(KPROBE), 'ENOENT', /no kprobes: it was built without CONFIG_KPROBES and CONFIG_KPROBE_EVENTS \(ENOENT\); use a kernel with them/],
  ['no CONFIG_UPROBE_EVENTS', { ...without(ROOT, 'CONFIG_UPROBE_EVENTS'), pmus: { kprobe: true, uprobe: false } }, trace('p:diag/u /bin/true:0x10'), 'ENOENT', /no uprobes: .*CONFIG_UPROBE_EVENTS \(ENOENT\)/],
];

for (const [name, facts, need, errno, line] of cases) {
  t.test(name, async (t) => {
    const d = diagnose(need, facts);
    t.equal(d?.errno ?? '', errno);
    t.match(d?.message ?? '', line);
    t.notMatch(d?.message ?? '', /\n/, 'one line');
  });
}

t.test('check (load only) does not need tracefs, perf events or the kprobe PMU', async (t) => {
  const facts: HostFacts = { ...without(ROOT, 'CONFIG_KPROBES'), tracefs: undefined, pmus: { kprobe: false, uprobe: false }, perfEventParanoid: 3 };
  t.equal(diagnose({ tracing: true, attach: false, definitions: defs(KPROBE) }, facts), undefined);
});

t.test('a refusal thrown later is explained by the host cause; other errors are not', async (t) => {
  const need = trace(KPROBE);
  t.equal(explainRefusal(new ErrnoError('bpf', LINUX_ERRNO.EPERM), need, USER)?.errno, 'EPERM');
  t.equal(explainRefusal(new ErrnoError('bpf', LINUX_ERRNO.EINVAL), need, USER), undefined);
  t.equal(explainRefusal(new Error('other'), need, USER), undefined);
});

t.test('a system call refused to a process with CAP_BPF and CAP_PERFMON but not CAP_SYS_ADMIN names CAP_SYS_ADMIN', async (t) => {
  const facts: HostFacts = { ...USER, caps: { sysAdmin: false, perfmon: true, bpf: true } };
  const sysErr = Object.assign(new Error('uprobe /x:0x10: perf_event_open (type 8, pid -1, cpu 0): Permission denied (EACCES)'), { errno: LINUX_ERRNO.EACCES });
  t.same(explainRefusal(new Error('attach failed', { cause: sysErr }), trace('p:diag/u /bin/true:0x10'), facts), {
    errno: 'EACCES', message: 'uprobe /x:0x10: perf_event_open (type 8, pid -1, cpu 0): refused to uid 1000 without CAP_SYS_ADMIN (EACCES); run it with sudo',
  });
  t.equal(explainRefusal(sysErr, trace('p:diag/u /bin/true:0x10'), ROOT), undefined, 'root: not explained, the error goes through');
});

t.test('a uprobe_events event on the same place with another reference counter offset', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-diag-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  copyFileSync('/bin/true', bin);
  symlinkSync(bin, join(dir, 'alias'));
  writeFileSync(join(dir, 'uprobe_events'), `p:other/x ${bin}:0x0000000000000010(0x20) a=%di\nr:other/r ${bin}:0x0000000000000040 b=%si\n`);
  const facts: HostFacts = { ...ROOT, tracefs: dir };
  const said = (line: string) => diagnose(trace(line), facts);
  t.equal(said(`p:diag/u ${bin}:0x10`)?.errno, 'EINVAL', 'none where the live one has one');
  t.match(said(`p:diag/u ${bin}:0x10`)?.message ?? '', /^diag\/u: .*:0x10 already has a uprobe with reference counter offset 0x20 \(uprobe_events: other\/x\), and the kernel keeps one per place \(EINVAL\); give this probe the same, or remove other\/x$/);
  t.match(said(`p:diag/u ${join(dir, 'alias')}:0x10(0x24)`)?.message ?? '', /reference counter offset 0x20/, 'the same file by another path, another offset');
  t.match(said(`p:diag/u ${bin}:0x40(0x8)`)?.message ?? '', /already has a uprobe with no reference counter \(uprobe_events: other\/r\)/);
  t.equal(said(`p:diag/u ${bin}:0x10(0x20)`), undefined, 'the same offset');
  t.equal(said(`p:diag/u ${bin}:0x18`), undefined, 'another place');
  t.equal(diagnose({ ...trace(`p:diag/u ${bin}:0x10`), attach: false }, facts), undefined, 'check attaches nothing');
});
