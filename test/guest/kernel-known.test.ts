// kernel-known.ts on literal lines (host and guest alike): a known
// difference explains exactly the lines it describes, counts them, and
// leaves every other difference to fail.
import t from 'tap';
import { explain, knownDifferences } from './kernel-known.js';

const defs = ['r:kbpfd/open_ret do_sys_openat2 ret=$retval ru=$retval:u8', 'r:kbpfd/ret2 do_sys_openat2 ret=$retval:s64'];
const K612 = '6.12.95+deb12-amd64';

t.test('6.1 has no known differences; 6.12 has the BTF-typed $retval (the probe site past ENDBR is printed as the kernel does now)', async (t) => {
  t.same(knownDifferences(defs, '6.1.0-57-amd64'), []);
  const known = knownDifferences(defs, K612);
  t.equal(known.length, 1);
  t.equal(known.filter((d) => d.format).length, 1, 'the $retval type shows in a format file');
});

t.test('explain: lines that differ only as known are explained and counted, others stay the kernel\'s', async (t) => {
  const known = knownDifferences(defs, K612);
  const kernel = [
    'w-1 [000] exec: (__x64_sys_execve+0x4/0x40)',
    'w-1 [000] open_ret: (__x64_sys_openat+0x6e/0xa0 <- do_sys_openat2) ret=-2 ru=254',
    'w-1 [000] ret2: (__x64_sys_openat+0x6e/0xa0 <- do_sys_openat2) ret=-2',
    'w-1 [000] open: (do_sys_openat2+0x0/0xe0) dfd=-100',
    'w-1 [000] misc: (load_misc_binary+0x8/0x350 [binfmt_misc])',
  ];
  const ours = [
    'w-1 [000] exec: (__x64_sys_execve+0x4/0x40)',
    'w-1 [000] open_ret: (__x64_sys_openat+0x6e/0xa0 <- do_sys_openat2) ret=0xfffffffffffffffe ru=254',
    'w-1 [000] ret2: (__x64_sys_openat+0x6e/0xa0 <- do_sys_openat2) ret=0xfffffffffffffffe',
    'w-1 [000] open: (do_sys_openat2+0x0/0xe0) dfd=-100',
    'w-1 [000] misc: (load_misc_binary+0x0/0x350 [binfmt_misc])',
  ];
  const r = explain(kernel, ours, known, (d) => d.line);
  t.same(r.expected, [kernel[0], ours[1], kernel[2], kernel[3], kernel[4]], 'typed $retval (ret2) and a +0x0 site for the kernel\'s +0x8 are not explained');
  t.same([...r.used.values()], [1], 'one line');
});

t.test('explain: a format file whose untyped $retval the kernel typed s64', async (t) => {
  const known = knownDifferences(defs, K612).filter((d) => d.format);
  const kernel = 'name: open_ret\nformat:\n\tfield:s64 ret;\toffset:24;\tsize:8;\tsigned:1;\n\nprint fmt: "(%lx <- %lx) ret=%Ld ru=%u"\n';
  const ours = 'name: open_ret\nformat:\n\tfield:u64 ret;\toffset:24;\tsize:8;\tsigned:0;\n\nprint fmt: "(%lx <- %lx) ret=0x%Lx ru=%u"\n';
  const r = explain([kernel, kernel.replace('open_ret', 'ret2')], [ours, ours.replace('open_ret', 'ret2')], known, (d) => d.format!);
  t.same(r.expected, [ours, kernel.replace('open_ret', 'ret2')], 'only the event whose $retval is untyped');
  t.same([...r.used.values()], [1]);
});
