// What a user sees when the kernel would refuse: one line on stderr naming
// the cause, the kernel's errno and the fix, exit 1, nothing on stdout and no
// probe left behind. Every cause this host can produce: a user without
// privileges (setpriv to nobody), binaries that are not ELF or not x86-64, a
// symbol the binary lacks, and (this kernel has CONFIG_KPROBES off) kprobes.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const CLI = fileURLToPath(new URL('../../bin/cli.js', import.meta.url));
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
// Through `env -i`: tap adds its process-info hook to every child's
// environment, and that hook writes into .tap/, which nobody may not.
const CLEAN = ['env', '-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, process.execPath, CLI];
const kprobeBpf = (argv: string[], setpriv: string[] = []) =>
  setpriv.length ? spawnSync('setpriv', [...setpriv, ...CLEAN, ...argv], { encoding: 'utf8', cwd: dir }) : spawnSync(CLEAN[0]!, [...CLEAN.slice(1), ...argv], { encoding: 'utf8', cwd: dir });
const dir = mkdtempSync(join(tmpdir(), 'kpb-refusal-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/**
 * This test's uprobes (group `refusal`) the kernel knows right now, to see
 * that none is left behind; other test files define their own at the same time.
 */
const uprobeEvents = () => (existsSync('/sys/kernel/tracing/uprobe_events') ? readFileSync('/sys/kernel/tracing/uprobe_events', 'utf8') : '')
  .split('\n').filter((l) => /^[pr]:refusal\//.test(l)).join('\n');

function refused(t: Test, argv: string[], prefix: string[] = []) {
  const before = uprobeEvents();
  const r = kprobeBpf(argv, prefix);
  t.equal(r.status, 1, 'exit 1');
  t.equal(r.stdout, '', 'nothing on stdout');
  t.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
  t.equal(uprobeEvents(), before, 'no uprobe left in tracefs');
  return r.stderr;
}

const isRoot = process.geteuid?.() === 0;
let nobodyCanRun = false;
try {
  accessSync(CLI, constants.R_OK);
  nobodyCanRun = isRoot && kprobeBpf(['--version'], NOBODY).status === 0;
} catch { /* reported by the skip below */ }

t.test('a user without root, CAP_BPF or CAP_PERFMON is told to use sudo (EPERM)', { skip: nobodyCanRun ? false : 'needs root to setpriv to uid 65534, and dist/ readable by it' }, async (t) => {
  for (const cmd of ['trace', 'check']) {
    const err = refused(t, [cmd, '-e', 'p:refusal/nobody /bin/true:0x10'], NOBODY);
    t.equal(err, `kprobe-bpf ${cmd}: loading tracing BPF programs needs root, or CAP_BPF and CAP_PERFMON, and uid 65534 has neither (EPERM); run it with sudo\n`);
    t.notMatch(err, /\(63\)|RLIMIT_MEMLOCK|kprobe-bpf check'/, 'no wasi errno, no misleading advice');
  }
});

t.test('a uprobe on a file that is not ELF (ENOEXEC)', { skip: isRoot ? false : 'needs root' }, async (t) => {
  const path = join(dir, 'notes.txt');
  writeFileSync(path, 'not a program\n'.repeat(8));
  for (const [cmd, line] of [['trace', `p:refusal/text ${path}:0x10`], ['check', `p:refusal/text ${path}:0x10`], ['trace', `p:refusal/sym ${path}:main`]] as const) {
    t.equal(refused(t, [cmd, '-e', line]), `kprobe-bpf ${cmd}: ${path} is not an ELF file (ENOEXEC): uprobes go on executables and shared libraries; give the path of one\n`);
  }
});

t.test('a uprobe on an ELF file for another machine (ENOEXEC)', { skip: isRoot ? false : 'needs root' }, async (t) => {
  const path = join(dir, 'arm-true');
  copyFileSync('/bin/true', path);
  const bytes = readFileSync(path);
  bytes.writeUInt16LE(183, 18); // e_machine = EM_AARCH64
  writeFileSync(path, bytes);
  t.equal(refused(t, ['trace', '-e', `p:refusal/arm ${path}:0x10`]), `kprobe-bpf trace: ${path} is an ELF file for aarch64, not x86-64 (ENOEXEC): kprobe-bpf reads x86-64 registers; probe an x86-64 binary\n`);
});

t.test('a uprobe on a symbol the binary does not have (ENOENT)', { skip: isRoot ? false : 'needs root' }, async (t) => {
  for (const cmd of ['trace', 'check']) {
    t.equal(refused(t, [cmd, '-e', 'p:refusal/sym /bin/true:no_such_symbol']), `kprobe-bpf ${cmd}: /bin/true has no symbol 'no_such_symbol' in .symtab or .dynsym (ENOENT): see its symbols with 'nm /bin/true' and 'nm -D /bin/true', or give PATH:OFFSET\n`);
  }
});

const kconfig = existsSync('/proc/config.gz') ? gunzipSync(readFileSync('/proc/config.gz')).toString('utf8') : '';
const kprobesOff = kconfig !== '' && !/^CONFIG_KPROBES=y$/m.test(kconfig);
t.test('kprobes on a kernel built without CONFIG_KPROBES (ENOENT)', { skip: isRoot && kprobesOff ? false : 'needs root and a kernel whose /proc/config.gz has CONFIG_KPROBES off' }, async (t) => {
  t.equal(refused(t, ['trace', '-e', 'p:refusal/k do_sys_open']), 'kprobe-bpf trace: this kernel has no kprobes: it was built without CONFIG_KPROBES and CONFIG_KPROBE_EVENTS (ENOENT); use a kernel with them, or probe user space with uprobes\n');
});

const bpfDisabled = Number(existsSync('/proc/sys/kernel/unprivileged_bpf_disabled') ? readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8') : '0');
/** A socket filter object built with clang: not ours and not a tracing program, so only the sysctl stands in the way. */
function socketFilter(): string | undefined {
  const src = join(dir, 'filter.c');
  const obj = join(dir, 'filter.o');
  writeFileSync(src, '__attribute__((section("socket"), used)) int keep(void *skb) { return 0; }\nchar _license[] __attribute__((section("license"), used)) = "GPL";\n');
  return spawnSync('clang', ['-target', 'bpf', '-O2', '-c', src, '-o', obj]).status === 0 ? obj : undefined;
}
const filter = nobodyCanRun && bpfDisabled > 0 ? socketFilter() : undefined;
t.test('checking a socket filter object as a user under kernel.unprivileged_bpf_disabled (EPERM)', { skip: filter ? false : 'needs root to setpriv, kernel.unprivileged_bpf_disabled set, and clang -target bpf' }, async (t) => {
  chmodSync(dir, 0o755);
  t.equal(refused(t, ['check', filter!], NOBODY), `kprobe-bpf check: kernel.unprivileged_bpf_disabled = ${bpfDisabled} refuses bpf() to users without CAP_BPF, and uid 65534 lacks it (EPERM); run it with sudo\n`);
});

/** setpriv to nobody with these capabilities (inheritable and ambient, so node keeps them). */
const nobodyWith = (caps: string) => [...NOBODY, `--inh-caps=${caps}`, `--ambient-caps=${caps}`];
t.test('a user with CAP_BPF but not CAP_PERFMON is told so (EPERM)', { skip: nobodyCanRun ? false : 'needs root to setpriv to uid 65534' }, async (t) => {
  t.equal(refused(t, ['check', '-e', 'p:refusal/bpfonly /bin/true:0x10'], nobodyWith('+bpf')),
    'kprobe-bpf check: tracing BPF programs need CAP_PERFMON and uid 65534 lacks it (EPERM); run it with sudo, or grant CAP_PERFMON as well as CAP_BPF\n');
});

t.test('with CAP_BPF and CAP_PERFMON check passes; a uprobe perf event the kernel still refuses is explained in one line', { skip: nobodyCanRun ? false : 'needs root to setpriv to uid 65534' }, async (t) => {
  const ok = kprobeBpf(['check', '-e', 'p:refusal/caps /bin/true:0x10'], nobodyWith('+bpf,+perfmon'));
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /^refusal\/caps +uprobe\/\/bin\/true:0x10 .* ok$/m);
  // The default clock (local) is read from tracefs, which is root's: that is said first, in one line.
  const local = kprobeBpf(['trace', '-e', 'p:refusal/caps /bin/true:0x10', '--duration', '0.2'], nobodyWith('+bpf,+perfmon'));
  t.equal(local.status, 1);
  t.equal(local.stderr, "kprobe-bpf: --clock local reads the kernel's clock through tracefs, which uid 65534 may not read (EACCES); run it with sudo, or use --clock mono\n");
  const r = kprobeBpf(['trace', '-e', 'p:refusal/caps /bin/true:0x10', '--duration', '0.2', '--clock', 'mono'], nobodyWith('+bpf,+perfmon'));
  if (r.status === 0) return; // a kernel that lets CAP_PERFMON open uprobe perf events: nothing to explain
  t.equal(r.status, 1);
  t.match(r.stderr, /^kprobe-bpf trace: uprobe \/bin\/true:0x10: perf_event_open \(type \d+, pid -1, cpu \d+\): refused to uid 65534 without CAP_SYS_ADMIN \((EACCES|EPERM)\); run it with sudo\n$/);
});
