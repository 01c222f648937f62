// A corpus of uprobe_events lines, valid and invalid, over a binary the test
// builds. Lines only; what each line should do is asked of the live kernel.

export interface CorpusTarget {
  /** Absolute path of the built binary (basename without '.', '-', '_'). */
  readonly binary: string;
  /** A directory, a missing path and a symlink to the binary. */
  readonly directory: string;
  readonly missing: string;
  readonly symlink: string;
  /** The binary through a directory whose name holds ':' and a digit, and relative to the cwd. */
  readonly colonPath: string;
  readonly relative: string;
  /** File offsets of functions in the binary. */
  readonly offsets: readonly bigint[];
  /** A unique group for named events. */
  readonly group: string;
}

const REGS = ['ax', 'bx', 'cx', 'dx', 'si', 'di', 'bp', 'sp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'ip', 'flags', 'cs', 'ss', 'orig_ax'];
const BAD_REGS = ['rax', 'eax', 'DI', 'r16', 'xmm0', 'ds', 'fs', 'gs', 'es', 'pc', ''];
const TYPES = ['u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'x8', 'x16', 'x32', 'x64', 'char', 'string', 'ustring', 'symbol', 'symstr', 'u128', 'int', 'U8', 'x', ''];

/** One line per entry; `{E}` is replaced by a unique event name, `{B}` by the binary, `{O}` by an offset. */
function templates(t: CorpusTarget): string[] {
  const o = `0x${t.offsets[0]!.toString(16)}`;
  const lines: string[] = [];
  const P = (args: string) => `p:{E} {B}:${o}${args ? ` ${args}` : ''}`;
  const R = (args: string) => `r:{E} {B}:${o}${args ? ` ${args}` : ''}`;

  // Heads, names and groups.
  lines.push(
    `p {B}:${o}`, `r {B}:${o}`, `p {B}:${o} %di`, `pxyz {B}:${o}`, `r5 {B}:${o}`, `r5:${t.group}/m5 {B}:${o}`,
    `p:${t.group}/ {B}:${o}`, `p: {B}:${o}`, `p:/ev {B}:${o}`, `p:${t.group}.dot {B}:${o}`, `p:${t.group}/a.b {B}:${o}`,
    `p:${t.group}-x/ev {B}:${o}`, `p:_${t.group}/ev {B}:${o}`, `p:1${t.group}/ev {B}:${o}`, `p:${t.group}/1ev {B}:${o}`,
    `p:${t.group}/e-v {B}:${o}`, `p:${t.group}/e.f/g {B}:${o}`, `p:${t.group}/_e {B}:${o}`, `p:${t.group}/E9 {B}:${o}`,
    `p:${t.group}/${'e'.repeat(63)} {B}:${o}`, `p:${t.group}/${'e'.repeat(64)} {B}:${o}`,
    `p:${'g'.repeat(63)}/ev${t.group.slice(3)} {B}:${o}`, `p:${'g'.repeat(64)}/ev {B}:${o}`,
    `p:${t.group}/e:v {B}:${o}`, `p:${t.group}/e$ {B}:${o}`, `p:${t.group}//e {B}:${o}`, `x:{E} {B}:${o}`, `p:{E}`, `p`,
    `P:{E} {B}:${o}`, `p:${t.group}/ev\t{B}:${o}\t\t%di  %si`, `   p:{E}    {B}:${o}   `,
  );
  // Places: offsets, suffixes, reference counters, files.
  for (const off of [o, `${t.offsets[1]}`, `0${t.offsets[1]!.toString(8)}`, '0', '0x0', '0x', '0xg', '12a', '1-2', '0x10000000000000000', '4294967296', '+16']) {
    lines.push(`p:{E} {B}:${off}`);
  }
  lines.push(
    `p:{E} {B}:${o}%return`, `r:{E} {B}:${o}%return`, `p:{E} {B}:${o}%retrun`, `p:{E} {B}:${o}%`, `p:{E} {B}:${o}%return%return`,
    `p:{E} {B}:${o}(0x10)`, `p:{E} {B}:${o}(16)`, `p:{E} {B}:${o}(0)`, `p:{E} {B}:${o}(0x10`, `p:{E} {B}:${o}(0x10)x`,
    `p:{E} {B}:${o}(zz)`, `p:{E} {B}:${o}()`, `p:{E} {B}:${o}%return(0x20)`, `p:{E} {B}:${o}(0x20)%return`,
    `p:{E} {B}:main`, `p:{E} {B}:${o}:1`, `p:{E} {B}`, `p:{E} {B}:`, `p:{E} ${t.missing}:${o}`, `p:{E} ${t.directory}:${o}`,
    `p:{E} ${t.symlink}:${o}`, `p:{E} ${t.colonPath}:${o}`, `p:{E} ${t.colonPath}`, `p:{E} ${t.relative}:${o}`, `p:{E} nodir:${o}`, `p:{E} /:${o}`, `p:{E} ${t.binary}/:${o}`,
  );
  // Registers.
  for (const r of REGS) lines.push(P(`%${r}`), P(`v=%${r}:u32`));
  for (const r of BAD_REGS) lines.push(P(`%${r}`));
  // Variables.
  for (const v of ['$stack', '$stack0', '$stack1', '$stack17', '$stack99999', '$stack18446744073709551616', '$stackx', '$stack-1', '$stack01',
    '$retval', '$retvalx', '$comm', '$COMM', '$Comm', '$commx', '$arg1', '$arg0', '$argx', '$arg*', '$', '$foo', '$$', 'v=$arg1', 'v=$stack2:s8']) {
    lines.push(P(v), R(v));
  }
  // Memory, file offsets, symbols, immediates.
  for (const a of ['@0x1000', '@4096', '@0', '@0xzz', '@1x', '@+0x10', '@+16', '@+-4', '@+0', '@+zz', '@+', '@main', '@main+4', '@',
    '\\123', '\\-5', '\\+5', '\\0x10', '\\0xffffffffffffffff', '\\-9223372036854775808', '\\abc', '\\', '\\"abc"', '\\"abc', '\\"', '\\""', '\\"a"b"',
    '123', 'foo', '_foo', 'foo.bar', '#', '=', '.x', '*x', '(%di)', ')']) {
    lines.push(P(`v=${a}`), P(a));
  }
  // Dereferences.
  for (const d of ['+0(%di)', '-8(%si)', '+0x10(%sp)', '+u0(%di)', '-u8(%di)', '+u+8(%di)', '+-8(%di)', '+0(+8(%di))', '+0(+u8(%di))', '+0(@0x1000)',
    '+0(@+0x10)', '+0($stack)', '+0($stack3)', '+0($retval)', '+0($comm)', '+0(\\"x")', '+0(\\1)', '+0(%di', '+0(+8(%di)', '+0%di', '+zz(%di)',
    '+(%di)', '+0()', '+0(%zz)', '+0(%di)junk', '+0(+8(%di)q)r', '+0(%di))', 'u0(%di)', '+0x(%di)', '-0x8(%di)', '+08(%di)', '+9(%di)']) {
    lines.push(P(`v=${d}`), P(d));
  }
  let deep = '%di';
  for (let n = 1; n <= 15; n++) {
    deep = `+${n % 2}(${deep})`;
    if (n >= 10) lines.push(P(`v=${deep}`), P(`v=${deep}:string`));
  }
  deep = '@0x10';
  for (let n = 1; n <= 14; n++) {
    deep = `+0(${deep})`;
    if (n >= 11) lines.push(P(deep), P(`${deep}:b1@0/8`));
  }
  lines.push(P('+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(%di))))))))))))):u8[2]'), P('+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(+0(%di))))))))))))):b1@1/8'));
  // Types on several fetch kinds.
  for (const ty of TYPES) {
    for (const f of ['%di', '+0(%di)', '+u0(%di)', '$comm', '\\"s"', '\\7', '@0x1000', '$stack0']) lines.push(P(`${f}:${ty}`));
  }
  // Bitfields.
  for (const bf of ['b1@0/8', 'b8@0/8', 'b9@0/8', 'b4@4/8', 'b4@5/8', 'b4@0/7', 'b4/8', 'b4@x/8', 'bz@1/8', 'b0@0/8', 'b4@1/64', 'b64@0/64',
    'b65@0/64', 'b4@28/32', 'b4@29/32', 'b16@0/16', 'b0x4@0x2/0x20', 'b4@2/32x', 'b4@2', 'b@2/32', 'b4@/32', 'b4@2/', 'b4@2/8[2]', 'b', 'bogus']) {
    lines.push(P(`v=%di:${bf}`), P(`v=+0(%di):${bf}`));
  }
  // Arrays.
  for (const ar of ['u8[1]', 'u8[2]', 'u8[64]', 'u8[65]', 'u8[0]', 'u8[]', 'u8[2', 'u8[2]x', 'u8[zz]', 'u8[0x10]', 'u8[-1]', 'string[2]', 'ustring[3]',
    'char[4]', 'x16[2]', 's64[3]', 'u8[2][3]', 'symbol[2]', 'b4@0/8[2]', '[2]', 'u8[4294967297]']) {
    lines.push(P(`v=+0(%di):${ar}`), P(`v=%di:${ar}`), P(`v=+u0(%di):${ar}`));
  }
  // Names.
  lines.push(
    P('x=%di y=%si'), P('x=%di x=%si'), P('%di arg1=%si'), P('arg2=%si %di'), P('common_pid=%di'), P('__probe_ip=%di'), P('__probe_func=%di'),
    P('common_tgid=%di'), P('=%di'), P('x='), P('1x=%di'), P('x-y=%di'), P('x.y=%di'), P(`${'n'.repeat(32)}=%di`), P(`${'n'.repeat(33)}=%di`),
    P(`${'n'.repeat(33)}=`), P('x=y=%di'), P('x=common_pid=%di'), P('_=%di'), P('x==%di'),
    P(`v=+0(%di):${'u'.repeat(1)}`), P(`v=${'+0('.repeat(1)}%di)${' '.repeat(0)}`),
    P(`v=\\"${'s'.repeat(60)}"`), P(`\\"${'s'.repeat(60)}"`), P(`\\"${'s'.repeat(59)}"`), P(`v=@0x${'1'.repeat(58)}`),
    P(`${'a'.repeat(32)}=+0(%di):u${'8'.repeat(1)}`), P(`n=${'+0('.repeat(10)}%di${')'.repeat(10)}:x32`),
  );
  // Argument counts.
  lines.push(P(Array.from({ length: 128 }, () => '%di').join(' ')), P(Array.from({ length: 129 }, () => '%di').join(' ')),
    P(Array.from({ length: 129 }, () => '%zz').join(' ')), `p:{E} ${t.missing}:${o} ${Array.from({ length: 129 }, () => '%di').join(' ')}`);
  // Comments and blanks.
  lines.push(`${P('%di')} # a comment`, `${P('%di')}#comment`, '# only a comment', '', '   ', P('x=%di#y=%si'), `#${P('%di')}`, P('\\"a#b"'));
  // Mixed valid lines using every form together.
  lines.push(
    P('a=%di:s32 s=+0(%si):string u=+0(%si):ustring c=%dx:u8 b=%di:b3@2/32 arr=+0(%si):u8[4] cm=$comm im=\\1234 is=\\"abc"'),
    R('rv=$retval a=%ax:x16 rs=+0($retval):string st=$stack0 sp=$stack'),
    P('f=@+0x2010:u32 m=@0x601040:x64 k=+8(+0(%di)):s16 uu=+u8(%si):u16 sa=+0(%si):string[2]'),
    `p:{E} {B}:${o}(0x40) %di %si`, `r:{E} {B}:${o}(0x40) $retval`,
  );
  return lines;
}

/** The corpus with names filled in: `{E}` becomes `<group>/e<N>`. */
export function buildCorpus(t: CorpusTarget): string[] {
  return templates(t).map((line, i) => line.replaceAll('{E}', `${t.group}/e${i}`).replaceAll('{B}', t.binary));
}

/** xorshift32: a fixed seed gives the same lines on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

const ATOMS = ['%di', '%si', '%ax', '%r9', '%ip', '$stack', '$stack2', '$retval', '$comm', '$arg1', '@0x1000', '@+0x10', '@sym', '\\12', '\\-3', '\\"s"'];
const WRAPS = ['+0(X)', '-8(X)', '+u4(X)', '+0x10(X)', '-u0(X)'];
const SUFFIXES = ['', '', ':u8', ':s16', ':x32', ':u64', ':string', ':ustring', ':char', ':b2@1/8', ':b4@4/32', ':u8[3]', ':string[2]', ':symbol', ':s8[64]'];
const NOISE = '+-u()%$@\\":[]/bx0123456789azAZ_.=';

/**
 * Mutated argument lists: well-formed arguments built from the pieces above,
 * then one in three gets a character inserted, deleted or replaced. The
 * kernel decides what each means.
 */
export function buildFuzzCorpus(t: CorpusTarget, count: number, seed = 0x6b626731): string[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const o = `0x${t.offsets[0]!.toString(16)}`;
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const nargs = 1 + Math.floor(r() * 3);
    const args: string[] = [];
    for (let a = 0; a < nargs; a++) {
      let body = pick(ATOMS);
      const depth = Math.floor(r() * 3);
      for (let d = 0; d < depth; d++) body = pick(WRAPS).replace('X', body);
      body += pick(SUFFIXES);
      if (r() < 0.33) {
        const at = Math.floor(r() * (body.length + 1));
        const op = Math.floor(r() * 3);
        const c = pick([...NOISE]);
        body = op === 0 ? body.slice(0, at) + c + body.slice(at) : op === 1 ? body.slice(0, at) + body.slice(at + 1) : body.slice(0, at) + c + body.slice(at + 1);
      }
      args.push(r() < 0.5 ? `a${a}=${body}` : body);
    }
    let head = `${r() < 0.2 ? 'r' : 'p'}:${t.group}/f${i} ${t.binary}:${o}${r() < 0.1 ? '%return' : ''}${r() < 0.1 ? '(0x8)' : ''}`;
    if (r() < 0.2) {
      // Mutate the head or the place, never the command letter (a '-' there would remove, not define).
      const at = 1 + Math.floor(r() * head.length);
      const c = pick([...`${NOISE}%r`]);
      const op = Math.floor(r() * 3);
      head = op === 0 ? head.slice(0, at) + c + head.slice(at) : op === 1 ? head.slice(0, at) + head.slice(at + 1) : head.slice(0, at) + c + head.slice(at + 1);
    }
    lines.push(`${head} ${args.join(' ')}`);
  }
  return lines;
}
