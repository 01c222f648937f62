// Random filters over the test event of the filter codegen tests (every
// field kind), for the interpreter differential and the verifier check.
export const FILTER_TEST_LINE = 'p:t/e /bin/true:0x1000 a=%di:s64 b=%si:s32 c=%dx:u8 d=%cx:u16 e=%r8:x64 f=%r9:s8 u=%ax:u32 h=%bx:s16 '
  + 'g=+0(%di):char[4] s=+0(%si):string cm=$comm arr=+8(%di):u8[2]';

/** A deterministic generator (xorshift), so a failure names a seed that reproduces it. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 0x1_0000_0000; };
}
export type Rand = () => number;
export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

export const WORDS = ['', 'a', 'al', 'alpha', 'alphabet', 'beta', 'ta', 'zeta', 'phtaph', 'ph', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'bash', 'kpb-worker', 'sshd'];
const PATTERNS = ['alpha', 'al*', '*ta', '*ph*', '!*ph*', '!al*', '*', 'a', '', 'bash', '*sh', 'zeta', 'x*', '*xxxxxxxxxxxxxxxxxxxxxxx*', '1abc', 'al?ha', 'a*a',
  '[ab]*', '*[!x]', '?', '??', 'a?*', '*a*a*', 'b[a-e]t?', '[]]x', 'a[', '*ta*a', '[a-]*', '*p?a*', '?h*a?h', 'k*-*r', '*[s-t]*h*', 'al\\p*', 'x*\\'];
const NUMBERS = ['0', '1', '-1', '2', '-2', '3', '100', '-100', '127', '128', '255', '256', '0x7f', '0xff', '0xffff', '65535', '0x80000000', '2147483647',
  '-2147483648', '4294967295', '0x100000000', '-9223372036854775808', '0xffffffffffffffff', '9223372036854775807', '010', '0x8000000000000000'];
const INT_FIELDS = ['a', 'b', 'c', 'd', 'e', 'f', 'u', 'h', 'arr', 'common_pid', 'common_type', 'common_flags', 'cpu', '__probe_ip'];
const STR_FIELDS = ['g', 's', 'cm', 'comm', 'COMM'];
const INT_OPS = ['==', '!=', '<', '<=', '>', '>=', '&'];

function predicate(r: Rand): string {
  if (r() < 0.4) return `${pick(r, STR_FIELDS)} ${pick(r, ['==', '!=', '~'])} "${pick(r, r() < 0.7 ? PATTERNS : WORDS)}"`;
  return `${pick(r, INT_FIELDS)} ${pick(r, INT_OPS)} ${pick(r, NUMBERS)}`;
}

export function expression(r: Rand, depth: number): string {
  if (depth === 0 || r() < 0.35) return r() < 0.15 ? `!(${predicate(r)})` : predicate(r);
  const a = expression(r, depth - 1), b = expression(r, depth - 1);
  const e = `${a} ${pick(r, ['&&', '||'])} ${b}`;
  return r() < 0.3 ? `(${e})` : r() < 0.1 ? `!(${e})` : e;
}

