// The front door: the CLI shim runs from a checkout and explains itself.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../bin/kprobe-bpf', import.meta.url));

t.test('--help lists the subcommands and exits 0', async (t) => {
  const r = spawnSync(cli, ['--help'], { encoding: 'utf8' });
  t.equal(r.status, 0);
  t.match(r.stdout, /usage: kprobe-bpf <command>/);
  t.match(r.stdout, /\n  parse +/);
});

t.test('an unknown subcommand is refused with exit 2', async (t) => {
  const r = spawnSync(cli, ['frobnicate'], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown command 'frobnicate'/);
});
