// What accepted lines mean: the AST, the generated names, the readback.
import t from 'tap';
import { formatProbeCommand, parseProbeCommands, ProbeSyntaxError, type FileKind, type ProbeDefinition } from '../../grammar/index.js';
import type { FetchArg } from '../../grammar/ast.js';

const fileKind = (p: string): FileKind => (p.startsWith('/usr/bin/') ? 'regular' : 'missing');
const one = (line: string, legacy = false): ProbeDefinition => {
  // no kernel BTF: the AST of each form as written (BTF arguments: btf-args.test.ts)
  const c = parseProbeCommands(line, { fileKind, legacy, btf: null }).commands[0];
  if (!c || c.op !== 'define') throw new Error(`not a definition: ${line}`);
  return c;
};
const fetchOf = (body: string, place = 'do_sys_open'): FetchArg => one(`p:g/e ${place} ${body}`).args[0]!.fetch;

t.test('kprobe heads: groups, events, generated names, maxactive', async (t) => {
  t.match(one('p do_sys_open'), { tracer: 'kprobe', group: 'kprobes', event: 'p_do_sys_open_0', isReturn: false });
  t.match(one('p do_sys_open+16'), { event: 'p_do_sys_open_16', point: { kind: 'symbol', symbol: 'do_sys_open', offset: 16n } });
  t.match(one('r do_sys_open'), { event: 'r_do_sys_open_0', isReturn: true });
  t.match(one('p do_sys_open%return'), { event: 'r_do_sys_open_0', isReturn: true });
  t.match(one('r100 vfs_read'), { maxactive: 100, isReturn: true, event: 'r_vfs_read_0' });
  t.match(one('r4096:g/e vfs_read'), { maxactive: 4096 });
  t.match(one('p ext4:ext4_sync_fs'), { event: 'p_ext4_ext4_sync_fs_0', point: { module: 'ext4', symbol: 'ext4_sync_fs' } });
  t.match(one('p foo.isra.0'), { event: 'p_foo_isra_0_0' });
  t.match(one('p 0xffffffff81000000'), { event: 'p_0xffffffff81000000', point: { kind: 'address', address: 0xffffffff81000000n } });
  t.match(one('p:mygrp/myev do_sys_open'), { group: 'mygrp', event: 'myev' });
  t.match(one('p:mygrp.myev do_sys_open'), { group: 'mygrp', event: 'myev' });
  t.match(one('p:my-grp/ do_sys_open'), { group: 'my-grp', event: 'p_do_sys_open_0' });
  t.match(one('p:ev do_sys_open'), { group: 'kprobes', event: 'ev' });
  t.equal(one(`p ${'s'.repeat(80)}`).event.length, 63, 'generated names are cut at 63 chars');
});

t.test('uprobe places: offsets, %return, reference counters, generated names', async (t) => {
  t.match(one('p /usr/bin/ceo-target:0x1149 %di'), {
    tracer: 'uprobe', group: 'uprobes', event: 'p_ceo_0x1149', point: { kind: 'file', path: '/usr/bin/ceo-target', offset: 0x1149n },
  });
  t.match(one('r /usr/bin/a.out:4096'), { event: 'p_a_0x1000', isReturn: true }, "uprobe names use 'p' even for return probes");
  t.match(one('p /usr/bin/x:0x10%return(0x20)'), { isReturn: true, point: { offset: 0x10n, refCtrOffset: 0x20n } });
  t.match(one('r5 /usr/bin/x:0x10'), { event: 'p_x_0x10', group: 'uprobes', isReturn: true }, 'no maxactive for uprobes: r5 is just r');
  t.match(one('p /usr/bin/x:010'), { point: { offset: 8n } }, 'octal, as kstrtoul reads it');
});

t.test('our PATH:SYMBOL[+offs] extension', async (t) => {
  const d = one('p /usr/bin/ceo:main+0x10 %di');
  t.match(d, { event: 'p_ceo_main_16', point: { kind: 'file-symbol', path: '/usr/bin/ceo', symbol: 'main', offset: 16n } });
  t.equal(formatProbeCommand(d), 'p:uprobes/p_ceo_main_16 /usr/bin/ceo:main+0x10 arg1=%di');
  t.throws(() => parseProbeCommands('p /usr/bin/ceo:main', { fileKind, symbolPlaces: false }), {
    constructor: ProbeSyntaxError, code: 'NOT_A_PROBE', logged: false, message: 'uprobe place must be PATH:OFFSET (offset starting with a digit)',
  }, 'can be turned off: then, as for the kernel, no uprobe place at all');
});

