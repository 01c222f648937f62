// Inside the guest: a clang-built kprobe object (test/guest/fixtures,
// compiled on the host by `make vm`) passes the guest kernel's verifier (6.1, 6.12) through
// bpftool, and the system libbpf attaches its kprobe and kretprobe, which
// then count exactly the opens this test asks for. The kernel is the judge.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { release } from 'node:os';
import { withKernelLock } from '../lib/kernel.js';
import { loadAll, pinDir, showPinned, unpinAll } from './bpftool.js';
import { fixture, notInGuestReason } from './env.js';

const skip = notInGuestReason();

t.test(`bpftool prog loadall: the ${release()} verifier accepts every program of the clang-built kprobe object`, { skip }, async (t) => {
  const obj = fixture('kprobe_count.bpf.o');
  const dir = pinDir('loadall');
  try {
    const r = loadAll(obj, dir);
    t.ok(r.ok, `bpftool prog loadall ${obj} passed`, { output: r.output });
    t.equal(r.pinned.length, 2, 'both programs (kprobe, kretprobe) pinned');
    for (const path of r.pinned) {
      const info = showPinned(path);
      t.equal(info.type, 'kprobe', `${info.name} loaded as a kprobe program`);
      t.ok(info.bytes_xlated > 0, `${info.name}: the kernel holds its translated instructions`);
    }
  } finally {
    unpinAll(dir);
  }
});

t.test('libbpf attaches kprobe/ and kretprobe/ programs and they count the opens made', { skip }, async (t) => {
  const loader = fixture('libbpf_attach');
  const obj = fixture('kprobe_count.bpf.o');
  const opens = 5;
  const r = await withKernelLock(() => spawnSync(loader, [obj, loader, String(opens)], { encoding: 'utf8' }));
  t.equal(r.status, 0, 'libbpf_attach ran', { stdout: r.stdout, stderr: r.stderr });
  const m = /attached=(\d+) entries=(\d+) returns=(\d+) last_path=(.*)/.exec(r.stdout);
  if (!m) return t.fail('no result line from libbpf_attach', { stdout: r.stdout, stderr: r.stderr });
  t.equal(Number(m[1]), 2, 'two links (kprobe + kretprobe)');
  t.equal(Number(m[2]), opens, 'the kprobe saw each open, no more');
  t.equal(Number(m[3]), opens, 'the kretprobe saw each return');
  t.equal(m[4], loader, 'the kprobe read the path argument from user memory');
});
