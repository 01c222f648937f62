// The kernel's CPU-list format, sparse masks included: the count of possible
// CPUs (per-CPU map value size) is the number of CPUs listed.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseCpuList, possibleCpuCount } from '../../../runtime/sys/cpu-list.js';

t.test('sparse masks list each CPU once', async (t) => {
  t.same(parseCpuList('0,2-3'), [0, 2, 3]);
  t.same(parseCpuList('0-1,4\n'), [0, 1, 4]);
  t.same(parseCpuList('5'), [5]);
  t.same(parseCpuList('0-3,8-9'), [0, 1, 2, 3, 8, 9]);
});

t.test('a malformed list is an error, not a wrong count', async (t) => {
  t.throws(() => parseCpuList('3-1'), /bad cpu list '3-1'/);
  t.throws(() => parseCpuList('0-x'), /bad cpu list/);
});

t.test('possible CPUs: as many as /sys lists', async (t) => {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  const listed = text.split(',').reduce((n, r) => {
    const [a, b] = r.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a! + 1);
  }, 0);
  t.equal(possibleCpuCount(), listed, `'${text}'`);
});
