// The filter's places on our command line: `DEFINITION if FILTER` (the
// eprobe rule), --filter GRP[/EVENT]:FILTER, and the filter file's readback.
import t from 'tap';
import { clearsFilter, filterReadback, filterRulesFor, FilterOptionError, parseFilterOption, splitDefinitionFilter } from '../../../grammar/filter/index.js';

t.test('if FILTER: everything after a word that is exactly "if", from the third word on', async (t) => {
  t.same(splitDefinitionFilter('p:my/open /bin/x:0x10 dfd=%di:s32 if dfd == -100'), { definition: 'p:my/open /bin/x:0x10 dfd=%di:s32', filter: 'dfd == -100' });
  t.same(splitDefinitionFilter('p:g/e /bin/x:0x10 a=%di   if  a  ==  1  ||  a == "x   y"'), { definition: 'p:g/e /bin/x:0x10 a=%di', filter: 'a == 1 || a == "x y"' },
    'words are rejoined with single spaces, even inside quotes (argv_split)');
  t.same(splitDefinitionFilter('p:g/e /bin/x:0x10 iff=%di if=%si'), { definition: 'p:g/e /bin/x:0x10 iff=%di if=%si' }, 'only the word "if" itself');
  t.same(splitDefinitionFilter('p:g/if if a=%di'), { definition: 'p:g/if if a=%di' }, 'the place (second word) is never the filter keyword');
  t.same(splitDefinitionFilter('p /bin/x:0x10 if if a == 1'), { definition: 'p /bin/x:0x10', filter: 'if a == 1' }, 'the first "if" splits');
  t.throws(() => splitDefinitionFilter('p:g/e /bin/x:0x10 a=%di if'), new FilterOptionError("No filter rule after 'if'"));
  t.throws(() => splitDefinitionFilter('p:g/e /bin/x:0x10 if   '), FilterOptionError);
});

t.test('--filter GRP/EVENT:FILTER and GRP:FILTER', async (t) => {
  t.same(parseFilterOption('my/open:name ~ "*.so*"'), { group: 'my', event: 'open', filter: 'name ~ "*.so*"' });
  t.same(parseFilterOption('my:common_pid != 1'), { group: 'my', filter: 'common_pid != 1' });
  t.same(parseFilterOption('g/e:s == "a:b"'), { group: 'g', event: 'e', filter: 's == "a:b"' }, 'the first colon ends the target');
  t.same(parseFilterOption('g/e:'), { group: 'g', event: 'e', filter: '' });
  for (const bad of ['g/e', ':a == 1', 'g/:a == 1', 'g/e/f:a == 1', '/e:a == 1']) t.throws(() => parseFilterOption(bad), FilterOptionError, bad);
});

t.test('the filter file reads back the text as written, trailing whitespace removed', async (t) => {
  t.equal(filterReadback(undefined), 'none');
  t.equal(filterReadback('  prev_pid==1   '), '  prev_pid==1', 'leading whitespace stays');
  t.equal(filterReadback("comm == 'bash'\n"), "comm == 'bash'", 'quotes and spacing are kept');
  t.equal(filterReadback(' 0 \n'), 'none', '"0" clears, whitespace around it ignored');
  t.ok(clearsFilter('0'));
  t.notOk(clearsFilter('00'));
});

t.test('the rules of a kernel version: one table, later rows win', async (t) => {
  t.same(filterRulesFor('6.1.0-31-amd64'), { version: '6.1', functionSuffix: false, cpus: false, stacktraceField: false, trailingOperator: 'refuse' });
  t.same(filterRulesFor('6.5'), { version: '6.5', functionSuffix: true, cpus: false, stacktraceField: false, trailingOperator: 'refuse' }); // 6.2-6.11 not measured: the 6.1 row's measured answer carries on
  t.same(filterRulesFor('6.12.107'), { version: '6.12', functionSuffix: true, cpus: true, stacktraceField: true, trailingOperator: 'accept' });
  t.same(filterRulesFor('6.18.44-fc-v1045'), { version: '6.18', functionSuffix: true, cpus: true, stacktraceField: true, trailingOperator: 'refuse' });
  t.throws(() => filterRulesFor('linux'));
});