t.test('every fetch argument form', async (t) => {
  const regs = ['ax', 'bx', 'cx', 'dx', 'si', 'di', 'bp', 'sp', 'ip', 'flags', 'cs', 'ss', 'orig_ax', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
  for (const r of regs) t.same(fetchOf(`%${r}`), { kind: 'reg', reg: r });
  t.same(fetchOf('$stack'), { kind: 'stackp' });
  t.same(fetchOf('$stack3'), { kind: 'stack', index: 3 });
  t.same(fetchOf('$comm'), { kind: 'comm' });
  t.same(fetchOf('$COMM'), { kind: 'comm' });
  t.same(fetchOf('$arg2'), { kind: 'arg', index: 2 });
  t.same(one('r:g/e do_sys_open $retval').args[0]!.fetch, { kind: 'retval' });
  t.same(fetchOf('\\123'), { kind: 'imm', value: 123n });
  t.same(fetchOf('\\-1'), { kind: 'imm', value: 0xffffffffffffffffn });
  t.same(fetchOf('\\0x10'), { kind: 'imm', value: 16n });
  t.same(fetchOf('\\"hi"'), { kind: 'immstr', value: 'hi' });
  t.same(fetchOf('\\"a"b"'), { kind: 'immstr', value: 'a"b' });
  t.same(fetchOf('@0x1000'), { kind: 'memaddr', address: 0x1000n });
  t.same(fetchOf('@jiffies'), { kind: 'symbol', symbol: 'jiffies', offset: 0n });
  t.same(fetchOf('@jiffies-8'), { kind: 'symbol', symbol: 'jiffies', offset: -8n });
  t.same(fetchOf('@+0x2010', '/usr/bin/x:0x10'), { kind: 'fileoffs', offset: 0x2010n });
  t.same(fetchOf('+8(%di)'), { kind: 'deref', offset: 8n, user: false, inner: { kind: 'reg', reg: 'di' } });
  t.same(fetchOf('-0x10(+u4($stack))'), {
    kind: 'deref', offset: -16n, user: false, inner: { kind: 'deref', offset: 4n, user: true, inner: { kind: 'stackp' } },
  });
  t.same(fetchOf('+0(%di)junk'), { kind: 'deref', offset: 0n, user: false, inner: { kind: 'reg', reg: 'di' } }, 'text after ) is ignored, as by the kernel');
  // The kernel's leniencies: $retval is a prefix match, a dereference ends at its last ')'.
  t.same(one('r:g/e do_sys_open $retval)char').args[0]!.fetch, { kind: 'retval' });
  t.same(one('r:g/e do_sys_open +0($retval)x)').args[0]!.fetch, { kind: 'deref', offset: 0n, user: false, inner: { kind: 'retval' } });
  t.equal(one('r:g/e do_sys_open +0($retval)x)').args[0]!.source, '+0($retval)x)', 'the kernel keeps the text as written');
  t.same(fetchOf('+u+8(%di)'), { kind: 'deref', offset: 8n, user: true, inner: { kind: 'reg', reg: 'di' } });
  t.same(fetchOf('+-0x8(%di)'), { kind: 'deref', offset: -8n, user: false, inner: { kind: 'reg', reg: 'di' } });
  t.same(fetchOf('\\+5'), { kind: 'imm', value: 5n });
  t.same(fetchOf('@+-4', '/usr/bin/x:0x10'), { kind: 'fileoffs', offset: -4n });
  const deep = `${'+0('.repeat(14)}%di${')'.repeat(14)}`; // 14 is the kernel's limit
  let f = fetchOf(deep);
  let depth = 0;
  while (f.kind === 'deref') { depth++; f = f.inner; }
  t.equal(depth, 14);
});

t.test('types: defaults, bitfields, arrays, strings', async (t) => {
  const a = (body: string, place = 'do_sys_open') => one(`p:g/e ${place} ${body}`).args[0]!;
  t.same(a('%di').type, { base: 'x64', implicit: true });
  t.same(a('$comm').type, { base: 'string', implicit: true });
  t.same(a('\\"s"').type, { base: 'string', implicit: true });
  for (const ty of ['u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'x8', 'x16', 'x32', 'x64', 'char', 'symbol']) {
    t.same(a(`%di:${ty}`).type, { base: ty, implicit: false });
  }
  t.same(a('+0(%di):string').type, { base: 'string', implicit: false });
  t.same(a('+0(%di):ustring').type, { base: 'ustring', implicit: false });
  t.same(a('%di:symstr').type, { base: 'symstr', implicit: false });
  t.same(a('%di:b3@2/32').type, { base: 'u32', implicit: false, bitfield: { width: 3, offset: 2, container: 32 } });
  t.same(a('%di:b64@0/64').type, { base: 'u64', implicit: false, bitfield: { width: 64, offset: 0, container: 64 } });
  t.same(a('+0(%si):u8[4]').type, { base: 'u8', implicit: false, arrayLength: 4 });
  t.same(a('+0(%si):string[2]').type, { base: 'string', implicit: false, arrayLength: 2 });
  t.same(a('+0(%si):u16[64]').type.arrayLength, 64);
});

t.test('argument names and the kept body', async (t) => {
  const d = one('p:g/e do_sys_open %di x=+8(%si):u32 %dx');
  t.same(d.args.map((x) => [x.name, x.source]), [['arg1', '%di'], ['x', '+8(%si):u32'], ['arg3', '%dx']]);
  t.equal(one(`p:g/e do_sys_open ${'n'.repeat(32)}=%di`).args[0]!.name.length, 32);
  t.equal(one(`p:g/e do_sys_open ${Array.from({ length: 128 }, () => '%di').join(' ')}`).args.length, 128);
});

t.test('canonical readback, as the kernel prints it', async (t) => {
  const cases: [string, string][] = [
    ['p:uprobes/p_ceo_0x1149 /usr/bin/ceo-target:0x1149 %di', 'p:uprobes/p_ceo_0x1149 /usr/bin/ceo-target:0x0000000000001149 arg1=%di'],
    ['r /usr/bin/x:0x10(0x20) rv=$retval', 'r:uprobes/p_x_0x10 /usr/bin/x:0x0000000000000010(0x20) rv=$retval'],
    ['p /usr/bin/x:0x10(0)', 'p:uprobes/p_x_0x10 /usr/bin/x:0x0000000000000010'],
    ['p do_sys_open+0x10 a=%di:u32', 'p:kprobes/p_do_sys_open_16 do_sys_open+16 a=%di:u32'],
    ['r8:my/ev vfs_read', 'r8:my/ev vfs_read'],
    ['p do_sys_open%return', 'r:kprobes/r_do_sys_open_0 do_sys_open'],
    ['p:a/b 0x1000', 'p:a/b 0x0000000000001000'],
    ['-:a/b', '-:a/b'],
    ['-:b', '-:b'],
    ['-:a/', '-:a/'],
  ];
  for (const [line, want] of cases) {
    t.equal(formatProbeCommand(parseProbeCommands(line, { fileKind }).commands[0]!), want, line);
  }
});

t.test('an address place reads back unhashed, as the kernel prints it with no_hash_pointers', async (t) => {
  // The kernel's "0x%p" hashes the address with a per-boot secret (0x00000000XXXXXXXX): not reproducible;
  // the guest's kprobe differential checks the kernel's hashed shape and compares the rest.
  t.equal(formatProbeCommand(one('p 0xffffffff81000000 %di')), 'p:kprobes/p_0xffffffff81000000 0xffffffff81000000 arg1=%di');
  t.equal(formatProbeCommand(one('r 0x1000')), 'r:kprobes/r_0x0000000000001000 0x0000000000001000');
});

t.test('removals, with and without matching words', async (t) => {
  const { commands } = parseProbeCommands('p:g/e /usr/bin/x:0x10\n-:g/e /usr/bin/x:0x10', { fileKind });
  t.match(commands[1], { op: 'remove', tracer: 'uprobe', group: 'g', event: 'e', args: ['/usr/bin/x:0x10'] });
  t.match(parseProbeCommands('-:ev', { fileKind }).commands[0], { op: 'remove', tracer: 'kprobe', event: 'ev' });
  t.notOk('group' in parseProbeCommands('-:ev', { fileKind }).commands[0]!);
});

t.test('many lines, comments and blank lines', async (t) => {
  const text = '# header\n\np:a/x do_sys_open %di # why\n   \n\tr:a/y\tdo_sys_open\t$retval\n#p:a/z nope\n';
  const { commands } = parseProbeCommands(text, { fileKind });
  t.same(commands.map((c) => (c.op === 'define' ? c.event : '')), ['x', 'y']);
  t.equal(commands[0]!.source, 'p:a/x do_sys_open %di');
  t.same(parseProbeCommands('', { fileKind }).commands, []);
});

t.test('the 2009 syntax behind --legacy, translated to the modern AST', async (t) => {
  const d = one('r:myretprobe do_sys_open rv ra', true);
  t.same(d.args.map((a) => [a.name, a.source, a.fetch.kind]), [['rv', '$retval', 'retval'], ['ra', '%ip', 'reg']]);
  const p = one('p:myprobe do_sys_open a0 a1 s2 +4(a2) %ax', true);
  t.same(p.args.map((a) => a.fetch), [
    { kind: 'arg', index: 1 }, { kind: 'arg', index: 2 }, { kind: 'stack', index: 2 },
    { kind: 'deref', offset: 4n, user: false, inner: { kind: 'arg', index: 3 } }, { kind: 'reg', reg: 'ax' },
  ]);
  t.same(p.args.map((a) => a.name), ['a0', 'a1', 's2', 'arg4', 'arg5']);
  t.match(one('p do_sys_open a0', true), { event: 'p_do_sys_open_0' }, 'unnamed events get the modern generated name');
  t.throws(() => one('p:x do_sys_open a0'), { constructor: ProbeSyntaxError, message: 'BTF is not available or not supported' },
    'without --legacy, a0 is a BTF name the kernel cannot resolve');
  t.throws(() => one('p:x do_sys_open rv', true), { constructor: ProbeSyntaxError, message: '$retval is not available on probe' },
    'rv is only for return probes, as in 2009');
});
