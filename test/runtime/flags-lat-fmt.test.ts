// The flags column's rendering per kernel: the same entry bytes print
// differently before 6.13 (no lazy reschedule; bit 0x02 was IRQS_NOSUPPORT).
// The first two are what the kernels printed for a uprobe line (6.18 on this
// host, 6.1 in the guest: test/guest/uprobe-flags-func.test.ts); the others
// are worked out by hand from each version's trace_print_lat_fmt.
import t from 'tap';
import { latFmt } from '../../runtime/printer/index.js';

t.test('a preemptible uprobe handler\'s borrowed context, flags 0xff and preempt count 0xff', async (t) => {
  t.equal(latFmt(0xff, 0xff, true), 'DBZff', '6.18 prints it with lazy reschedule');
  t.equal(latFmt(0xff, 0xff, false), 'DNZff', '6.1 has no lazy bit: NEED_RESCHED|PREEMPT_RESCHED is N');
  t.equal(latFmt(0xff, 0xff), 'DBZff', 'lazy is the default');
});

t.test('before 6.13: 0x02 is IRQS_NOSUPPORT, not need-resched', async (t) => {
  t.equal(latFmt(0x02, 0, false), 'X....');
  t.equal(latFmt(0x02, 0, true), '.l...');
  t.equal(latFmt(0x23, 0xff, false), 'dp.ff', 'the borrow of a pending reschedule on 6.1');
  t.equal(latFmt(0x23, 0xff, true), 'dL.ff', 'and on 6.18');
  t.equal(latFmt(0x04, 0, false), '.n...');
});
