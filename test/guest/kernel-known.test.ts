// kernel-known.ts on literal lines (host and guest alike): a known
// difference explains exactly the lines it describes, counts them, and
// leaves every other difference to fail.
import t from 'tap';
import { explain, knownDifferences, type KnownDifference } from './kernel-known.js';

const defs = ['r:kbpfd/open_ret do_sys_openat2 ret=$retval ru=$retval:u8', 'r:kbpfd/ret2 do_sys_openat2 ret=$retval:s64'];

t.test('no known differences on 6.1 or 6.12 (6.12\'s BTF-typed $retval is followed now)', async (t) => {
  t.same(knownDifferences(defs, '6.1.0-57-amd64'), []);
  t.same(knownDifferences(defs, '6.12.95+deb12-amd64'), []);
});

/** A difference of the kind kernel-known.ts records: the kernel's signed ret= where we print hex. */
const hexRet: KnownDifference = {
  why: 'example: ret= printed in hex by us',
  line: (l) => (l.includes('] open_ret: (') ? l.replace(/ ret=(-?\d+)/, (_m, n: string) => ` ret=0x${BigInt.asUintN(64, BigInt(n)).toString(16)}`) : l),
};

t.test('explain: lines that differ only as known are explained and counted, others stay the kernel\'s', async (t) => {
  const kernel = [
    'w-1 [000] exec: (__x64_sys_execve+0x4/0x40)',
    'w-1 [000] open_ret: (__x64_sys_openat+0x6e/0xa0 <- do_sys_openat2) ret=-2 ru=254',
    'w-1 [000] ret2: (__x64_sys_openat+0x6e/0xa0 <- do_sys_openat2) ret=-2',
    'w-1 [000] misc: (load_misc_binary+0x8/0x350 [binfmt_misc])',
  ];
  const ours = [
    'w-1 [000] exec: (__x64_sys_execve+0x4/0x40)',
    'w-1 [000] open_ret: (__x64_sys_openat+0x6e/0xa0 <- do_sys_openat2) ret=0xfffffffffffffffe ru=254',
    'w-1 [000] ret2: (__x64_sys_openat+0x6e/0xa0 <- do_sys_openat2) ret=0xfffffffffffffffe',
    'w-1 [000] misc: (load_misc_binary+0x0/0x350 [binfmt_misc])',
  ];
  const r = explain(kernel, ours, [hexRet], (d) => d.line);
  t.same(r.expected, [kernel[0], ours[1], kernel[2], kernel[3]], 'only the line the difference describes is explained');
  t.same([...r.used.values()], [1], 'one line');
});
