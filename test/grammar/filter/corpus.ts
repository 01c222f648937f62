// Generated filter expressions for the kernel differential: valid ones built
// from the event's fields (every operator, value form, whitespace and
// nesting), and broken ones made from them by small edits. A fixed seed
// makes the corpus the same on every run.

import { prng as rng } from '../../lib/prng.js';
export interface CorpusEvent {
  readonly name: string;
  /** Field names of the event, with whether each is a string field. */
  readonly fields: ReadonlyArray<{ readonly name: string; readonly string: boolean }>;
  /** The generic and common fields to use (default: all, and unknown names). */
  readonly generic?: readonly string[];
}

export { prng as rng } from '../../lib/prng.js';

const NUMBERS = ['0', '1', '-1', '42', '0x10', '0X1f', '010', '08', '0x', '-0x8000000000000000', '-9223372036854775808', '-9223372036854775809',
  '18446744073709551615', '18446744073709551616', '4294967296', '255', '256', '-129', '127', '12abc', '1e3', '123456789012345678901234',
  '0b101', '-', '-x', '00', '0777', '65535', '65536', '-32769', '2147483648', '-2147483649', '0xffffffffffffffff'];
const PATTERNS = ['bash', '*sh', 'ba*', '*as*', 'b?sh', 'b[a-c]sh', '[!a]*', '!bash', '!*sh', '!ba*', '1*', '', '*', '**', 'a*b', '\\*', 'x'.repeat(256),
  'y'.repeat(255), 'with space', '(', '&&', ')', '||', "it's", '!', '9lives', 'kbft'];
/** Values every numeric field takes (no sign, in range of the smallest field or truncated). */
const CLEAN_NUMBERS = ['0', '1', '42', '0x10', '0X1f', '010', '255', '256', '65536', '4294967296', '18446744073709551615', '0xffffffffffffffff', '00', '0777'];
const CLEAN_PATTERNS = ['bash', '*sh', 'ba*', '*as*', 'b?sh', 'b[a-c]sh', '[!a]*', '!bash', '!*sh', '1*', '', '*', '**', 'a*b', '\\*', 'with space', '(', '&&', ')', '||', 'kbft'];
const CLEAN_CPUS = ['CPUS{0}', 'CPUS{1}', 'CPUS{0-1}', 'CPUS{N}', 'CPUS{all}', 'CPUS{0,1}', 'CPUS{ 0 }', 'CPUS{0-1:1/2}', 'CPUS{,}'];
const CPUS = ['CPUS{0}', 'CPUS{1}', 'CPUS{0-1}', 'CPUS{}', 'CPUS{2}', 'CPUS{N}', 'CPUS{all}', 'CPUS{0,1}', 'CPUS 1', 'CPUS{1', 'CPUS{0-1:1/2}',
  'CPUS{ 0 }', 'CPUSX', 'CPUS{1-0}', 'CPUS{,}', 'CPUS{0:1/2}', 'CPUS{4294967296}'];
const OPS = ['==', '!=', '<', '<=', '>', '>=', '&', '~'];
const BAD_OPS = ['=', '=<', '!~', '<>', '', '=~', '=>', '!'];
const SPACES = ['', ' ', ' ', ' ', '  ', '\t', ' \t '];
const GENERIC = ['common_pid', 'common_type', 'common_flags', 'common_preempt_count', 'cpu', 'CPU', 'common_cpu', 'comm', 'COMM',
  'stacktrace', 'STACKTRACE', '__probe_ip', 'nosuch', 'common_tgid', 'Cpu', '1abc', 'a_b'];
const CLEAN_GENERIC = ['common_pid', 'common_type', 'common_flags', 'common_preempt_count', 'cpu', 'CPU', 'common_cpu', 'comm', 'COMM'];
const STRING_GENERIC = new Set(['comm', 'COMM']);
const SUFFIXES = ['.ustring', '.function', '.hex', '.ustringx', '.ustring.function', '.'];
const EDIT_CHARS = ' ()!&|"\'=<>~{}x0-*\t';

