// Pieces of the printer that need no kernel: exact 64-bit number formatting
// (judged by BigInt), the flags column table, kernel symbol formatting
// (judged by the kernel's own available_filter_functions_addrs where it can
// be read), kprobe-form lines, and the profile table's columns.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { OutBuffer, TracePrinter, latFmt } from '../../runtime/printer/index.js';
import { Kallsyms } from '../../runtime/kallsyms.js';
import { renderProfile, renderUprobeProfile } from '../../runtime/profile.js';
import type { EventFormat, FieldFormat } from '../../compiler/format.js';
import { RECORD_PREFIX_SIZE, PREFIX_COMM, PREFIX_CPU, PREFIX_TGID, PREFIX_TS } from '../../compiler/format.js';

function text(fn: (o: OutBuffer) => void): string {
  let s = '';
  const o = new OutBuffer((b) => (s += b.toString('latin1')), 16);
  fn(o);
  o.flush();
  return s;
}

t.test('64-bit decimal and hex formatting is exact (judged by BigInt)', async (t) => {
  const samples: bigint[] = [0n, 1n, 9n, 10n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n, 0xfffffffbn];
  let seed = 12345n;
  for (let i = 0; i < 500; i++) {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    samples.push(seed >> BigInt(i % 64));
  }
  let bad = 0;
  for (const v of samples) {
    const lo = Number(v & 0xffffffffn);
    const hi = Number(v >> 32n);
    const signed = BigInt.asIntN(64, v);
    const got = text((o) => {
      o.u64dec(lo, hi);
      o.byte(32);
      o.s64dec(lo, hi);
      o.byte(32);
      o.hex64(lo, hi);
      o.byte(32);
      o.hex64(lo, hi, 16);
    });
    const want = `${v} ${signed} ${v.toString(16)} ${v.toString(16).padStart(16, '0')}`;
    if (got !== want) {
      bad++;
      t.equal(got, want);
    }
  }
  t.equal(bad, 0, `${samples.length} values formatted exactly`);
  t.equal(text((o) => o.udec(7, 3, 0x30)), '007', '%03d');
  t.equal(text((o) => o.decLeft(42, 7)), '42     ', '%-7d');
  t.equal(text((o) => o.udec(3, 5)), '    3', '%5lu');
});

t.test('flags column follows trace_print_lat_fmt', async (t) => {
  const cases: [number, number, string][] = [
    [0x00, 0x00, '.....'],
    [0x01, 0x00, 'd....'],
    [0x80, 0x00, 'b....'],
    [0x81, 0x00, 'D....'],
    [0x04, 0x00, '.n...'],
    [0x24, 0x00, '.N...'],
    [0x20, 0x00, '.p...'],
    [0x02, 0x00, '.l...'],
    [0x08, 0x00, '..h..'],
    [0x10, 0x00, '..s..'],
    [0x18, 0x00, '..H..'],
    [0x40, 0x00, '..z..'],
    [0x48, 0x00, '..Z..'],
    [0x00, 0x01, '...1.'],
    [0x00, 0x21, '...12'],
    [0x00, 0xff, '...ff'],
  ];
  for (const [f, pc, want] of cases) t.equal(latFmt(f, pc), want, `flags 0x${f.toString(16)} pc 0x${pc.toString(16)}`);
});

const SYMS = 'ffffffff81000000 T _stext\nffffffff81000000 T _text\nffffffff81000010 T foo\nffffffff81000040 t bar\t[mymod]\nffffffff81000100 T end\n';

t.test('kernel symbols print as %pS and trace_seq_print_sym do', async (t) => {
  const k = Kallsyms.load(SYMS);
  const fmt = (addr: bigint, mode: 'pS' | 'offset' | 'name') => k.format(Number(addr & 0xffffffffn), Number(addr >> 32n), mode).toString();
  t.equal(fmt(0xffffffff81000014n, 'offset'), 'foo+0x4/0x30');
  t.equal(fmt(0xffffffff81000010n, 'pS'), 'foo+0x0/0x30', 'offset 0 prints +0x0');
  t.equal(fmt(0xffffffff81000010n, 'name'), 'foo');
  t.equal(fmt(0xffffffff81000000n, 'name'), '_stext', 'aliases: the first one');
  t.equal(fmt(0xffffffff81000044n, 'pS'), 'bar+0x4/0xc0 [mymod]', 'module symbols name their module');
  t.equal(fmt(0x1000n, 'pS'), '0x1000', 'unknown address: %pS prints 0x%lx');
  t.equal(fmt(0x1000n, 'offset'), '0x00001000', 'unknown address: trace_seq_print_sym prints 0x%08lx');
});

// Where this file cannot be read (older than 6.5, as the 6.1 guest; EPERM on
// this host), test/guest/kallsyms-symbol.test.ts judges the same lookup by
// the kernel's own %pS in the guest.
const addrsFile = '/sys/kernel/tracing/available_filter_functions_addrs';
function readAddrs(): { text?: string; why?: string } {
  if (!existsSync(addrsFile)) return { why: `no ${addrsFile} (kernel older than 6.5 or no ftrace)` };
  try {
    return { text: readFileSync(addrsFile, 'utf8') };
  } catch (e) {
    return { why: `cannot read ${addrsFile}: ${(e as Error).message}` };
  }
}
const addrs = readAddrs();
t.test('symbol lookup agrees with the kernel function list', { skip: addrs.why }, async (t) => {
  const k = Kallsyms.load();
  const rows = (addrs.text ?? '').split('\n').filter((l) => l && !l.includes('[')).slice(0, 4000);
  let bad = 0;
  let aliased = 0;
  for (const row of rows) {
    const [addrHex, name] = row.split(' ');
    const a = BigInt('0x' + addrHex);
    const sym = k.lookup(Number(a & 0xffffffffn), Number(a >> 32n));
    if (!sym || sym.offset !== 0) bad++;
    else if (sym.name !== name) aliased++; // another name at the same address
  }
  t.equal(bad, 0, `${rows.length} kernel functions found at offset 0`);
  t.ok(aliased < rows.length / 20, `names match (${aliased} aliases)`);
});

