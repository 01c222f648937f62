// The kernel's number parsers decide which lines are valid; these are their rules.
import t from 'tap';
import { kstrtol, kstrtoul, kstrtouint, simpleStrtoul } from '../../grammar/kstrto.js';

t.test('kstrtoul: base 0 prefixes, a leading +, range, no trailing junk', async (t) => {
  t.equal(kstrtoul('4096'), 4096n);
  t.equal(kstrtoul('0x1000'), 4096n);
  t.equal(kstrtoul('0X1f'), 31n);
  t.equal(kstrtoul('010'), 8n);
  t.equal(kstrtoul('0'), 0n);
  t.equal(kstrtoul('+5'), 5n);
  t.equal(kstrtoul('18446744073709551615'), (1n << 64n) - 1n);
  t.equal(kstrtoul('18446744073709551616'), undefined);
  t.equal(kstrtoul('0x'), undefined);
  t.equal(kstrtoul('0xg'), undefined);
  t.equal(kstrtoul('08'), undefined);
  t.equal(kstrtoul('12a'), undefined);
  t.equal(kstrtoul(''), undefined);
  t.equal(kstrtoul('-1'), undefined);
  t.equal(kstrtoul('5\n'), 5n, 'one trailing newline is allowed');
  t.equal(kstrtoul('010', 10), 10n);
});

t.test('kstrtol: signed range', async (t) => {
  t.equal(kstrtol('-8'), -8n);
  t.equal(kstrtol('+8'), 8n);
  t.equal(kstrtol('-0x10'), -16n);
  t.equal(kstrtol('9223372036854775807'), (1n << 63n) - 1n);
  t.equal(kstrtol('9223372036854775808'), undefined);
  t.equal(kstrtol('-9223372036854775808'), -(1n << 63n));
  t.equal(kstrtol('-9223372036854775809'), undefined);
  t.equal(kstrtol('--1'), undefined);
});

t.test('kstrtouint and simple_strtoul', async (t) => {
  t.equal(kstrtouint('4294967295'), 4294967295n);
  t.equal(kstrtouint('4294967296'), undefined);
  t.same(simpleStrtoul('b12@3/8', 1), { value: 12n, end: 3 });
  t.same(simpleStrtoul('b0x10@', 1), { value: 16n, end: 5 });
  t.same(simpleStrtoul('b@', 1), { value: 0n, end: 1 });
});