export class FilterGenerator {
  private readonly r: () => number;
  /** Only choices the kernel accepts (for the expressions that are not edited afterwards). */
  clean = false;
  constructor(seed: number, private readonly symbols: readonly string[]) { this.r = rng(seed); }

  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.r() * xs.length)]!; }
  chance(p: number): boolean { return this.r() < p; }
  private sp(): string { return this.pick(SPACES); }

  /** A predicate the kernel accepts on any event that has the field (when `clean`). */
  private cleanValue(string: boolean, op: string): string {
    if (string) {
      const q = this.chance(0.5) ? '"' : "'";
      return `${q}${this.pick(CLEAN_PATTERNS)}${q}`;
    }
    return op === '==' || op === '!=' || op === '&' ? this.pick([...CLEAN_NUMBERS, ...CLEAN_CPUS]) : this.pick(CLEAN_NUMBERS);
  }

  private value(string: boolean, op: string, fn: boolean): string {
    if (this.clean) return this.cleanValue(string, op);
    if (fn) return this.pick(this.symbols);
    if (this.chance(0.08)) return this.pick(CPUS);
    if (this.chance(0.08)) return this.pick(['bash', 'abc', 'x', '(1)', '"x" "y"', '0x1"', "'"]);
    const str = this.chance(0.15) ? !string : string;
    if (!str) return this.pick(NUMBERS);
    const q = this.chance(0.5) ? '"' : "'";
    const text = this.pick(PATTERNS);
    return op === '~' || this.chance(0.5) ? `${q}${text}${q}` : `${q}${text.replace(/\*/g, '')}${q}`;
  }

  /** One predicate on a field of `ev`. */
  predicate(ev: CorpusEvent): string {
    const useGeneric = this.chance(0.3);
    const f = useGeneric ? { name: this.pick(ev.generic ?? (this.clean ? CLEAN_GENERIC : GENERIC)), string: false } : this.pick(ev.fields);
    const isString = useGeneric ? STRING_GENERIC.has(f.name) : f.string;
    const suffix = !this.clean && this.chance(0.08) ? this.pick(SUFFIXES) : '';
    const ops = isString ? ['==', '!=', '~', '~', '==', ...(this.clean ? [] : ['<'])] : f.name.toLowerCase().endsWith('cpu') && this.clean ? OPS.slice(0, 6) : OPS.slice(0, 7);
    const op = !this.clean && this.chance(0.05) ? this.pick(BAD_OPS) : this.pick(this.clean ? ops : OPS);
    const fn = suffix.includes('function') && this.chance(0.8);
    return `${f.name}${suffix}${this.sp()}${op}${this.sp()}${this.value(isString, op, fn)}`;
  }

  /** An expression of predicates joined by && and ||, with ! and parentheses. */
  expression(ev: CorpusEvent, depth: number): string {
    if (depth === 0 || this.chance(0.35)) return this.predicate(ev);
    const roll = this.r();
    if (roll < 0.15) return `(${this.sp()}${this.expression(ev, depth - 1)}${this.sp()})`;
    if (roll < 0.3) return `!${this.chance(0.3) ? '!' : ''}${this.sp()}${this.chance(0.6) ? `(${this.expression(ev, depth - 1)})` : this.predicate(ev)}`;
    const op = this.chance(0.5) ? '&&' : '||';
    return `${this.expression(ev, depth - 1)}${this.sp()}${op}${this.sp()}${this.expression(ev, depth - 1)}`;
  }

  /** A small edit that usually breaks the expression. */
  mutate(s: string): string {
    const at = Math.floor(this.r() * (s.length + 1));
    switch (Math.floor(this.r() * 8)) {
      case 0: return s.slice(0, at) + s.slice(at + 1);
      case 1: return s.slice(0, at) + this.pick([...EDIT_CHARS]) + s.slice(at);
      case 2: return s.slice(0, Math.max(1, at));
      case 3: return `${s}${this.pick([' &&', ' ||', ' !', '&&', ' && !', ' || (', ')', ' &', ' |'])}`;
      case 4: return `${this.pick(['&& ', '|| ', '(', ')', '!', '() || ', '   '])}${s}`;
      case 5: return s.replace(this.chance(0.5) ? '&&' : '||', this.pick(['&', '|', '&&&', '|||', '', ' ']));
      case 6: return `${s}${this.pick(['\n', ' ', '\t\n', '  \n'])}`;
      default: return `${s} ${this.chance(0.5) ? '' : '&& '}${s.slice(0, at)}`;
    }
  }
}

