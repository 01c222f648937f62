// `kprobe-bpf parse` as a user runs it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../../bin/kprobe-bpf', import.meta.url));
const run = (args: string[], input?: string) => spawnSync(cli, ['parse', ...args], { encoding: 'utf8', input });
const self = process.execPath; // a regular file that certainly exists
/** The maxactive this machine's kernel registers a return kprobe with: max(10, 2 x possible CPUs) ("0-N" in sysfs). */
const lastCpu = Number(/(\d+)\s*$/.exec(readFileSync('/sys/devices/system/cpu/possible', 'utf8'))![1]);
const maxactive = Math.max(10, 2 * (lastCpu + 1));

t.test('prints each definition as the kernel reads it back, exit 0', async (t) => {
  const r = run(['-e', `p:g/e ${self}:0x10 %di`, '-e', 'r:k/v do_sys_open $retval']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, `p:g/e ${self}:0x0000000000000010 arg1=%di\nr${maxactive}:k/v do_sys_open arg1=$retval\n`);
});

t.test('on an error: the error_log lines on stderr, exit 1, earlier lines still printed', async (t) => {
  const r = run(['-f', '-'], `p:g/a ${self}:0x10\n# comment\np:g/b ${self}:0x10 %zz\np:g/c ${self}:0x10\n`);
  t.equal(r.status, 1);
  t.equal(r.stdout, `p:g/a ${self}:0x0000000000000010\n`);
  const col = `  Command: p:g/b ${self}:0x10 `.length;
  t.equal(r.stderr, `trace_uprobe: error: Invalid register name\n  Command: p:g/b ${self}:0x10 %zz\n${' '.repeat(col)}^\n`);
});

t.test('--legacy accepts the 2009 fetch args', async (t) => {
  const r = run(['--legacy', '-e', 'r:my/ret do_sys_open rv ra']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, `r${maxactive}:my/ret do_sys_open rv=$retval ra=%ip\n`);
  t.equal(run(['-e', 'r:my/ret do_sys_open rv ra']).status, 1);
});

t.test('--help documents the grammar and marks our extension', async (t) => {
  const r = run(['--help']);
  t.equal(r.status, 0);
  t.match(r.stdout, /PATH:SYMBOL\[\+offs\]/);
  t.match(r.stdout, /kprobe-bpf extension, not kernel syntax/);
  t.match(r.stdout, /--legacy/);
});

t.test('usage errors exit 2', async (t) => {
  t.equal(run([]).status, 2);
  t.equal(run(['--tracer', 'fprobe', '-e', 'p foo']).status, 2);
  t.equal(run(['--bogus']).status, 2);
});

t.test('--kernel VERSION: that kernel\'s rules; the default is the running kernel\'s', async (t) => {
  const char = ['-e', 'p:k/a do_sys_open %di:char'];
  const old = run(['--kernel', '6.1', ...char]);
  t.equal(old.status, 1);
  t.equal(old.stderr, 'trace_kprobe: error: Unknown type is specified\n  Command: p:k/a do_sys_open %di:char\n                                 ^\n', '6.1 has no char type');
  const newer = run(['--kernel', '6.12', ...char]);
  t.equal(newer.status, 0, newer.stderr);
  t.equal(newer.stdout, 'p:k/a do_sys_open arg1=%di:char\n');
  const p4 = run(['--kernel', '6.1.0-57-amd64', '-e', 'p4:k/a do_sys_open']);
  t.match(p4.stderr, /^trace_kprobe: error: Maxactive is not for kprobe\n/, 'a uname -r release works too');
  t.equal(run(['-e', 'p4:k/a do_sys_open']).stderr.split('\n')[0], 'trace_kprobe: error: Maxactive is only for function exit', 'this host (6.18) by default');
});

t.test('--kernel with a version the rules do not know: one line naming the known ones, exit 2', async (t) => {
  for (const [cmd, args] of [['parse', []], ['compile', ['--format']], ['check', []], ['trace', ['--duration', '1']]] as const) {
    const r = spawnSync(cli, [cmd, '--kernel', '5.15', '-e', 'p do_sys_open', ...args], { encoding: 'utf8' });
    t.equal(r.status, 2, cmd);
    t.equal(r.stderr, `kprobe-bpf ${cmd}: --kernel: unknown kernel version '5.15'; known: 6.1 to 6.18 (rows 6.1, 6.2, 6.3, 6.5, 6.6, 6.8, 6.9, 6.10, 6.12, 6.15, 6.18; checked on 6.1, 6.12, 6.18)\n`, cmd);
    t.equal(r.stdout, '', cmd);
  }
});

t.test('--help says what --kernel does', async (t) => {
  t.match(run(['--help']).stdout, /--kernel V +the rules of kernel version V/);
  t.match(spawnSync(cli, ['compile', '--help'], { encoding: 'utf8' }).stdout, /--kernel V +check the lines with the rules of kernel version V/);
});
