// `kprobe-bpf parse` as a user runs it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../../bin/kprobe-bpf', import.meta.url));
const run = (args: string[], input?: string) => spawnSync(cli, ['parse', ...args], { encoding: 'utf8', input });
const self = process.execPath; // a regular file that certainly exists

t.test('prints each definition as the kernel reads it back, exit 0', async (t) => {
  const r = run(['-e', `p:g/e ${self}:0x10 %di`, '-e', 'r:k/v do_sys_open $retval']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, `p:g/e ${self}:0x0000000000000010 arg1=%di\nr:k/v do_sys_open arg1=$retval\n`);
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
  t.equal(r.stdout, 'r:my/ret do_sys_open rv=$retval ra=%ip\n');
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
