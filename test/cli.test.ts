// The front door: the CLI shim runs from a checkout and explains itself.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

t.test('--version prints the version of package.json', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const r = spawnSync(cli, ['--version'], { encoding: 'utf8' });
  t.equal(r.status, 0);
  t.equal(r.stdout, `kprobe-bpf ${pkg.version}\n`);
});

t.test('help COMMAND prints what COMMAND --help prints', async (t) => {
  for (const name of ['parse', 'compile', 'check', 'trace']) {
    const viaHelp = spawnSync(cli, ['help', name], { encoding: 'utf8' });
    const viaFlag = spawnSync(cli, [name, '--help'], { encoding: 'utf8' });
    t.equal(viaHelp.status, 0, name);
    t.match(viaHelp.stdout, new RegExp(`^usage: kprobe-bpf ${name} `), name);
    t.equal(viaHelp.stdout, viaFlag.stdout, name);
  }
  const unknown = spawnSync(cli, ['help', 'frobnicate'], { encoding: 'utf8' });
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /unknown command 'frobnicate'/);
});