const common: FieldFormat[] = [
  { ctype: 'unsigned short', name: 'common_type', offset: 0, size: 2, signed: false },
  { ctype: 'unsigned char', name: 'common_flags', offset: 2, size: 1, signed: false },
  { ctype: 'unsigned char', name: 'common_preempt_count', offset: 3, size: 1, signed: false },
  { ctype: 'int', name: 'common_pid', offset: 4, size: 4, signed: true },
];

function kprobeFormat(isReturn: boolean): EventFormat {
  const probeFields: FieldFormat[] = isReturn
    ? [
        { ctype: 'unsigned long', name: '__probe_func', offset: 8, size: 8, signed: false },
        { ctype: 'unsigned long', name: '__probe_ret_ip', offset: 16, size: 8, signed: false },
      ]
    : [{ ctype: 'unsigned long', name: '__probe_ip', offset: 8, size: 8, signed: false }];
  const at = isReturn ? 24 : 16;
  return {
    group: 'kprobes',
    event: isReturn ? 'r_foo_0' : 'p_foo_0',
    tracer: 'kprobe',
    isReturn,
    commonFields: common,
    probeFields,
    argFields: [
      { ctype: 'u64', name: 'sym', offset: at, size: 8, signed: false, print: 'symbol', printFragment: 'sym=%pS' },
    ],
    entrySize: at + 8,
    printFmt: '',
  };
}

t.test('kprobe lines: (SYM+off/size), (RET <- FUNC), %pS args, from our record prefix', async (t) => {
  let s = '';
  const p = new TracePrinter({ sink: (b) => (s += b.toString('latin1')), kallsyms: Kallsyms.load(SYMS) });
  p.register(kprobeFormat(false), 7);
  p.register(kprobeFormat(true), 8);
  const record = (type: number, words: bigint[]): Buffer => {
    const b = Buffer.alloc(RECORD_PREFIX_SIZE + 8 + words.length * 8);
    b.writeBigUInt64LE(1234567890123n, PREFIX_TS);
    b.writeUInt32LE(1, PREFIX_CPU);
    b.write('cat', PREFIX_COMM, 'latin1');
    const e = RECORD_PREFIX_SIZE;
    b.writeUInt16LE(type, e);
    b.writeInt32LE(4321, e + 4);
    words.forEach((w, i) => b.writeBigUInt64LE(w, e + 8 + i * 8));
    return b;
  };
  const r1 = record(7, [0xffffffff81000010n, 0xffffffff81000044n]);
  const r2 = record(8, [0xffffffff81000010n, 0xffffffff81000050n, 0x1000n]);
  t.ok(p.printRecord(r1, 0, r1.length));
  t.ok(p.printRecord(r2, 0, r2.length));
  t.notOk(p.printRecord(record(9, []), 0, RECORD_PREFIX_SIZE + 8), 'unknown common_type is not printed');
  p.flush();
  t.equal(
    s,
    '             cat-4321    [001] .....  1234.567890: p_foo_0: (foo+0x0/0x30) sym=bar+0x4/0xc0 [mymod]\n' +
      '             cat-4321    [001] .....  1234.567890: r_foo_0: (bar+0x10/0xc0 [mymod] <- foo) sym=0x1000\n',
  );
  t.equal(p.unknown, 1);
  t.same(p.events().map((e) => e.hits), [1, 1], 'hits per event');

  // -p PID: records of other processes are dropped (kprobe BPF runs for every task).
  const q = new TracePrinter({ sink: () => undefined, kallsyms: Kallsyms.load(SYMS), tgid: 77 });
  q.register(kprobeFormat(false), 7);
  const mine = record(7, [0xffffffff81000010n, 0n]);
  mine.writeUInt32LE(77, PREFIX_TGID);
  t.ok(q.printRecord(mine, 0, mine.length), 'tgid 77 printed');
  t.notOk(q.printRecord(r1, 0, r1.length), 'another tgid is not');
  t.equal(q.filtered, 1);
});

// Expected lines are literal text: what the kernel's probes_profile_seq_show
// prints, "  %-44s %15lu %15lu\n" (kprobe_profile: event, hits, misses) and
// "  %s %-44s %15lu\n" (uprobe_profile: file, event, hits), written out here
// through printf(1) once. %-44s pads but never cuts a long name, %15lu never
// cuts a long number.
t.test('profile tables have the kernel columns', async (t) => {
  const rows = [{ event: 'p_foo_0', hits: 12, misses: 1, file: '/bin/x' }];
  t.equal(renderProfile(rows), '  p_foo_0                                                   12               1\n', 'kprobe_profile row');
  t.equal(renderUprobeProfile(rows), '  /bin/x p_foo_0                                                   12\n', 'uprobe_profile row');
  const long = [{ event: 'an_event_name_longer_than_forty_four_characters_x', hits: 1234567890123456, misses: 0 }];
  t.equal(renderProfile(long), '  an_event_name_longer_than_forty_four_characters_x 1234567890123456               0\n', 'a long name and a long count are not cut');
  t.match(renderProfile(rows, new Map([[1, 5]])), /# CPU 1: 5 samples lost/);
});