/** `count` expressions over `events`: about 35% broken by an edit, 40% built only from accepted choices, the rest free. */
export function buildFilterCorpus(events: readonly CorpusEvent[], count: number, seed: number, symbols: readonly string[]): Array<{ event: string; filter: string }> {
  const g = new FilterGenerator(seed, symbols);
  const out: Array<{ event: string; filter: string }> = [];
  while (out.length < count) {
    const ev = g.chance(0.75) ? events[0]! : g.pick(events);
    const broken = g.chance(0.35);
    g.clean = !broken && g.chance(0.6);
    let filter = g.expression(ev, g.pick([0, 1, 1, 2, 2, 3]));
    if (broken) filter = g.mutate(filter);
    if (filter.length === 0) continue; // an empty write changes nothing
    out.push({ event: ev.name, filter });
  }
  return out;
}

/** Hand-picked edges, written before the generated ones: bytes beyond ASCII, odd whitespace, limits. */
export const EDGE_FILTERS: ReadonlyArray<{ event: string; filter: string }> = [
  'u8 == 1', 'u8\u00a0== 1', 'u8 ==\u00a01', 'u8 == 1\u00a0', 's == "\u00e9t\u00e9"', 'u\u00e9 == 1', '\u00e0 == 1', 's ~ "caf\u00e0"',
  'u8 == 1\n&& u16 == 2', 'u8\v==\f1', 'i32 == 12345678901234567890123', 'i32 == 123456789012345678901234', 'u64 == 0x00000000000000000000ff',
  `s == "${'z'.repeat(255)}"`, `s == "${'z'.repeat(256)}"`, `s ~ "!${'z'.repeat(255)}"`, '__probe_ip.function == vfs_read', '__probe_ip.function != vfs_read',
  '__probe_ip.function < vfs_read', '__probe_ip.function == vfs_read&&u8==1', '__probe_ip.function==', 'i8 !~ "x"', 's !~ "x"', 'i8 =! 1',
  '((((((((((u8 == 1))))))))))', '!(!(!(u8 == 1)))', '!!!!u8 == 1', '( u8 == 1 ) && ( u16 == 2 ) || ( u32 == 3 )', "s == 'a\"b'", 's == "a\'b"',
  's == "a\\"', 'u8 == CPUS{0-1}', 'u8 != CPUS{0-1}', 'u64 & CPUS{0-1}', 'cs & CPUS{0,1}', 'c3 == CPUS{1}', 'c3 & CPUS{0-1}', 'a32 == CPUS{0-1}',
  'sa == "x"', 'sa ~ "*"', 'ch == 97', "ch == 'a'", 'bf == 3', 'bf > 7', 'COMM ~ "kbf*"', 'cpu == -1', 'cpu == 4294967296', 'cpu >= 0x7fffffff',
  'common_pid == -1', 'common_type == 65536', 'u8 == 1 &&\n', '  u8 == 1', 'u8 == 1 && u8 == 1 && u8 == 1 && u8 == 1 && u8 == 1 && u8 == 1 || u8 == 2',
  'u8 == 1 || u8 == 2 &&', 'u8 == 1 && u8 == 2 ||', '(u8 == 1 &&) || u8 == 2', 'u8 == 1 && ()', '(((', ')))', '"', "'", '""', 'u8 == 1 #x',
].map((filter) => ({ event: 'all', filter })).concat(
  ['cpu == 1', 'cpu < 3', 'cpu & 1', 'CPU & 1', 'comm == "x"', 'comm == 1', 'COMM == 1', 'COMM == "x"', 'cpu == CPUS{1}', 'n == CPUS{1}', 'common_cpu & 1']
    .map((filter) => ({ event: 'shadow', filter })),
);
